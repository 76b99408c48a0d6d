"""Xero's settings: `FIELDBRIDGE_XERO_*` (the defaults point at the local sandbox)."""

from __future__ import annotations

from pydantic import SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from connectors.contract import VendorSettings, check_url

XERO_IDENTITY = "https://identity.xero.com"


class XeroSettings(VendorSettings):
    model_config = SettingsConfigDict(env_prefix="FIELDBRIDGE_XERO_", env_file=".env", extra="ignore")

    base_url: str = "http://127.0.0.1:8705"  # https://api.xero.com (the API lives under /api.xro/2.0)
    identity_url: str | None = None  # the OAuth host; derived from base_url when unset
    client_id: str = "sandbox-xero-client"
    client_secret: SecretStr = SecretStr("sandbox-xero-secret")
    refresh_token: SecretStr = SecretStr("xero-rt-sandbox-initial")  # the first; rotated copies live in the DB
    tenant_id: str = "4d1c2b3a-0000-4000-8000-00000000beef"  # the organisation (xero-tenant-id)
    sales_account: str = "200"  # the revenue account invoice lines post to
    taxable_tax_type: str = "OUTPUT"
    exempt_tax_type: str = "NONE"
    due_days: int = 14

    @model_validator(mode="after")
    def _derive_identity_url(self) -> XeroSettings:
        if self.identity_url is None:
            host = self.base_url.split("://", 1)[-1].split("/", 1)[0]
            derived = XERO_IDENTITY if host.endswith("xero.com") else self.base_url.rstrip("/")
            object.__setattr__(self, "identity_url", check_url("identity_url", derived))
        return self

    @property
    def token_url(self) -> str:
        return f"{(self.identity_url or '').rstrip('/')}/connect/token"
