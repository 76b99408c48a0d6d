"""Vendor credentials as a Prefect block: encrypted at rest on the Prefect server, edited in its UI.

Settings (environment) stay the default; when `FIELDBRIDGE_CREDENTIALS_BLOCK` names a saved block,
its non-empty secrets replace the settings' ones, so production secrets never sit in env files.
"""

from __future__ import annotations

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

from models.settings import FieldbridgeSettings

SECRET_FIELDS = ("hubspot_token", "quickbooks_client_secret", "quickbooks_refresh_token", "gusto_token")


class FieldbridgeCredentials(Block):
    """Secrets for the CRM, payroll and accounting connectors."""

    _block_type_name = "Fieldbridge Credentials"
    _description = "Vendor API secrets for fieldbridge connectors (HubSpot, QuickBooks Online, Gusto)."

    hubspot_token: SecretStr | None = Field(default=None, description="HubSpot private-app token.")
    quickbooks_client_secret: SecretStr | None = Field(default=None, description="Intuit app client secret.")
    quickbooks_refresh_token: SecretStr | None = Field(
        default=None, description="Initial QuickBooks refresh token (rotated copies live in the token store)."
    )
    gusto_token: SecretStr | None = Field(default=None, description="Gusto API access token.")


def apply_credentials_block(settings: FieldbridgeSettings) -> FieldbridgeSettings:
    """Settings with secrets from the configured block, or unchanged when none is configured."""
    if not settings.credentials_block:
        return settings
    block = FieldbridgeCredentials.load(settings.credentials_block)
    overrides = {name: getattr(block, name) for name in SECRET_FIELDS if getattr(block, name) is not None}
    return settings.model_copy(update=overrides)
