"""Fault knobs every sandbox shares: errors, latency, 429 bursts, commit-then-drop, real rate limits."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import random
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

ErrorBody = Callable[[int, str], dict[str, Any]]


@dataclass
class FaultConfig:
    error_rate: float = 0.0  # share of API requests answered 500/503 before any state changes
    latency_ms: int = 0  # added to every API request
    burst_429_rate: float = 0.0  # chance a request starts a burst of 429s
    burst_429_length: int = 3
    drop_after_commit_rate: float = 0.0  # share of writes committed and then answered with a dropped connection
    drop_first_write: bool = False  # drop the answer to the FIRST attempt of every distinct write
    retry_after_seconds: float = 1.0
    # answer every API request 400 with an error body that echoes the credentials it carried, as careless
    # vendors do: fieldbridge must never let them reach a log, the ledger, an artifact or a traceback
    echo_credentials: bool = False
    seed: int | None = None


def _loopback(scope: Scope) -> bool:
    """The admin API changes state and reveals it: only a client on this machine may use it."""
    import ipaddress

    client = scope.get("client")
    if not client:
        return True  # an in-process ASGI call (tests) has no network peer
    try:
        return ipaddress.ip_address(client[0]).is_loopback
    except ValueError:
        return client[0] in ("localhost", "testclient")


class SandboxDrop(Exception):
    """Raised after the response started: the server closes the connection mid-answer."""


class _DropFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, SandboxDrop) and not any(
            isinstance(e, SandboxDrop) for e in getattr(exc, "exceptions", ()) or ()
        )


logging.getLogger("uvicorn.error").addFilter(_DropFilter())


@dataclass
class RateWindow:
    """A vendor's documented limit: `limit` requests per `window_seconds`, answered 429 beyond it."""

    limit: int
    window_seconds: float
    _hits: deque[float] = field(default_factory=deque)

    def check(self) -> float | None:
        """Record a hit; return seconds to wait if over the limit."""
        now = time.monotonic()
        while self._hits and now - self._hits[0] > self.window_seconds:
            self._hits.popleft()
        if len(self._hits) >= self.limit:
            return self.window_seconds - (now - self._hits[0])
        self._hits.append(now)
        return None


class FaultInjector:
    """ASGI middleware applying the knobs to vendor API paths (never to `/_sandbox/*` admin paths)."""

    WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
    #: admin paths are never faulted; a sandbox adds its OAuth token endpoint (a separate host at the real
    #: vendors, and with strict rotation a lost token answer loses the connection, which no client can repair)
    EXEMPT_PREFIXES = ("/_sandbox",)

    def __init__(
        self,
        app: ASGIApp,
        config: FaultConfig,
        error_body: ErrorBody,
        rate_window: RateWindow | None = None,
        rate_limit_headers: Callable[[RateWindow | None], dict[str, str]] | None = None,
        rate_limit_body: ErrorBody | None = None,
        exempt: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.exempt = self.EXEMPT_PREFIXES + exempt
        self.config = config
        self.error_body = error_body
        self.rate_limit_body = rate_limit_body or error_body
        self.rate_window = rate_window
        self.rate_limit_headers = rate_limit_headers or (lambda _w: {})
        self._rng = random.Random(config.seed)
        self._burst_left = 0
        self._seen_writes: set[str] = set()
        self._lock = threading.Lock()
        self.stats = {"requests": 0, "errors": 0, "429": 0, "dropped": 0}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(self.EXEMPT_PREFIXES) and not _loopback(scope):
            await _json(send, 403, {"error": "the sandbox admin API (/_sandbox) answers loopback clients only"}, {})
            return
        if scope["type"] != "http" or scope["path"].startswith(self.exempt):
            await self.app(scope, receive, send)
            return
        cfg = self.config
        if cfg.echo_credentials:
            headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
            query = scope.get("query_string", b"").decode()
            echoed = f"invalid request: Authorization '{headers.get('authorization', '')}' rejected for " \
                     f"{scope['path']}?{query}"
            await _json(send, 400, self.error_body(400, echoed), {})
            return
        self.stats["requests"] += 1
        if cfg.latency_ms:
            await asyncio.sleep(cfg.latency_ms / 1000)
        body = await _read_body(receive)
        with self._lock:
            status, wait = self._pre_decision()
        if status == 429:
            self.stats["429"] += 1
            await _json(send, 429, self.rate_limit_body(429, "rate limit exceeded"), {
                "Retry-After": str(math.ceil(wait)) if wait >= 1 else f"{max(wait, 0.01):.2f}",
                **self.rate_limit_headers(self.rate_window),
            })
            return
        if status:
            self.stats["errors"] += 1
            await _json(send, status, self.error_body(status, "sandbox injected server error"), {})
            return
        drop = scope["method"] in self.WRITE_METHODS and self._should_drop(scope, body)
        replay = _replay(body)
        if not drop:
            await self.app(scope, replay, self._with_headers(send))
            return
        self.stats["dropped"] += 1
        captured: list[Message] = []

        async def capture(message: Message) -> None:
            captured.append(message)

        await self.app(scope, replay, capture)  # the write commits...
        start = next((m for m in captured if m["type"] == "http.response.start"), None)
        if start is not None:
            await send(start)  # ...the status line and headers go out, then the connection dies
        raise SandboxDrop("commit-then-drop")

    def _with_headers(self, send: Send) -> Send:
        extra = [(k.encode().lower(), v.encode()) for k, v in self.rate_limit_headers(self.rate_window).items()]

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start" and extra:
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        return wrapped

    def _pre_decision(self) -> tuple[int, float]:
        cfg = self.config
        if self.rate_window is not None:
            wait = self.rate_window.check()
            if wait is not None:
                return 429, wait
        if self._burst_left > 0:
            self._burst_left -= 1
            return 429, cfg.retry_after_seconds
        if cfg.burst_429_rate and self._rng.random() < cfg.burst_429_rate:
            self._burst_left = cfg.burst_429_length - 1
            return 429, cfg.retry_after_seconds
        if cfg.error_rate and self._rng.random() < cfg.error_rate:
            return self._rng.choice([500, 503]), 0.0
        return 0, 0.0

    def _should_drop(self, scope: Scope, body: bytes) -> bool:
        cfg = self.config
        if cfg.drop_first_write:
            fingerprint = hashlib.sha256(
                scope["method"].encode() + scope["path"].encode() + scope.get("query_string", b"") + body
            ).hexdigest()
            with self._lock:
                if fingerprint not in self._seen_writes:
                    self._seen_writes.add(fingerprint)
                    return True
        return bool(cfg.drop_after_commit_rate) and self._rng.random() < cfg.drop_after_commit_rate

    def burst(self, n: int) -> None:
        """Answer the next `n` API requests with 429 (tests use this)."""
        with self._lock:
            self._burst_left = n


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _replay(body: bytes) -> Callable[[], Awaitable[Message]]:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def _json(send: Send, status: int, payload: dict[str, Any], headers: dict[str, str]) -> None:
    from connectors.http import jsonbody

    raw = jsonbody.dumps(payload).encode()
    hdrs = [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
    hdrs += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": hdrs})
    await send({"type": "http.response.body", "body": raw})
