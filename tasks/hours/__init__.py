"""Hours engine: time entries → regular / overtime / double time per workday and workweek.

Pure Python (pendulum only). The Prefect wrapper lives in ``tasks.hours.task`` and is not imported
here, so importing the engine stays cheap.
"""

from tasks.hours.csv_input import parse_csv, read_csv, read_csv_files
from tasks.hours.engine import check_settings, compute_hours
from tasks.hours.model import (
    HoursInputError,
    InputProblem,
    PayrollSettings,
    TechnicianHours,
    WeekTotals,
    WorkdayHours,
    WorkInterval,
    parse_clock_time,
    parse_weekday,
)
from tasks.hours.rules import JURISDICTIONS, JurisdictionRule, PayClass, Threshold, get_rule

__all__ = [
    "JURISDICTIONS",
    "HoursInputError",
    "InputProblem",
    "JurisdictionRule",
    "PayClass",
    "PayrollSettings",
    "TechnicianHours",
    "Threshold",
    "WeekTotals",
    "WorkInterval",
    "WorkdayHours",
    "check_settings",
    "compute_hours",
    "get_rule",
    "parse_clock_time",
    "parse_csv",
    "parse_weekday",
    "read_csv",
    "read_csv_files",
]
