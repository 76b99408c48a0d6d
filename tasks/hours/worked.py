"""What counts as hours worked, per jurisdiction, as rows of data with their sources.

Before any overtime is computed, a technician's day is cut into *periods*: runs of touching entries of
the same kind and flags (so splitting an entry never changes anything), plus the unrecorded *gaps*
between paid periods. Each period is decided by the rules below:

- every jurisdiction's list is read top to bottom and its first matching row decides for that law;
- a state's rows are read together with the federal FLSA rows, which apply everywhere as a floor: the
  period is paid if either law pays it (the more protective law governs), and the note cites the law
  that pays (the state's, when both do);
- company policy rows (paying what the law does not require) are read first;
- where the data cannot tell which reading applies, the row that pays is marked `protective`, and the
  preview says so.

Adding a state is adding rows here and their table-driven tests; the engine does not change.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise
from types import MappingProxyType
from typing import Literal

from tasks.hours.model import KINDS as ENTRY_KINDS

#: a `gap` is never an entry: it is unrecorded time between paid periods
PERIOD_KINDS: frozenset[str] = ENTRY_KINDS | {"gap"}
Relief = bool | None  # the technician was completely relieved of duty: True, False, or not recorded
ANY_RELIEF: frozenset[Relief] = frozenset({True, False, None})
MIN = 60


@dataclass(frozen=True)
class When:
    """The conditions of a row. Lengths are of the whole period, in real seconds: ``min_seconds``
    inclusive, ``below_seconds`` exclusive. ``setting`` / ``unless_setting`` name a PayrollSettings flag."""

    kinds: frozenset[str]
    min_seconds: int = 0
    below_seconds: int | None = None
    relieved: frozenset[Relief] = ANY_RELIEF
    commute: bool | None = None
    company_vehicle: bool | None = None
    setting: str | None = None
    unless_setting: str | None = None


@dataclass(frozen=True)
class HoursWorkedRule:
    id: str
    jurisdiction: str  # US-FLSA, US-CA, US-AK, US-NV, US-CO, or "policy"
    topic: str
    when: When
    paid: bool
    reason: str  # what a payroll clerk reads
    source: str
    protective: bool = False  # the data cannot tell: this is the employee-protective reading


@dataclass(frozen=True)
class Period:
    """A run of one kind (touching entries merged) or a gap, in epoch seconds [start, end)."""

    start: int
    end: int
    kind: str
    relieved: Relief = None
    commute: bool = False
    company_vehicle: bool = False

    @property
    def seconds(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class Decision:
    period: Period
    paid: bool
    rule: HoursWorkedRule
    others: tuple[HoursWorkedRule, ...] = field(default=())  # the other law's row, for the record

    def note(self) -> str:
        """One line for the preview: what, how long, paid or not, and why."""
        minutes = self.period.seconds / MIN
        length = f"{minutes:.0f} min" if minutes == int(minutes) else f"{minutes:.1f} min"
        label = KIND_LABELS.get(self.period.kind, self.period.kind)
        verdict = "paid" if self.paid else "not paid"
        extra = " — the data cannot tell; the employee-protective reading" if self.rule.protective else ""
        return f"{label} {length}: {verdict} — {self.rule.reason} [{self.rule.source}]{extra}"


KIND_LABELS = {"break": "break", "meal": "meal period", "rest": "rest period", "wait": "waiting",
               "on_call": "on call", "gap": "unrecorded gap", "travel": "travel", "work": "work"}


def _k(*kinds: str) -> frozenset[str]:
    return frozenset(kinds)


_NOT_RELIEVED: frozenset[Relief] = frozenset({False, None})
_RELIEVED_OR_UNKNOWN: frozenset[Relief] = frozenset({True, None})
_REST_MAX = 20 * MIN + 1  # "5 minutes to about 20 minutes" (29 CFR 785.18): up to and including 20
_MEAL_MIN = 30 * MIN  # "ordinarily 30 minutes or more" (785.19); 30 minutes in every state here
SHIFT_BREAK = 4 * 3600  # a longer stretch without entries separates two shifts: it is not a gap in one

FLSA = "US-FLSA"

_FLSA_ROWS: tuple[HoursWorkedRule, ...] = (
    HoursWorkedRule("flsa-work", FLSA, "work", When(_k("work")), True,
                    "work the technician is suffered or permitted to do is hours worked",
                    "29 U.S.C. 203(g); 29 CFR 785.11"),
    HoursWorkedRule("flsa-rest", FLSA, "rest", When(_k("rest")), True,
                    "rest periods are hours worked", "29 CFR 785.18"),
    HoursWorkedRule("flsa-break-rest", FLSA, "rest", When(_k("break"), below_seconds=_REST_MAX), True,
                    "a break of 20 minutes or less is a rest period, which is hours worked", "29 CFR 785.18"),
    HoursWorkedRule("flsa-meal-on-duty", FLSA, "meal", When(_k("meal", "break"), relieved=frozenset({False})), True,
                    "not completely relieved of duty, so not a bona fide meal period", "29 CFR 785.19(a)"),
    HoursWorkedRule("flsa-meal-short", FLSA, "meal", When(_k("meal"), below_seconds=_MEAL_MIN), True,
                    "shorter than 30 minutes, so not a bona fide meal period; counted like a rest period",
                    "29 CFR 785.19(a), 785.18"),
    HoursWorkedRule("flsa-break-unclear", FLSA, "rest", When(_k("break"), below_seconds=_MEAL_MIN), True,
                    "longer than a rest period (20 min) but shorter than a bona fide meal period (30 min)",
                    "29 CFR 785.18, 785.19(a)", protective=True),
    HoursWorkedRule("flsa-meal", FLSA, "meal", When(_k("meal", "break"), min_seconds=_MEAL_MIN), False,
                    "a bona fide meal period of 30 minutes or more, relieved of duty, is not hours worked",
                    "29 CFR 785.19(a)"),
    HoursWorkedRule("flsa-travel", FLSA, "travel", When(_k("travel"), commute=False), True,
                    "travel from job site to job site during the workday is hours worked", "29 CFR 785.38"),
    HoursWorkedRule("flsa-vehicle-agreement", FLSA, "commute",
                    When(_k("travel"), commute=True, company_vehicle=True, setting="commute_vehicle_agreement"),
                    False, "commuting in the company's vehicle within the normal commuting area under an "
                    "employer–employee agreement is not hours worked", "29 U.S.C. 254(a) (ECFA 1996)"),
    HoursWorkedRule("flsa-vehicle", FLSA, "commute", When(_k("travel"), commute=True, company_vehicle=True), True,
                    "commuting in the company's vehicle is excluded only under an employer–employee agreement, "
                    "and none is configured", "29 U.S.C. 254(a) (ECFA 1996)", protective=True),
    HoursWorkedRule("flsa-commute", FLSA, "commute", When(_k("travel"), commute=True), False,
                    "ordinary home-to-work travel is not hours worked", "29 CFR 785.35; 29 U.S.C. 254(a)"),
    HoursWorkedRule("flsa-wait-off-duty", FLSA, "wait",
                    When(_k("wait"), min_seconds=_MEAL_MIN, relieved=frozenset({True})), False,
                    "completely relieved of duty for long enough to use the time for own purposes",
                    "29 CFR 785.16(a)"),
    HoursWorkedRule("flsa-wait", FLSA, "wait", When(_k("wait")), True,
                    "an employee engaged to wait (for parts, for the customer) is working", "29 CFR 785.15"),
    HoursWorkedRule("flsa-on-call-free", FLSA, "on_call", When(_k("on_call"), relieved=frozenset({True})), False,
                    "on call but free to use the time for own purposes", "29 CFR 785.17"),
    HoursWorkedRule("flsa-on-call", FLSA, "on_call", When(_k("on_call"), relieved=frozenset({False})), True,
                    "on call and unable to use the time effectively for own purposes", "29 CFR 785.17"),
    HoursWorkedRule("flsa-on-call-unclear", FLSA, "on_call", When(_k("on_call")), True,
                    "on-call time counts unless the technician was free to use it (the entry does not say)",
                    "29 CFR 785.17", protective=True),
    HoursWorkedRule("flsa-gap-short", FLSA, "gap", When(_k("gap"), below_seconds=_MEAL_MIN), True,
                    "an unrecorded gap of under 30 minutes between paid periods is too short to be off duty",
                    "29 CFR 785.16(a), 785.18"),
    HoursWorkedRule("flsa-gap-off-duty", FLSA, "gap", When(_k("gap"), min_seconds=_MEAL_MIN), False,
                    "an unrecorded gap of 30 minutes or more is taken as off duty (record it as waiting if "
                    "the technician was on duty)", "29 CFR 785.16(a)"),
)

_WO4 = "IWC Wage Order 4 (8 CCR 11040)"
_CA_ROWS: tuple[HoursWorkedRule, ...] = (
    HoursWorkedRule("ca-work", "US-CA", "work", When(_k("work")), True,
                    "time subject to the employer's control, or suffered or permitted to work", f"{_WO4} §2(K)"),
    HoursWorkedRule("ca-rest", "US-CA", "rest", When(_k("rest")), True,
                    "authorized rest period time is counted as hours worked", f"{_WO4} §12(A)"),
    HoursWorkedRule("ca-break-rest", "US-CA", "rest", When(_k("break"), below_seconds=_REST_MAX), True,
                    "a break of 20 minutes or less is a rest period, counted as hours worked", f"{_WO4} §12(A)"),
    HoursWorkedRule("ca-meal-on-duty", "US-CA", "meal", When(_k("meal", "break"), relieved=frozenset({False})), True,
                    "an on-duty meal period is counted as time worked",
                    f"{_WO4} §11(C); Brinker v. Superior Court, 53 Cal.4th 1004 (2012)"),
    HoursWorkedRule("ca-meal-short", "US-CA", "meal", When(_k("meal", "break"), below_seconds=_MEAL_MIN), True,
                    "a meal period is at least 30 minutes free of duty; a shorter one is counted as time worked",
                    f"Cal. Labor Code 512(a); {_WO4} §11(A), (C)"),
    HoursWorkedRule("ca-meal", "US-CA", "meal", When(_k("meal", "break"), min_seconds=_MEAL_MIN), False,
                    "a duty-free meal period of 30 minutes or more is not hours worked",
                    "Cal. Labor Code 512(a); Brinker v. Superior Court, 53 Cal.4th 1004 (2012)"),
    HoursWorkedRule("ca-travel", "US-CA", "travel", When(_k("travel"), commute=False), True,
                    "travel between job sites is time under the employer's control", f"{_WO4} §2(K)"),
    HoursWorkedRule("ca-vehicle-optional", "US-CA", "commute",
                    When(_k("travel"), commute=True, company_vehicle=True, setting="company_vehicle_optional"),
                    False, "commuting in a company vehicle the technician may choose not to use is not under the "
                    "employer's control", "Hernandez v. Pacific Bell, 29 Cal.App.5th 131 (2018)"),
    HoursWorkedRule("ca-vehicle-required", "US-CA", "commute",
                    When(_k("travel"), commute=True, company_vehicle=True), True,
                    "commuting in a company vehicle the technician must use is time under the employer's control "
                    "(company setting: use is not optional)", "Morillion v. Royal Packing, 22 Cal.4th 575 (2000)"),
    HoursWorkedRule("ca-commute", "US-CA", "commute", When(_k("travel"), commute=True), False,
                    "the ordinary commute is not time under the employer's control",
                    "Morillion v. Royal Packing, 22 Cal.4th 575 (2000)"),
    HoursWorkedRule("ca-wait", "US-CA", "wait", When(_k("wait"), relieved=_NOT_RELIEVED), True,
                    "waiting under the employer's control is hours worked", f"{_WO4} §2(K)"),
    HoursWorkedRule("ca-on-call", "US-CA", "on_call", When(_k("on_call"), relieved=_NOT_RELIEVED), True,
                    "on-call time under the employer's control is hours worked",
                    "Mendiola v. CPS Security Solutions, 60 Cal.4th 833 (2015)"),
    HoursWorkedRule("ca-gap-short", "US-CA", "gap", When(_k("gap"), below_seconds=_MEAL_MIN), True,
                    "regularly occurring minutes of work time are not excused as de minimis",
                    f"Troester v. Starbucks, 5 Cal.5th 829 (2018); {_WO4} §2(K)"),
)

_NV_ROWS: tuple[HoursWorkedRule, ...] = (
    HoursWorkedRule("nv-work", "US-NV", "work", When(_k("work")), True,
                    "all time worked at the direction of the employer is paid", "NRS 608.016; NAC 608.115(1)"),
    HoursWorkedRule("nv-rest", "US-NV", "rest", When(_k("rest")), True,
                    "authorized rest periods are counted as hours worked", "NRS 608.019(2); NAC 608.145(1)"),
    HoursWorkedRule("nv-break-rest", "US-NV", "rest", When(_k("break"), below_seconds=_REST_MAX), True,
                    "a break of 20 minutes or less is a rest period, counted as hours worked",
                    "NRS 608.019(2); NAC 608.145(1)"),
    HoursWorkedRule("nv-meal-on-duty", "US-NV", "meal", When(_k("meal", "break"), relieved=frozenset({False})), True,
                    "a meal period worked at the employer's direction is time worked", "NRS 608.016; NAC 608.115(1)"),
    HoursWorkedRule("nv-meal-short", "US-NV", "meal", When(_k("meal", "break"), below_seconds=_MEAL_MIN), True,
                    "a period of less than 30 minutes does not interrupt a continuous period of work",
                    "NRS 608.019(1); NAC 608.145(3)"),
    HoursWorkedRule("nv-meal", "US-NV", "meal", When(_k("meal", "break"), min_seconds=_MEAL_MIN), False,
                    "a meal period of at least 30 minutes, relieved of duty, is not time worked", "NRS 608.019(1)"),
    HoursWorkedRule("nv-travel", "US-NV", "travel", When(_k("travel"), commute=False), True,
                    "travel between different work sites during a workday is time worked", "NAC 608.130(2)(a)(1)"),
    HoursWorkedRule("nv-commute", "US-NV", "commute", When(_k("travel"), commute=True), False,
                    "home-to-work travel is not time worked, whatever the place of work", "NAC 608.130(2)(b)"),
    HoursWorkedRule("nv-wait", "US-NV", "wait", When(_k("wait", "on_call"), relieved=_NOT_RELIEVED), True,
                    "time at the direction of the employer is time worked", "NRS 608.016; NAC 608.115(1)"),
    HoursWorkedRule("nv-gap-short", "US-NV", "gap", When(_k("gap"), below_seconds=_MEAL_MIN), True,
                    "a period of less than 30 minutes does not interrupt a continuous period of work",
                    "NAC 608.145(3)"),
)

_COMPS = "COMPS Order #39 (7 CCR 1103-1)"
_CO_ROWS: tuple[HoursWorkedRule, ...] = (
    HoursWorkedRule("co-work", "US-CO", "work", When(_k("work")), True,
                    "time the employee is performing labor or required to be present is time worked",
                    f"{_COMPS} Rule 1.9"),
    HoursWorkedRule("co-rest", "US-CO", "rest", When(_k("rest")), True,
                    "rest periods are compensated", f"{_COMPS} Rule 5.2"),
    HoursWorkedRule("co-break-rest", "US-CO", "rest", When(_k("break"), below_seconds=_REST_MAX), True,
                    "a break of 20 minutes or less is a compensated rest period", f"{_COMPS} Rule 5.2"),
    HoursWorkedRule("co-meal-on-duty", "US-CO", "meal", When(_k("meal", "break"), relieved=frozenset({False})), True,
                    "an on-duty meal period is compensated", f"{_COMPS} Rule 5.1"),
    HoursWorkedRule("co-meal-short", "US-CO", "meal", When(_k("meal", "break"), below_seconds=_MEAL_MIN), True,
                    "only an uninterrupted, duty-free meal period of at least 30 minutes is uncompensated",
                    f"{_COMPS} Rule 5.1"),
    HoursWorkedRule("co-meal", "US-CO", "meal", When(_k("meal", "break"), min_seconds=_MEAL_MIN), False,
                    "a 30-minute uninterrupted, duty-free meal period is non-work, uncompensated time",
                    f"{_COMPS} Rule 5.1"),
    HoursWorkedRule("co-travel", "US-CO", "travel", When(_k("travel"), commute=False), True,
                    "travel at the employer's direction during the workday is time worked",
                    f"{_COMPS} Rule 1.9.2; Colorado INFO #20C"),
    HoursWorkedRule("co-commute", "US-CO", "commute", When(_k("travel"), commute=True), False,
                    "normal home-to-work travel is not time worked", f"{_COMPS} Rule 1.9.2"),
    HoursWorkedRule("co-wait", "US-CO", "wait", When(_k("wait", "on_call"), relieved=_NOT_RELIEVED), True,
                    "required presence at any location is time worked, even if no productive work is done",
                    f"{_COMPS} Rule 1.9; Colorado INFO #20A"),
    HoursWorkedRule("co-gap-short", "US-CO", "gap", When(_k("gap"), below_seconds=_MEAL_MIN), True,
                    "time between the start and end of the workday is time worked unless it is a long enough "
                    "break, fully relieved of duty", "Colorado INFO #20 (continuous workday)"),
)


def _alaska_rows() -> tuple[HoursWorkedRule, ...]:
    """Alaska adopts 29 CFR 785.11–.25, .27–.33, .35–.45, .47–.48 (8 AAC 15.105(b)) — the federal rows
    with Alaska's citation — except the commuting-vehicle act (29 CFR 785.50 / 29 U.S.C. 254, not
    adopted; the FLSA's own row still applies in Alaska), plus its on-call / standby relief rule."""
    def cfr_only(source: str) -> str:  # Alaska adopts the 29 CFR 785 sections, not the federal statute
        return "; ".join(part for part in source.split("; ") if part.startswith("29 CFR"))

    adopted = tuple(
        replace(r, id=r.id.replace("flsa-", "ak-"), jurisdiction="US-AK",
                source=f"8 AAC 15.105(b), adopting {cfr_only(r.source)}")
        for r in _FLSA_ROWS if r.id not in {"flsa-vehicle-agreement", "flsa-vehicle", "flsa-wait-off-duty",
                                            "flsa-wait", "flsa-on-call-free", "flsa-on-call", "flsa-on-call-unclear"}
    )
    standby = (
        HoursWorkedRule("ak-standby-relieved", "US-AK", "wait",
                        When(_k("wait", "on_call"), min_seconds=20 * MIN, relieved=frozenset({True})), False,
                        "completely relieved of all duties for 20 minutes or more and free to use the time",
                        "8 AAC 15.100(c)"),
        HoursWorkedRule("ak-standby", "US-AK", "wait", When(_k("wait", "on_call")), True,
                        "on-call and standby time counts unless completely relieved of all duties for 20 minutes "
                        "or more", "8 AAC 15.100(c)"),
    )
    return adopted + standby


