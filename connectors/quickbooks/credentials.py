"""QuickBooks Online credentials block (`prefect block register -m connectors.quickbooks.credentials`)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr

from connectors.credentials import VendorCredentials


class QuickBooksCredentials(VendorCredentials):
    """The Intuit app's secret and the connection's first refresh token (rotated copies live in the
    fieldbridge database, where every worker sees the newest one)."""

    _block_type_name = "Fieldbridge QuickBooks Online"
    _plugin_name: ClassVar[str] = "quickbooks"

    client_secret: SecretStr | None = Field(default=None, description="Intuit app client secret.")
    refresh_token: SecretStr | None = Field(default=None, description="Initial refresh token of the connection.")
