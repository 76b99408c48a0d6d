"""Salesforce credentials block (`prefect block register -m connectors.salesforce.credentials`)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr

from connectors.credentials import VendorCredentials


class SalesforceCredentials(VendorCredentials):
    """The connected app's secret, the first refresh token (rotated copies live in the fieldbridge
    database), or the private key of the JWT bearer flow."""

    _block_type_name = "Fieldbridge Salesforce"
    _plugin_name: ClassVar[str] = "salesforce"

    client_secret: SecretStr | None = Field(default=None, description="Connected app consumer secret.")
    refresh_token: SecretStr | None = Field(default=None, description="Initial refresh token of the connection.")
    private_key: SecretStr | None = Field(default=None, description="PEM private key for the JWT bearer flow.")
