"""Connecting a Jobber account (`fieldbridge connect jobber`): Jobber's authorization-code grant. The account's
admin opens the authorize URL, consents, and Jobber redirects to the app's Callback URL with a code; the code
buys the first access and refresh tokens, stored where the client reads them (rotated copies replace them)."""

from __future__ import annotations

from urllib.parse import urlencode

from connectors.contract import ConfigError, ConnectContext, VendorSettings
from connectors.jobber.settings import JobberSettings


def token_key(settings: JobberSettings) -> str:
    """The token store's key of a connection (the client reads the same)."""
    return f"jobber:{settings.client_id}"


def authorize_url(settings: VendorSettings, state: str) -> str:
    assert isinstance(settings, JobberSettings)
    query = {"response_type": "code", "client_id": settings.client_id, "redirect_uri": settings.redirect_uri,
             "state": state}
    return f"{settings.authorize_url}?{urlencode(query)}"


def redirect_uri(settings: VendorSettings) -> str:
    assert isinstance(settings, JobberSettings)
    return settings.redirect_uri


def exchange(ctx: ConnectContext, code: str) -> str:
    from connectors.http.auth import exchange_authorization_code

    s = ctx.settings
    assert isinstance(s, JobberSettings)
    if s.client_secret is None:
        raise ConfigError("jobber", "FIELDBRIDGE_JOBBER_CLIENT_SECRET is not set (the app's client secret)")
    tokens = exchange_authorization_code(s.token_url, s.client_id, s.client_secret, code, s.redirect_uri,
                                         ctx.transport)
    store = ctx.token_store(token_key(s))
    with store.locked():
        store.save(tokens)
    return f"Jobber app {s.client_id} at {s.base_url}"
