"""HubSpot credentials block (`prefect block register -m connectors.hubspot.credentials`)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr

from connectors.credentials import VendorCredentials


class HubSpotCredentials(VendorCredentials):
    """The private-app token fieldbridge uses for HubSpot."""

    _block_type_name = "Fieldbridge HubSpot"
    _plugin_name: ClassVar[str] = "hubspot"

    token: SecretStr | None = Field(default=None, description="HubSpot private-app access token.")
    client_secret: SecretStr | None = Field(default=None, description="The app's client secret (verifies webhooks).")
