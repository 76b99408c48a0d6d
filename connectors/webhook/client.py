"""Signed JSON events to custom systems, signed exactly as the ingress verifies (connectors/signing.py).

A delivery is repeatable: it carries the event's stable id (in the body and `Fieldbridge-Event-Id`), so
the shared HTTP layer may retry it after a lost answer and the receiver deduplicates.
"""

from __future__ import annotations

import httpx

from connectors import signing
from connectors.contract import ConfigError, OutboundEvent, VendorRecord
from connectors.http import HttpClient, RetryPolicy, budget_for, jsonbody


class EventSignature:
    """Signing as the request's auth scheme: applied on every attempt, so a retry after a long Retry-After
    carries a fresh timestamp inside the receiver's tolerance instead of a stale signature."""

    def __init__(self, secrets: list[str]) -> None:
        self.secrets = secrets

    def apply(self, request: httpx.Request) -> None:
        request.headers[signing.HEADER] = signing.sign(request.content, self.secrets)

    def refresh(self, failed_request: httpx.Request) -> bool:
        return False  # a receiver that rejects our signature needs a secret fixed, not a retry


class WebhookOut:
    system = "webhook"

    def __init__(self, urls: list[str], secrets: list[str], *, policy: RetryPolicy | None = None,
                 timeout: float = 10.0, transport: httpx.BaseTransport | None = None) -> None:
        if urls and not secrets:
            raise ConfigError(self.system, "FIELDBRIDGE_WEBHOOK_SECRETS is not set: events are only sent signed")
        self.urls = urls
        self.secrets = secrets
        signature = EventSignature(secrets)
        self._clients = {url: HttpClient(self.system, url, auth=signature, policy=policy, timeout=timeout,
                                         transport=transport,
                                         budget=budget_for(f"webhook:{url}", rate=20, per_seconds=1,
                                                           max_concurrent=4))
                         for url in urls}

    def targets(self) -> list[str]:
        return list(self.urls)

    def deliver(self, target: str, event: OutboundEvent) -> VendorRecord:
        raw = jsonbody.dumps(event.envelope()).encode()
        client = self._clients[target]
        headers = {"Content-Type": "application/json", "Fieldbridge-Event-Id": event.id}
        response, _ = client.request("POST", target, content=raw, headers=headers, idempotent=True)
        return VendorRecord(id=event.id, status=str(response.status_code))

    def record_url(self, kind: str, vendor_id: str) -> str | None:
        return None

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
