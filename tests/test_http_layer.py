"""The shared HTTP layer: retry policy, rate budget, redaction, token store, exact JSON, the status table,
and what the client logs. Client behaviour is exercised over the wire against a HubSpot sandbox."""

from __future__ import annotations

import json
import logging
import os
import stat
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from connectors.contract import (
    ConfigError,
    ConflictError,
    DataError,
    ErrorResolution,
    FailureType,
    RateLimitedError,
    ResponseAction,
    TokenSet,
    TransientError,
    UnknownOutcomeError,
    is_retryable,
)
from connectors.contract.errors import error_for
from connectors.contract.redact import MASK, redact, redact_url
from connectors.emulator import FaultConfig, SandboxServer, free_port
from connectors.http import (
    BearerToken,
    FileTokenStore,
    HttpClient,
    RateBudget,
    RetryPolicy,
    budget_for,
    jsonbody,
)
from connectors.http.classify import default_resolution, resolve, retry_after_seconds
from connectors.hubspot import sandbox as hubspot_sandbox

HUBSPOT_TOKEN = "pat-test-layer-token-0123456789"

# --------------------------------------------------------------------------------------------
# RetryPolicy
# --------------------------------------------------------------------------------------------


def test_retry_after_wins_over_exponential_backoff() -> None:
    policy = RetryPolicy(base_seconds=10.0, cap_seconds=30.0)
    for attempt in (1, 3, 6):
        delay = policy.delay(attempt, retry_after=0.5)
        assert 0.5 <= delay <= 0.55  # the vendor's number plus at most 50 ms jitter, whatever the attempt


def test_retry_after_is_capped_so_long_waits_go_back_to_the_task_scheduler() -> None:
    policy = RetryPolicy(max_retry_after_seconds=2.0)
    for _ in range(50):
        assert 2.0 <= policy.delay(1, retry_after=3600) <= 2.05


def test_zero_retry_after_means_retry_now() -> None:
    assert RetryPolicy().delay(4, retry_after=0.0) <= 0.05


@pytest.mark.parametrize("attempt", range(1, 12))
def test_backoff_is_full_jitter_within_half_and_full_ceiling_and_never_above_cap(attempt: int) -> None:
    policy = RetryPolicy(base_seconds=0.2, cap_seconds=3.0)
    ceiling = min(3.0, 0.2 * 2 ** (attempt - 1))
    delays = [policy.delay(attempt) for _ in range(200)]
    assert all(ceiling / 2 <= d <= ceiling for d in delays)
    assert max(delays) <= policy.cap_seconds
    assert len(set(delays)) > 1  # jittered, so sibling workers do not retry in lockstep


@pytest.mark.parametrize(
    ("header", "expected"),
    [("0.20", 0.2), ("3", 3.0), ("-5", 0.0), ("Wed, 21 Oct 2015 07:28:00 GMT", None), (None, None)],
)
def test_retry_after_header_parsing(header: str | None, expected: float | None) -> None:
    headers = {"Retry-After": header} if header is not None else {}
    assert retry_after_seconds(httpx.Response(429, headers=headers)) == expected


# --------------------------------------------------------------------------------------------
# RateBudget
# --------------------------------------------------------------------------------------------


def _take(budget: RateBudget, n: int) -> float:
    started = time.monotonic()
    for _ in range(n):
        budget.acquire()
        budget.release()
    return time.monotonic() - started


def test_rate_budget_allows_a_burst_then_paces_at_rate_per_window() -> None:
    budget = RateBudget(rate=5, per_seconds=0.5, burst=5)
    assert _take(budget, 5) < 0.1  # a full bucket: five requests go out at once
    sixth = _take(budget, 1)
    assert 0.07 <= sixth <= 0.3  # then one token every 0.1 s
    # 10 acquires in total after the burst-of-five: tokens 7..11 each wait ~0.1 s more
    assert 0.45 <= _take(budget, 5) <= 0.9


def test_rate_budget_eleven_acquires_take_at_least_six_refill_intervals() -> None:
    budget = RateBudget(rate=5, per_seconds=0.5, burst=5)
    elapsed = _take(budget, 11)
    assert 0.55 <= elapsed <= 1.2


def test_the_default_burst_keeps_any_sliding_window_under_the_vendors_limit() -> None:
    """A vendor allowing 100 requests per 1 s window, a budget at 95 of them: over 3 s of requests as fast as
    the budget allows, no window of 1 s ever holds more than 100 (a burst of the full rate would put 190 in
    the first one)."""
    budget = RateBudget(rate=95, per_seconds=1.0)
    sent: list[float] = []
    started = time.monotonic()
    while time.monotonic() - started < 3.0:
        budget.acquire()
        budget.release()
        sent.append(time.monotonic())
    busiest = max(sum(1 for t in sent if s <= t < s + 1.0) for s in sent)
    assert busiest <= 100, busiest
    assert len(sent) >= 0.9 * 95 * 3  # and the budget is used, not wasted


