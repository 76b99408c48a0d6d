"""Jobber's webhook signature: `X-Jobber-Hmac-SHA256` is the base64 HMAC-SHA256 of the raw body, keyed with the
app's OAuth client secret. The body names the topic, the account and the item only:
`{"data": {"webHookEvent": {"topic", "appId", "accountId", "itemId", "occurredAt"}}}` (apps created before
December 2023 get the misspelt `occuredAt`). Jobber delivers at least once and wants an answer within 1 s.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from connectors.contract import VendorSettings, WebhookRefused

SIGNATURE = "x-jobber-hmac-sha256"

#: the topics that mean "the work is done or changed" (WebHookTopicEnum); the app subscribes to these
TOPICS = ("JOB_CLOSED", "JOB_UPDATE", "VISIT_COMPLETE", "VISIT_UPDATE", "TIMESHEET_CREATE", "TIMESHEET_UPDATE",
          "TIMESHEET_DESTROY", "EXPENSE_CREATE", "EXPENSE_UPDATE", "EXPENSE_DESTROY")


def signature(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def verify(settings: VendorSettings, method: str, url: str, headers: Mapping[str, str], body: bytes,
           now: float) -> None:
    """Refuse a delivery not signed with our client secret (Jobber's signature has no timestamp: replays of a
    genuine delivery are harmless, each is deduplicated by its body)."""
    secret = getattr(settings, "client_secret", None)
    if secret is None or not secret.get_secret_value():
        raise WebhookRefused("Jobber webhooks are not configured: set FIELDBRIDGE_JOBBER_CLIENT_SECRET")
    given = headers.get(SIGNATURE)
    if not given:
        raise WebhookRefused("missing X-Jobber-Hmac-SHA256 header")
    if not hmac.compare_digest(signature(secret.get_secret_value(), body).encode(), given.strip().encode()):
        raise WebhookRefused("the X-Jobber-Hmac-SHA256 signature does not match the body")


def parameters(body: bytes) -> dict[str, Any]:
    """The run parameters of a verified delivery: its topic and item; ValueError names what is missing."""
    try:
        event = json.loads(body)["data"]["webHookEvent"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError("the body is not a Jobber webhook: expected {\"data\": {\"webHookEvent\": {…}}}") from exc
    if not isinstance(event, dict):
        raise ValueError("data.webHookEvent is not an object")
    topic, item = event.get("topic"), event.get("itemId")
    if not isinstance(topic, str) or not topic or not isinstance(item, str) or not item:
        raise ValueError("data.webHookEvent needs a topic and an itemId")
    occurred = event.get("occurredAt") or event.get("occuredAt") or ""
    return {"topic": topic, "item_id": item, "occurred_at": str(occurred)}
