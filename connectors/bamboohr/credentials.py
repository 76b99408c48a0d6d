"""BambooHR credentials block (`prefect block register -m connectors.bamboohr.credentials`)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr

from connectors.credentials import VendorCredentials


class BambooHRCredentials(VendorCredentials):
    """The API key fieldbridge uses for BambooHR."""

    _block_type_name = "Fieldbridge BambooHR"
    _plugin_name: ClassVar[str] = "bamboohr"

    api_key: SecretStr | None = Field(default=None, description="BambooHR API key.")
