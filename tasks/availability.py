"""Technicians' availability from HR time off, and the scheduled visits it conflicts with.

`sync_time_off` makes the `unavailability` rows of one HR system for a date range equal to the approved
leave that system holds — so a new leave blocks its days, an edited one moves, and a cancelled or denied one
frees them again. `conflicts` lists the scheduled visits that fall on a technician's leave; `blocking` is the
check dispatch uses before it assigns.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pendulum
from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from connectors.contract import TimeOff
from models.canonical import Technician
from models.schedule import Unavailability, Visit, VisitStatus

log = logging.getLogger("fieldbridge.availability")


@dataclass
class SyncSummary:
    """What one sync changed; `unknown` are HR employees who are not technicians here (not an error)."""

    added: list[str] = field(default_factory=list)  # "T03 2026-12-02 (Sick, all day)"
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    unknown_employees: list[str] = field(default_factory=list)


def _label(row: Unavailability) -> str:
    span = "all day" if row.hours_away is None else f"{row.hours_away} h away"
    return f"{row.technician_id} {row.day.isoformat()} ({row.kind}, {span})"


def _days(leave: TimeOff, start: date, end: date, workday_hours: Decimal) -> list[tuple[date, Decimal | None]]:
    """The leave's days inside [start, end]: None = the whole day, else the hours away (a partial day)."""
    per_day = dict(leave.days)
    out = []
    day = max(leave.start, start)
    while day <= min(leave.end, end):
        amount = per_day.get(day)
        if amount is None and per_day:
            day += timedelta(days=1)  # a day the request does not take (a weekend inside it)
            continue
        hours = None
        if amount is not None and leave.unit == "hours" and amount < workday_hours:
            hours = amount
        elif amount is not None and leave.unit == "days" and amount < 1:
            hours = (amount * workday_hours).quantize(Decimal("0.01"))
        if amount is None or amount > 0:
            out.append((day, hours))
        day += timedelta(days=1)
    return out


def sync_time_off(engine: Engine, leaves: list[TimeOff], source: str, start: date, end: date,
                  workday_hours: Decimal) -> SyncSummary:
    """Make `source`'s unavailability in [start, end] equal to `leaves` (its approved time off), in one
    transaction: readers never see half a sync."""
    summary = SyncSummary()
    now = pendulum.now("UTC")
    with Session(engine) as s:
        by_hr_id = {t.hr_id: t.id for t in s.exec(select(Technician)) if t.hr_id}
        want: dict[str, Unavailability] = {}
        for leave in leaves:
            if leave.status != "approved":
                continue
            tech = by_hr_id.get(leave.employee_id)
            if tech is None:
                summary.unknown_employees.append(leave.employee_id)
                continue
            for day, hours in _days(leave, start, end, workday_hours):
                row_id = f"{source}:{leave.vendor_id}:{day.isoformat()}"
                want[row_id] = Unavailability(id=row_id, technician_id=tech, day=day, hours_away=hours,
                                              kind=leave.kind or "Time off", source=source,
                                              request_id=leave.vendor_id, synced_at=now)
        have = {r.id: r for r in s.exec(select(Unavailability).where(
            Unavailability.source == source, Unavailability.day >= start, Unavailability.day <= end))}
        for row_id, row in have.items():
            if row_id not in want:
                summary.removed.append(_label(row))
                s.delete(row)
        for row_id, row in want.items():
            old = have.get(row_id)
            if old is not None and (old.technician_id, old.hours_away, old.kind) == (row.technician_id,
                                                                                     row.hours_away, row.kind):
                summary.unchanged += 1
                continue
            if old is None:
                summary.added.append(_label(row))
            else:
                summary.removed.append(_label(old))
                summary.added.append(_label(row))
            s.merge(row)
        s.commit()
    summary.unknown_employees = sorted(set(summary.unknown_employees))
    return summary


def forget_source(engine: Engine, source: str) -> None:
    with Session(engine) as s:
        s.exec(delete(Unavailability).where(Unavailability.source == source))  # type: ignore[call-overload]
        s.commit()


@dataclass(frozen=True)
class Conflict:
    visit_id: str
    job_id: str
    technician_id: str
    start: datetime
    end: datetime
    reason: str


def _local_day(moment: datetime, tz: str) -> date:
    return moment.astimezone(ZoneInfo(tz)).date()


def blocking(s: Session, technician_id: str, start: datetime, end: datetime, workday_hours: Decimal,
             ignore_visit: str | None = None) -> list[str]:
    """Why `technician_id` cannot take [start, end): leave on that day (a whole day, or a partial one leaving
    fewer hours than the visit needs) and other scheduled visits that overlap it. Empty: free."""
    tech = s.get(Technician, technician_id)
    tz = tech.timezone if tech else "UTC"
    reasons = []
    first, last = _local_day(start, tz), _local_day(end - timedelta(seconds=1), tz)
    for row in s.exec(select(Unavailability).where(Unavailability.technician_id == technician_id,
                                                   Unavailability.day >= first, Unavailability.day <= last)):
        if row.hours_away is None:
            reasons.append(f"on leave ({row.kind}) on {row.day.isoformat()}")
            continue
        need = Decimal(str((end - start).total_seconds() / 3600))
        left = workday_hours - row.hours_away
        if need > left:
            reasons.append(f"on leave ({row.kind}) for {row.hours_away} h on {row.day.isoformat()}: "
                           f"{left} h left, the visit needs {need.quantize(Decimal('0.01'))} h")
    for other in s.exec(select(Visit).where(Visit.technician_id == technician_id,
                                            Visit.status == VisitStatus.SCHEDULED,
                                            Visit.start < end, Visit.end > start)):
        if other.id != ignore_visit:
            reasons.append(f"already visiting job {other.job_id} {other.start:%Y-%m-%d %H:%M}–{other.end:%H:%M} UTC")
    return reasons


def conflicts(engine: Engine, start: date, end: date, workday_hours: Decimal) -> list[Conflict]:
    """Scheduled visits in [start, end] that a technician's leave now blocks (for the dispatcher to act on)."""
    lo = datetime.combine(start, datetime.min.time(), tzinfo=ZoneInfo("UTC")) - timedelta(days=1)
    hi = datetime.combine(end, datetime.min.time(), tzinfo=ZoneInfo("UTC")) + timedelta(days=2)
    out = []
    with Session(engine) as s:
        visits = list(s.exec(select(Visit).where(Visit.status == VisitStatus.SCHEDULED, Visit.start >= lo,
                                                 Visit.start < hi).order_by(Visit.start)))
        for v in visits:
            leave = [r for r in blocking(s, v.technician_id, v.start, v.end, workday_hours, ignore_visit=v.id)
                     if r.startswith("on leave")]
            if leave:
                out.append(Conflict(v.id, v.job_id, v.technician_id, v.start, v.end, "; ".join(leave)))
    return out
