"""Value types of the hours engine: settings, time entries, results and input errors.

Everything is immutable and counted in integer seconds, so sums are exact and a recomputation
of the same workweek always yields the same rows (payroll is state, not appends: DESIGN.md §3).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal

KINDS: frozenset[str] = frozenset({"work", "travel", "break", "meal", "rest", "wait", "on_call"})
#: kinds whose entry may say whether the technician was completely relieved of duty
RELIEF_KINDS: frozenset[str] = frozenset({"break", "meal", "wait", "on_call"})

#: Weekday names accepted by parse_weekday, Monday=0 … Sunday=6 (Python ``date.weekday()`` and
#: pendulum 3 ``WeekDay``; note ISO ``isoweekday()`` would be Monday=1 … Sunday=7).
WEEKDAYS: dict[str, int] = {
    "mon": 0, "monday": 0,
    "tue": 1, "tues": 1, "tuesday": 1,
    "wed": 2, "wednesday": 2,
    "thu": 3, "thur": 3, "thurs": 3, "thursday": 3,
    "fri": 4, "friday": 4,
    "sat": 5, "saturday": 5,
    "sun": 6, "sunday": 6,
}  # fmt: skip

_HUNDREDTH = Decimal("0.01")


@dataclass(frozen=True)
class InputProblem:
    """One reason the input cannot be computed; ``line`` is the CSV line when the input was a file."""

    message: str
    line: int | None = None
    source: str | None = None

    def __str__(self) -> str:
        where = ":".join(str(p) for p in (self.source, self.line) if p is not None)
        return f"{where}: {self.message}" if where else self.message


class HoursInputError(ValueError):
    """Raised instead of computing anything when the entries or settings are invalid.

    Carries every problem found, not just the first, so a dispatcher can fix a file in one pass.
    """

    def __init__(self, problems: Sequence[InputProblem] | str) -> None:
        self.problems: list[InputProblem] = (
            [InputProblem(problems)] if isinstance(problems, str) else list(problems)
        )
        super().__init__("; ".join(str(p) for p in self.problems))


def hours(seconds: int) -> Decimal:
    """Seconds as hours, rounded half-up to hundredths — the unit payroll systems take."""
    return (Decimal(seconds) / Decimal(3600)).quantize(_HUNDREDTH, rounding=ROUND_HALF_UP)


def parse_weekday(value: str | int) -> int:
    """Weekday name or index → index Monday=0 … Sunday=6, so CLI and config can say ``"sun"``."""
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value <= 6:
            return value
        raise HoursInputError(f"weekday index {value} is not in 0..6 (Monday=0 … Sunday=6)")
    text = str(value).strip().lower()
    if text.isdigit() and 0 <= int(text) <= 6:
        return int(text)
    if text in WEEKDAYS:
        return WEEKDAYS[text]
    raise HoursInputError(f"unknown weekday {value!r} (use mon..sun or 0..6 with Monday=0)")


def parse_clock_time(value: str | time) -> time:
    """``"07:00"`` → ``time(7, 0)``; the company workday start as written in settings or on the CLI."""
    if isinstance(value, time):
        return value
    try:
        parsed = time.fromisoformat(str(value).strip())
    except ValueError:
        raise HoursInputError(f"bad time of day {value!r} (use HH:MM, e.g. 07:00)") from None
    if parsed.tzinfo is not None:
        raise HoursInputError(f"time of day {value!r} must not carry an offset; the timezone setting applies")
    return parsed


@dataclass(frozen=True)
class PayrollSettings:
    """Company payroll settings; workday and workweek starts are company choices (29 CFR 778.105).

    ``workweek_start`` is Monday=0 … Sunday=6 (``date.weekday()``); use parse_weekday for names.
    The workweek begins at ``workday_start`` on that weekday, so workdays nest inside workweeks.
    ``nv_minimum_wage`` sets the NRS 608.018 daily-overtime ceiling (1.5 x minimum wage).

    What counts as hours worked is the law's, not the company's (tasks/hours/worked.py); the company
    may only pay more (``paid_commute_travel``, ``paid_meal_periods``) or state facts the data cannot
    carry: an ECFA agreement on commuting in company vehicles (``commute_vehicle_agreement``), and
    whether using the company vehicle to commute is the technician's choice (``company_vehicle_optional``).
    """

    timezone: str = "America/Los_Angeles"
    workday_start: time = time(0, 0)
    workweek_start: int = 6
    jurisdiction: str = "US-FLSA"
    paid_commute_travel: bool = False
    paid_meal_periods: bool = False
    commute_vehicle_agreement: bool = False
    company_vehicle_optional: bool = False
    nv_minimum_wage: Decimal = Decimal("12.00")


@dataclass(frozen=True)
class WorkInterval:
    """One time entry of a technician; validated on construction so bad entries never reach the math.

    ``commute`` marks home → first job / last job → home travel (29 CFR 785.35), ``company_vehicle``
    travel in the employer's vehicle; ``relieved`` says whether the technician was completely relieved of
    duty during a break, meal, wait or on-call period (None: not recorded).
    """

    technician_id: str
    start: datetime
    end: datetime
    kind: str
    commute: bool = False
    relieved: bool | None = None
    company_vehicle: bool = False

    def __post_init__(self) -> None:
        problems = interval_problems(self)
        if problems:
            raise HoursInputError([InputProblem(p) for p in problems])


def interval_problems(entry: WorkInterval) -> list[str]:
    """Why a single entry is unusable (empty list when it is fine)."""
    problems: list[str] = []
    if not str(entry.technician_id).strip():
        problems.append("technician_id is empty")
    unusable = False
    for name in ("start", "end"):
        value = getattr(entry, name)
        if not isinstance(value, datetime):
            problems.append(f"{name} is not a datetime: {value!r}")
            unusable = True
        elif value.tzinfo is None or value.utcoffset() is None:
            problems.append(f"{name} time has no UTC offset (naive time)")
            unusable = True
    if not unusable and entry.end <= entry.start:
        problems.append("end is not after start")
    if entry.kind not in KINDS:
        problems.append(f"unknown kind {entry.kind!r} (expected one of {', '.join(sorted(KINDS))})")
    elif entry.commute and entry.kind != "travel":
        problems.append(f"commute is only meaningful for travel entries, not {entry.kind!r}")
    elif entry.company_vehicle and entry.kind != "travel":
        problems.append(f"company_vehicle is only meaningful for travel entries, not {entry.kind!r}")
    elif entry.relieved is not None and entry.kind not in RELIEF_KINDS:
        problems.append(f"relieved is only meaningful for {', '.join(sorted(RELIEF_KINDS))} entries, "
                        f"not {entry.kind!r}")
    return problems


@dataclass(frozen=True)
class Overlap:
    """Entry ``index`` starts before entry ``other`` (same technician) has ended."""

    index: int
    other: int


def find_overlaps(entries: Sequence[WorkInterval]) -> list[Overlap]:
    """Overlapping entries per technician; touching entries (end == next start) are fine."""
    by_tech: dict[str, list[int]] = {}
    for i, entry in enumerate(entries):
        by_tech.setdefault(entry.technician_id, []).append(i)
    overlaps: list[Overlap] = []
    for indexes in by_tech.values():
        indexes.sort(key=lambda i: (entries[i].start, entries[i].end, i))
        latest: int | None = None
        for i in indexes:
            if latest is not None and entries[i].start < entries[latest].end:
                overlaps.append(Overlap(i, latest))
            if latest is None or entries[i].end > entries[latest].end:
                latest = i
    return sorted(overlaps, key=lambda o: o.index)


@dataclass(frozen=True, kw_only=True)
class _SecondsMixin:
    """Paid seconds by pay class; travel, breaks, gaps and standby are paid time *inside* those classes,
    reported so a payroll clerk can check each line."""

    regular_seconds: int
    overtime_seconds: int
    double_time_seconds: int
    travel_seconds: int
    paid_break_seconds: int = 0  # rest periods, short or on-duty meals, unclear breaks
    paid_gap_seconds: int = 0  # unrecorded gaps too short to be off duty
    paid_standby_seconds: int = 0  # waiting and on-call time that counts
    unpaid_seconds: int = 0  # recorded but not hours worked: bona fide meals, commute, free on-call

    @property
    def total_seconds(self) -> int:
        """Paid seconds; travel is already inside regular/overtime/double time."""
        return self.regular_seconds + self.overtime_seconds + self.double_time_seconds

    @property
    def regular(self) -> Decimal:
        return hours(self.regular_seconds)

    @property
    def overtime(self) -> Decimal:
        return hours(self.overtime_seconds)

    @property
    def double_time(self) -> Decimal:
        return hours(self.double_time_seconds)

    @property
    def travel(self) -> Decimal:
        return hours(self.travel_seconds)

    @property
    def paid_breaks(self) -> Decimal:
        return hours(self.paid_break_seconds)

    @property
    def paid_gaps(self) -> Decimal:
        return hours(self.paid_gap_seconds)

    @property
    def paid_standby(self) -> Decimal:
        return hours(self.paid_standby_seconds)

    @property
    def unpaid(self) -> Decimal:
        return hours(self.unpaid_seconds)

    @property
    def total(self) -> Decimal:
        """Rounded from the exact seconds, so it may differ by 0.01 from the sum of rounded parts."""
        return hours(self.total_seconds)


@dataclass(frozen=True, kw_only=True)
class WorkdayHours(_SecondsMixin):
    """Paid time of one workday; ``date`` is the local date the workday starts on.

    ``week_start`` names the workweek the seconds belong to (only a Nevada 24-hour workday that
    straddles the workweek start yields two rows with the same ``date``, one per week).
    """

    date: date
    week_start: date
    notes: tuple[str, ...] = ()  # every period that is not plain work or site-to-site travel, and why


@dataclass(frozen=True, kw_only=True)
class WeekTotals(_SecondsMixin):
    """Paid time of one workweek (the local date on which the workweek starts)."""

    week_start: date


@dataclass(frozen=True)
class TechnicianHours:
    """All workdays (sorted by date) and workweeks (sorted) of one technician."""

    technician_id: str
    workdays: list[WorkdayHours]
    weeks: list[WeekTotals]
