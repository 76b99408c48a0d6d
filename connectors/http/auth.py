"""Auth schemes, one small class each: a static bearer token and OAuth2 with rotating refresh tokens."""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Literal, Protocol

import httpx
from pydantic import SecretStr

from connectors.contract.errors import ConfigError, TransientError
from connectors.contract.plugin import TokenSet, TokenStore
from connectors.contract.redact import remember_form, remember_header


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
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)  # a leftover from a crash may have other permissions: start from 0600
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
            self.store.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._fh = open(self.store.path.with_suffix(".lock"), "a")
            fcntl.flock(self._fh, fcntl.LOCK_EX)

        def __exit__(self, *exc: object) -> None:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self.store._thread_lock.release()

    def locked(self) -> FileTokenStore._Lock:
        return FileTokenStore._Lock(self)


class OAuth2RefreshToken:
    """OAuth2 bearer whose refresh token may rotate on every use (QuickBooks, Xero, Salesforce).

    The new refresh token is persisted *before* the new access token is used: if we crash after
    the vendor rotated it and before we saved it, the connection would be lost for good.
    `client_auth`: client credentials in a Basic header (QuickBooks, Xero) or in the form (Salesforce).
    `keep`: fields of the token answer to remember beside the tokens (Salesforce's `instance_url`).
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: SecretStr,
        store: TokenStore,
        initial_refresh_token: SecretStr | None = None,
        transport: httpx.BaseTransport | None = None,
        *,
        client_auth: Literal["basic", "body"] = "basic",
        keep: tuple[str, ...] = (),
        default_expires_in: float = 3600.0,
    ) -> None:
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.store = store
        self.initial_refresh_token = initial_refresh_token
        self._transport = transport
        self.client_auth = client_auth
        self.keep = keep
        self.default_expires_in = default_expires_in
        self.refresh_count = 0

    def _seed(self) -> str | None:
        """A fingerprint of the configured refresh token (never the token itself), stored beside the rotated
        tokens: when an operator configures a different one (the app was reconnected), it wins."""
        if self.initial_refresh_token is None:
            return None
        return hashlib.sha256(self.initial_refresh_token.get_secret_value().encode()).hexdigest()[:16]

    def _current(self) -> TokenSet | None:
        tokens = self.store.load()
        seed = self._seed()
        reconnected = tokens is not None and seed is not None and tokens.extra.get("seed", seed) != seed
        if (tokens is None or reconnected) and self.initial_refresh_token is not None:
            tokens = TokenSet("", self.initial_refresh_token.get_secret_value(), 0.0, {"seed": seed or ""})
        return tokens

    def tokens(self) -> TokenSet:
        """The current token set, refreshed first if it has no usable access token."""
        tokens = self._current()
        if tokens is None or not tokens.fresh():
            self._refresh(stale_access=tokens.access_token if tokens else None)
            tokens = self._current()
        assert tokens is not None
        return tokens

    def apply(self, request: httpx.Request) -> None:
        request.headers["Authorization"] = f"Bearer {self.tokens().access_token}"

    def refresh(self, failed_request: httpx.Request) -> bool:
        used = failed_request.headers.get("Authorization", "").removeprefix("Bearer ")
        self._refresh(stale_access=used)
        return True

    def _grant(self, tokens: TokenSet) -> dict[str, str]:
        return {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}

    def _refresh(self, stale_access: str | None) -> None:
        with self.store.locked():
            tokens = self._current()
            if tokens is None:
                raise ConfigError("oauth", "no refresh token configured: run the connect step first")
            if tokens.access_token and tokens.access_token != stale_access and tokens.fresh():
                return  # another thread or process refreshed while we waited for the lock
            form = self._grant(tokens)
            headers = {"Accept": "application/json"}
            if self.client_auth == "basic":
                basic = base64.b64encode(
                    f"{self.client_id}:{self.client_secret.get_secret_value()}".encode()).decode()
                headers["Authorization"] = f"Basic {basic}"
            else:
                form |= {"client_id": self.client_id, "client_secret": self.client_secret.get_secret_value()}
            body = _post_token(self.token_url, form, headers, self._transport)
            kept = {k: str(body[k]) for k in self.keep if body.get(k)} or \
                {k: v for k, v in tokens.extra.items() if k != "seed"}
            seed = self._seed()
            self.store.save(TokenSet(
                access_token=body["access_token"],
                refresh_token=body.get("refresh_token") or tokens.refresh_token,
                expires_at=time.time() + float(body.get("expires_in") or self.default_expires_in),
                extra=kept | ({"seed": seed} if seed else {}),
            ))
            self.refresh_count += 1


class JwtBearer(OAuth2RefreshToken):
    """OAuth2 JWT bearer flow (Salesforce server-to-server): each new access token is bought with a fresh
    RS256-signed assertion; there is no refresh token to rotate or lose."""

    def __init__(self, token_url: str, client_id: str, username: str, private_key: SecretStr, audience: str,
                 store: TokenStore, transport: httpx.BaseTransport | None = None, *, keep: tuple[str, ...] = (),
                 default_expires_in: float = 3600.0) -> None:
        super().__init__(token_url, client_id, SecretStr(""), store, SecretStr("jwt-bearer"), transport,
                         client_auth="body", keep=keep, default_expires_in=default_expires_in)
        self.username = username
        self.private_key = private_key
        self.audience = audience

    def _grant(self, tokens: TokenSet) -> dict[str, str]:
        claims = {"iss": self.client_id, "sub": self.username, "aud": self.audience, "exp": int(time.time()) + 180}
        return {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "assertion": sign_rs256(claims, self.private_key)}

    def _refresh(self, stale_access: str | None) -> None:
        with self.store.locked():
            tokens = self._current()
            if tokens is not None and tokens.access_token and tokens.access_token != stale_access and tokens.fresh():
                return
            body = _post_token(self.token_url, self._grant(tokens or TokenSet("", "", 0.0)),
                               {"Accept": "application/json"}, self._transport)
            self.store.save(TokenSet(body["access_token"], "jwt-bearer",
                                     time.time() + float(body.get("expires_in") or self.default_expires_in),
                                     {k: str(body[k]) for k in self.keep if body.get(k)}))
            self.refresh_count += 1


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def sign_rs256(claims: dict[str, object], private_key: SecretStr) -> str:
    """A compact JWS (RS256) — what a JWT bearer grant carries."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = serialization.load_pem_private_key(private_key.get_secret_value().encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError("oauth", "the JWT signing key is not an RSA private key")
    head = _b64url(json.dumps({"alg": "RS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = _b64url(json.dumps(claims, separators=(",", ":")).encode())
    signature = key.sign(f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{head}.{body}.{_b64url(signature)}"


def _post_token(url: str, form: dict[str, str], headers: dict[str, str],
                transport: httpx.BaseTransport | None) -> dict[str, object]:
    """One call to a token endpoint; its errors are classified, never echoed with secrets."""
    remember_form(form)
    for name, value in headers.items():
        remember_header(name, value)
    try:
        with httpx.Client(transport=transport, timeout=20) as client:
            resp = client.post(url, data=form, headers=headers)
    except httpx.TransportError as exc:
        raise TransientError("oauth", f"token endpoint unreachable: {type(exc).__name__}") from exc
    if resp.status_code >= 500 or resp.status_code == 429:
        raise TransientError("oauth", "token endpoint error", status=resp.status_code)
    if resp.status_code != 200:
        try:
            error = resp.json().get("error", "unknown")
        except ValueError:
            error = "unknown"
        raise ConfigError("oauth", f"token request rejected ({error}): reconnect the app", status=resp.status_code)
    body = resp.json()
    if isinstance(body, dict):
        remember_form(body)  # the new access and refresh tokens
    return body


def exchange_authorization_code(token_url: str, client_id: str, client_secret: SecretStr, code: str,
                                redirect_uri: str, transport: httpx.BaseTransport | None = None, *,
                                default_expires_in: float = 3600.0) -> TokenSet:
    """The authorization-code grant (a person consented in the vendor's page): the first token set of a
    connection, client credentials in the form. The expiry is `expires_in`, else the access token's JWT `exp`
    (Jobber sends only the two tokens), else `default_expires_in`."""
    form = {"client_id": client_id, "client_secret": client_secret.get_secret_value(),
            "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    body = _post_token(token_url, form, {"Accept": "application/json"}, transport)
    access, refresh = str(body.get("access_token") or ""), str(body.get("refresh_token") or "")
    if not access or not refresh:
        raise ConfigError("oauth", "the token endpoint answered without an access and a refresh token")
    expires = time.time() + float(body["expires_in"]) if body.get("expires_in") else jwt_expiry(access)
    return TokenSet(access, refresh, expires or time.time() + default_expires_in)


def jwt_expiry(token: str) -> float | None:
    """The `exp` claim of a JWT-shaped token (not verified: only to know when to refresh), or None."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        return float(claims["exp"])
    except (ValueError, KeyError, TypeError):
        return None