def test_rate_budget_caps_concurrency_until_a_slot_is_released() -> None:
    budget = RateBudget(rate=100, per_seconds=1.0, max_concurrent=2)
    budget.acquire()
    budget.acquire()
    entered = threading.Event()

    def third() -> None:
        budget.acquire()
        entered.set()
        budget.release()

    worker = threading.Thread(target=third, daemon=True)
    worker.start()
    assert not entered.wait(0.2)  # both slots are held: the third request must wait
    budget.release()
    assert entered.wait(2.0)
    worker.join(2.0)
    budget.release()


def test_rate_budget_pause_blocks_every_acquire_until_it_ends_and_never_shortens() -> None:
    budget = RateBudget(rate=100, per_seconds=1.0)
    budget.pause(0.4)
    budget.pause(0.1)  # a shorter pause must not cut the longer one short
    assert 0.35 <= _take(budget, 1) <= 0.9
    assert _take(budget, 1) < 0.1  # and afterwards requests flow again


def test_budget_for_is_one_budget_per_key_process_wide() -> None:
    a = budget_for("test-layer:key-a", rate=3, per_seconds=1)
    assert budget_for("test-layer:key-a", rate=999, per_seconds=1) is a
    assert budget_for("test-layer:key-b", rate=3, per_seconds=1) is not a


# --------------------------------------------------------------------------------------------
# redaction
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["access_token", "refresh_token", "client_secret", "api_key", "apikey", "API-KEY", "password", "code",
     "signature", "X-Amz-Signature", "Authorization", "hapikey"],
)
def test_redact_url_masks_credential_looking_query_parameters(name: str) -> None:
    url = f"https://api.example.com/v1/things?limit=10&{name}=s3cr3t-VALUE-42&after=abc"
    out = redact_url(url)
    assert "s3cr3t-VALUE-42" not in out
    assert f"{name}={MASK}" in out
    assert out.startswith("https://api.example.com/v1/things?limit=10&")
    assert out.endswith("&after=abc")  # harmless parameters stay readable for debugging


def test_redact_url_leaves_urls_without_query_untouched() -> None:
    assert redact_url("https://api.example.com/v1/things/42") == "https://api.example.com/v1/things/42"


def test_redact_masks_nested_secret_keys_without_touching_the_original() -> None:
    original = {
        "headers": {"Authorization": "Bearer abc", "X-Api-Key": "k-1", "Accept": "application/json"},
        "body": [{"refresh_token": "RT-1", "amount": Decimal("1.10")}, "plain"],
        "client_secret": {"nested": "deep"},
    }
    snapshot = json.loads(json.dumps(original, default=str))
    out = redact(original)
    assert out == {
        "headers": {"Authorization": MASK, "X-Api-Key": MASK, "Accept": "application/json"},
        "body": [{"refresh_token": MASK, "amount": Decimal("1.10")}, "plain"],
        "client_secret": MASK,
    }
    assert json.loads(json.dumps(original, default=str)) == snapshot


def test_token_set_repr_does_not_print_the_tokens() -> None:
    tokens = TokenSet(access_token="eyJ-access-SECRET", refresh_token="RT1-refresh-SECRET", expires_at=0.0)
    assert "SECRET" not in repr(tokens)
    assert "SECRET" not in str(tokens)


# --------------------------------------------------------------------------------------------
# FileTokenStore
# --------------------------------------------------------------------------------------------


def _tokens(n: int) -> TokenSet:
    return TokenSet(access_token=f"AT-{n}", refresh_token=f"RT-{n}", expires_at=1_900_000_000.0 + n)


def test_token_store_round_trips_and_reports_missing_file(tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path / "nested" / "dir" / "qbo.json")
    assert store.load() is None
    store.save(_tokens(1))
    assert store.load() == _tokens(1)


