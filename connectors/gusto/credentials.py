"""Gusto credentials block (`prefect block register -m connectors.gusto.credentials`)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr

from connectors.credentials import VendorCredentials


class GustoCredentials(VendorCredentials):
    """The API token fieldbridge uses for Gusto."""

    _block_type_name = "Fieldbridge Gusto"
    _plugin_name: ClassVar[str] = "gusto"

    token: SecretStr | None = Field(default=None, description="Gusto API access token.")
