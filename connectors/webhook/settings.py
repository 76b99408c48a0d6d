"""Signed webhooks out: `FIELDBRIDGE_WEBHOOK_*`."""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from connectors.contract import VendorSettings, check_url


class WebhookSettings(VendorSettings):
    model_config = SettingsConfigDict(env_prefix="FIELDBRIDGE_WEBHOOK_", env_file=".env", extra="ignore")

    urls: str = ""  # comma-separated receivers of fieldbridge's events
    secrets: SecretStr = SecretStr("")  # comma-separated; every one signs (several during a rotation)

    def url_list(self) -> list[str]:
        return [check_url("webhook url", u.strip()) for u in self.urls.split(",") if u.strip()]

    def secret_list(self) -> list[str]:
        return [s.strip() for s in self.secrets.get_secret_value().split(",") if s.strip()]