def test_token_file_is_private_even_when_a_wider_file_was_there_before(tmp_path: Path) -> None:
    path = tmp_path / "qbo.json"
    path.write_text("{}")
    os.chmod(path, 0o644)
    FileTokenStore(path).save(_tokens(1))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_token_save_replaces_the_file_atomically_and_leaves_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "qbo.json"
    store = FileTokenStore(path)
    store.save(_tokens(1))
    inode = path.stat().st_ino
    store.save(_tokens(2))
    assert path.stat().st_ino != inode  # a new file renamed over the old one, never rewritten in place
    assert store.load() == _tokens(2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["qbo.json"]


def test_a_failed_token_save_keeps_the_previous_tokens_readable(tmp_path: Path) -> None:
    path = tmp_path / "qbo.json"
    store = FileTokenStore(path)
    store.save(_tokens(1))
    with pytest.raises(TypeError):
        store.save(TokenSet("AT-2", "RT-2", object()))  # type: ignore[arg-type]  # not JSON: fails mid-write
    assert store.load() == _tokens(1)
    assert json.loads(path.read_text())["refresh_token"] == "RT-1"


def test_token_save_fsyncs_the_directory_after_the_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced_dirs: list[bool] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        synced_dirs.append(stat.S_ISDIR(os.fstat(fd).st_mode))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    FileTokenStore(tmp_path / "qbo.json").save(_tokens(1))
    assert any(synced_dirs)


def test_token_store_lock_serialises_holders_across_store_instances(tmp_path: Path) -> None:
    path = tmp_path / "qbo.json"
    first, second = FileTokenStore(path), FileTokenStore(path)  # as two processes would have
    holding, release, entered = threading.Event(), threading.Event(), threading.Event()

    def hold() -> None:
        with first.locked():
            holding.set()
            release.wait(5)

    def wait_for_lock() -> None:
        holding.wait(5)
        with second.locked():
            entered.set()

    threads = [threading.Thread(target=hold, daemon=True), threading.Thread(target=wait_for_lock, daemon=True)]
    for t in threads:
        t.start()
    assert holding.wait(2)
    assert not entered.wait(0.3)  # the second holder is blocked while the first refreshes
    release.set()
    assert entered.wait(2)
    for t in threads:
        t.join(2)


# --------------------------------------------------------------------------------------------
# exact JSON
# --------------------------------------------------------------------------------------------


def test_json_writes_decimals_as_exact_numbers_and_reads_numbers_back_as_decimals() -> None:
    payload = {"Amount": Decimal("142.50"), "Qty": Decimal("1.5"), "Big": Decimal("12345678901234567890.123456789")}
    text = jsonbody.dumps(payload)
    assert text == '{"Amount":142.50,"Qty":1.5,"Big":12345678901234567890.123456789}'
    back = jsonbody.loads(text)
    assert back == payload
    assert {k: str(v) for k, v in back.items()} == {k: str(v) for k, v in payload.items()}  # trailing zeros kept
    assert all(isinstance(v, Decimal) for v in back.values())


def test_json_sums_money_without_float_error() -> None:
    values = jsonbody.loads(b"[0.1, 0.2, 19.99, 0.01]")
    assert sum(values, Decimal(0)) == Decimal("20.30")
    assert jsonbody.loads(b"") is None


# --------------------------------------------------------------------------------------------
# status table and error classes
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "action", "failure"),
    [
        (200, ResponseAction.SUCCESS, None),
        (201, ResponseAction.SUCCESS, None),
        (204, ResponseAction.SUCCESS, None),
        (400, ResponseAction.FAIL, FailureType.DATA),
        (401, ResponseAction.REFRESH_TOKEN_THEN_RETRY, FailureType.CONFIG),
        (403, ResponseAction.FAIL, FailureType.CONFIG),
        (404, ResponseAction.FAIL, FailureType.DATA),
        (408, ResponseAction.RETRY, FailureType.TRANSIENT),
        (409, ResponseAction.FAIL, FailureType.DATA),
        (422, ResponseAction.FAIL, FailureType.DATA),
        (429, ResponseAction.RATE_LIMITED, FailureType.TRANSIENT),
        (500, ResponseAction.RETRY, FailureType.TRANSIENT),
        (502, ResponseAction.RETRY, FailureType.TRANSIENT),
        (503, ResponseAction.RETRY, FailureType.TRANSIENT),
        (504, ResponseAction.RETRY, FailureType.TRANSIENT),
    ],
)
def test_default_resolution_table(status: int, action: ResponseAction, failure: FailureType | None) -> None:
    resolution = default_resolution(httpx.Response(status))
    assert (resolution.action, resolution.failure_type) == (action, failure)


@pytest.mark.parametrize(
    ("resolution", "status", "cls"),
    [
        (ErrorResolution(ResponseAction.FAIL, FailureType.DATA, "bad"), 400, DataError),
        (resolve(409, None), 409, ConflictError),  # the default table says a 409 is a conflict
        (ErrorResolution(ResponseAction.FAIL, FailureType.DATA, "stale", "5010", ConflictError), 400, ConflictError),
        (ErrorResolution(ResponseAction.FAIL, FailureType.CONFIG, "scopes"), 403, ConfigError),
        (ErrorResolution(ResponseAction.RATE_LIMITED, FailureType.TRANSIENT, "slow"), 429, RateLimitedError),
        (ErrorResolution(ResponseAction.RETRY, FailureType.TRANSIENT, "boom"), 503, TransientError),
    ],
)
def test_error_for_picks_the_class_callers_branch_on(
    resolution: ErrorResolution, status: int, cls: type[Exception]
) -> None:
    exc = error_for("acme", resolution, status, retry_after=1.5)
    assert type(exc) is cls
    assert str(exc).startswith(f"acme: {resolution.message} (HTTP {status}")
    assert exc.retry_after == 1.5
    assert is_retryable(exc) is (cls in (RateLimitedError, TransientError))


