"""Secrets can come from a Prefect block instead of the environment, and never print."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from connectors.credentials import FieldbridgeCredentials, apply_credentials_block
from models.settings import FieldbridgeSettings

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_block_secrets_override_settings_and_stay_secret() -> None:
    FieldbridgeCredentials(hubspot_token=SecretStr("pat-from-block"), gusto_token=SecretStr("gusto-from-block")).save(
        "fb-test-creds", overwrite=True
    )
    settings = FieldbridgeSettings(credentials_block="fb-test-creds", hubspot_token=SecretStr("pat-from-env"))
    applied = apply_credentials_block(settings)
    assert applied.hubspot_token.get_secret_value() == "pat-from-block"
    assert applied.gusto_token.get_secret_value() == "gusto-from-block"
    assert applied.quickbooks_refresh_token == settings.quickbooks_refresh_token  # unset in the block: kept
    assert "pat-from-block" not in repr(applied) and "pat-from-block" not in str(applied.model_dump())


def test_no_block_configured_leaves_settings_alone() -> None:
    settings = FieldbridgeSettings()
    assert apply_credentials_block(settings) is settings
