"""Turn time entries into regular / overtime / double time per workday and workweek.

How: decide what is hours worked (worked.py: rest breaks, meal periods, travel, waiting, on-call time
and short gaps, per jurisdiction with sources), keep that paid time as integer-second segments in UTC, cut
them at workday and workweek boundaries computed in the company zone with pendulum (so a workday
across a DST change is 23 or 25 real hours, while elapsed time stays real time), then apply the
jurisdiction's thresholds (rules.py) in order. A threshold walks the pieces chronologically and
raises the pay class of the seconds beyond it; classes never go down, so no hour is paid twice.
The engine sees only the entries it is given: pass the whole workweek (see docs/hours.md).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation

import pendulum
from pendulum.tz.exceptions import InvalidTimezone
from pendulum.tz.timezone import Timezone

from tasks.hours.model import (
    HoursInputError,
    InputProblem,
    PayrollSettings,
    TechnicianHours,
    WeekTotals,
    WorkdayHours,
    WorkInterval,
    find_overlaps,
    interval_problems,
)
from tasks.hours.rules import JURISDICTIONS, JurisdictionRule, PayClass, Threshold
from tasks.hours.worked import Decision, Period, classify

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)
_DAY = timedelta(days=1)
_ROLLING_WORKDAY_SECONDS = 24 * 3600


def compute_hours(
    entries: Iterable[WorkInterval],
    settings: PayrollSettings,
    hourly_rates: Mapping[str, Decimal] | None = None,
) -> dict[str, TechnicianHours]:
    """Hours per technician, keyed and ordered by technician id.

    ``hourly_rates`` (technician id → regular hourly rate) matters only for wage-conditioned rules
    (Nevada daily overtime); a technician without a rate gets the employee-protective reading,
    i.e. the rule applies. Raises HoursInputError (listing every problem) before computing anything.
    """
    entries = list(entries)
    rule, calendar = _resolve_settings(settings)
    _check_entries(entries)
    rates = dict(hourly_rates or {})
    by_tech: dict[str, list[WorkInterval]] = {}
    for entry in entries:
        by_tech.setdefault(entry.technician_id, []).append(entry)
    return {
        tech: _technician_hours(tech, by_tech[tech], settings, rule, calendar, rates.get(tech))
        for tech in sorted(by_tech)
    }


# ---------------------------------------------------------------------------------------------
# validation


def check_settings(settings: PayrollSettings) -> None:
    """Raise HoursInputError listing every unusable setting, so callers can fail before reading data."""
    _resolve_settings(settings)


def _resolve_settings(settings: PayrollSettings) -> tuple[JurisdictionRule, _Calendar]:
    problems: list[str] = []
    rule = JURISDICTIONS.get(settings.jurisdiction)
    if rule is None:
        problems.append(f"unknown jurisdiction {settings.jurisdiction!r} (known: {', '.join(JURISDICTIONS)})")
    tz: Timezone | None = None
    try:
        tz = pendulum.timezone(settings.timezone)
    except (InvalidTimezone, ValueError, TypeError):
        problems.append(f"unknown timezone {settings.timezone!r} (use an IANA name like America/Los_Angeles)")
    if not isinstance(settings.workday_start, time) or settings.workday_start.tzinfo is not None:
        problems.append(f"workday_start must be a naive datetime.time, got {settings.workday_start!r}")
    wws = settings.workweek_start
    if isinstance(wws, bool) or not isinstance(wws, int) or not 0 <= wws <= 6:
        problems.append(f"workweek_start must be 0..6 (Monday=0 … Sunday=6), got {wws!r}")
    try:
        if Decimal(settings.nv_minimum_wage) <= 0:
            problems.append("nv_minimum_wage must be positive")
    except (InvalidOperation, TypeError, ValueError):
        problems.append(f"nv_minimum_wage is not a number: {settings.nv_minimum_wage!r}")
    if problems or rule is None or tz is None:
        raise HoursInputError([InputProblem(p) for p in problems])
    return rule, _Calendar(tz, settings.workday_start, settings.workweek_start)


def _check_entries(entries: Sequence[WorkInterval]) -> None:
    problems: list[InputProblem] = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, WorkInterval):
            problems.append(InputProblem(f"entry #{i} is a {type(entry).__name__}, not a WorkInterval"))
        else:
            problems.extend(InputProblem(f"entry #{i}: {p}") for p in interval_problems(entry))
    if not problems:
        for o in find_overlaps(entries):
            tech = entries[o.index].technician_id
            problems.append(InputProblem(f"entry #{o.index} overlaps entry #{o.other} (technician {tech})"))
    if problems:
        raise HoursInputError(problems)


# ---------------------------------------------------------------------------------------------
# calendar


class _Calendar:
    """Workday and workweek boundaries in the company zone; the workweek starts at the workday start.

    Local boundary times that fall into a DST gap or fold resolve as pendulum does by default
    (the later instant), e.g. a 02:30 workday start on a spring-forward day begins at 03:30.
    """

    def __init__(self, tz: Timezone, workday_start: time, workweek_start: int) -> None:
        self.tz = tz
        self.workday_start = workday_start
        self.workweek_start = workweek_start
        self._boundaries: dict[date, int] = {}

    def boundary(self, day: date) -> int:
        """Epoch second at which the workday dated ``day`` begins."""
        if day not in self._boundaries:
            t = self.workday_start
            local = pendulum.datetime(day.year, day.month, day.day, t.hour, t.minute, t.second, tz=self.tz)
            self._boundaries[day] = local.int_timestamp
        return self._boundaries[day]

    def local_date(self, ts: int) -> date:
        local = pendulum.from_timestamp(ts, tz=self.tz)
        return date(local.year, local.month, local.day)

    def workday_of(self, ts: int) -> date:
        """Date of the workday containing epoch second ``ts``."""
        day = self.local_date(ts)
        return day if ts >= self.boundary(day) else day - _DAY

    def week_of(self, workday: date) -> date:
        return workday - timedelta(days=(workday.weekday() - self.workweek_start) % 7)

    def week_end(self, week_start: date) -> int:
        return self.boundary(week_start + 7 * _DAY)


# ---------------------------------------------------------------------------------------------
# computation


@dataclass(frozen=True)
class _Piece:
    """Paid seconds [start, end) inside one workday and one workweek, with their pay class."""

    start: int
    end: int
    category: str  # work | travel | break | gap | standby: what the paid time was, for the breakdown
    day: tuple[int, date]  # (epoch second the workday begins, local date it begins on)
    week: date
    pay: PayClass = PayClass.REGULAR

    @property
    def seconds(self) -> int:
        return self.end - self.start

    @property
    def travel(self) -> bool:
        return self.category == "travel"


#: which breakdown column a paid period lands in
_CATEGORY = {"work": "work", "travel": "travel", "rest": "break", "break": "break", "meal": "break",
             "gap": "gap", "wait": "standby", "on_call": "standby"}


def _epoch(moment: datetime) -> int:
    return (moment - _EPOCH) // _SECOND


def _technician_hours(
    tech: str,
    entries: list[WorkInterval],
    settings: PayrollSettings,
    rule: JurisdictionRule,
    calendar: _Calendar,
    rate: Decimal | None,
) -> TechnicianHours:
    decisions = classify([(_epoch(e.start), _epoch(e.end), e.kind, e.relieved, e.commute, e.company_vehicle)
                          for e in entries], settings.jurisdiction, settings)
    paid = [(d.period.start, d.period.end, _CATEGORY[d.period.kind]) for d in decisions
            if d.paid and d.period.end > d.period.start]
    unpaid_meals = [(d.period.start, d.period.end) for d in decisions
                    if not d.paid and d.period.kind in ("meal", "break")]
    split = _fixed_workdays if rule.workday == "fixed" else _rolling_workdays
    pieces = split(paid, calendar)
    keys: dict[str, Callable[[_Piece], Hashable | None]] = {
        "workday": lambda p: p.day,
        "seventh_day": _seventh_day_key(pieces) if rule.workday == "fixed" else (lambda p: None),
        "consecutive": _consecutive_key([(s, e) for s, e, _ in paid] + unpaid_meals),
        "workweek": lambda p: p.week,
    }
    for threshold in rule.thresholds:
        if _threshold_applies(threshold, rate, settings):
            pieces = _apply(threshold, pieces, keys[threshold.scope])
    return _aggregate(tech, pieces, [d for d in decisions if _noteworthy(d)], calendar)


def _noteworthy(decision: Decision) -> bool:
    """Everything a payroll clerk may question: not plain work, not plain site-to-site travel."""
    p = decision.period
    return not (p.kind == "work" or (p.kind == "travel" and not p.commute and not p.company_vehicle))


def _fixed_workdays(paid: list[tuple[int, int, str]], calendar: _Calendar) -> list[_Piece]:
    """Cut paid segments at the company's workday boundaries (workweeks nest in them)."""
    pieces: list[_Piece] = []
    for start, end, category in paid:
        while start < end:
            day = calendar.workday_of(start)
            cut = min(end, calendar.boundary(day + _DAY))
            pieces.append(_Piece(start, cut, category, (calendar.boundary(day), day), calendar.week_of(day)))
            start = cut
    return pieces


