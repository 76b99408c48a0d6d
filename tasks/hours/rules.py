"""Overtime rules per jurisdiction, as data (DESIGN.md §3.3: "as data, not if chains").

A rule is a list of thresholds the engine applies in order. Each threshold says: within a scope
(a workday, the seventh consecutive workday of a workweek, a run of consecutive work, a workweek),
paid time beyond ``after_hours`` is paid at least at ``pay_class``. Classes only ever go up, so an
hour is never counted twice ("no pyramiding"). Weekly thresholds count only hours still at the
regular rate, which equals "daily or weekly overtime, whichever is greater" (AS 23.10.060(b)).
Adding a jurisdiction is adding a record here; the engine does not change.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import IntEnum
from types import MappingProxyType
from typing import Literal

from tasks.hours.model import HoursInputError

Scope = Literal["workday", "seventh_day", "consecutive", "workweek"]
Counts = Literal["all", "regular"]
Workday = Literal["fixed", "rolling_24h"]


class PayClass(IntEnum):
    """Pay classes, ordered so that ``max`` picks the premium that applies."""

    REGULAR = 0
    OVERTIME = 1
    DOUBLE_TIME = 2


@dataclass(frozen=True)
class Threshold:
    """Paid time in ``scope`` beyond ``after_hours`` is raised to ``pay_class``.

    ``counts="regular"`` counts only time still at the regular rate (weekly rules).
    ``below_minimum_wage_multiple``: the threshold applies only to technicians whose hourly rate is
    below that multiple of ``PayrollSettings.nv_minimum_wage`` (or whose rate is unknown).
    """

    scope: Scope
    after_hours: Decimal
    pay_class: PayClass
    source: str
    counts: Counts = "all"
    below_minimum_wage_multiple: Decimal | None = None

    @property
    def after_seconds(self) -> int:
        return int(self.after_hours * 3600)


@dataclass(frozen=True)
class JurisdictionRule:
    """How one jurisdiction turns hours worked into regular / overtime / double time.

    ``workday="fixed"``: the company's 24-hour workday from ``workday_start``;
    ``"rolling_24h"``: 24 consecutive hours starting when the employee begins work (NRS 608.0126).
    """

    key: str
    name: str
    workday: Workday
    thresholds: tuple[Threshold, ...]
    sources: tuple[str, ...]


_H = Decimal
OT, DT = PayClass.OVERTIME, PayClass.DOUBLE_TIME
_WEEKLY_40 = "over 40 hours in the workweek"

_RULES = (
    JurisdictionRule(
        key="US-FLSA",
        name="Federal Fair Labor Standards Act",
        workday="fixed",
        thresholds=(
            Threshold("workweek", _H(40), OT, "29 U.S.C. 207(a); 29 CFR 778.101-778.105", "regular"),
        ),
        sources=(
            "29 CFR 778.103-778.105 (workweek basis; each workweek stands alone; fixed 168-hour workweek)",
            "29 CFR 785.19 (bona fide meal periods not worked), 785.35 (home-to-work travel), "
            "785.38 (travel between job sites is work)",
            "DOL FLSA Hours Worked Advisor, Daylight Savings Time (credit all hours actually worked)",
        ),
    ),
    JurisdictionRule(
        key="US-CA",
        name="California",
        workday="fixed",
        thresholds=(
            Threshold("workday", _H(8), OT, "Cal. Labor Code 510(a): over 8 hours in one workday"),
            Threshold("workday", _H(12), DT, "Cal. Labor Code 510(a): over 12 hours in one day"),
            Threshold("seventh_day", _H(0), OT, "Cal. Labor Code 510(a): first 8 hours on the seventh day"),
            Threshold("seventh_day", _H(8), DT, "Cal. Labor Code 510(a): over 8 hours on the seventh day"),
            Threshold("workweek", _H(40), OT, f"Cal. Labor Code 510(a): {_WEEKLY_40}", "regular"),
        ),
        sources=(
            "Cal. Labor Code 500 (workday, workweek), 510 (overtime, double time, seventh day)",
            "DLSE Enforcement Manual ch. 48-49 and Monzon v. Schaefer Ambulance Service, 224 Cal.App.3d 16 "
            "(1990): no pyramiding, daily overtime hours are not counted toward the 40-hour week",
            "Mendoza v. Nordstrom, 3 Cal.5th 1074 (2017): the seventh day is within the employer's workweek",
        ),
    ),
    JurisdictionRule(
        key="US-AK",
        name="Alaska",
        workday="fixed",
        thresholds=(
            Threshold("workday", _H(8), OT, "AS 23.10.060(b): over 8 hours a day"),
            Threshold("workweek", _H(40), OT, f"AS 23.10.060(b): {_WEEKLY_40}, excl. daily OT", "regular"),
        ),
        sources=(
            "AS 23.10.060 (daily over 8 / weekly over 40 at 1.5x; daily OT hours excluded from the 40)",
        ),
    ),
    JurisdictionRule(
        key="US-NV",
        name="Nevada",
        workday="rolling_24h",
        thresholds=(
            Threshold(
                "workday",
                _H(8),
                OT,
                "NRS 608.018(1)(b): over 8 hours in a workday, if paid < 1.5x minimum wage",
                below_minimum_wage_multiple=Decimal("1.5"),
            ),
            Threshold("workweek", _H(40), OT, f"NRS 608.018(1)(a), (2): {_WEEKLY_40}", "regular"),
        ),
        sources=(
            "NRS 608.018 (overtime), 608.0126 (workday: 24 consecutive hours from when the employee "
            "begins work), 608.0123 (week of work)",
        ),
    ),
    JurisdictionRule(
        key="US-CO",
        name="Colorado",
        workday="fixed",
        thresholds=(
            Threshold("workday", _H(12), OT, "COMPS Order (7 CCR 1103-1) Rule 4.1.1: over 12 per workday"),
            Threshold(
                "consecutive",
                _H(12),
                OT,
                "COMPS Order Rule 4.1.1: over 12 consecutive hours, regardless of workday "
                "(duty-free meal periods excluded)",
            ),
            Threshold("workweek", _H(40), OT, f"COMPS Order Rule 4.1.1: {_WEEKLY_40}", "regular"),
        ),
        sources=(
            "COMPS Order (7 CCR 1103-1) Rule 4.1: whichever of 40/week, 12/workday, 12 consecutive "
            "hours yields the greater pay",
        ),
    ),
)

#: Registry of jurisdiction rules by key (read-only).
JURISDICTIONS: MappingProxyType[str, JurisdictionRule] = MappingProxyType({r.key: r for r in _RULES})


def get_rule(key: str) -> JurisdictionRule:
    """The rule for ``key``; an unknown key is an input error, not a silent FLSA fallback."""
    try:
        return JURISDICTIONS[key]
    except KeyError:
        known = ", ".join(JURISDICTIONS)
        raise HoursInputError(f"unknown jurisdiction {key!r} (known: {known})") from None
