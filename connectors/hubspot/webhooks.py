"""HubSpot's webhook signature, v3: `X-HubSpot-Signature-v3` is the base64 HMAC-SHA256, keyed with the app's
client secret, of method + URI + body + `X-HubSpot-Request-Timestamp` (milliseconds); a delivery older than
5 minutes is refused (a replay). The URI is the one HubSpot called, with some characters URL-decoded.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping

from connectors.contract import VendorSettings, WebhookRefused

SIGNATURE = "x-hubspot-signature-v3"
TIMESTAMP = "x-hubspot-request-timestamp"
MAX_AGE_SECONDS = 300
# HubSpot decodes these in the URI before signing
_DECODE = {"%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$", "%27": "'", "%28": "(",
           "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";"}


def signature(secret: str, method: str, url: str, body: bytes, timestamp_ms: str) -> str:
    uri = url
    for encoded, plain in _DECODE.items():
        uri = uri.replace(encoded, plain).replace(encoded.lower(), plain)
    message = method.upper().encode() + uri.encode() + body + timestamp_ms.encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def verify(settings: VendorSettings, method: str, url: str, headers: Mapping[str, str], body: bytes,
           now: float) -> None:
    secret = getattr(settings, "client_secret", None)
    if secret is None or not secret.get_secret_value():
        raise WebhookRefused("HubSpot webhooks are not configured: set FIELDBRIDGE_HUBSPOT_CLIENT_SECRET")
    given, stamp = headers.get(SIGNATURE), headers.get(TIMESTAMP, "")
    if not given:
        raise WebhookRefused(f"missing {SIGNATURE} header")
    if not stamp.isdigit():
        raise WebhookRefused(f"missing or malformed {TIMESTAMP} header")
    age = now - int(stamp) / 1000
    if age > MAX_AGE_SECONDS:
        raise WebhookRefused(f"the delivery is {age:.0f} s old (more than {MAX_AGE_SECONDS}): refused as a replay")
    want = signature(secret.get_secret_value(), method, url, body, stamp)
    if not hmac.compare_digest(want, given):
        raise WebhookRefused("the signature does not match the body")