_POLICY_ROWS: tuple[HoursWorkedRule, ...] = (
    HoursWorkedRule("policy-paid-commute", "policy", "commute",
                    When(_k("travel"), commute=True, setting="paid_commute_travel"), True,
                    "company policy: commute travel is paid", "company setting paid_commute_travel"),
    HoursWorkedRule("policy-paid-meals", "policy", "meal", When(_k("meal", "break"), setting="paid_meal_periods"),
                    True, "company policy: meal periods are paid", "company setting paid_meal_periods"),
)

#: every law's rows, read top to bottom; "policy" holds what a company pays beyond the law
RULES: MappingProxyType[str, tuple[HoursWorkedRule, ...]] = MappingProxyType({
    FLSA: _FLSA_ROWS, "US-CA": _CA_ROWS, "US-AK": _alaska_rows(), "US-NV": _NV_ROWS, "US-CO": _CO_ROWS,
    "policy": _POLICY_ROWS,
})


def all_rules() -> list[HoursWorkedRule]:
    return [r for rows in RULES.values() for r in rows]


def _matches(when: When, p: Period, settings: object) -> bool:
    return (p.kind in when.kinds and p.seconds >= when.min_seconds
            and (when.below_seconds is None or p.seconds < when.below_seconds)
            and p.relieved in when.relieved
            and (when.commute is None or p.commute == when.commute)
            and (when.company_vehicle is None or p.company_vehicle == when.company_vehicle)
            and (when.setting is None or bool(getattr(settings, when.setting)))
            and (when.unless_setting is None or not getattr(settings, when.unless_setting)))


