"""Auth schemes, one small class each: a static bearer token and OAuth2 with rotating refresh tokens."""

from __future__ import annotations

import base64
import fcntl
import json
import os
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Protocol

import httpx
from pydantic import SecretStr

from connectors.contract.errors import ConfigError, TransientError
from connectors.contract.plugin import TokenSet, TokenStore


class Auth(Protocol):
    def apply(self, request: httpx.Request) -> None: ...

    def refresh(self, failed_request: httpx.Request) -> bool:
        """Get fresh credentials after a 401; False when this scheme cannot refresh."""
        ...


class BearerToken:
    """A long-lived token such as a HubSpot private-app token."""

    def __init__(self, token: SecretStr) -> None:
        self._token = token

    def apply(self, request: httpx.Request) -> None:
        request.headers["Authorization"] = f"Bearer {self._token.get_secret_value()}"

    def refresh(self, failed_request: httpx.Request) -> bool:
        return False


class FileTokenStore:
    """Token set in a 0600 JSON file, replaced atomically; refreshes serialised with flock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._thread_lock = threading.RLock()

    def load(self) -> TokenSet | None:
        try:
            return TokenSet(**json.loads(self.path.read_text()))
        except FileNotFoundError:
            return None

    def save(self, tokens: TokenSet) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(asdict(tokens), fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # make the rename itself durable: a lost rename is a lost refresh token
        finally:
            os.close(dir_fd)

    class _Lock:
        def __init__(self, store: FileTokenStore) -> None:
            self.store = store

        def __enter__(self) -> None:
            self.store._thread_lock.acquire()
            self.store.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.store.path.with_suffix(".lock"), "a")
            fcntl.flock(self._fh, fcntl.LOCK_EX)

        def __exit__(self, *exc: object) -> None:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self.store._thread_lock.release()

    def locked(self) -> FileTokenStore._Lock:
        return FileTokenStore._Lock(self)


class OAuth2RefreshToken:
    """OAuth2 bearer whose refresh token rotates on every use (QuickBooks, Xero, Gusto).

    The new refresh token is persisted *before* the new access token is used: if we crash after
    the vendor rotated it and before we saved it, the connection would be lost for good.
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: SecretStr,
        store: TokenStore,
        initial_refresh_token: SecretStr | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.store = store
        self.initial_refresh_token = initial_refresh_token
        self._transport = transport
        self.refresh_count = 0

    def _current(self) -> TokenSet | None:
        tokens = self.store.load()
        if tokens is None and self.initial_refresh_token is not None:
            tokens = TokenSet("", self.initial_refresh_token.get_secret_value(), 0.0)
        return tokens

    def apply(self, request: httpx.Request) -> None:
        tokens = self._current()
        if tokens is None or not tokens.access_token or tokens.expires_at - 60 < time.time():
            self._refresh(stale_access=tokens.access_token if tokens else None)
            tokens = self._current()
        assert tokens is not None
        request.headers["Authorization"] = f"Bearer {tokens.access_token}"

    def refresh(self, failed_request: httpx.Request) -> bool:
        used = failed_request.headers.get("Authorization", "").removeprefix("Bearer ")
        self._refresh(stale_access=used)
        return True

    def _refresh(self, stale_access: str | None) -> None:
        with self.store.locked():
            tokens = self._current()
            if tokens is None:
                raise ConfigError("oauth", "no refresh token configured: run the connect step first")
            if tokens.access_token and tokens.access_token != stale_access and tokens.expires_at - 60 > time.time():
                return  # another thread or process refreshed while we waited for the lock
            basic = base64.b64encode(
                f"{self.client_id}:{self.client_secret.get_secret_value()}".encode()
            ).decode()
            try:
                with httpx.Client(transport=self._transport, timeout=20) as client:
                    resp = client.post(
                        self.token_url,
                        data={"grant_type": "refresh_token", "refresh_token": tokens.refresh_token},
                        headers={"Authorization": f"Basic {basic}", "Accept": "application/json"},
                    )
            except httpx.TransportError as exc:
                raise TransientError("oauth", f"token endpoint unreachable: {type(exc).__name__}") from exc
            if resp.status_code >= 500:
                raise TransientError("oauth", "token endpoint error", status=resp.status_code)
            if resp.status_code != 200:
                error = resp.json().get("error", "unknown") if resp.content else "unknown"
                raise ConfigError(
                    "oauth", f"refresh rejected ({error}): reconnect the app", status=resp.status_code
                )
            body = resp.json()
            self.store.save(
                TokenSet(
                    access_token=body["access_token"],
                    refresh_token=body.get("refresh_token", tokens.refresh_token),
                    expires_at=time.time() + float(body.get("expires_in", 3600)),
                )
            )
            self.refresh_count += 1
