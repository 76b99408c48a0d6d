"""BambooHR's settings: `FIELDBRIDGE_BAMBOOHR_*` (the defaults point at the local sandbox)."""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from connectors.contract import VendorSettings


class BambooHRSettings(VendorSettings):
    model_config = SettingsConfigDict(env_prefix="FIELDBRIDGE_BAMBOOHR_", env_file=".env", extra="ignore")

    base_url: str = "http://127.0.0.1:8706"  # https://<company>.bamboohr.com (the API lives under /api/v1)
    api_key: SecretStr = SecretStr("bamboo-sandbox-key")  # sent as the Basic-auth user name
