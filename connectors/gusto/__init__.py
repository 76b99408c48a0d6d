"""Gusto as payroll: one time sheet per technician per workday, upserted by a key in its metadata."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from connectors.contract import ConnectContext, ConnectorPlugin, DemoSeed, SandboxContext, VendorSettings
from connectors.gusto.settings import GustoSettings

_DEMO_NS = uuid.UUID("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")


def _connect(ctx: ConnectContext) -> Any:
    from connectors.contract import ConfigError
    from connectors.gusto.client import GustoPayroll
    from connectors.http import BearerToken, OAuth2RefreshToken, RetryPolicy

    s = ctx.settings
    assert isinstance(s, GustoSettings)
    auth: BearerToken | OAuth2RefreshToken = BearerToken(s.token)
    if s.refresh_token is not None:
        if not s.client_id or s.client_secret is None:
            raise ConfigError("gusto", "FIELDBRIDGE_GUSTO_CLIENT_ID and _CLIENT_SECRET are needed with a refresh token")
        auth = OAuth2RefreshToken(s.oauth_token_url, s.client_id, s.client_secret,
                                  ctx.token_store(f"gusto:{s.company_uuid}"), s.refresh_token, ctx.transport,
                                  client_auth="body", default_expires_in=7200)
    return GustoPayroll(s.base_url, auth, s.company_uuid, policy=RetryPolicy(max_attempts=ctx.max_attempts),
                        timeout=ctx.timeout_seconds, transport=ctx.transport, rate_limit=s.rate_limit)


def _sandbox(ctx: SandboxContext) -> Any:
    from connectors.gusto.sandbox import create_app

    s = ctx.settings
    assert isinstance(s, GustoSettings)
    oauth = (s.client_id, s.client_secret.get_secret_value(), s.refresh_token.get_secret_value()) \
        if s.client_id and s.client_secret and s.refresh_token else None
    return create_app(s.token.get_secret_value(), s.company_uuid, ctx.faults, ctx.state_path,
                      per_minute_limit=s.rate_limit or 200, oauth_client=oauth)


def _sandbox_env(url: str, settings: VendorSettings) -> dict[str, str]:
    return {"FIELDBRIDGE_GUSTO_BASE_URL": url}


def _seed_sandbox(url: str, settings: VendorSettings, seed: DemoSeed) -> None:
    """The company's employees exist in Gusto before fieldbridge sends their hours."""
    assert isinstance(settings, GustoSettings)
    docs = [{"uuid": t.payroll_id, "first_name": t.name.split()[0], "last_name": t.name.split()[-1],
             "email": t.email, "company_uuid": settings.company_uuid} for t in seed.technicians]
    httpx.post(f"{url}/_sandbox/seed/employees", json={"id_field": "uuid", "docs": docs}, timeout=20).raise_for_status()
    if seed.leaves:  # approved time off (Gusto's time off request shape), written under fixed ids: once per demo home
        leaves = [{"id": 900001 + n, "status": "approved", "request_type": leave.kind, "employee_note": leave.key,
                   "employer_note": "", "days": {leave.day.isoformat(): "8.000"},
                   "employee": {"uuid": leave.hr_id, "full_name": ""}, "initiator": None, "approver": None}
                  for n, leave in enumerate(seed.leaves)]
        httpx.post(f"{url}/_sandbox/seed/time_off_requests", json={"id_field": "id", "docs": leaves},
                   timeout=20).raise_for_status()


def _demo_id(kind: str, n: int) -> str:
    """Gusto employee ids are UUIDs."""
    return str(uuid.uuid5(_DEMO_NS, f"gusto-{kind}:{n}"))


def _credentials() -> type:
    from connectors.gusto.credentials import GustoCredentials

    return GustoCredentials


plugin = ConnectorPlugin(
    name="gusto", title="Gusto", roles=frozenset({"payroll", "hr"}), settings=GustoSettings, connect=_connect,
    secret_fields=("token", "client_secret", "refresh_token"), credentials=_credentials, sandbox=_sandbox,
    sandbox_env=_sandbox_env, seed_sandbox=_seed_sandbox, demo_id=_demo_id, docs="docs/connectors.md#gusto",
)