def first_match(rows: Iterable[HoursWorkedRule], period: Period, settings: object) -> HoursWorkedRule | None:
    return next((r for r in rows if _matches(r.when, period, settings)), None)


def decide(period: Period, jurisdiction: str, settings: object) -> Decision:
    """Paid or not, and the row that says why. The federal floor applies in every state."""
    policy = first_match(RULES["policy"], period, settings)
    state = first_match(RULES[jurisdiction], period, settings) if jurisdiction != FLSA else None
    federal = first_match(RULES[FLSA], period, settings)
    if federal is None:
        raise LookupError(f"no FLSA row covers a {period.kind} period: the rule table is incomplete")
    laws = [r for r in (state, federal) if r is not None]
    paying = [r for r in laws if r.paid]
    if paying:
        return Decision(period, True, paying[0], tuple(r for r in laws if r is not paying[0]))
    if policy is not None and policy.paid:
        return Decision(period, True, policy, tuple(laws))
    return Decision(period, False, laws[0], tuple(laws[1:]))


def periods_of(entries: Sequence[tuple[int, int, str, Relief, bool, bool]]) -> list[Period]:
    """Merge touching entries of the same kind and flags into periods (an entry split in two is one period)."""
    out: list[Period] = []
    for start, end, kind, relieved, commute, vehicle in sorted(entries, key=lambda e: (e[0], e[1])):
        last = out[-1] if out else None
        if (last is not None and last.end == start and last.kind == kind and last.relieved == relieved
                and last.commute == commute and last.company_vehicle == vehicle):
            out[-1] = replace(last, end=end)
        else:
            out.append(Period(start, end, kind, relieved, commute, vehicle))
    return out


