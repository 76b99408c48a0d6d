"""Properties of the engine over random timesheets (two weeks around the 2026-03-08 DST change).

Conservation (every paid second is classified exactly once), independence of entry order, and
invariance under splitting an entry at any instant: together they say the result depends only on
the time worked, not on how it was recorded.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta, timezone
from decimal import Decimal

from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tasks.hours import JURISDICTIONS, PayrollSettings, TechnicianHours, WorkInterval, compute_hours
from tasks.hours.model import RELIEF_KINDS
from tasks.hours.worked import classify

BASE = datetime(2026, 3, 3, tzinfo=UTC)
OFFSETS = [UTC, timezone(timedelta(hours=-8)), timezone(timedelta(hours=-7)), timezone(timedelta(hours=5.5))]
FORTY_HOURS = 40 * 3600
FAST = hypothesis_settings(max_examples=100, deadline=None)


@st.composite
def timesheets(draw: st.DrawFn) -> list[WorkInterval]:
    """Non-overlapping entries per technician, each written with an arbitrary UTC offset."""
    entries: list[WorkInterval] = []
    for tech in sorted(draw(st.sets(st.sampled_from("ABC"), min_size=1, max_size=2))):
        at = draw(st.integers(0, 48 * 3600))
        for _ in range(draw(st.integers(1, 20))):
            # gaps of a meal, of a night between daily shifts, or anything; shifts up to 14 hours
            at += draw(st.sampled_from([0, 1800, 12 * 3600, 14 * 3600]) | st.integers(0, 30 * 3600))
            length = draw(st.sampled_from([4 * 3600, 10 * 3600]) | st.integers(60, 14 * 3600))
            kind = draw(st.sampled_from(["work", "work", "work", "travel", "break", "meal", "rest", "wait",
                                         "on_call"]))
            if kind in ("break", "meal", "rest", "wait", "on_call"):  # breaks are short: minutes, not hours
                length = draw(st.sampled_from([600, 1200, 1500, 1800, 2700]) | st.integers(60, 3 * 3600))
            start = (BASE + timedelta(seconds=at)).astimezone(draw(st.sampled_from(OFFSETS)))
            end = (BASE + timedelta(seconds=at + length)).astimezone(draw(st.sampled_from(OFFSETS)))
            commute = kind == "travel" and draw(st.booleans())
            entries.append(WorkInterval(
                tech, start, end, kind, commute,
                relieved=draw(st.sampled_from([None, True, False])) if kind in RELIEF_KINDS else None,
                company_vehicle=kind == "travel" and draw(st.booleans())))
            at += length
    return entries


payroll_settings = st.builds(
    PayrollSettings,
    timezone=st.sampled_from(["America/Los_Angeles", "America/Denver", "UTC", "Asia/Kolkata"]),
    workday_start=st.sampled_from([time(0), time(7), time(2, 30), time(18, 15)]),
    workweek_start=st.integers(0, 6),
    jurisdiction=st.sampled_from(sorted(JURISDICTIONS)),
    paid_commute_travel=st.booleans(),
    paid_meal_periods=st.booleans(),
    commute_vehicle_agreement=st.booleans(),
    company_vehicle_optional=st.booleans(),
)
rates = st.none() | st.fixed_dictionaries(
    {"A": st.sampled_from([Decimal("15"), Decimal("18"), Decimal("40")])}
)


def paid_seconds(entries: list[WorkInterval], settings: PayrollSettings, tech: str) -> int:
    """Hours worked as the rules decide them (tasks/hours/worked.py), before any overtime threshold:
    the engine must place every one of these seconds in exactly one pay class."""
    mine = [(int(e.start.timestamp()) // 1, int(e.end.timestamp()) // 1, e.kind, e.relieved, e.commute,
             e.company_vehicle) for e in entries if e.technician_id == tech]
    return sum(d.period.seconds for d in classify(mine, settings.jurisdiction, settings) if d.paid)


@FAST
@given(timesheets(), payroll_settings, rates)
def test_every_paid_second_is_classified_exactly_once(
    entries: list[WorkInterval], settings: PayrollSettings, hourly_rates: dict[str, Decimal] | None
) -> None:
    result = compute_hours(entries, settings, hourly_rates)
    assert set(result) == {e.technician_id for e in entries}
    for tech, hours in result.items():
        worked = paid_seconds(entries, settings, tech)
        assert sum(d.total_seconds for d in hours.workdays) == worked
        assert sum(w.total_seconds for w in hours.weeks) == worked
        for row in [*hours.workdays, *hours.weeks]:
            assert min(row.regular_seconds, row.overtime_seconds, row.double_time_seconds) >= 0
            assert 0 <= row.travel_seconds <= row.total_seconds
            parts = row.travel_seconds + row.paid_break_seconds + row.paid_gap_seconds + row.paid_standby_seconds
            assert parts <= row.total_seconds  # the breakdown is inside the paid total
            assert row.total_seconds > 0  # workdays without paid time are omitted
        _check_thresholds(hours, settings)


def _check_thresholds(hours: TechnicianHours, settings: PayrollSettings) -> None:
    """Whatever the jurisdiction: at most 40 regular hours a week, and at least the FLSA overtime."""
    for week in hours.weeks:
        assert week.regular_seconds <= FORTY_HOURS
        assert week.overtime_seconds + week.double_time_seconds >= week.total_seconds - FORTY_HOURS
        if settings.jurisdiction == "US-FLSA":
            assert week.overtime_seconds == max(0, week.total_seconds - FORTY_HOURS)
        if settings.jurisdiction != "US-CA":
            assert week.double_time_seconds == 0
    if settings.jurisdiction in ("US-CA", "US-AK"):
        assert all(d.regular_seconds <= 8 * 3600 for d in hours.workdays)
    keys = [(d.date, d.week_start) for d in hours.workdays]
    assert keys == sorted(set(keys))


@FAST
@given(timesheets(), payroll_settings, rates, st.randoms(use_true_random=False))
def test_result_does_not_depend_on_entry_order(
    entries: list[WorkInterval],
    settings: PayrollSettings,
    hourly_rates: dict[str, Decimal] | None,
    rnd: random.Random,
) -> None:
    shuffled = list(entries)
    rnd.shuffle(shuffled)
    assert compute_hours(shuffled, settings, hourly_rates) == compute_hours(entries, settings, hourly_rates)


@FAST
@given(timesheets(), payroll_settings, rates, st.data())
def test_splitting_an_entry_at_any_instant_changes_nothing(
    entries: list[WorkInterval],
    settings: PayrollSettings,
    hourly_rates: dict[str, Decimal] | None,
    data: st.DataObject,
) -> None:
    index = data.draw(st.integers(0, len(entries) - 1))
    entry = entries[index]
    micros = (entry.end - entry.start) // timedelta(microseconds=1)
    cut = entry.start + timedelta(microseconds=data.draw(st.integers(1, micros - 1)))
    halves = [replace(entry, end=cut), replace(entry, start=cut)]
    split = entries[:index] + halves + entries[index + 1 :]
    assert compute_hours(split, settings, hourly_rates) == compute_hours(entries, settings, hourly_rates)
