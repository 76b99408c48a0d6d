"""Webhook signatures, one scheme in and out (Stripe's): `Fieldbridge-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]`.

`v1` is hex HMAC-SHA256(secret, "{t}.{raw body}"). Several `v1` values let a sender sign with the old and
the new secret during a rotation; the receiver accepts the event if any one matches any of its secrets.
The timestamp is signed too, so a captured delivery cannot be replayed outside the tolerance window.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence

HEADER = "Fieldbridge-Signature"
DEFAULT_TOLERANCE_SECONDS = 300


class SignatureError(ValueError):
    """Why a delivery is not authentic; the text is safe to return to the sender (no secrets in it)."""


def compute(secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of "{timestamp}.{body}"."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(body: bytes, secrets: str | Sequence[str], timestamp: int | None = None) -> str:
    """The header value for `body`, signed with every secret given (old and new during a rotation)."""
    ts = int(time.time()) if timestamp is None else timestamp
    keys = [secrets] if isinstance(secrets, str) else list(secrets)
    if not keys:
        raise ValueError("at least one signing secret is needed")
    return ",".join([f"t={ts}", *(f"v1={compute(k, ts, body)}" for k in keys)])


def parse(header: str) -> tuple[int, list[str]]:
    """(timestamp, v1 signatures) from a header value; unknown schemes (v0, v2…) are ignored."""
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            if not value.isdigit() or len(value) > 12:
                raise SignatureError("the signature timestamp t= is not a unix time in seconds")
            timestamp = int(value)
        elif key == "v1" and value:
            signatures.append(value.lower())
    if timestamp is None:
        raise SignatureError(f"the {HEADER} header has no t= timestamp")
    if not signatures:
        raise SignatureError(f"the {HEADER} header has no v1= signature")
    return timestamp, signatures


def verify(header: str | None, body: bytes, secrets: Sequence[str], *,
           tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS, now: float | None = None) -> int:
    """Check a delivery; return its signed timestamp or raise SignatureError.

    Every (secret, signature) pair is compared in constant time, and all of them are compared, so the
    time taken says nothing about which secret or which signature came close.
    """
    if not secrets:
        raise SignatureError("the receiver has no signing secret configured")
    if not header:
        raise SignatureError(f"the {HEADER} header is missing")
    timestamp, signatures = parse(header)
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_seconds:
        raise SignatureError(f"the signature timestamp is more than {tolerance_seconds} s away from the "
                             "receiver's clock (a replay, or a sender clock that is off)")
    matched = False
    for secret in secrets:
        expected = compute(secret, timestamp, body).encode()
        for candidate in signatures:  # bytes: compare_digest refuses non-ASCII str, and headers may carry it
            matched |= hmac.compare_digest(expected, candidate.encode("utf-8", "replace"))
    if not matched:
        raise SignatureError("no v1 signature matches the body with any configured secret")
    return timestamp
