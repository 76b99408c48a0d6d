"""What counts as hours worked: one table-driven case per rule row, citing the row's source, plus the
scenarios a payroll clerk checks (rest vs meal by length, an interrupted meal, a break across the
workday boundary and across DST nights, a rest break that creates overtime)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from tasks.hours import PayrollSettings, WorkInterval, compute_hours
from tasks.hours.worked import RULES, Period, all_rules, classify, decide

LA = ZoneInfo("America/Los_Angeles")
JURISDICTIONS = ("US-FLSA", "US-CA", "US-AK", "US-NV", "US-CO")


@dataclass(frozen=True)
class Case:
    rule: str  # the row that must decide
    jurisdiction: str
    kind: str
    minutes: float
    paid: bool
    source: str  # the citation the decision must show
    relieved: bool | None = None
    commute: bool = False
    vehicle: bool = False
    settings: dict = field(default_factory=dict)


CASES = [
    # federal floor (29 CFR 785; 29 U.S.C. 254)
    Case("flsa-work", "US-FLSA", "work", 60, True, "29 CFR 785.11"),
    Case("flsa-rest", "US-FLSA", "rest", 45, True, "29 CFR 785.18"),
    Case("flsa-break-rest", "US-FLSA", "break", 20, True, "29 CFR 785.18"),
    Case("flsa-meal-on-duty", "US-FLSA", "meal", 45, True, "29 CFR 785.19(a)", relieved=False),
    Case("flsa-meal-short", "US-FLSA", "meal", 20, True, "29 CFR 785.19(a)"),
    Case("flsa-break-unclear", "US-FLSA", "break", 25, True, "29 CFR 785.18, 785.19(a)"),
    Case("flsa-meal", "US-FLSA", "break", 45, False, "29 CFR 785.19(a)"),
    Case("flsa-travel", "US-FLSA", "travel", 30, True, "29 CFR 785.38"),
    Case("flsa-vehicle-agreement", "US-FLSA", "travel", 30, False, "29 U.S.C. 254(a)", commute=True, vehicle=True,
         settings={"commute_vehicle_agreement": True}),
    Case("flsa-vehicle", "US-FLSA", "travel", 30, True, "29 U.S.C. 254(a)", commute=True, vehicle=True),
    Case("flsa-commute", "US-FLSA", "travel", 30, False, "29 CFR 785.35", commute=True),
    Case("flsa-wait-off-duty", "US-FLSA", "wait", 45, False, "29 CFR 785.16(a)", relieved=True),
    Case("flsa-wait", "US-FLSA", "wait", 20, True, "29 CFR 785.15", relieved=True),  # too short to be off duty
    Case("flsa-on-call-free", "US-FLSA", "on_call", 120, False, "29 CFR 785.17", relieved=True),
    Case("flsa-on-call", "US-FLSA", "on_call", 120, True, "29 CFR 785.17", relieved=False),
    Case("flsa-on-call-unclear", "US-FLSA", "on_call", 120, True, "29 CFR 785.17"),
    Case("flsa-gap-short", "US-FLSA", "gap", 10, True, "29 CFR 785.16(a), 785.18"),
    Case("flsa-gap-off-duty", "US-FLSA", "gap", 45, False, "29 CFR 785.16(a)"),
    # California
    Case("ca-work", "US-CA", "work", 60, True, "Wage Order 4 (8 CCR 11040) §2(K)"),
    Case("ca-rest", "US-CA", "rest", 10, True, "§12(A)"),
    Case("ca-break-rest", "US-CA", "break", 15, True, "§12(A)"),
    Case("ca-meal-on-duty", "US-CA", "meal", 30, True, "§11(C)", relieved=False),
    Case("ca-meal-short", "US-CA", "break", 25, True, "Cal. Labor Code 512(a)"),  # paid outright, not "unclear"
    Case("ca-meal", "US-CA", "meal", 30, False, "Brinker v. Superior Court"),
    Case("ca-travel", "US-CA", "travel", 30, True, "§2(K)"),
    Case("ca-vehicle-optional", "US-CA", "travel", 30, False, "Hernandez v. Pacific Bell", commute=True, vehicle=True,
         settings={"company_vehicle_optional": True, "commute_vehicle_agreement": True}),
    Case("ca-vehicle-required", "US-CA", "travel", 30, True, "Morillion v. Royal Packing", commute=True, vehicle=True),
    Case("ca-commute", "US-CA", "travel", 30, False, "Morillion v. Royal Packing", commute=True),
    Case("ca-wait", "US-CA", "wait", 60, True, "§2(K)"),
    Case("ca-on-call", "US-CA", "on_call", 60, True, "Mendiola v. CPS Security Solutions"),
    Case("ca-gap-short", "US-CA", "gap", 10, True, "Troester v. Starbucks"),
    # Alaska: the federal rules adopted by 8 AAC 15.105(b), and its standby rule
    Case("ak-work", "US-AK", "work", 60, True, "8 AAC 15.105(b), adopting 29 CFR 785.11"),
    Case("ak-rest", "US-AK", "rest", 15, True, "8 AAC 15.105(b), adopting 29 CFR 785.18"),
    Case("ak-break-rest", "US-AK", "break", 10, True, "8 AAC 15.105(b), adopting 29 CFR 785.18"),
    Case("ak-meal-on-duty", "US-AK", "break", 40, True, "adopting 29 CFR 785.19(a)", relieved=False),
    Case("ak-meal-short", "US-AK", "meal", 15, True, "adopting 29 CFR 785.19(a), 785.18"),
    Case("ak-break-unclear", "US-AK", "break", 22, True, "adopting 29 CFR 785.18, 785.19(a)"),
    Case("ak-meal", "US-AK", "meal", 60, False, "8 AAC 15.105(b), adopting 29 CFR 785.19(a)"),
    Case("ak-travel", "US-AK", "travel", 30, True, "8 AAC 15.105(b), adopting 29 CFR 785.38"),
    Case("ak-commute", "US-AK", "travel", 30, False, "8 AAC 15.105(b), adopting 29 CFR 785.35", commute=True),
    Case("ak-standby-relieved", "US-AK", "on_call", 45, False, "8 AAC 15.100(c)", relieved=True),
    Case("ak-standby", "US-AK", "wait", 45, True, "8 AAC 15.100(c)"),
    Case("ak-gap-short", "US-AK", "gap", 15, True, "adopting 29 CFR 785.16(a), 785.18"),
    Case("ak-gap-off-duty", "US-AK", "gap", 50, False, "adopting 29 CFR 785.16(a)"),
    # Nevada
    Case("nv-work", "US-NV", "work", 60, True, "NRS 608.016"),
    Case("nv-rest", "US-NV", "rest", 10, True, "NRS 608.019(2)"),
    Case("nv-break-rest", "US-NV", "break", 10, True, "NAC 608.145(1)"),
    Case("nv-meal-on-duty", "US-NV", "meal", 30, True, "NAC 608.115(1)", relieved=False),
    Case("nv-meal-short", "US-NV", "meal", 25, True, "NAC 608.145(3)"),
    Case("nv-meal", "US-NV", "meal", 30, False, "NRS 608.019(1)"),
    Case("nv-travel", "US-NV", "travel", 30, True, "NAC 608.130(2)(a)(1)"),
    Case("nv-commute", "US-NV", "travel", 30, False, "NAC 608.130(2)(b)", commute=True),
    Case("nv-wait", "US-NV", "on_call", 60, True, "NRS 608.016"),
    Case("nv-gap-short", "US-NV", "gap", 10, True, "NAC 608.145(3)"),
    # Colorado
    Case("co-work", "US-CO", "work", 60, True, "Rule 1.9"),
    Case("co-rest", "US-CO", "rest", 10, True, "Rule 5.2"),
    Case("co-break-rest", "US-CO", "break", 10, True, "Rule 5.2"),
    Case("co-meal-on-duty", "US-CO", "meal", 30, True, "Rule 5.1", relieved=False),
    Case("co-meal-short", "US-CO", "meal", 25, True, "Rule 5.1"),
    Case("co-meal", "US-CO", "meal", 30, False, "Rule 5.1"),
    Case("co-travel", "US-CO", "travel", 30, True, "Rule 1.9.2"),
    Case("co-commute", "US-CO", "travel", 30, False, "Rule 1.9.2", commute=True),
    Case("co-wait", "US-CO", "wait", 60, True, "INFO #20A"),
    Case("co-gap-short", "US-CO", "gap", 10, True, "INFO #20"),
    # company policy pays more than the law requires
    Case("policy-paid-commute", "US-FLSA", "travel", 30, True, "paid_commute_travel", commute=True,
         settings={"paid_commute_travel": True}),
    Case("policy-paid-meals", "US-CO", "meal", 30, True, "paid_meal_periods", settings={"paid_meal_periods": True}),
]


@pytest.mark.parametrize("case", CASES, ids=[c.rule for c in CASES])
def test_each_rule_row_decides_its_case_and_cites_its_source(case: Case) -> None:
    period = Period(0, int(case.minutes * 60), case.kind, case.relieved, case.commute, case.vehicle)
    decision = decide(period, case.jurisdiction, PayrollSettings(jurisdiction=case.jurisdiction, **case.settings))
    assert (decision.rule.id, decision.paid) == (case.rule, case.paid)
    assert case.source in decision.rule.source
    assert case.source in decision.note() and ("not paid" in decision.note()) is (not case.paid)


def test_every_rule_row_has_a_case() -> None:
    assert {r.id for r in all_rules()} == {c.rule for c in CASES}
    assert len({r.id for r in all_rules()}) == len(all_rules())  # ids are unique


@pytest.mark.parametrize("jurisdiction", JURISDICTIONS)
def test_the_federal_floor_covers_every_kind_and_length(jurisdiction: str) -> None:
    for kind in ("work", "travel", "break", "meal", "rest", "wait", "on_call", "gap"):
        for minutes in (1, 20, 25, 30, 240):
            for relieved in (None, True, False):
                if relieved is not None and kind not in ("break", "meal", "wait", "on_call"):
                    continue
                for commute, vehicle in ((False, False), (True, False), (True, True)):
                    if (commute or vehicle) and kind != "travel":
                        continue
                    p = Period(0, minutes * 60, kind, relieved, commute, vehicle)
                    decide(p, jurisdiction, PayrollSettings(jurisdiction=jurisdiction))  # never LookupError


def test_a_state_never_pays_less_than_the_federal_floor() -> None:
    """The FLSA applies everywhere: whatever a state row says, a period the FLSA pays stays paid."""
    settings = PayrollSettings()
    for kind in ("break", "meal", "rest", "wait", "on_call", "gap", "travel", "work"):
        for minutes in (10, 20, 25, 30, 45, 120):
            for relieved in ((None, True, False) if kind in ("break", "meal", "wait", "on_call") else (None,)):
                for commute, vehicle in (((False, False), (True, False), (True, True)) if kind == "travel"
                                         else ((False, False),)):
                    p = Period(0, minutes * 60, kind, relieved, commute, vehicle)
                    federal = decide(p, "US-FLSA", settings).paid
                    for state in JURISDICTIONS[1:]:
                        assert decide(p, state, settings).paid or not federal, (state, p)


# -- scenarios --------------------------------------------------------------------------------------


def at(wall: str, minutes: float, kind: str = "work", **kw: object) -> WorkInterval:
    begin = datetime.fromisoformat(wall).replace(tzinfo=LA)
    end = (begin.astimezone(UTC) + timedelta(minutes=minutes)).astimezone(LA)
    return WorkInterval("T1", begin, end, kind, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("jurisdiction", JURISDICTIONS)
@pytest.mark.parametrize(("kind", "minutes", "paid"), [
    ("break", 10, True), ("break", 20, True), ("break", 25, True), ("break", 30, False), ("break", 45, False),
    ("meal", 10, True), ("meal", 29, True), ("meal", 30, False), ("rest", 10, True), ("rest", 35, True),
])
def test_rest_versus_meal_by_length_in_every_jurisdiction(jurisdiction: str, kind: str, minutes: int,
                                                          paid: bool) -> None:
    """29 CFR 785.18/785.19; Wage Order 4 §11-12; 8 AAC 15.105(b); NRS 608.019; COMPS Rule 5."""
    entries = [at("2026-01-05 08:00", 240), at("2026-01-05 12:00", minutes, kind),
               at(f"2026-01-05 {12 + (minutes // 60):02d}:{minutes % 60:02d}", 240)]
    [day] = compute_hours(entries, PayrollSettings(jurisdiction=jurisdiction))["T1"].workdays
    assert day.total_seconds == 8 * 3600 + (minutes * 60 if paid else 0)
    assert day.paid_break_seconds == (minutes * 60 if paid else 0)
    [note] = day.notes
    assert note.startswith("12:00–") and ("not paid" in note) is (not paid)


def test_a_meal_period_interrupted_by_work_is_paid() -> None:
    """29 CFR 785.19(a): the employee must be completely relieved; Wage Order 4 §11(C): otherwise on duty."""
    entries = [at("2026-01-05 08:00", 240), at("2026-01-05 12:00", 15, "meal"), at("2026-01-05 12:15", 5),
               at("2026-01-05 12:20", 20, "meal"), at("2026-01-05 12:40", 200)]
    for jurisdiction in JURISDICTIONS:
        [day] = compute_hours(entries, PayrollSettings(jurisdiction=jurisdiction))["T1"].workdays
        assert day.paid_break_seconds == 35 * 60, jurisdiction
        assert day.total_seconds == (240 + 15 + 5 + 20 + 200) * 60


def test_breaks_at_the_workday_boundary_are_classified_whole_then_split() -> None:
    """A 20-minute rest across midnight is one rest period (paid, 10 + 10 minutes); a 30-minute meal across
    it is one bona fide meal period (unpaid), not two short paid ones."""
    rest = [at("2026-01-05 20:00", 230), at("2026-01-05 23:50", 20, "rest"), at("2026-01-06 00:10", 120)]
    days = compute_hours(rest, PayrollSettings(jurisdiction="US-CA"))["T1"].workdays
    assert [d.paid_break_seconds for d in days] == [600, 600]
    assert sum(d.total_seconds for d in days) == (230 + 20 + 120) * 60
    meal = [at("2026-01-05 20:00", 225), at("2026-01-05 23:45", 30, "break"), at("2026-01-06 00:15", 120)]
    days = compute_hours(meal, PayrollSettings(jurisdiction="US-CA"))["T1"].workdays
    assert [d.paid_break_seconds for d in days] == [0, 0]
    assert sum(d.total_seconds for d in days) == (225 + 120) * 60


@pytest.mark.parametrize(("start", "end", "paid_minutes"), [
    # spring forward 2026-03-08 02:00 PST → 03:00 PDT: the wall clock says 85 minutes, real time is 25
    ("2026-03-08T01:50:00-08:00", "2026-03-08T03:15:00-07:00", 25),
    # and 01:45 PST → 03:15 PDT is exactly 30 real minutes: a bona fide meal period, unpaid
    ("2026-03-08T01:45:00-08:00", "2026-03-08T03:15:00-07:00", 0),
    # fall back 2026-11-01 02:00 PDT → 01:00 PST: 01:55 PDT → 01:10 PST is 15 real minutes, a rest period
    ("2026-11-01T01:55:00-07:00", "2026-11-01T01:10:00-08:00", 15),
])
def test_breaks_across_dst_nights_are_measured_in_real_time(start: str, end: str, paid_minutes: int) -> None:
    """DOL Hours Worked Advisor (DST): credit the time actually elapsed."""
    b0, b1 = datetime.fromisoformat(start), datetime.fromisoformat(end)
    entries = [WorkInterval("N1", b0 - timedelta(hours=3), b0, "work"), WorkInterval("N1", b0, b1, "break"),
               WorkInterval("N1", b1, b1 + timedelta(hours=3), "work")]
    [day] = compute_hours(entries, PayrollSettings(workday_start=time(18, 0)))["N1"].workdays
    assert day.paid_break_seconds == paid_minutes * 60
    assert day.total_seconds == (6 * 60 + paid_minutes) * 60


def test_a_rest_break_tips_the_week_over_40_hours() -> None:
    """29 U.S.C. 207(a) with 29 CFR 785.18: the paid rest period is the 41st quarter hour."""
    entries = []
    for day in range(5, 10):  # Mon 2026-01-05 … Fri
        entries.append(at(f"2026-01-{day:02d} 08:00", 240))
        if day == 9:
            entries.append(at(f"2026-01-{day:02d} 12:00", 15, "rest"))
            entries.append(at(f"2026-01-{day:02d} 12:15", 240))
        else:
            entries.append(at(f"2026-01-{day:02d} 12:00", 240))
    [week] = compute_hours(entries, PayrollSettings(jurisdiction="US-FLSA"))["T1"].weeks
    assert (week.regular, week.overtime) == (Decimal("40.00"), Decimal("0.25"))


def test_a_rest_break_tips_a_california_day_over_8() -> None:
    """Cal. Labor Code 510(a) with Wage Order 4 §12(A): the 15-minute rest period is the 9th hour's quarter."""
    entries = [at("2026-01-05 08:00", 240), at("2026-01-05 12:00", 15, "break"), at("2026-01-05 12:15", 240)]
    [day] = compute_hours(entries, PayrollSettings(jurisdiction="US-CA"))["T1"].workdays
    assert (day.regular, day.overtime) == (Decimal("8.00"), Decimal("0.25"))


