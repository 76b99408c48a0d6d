"""HubSpot as the CRM: tickets resolved by the unique property `fieldbridge_job_id`, notes attached."""

from __future__ import annotations

from typing import Any

from connectors.contract import ConnectContext, ConnectorPlugin, SandboxContext, VendorSettings, WebhookSpec
from connectors.hubspot.settings import HubSpotSettings


def _connect(ctx: ConnectContext) -> Any:
    from connectors.http import RetryPolicy
    from connectors.hubspot.client import HubSpotCRM

    s = ctx.settings
    assert isinstance(s, HubSpotSettings)
    return HubSpotCRM(s.base_url, s.token, closed_stage=s.closed_stage, account=s.account,
                      intake_pipeline=s.intake_pipeline,
                      policy=RetryPolicy(max_attempts=ctx.max_attempts), timeout=ctx.timeout_seconds,
                      transport=ctx.transport, rate_limit=s.rate_limit)


def _sandbox(ctx: SandboxContext) -> Any:
    from connectors.hubspot.sandbox import create_app

    assert isinstance(ctx.settings, HubSpotSettings)
    return create_app(ctx.settings.token.get_secret_value(), ctx.faults, ctx.state_path,
                      ten_second_limit=ctx.settings.rate_limit or 190)


def _sandbox_env(url: str, settings: VendorSettings) -> dict[str, str]:
    return {"FIELDBRIDGE_HUBSPOT_BASE_URL": url}


def _credentials() -> type:
    from connectors.hubspot.credentials import HubSpotCredentials

    return HubSpotCredentials


def _verify_webhook(settings: VendorSettings, method: str, url: str, headers: Any, body: bytes, now: float) -> None:
    from connectors.hubspot.webhooks import verify

    verify(settings, method, url, headers, body, now)


plugin = ConnectorPlugin(
    name="hubspot", title="HubSpot", roles=frozenset({"crm"}), settings=HubSpotSettings, connect=_connect,
    secret_fields=("token", "client_secret"), credentials=_credentials, sandbox=_sandbox, sandbox_env=_sandbox_env,
    webhook=WebhookSpec(verify=_verify_webhook, starts="crm-intake/crm-intake"), docs="docs/connectors.md#hubspot",
)
