"""Jobber as the field-service source (role `field_service`): a job closed or changed in Jobber reaches the CRM,
payroll and accounting with no code on the shop's side. Webhooks (`X-Jobber-Hmac-SHA256`) say what changed;
the flow reads the job over GraphQL and maps it onto the open API's snapshot (docs/jobber.md)."""

from __future__ import annotations

from typing import Any

from connectors.contract import (
    ConnectContext,
    ConnectorPlugin,
    FieldServiceDemo,
    OAuthApp,
    SandboxContext,
    VendorSettings,
    WebhookSpec,
)
from connectors.jobber import demo, oauth, webhooks
from connectors.jobber.settings import SANDBOX_CLIENT_SECRET, SANDBOX_REFRESH_TOKEN, JobberSettings


def _connect(ctx: ConnectContext) -> Any:
    from connectors.http import RetryPolicy
    from connectors.jobber.client import JobberFieldService
    from models.settings import get_settings

    s = ctx.settings
    assert isinstance(s, JobberSettings)
    return JobberFieldService(s, ctx.token_store(oauth.token_key(s)),
                              policy=RetryPolicy(max_attempts=ctx.max_attempts), timeout=ctx.timeout_seconds,
                              transport=ctx.transport, company_timezone=get_settings().company_timezone)


def _sandbox(ctx: SandboxContext) -> Any:
    from connectors.jobber.sandbox import create_app

    s = ctx.settings
    assert isinstance(s, JobberSettings)
    return create_app(s.client_id, _sandbox_secret(s), _sandbox_refresh(s), ctx.faults, ctx.state_path,
                      request_limit=s.rate_limit or 2500)


def _sandbox_secret(s: JobberSettings) -> str:
    return s.client_secret.get_secret_value() if s.client_secret else SANDBOX_CLIENT_SECRET


def _sandbox_refresh(s: JobberSettings) -> str:
    return s.refresh_token.get_secret_value() if s.refresh_token else SANDBOX_REFRESH_TOKEN


def _sandbox_env(url: str, settings: VendorSettings) -> dict[str, str]:
    """Point the connector at the sandbox with the credentials the sandbox was built with."""
    assert isinstance(settings, JobberSettings)
    return {"FIELDBRIDGE_JOBBER_BASE_URL": url, "FIELDBRIDGE_JOBBER_CLIENT_SECRET": _sandbox_secret(settings),
            "FIELDBRIDGE_JOBBER_REFRESH_TOKEN": _sandbox_refresh(settings)}


def _credentials() -> type:
    from connectors.jobber.credentials import JobberCredentials

    return JobberCredentials


plugin = ConnectorPlugin(
    name="jobber", title="Jobber", roles=frozenset({"field_service"}), settings=JobberSettings, connect=_connect,
    secret_fields=("client_secret", "refresh_token"), credentials=_credentials, sandbox=_sandbox,
    sandbox_env=_sandbox_env,
    webhook=WebhookSpec(verify=webhooks.verify, starts="field-service-sync/field-service-sync",
                        parameters=webhooks.parameters),
    oauth=OAuthApp(authorize_url=oauth.authorize_url, exchange=oauth.exchange, redirect_uri=oauth.redirect_uri),
    demo_source=FieldServiceDemo(seed=demo.seed, close=demo.close, edit=demo.edit, pending=demo.pending_webhooks),
    docs="docs/jobber.md",
)
