"""QuickBooks Online as accounting: customers and items ensured, invoices created with `requestid`,
revised in place with `SyncToken` while unsent and unpaid, and sent."""

from __future__ import annotations

from typing import Any

import httpx

from connectors.contract import ConnectContext, ConnectorPlugin, DemoSeed, SandboxContext, VendorSettings
from connectors.quickbooks.errors import ERRORS
from connectors.quickbooks.settings import QuickBooksSettings


def _connect(ctx: ConnectContext) -> Any:
    from connectors.http import RetryPolicy
    from connectors.quickbooks.client import QuickBooksAccounting

    s = ctx.settings
    assert isinstance(s, QuickBooksSettings) and s.token_url is not None
    return QuickBooksAccounting(
        s.base_url, s.realm_id, token_url=s.token_url, client_id=s.client_id, client_secret=s.client_secret,
        token_store=ctx.token_store(f"quickbooks:{s.realm_id}"), initial_refresh_token=s.refresh_token,
        income_account=s.income_account_id, policy=RetryPolicy(max_attempts=ctx.max_attempts),
        timeout=ctx.timeout_seconds, transport=ctx.transport, rate_limit=s.rate_limit,
    )


def _sandbox(ctx: SandboxContext) -> Any:
    from connectors.quickbooks.sandbox import create_app

    s = ctx.settings
    assert isinstance(s, QuickBooksSettings)
    return create_app(s.client_id, s.client_secret.get_secret_value(), s.refresh_token.get_secret_value(),
                      s.realm_id, ctx.faults, ctx.state_path, per_minute_limit=s.rate_limit or 500)


def _sandbox_env(url: str, settings: VendorSettings) -> dict[str, str]:
    return {"FIELDBRIDGE_QUICKBOOKS_BASE_URL": url,
            "FIELDBRIDGE_QUICKBOOKS_TOKEN_URL": f"{url}/oauth2/v1/tokens/bearer"}


def _seed_sandbox(url: str, settings: VendorSettings, seed: DemoSeed) -> None:
    """Customers that already have a QuickBooks record, linked by the marker fieldbridge recognises."""
    docs = [{"Id": c.vendor_id, "DisplayName": c.name, "SyncToken": "0", "Active": True,
             "Notes": f"fieldbridge:{c.id}", "PrimaryEmailAddr": {"Address": c.email}}
            for c in seed.accounting_customers]
    httpx.post(f"{url}/_sandbox/seed/Customer", json={"id_field": "Id", "docs": docs}, timeout=20).raise_for_status()


def _demo_id(kind: str, n: int) -> str:
    """QuickBooks ids are small integers."""
    return str(200 + n)


def _credentials() -> type:
    from connectors.quickbooks.credentials import QuickBooksCredentials

    return QuickBooksCredentials


plugin = ConnectorPlugin(
    name="quickbooks", title="QuickBooks Online", roles=frozenset({"accounting"}), settings=QuickBooksSettings,
    connect=_connect, errors=ERRORS, secret_fields=("client_secret", "refresh_token"), credentials=_credentials,
    sandbox=_sandbox,
    sandbox_env=_sandbox_env, seed_sandbox=_seed_sandbox, demo_id=_demo_id, docs="docs/connectors.md#quickbooks",
)
