"""Salesforce as the CRM: Cases upserted by the external id `FSM_Job_Id__c`, closed with the resolution,
technician notes as CaseComments, the daily API quota respected."""

from __future__ import annotations

from typing import Any

from connectors.contract import ConnectContext, ConnectorPlugin, SandboxContext, VendorSettings
from connectors.salesforce.errors import ERRORS
from connectors.salesforce.settings import SalesforceSettings


def _connect(ctx: ConnectContext) -> Any:
    from connectors.contract import ConfigError
    from connectors.http import RetryPolicy
    from connectors.http.auth import JwtBearer, OAuth2RefreshToken
    from connectors.salesforce.client import SalesforceCRM

    s = ctx.settings
    assert isinstance(s, SalesforceSettings)
    store = ctx.token_store(f"salesforce:{s.client_id}:{s.username if s.auth_flow == 'jwt' else 'refresh'}")
    auth: OAuth2RefreshToken
    if s.auth_flow == "jwt":
        if s.private_key is None:
            raise ConfigError("salesforce", "FIELDBRIDGE_SALESFORCE_PRIVATE_KEY is needed for the JWT bearer flow")
        audience = s.jwt_audience_url()
        auth = JwtBearer(s.token_url, s.client_id, s.username, s.private_key, audience, store, ctx.transport,
                         keep=("instance_url",))
    else:
        auth = OAuth2RefreshToken(s.token_url, s.client_id, s.client_secret, store, s.refresh_token, ctx.transport,
                                  client_auth="body", keep=("instance_url",), default_expires_in=3600)
    return SalesforceCRM(s.base_url, auth, api_version=s.api_version, job_id_field=s.job_id_field,
                         resolution_field=s.resolution_field, closed_status=s.closed_status,
                         intake_field=s.intake_field,
                         daily_reserve=s.daily_reserve, policy=RetryPolicy(max_attempts=ctx.max_attempts),
                         timeout=ctx.timeout_seconds, transport=ctx.transport, rate_limit=s.rate_limit)


def _sandbox(ctx: SandboxContext) -> Any:
    from connectors.salesforce.sandbox import create_app

    s = ctx.settings
    assert isinstance(s, SalesforceSettings)
    return create_app(s.client_id, s.client_secret.get_secret_value(), s.refresh_token.get_secret_value(),
                      ctx.faults, ctx.state_path)


def _sandbox_env(url: str, settings: VendorSettings) -> dict[str, str]:
    return {"FIELDBRIDGE_SALESFORCE_BASE_URL": url}


def _credentials() -> type:
    from connectors.salesforce.credentials import SalesforceCredentials

    return SalesforceCredentials


plugin = ConnectorPlugin(
    name="salesforce", title="Salesforce", roles=frozenset({"crm"}), settings=SalesforceSettings, connect=_connect,
    errors=ERRORS, secret_fields=("client_secret", "refresh_token", "private_key"), credentials=_credentials,
    sandbox=_sandbox, sandbox_env=_sandbox_env, docs="docs/connectors.md#salesforce",
)