def _rolling_workdays(paid: list[tuple[int, int, str]], calendar: _Calendar) -> list[_Piece]:
    """NRS 608.0126: a workday is 24 consecutive hours from when the employee begins work.

    The window is not reset at the workweek start; the pieces are still cut there so that every
    second counts toward the workweek in which it was worked.
    """
    pieces: list[_Piece] = []
    window: int | None = None
    for start, end, category in paid:
        while start < end:
            if window is None or start >= window + _ROLLING_WORKDAY_SECONDS:
                window = start
            week = calendar.week_of(calendar.workday_of(start))
            cut = min(end, window + _ROLLING_WORKDAY_SECONDS, calendar.week_end(week))
            pieces.append(_Piece(start, cut, category, (window, calendar.local_date(window)), week))
            start = cut
    return pieces


def _seventh_day_key(pieces: list[_Piece]) -> Callable[[_Piece], Hashable | None]:
    """Cal. Labor Code 510: the seventh day counts only when all seven workdays of the week were worked."""
    days_by_week: dict[date, set[tuple[int, date]]] = {}
    for p in pieces:
        days_by_week.setdefault(p.week, set()).add(p.day)
    sevenths = {max(days) for days in days_by_week.values() if len(days) == 7}
    return lambda p: p.day if p.day in sevenths else None


