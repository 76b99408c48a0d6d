"""Signed-webhook credentials block (`prefect block register -m connectors.webhook.credentials`)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr

from connectors.credentials import VendorCredentials


class WebhookCredentials(VendorCredentials):
    """The secrets fieldbridge signs its outbound events with (comma-separated: several during a rotation)."""

    _block_type_name = "Fieldbridge Webhooks"
    _plugin_name: ClassVar[str] = "webhook"

    secrets: SecretStr | None = Field(default=None, description="Signing secrets, comma-separated.")