def test_only_transient_failures_are_retryable() -> None:
    assert is_retryable(UnknownOutcomeError("x", "lost"))
    assert not is_retryable(ConflictError("x", "stale"))
    assert not is_retryable(ConfigError("x", "creds"))
    assert not is_retryable(ValueError("not ours"))


# --------------------------------------------------------------------------------------------
# the client over the wire
# --------------------------------------------------------------------------------------------


@pytest.fixture
def hubspot_url() -> Iterator[str]:
    server = SandboxServer(hubspot_sandbox.create_app(HUBSPOT_TOKEN, FaultConfig()).asgi()).start()
    yield server.url
    server.stop()


def _admin(url: str, path: str, payload: dict | None = None) -> dict:
    resp = httpx.post(url + path, json=payload or {}) if payload is not None else httpx.get(url + path)
    resp.raise_for_status()
    return resp.json()


def test_request_logs_never_contain_query_secrets_or_the_bearer_token(
    hubspot_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="fieldbridge.http")
    with HttpClient("hubspot", hubspot_url, auth=BearerToken(SecretStr(HUBSPOT_TOKEN))) as http:
        resp, body = http.request("GET", "/crm/v3/objects/tickets", params={"access_token": "QS-SECRET-123",
                                                                          "limit": 5})
        assert resp.status_code == 200 and body == {"results": []}
        with pytest.raises(DataError) as err:
            http.request("GET", "/crm/v3/objects/widgets/1", params={"hapikey": "QS-SECRET-456"})
    records = [r for r in caplog.records if r.name == "fieldbridge.http"]
    assert len(records) == 2 and all(r.levelno == logging.DEBUG for r in records)
    text = caplog.text
    assert "access_token=***" in text and "limit=5" in text and "-> 200" in text
    assert "hapikey=***" in text and "-> 404" in text
    for secret in ("QS-SECRET-123", "QS-SECRET-456", HUBSPOT_TOKEN):
        assert secret not in text
        assert secret not in str(err.value)


def test_transport_failure_logs_are_redacted_and_unsent_requests_are_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A refused connection never reached the vendor, so even a POST may be retried; the log stays clean."""
    caplog.set_level(logging.DEBUG, logger="fieldbridge.http")
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    policy = RetryPolicy(max_attempts=3, base_seconds=0.01, cap_seconds=0.02)
    with HttpClient("acme", url, policy=policy) as http, pytest.raises(TransientError) as err:
        http.request("POST", "/v1/things", params={"client_secret": "CS-SECRET"}, json={"a": 1})
    assert type(err.value) is TransientError  # not UnknownOutcomeError: nothing was sent
    assert http.calls["POST /v1/things"] == 3
    assert "CS-SECRET" not in caplog.text and "client_secret=***" in caplog.text
    assert "ConnectError" in caplog.text
    assert "CS-SECRET" not in str(err.value)


def test_a_429_pauses_the_shared_budget_so_sibling_clients_back_off_too(hubspot_url: str) -> None:
    _admin(hubspot_url, "/_sandbox/faults", {"retry_after_seconds": 0.4, "burst": 1})
    budget = RateBudget(rate=100, per_seconds=1.0)
    auth = BearerToken(SecretStr(HUBSPOT_TOKEN))
    once = RetryPolicy(max_attempts=1)
    with HttpClient("hubspot", hubspot_url, auth=auth, budget=budget, policy=once) as first, \
            HttpClient("hubspot", hubspot_url, auth=auth, budget=budget, policy=once) as sibling:
        with pytest.raises(RateLimitedError) as err:
            first.request("GET", "/crm/v3/objects/tickets")
        assert err.value.retry_after == pytest.approx(0.4)
        started = time.monotonic()
        resp, _ = sibling.request("GET", "/crm/v3/objects/tickets")
        waited = time.monotonic() - started
    assert resp.status_code == 200
    assert 0.3 <= waited <= 1.5  # the sibling waited out the vendor's Retry-After instead of burning a request
    stats = _admin(hubspot_url, "/_sandbox/stats")
    assert (stats["requests"], stats["429"]) == (2, 1)


def test_sandbox_retry_after_header_never_understates_the_wait(hubspot_url: str) -> None:
    _admin(hubspot_url, "/_sandbox/faults", {"retry_after_seconds": 1.4, "burst": 1})
    resp = httpx.get(f"{hubspot_url}/crm/v3/objects/tickets", headers={"Authorization": f"Bearer {HUBSPOT_TOKEN}"})
    assert resp.status_code == 429
    assert float(resp.headers["Retry-After"]) >= 1.4
