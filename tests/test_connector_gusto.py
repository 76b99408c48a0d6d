"""Gusto payroll connector over the wire against the Gusto sandbox: time sheets, versions, errors, paging."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from pydantic import SecretStr

from connectors.contract import (
    ConfigError,
    ConflictError,
    DataError,
    Payroll,
    RateLimitedError,
    TimesheetDay,
    TransientError,
    UnknownOutcomeError,
    is_retryable,
)
from connectors.emulator import FaultConfig, SandboxServer
from connectors.gusto import mapping
from connectors.gusto import sandbox as gusto_sandbox
from connectors.gusto.client import GustoPayroll
from connectors.http import (
    RetryPolicy,
)
from models.settings import FieldbridgeSettings
from tests.sandbox_handles import SandboxHandle, seed_failing_first

TOKEN = "gusto-test-token-abcdef"
POLICY = RetryPolicy(max_attempts=4, base_seconds=0.01, cap_seconds=0.05)
LA = ZoneInfo("America/Los_Angeles")
_companies = itertools.count(1)




@dataclass
class GustoSandbox(SandboxHandle):
    company: str
    clients: list[GustoPayroll] = field(default_factory=list)

    def client(self, token: str = TOKEN, policy: RetryPolicy = POLICY) -> GustoPayroll:
        payroll = GustoPayroll(self.url, SecretStr(token), self.company, policy=policy)
        self.clients.append(payroll)
        return payroll

    def seed(self, collection: str, docs: list[dict[str, Any]], id_field: str = "uuid") -> None:
        super().seed(collection, docs, id_field)


@pytest.fixture
def make_gusto() -> Iterator[Callable[..., GustoSandbox]]:
    started: list[GustoSandbox] = []

    def make(faults: FaultConfig | None = None) -> GustoSandbox:
        company = f"c0a8f5e2-0000-4000-8000-{next(_companies):012d}"  # a fresh rate budget per test
        sandbox = gusto_sandbox.create_app(TOKEN, company, faults or FaultConfig())
        env = GustoSandbox(sandbox, SandboxServer(sandbox.asgi()).start(), company)
        env.seed("employees", [
            {"uuid": "emp-ana", "first_name": "Ana", "last_name": "Ruiz", "company_uuid": company},
            {"uuid": "emp-bo", "first_name": "Bo", "last_name": "Chen", "company_uuid": company},
        ])
        started.append(env)
        return env

    yield make
    for env in started:
        for payroll in env.clients:
            payroll.close()
        threading.Thread(target=env.server.stop, daemon=True).start()


@pytest.fixture
def gusto(make_gusto: Callable[..., GustoSandbox]) -> GustoSandbox:
    return make_gusto()


def _day(employee: str = "emp-ana", workday: date = date(2026, 3, 2), regular: str = "8",
         overtime: str = "1.5", travel: str = "0.50") -> TimesheetDay:
    start = datetime(workday.year, workday.month, workday.day, 7, 30, tzinfo=LA)
    end = datetime(workday.year, workday.month, workday.day, 18, 0, tzinfo=LA)
    return TimesheetDay(
        key=f"T-{employee}:{workday.isoformat()}", employee_id=employee, workday=workday,
        timezone="America/Los_Angeles", shift_start=start, shift_end=end, regular_hours=Decimal(regular),
        overtime_hours=Decimal(overtime), double_time_hours=Decimal("0"), travel_hours=Decimal(travel),
    )


def _hours(doc: dict[str, Any]) -> dict[str, str]:
    return {e["pay_classification"]: e["hours_worked"] for e in doc["entries"]}


# --------------------------------------------------------------------------------------------
# happy path
# --------------------------------------------------------------------------------------------


def test_create_find_and_update_a_time_sheet(gusto: GustoSandbox) -> None:
    payroll = gusto.client()
    assert isinstance(payroll, Payroll)
    day = _day()
    assert payroll.find_timesheet(day) is None

    created = payroll.upsert_timesheet(day, None)
    [stored] = gusto.state("time_sheets")
    assert stored["uuid"] == created.id and stored["version"] == created.version
    assert _hours(stored) == {"Regular": "8.000", "Overtime": "1.500"}  # zero double time left out
    assert stored["metadata"] == {mapping.KEY_FIELD: day.key, "workday": "2026-03-02", "travel_hours": "0.50",
                                  "paid_break_hours": "0.00"}
    assert stored["entity_uuid"] == "emp-ana" and stored["time_zone"] == "America/Los_Angeles"

    found = payroll.find_timesheet(day)
    assert found is not None and (found.id, found.version) == (created.id, created.version)

    changed = replace(day, regular_hours=Decimal("8"), overtime_hours=Decimal("2.25"))
    updated = payroll.upsert_timesheet(changed, found)
    assert updated.id == created.id and updated.version != created.version
    [stored] = gusto.state("time_sheets")
    assert _hours(stored) == {"Regular": "8.000", "Overtime": "2.250"}
    assert stored["version"] == updated.version


def test_upsert_with_unchanged_hours_makes_no_request(gusto: GustoSandbox) -> None:
    payroll = gusto.client()
    day = _day()
    existing = payroll.upsert_timesheet(day, None)
    found = payroll.find_timesheet(day)
    calls_before = sum(payroll.http.calls.values())
    assert payroll.upsert_timesheet(day, found) is found
    assert sum(payroll.http.calls.values()) == calls_before
    assert [s["version"] for s in gusto.state("time_sheets")] == [existing.version]


def test_find_timesheet_only_matches_that_technicians_workday(gusto: GustoSandbox) -> None:
    payroll = gusto.client()
    ana_mon = payroll.upsert_timesheet(_day("emp-ana", date(2026, 3, 2)), None)
    payroll.upsert_timesheet(_day("emp-ana", date(2026, 3, 3)), None)
    payroll.upsert_timesheet(_day("emp-bo", date(2026, 3, 2)), None)
    found = payroll.find_timesheet(_day("emp-ana", date(2026, 3, 2)))
    assert found is not None and found.id == ana_mon.id
    assert payroll.find_timesheet(_day("emp-bo", date(2026, 3, 4))) is None


# --------------------------------------------------------------------------------------------
# data and config errors
# --------------------------------------------------------------------------------------------


def test_unknown_employee_is_a_data_error_naming_the_employee_without_retry(gusto: GustoSandbox) -> None:
    payroll = gusto.client()
    with pytest.raises(DataError) as err:
        payroll.upsert_timesheet(_day("emp-ghost"), None)
    assert err.value.status == 422
    assert "Employee emp-ghost was not found" in str(err.value)
    assert "entity_uuid" in str(err.value)  # Gusto's error_key: which field to fix
    assert not is_retryable(err.value)
    assert gusto.stats()["requests"] == 1 and sum(payroll.http.calls.values()) == 1
    assert gusto.state("time_sheets") == []


def test_bad_token_is_a_config_error_without_retry_loops(gusto: GustoSandbox) -> None:
    payroll = gusto.client(token="gusto-expired-token")
    with pytest.raises(ConfigError) as err:
        payroll.upsert_timesheet(_day(), None)
    assert err.value.status == 401 and "access token is invalid or has expired" in str(err.value)  # its words
    assert "gusto-expired-token" not in str(err.value)
    assert not is_retryable(err.value)
    assert gusto.stats()["requests"] == 1 and sum(payroll.http.calls.values()) == 1


# --------------------------------------------------------------------------------------------
# 429
# --------------------------------------------------------------------------------------------


def test_429_waits_for_retry_after_then_succeeds(gusto: GustoSandbox) -> None:
    payroll = gusto.client()
    gusto.faults(retry_after_seconds=0.3, burst=1)
    started = time.monotonic()
    created = payroll.upsert_timesheet(_day(), None)  # a POST: a 429 was not processed, so it is replayed
    elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 1.5
    assert [s["uuid"] for s in gusto.state("time_sheets")] == [created.id]
    assert (gusto.stats()["429"], gusto.stats()["requests"]) == (1, 2)


def test_429_beyond_the_retry_budget_raises_rate_limited(gusto: GustoSandbox) -> None:
    payroll = gusto.client(policy=RetryPolicy(max_attempts=2, base_seconds=0.01))
    gusto.faults(retry_after_seconds=0.05, burst=5)
    with pytest.raises(RateLimitedError) as err:
        payroll.list_time_sheets()
    assert err.value.retry_after == pytest.approx(0.05) and is_retryable(err.value)
    assert gusto.stats()["429"] == 2


# --------------------------------------------------------------------------------------------
# 5xx
# --------------------------------------------------------------------------------------------


def test_5xx_on_put_update_is_retried_until_it_succeeds(make_gusto: Callable[..., GustoSandbox]) -> None:
    env = make_gusto(FaultConfig(seed=seed_failing_first(2)))
    payroll = env.client()
    day = _day()
    existing = payroll.upsert_timesheet(day, None)
    env.faults(error_rate=0.5)
    updated = payroll.upsert_timesheet(replace(day, overtime_hours=Decimal("3")), existing)
    env.faults(error_rate=0.0)
    assert _hours(env.state("time_sheets")[0]) == {"Regular": "8.000", "Overtime": "3.000"}
    assert updated.version == env.state("time_sheets")[0]["version"]
    assert env.stats()["errors"] == 2
    assert payroll.http.calls[f"PUT /v1/time_tracking/time_sheets/{existing.id}"] == 3


def test_5xx_on_listing_is_retried(make_gusto: Callable[..., GustoSandbox]) -> None:
    env = make_gusto(FaultConfig(seed=seed_failing_first(1)))
    payroll = env.client()
    payroll.upsert_timesheet(_day(), None)
    env.faults(error_rate=0.5)
    assert len(payroll.list_time_sheets()) == 1
    assert env.stats()["errors"] == 1


def test_5xx_on_time_sheet_create_is_not_retried(gusto: GustoSandbox) -> None:
    payroll = gusto.client()
    gusto.faults(error_rate=1.0)
    with pytest.raises(TransientError) as err:
        payroll.upsert_timesheet(_day(), None)
    assert type(err.value) is TransientError and err.value.status in (500, 503)
    assert gusto.stats()["requests"] == 1
    assert gusto.state("time_sheets") == []


def test_dropped_answer_to_time_sheet_create_is_unknown_outcome_while_the_sheet_exists(gusto: GustoSandbox) -> None:
    payroll = gusto.client()
    day = _day()
    gusto.faults(drop_first_write=True)
    with pytest.raises(UnknownOutcomeError) as err:
        payroll.upsert_timesheet(day, None)
    assert is_retryable(err.value)
    assert gusto.stats()["requests"] == 1  # not replayed blindly
    [stored] = gusto.state("time_sheets")  # yet it committed
    found = payroll.find_timesheet(day)
    assert found is not None and found.id == stored["uuid"]


# --------------------------------------------------------------------------------------------
# version conflicts (409)
# --------------------------------------------------------------------------------------------


def _edit_at_gusto(env: GustoSandbox, sheet_id: str, overtime: str) -> None:
    """Somebody else (a manager in Gusto's UI) edits the sheet, bumping its version."""
    doc = next(s for s in env.state("time_sheets") if s["uuid"] == sheet_id)
    resp = httpx.put(f"{env.url}/v1/time_tracking/time_sheets/{sheet_id}",
                     headers={"Authorization": f"Bearer {TOKEN}"},
                     json={"version": doc["version"],
                           "entries": [{"hours_worked": "8.000", "pay_classification": "Regular"},
                                       {"hours_worked": overtime, "pay_classification": "Overtime"}]})
    resp.raise_for_status()


def test_lost_answer_to_a_put_resolves_the_409_by_rereading(gusto: GustoSandbox) -> None:
    payroll = gusto.client()
    day = _day()
    existing = payroll.upsert_timesheet(day, None)
    gusto.faults(drop_first_write=True)
    changed = replace(day, overtime_hours=Decimal("2"))
    result = payroll.upsert_timesheet(changed, existing)
    [stored] = gusto.state("time_sheets")
    assert result.id == existing.id and result.version == stored["version"] != existing.version
    assert _hours(stored) == {"Regular": "8.000", "Overtime": "2.000"}
    assert gusto.stats()["dropped"] == 1
    assert payroll.http.calls[f"PUT /v1/time_tracking/time_sheets/{existing.id}"] == 2  # replay got the 409


def test_stale_version_with_same_hours_at_gusto_returns_the_fresh_sheet(gusto: GustoSandbox) -> None:
    payroll = gusto.client()
    day = _day()
    existing = payroll.upsert_timesheet(day, None)
    _edit_at_gusto(gusto, existing.id, overtime="2.000")
    result = payroll.upsert_timesheet(replace(day, overtime_hours=Decimal("2")), existing)
    [stored] = gusto.state("time_sheets")
    assert result.version == stored["version"] != existing.version


def test_stale_version_with_different_hours_at_gusto_raises_conflict_and_keeps_their_edit(
    gusto: GustoSandbox,
) -> None:
    payroll = gusto.client()
    day = _day()
    existing = payroll.upsert_timesheet(day, None)
    _edit_at_gusto(gusto, existing.id, overtime="4.000")
    with pytest.raises(ConflictError) as err:
        payroll.upsert_timesheet(replace(day, overtime_hours=Decimal("2")), existing)
    assert err.value.status == 409 and "out of date" in str(err.value)
    assert _hours(gusto.state("time_sheets")[0]) == {"Regular": "8.000", "Overtime": "4.000"}


# --------------------------------------------------------------------------------------------
# pagination
# --------------------------------------------------------------------------------------------


def _seeded_sheet(n: int, employee: str) -> dict[str, Any]:
    return {"uuid": f"sheet-{n:04d}", "company_uuid": "x", "status": "pending", "job_uuid": None,
            "entity_uuid": employee, "entity_type": "Employee", "time_zone": "America/Los_Angeles",
            "shift_started_at": f"2026-03-{1 + n % 28:02d}T08:00:00-08:00", "shift_ended_at": None,
            "metadata": {}, "entries": [], "version": f"v{n}"}


def test_list_time_sheets_reads_every_page(gusto: GustoSandbox) -> None:
    gusto.seed("time_sheets", [_seeded_sheet(n, "emp-ana" if n % 2 else "emp-bo") for n in range(250)])
    payroll = gusto.client()
    sheets = payroll.list_time_sheets()
    assert [s["uuid"] for s in sheets] == [f"sheet-{n:04d}" for n in range(250)]
    assert payroll.http.calls[f"GET /v1/companies/{gusto.company}/time_tracking/time_sheets"] == 3
    ana = payroll.list_time_sheets(employee_id="emp-ana")
    assert len(ana) == 125 and {s["entity_uuid"] for s in ana} == {"emp-ana"}


def test_list_time_sheets_on_an_exact_page_boundary_stops_without_an_empty_page(gusto: GustoSandbox) -> None:
    gusto.seed("time_sheets", [_seeded_sheet(n, "emp-ana") for n in range(200)])
    payroll = gusto.client()
    assert len(payroll.list_time_sheets()) == 200
    assert gusto.stats()["requests"] == 2


def test_the_plugin_builds_the_client_from_its_own_settings(gusto: GustoSandbox, tmp_path) -> None:
    from connectors.gusto import plugin
    from connectors.gusto.settings import GustoSettings
    from tasks.runtime import connect

    core = FieldbridgeSettings(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'fb.db'}", http_max_attempts=2)
    payroll = connect(plugin, GustoSettings(base_url=gusto.url, token=SecretStr(TOKEN), company_uuid=gusto.company),
                      core=core)
    gusto.clients.append(payroll)
    assert payroll.http.policy.max_attempts == 2
    assert payroll.list_time_sheets() == []


def test_an_oauth_connection_refreshes_rotates_and_survives_expiry(tmp_path: Any) -> None:
    """The production path: company tokens from `/oauth/token` last two hours and every refresh token is
    single-use; the rotated chain lives in fieldbridge's database (so another worker host keeps it)."""
    from sqlmodel import create_engine

    from connectors.gusto import plugin
    from connectors.gusto.settings import GustoSettings
    from models.token_store import DatabaseTokenStore
    from tasks.runtime import connect

    company = f"c0a8f5e2-0000-4000-8000-{next(_companies):012d}"
    sandbox = gusto_sandbox.create_app("unused-static", company, oauth_client=("gusto-app", "gusto-secret", "rt-0"))
    server = SandboxServer(sandbox.asgi()).start()
    env = GustoSandbox(sandbox, server, company)
    env.seed("employees", [{"uuid": "emp-ana", "first_name": "Ana", "last_name": "Ruiz", "company_uuid": company}])
    engine = create_engine(f"sqlite:///{tmp_path / 'fb.db'}")
    settings = GustoSettings(base_url=server.url, client_id="gusto-app", client_secret=SecretStr("gusto-secret"),
                             refresh_token=SecretStr("rt-0"), company_uuid=company)
    try:
        payroll = connect(plugin, settings, core=FieldbridgeSettings(home=tmp_path), engine=engine)
        first = payroll.upsert_timesheet(_day(), None)
        stored = DatabaseTokenStore(engine, f"gusto:{company}").load()
        assert stored is not None and stored.refresh_token != "rt-0"
        assert payroll.http.auth.refresh_count == 1

        env.admin("/_sandbox/expire-access-tokens", {})  # two hours later
        second_host = connect(plugin, settings, core=FieldbridgeSettings(home=tmp_path), engine=engine)
        found = second_host.find_timesheet(_day())
        assert found is not None and found.id == first.id  # a fresh worker kept the connection
        rotated = DatabaseTokenStore(engine, f"gusto:{company}").load()
        assert rotated is not None and rotated.refresh_token != stored.refresh_token

        with httpx.Client() as http:  # the used refresh token is dead once its successor's token was used
            dead = http.post(f"{server.url}/oauth/token", json={
                "client_id": "gusto-app", "client_secret": "gusto-secret", "grant_type": "refresh_token",
                "refresh_token": stored.refresh_token})
        assert dead.status_code == 400 and dead.json()["error"] == "invalid_grant"
        for client in (payroll, second_host):
            client.close()
    finally:
        server.stop()


def test_the_old_refresh_token_lives_until_the_new_access_token_is_used() -> None:
    """Gusto revokes a refresh token on the first use of the access token it bought, so a worker that died
    between the token answer and saving it can still refresh with the old one."""
    sandbox = gusto_sandbox.create_app("static", "c0", oauth_client=("app", "secret", "rt-0"))
    server = SandboxServer(sandbox.asgi()).start()
    grant = {"client_id": "app", "client_secret": "secret", "grant_type": "refresh_token", "refresh_token": "rt-0"}
    try:
        with httpx.Client(base_url=server.url) as http:
            lost = http.post("/oauth/token", data=grant).json()  # form-encoded, as OAuth libraries send it
            again = http.post("/oauth/token", json=grant)
            assert again.status_code == 200 and again.json()["access_token"] != lost["access_token"]
            used = http.get("/v1/companies/c0/employees",
                            headers={"Authorization": f"Bearer {again.json()['access_token']}"})
            assert used.status_code == 200
            assert http.post("/oauth/token", json=grant).status_code == 400
            bad_client = http.post("/oauth/token", json={**grant, "client_secret": "nope"})
            assert bad_client.status_code == 401 and bad_client.json()["error"] == "invalid_client"
    finally:
        server.stop()
