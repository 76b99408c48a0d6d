"""The schedule: time off from HR (over the wire, BambooHR's sandbox) blocks a technician's days — whole or
partial — a cancelled leave frees them, visits that now fall on a leave are listed for the dispatcher, and
dispatch refuses leave and double booking unless forced."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlmodel import Session
from typer.testing import CliRunner

from models.canonical import Job, JobStatus
from tasks.dispatch import DispatchRefused, assign
from tests.conftest import World, make_world

LA = ZoneInfo("America/Los_Angeles")


def at(day: int, hour: int) -> datetime:
    return datetime(2026, 12, day, hour, tzinfo=LA)


@pytest.fixture
def hr_world(tmp_path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    yield from _hr_world(tmp_path, monkeypatch, "bamboohr")


@pytest.fixture
def gusto_hr_world(tmp_path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    yield from _hr_world(tmp_path, monkeypatch, "gusto")


def _hr_world(tmp_path, monkeypatch: pytest.MonkeyPatch, hr_system: str) -> Iterator[World]:
    from tasks.runtime import reset_runtime

    monkeypatch.setenv("FIELDBRIDGE_HR_SYSTEM", hr_system)
    w = make_world(tmp_path, monkeypatch)
    with Session(w.runtime.engine) as s:  # jobs still to visit (the demo's jobs are all closed)
        template = s.get(Job, "J1001")
        for n in (1, 2, 3):
            s.add(Job(id=f"S{n}", customer_id=template.customer_id, site_id=template.site_id,
                      status=JobStatus.SCHEDULED, description=f"Boiler service {n}"))
        s.commit()
    for n in (1, 2, 3):  # each came from a CRM case, where the dispatcher's assignment is shown
        w.runtime.crm.open_case(f"S{n}", f"Boiler service {n}", f"Job S{n}")
    yield w
    reset_runtime()
    w.sandboxes.stop()


def _bamboo(world: World) -> tuple[str, tuple[str, str]]:
    from connectors.registry import get_plugin

    key = get_plugin("bamboohr").load_settings().api_key.get_secret_value()
    return world.sandboxes.url("bamboohr"), (key, "x")


def _file_leave(world: World, employee: str, start: str, end: str, **kw: Any) -> str:
    url, _ = _bamboo(world)
    answer = httpx.post(f"{url}/_sandbox/time-off", json={"employeeId": employee, "start": start, "end": end, **kw})
    answer.raise_for_status()
    return str(answer.json()["id"])


def _hr_id(world: World, tech: str) -> str:
    return next(t.hr_id for t in world.company.technicians if t.id == tech)


def _assign(world: World, job: str, tech: str, start: datetime, end: datetime, force: bool = False) -> Any:
    return assign(world.runtime.engine, job, tech, start, end, workday_hours=world.runtime.settings.workday_hours,
                  force=force)


@pytest.mark.usefixtures("prefect_harness")
def test_leave_blocks_whole_and_partial_days_and_a_cancelled_leave_frees_them(hr_world: World) -> None:
    from flows.hr_availability import hr_availability

    world = hr_world
    t01 = _hr_id(world, "T01")
    assert t01.isdigit()  # BambooHR's employee numbers: the technician is found in HR by it
    _assign(world, "S1", "T01", at(2, 9), at(2, 11))  # booked before the sick day was filed
    sick = _file_leave(world, t01, "2026-12-02", "2026-12-02", type="Sick")
    _file_leave(world, t01, "2026-12-03", "2026-12-03", unit="hours", per_day=4, type="Vacation")
    _file_leave(world, "999", "2026-12-02", "2026-12-04")  # someone in HR who is not a technician
    _file_leave(world, t01, "2026-12-07", "2026-12-07", status="requested")  # not approved: not away

    result = hr_availability()
    assert sorted(result["added"]) == ["T01 2026-12-02 (Sick, all day)", "T01 2026-12-03 (Vacation, 4 h away)"]
    assert result["unknown_employees"] == ["999"]
    [conflict] = result["conflicts"]
    assert conflict["job"] == "S1" and conflict["technician"] == "T01" and "on leave (Sick)" in conflict["why"]

    with pytest.raises(DispatchRefused, match=r"T01 cannot take job S2: on leave \(Sick\) on 2026-12-02"):
        _assign(world, "S2", "T01", at(2, 13), at(2, 15))
    _assign(world, "S2", "T01", at(3, 9), at(3, 12))  # 3 h of the 4 the half day leaves
    with pytest.raises(DispatchRefused, match=r"4 h left, the visit needs 5.00 h"):
        _assign(world, "S3", "T01", at(3, 8), at(3, 13))
    forced = _assign(world, "S3", "T02", at(3, 9), at(3, 10))
    assert not forced.forced

    url, auth = _bamboo(world)  # the employee recovers; HR cancels the sick day
    httpx.put(f"{url}/api/v1/time_off/requests/{sick}/status", json={"status": "canceled"}, auth=auth,
              headers={"Accept": "application/json"}).raise_for_status()
    again = hr_availability()
    assert again["removed"] == ["T01 2026-12-02 (Sick, all day)"] and again["added"] == []
    assert again["unchanged"] == 1 and again["conflicts"] == []
    _assign(world, "S3", "T01", at(2, 13), at(2, 15))  # free again


@pytest.mark.usefixtures("prefect_harness")
def test_gusto_time_off_blocks_whole_and_partial_days_and_a_denied_request_frees_them(
        gusto_hr_world: World) -> None:
    """Gusto as the HR system: its time off requests (hours per day) through the same flow."""
    from flows.hr_availability import hr_availability

    world = gusto_hr_world
    url = world.sandboxes.url("gusto")
    t01 = _hr_id(world, "T01")
    assert t01 == next(t.payroll_id for t in world.company.technicians if t.id == "T01")  # Gusto's employee uuid

    def request(employee: str, start: str, end: str, **kw: Any) -> str:
        answer = httpx.post(f"{url}/_sandbox/time-off", json={"employee_uuid": employee, "start": start, "end": end,
                                                              **kw})
        answer.raise_for_status()
        return str(answer.json()["id"])

    _assign(world, "S1", "T01", at(2, 9), at(2, 11))
    sick = request(t01, "2026-12-02", "2026-12-02", request_type="sick")
    request(t01, "2026-12-03", "2026-12-03", hours_per_day="4.000")  # half a day of vacation
    request(t01, "2026-12-07", "2026-12-07", status="pending")  # not approved: not away
    request("11111111-1111-4111-8111-111111111111", "2026-12-02", "2026-12-04")  # not a technician
    request(t01, "2026-10-01", "2026-10-02")  # long past: outside the window

    result = hr_availability()
    assert sorted(result["added"]) == ["T01 2026-12-02 (Sick, all day)", "T01 2026-12-03 (Vacation, 4 h away)"]
    assert result["unknown_employees"] == ["11111111-1111-4111-8111-111111111111"]
    [conflict] = result["conflicts"]
    assert conflict["job"] == "S1" and "on leave (Sick)" in conflict["why"]
    with pytest.raises(DispatchRefused, match=r"on leave \(Sick\) on 2026-12-02"):
        _assign(world, "S2", "T01", at(2, 13), at(2, 15))

    httpx.post(f"{url}/_sandbox/time-off/{sick}/status", json={"status": "denied"}).raise_for_status()
    again = hr_availability()
    assert again["removed"] == ["T01 2026-12-02 (Sick, all day)"] and again["added"] == []
    _assign(world, "S2", "T01", at(2, 13), at(2, 15))


def test_dispatch_refuses_double_booking_unless_forced_and_the_cli_says_why(hr_world: World) -> None:
    from deployments.cli import app

    world = hr_world
    _assign(world, "S1", "T02", at(4, 9), at(4, 12))
    with pytest.raises(DispatchRefused, match="already visiting job S1"):
        _assign(world, "S2", "T02", at(4, 11), at(4, 13))
    assert _assign(world, "S2", "T02", at(4, 11), at(4, 13), force=True).forced
    _assign(world, "S1", "T02", at(4, 8), at(4, 10))  # moving a visit does not collide with itself

    runner = CliRunner()
    refused = runner.invoke(app, ["dispatch", "assign", "S3", "T02", "--start", "2026-12-04T09:30",
                                  "--end", "2026-12-04T10:30"])
    assert refused.exit_code == 2 and "already visiting job S1" in refused.output and "--force" in refused.output
    ok = runner.invoke(app, ["dispatch", "assign", "S3", "T03", "--start", "2026-12-04T09:30",
                             "--end", "2026-12-04T10:30"])
    assert ok.exit_code == 0 and "T03 visits S3 2026-12-04 09:30–10:30" in ok.output, ok.output
    [ticket] = [t for t in world.state("hubspot", "tickets") if t["properties"].get("fieldbridge_job_id") == "S3"]
    assert f"hubspot case {ticket['id']} shows the visit" in ok.output
    t03 = next(t.name for t in world.company.technicians if t.id == "T03")
    assert ticket["properties"]["fieldbridge_technician"] == t03
    assert ticket["properties"]["fieldbridge_visit_start"] == "2026-12-04T17:30:00.000Z"  # 09:30 in Los Angeles
    effect = world.runtime.ledger.get("hubspot:visit:S3:T03")
    assert effect.status.name == "DONE" and effect.attempts == 1
    again = runner.invoke(app, ["dispatch", "assign", "S3", "T03", "--start", "2026-12-04T09:30",
                                "--end", "2026-12-04T10:30"])
    assert again.exit_code == 0 and world.runtime.ledger.get("hubspot:visit:S3:T03").attempts == 1  # not rewritten
    closed = runner.invoke(app, ["dispatch", "assign", "J1001", "T03", "--start", "2026-12-05T09:00",
                                 "--end", "2026-12-05T10:00"])
    assert closed.exit_code == 2 and "job J1001 is closed" in closed.output
    backwards = runner.invoke(app, ["dispatch", "assign", "S3", "T04", "--start", "2026-12-05T10:00",
                                    "--end", "2026-12-05T09:00"])
    assert backwards.exit_code == 2 and "before it starts" in backwards.output
    day = runner.invoke(app, ["schedule", "--date", "2026-12-04"])
    assert day.exit_code == 0, day.output
    lines = day.output.splitlines()
    assert lines[0] == "2026-12-04 (America/Los_Angeles)"
    t02 = [ln for ln in lines if "S1" in ln or "S2" in ln]
    assert t02[0].split()[:2] == ["T02", next(t.name for t in world.company.technicians if t.id == "T02").split()[0]]
    assert "08:00–10:00 S1" in t02[0] and "11:00–13:00 S2" in t02[1] and "[forced]" in t02[1]
    assert any("09:30–10:30 S3" in ln for ln in lines)
    assert runner.invoke(app, ["schedule", "--date", "Tuesday"]).exit_code == 2
    assert runner.invoke(app, ["dispatch", "unassign", "S3", "T03"]).exit_code == 0
    [ticket] = [t for t in world.state("hubspot", "tickets") if t["properties"].get("fieldbridge_job_id") == "S3"]
    props = ticket["properties"]
    assert props["fieldbridge_technician"] == "" and props["fieldbridge_visit_start"] == ""
    world.faults("hubspot", error_rate=1.0)  # the CRM is down: the schedule is saved, the command says so
    down = runner.invoke(app, ["dispatch", "assign", "S3", "T04", "--start", "2026-12-04T14:00",
                               "--end", "2026-12-04T15:00"])
    assert down.exit_code == 4 and "the schedule is saved" in down.output
    assert "run the same command again" in down.output
    world.faults("hubspot", error_rate=0.0)
    assert runner.invoke(app, ["dispatch", "assign", "S3", "T04", "--start", "2026-12-04T14:00",
                               "--end", "2026-12-04T15:00"]).exit_code == 0
    [ticket] = [t for t in world.state("hubspot", "tickets") if t["properties"].get("fieldbridge_job_id") == "S3"]
    assert ticket["properties"]["fieldbridge_visit_start"] == "2026-12-04T22:00:00.000Z"
    day = runner.invoke(app, ["schedule", "--date", "2026-12-04"]).output
    assert "09:30–10:30 S3" not in day and "14:00–15:00 S3" in day  # T03's visit cancelled, T04's shown


def test_a_booked_case_is_owned_by_its_technicians_crm_user(hr_world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from connectors.contract import CaseVisit
    from connectors.salesforce.mapping import visit_fields
    from tasks.dispatch import show_on_case
    from tasks.runtime import get_runtime, reset_runtime

    monkeypatch.setenv("FIELDBRIDGE_CRM_OWNERS", "T03=51234, T04=51235")
    reset_runtime()
    rt = get_runtime()
    show_on_case(rt, _assign(hr_world, "S1", "T03", at(4, 9), at(4, 10)))
    show_on_case(rt, _assign(hr_world, "S2", "T02", at(4, 9), at(4, 10)))  # T02 has no CRM user: no owner set
    owners = {t["properties"].get("fieldbridge_job_id"): t["properties"].get("hubspot_owner_id")
              for t in hr_world.state("hubspot", "tickets")}
    assert owners["S1"] == "51234" and owners["S2"] is None
    start = at(4, 9)
    assert visit_fields(CaseVisit("S1", "Ana", start, start, owner_id="0055g000001AAA"))["OwnerId"] == "0055g000001AAA"
    assert "OwnerId" not in visit_fields(CaseVisit("S1", "Ana", None, None, owner_id="0055g000001AAA"))

    monkeypatch.setenv("FIELDBRIDGE_CRM_OWNERS", "T03")
    reset_runtime()
    with pytest.raises(ValueError, match="not TECHNICIAN=CRM_USER_ID"):
        get_runtime().settings.crm_owner_map()
