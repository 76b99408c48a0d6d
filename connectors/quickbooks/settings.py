"""QuickBooks Online's settings: `FIELDBRIDGE_QUICKBOOKS_*` (the defaults point at the local sandbox)."""

from __future__ import annotations

from pydantic import SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from connectors.contract import VendorSettings, check_url

INTUIT_TOKEN_URL = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"


class QuickBooksSettings(VendorSettings):
    model_config = SettingsConfigDict(env_prefix="FIELDBRIDGE_QUICKBOOKS_", env_file=".env", extra="ignore")

    base_url: str = "http://127.0.0.1:8702"  # https://quickbooks.api.intuit.com (or sandbox-quickbooks.…)
    token_url: str | None = None  # derived from base_url when unset
    realm_id: str = "9341453112345678"
    client_id: str = "sandbox-client"
    client_secret: SecretStr = SecretStr("sandbox-secret")
    refresh_token: SecretStr = SecretStr("RT1-sandbox-initial")  # the first one; rotated copies live in the DB
    income_account_id: str = "1"  # the Income account new service items post to (Chart of Accounts → Id)

    @model_validator(mode="after")
    def _derive_token_url(self) -> QuickBooksSettings:
        """Intuit's API hosts share one OAuth host; an emulator serves the token endpoint itself."""
        if self.token_url is None:
            host = self.base_url.split("://", 1)[-1].split("/", 1)[0]
            derived = INTUIT_TOKEN_URL if host.endswith("api.intuit.com") else \
                f"{self.base_url.rstrip('/')}/oauth2/v1/tokens/bearer"
            object.__setattr__(self, "token_url", check_url("token_url", derived))
        return self
