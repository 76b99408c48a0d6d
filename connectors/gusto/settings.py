"""Gusto's settings: `FIELDBRIDGE_GUSTO_*` (the defaults point at the local sandbox)."""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from connectors.contract import VendorSettings, check_url


class GustoSettings(VendorSettings):
    """Two ways in. A company connected through OAuth (the production path): `client_id`, `client_secret`
    and the connection's first `refresh_token`; access tokens last two hours and each refresh token is
    single-use, so the rotated chain lives in the fieldbridge database. Or a static bearer `token` (the
    sandbox default, or a token another system keeps fresh)."""

    model_config = SettingsConfigDict(env_prefix="FIELDBRIDGE_GUSTO_", env_file=".env", extra="ignore")

    base_url: str = "http://127.0.0.1:8703"  # https://api.gusto.com (https://api.gusto-demo.com to develop)
    token: SecretStr = SecretStr("gusto-sandbox-token")
    client_id: str | None = None
    client_secret: SecretStr | None = None
    refresh_token: SecretStr | None = None  # set → OAuth with rotation; unset → the static `token`
    token_url: str | None = None  # derived from base_url (`/oauth/token`) when unset
    company_uuid: str = "c0a8f5e2-0000-4000-8000-00000000f1e1"

    @property
    def oauth_token_url(self) -> str:
        return check_url("token_url", self.token_url or f"{self.base_url.rstrip('/')}/oauth/token")
