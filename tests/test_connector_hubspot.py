"""HubSpot CRM connector over the wire against the HubSpot sandbox: tickets, notes, errors, retries, paging."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import SecretStr

from connectors.contract import (
    CRM,
    CaseNote,
    CaseResolution,
    ConfigError,
    DataError,
    RateLimitedError,
    TransientError,
    UnknownOutcomeError,
    is_retryable,
)
from connectors.emulator import FaultConfig, SandboxServer
from connectors.http import (
    CursorPaginator,
    RetryPolicy,
)
from connectors.hubspot import mapping
from connectors.hubspot import sandbox as hubspot_sandbox
from connectors.hubspot.client import HubSpotCRM
from models.settings import FieldbridgeSettings
from tests.sandbox_handles import SandboxHandle, seed_failing_first

TOKEN = "pat-na1-test-0000-1111"
POLICY = RetryPolicy(max_attempts=4, base_seconds=0.01, cap_seconds=0.05)
_accounts = itertools.count(1)




@dataclass
class HubSpotSandbox(SandboxHandle):
    clients: list[HubSpotCRM] = field(default_factory=list)

    def client(self, token: str = TOKEN, policy: RetryPolicy = POLICY, **kw: Any) -> HubSpotCRM:
        crm = HubSpotCRM(self.url, SecretStr(token), account=f"test-{next(_accounts)}", policy=policy, **kw)
        self.clients.append(crm)
        return crm



@pytest.fixture
def make_hubspot() -> Iterator[Callable[..., HubSpotSandbox]]:
    started: list[HubSpotSandbox] = []

    def make(faults: FaultConfig | None = None) -> HubSpotSandbox:
        sandbox = hubspot_sandbox.create_app(TOKEN, faults or FaultConfig())
        env = HubSpotSandbox(sandbox, SandboxServer(sandbox.asgi()).start())
        started.append(env)
        return env

    yield make
    for env in started:
        for crm in env.clients:
            crm.close()
        threading.Thread(target=env.server.stop, daemon=True).start()  # don't wait for uvicorn's shutdown tick


@pytest.fixture
def hubspot(make_hubspot: Callable[..., HubSpotSandbox]) -> HubSpotSandbox:
    return make_hubspot()


CLOSED_AT = datetime(2026, 3, 2, 17, 45, 12, 345678, tzinfo=UTC)


def _note(key: str = "fb-note-1", body: str = "Replaced the drain pump; customer signed off.") -> CaseNote:
    return CaseNote(key, body, datetime(2026, 3, 2, 17, 40, tzinfo=UTC))


def _open(crm: HubSpotCRM, job_id: str = "J1001") -> str:
    return crm.open_case(job_id, f"Dishwasher not draining — {job_id}", f"Job {job_id}").id


def _total_calls(crm: HubSpotCRM) -> int:
    return sum(crm.http.calls.values())


# --------------------------------------------------------------------------------------------
# happy path
# --------------------------------------------------------------------------------------------


def test_open_case_add_note_and_resolve_case(hubspot: HubSpotSandbox) -> None:
    crm = hubspot.client()
    assert isinstance(crm, CRM)
    ticket_id = _open(crm)
    assert crm.find_case("J1001").id == ticket_id
    assert crm.find_case("J-missing") is None

    note = crm.add_note(ticket_id, _note())
    assert crm.find_note("fb-note-1").id == note.id
    assert crm.note_ids_for_ticket(ticket_id) == [note.id]

    resolved = crm.resolve_case(CaseResolution("J1001", "Replaced pump", CLOSED_AT))
    assert resolved.id == ticket_id
    props = hubspot.state("tickets")[0]["properties"]
    assert props["hs_pipeline_stage"] == "4"
    assert props["fieldbridge_resolution"] == "Replaced pump"
    assert props["closed_date"] == "2026-03-02T17:45:12.345Z"  # HubSpot's millisecond UTC format
    stored_note = hubspot.state("notes")[0]["properties"]
    assert stored_note[mapping.NOTE_KEY_PROPERTY] == "fb-note-1"
    assert stored_note["hs_note_body"] == "Replaced the drain pump; customer signed off."


def test_resolving_twice_is_harmless(hubspot: HubSpotSandbox) -> None:
    crm = hubspot.client()
    ticket_id = _open(crm)
    case = CaseResolution("J1001", "Replaced pump", CLOSED_AT)
    assert crm.resolve_case(case).id == crm.resolve_case(case).id == ticket_id
    assert len(hubspot.state("tickets")) == 1


def test_open_case_for_an_existing_job_returns_the_existing_ticket(hubspot: HubSpotSandbox) -> None:
    crm = hubspot.client()
    first = _open(crm)
    assert _open(crm) == first  # 409 on the unique job id → looked up, not duplicated
    assert len(hubspot.state("tickets")) == 1


def test_duplicate_note_key_returns_the_existing_note_instead_of_failing(hubspot: HubSpotSandbox) -> None:
    crm = hubspot.client()
    ticket_id = _open(crm)
    first = crm.add_note(ticket_id, _note())
    again = crm.add_note(ticket_id, _note())
    assert again.id == first.id
    assert again.raw["properties"]["hs_note_body"] == first.raw["properties"]["hs_note_body"]
    assert len(hubspot.state("notes")) == 1
    assert crm.http.calls["POST /crm/v3/objects/notes"] == 2
    assert crm.http.calls["GET /crm/v3/objects/notes/fb-note-1"] == 1  # the 409 was resolved by a lookup


# --------------------------------------------------------------------------------------------
# data and config errors: no retries, clear messages
# --------------------------------------------------------------------------------------------


def test_resolving_an_unknown_ticket_is_a_data_error_naming_the_job(hubspot: HubSpotSandbox) -> None:
    crm = hubspot.client()
    with pytest.raises(DataError) as err:
        crm.resolve_case(CaseResolution("J-404", "done", CLOSED_AT))
    assert err.value.status == 404
    assert "fieldbridge_job_id=J-404" in str(err.value)
    assert not is_retryable(err.value)
    assert hubspot.stats()["requests"] == 1 and _total_calls(crm) == 1


def test_invalid_closed_stage_is_a_data_error_with_hubspots_message(hubspot: HubSpotSandbox) -> None:
    crm = hubspot.client(closed_stage="99")
    _open(crm)
    before = hubspot.stats()["requests"]
    with pytest.raises(DataError) as err:
        crm.resolve_case(CaseResolution("J1001", "done", CLOSED_AT))
    assert err.value.status == 400 and err.value.vendor_code == "VALIDATION_ERROR"
    assert "99 is not a valid pipeline stage ID" in str(err.value)
    assert hubspot.stats()["requests"] == before + 1
    assert hubspot.state("tickets")[0]["properties"]["hs_pipeline_stage"] == "1"


def test_note_for_an_unknown_ticket_is_a_data_error_naming_the_ticket(hubspot: HubSpotSandbox) -> None:
    crm = hubspot.client()
    with pytest.raises(DataError) as err:
        crm.add_note("424242", _note())
    assert "ticket 424242 does not exist" in str(err.value)
    assert hubspot.stats()["requests"] == 1
    assert hubspot.state("notes") == []


def test_bad_token_is_a_config_error_without_retry_loops(hubspot: HubSpotSandbox) -> None:
    crm = hubspot.client(token="pat-na1-revoked")
    with pytest.raises(ConfigError) as err:
        crm.resolve_case(CaseResolution("J1001", "done", CLOSED_AT))
    assert err.value.status == 401
    assert "Authentication credentials not found" in str(err.value)  # HubSpot's own words
    assert "pat-na1-revoked" not in str(err.value)
    assert not is_retryable(err.value)
    assert hubspot.stats()["requests"] == 1 and _total_calls(crm) == 1


# --------------------------------------------------------------------------------------------
# 429: Retry-After honoured, for writes too (a 429 was not processed)
# --------------------------------------------------------------------------------------------


def test_429_waits_for_retry_after_then_succeeds(hubspot: HubSpotSandbox) -> None:
    crm = hubspot.client()
    _open(crm)
    hubspot.faults(retry_after_seconds=0.3, burst=2)
    started = time.monotonic()
    resolved = crm.resolve_case(CaseResolution("J1001", "done", CLOSED_AT))
    elapsed = time.monotonic() - started
    assert resolved.raw["properties"]["hs_pipeline_stage"] == "4"
    assert 0.6 <= elapsed < 2.0  # two 429s, each waited out for the vendor's 0.3 s (backoff alone is ~0.01 s)
    stats = hubspot.stats()
    assert stats["429"] == 2


def test_429_on_a_note_create_is_replayed_and_creates_exactly_one_note(hubspot: HubSpotSandbox) -> None:
    crm = hubspot.client()
    ticket_id = _open(crm)
    hubspot.faults(retry_after_seconds=0.2, burst=1)
    started = time.monotonic()
    note = crm.add_note(ticket_id, _note())
    assert time.monotonic() - started >= 0.2
    assert [n["id"] for n in hubspot.state("notes")] == [note.id]
    assert crm.http.calls["POST /crm/v3/objects/notes"] == 2


def test_429_beyond_the_retry_budget_raises_rate_limited_with_retry_after(hubspot: HubSpotSandbox) -> None:
    crm = hubspot.client(policy=RetryPolicy(max_attempts=3, base_seconds=0.01))
    hubspot.faults(retry_after_seconds=0.05, burst=10)
    with pytest.raises(RateLimitedError) as err:
        crm.find_case("J1001")
    assert err.value.status == 429 and err.value.retry_after == pytest.approx(0.05)
    assert "ten_secondly_rolling" in str(err.value)
    assert is_retryable(err.value)
    assert hubspot.stats()["429"] == 3


# --------------------------------------------------------------------------------------------
# 5xx: idempotent PATCH retried, note POST not
# --------------------------------------------------------------------------------------------


def test_5xx_on_resolve_case_patch_is_retried_until_it_succeeds(make_hubspot: Callable[..., HubSpotSandbox]) -> None:
    env = make_hubspot(FaultConfig(seed=seed_failing_first(2)))
    crm = env.client()
    _open(crm)
    env.faults(error_rate=0.5)
    resolved = crm.resolve_case(CaseResolution("J1001", "done", CLOSED_AT))
    env.faults(error_rate=0.0)
    assert resolved.raw["properties"]["hs_pipeline_stage"] == "4"
    assert env.stats()["errors"] == 2
    assert crm.http.calls["PATCH /crm/v3/objects/tickets/J1001"] == 3


def test_5xx_on_every_attempt_gives_up_after_max_attempts(hubspot: HubSpotSandbox) -> None:
    crm = hubspot.client()
    _open(crm)
    hubspot.faults(error_rate=1.0)
    with pytest.raises(TransientError) as err:
        crm.resolve_case(CaseResolution("J1001", "done", CLOSED_AT))
    assert err.value.status in (500, 503)
    assert crm.http.calls["PATCH /crm/v3/objects/tickets/J1001"] == POLICY.max_attempts


def test_5xx_on_note_create_is_not_retried(hubspot: HubSpotSandbox) -> None:
    crm = hubspot.client()
    ticket_id = _open(crm)
    before = hubspot.stats()["requests"]
    hubspot.faults(error_rate=1.0)
    with pytest.raises(TransientError) as err:
        crm.add_note(ticket_id, _note())
    assert err.value.status in (500, 503)
    assert is_retryable(err.value)  # the task may retry; the ledger looks the note up first
    assert hubspot.stats()["requests"] == before + 1
    assert crm.http.calls["POST /crm/v3/objects/notes"] == 1
    assert hubspot.state("notes") == []


# --------------------------------------------------------------------------------------------
# commit-then-drop
# --------------------------------------------------------------------------------------------


def test_dropped_answer_to_note_create_is_unknown_outcome_while_the_note_exists(hubspot: HubSpotSandbox) -> None:
    crm = hubspot.client()
    ticket_id = _open(crm)
    hubspot.faults(drop_first_write=True)
    with pytest.raises(UnknownOutcomeError) as err:
        crm.add_note(ticket_id, _note())
    assert "POST /crm/v3/objects/notes" in str(err.value)
    assert crm.http.calls["POST /crm/v3/objects/notes"] == 1  # never blindly replayed
    notes = hubspot.state("notes")
    assert len(notes) == 1  # ...although it did commit at the vendor
    found = crm.find_note("fb-note-1")
    assert found is not None and found.id == notes[0]["id"]
    assert crm.add_note(ticket_id, _note()).id == found.id  # a later attempt adopts it, no duplicate
    assert len(hubspot.state("notes")) == 1


def test_dropped_answer_to_resolve_case_patch_is_retried_transparently(hubspot: HubSpotSandbox) -> None:
    crm = hubspot.client()
    ticket_id = _open(crm)
    hubspot.faults(drop_first_write=True)
    resolved = crm.resolve_case(CaseResolution("J1001", "done", CLOSED_AT))
    assert resolved.id == ticket_id and resolved.raw["properties"]["hs_pipeline_stage"] == "4"
    assert hubspot.stats()["dropped"] == 1
    assert crm.http.calls["PATCH /crm/v3/objects/tickets/J1001"] == 2


# --------------------------------------------------------------------------------------------
# pagination
# --------------------------------------------------------------------------------------------


def test_listing_follows_the_after_cursor_across_pages(hubspot: HubSpotSandbox) -> None:
    now = "2026-03-02T10:00:00.000Z"
    hubspot.seed("tickets", [
        {"id": str(2000 + n), "createdAt": now, "updatedAt": now, "archived": False, "associations": [],
         "properties": {"subject": f"Job {n}", "hs_pipeline": "0", "hs_pipeline_stage": "1",
                        "fieldbridge_job_id": f"J{n:04d}", "hs_object_id": str(2000 + n)}}
        for n in range(250)
    ])
    crm = hubspot.client()
    pages = list(crm.http.paginate("/crm/v3/objects/tickets", CursorPaginator(limit=100)))
    assert [len(body["results"]) for _, body in pages] == [100, 100, 50]
    assert [r.url.params.get("after") for r, _ in pages] == [None, "100", "200"]
    assert all(r.url.params["limit"] == "100" for r, _ in pages)
    ids = [t["id"] for _, body in pages for t in body["results"]]
    assert ids == [str(2000 + n) for n in range(250)]  # every ticket once, in order
    assert "paging" not in pages[-1][1]
    assert hubspot.stats()["requests"] == 3


def test_listing_an_empty_collection_is_one_request(hubspot: HubSpotSandbox) -> None:
    crm = hubspot.client()
    pages = list(crm.http.paginate("/crm/v3/objects/tickets", CursorPaginator(limit=100)))
    assert [body["results"] for _, body in pages] == [[]]


# --------------------------------------------------------------------------------------------
# configuration
# --------------------------------------------------------------------------------------------


def test_the_plugin_builds_the_client_from_its_own_settings(hubspot: HubSpotSandbox, tmp_path) -> None:
    from connectors.hubspot import plugin
    from connectors.hubspot.settings import HubSpotSettings
    from tasks.runtime import connect

    core = FieldbridgeSettings(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'fb.db'}", http_max_attempts=2)
    crm = connect(plugin, HubSpotSettings(base_url=hubspot.url, token=SecretStr(TOKEN)), core=core)
    hubspot.clients.append(crm)
    assert crm.http.policy.max_attempts == 2
    assert crm.find_case("nope") is None


def test_job_ids_with_url_characters_address_their_own_ticket(hubspot) -> None:
    crm = hubspot.client()
    mine = crm.open_case("WO#1042", "Odd id", "")
    other = crm.open_case("WO", "Another job", "")
    resolved = crm.resolve_case(CaseResolution("WO#1042", "fixed", datetime(2026, 3, 2, 18, 0, tzinfo=UTC)))
    assert resolved.id == mine.id != other.id
    stages = {t["id"]: t["properties"]["hs_pipeline_stage"] for t in hubspot.state("tickets")}
    assert stages == {mine.id: "4", other.id: "1"}
