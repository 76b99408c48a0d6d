"""Jurisdiction rules: the registry, and table-driven cases taken from the cited sources.

Weeks are in January 2026 (no DST): the workweek Sun 2026-01-04 .. Sat 2026-01-10, workdays from
midnight, America/Los_Angeles, unless the row says otherwise. Hours are (regular, overtime, double).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from tasks.hours import (
    JURISDICTIONS,
    HoursInputError,
    PayClass,
    PayrollSettings,
    WorkInterval,
    compute_hours,
    get_rule,
)

LA = ZoneInfo("America/Los_Angeles")
SUN, MON, TUE, WED, THU, FRI, SAT = (f"2026-01-{d:02d}" for d in range(4, 11))
NEXT_MON, NEXT_TUE, NEXT_WED = "2026-01-12", "2026-01-13", "2026-01-14"
Hours = tuple[float, float, float]


def shift(start: str, hours: float, kind: str = "work") -> WorkInterval:
    """A shift of ``hours`` real hours from local ``start`` ("YYYY-MM-DD HH:MM", Los Angeles)."""
    begin = datetime.fromisoformat(start).replace(tzinfo=LA)
    end = (begin.astimezone(UTC) + timedelta(hours=hours)).astimezone(LA)
    return WorkInterval("T1", begin, end, kind)


def days(dates: tuple[str, ...], hours: float, at: str = "07:00") -> list[WorkInterval]:
    return [shift(f"{d} {at}", hours) for d in dates]


@dataclass(frozen=True)
class Case:
    id: str
    jurisdiction: str
    shifts: list[WorkInterval]
    weeks: list[Hours]
    source: str
    workdays: dict[str, Hours] = field(default_factory=dict)
    rate: Decimal | None = None


CASES = [
    # --- US-FLSA --------------------------------------------------------------------------------
    Case("flsa-40", "US-FLSA", days((MON, TUE, WED, THU, FRI), 8), [(40, 0, 0)], "29 CFR 778.103"),
    Case(
        "flsa-no-daily-overtime",
        "US-FLSA",
        days((MON, TUE, WED, THU), 12),
        [(40, 8, 0)],
        "29 CFR 778.102: no overtime required for hours over 8 per day, only over 40 per workweek",
        {MON: (12, 0, 0), WED: (12, 0, 0), THU: (4, 8, 0)},
    ),
    Case(
        "flsa-each-workweek-stands-alone",
        "US-FLSA",
        days((MON, TUE, WED), 10) + days((NEXT_MON, NEXT_TUE, NEXT_WED), 10) + days(("2026-01-15",), 20),
        [(30, 0, 0), (40, 10, 0)],
        "29 CFR 778.104 worked example: 30 hours one week, 50 the next -> 10 overtime in the second",
    ),
    # --- US-CA ----------------------------------------------------------------------------------
    Case("ca-over-8", "US-CA", days((MON,), 10), [(8, 2, 0)], "Cal. Labor Code 510(a): over 8 in a workday"),
    Case("ca-over-12", "US-CA", days((MON,), 14), [(8, 4, 2)], "Cal. Labor Code 510(a): over 12 -> 2x"),
    Case(
        "ca-no-pyramiding",
        "US-CA",
        days((MON, TUE, WED, THU, FRI, SAT), 9),
        [(40, 14, 0)],
        "DLSE Enforcement Manual ch. 48: daily OT hours not counted toward 40 (6 x 9 h -> 14 OT)",
        {FRI: (8, 1, 0), SAT: (0, 9, 0)},
    ),
    Case(
        "ca-seventh-consecutive-day",
        "US-CA",
        days((SUN, MON, TUE, WED, THU, FRI), 10) + days((SAT,), 14, at="06:00"),
        [(40, 28, 6)],
        "Cal. Labor Code 510(a): seventh day first 8 at 1.5x, beyond 8 at 2x (6 x 10 h + 14 h)",
        {SUN: (8, 2, 0), FRI: (0, 10, 0), SAT: (0, 8, 6)},
    ),
    Case(
        "ca-seventh-day-short",
        "US-CA",
        days((SUN, MON, TUE, WED, THU, FRI), 8) + days((SAT,), 4),
        [(40, 12, 0)],
        "Cal. Labor Code 510(a): first 8 hours on the seventh day at 1.5x, whatever the week's total",
        {FRI: (0, 8, 0), SAT: (0, 4, 0)},
    ),
    Case(
        "ca-seven-days-across-two-workweeks",
        "US-CA",
        days((THU, FRI, SAT, "2026-01-11", NEXT_MON, NEXT_TUE, NEXT_WED), 8),
        [(24, 0, 0), (32, 0, 0)],
        "Mendoza v. Nordstrom (2017): the seventh day is counted within the employer's workweek",
    ),
    Case(
        "ca-shift-across-midnight-splits",
        "US-CA",
        [shift(f"{MON} 20:00", 10)],
        [(10, 0, 0)],
        "Cal. Labor Code 500(a): workday = 24 hours from the same time each day (here midnight)",
        {MON: (4, 0, 0), TUE: (6, 0, 0)},
    ),
    # --- US-AK ----------------------------------------------------------------------------------
    Case("ak-over-8", "US-AK", days((MON,), 10), [(8, 2, 0)], "AS 23.10.060(b): over 8 hours a day"),
    Case("ak-no-double-time", "US-AK", days((MON,), 14), [(8, 6, 0)], "AS 23.10.060(b): 1.5x only"),
    Case(
        "ak-daily-ot-not-counted-toward-40",
        "US-AK",
        days((MON, TUE, WED, THU, FRI), 10),
        [(40, 10, 0)],
        "AS 23.10.060(b): hours over 8 in a day excluded when determining the 40",
    ),
    Case("ak-over-40", "US-AK", days((MON, TUE, WED, THU, FRI, SAT), 8), [(40, 8, 0)], "AS 23.10.060(b)"),
    # --- US-NV ----------------------------------------------------------------------------------
    Case(
        "nv-daily-below-1.5x-minimum",
        "US-NV",
        days((MON,), 10),
        [(8, 2, 0)],
        "NRS 608.018(1)(b): $15 < 1.5 x $12",
        rate=Decimal("15.00"),
    ),
    Case(
        "nv-no-daily-at-or-above-1.5x-minimum",
        "US-NV",
        days((MON,), 10),
        [(10, 0, 0)],
        "NRS 608.018(2): $18 is not less than 1.5 x $12 -> weekly overtime only",
        rate=Decimal("18.00"),
    ),
    Case(
        "nv-rate-unknown-applies-daily",
        "US-NV",
        days((MON,), 10),
        [(8, 2, 0)],
        "engine policy: without a rate the employee-protective reading of NRS 608.018(1) applies",
    ),
    Case(
        "nv-workday-begins-when-work-begins",
        "US-NV",
        [shift(f"{MON} 20:00", 6), shift(f"{TUE} 08:00", 4)],
        [(8, 2, 0)],
        "NRS 608.0126: 24 consecutive hours from 20:00 Monday hold all 10 hours",
        {MON: (8, 2, 0)},
        Decimal("15.00"),
    ),
    Case(
        "nv-earlier-start-next-day",
        "US-NV",
        [shift(f"{MON} 08:00", 8), shift(f"{TUE} 07:00", 8)],
        [(15, 1, 0)],
        "NRS 608.0126: Tuesday 07:00-08:00 falls in the workday that began Monday 08:00",
        {MON: (8, 1, 0), TUE: (7, 0, 0)},
        Decimal("15.00"),
    ),
    Case(
        "nv-weekly",
        "US-NV",
        days((MON, TUE, WED, THU, FRI), 8) + days((SAT,), 4),
        [(40, 4, 0)],
        "NRS 608.018(2): over 40 hours in a scheduled week of work",
        rate=Decimal("25.00"),
    ),
    # --- US-CO ----------------------------------------------------------------------------------
    Case("co-over-12-workday", "US-CO", days((MON,), 13), [(12, 1, 0)], "COMPS Rule 4.1.1: over 12/workday"),
    Case(
        "co-12-consecutive-across-workdays",
        "US-CO",
        [shift(f"{MON} 18:00", 14)],
        [(12, 2, 0)],
        "COMPS Rule 4.1.1: over 12 consecutive hours without regard to the workday",
        {MON: (6, 0, 0), TUE: (6, 2, 0)},
    ),
    Case(
        "co-consecutive-meal-excluded",
        "US-CO",
        [shift(f"{MON} 16:00", 6), shift(f"{MON} 22:00", 0.5, "break"), shift(f"{MON} 22:30", 8)],
        [(12, 2, 0)],
        "COMPS Rule 4.1.1: consecutive hours exclude duty-free meal periods (14 h worked around a meal)",
        {MON: (7.5, 0, 0), TUE: (4.5, 2, 0)},
    ),
    Case(
        "co-gap-ends-consecutive-run",
        "US-CO",
        [shift(f"{MON} 18:00", 6), shift(f"{TUE} 00:30", 6)],
        [(12, 0, 0)],
        "COMPS Rule 4.1.1: two 6-hour runs with an off-duty gap are not 12 consecutive hours",
    ),
    Case("co-over-40", "US-CO", days((MON, TUE, WED, THU), 11), [(40, 4, 0)], "COMPS Rule 4.1.1: over 40/wk"),
    Case(
        "co-whichever-greater",
        "US-CO",
        days((MON, TUE, WED), 14),
        [(36, 6, 0)],
        "COMPS Rule 4.1: daily (6 h) vs weekly (2 h) -> the greater, no double counting",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_jurisdiction_case(case: Case) -> None:
    rates = {"T1": case.rate} if case.rate is not None else None
    result = compute_hours(case.shifts, PayrollSettings(jurisdiction=case.jurisdiction), rates)["T1"]
    weeks = [(float(w.regular), float(w.overtime), float(w.double_time)) for w in result.weeks]
    assert weeks == [tuple(map(float, w)) for w in case.weeks], case.source
    by_date = {
        d.date.isoformat(): (float(d.regular), float(d.overtime), float(d.double_time))
        for d in result.workdays
    }
    for day, expected in case.workdays.items():
        assert by_date[day] == tuple(map(float, expected)), f"{day}: {case.source}"


def test_registry_has_the_five_jurisdictions() -> None:
    assert set(JURISDICTIONS) == {"US-FLSA", "US-CA", "US-AK", "US-NV", "US-CO"}


@pytest.mark.parametrize("key", sorted(JURISDICTIONS))
def test_every_rule_is_cited_and_ends_with_the_40_hour_week(key: str) -> None:
    rule = JURISDICTIONS[key]
    assert rule.key == key and rule.sources
    assert all(t.source for t in rule.thresholds)
    weekly = rule.thresholds[-1]
    assert (weekly.scope, weekly.after_hours, weekly.pay_class, weekly.counts) == (
        "workweek",
        Decimal(40),
        PayClass.OVERTIME,
        "regular",
    )
    if rule.workday == "rolling_24h":
        assert all(t.scope != "seventh_day" for t in rule.thresholds)


def test_only_california_pays_double_time() -> None:
    with_dt = {
        k for k, r in JURISDICTIONS.items() if any(t.pay_class == PayClass.DOUBLE_TIME for t in r.thresholds)
    }
    assert with_dt == {"US-CA"}


def test_registry_is_read_only() -> None:
    with pytest.raises(TypeError):
        JURISDICTIONS["US-XX"] = JURISDICTIONS["US-FLSA"]  # type: ignore[index]


def test_unknown_jurisdiction_is_an_input_error() -> None:
    with pytest.raises(HoursInputError, match="unknown jurisdiction 'US-ZZ'"):
        get_rule("US-ZZ")
    with pytest.raises(HoursInputError, match="unknown jurisdiction"):
        compute_hours(days((MON,), 8), PayrollSettings(jurisdiction="US-ZZ"))
