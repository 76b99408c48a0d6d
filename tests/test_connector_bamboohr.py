"""BambooHR connector over the wire against its sandbox: hour entries per pay class kept as state (created,
updated in place, deleted when a class goes to zero), lost answers found by marker, time off, errors."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import httpx
import pytest
from pydantic import SecretStr

from connectors.bamboohr import sandbox as bamboo_sandbox
from connectors.bamboohr.client import BambooHRPayroll
from connectors.contract import HR, ConfigError, DataError, Payroll, TimesheetDay, is_retryable
from connectors.emulator import FaultConfig, SandboxServer
from connectors.http import RetryPolicy
from tests.sandbox_handles import SandboxHandle

KEY = "bamboo-test-key"
POLICY = RetryPolicy(max_attempts=4, base_seconds=0.01, cap_seconds=0.05)
LA = ZoneInfo("America/Los_Angeles")
_n = itertools.count(1)


def _day(regular: str = "8.00", overtime: str = "0.50", employee: str = "112") -> TimesheetDay:
    return TimesheetDay(
        key="T01:2026-11-24", employee_id=employee, workday=date(2026, 11, 24), timezone="America/Los_Angeles",
        shift_start=datetime(2026, 11, 24, 8, tzinfo=LA), shift_end=datetime(2026, 11, 24, 17, tzinfo=LA),
        regular_hours=Decimal(regular), overtime_hours=Decimal(overtime),
        double_time_hours=Decimal("0.00"), travel_hours=Decimal("0.50"),
        paid_break_hours=Decimal("0.25"))


@dataclass
class BambooBox(SandboxHandle):
    clients: list[BambooHRPayroll] = field(default_factory=list)

    def client(self, key: str = KEY) -> BambooHRPayroll:
        payroll = BambooHRPayroll(self.url, SecretStr(key), policy=POLICY)
        self.clients.append(payroll)
        return payroll


@pytest.fixture
def bamboo() -> Iterator[BambooBox]:
    box = bamboo_sandbox.create_app(KEY, FaultConfig(seed=next(_n)), per_second_limit=1000)
    server = SandboxServer(box.asgi()).start()
    handle = BambooBox(box, server)
    handle.seed("employees", [{"id": 112, "firstName": "Ana", "lastName": "Ortiz", "workEmail": "ana@x.example"}])
    yield handle
    for c in handle.clients:
        c.close()
    server.stop()


def test_plays_payroll_and_hr(bamboo: BambooBox) -> None:
    payroll = bamboo.client()
    assert isinstance(payroll, Payroll) and isinstance(payroll, HR)


def test_a_day_is_one_entry_per_pay_class_kept_as_state(bamboo: BambooBox) -> None:
    payroll = bamboo.client()
    first = payroll.upsert_timesheet(_day(), None)
    entries = bamboo.state("hour_entries")
    assert sorted((e["note"].split(" [")[0], str(e["hours"])) for e in entries) == [
        ("Overtime", "0.50"), ("Regular hours; travel 0.50 h, paid breaks 0.25 h", "8.00")]
    found = payroll.find_timesheet(_day())
    assert found is not None and found.id == first.id
    assert payroll.upsert_timesheet(_day(), found) is found  # nothing changed: no call

    moved = payroll.upsert_timesheet(_day(regular="7.50", overtime="0.00"), found)  # overtime gone, regular less
    entries = bamboo.state("hour_entries")
    assert [(str(e["hours"]), e["id"]) for e in entries] == [("7.50", int(first.id.split(",")[0]))]
    cleared = payroll.upsert_timesheet(replace(_day(), regular_hours=Decimal("0.00"),
                                               overtime_hours=Decimal("0.00")), moved)
    assert cleared.id == "none" and bamboo.state("hour_entries") == []


def test_a_lost_answer_to_the_create_is_found_by_marker_not_duplicated(bamboo: BambooBox) -> None:
    payroll = bamboo.client()
    bamboo.faults(drop_first_write=True)
    with pytest.raises(Exception) as err:  # a create is not idempotent by itself: the outcome is unknown
        payroll.upsert_timesheet(_day(), None)
    assert is_retryable(err.value)
    found = payroll.find_timesheet(_day())  # what the ledger does next
    assert found is not None and payroll.upsert_timesheet(_day(), found) is found
    assert len(bamboo.state("hour_entries")) == 2


def test_employee_ids_must_be_numbers_and_unknown_employees_are_refused(bamboo: BambooBox) -> None:
    payroll = bamboo.client()
    with pytest.raises(DataError, match="BambooHR employee ids are numbers"):
        payroll.upsert_timesheet(_day(employee="c0a8-uuid"), None)
    with pytest.raises(DataError, match="Employee 999 was not found") as err:
        payroll.upsert_timesheet(_day(employee="999"), None)
    assert err.value.status == 404 and bamboo.state("hour_entries") == []


def test_a_bad_api_key_is_a_config_error_read_from_the_header(bamboo: BambooBox) -> None:
    with pytest.raises(ConfigError, match="Invalid API key") as err:
        bamboo.client(key="wrong").find_timesheet(_day())
    assert not is_retryable(err.value)


def test_time_off_and_whos_out(bamboo: BambooBox) -> None:
    bamboo.admin("/_sandbox/time-off", {"employeeId": 112, "start": "2026-12-01", "end": "2026-12-03",
                                        "type": "Vacation", "amount": 3})
    bamboo.admin("/_sandbox/time-off", {"employeeId": 112, "start": "2026-12-10", "end": "2026-12-10",
                                        "status": "denied"})
    payroll = bamboo.client()
    [leave] = payroll.list_time_off(date(2026, 12, 1), date(2026, 12, 31))
    assert (leave.employee_id, leave.start, leave.end, leave.kind, leave.amount) == (
        "112", date(2026, 12, 1), date(2026, 12, 3), "Vacation", Decimal("3"))
    assert [o.start for o in payroll.whos_out(date(2026, 12, 2), date(2026, 12, 2))] == [date(2026, 12, 1)]


def test_without_json_accept_bamboohr_answers_xml(bamboo: BambooBox) -> None:
    answer = httpx.get(f"{bamboo.url}/api/v1/time_off/whos_out", auth=(KEY, "x"))
    assert answer.headers["content-type"].startswith("application/xml")


def test_throttling_is_waited_out(bamboo: BambooBox) -> None:
    bamboo.faults(burst_429_rate=0.0)
    bamboo.admin("/_sandbox/faults", {"burst": 2, "retry_after_seconds": 0.05})
    assert bamboo.client().find_timesheet(_day()) is None  # after two 429s with Retry-After
