"""Secrets can come from each vendor's Prefect block instead of the environment, and never print."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from connectors.hubspot import plugin as hubspot
from connectors.quickbooks import plugin as quickbooks

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_a_vendor_block_overrides_the_environment_and_stays_secret(monkeypatch) -> None:
    from connectors.quickbooks.credentials import QuickBooksCredentials

    QuickBooksCredentials(client_secret=SecretStr("secret-from-block")).save("fb-test-qbo", overwrite=True)
    monkeypatch.setenv("FIELDBRIDGE_QUICKBOOKS_CLIENT_SECRET", "secret-from-env")
    monkeypatch.setenv("FIELDBRIDGE_QUICKBOOKS_CREDENTIALS_BLOCK", "fb-test-qbo")
    settings = quickbooks.load_settings()
    assert settings.client_secret.get_secret_value() == "secret-from-block"
    assert settings.refresh_token.get_secret_value() == "RT1-sandbox-initial"  # unset in the block: kept
    assert "secret-from-block" not in repr(settings) and "secret-from-block" not in str(settings.model_dump())


def test_no_block_configured_reads_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("FIELDBRIDGE_HUBSPOT_TOKEN", "pat-from-env")
    monkeypatch.delenv("FIELDBRIDGE_HUBSPOT_CREDENTIALS_BLOCK", raising=False)
    assert hubspot.load_settings().token.get_secret_value() == "pat-from-env"


def test_a_block_builds_its_client(tmp_path, monkeypatch) -> None:
    from connectors.hubspot.credentials import HubSpotCredentials

    monkeypatch.setenv("FIELDBRIDGE_HOME", str(tmp_path))
    monkeypatch.setenv("FIELDBRIDGE_DATABASE_URL", f"sqlite:///{tmp_path / 'fb.db'}")
    from models.settings import get_settings

    get_settings.cache_clear()
    client = HubSpotCredentials(token=SecretStr("pat-from-block")).get_client()
    try:
        assert client.system == "hubspot"
        assert client.http.auth._token.get_secret_value() == "pat-from-block"
    finally:
        client.close()
        get_settings.cache_clear()


def test_the_blocks_register_with_prefect() -> None:
    import os

    from prefect.settings import PREFECT_API_URL

    prefect = Path(sys.executable).parent / "prefect"
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()}
    from connectors.registry import plugins

    modules = [f"connectors.{name}.credentials" for name, p in sorted(plugins().items()) if p.credentials]
    assert len(modules) == 8  # every shipped connector has a block
    for module in modules:
        done = subprocess.run([str(prefect), "block", "register", "-m", module], capture_output=True, text=True,
                              timeout=120, env=env)
        assert done.returncode == 0 and "Successfully registered 1 block" in done.stdout, done.stdout + done.stderr
        assert "Vendor Credentials" not in done.stdout  # the base class is an interface, not a block type


@pytest.mark.parametrize("url", ["http://api.hubapi.com", "http://10.0.0.5:8701", "ftp://x"])
def test_a_plain_http_url_to_another_host_is_refused(url: str) -> None:
    from pydantic import ValidationError

    from connectors.hubspot.settings import HubSpotSettings

    with pytest.raises(ValidationError, match=r"https|not an http"):
        HubSpotSettings(base_url=url)
    assert HubSpotSettings(base_url="http://127.0.0.1:9").base_url.startswith("http://127.0.0.1")
