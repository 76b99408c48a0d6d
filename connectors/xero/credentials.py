"""Xero credentials block (`prefect block register -m connectors.xero.credentials`)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr

from connectors.credentials import VendorCredentials


class XeroCredentials(VendorCredentials):
    """The Xero app's secret and the connection's first refresh token (rotated copies live in the
    fieldbridge database)."""

    _block_type_name = "Fieldbridge Xero"
    _plugin_name: ClassVar[str] = "xero"

    client_secret: SecretStr | None = Field(default=None, description="Xero app client secret.")
    refresh_token: SecretStr | None = Field(default=None, description="Initial refresh token of the connection.")