def classify(entries: Sequence[tuple[int, int, str, Relief, bool, bool]], jurisdiction: str,
             settings: object) -> list[Decision]:
    """Decisions for every period of one technician, then for the unrecorded gaps between paid periods."""
    decisions = [decide(p, jurisdiction, settings) for p in periods_of(entries)]
    gaps = []
    paid = sorted((d.period for d in decisions if d.paid), key=lambda p: p.start)
    covered = sorted((d.period.start, d.period.end) for d in decisions)
    for before, after in pairwise(paid):
        if 0 < after.start - before.end < SHIFT_BREAK and not _recorded_between(covered, before.end, after.start):
            gaps.append(decide(Period(before.end, after.start, "gap"), jurisdiction, settings))
    return sorted(decisions + gaps, key=lambda d: (d.period.start, d.period.end))


def _recorded_between(covered: list[tuple[int, int]], start: int, end: int) -> bool:
    """Whether any recorded period (paid or not, e.g. an unpaid meal) lies inside the gap."""
    return any(s < end and e > start for s, e in covered)


Topic = Literal["work", "rest", "meal", "travel", "commute", "wait", "on_call", "gap"]


def rule_table_markdown() -> str:
    """The rows as a markdown table (docs/hours.md carries it; a test keeps the two equal)."""
    lines = ["| law | row | topic | when | paid | why | source |", "|---|---|---|---|---|---|---|"]
    for jurisdiction, rows in RULES.items():
        for r in rows:
            lines.append(f"| {jurisdiction} | `{r.id}` | {r.topic} | {_describe(r.when)} | "
                         f"{'yes' + (' (protective)' if r.protective else '') if r.paid else 'no'} | "
                         f"{r.reason} | {r.source} |")
    return "\n".join(lines)


def _describe(when: When) -> str:
    parts = ["/".join(sorted(when.kinds))]
    if when.min_seconds:
        parts.append(f"≥ {when.min_seconds // MIN} min")
    if when.below_seconds is not None:
        parts.append(f"≤ {(when.below_seconds - 1) // MIN} min" if when.below_seconds % MIN == 1
                     else f"< {when.below_seconds // MIN} min")
    if when.relieved != ANY_RELIEF:
        names = {True: "relieved", False: "on duty", None: "not recorded"}
        parts.append("relief: " + " or ".join(names[v] for v in (True, False, None) if v in when.relieved))
    if when.commute is not None:
        parts.append("commute" if when.commute else "between sites")
    if when.company_vehicle:
        parts.append("company vehicle")
    if when.setting:
        parts.append(f"setting `{when.setting}`")
    if when.unless_setting:
        parts.append(f"unless `{when.unless_setting}`")
    return ", ".join(parts)
