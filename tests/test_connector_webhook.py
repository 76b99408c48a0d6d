"""Signed webhooks out over the wire: signed as the ingress verifies, retried with the same event id,
refused deliveries are clear errors, and the documented stdlib receiver accepts them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from connectors import signing
from connectors.contract import ConfigError, EventSink, OutboundEvent, is_retryable
from connectors.emulator import FaultConfig, SandboxServer, free_port
from connectors.http import RetryPolicy
from connectors.webhook import sandbox as receiver_sandbox
from connectors.webhook.client import WebhookOut

SECRET = "whsec_out_test"
POLICY = RetryPolicy(max_attempts=4, base_seconds=0.01, cap_seconds=0.05)
EVENT = OutboundEvent("invoice.created:J1:abc", "invoice.created", datetime(2026, 11, 24, tzinfo=UTC),
                      {"job_id": "J1", "total": "12.30"})


@pytest.fixture
def receiver():
    box = receiver_sandbox.create_app([SECRET], FaultConfig(seed=3))
    server = SandboxServer(box.asgi()).start()
    yield server, box
    server.stop()


def _events(url: str) -> list[dict]:
    return httpx.get(f"{url}/_sandbox/state/events").json()["results"]


def test_a_delivery_is_signed_and_verified(receiver) -> None:
    server, _ = receiver
    sink = WebhookOut([f"{server.url}/events"], [SECRET], policy=POLICY)
    assert isinstance(sink, EventSink)
    record = sink.deliver(f"{server.url}/events", EVENT)
    assert record.id == EVENT.id and record.status == "202"
    [stored] = _events(server.url)
    assert stored["event"] == EVENT.envelope() and stored["deliveries"] == 1


def test_a_lost_answer_is_retried_with_the_same_event_id(receiver) -> None:
    server, _ = receiver
    httpx.post(f"{server.url}/_sandbox/faults", json={"drop_first_write": True}).raise_for_status()
    WebhookOut([f"{server.url}/events"], [SECRET], policy=POLICY).deliver(f"{server.url}/events", EVENT)
    [stored] = _events(server.url)
    assert stored["deliveries"] == 2  # the receiver saw it twice and kept one


def test_every_attempt_is_signed_afresh(monkeypatch) -> None:
    """A retry after a long Retry-After must not carry the first attempt's timestamp: the receiver would
    refuse it as stale (5-minute tolerance) and the event would fail for good."""
    real_sign, calls = signing.sign, []

    def sign_at_attempt_time(body: bytes, secrets, timestamp=None) -> str:  # the second goes out 400 s later
        calls.append(body)
        return real_sign(body, secrets, 1_800_000_000 + 400 * (len(calls) - 1))

    monkeypatch.setattr(signing, "sign", sign_at_attempt_time)
    seen: list[int] = []

    class Recording(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            seen.append(signing.parse(request.headers[signing.HEADER])[0])
            if len(seen) == 1:
                return httpx.Response(429, headers={"Retry-After": "0"}, json={"error": "slow down"})
            return httpx.Response(202, json={"received": True})

    WebhookOut(["https://receiver.example/events"], [SECRET], policy=POLICY, transport=Recording()).deliver(
        "https://receiver.example/events", EVENT)
    assert seen == [1_800_000_000, 1_800_000_400] and calls[0] == calls[1]  # same body, fresh signature


def test_a_receiver_refusing_the_signature_is_a_config_error(receiver) -> None:
    server, _ = receiver
    with pytest.raises(ConfigError) as err:
        WebhookOut([f"{server.url}/events"], ["whsec_other"], policy=POLICY).deliver(f"{server.url}/events", EVENT)
    assert not is_retryable(err.value) and _events(server.url) == []


def test_unsigned_sending_is_refused_before_anything_is_sent() -> None:
    with pytest.raises(ConfigError, match="FIELDBRIDGE_WEBHOOK_SECRETS is not set"):
        WebhookOut(["https://hooks.example/events"], [])


def test_the_documented_stdlib_receiver_accepts_and_deduplicates(tmp_path: Path) -> None:
    port = free_port()
    example = Path(__file__).resolve().parents[1] / "docs" / "examples" / "webhook_receiver.py"
    proc = subprocess.Popen([sys.executable, str(example), "--port", str(port)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "FIELDBRIDGE_SECRET": SECRET})
    try:
        assert "listening" in proc.stdout.readline()
        url = f"http://127.0.0.1:{port}/events"
        sink = WebhookOut([url], [SECRET], policy=POLICY)
        assert sink.deliver(url, EVENT).status == "202"
        assert sink.deliver(url, EVENT).status == "200"  # the same id again: acknowledged, not handled twice
        raw = b'{"id":"x","type":"job.closed","occurred_at":"2026-11-24T00:00:00+00:00","data":{}}'
        stale = signing.sign(raw, SECRET, timestamp=int(time.time()) - 3600)
        assert httpx.post(url, content=raw, headers={signing.HEADER: stale}).status_code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=10)
