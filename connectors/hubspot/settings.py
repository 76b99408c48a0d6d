"""HubSpot's settings: `FIELDBRIDGE_HUBSPOT_*` (the defaults point at the local sandbox)."""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from connectors.contract import VendorSettings


class HubSpotSettings(VendorSettings):
    model_config = SettingsConfigDict(env_prefix="FIELDBRIDGE_HUBSPOT_", env_file=".env", extra="ignore")

    base_url: str = "http://127.0.0.1:8701"  # https://api.hubapi.com for the real API
    token: SecretStr = SecretStr("pat-sandbox-hubspot")  # private-app token (scopes: tickets, crm.objects.*)
    closed_stage: str = "4"  # the pipeline stage that means resolved
    # intake: tickets of this pipeline become jobs; those in `closed_stage` before their visit cancel it
    intake_pipeline: str = "0"
    client_secret: SecretStr | None = None  # the app's client secret: verifies webhooks (X-HubSpot-Signature-v3)
    account: str = "default"  # names the rate budget: one per HubSpot account
