"""Jobber credentials block (`prefect block register -m connectors.jobber.credentials`)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr

from connectors.credentials import VendorCredentials


class JobberCredentials(VendorCredentials):
    """The Jobber app's client secret (it also signs the webhooks) and the connection's first refresh token
    (rotated copies live in the fieldbridge database; `fieldbridge connect jobber` writes the first)."""

    _block_type_name = "Fieldbridge Jobber"
    _plugin_name: ClassVar[str] = "jobber"

    client_secret: SecretStr | None = Field(default=None, description="Jobber app client secret.")
    refresh_token: SecretStr | None = Field(default=None, description="Initial refresh token of the connection.")
