"""Signed webhooks out, for custom systems: job.closed, case.resolved, hours.logged and invoice.created
as canonical JSON, signed the way the ingress verifies, each delivered exactly once per receiver."""

from __future__ import annotations

from typing import Any

from connectors.contract import ConnectContext, ConnectorPlugin, SandboxContext, VendorSettings
from connectors.webhook.settings import WebhookSettings


def _connect(ctx: ConnectContext) -> Any:
    from connectors.http import RetryPolicy
    from connectors.webhook.client import WebhookOut

    s = ctx.settings
    assert isinstance(s, WebhookSettings)
    return WebhookOut(s.url_list(), s.secret_list(), policy=RetryPolicy(max_attempts=ctx.max_attempts),
                      timeout=ctx.timeout_seconds, transport=ctx.transport)


def _sandbox(ctx: SandboxContext) -> Any:
    from connectors.webhook.sandbox import create_app

    s = ctx.settings
    assert isinstance(s, WebhookSettings)
    return create_app(s.secret_list() or ["whsec_sandbox_events"], ctx.faults, ctx.state_path)


def _sandbox_env(url: str, settings: VendorSettings) -> dict[str, str]:
    assert isinstance(settings, WebhookSettings)
    return {"FIELDBRIDGE_WEBHOOK_URLS": f"{url}/events",
            "FIELDBRIDGE_WEBHOOK_SECRETS": settings.secrets.get_secret_value() or "whsec_sandbox_events"}


def _credentials() -> type:
    from connectors.webhook.credentials import WebhookCredentials

    return WebhookCredentials


plugin = ConnectorPlugin(
    name="webhook", title="Signed webhooks", roles=frozenset({"events"}), settings=WebhookSettings,
    connect=_connect, secret_fields=("secrets",), credentials=_credentials, sandbox=_sandbox, sandbox_env=_sandbox_env,
    docs="docs/connectors.md#signed-webhooks-out",
)
