"""Xero as accounting: contacts linked by ContactNumber, invoices created with an Idempotency-Key (PUT
creates), revised while unsent and unpaid, emailed through Xero."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from connectors.contract import ConnectContext, ConnectorPlugin, DemoSeed, SandboxContext, VendorSettings
from connectors.xero.errors import ERRORS
from connectors.xero.settings import XeroSettings

_DEMO_NS = uuid.UUID("5c3a7d1e-2b4f-4e6a-9c8d-0e1f2a3b4c5d")


def _connect(ctx: ConnectContext) -> Any:
    from connectors.http import OAuth2RefreshToken, RetryPolicy
    from connectors.xero.client import XeroAccounting

    s = ctx.settings
    assert isinstance(s, XeroSettings)
    auth = OAuth2RefreshToken(s.token_url, s.client_id, s.client_secret, ctx.token_store(f"xero:{s.tenant_id}"),
                              s.refresh_token, ctx.transport, default_expires_in=1800)
    return XeroAccounting(s.base_url, s.tenant_id, auth, sales_account=s.sales_account,
                          taxable_tax_type=s.taxable_tax_type, exempt_tax_type=s.exempt_tax_type, due_days=s.due_days,
                          policy=RetryPolicy(max_attempts=ctx.max_attempts), timeout=ctx.timeout_seconds,
                          transport=ctx.transport, rate_limit=s.rate_limit)


def _sandbox(ctx: SandboxContext) -> Any:
    from connectors.xero.sandbox import create_app

    s = ctx.settings
    assert isinstance(s, XeroSettings)
    return create_app(s.client_id, s.client_secret.get_secret_value(), s.refresh_token.get_secret_value(),
                      s.tenant_id, ctx.faults, ctx.state_path, minute_limit=s.rate_limit or 60)


def _sandbox_env(url: str, settings: VendorSettings) -> dict[str, str]:
    return {"FIELDBRIDGE_XERO_BASE_URL": url}


def _seed_sandbox(url: str, settings: VendorSettings, seed: DemoSeed) -> None:
    """Contacts that already exist in Xero, carrying fieldbridge's customer id as ContactNumber."""
    docs = [{"ContactID": c.vendor_id, "Name": c.name, "ContactNumber": c.id, "EmailAddress": c.email,
             "ContactStatus": "ACTIVE", "IsCustomer": True} for c in seed.accounting_customers]
    httpx.post(f"{url}/_sandbox/seed/Contacts", json={"id_field": "ContactID", "docs": docs},
               timeout=20).raise_for_status()


def _demo_id(kind: str, n: int) -> str:
    """Xero ids (ContactID, InvoiceID) are UUIDs."""
    return str(uuid.uuid5(_DEMO_NS, f"xero-{kind}:{n}"))


def _credentials() -> type:
    from connectors.xero.credentials import XeroCredentials

    return XeroCredentials


plugin = ConnectorPlugin(
    name="xero", title="Xero", roles=frozenset({"accounting"}), settings=XeroSettings, connect=_connect,
    errors=ERRORS, secret_fields=("client_secret", "refresh_token"), credentials=_credentials, sandbox=_sandbox,
    sandbox_env=_sandbox_env, seed_sandbox=_seed_sandbox, demo_id=_demo_id, docs="docs/connectors.md#xero",
)
