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


# -- the published reference (BambooHR's OpenAPI spec, specs/public.yaml in BambooHR/bhr-api-python) -------------


def _get(bamboo: BambooBox, path: str, **params: str) -> httpx.Response:
    return httpx.get(f"{bamboo.url}{path}", params=params, auth=(KEY, "x"), headers={"Accept": "application/json"})


def _post(bamboo: BambooBox, path: str, body: object, key: str = KEY) -> httpx.Response:
    return httpx.post(f"{bamboo.url}{path}", json=body, auth=(key, "x"), headers={"Accept": "application/json"})


def test_time_off_answers_have_the_documented_types(bamboo: BambooBox) -> None:
    bamboo.admin("/_sandbox/time-off", {"employeeId": 112, "start": "2026-12-01", "end": "2026-12-02",
                                        "amount": 2, "note": "Family trip"})
    [request] = _get(bamboo, "/api/v1/time_off/requests", start="2026-12-01", end="2026-12-31").json()
    assert isinstance(request["id"], int) and request["employeeId"] == 112
    assert isinstance(request["type"]["id"], int) and {"name", "icon"} <= request["type"].keys()
    assert request["amount"] == {"unit": "days", "amount": 2}
    assert {"lastChanged", "lastChangedByUserId", "status"} == request["status"].keys()
    assert set(request["actions"]) == {"view", "edit", "cancel", "approve", "deny", "bypass"}
    assert request["dates"] == {"2026-12-01": 1, "2026-12-02": 1} and request["notes"]["employee"] == "Family trip"
    no_notes = _get(bamboo, "/api/v1/time_off/requests", start="2026-12-01", end="2026-12-31", excludeNote="true")
    assert "notes" not in no_notes.json()[0]
    by_type = _get(bamboo, "/api/v1/time_off/requests", start="2026-12-01", end="2026-12-31", type="999")
    assert by_type.json() == []
    [out] = _get(bamboo, "/api/v1/time_off/whos_out", start="2026-12-01", end="2026-12-05").json()
    assert out == {"id": request["id"], "type": "timeOff", "employeeId": 112, "name": "", "start": "2026-12-01",
                   "end": "2026-12-02"}
    bad = _get(bamboo, "/api/v1/time_off/whos_out", start="December")
    assert bad.status_code == 400 and bad.headers["X-BambooHR-Error-Message"]


def test_hour_entries_take_numbers_and_answer_the_documented_shape(bamboo: BambooBox) -> None:
    made = _post(bamboo, "/api/v1/time_tracking/hour_entries/store",
                 {"hours": [{"employeeId": 112, "date": "2026-11-24", "hours": 2.5, "note": "x"}]})
    assert made.status_code == 201
    [entry] = made.json()
    assert {"id", "employeeId", "type", "date", "start", "end", "timezone", "hours", "note", "projectInfo",
            "breakInfo"} <= entry.keys()
    assert isinstance(entry["id"], int) and entry["hours"] == 2.5 and entry["type"] == "hour"
    for wrong in ({"hours": "2.5"}, {"hours": True}, {"employeeId": "112"}, {"id": str(entry["id"])},
                  {"projectId": "p1"}):
        refused = _post(bamboo, "/api/v1/time_tracking/hour_entries/store",
                        {"hours": [{"employeeId": 112, "date": "2026-11-24", "hours": 1, **wrong}]})
        assert refused.status_code == 400 and refused.headers["content-type"] == "application/problem+json", wrong
        assert set(refused.json()) == {"type", "title", "status", "detail", "instance", "code", "fields"}
    assert _post(bamboo, "/api/v1/time_tracking/hour_entries/delete", {"hourEntryIds": []}).status_code == 400
    assert _post(bamboo, "/api/v1/time_tracking/hour_entries/delete", {"hourEntryIds": ["1"]}).status_code == 400
    assert _post(bamboo, "/api/v1/time_tracking/hour_entries/delete",
                 {"hourEntryIds": [entry["id"]]}).status_code == 204


def test_timesheet_entry_queries_are_checked_as_documented(bamboo: BambooBox) -> None:
    ok = _get(bamboo, "/api/v1/time_tracking/timesheet_entries", start="2026-11-01", end="2026-11-30",
              employeeIds="112,113")
    assert ok.status_code == 200 and ok.json() == []
    for params in ({"start": "2026-11-01", "end": "2026-11-30", "employeeIds": "112,abc"},
                   {"start": "2025-01-01", "end": "2026-11-30"}, {"start": "2026-11-30", "end": "2026-11-01"},
                   {"end": "2026-11-30"}):
        refused = _get(bamboo, "/api/v1/time_tracking/timesheet_entries", **params)
        assert refused.status_code == 400 and refused.json()["status"] == 400, params
    unauthorised = _post(bamboo, "/api/v1/time_tracking/hour_entries/store", {"hours": []}, key="wrong")
    assert unauthorised.status_code == 401 and unauthorised.json()["title"] == "Unauthorized"


def test_the_directory_in_json_and_xml(bamboo: BambooBox) -> None:
    from xml.etree import ElementTree

    directory = _get(bamboo, "/api/v1/employees/directory").json()
    assert {"displayName", "firstName", "lastName", "workEmail"} == {f["id"] for f in directory["fields"]}
    assert all(isinstance(e["id"], str) for e in directory["employees"])  # the one place ids are strings
    xml = ElementTree.fromstring(httpx.get(f"{bamboo.url}/api/v1/employees/directory", auth=(KEY, "x")).content)
    assert [f.get("id") for f in xml.find("fieldset")] == [f["id"] for f in directory["fields"]]
    first = xml.find("employees")[0]
    assert first.get("id") == directory["employees"][0]["id"]
    assert first.find("field[@id='firstName']").text == directory["employees"][0]["firstName"]