def _consecutive_key(covered: list[tuple[int, int]]) -> Callable[[_Piece], Hashable | None]:
    """Runs of work joined by nothing or by meal breaks (which count toward no hours but break no run)."""
    starts: list[int] = []
    last_end: int | None = None
    for start, end in sorted(covered):
        if last_end is None or start > last_end:
            starts.append(start)
            last_end = end
        else:
            last_end = max(last_end, end)
    return lambda p: bisect.bisect_right(starts, p.start) - 1


def _threshold_applies(threshold: Threshold, rate: Decimal | None, settings: PayrollSettings) -> bool:
    multiple = threshold.below_minimum_wage_multiple
    if multiple is None or rate is None:
        return True
    return Decimal(rate) < multiple * Decimal(settings.nv_minimum_wage)


def _apply(
    threshold: Threshold, pieces: list[_Piece], key: Callable[[_Piece], Hashable | None]
) -> list[_Piece]:
    """Raise the pay class of the seconds past the threshold in each group, walking chronologically."""
    after, target = threshold.after_seconds, threshold.pay_class
    counted: dict[Hashable, int] = {}
    out: list[_Piece] = []
    for p in pieces:
        group = key(p)
        if group is None or (threshold.counts == "regular" and p.pay != PayClass.REGULAR):
            out.append(p)
            continue
        before = counted.get(group, 0)
        counted[group] = before + p.seconds
        if before + p.seconds <= after:
            out.append(p)
        elif before >= after:
            out.append(replace(p, pay=max(p.pay, target)))
        else:
            cut = p.start + (after - before)
            out.append(replace(p, end=cut))
            out.append(replace(p, start=cut, pay=max(p.pay, target)))
    return out


_COLUMNS = {"travel": 3, "break": 4, "gap": 5, "standby": 6}


def _aggregate(tech: str, pieces: list[_Piece], noted: list[Decision], calendar: _Calendar) -> TechnicianHours:
    days: dict[tuple[tuple[int, date], date], list[int]] = {}
    weeks: dict[date, list[int]] = {}
    for p in pieces:
        day_bucket = days.setdefault((p.day, p.week), [0] * 8)
        for bucket in (day_bucket, weeks.setdefault(p.week, [0] * 8)):
            bucket[p.pay] += p.seconds
            if p.category in _COLUMNS:
                bucket[_COLUMNS[p.category]] += p.seconds
    notes: dict[tuple[tuple[int, date], date], list[str]] = {}
    ordered = sorted(days)
    starts = [key[0][0] for key in ordered]
    for decision in noted:
        if not ordered:
            break
        at = max(0, bisect.bisect_right(starts, decision.period.start) - 1)
        key = ordered[at]
        notes.setdefault(key, []).append(f"{_clock(decision.period, calendar)} {decision.note()}")
        if not decision.paid:
            days[key][7] += decision.period.seconds
            weeks[key[1]][7] += decision.period.seconds
    return TechnicianHours(
        technician_id=tech,
        workdays=[WorkdayHours(date=day[1], week_start=week, notes=tuple(notes.get((day, week), ())),
                               **_fields(days[day, week])) for day, week in ordered],
        weeks=[WeekTotals(week_start=week, **_fields(weeks[week])) for week in sorted(weeks)],
    )


def _clock(period: Period, calendar: _Calendar) -> str:
    start = pendulum.from_timestamp(period.start, tz=calendar.tz)
    end = pendulum.from_timestamp(period.end, tz=calendar.tz)
    return f"{start:%H:%M}–{end:%H:%M}"


def _fields(bucket: list[int]) -> dict[str, int]:
    regular, overtime, double_time, travel, breaks, gaps, standby, unpaid = bucket
    return {
        "regular_seconds": regular,
        "overtime_seconds": overtime,
        "double_time_seconds": double_time,
        "travel_seconds": travel,
        "paid_break_seconds": breaks,
        "paid_gap_seconds": gaps,
        "paid_standby_seconds": standby,
        "unpaid_seconds": unpaid,
    }
