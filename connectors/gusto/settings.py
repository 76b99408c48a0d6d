"""Gusto's settings: `FIELDBRIDGE_GUSTO_*` (the defaults point at the local sandbox)."""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from connectors.contract import VendorSettings


class GustoSettings(VendorSettings):
    model_config = SettingsConfigDict(env_prefix="FIELDBRIDGE_GUSTO_", env_file=".env", extra="ignore")

    base_url: str = "http://127.0.0.1:8703"  # https://api.gusto.com for the real API
    token: SecretStr = SecretStr("gusto-sandbox-token")
    company_uuid: str = "c0a8f5e2-0000-4000-8000-00000000f1e1"
