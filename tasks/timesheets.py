"""From time entries to payroll state: one TimesheetDay per technician per workday of a workweek.

Payroll is state, not appends (DESIGN.md §3.2): whenever a job touches a workweek, every workday of
that week is recomputed from all of the technician's entries and upserted, so late or out-of-order
closures converge and reruns change nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal

import pendulum
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from connectors.contract.errors import DataError
from connectors.contract.records import TimesheetDay
from models.canonical import Technician, TimeEntry
from models.db import get_engine
from models.integration import Quarantine, ValidatedJob
from models.settings import FieldbridgeSettings
from tasks.hours import PayrollSettings, WorkInterval, compute_hours, parse_clock_time, parse_weekday


def payroll_settings(settings: FieldbridgeSettings) -> PayrollSettings:
    return PayrollSettings(
        timezone=settings.company_timezone,
        workday_start=parse_clock_time(settings.workday_start),
        workweek_start=parse_weekday(settings.workweek_start),
        jurisdiction=settings.payroll_jurisdiction,
        paid_commute_travel=settings.paid_commute_travel,
        paid_meal_periods=settings.paid_meal_periods,
        commute_vehicle_agreement=settings.commute_vehicle_agreement,
        company_vehicle_optional=settings.company_vehicle_optional,
    )


def workday_of(instant: datetime, ps: PayrollSettings) -> date:
    """The local date on which the workday containing `instant` starts (same rule as the hours engine:
    compare with that date's local workday start, so DST days resolve correctly)."""
    day = pendulum.instance(instant).in_timezone(ps.timezone).date()
    start, _ = workday_window(day, ps)
    return day if instant >= start else day - timedelta(days=1)


def workday_window(day: date, ps: PayrollSettings) -> tuple[datetime, datetime]:
    """[start, end) of a workday in UTC: 23 or 25 real hours across a DST change."""
    tz = pendulum.timezone(ps.timezone)
    start = pendulum.datetime(day.year, day.month, day.day, ps.workday_start.hour, ps.workday_start.minute, tz=tz)
    nxt = day + timedelta(days=1)
    end = pendulum.datetime(nxt.year, nxt.month, nxt.day, ps.workday_start.hour, ps.workday_start.minute, tz=tz)
    return start.in_timezone("UTC"), end.in_timezone("UTC")


def week_start_of(day: date, ps: PayrollSettings) -> date:
    return day - timedelta(days=(day.weekday() - ps.workweek_start) % 7)


def affected_weeks(entries: Iterable[TimeEntry], ps: PayrollSettings) -> set[tuple[str, date]]:
    """(technician, workweek start) pairs an entry set touches, including both sides of a split entry."""
    weeks = set()
    for e in entries:
        for instant in (e.start, e.end - timedelta(microseconds=1)):
            weeks.add((e.technician_id, week_start_of(workday_of(instant, ps), ps)))
    return weeks


def week_timesheets(
    technician_id: str, week_start: date, ps: PayrollSettings, engine: Engine | None = None
) -> list[TimesheetDay]:
    """Every paid workday of one technician's workweek, from all of that week's entries."""
    window_start, _ = workday_window(week_start, ps)
    _, window_end = workday_window(week_start + timedelta(days=6), ps)
    with Session(engine or get_engine()) as s:
        tech = s.get(Technician, technician_id)
        if tech is None:
            raise DataError("fieldbridge", f"technician {technician_id} does not exist")
        if not tech.payroll_id:
            raise DataError("fieldbridge", f"technician {technician_id} ({tech.name}) has no payroll employee id")
        quarantined = select(Quarantine.job_id).where(Quarantine.released_at.is_(None))  # type: ignore[union-attr]
        entries = list(s.exec(
            # only work of jobs that passed the quality gate and are not quarantined reaches payroll (§3.5)
            select(TimeEntry).join(ValidatedJob, ValidatedJob.job_id == TimeEntry.job_id).where(  # type: ignore[arg-type]
                TimeEntry.technician_id == technician_id,
                TimeEntry.end > window_start,  # type: ignore[arg-type]
                TimeEntry.start < window_end,  # type: ignore[arg-type]
                TimeEntry.job_id.not_in(quarantined),  # type: ignore[attr-defined]
            )
        ))
    intervals = [WorkInterval(e.technician_id, e.start, e.end, str(e.kind), e.commute, relieved=e.relieved,
                              company_vehicle=e.company_vehicle) for e in entries]
    result = compute_hours(intervals, ps, {technician_id: tech.hourly_rate}).get(technician_id)
    days = []
    for wd in result.workdays if result else []:
        if not week_start <= wd.date <= week_start + timedelta(days=6):
            continue
        day_start, day_end = workday_window(wd.date, ps)
        in_day = [e for e in entries if e.end > day_start and e.start < day_end]
        touching = [e for e in in_day if str(e.kind) not in ("break", "meal", "rest")] or in_day
        shift_start = max(min(e.start for e in touching), day_start)
        shift_end = min(max(e.end for e in touching), day_end)
        days.append(TimesheetDay(
            key=f"{technician_id}:{wd.date.isoformat()}",
            employee_id=tech.payroll_id,
            workday=wd.date,
            timezone=ps.timezone,
            shift_start=pendulum.instance(shift_start).in_timezone(ps.timezone),
            shift_end=pendulum.instance(shift_end).in_timezone(ps.timezone),
            regular_hours=wd.regular,
            overtime_hours=wd.overtime,
            double_time_hours=wd.double_time,
            travel_hours=wd.travel,
            paid_break_hours=wd.paid_breaks + wd.paid_gaps,
            notes=wd.notes,
        ))
    paid = {d.workday for d in days}
    for offset in range(7):  # days without paid time: zero, so a sheet sent earlier is cleared
        day = week_start + timedelta(days=offset)
        if day in paid:
            continue
        day_start, _ = workday_window(day, ps)
        zero = Decimal("0.00")
        days.append(TimesheetDay(
            key=f"{technician_id}:{day.isoformat()}", employee_id=tech.payroll_id, workday=day, timezone=ps.timezone,
            shift_start=pendulum.instance(day_start).in_timezone(ps.timezone),
            shift_end=pendulum.instance(day_start).in_timezone(ps.timezone),
            regular_hours=zero, overtime_hours=zero, double_time_hours=zero, travel_hours=zero,
        ))
    return sorted(days, key=lambda d: d.workday)
