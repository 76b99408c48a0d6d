"""Gusto credentials block (`prefect block register -m connectors.gusto.credentials`)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr

from connectors.credentials import VendorCredentials


class GustoCredentials(VendorCredentials):
    """Gusto secrets: the OAuth app's secret and the connection's first refresh token (rotated copies live in
    the fieldbridge database), or a static API token."""

    _block_type_name = "Fieldbridge Gusto"
    _plugin_name: ClassVar[str] = "gusto"

    token: SecretStr | None = Field(default=None, description="Static Gusto API access token (if not OAuth).")
    client_secret: SecretStr | None = Field(default=None, description="Gusto OAuth app client secret.")
    refresh_token: SecretStr | None = Field(default=None, description="Initial refresh token of the connection.")
