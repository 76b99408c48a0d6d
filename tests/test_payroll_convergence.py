"""Payroll is state: sheets follow the entries wherever they move, and only validated work is paid."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
from sqlmodel import Session, select

from flows.job_closed import job_closed
from models.canonical import EntryKind, Job, TimeEntry
from tasks.hours import PayrollSettings
from tasks.timesheets import workday_of

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _hours(sheet: dict) -> Decimal:
    return sum((Decimal(e["hours_worked"]) for e in sheet["entries"]), Decimal(0))


def test_moving_an_entry_to_another_day_clears_the_old_day(world) -> None:
    job_closed("J1001")
    [before] = world.state("gusto", "time_sheets")
    assert before["metadata"]["workday"] == "2026-11-24" and _hours(before) > 0
    world.shift_job("J1001", timedelta(days=1))  # the dispatcher corrects the date: it was the 25th
    job_closed("J1001")
    sheets = {s["metadata"]["workday"]: s for s in world.state("gusto", "time_sheets")}
    assert set(sheets) == {"2026-11-24", "2026-11-25"}
    assert _hours(sheets["2026-11-24"]) == 0  # cleared, not left paying hours nobody worked
    assert _hours(sheets["2026-11-25"]) == _hours(before)


def test_lookup_finds_the_sheet_when_the_workday_starts_at_four(world, monkeypatch) -> None:
    monkeypatch.setenv("FIELDBRIDGE_WORKDAY_START", "04:00")
    from tasks.runtime import get_runtime, reset_runtime

    reset_runtime()
    rt = get_runtime()
    with Session(rt.engine) as s:  # a night call-out 01:00–03:30 local belongs to the previous workday
        for e in s.exec(select(TimeEntry).where(TimeEntry.job_id == "J1002")):
            s.delete(e)
        start = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # 01:00 PST on the 25th
        s.add(TimeEntry(id="E-night", job_id="J1002", technician_id="T02", kind=EntryKind.WORK, start=start,
                        end=start + timedelta(hours=2, minutes=30)))
        s.get(Job, "J1002").closed_at = start + timedelta(hours=3)
        s.commit()
    world.faults("gusto", drop_first_write=True)  # the create's answer is lost: the lookup must find it
    job_closed("J1002")
    sheets = world.state("gusto", "time_sheets")
    assert len(sheets) == 1 and sheets[0]["metadata"]["workday"] == "2026-11-24"
    assert _hours(sheets[0]) == Decimal("2.5")


def test_quarantined_work_is_not_paid_through_another_job(world) -> None:
    start = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)  # 16:00 local: a second job for T01 later that day
    world.add_job("J3001", "T01", start, 2, "Second visit")
    job_closed("J1001")
    job_closed("J3001")
    [sheet] = world.state("gusto", "time_sheets")
    with_both = _hours(sheet)
    with Session(world.runtime.engine) as s:  # J3001 is edited into nonsense and fails its gate
        s.get(TimeEntry, "E-J3001").end = start + timedelta(hours=17)
        s.get(Job, "J3001").closed_at = start + timedelta(hours=18)
        s.commit()
    with pytest.raises(Exception, match="quarantined"):
        job_closed("J3001")
    job_closed("J1001")
    [sheet] = world.state("gusto", "time_sheets")
    assert _hours(sheet) == with_both - 2  # the quarantined job's time is held back, not paid


@pytest.mark.parametrize(("local", "workday"), [
    ((2026, 3, 8, 4, 30), date(2026, 3, 8)),  # spring forward: 04:30 PDT is after the 04:00 start
    ((2026, 3, 8, 3, 30), date(2026, 3, 7)),
    ((2026, 11, 1, 3, 30), date(2026, 10, 31)),  # fall back: 03:30 PST is before the 04:00 start
    ((2026, 11, 1, 4, 0), date(2026, 11, 1)),
])
def test_workday_of_on_dst_days(local, workday) -> None:
    import pendulum

    ps = PayrollSettings(timezone="America/Los_Angeles", workday_start=time(4, 0))
    instant = pendulum.datetime(*local, tz="America/Los_Angeles")
    assert workday_of(instant, ps) == workday


def test_moving_an_entry_to_another_week_clears_the_old_week(world) -> None:
    job_closed("J1003")
    [before] = world.state("gusto", "time_sheets")
    world.shift_job("J1003", timedelta(days=7))  # it happened a week later
    job_closed("J1003")
    sheets = {s["metadata"]["workday"]: s for s in world.state("gusto", "time_sheets")}
    assert set(sheets) == {"2026-11-24", "2026-12-01"}
    assert _hours(sheets["2026-11-24"]) == 0 and _hours(sheets["2026-12-01"]) == _hours(before)


def test_an_fsm_edit_after_validation_is_not_posted(world, monkeypatch) -> None:
    """The branches post only the data the gate validated: an edit in between fails them cleanly."""
    import tasks.quality as quality

    real = quality.apply_gate

    def gate_then_edit(job_id):
        result = real(job_id)
        with Session(world.runtime.engine) as s:  # a dispatcher edits the job right after validation
            e = s.exec(select(TimeEntry).where(TimeEntry.job_id == job_id, TimeEntry.kind == EntryKind.WORK)).one()
            e.end = e.end + timedelta(hours=20)  # would fail the 16 h check
            s.add(e)
            s.commit()
        return result

    monkeypatch.setattr(quality, "apply_gate", gate_then_edit)
    with pytest.raises(Exception, match="changed in the FSM after it passed its quality checks"):
        job_closed("J1002")
    assert world.state("quickbooks", "Invoice") == [] and world.state("gusto", "time_sheets") == []
    assert world.state("hubspot", "notes") == []


def test_another_jobs_new_entry_after_validation_does_not_block_this_job(world, monkeypatch) -> None:
    import tasks.quality as quality

    real = quality.apply_gate

    def gate_then_technician_keeps_working(job_id):
        result = real(job_id)
        with Session(world.runtime.engine) as s:  # the technician logs time on the next job meanwhile
            e = s.exec(select(TimeEntry).where(TimeEntry.job_id == job_id, TimeEntry.kind == EntryKind.WORK)).one()
            s.add(TimeEntry(id="E-next", job_id="J1003", technician_id=e.technician_id, kind=EntryKind.WORK,
                            start=e.end + timedelta(hours=1), end=e.end + timedelta(hours=2)))
            s.commit()
        return result

    monkeypatch.setattr(quality, "apply_gate", gate_then_technician_keeps_working)
    result = job_closed("J1002")
    assert result["accounting"]["number"] == "J1002"