def test_short_gaps_between_jobs_count_and_long_ones_do_not() -> None:
    entries = [at("2026-01-05 08:00", 120), at("2026-01-05 10:10", 110), at("2026-01-05 12:45", 120)]
    [day] = compute_hours(entries, PayrollSettings(jurisdiction="US-CA"))["T1"].workdays
    assert day.paid_gap_seconds == 10 * 60  # 10:00-10:10 counts; 12:00-12:45 is off duty
    assert day.total_seconds == (120 + 10 + 110 + 120) * 60
    assert any("unrecorded gap 45 min: not paid" in n for n in day.notes)


def test_a_recorded_unpaid_meal_is_not_also_a_gap() -> None:
    entries = [at("2026-01-05 08:00", 240), at("2026-01-05 12:05", 30, "meal"), at("2026-01-05 12:35", 240)]
    [day] = compute_hours(entries, PayrollSettings())["T1"].workdays
    assert day.paid_gap_seconds == 0 and day.total_seconds == 480 * 60


def test_company_vehicle_commute_in_california_follows_the_stricter_law() -> None:
    """Optional use of the vehicle (Hernandez) is not enough: the FLSA still pays without an ECFA agreement."""
    trip = [at("2026-01-05 07:00", 30, "travel", commute=True, company_vehicle=True), at("2026-01-05 07:30", 240)]
    paid = compute_hours(trip, PayrollSettings(jurisdiction="US-CA", company_vehicle_optional=True))["T1"]
    assert paid.workdays[0].total_seconds == 270 * 60
    both = PayrollSettings(jurisdiction="US-CA", company_vehicle_optional=True, commute_vehicle_agreement=True)
    assert compute_hours(trip, both)["T1"].workdays[0].total_seconds == 240 * 60


def test_classification_is_per_technician_and_ignores_order() -> None:
    entries = [(3600, 7200, "work", None, False, False), (0, 1200, "work", None, False, False),
               (1200, 2400, "break", None, False, False)]
    decisions = classify(entries, "US-FLSA", PayrollSettings())
    assert [(d.period.kind, d.paid) for d in decisions] == [("work", True), ("break", True), ("gap", True),
                                                            ("work", True)]
    assert RULES["US-FLSA"][0].id == "flsa-work"
