"""``fieldbridge hours FILE``: a dispatcher's check of what payroll will receive for a CSV of time entries.

Registered by the main CLI with ``app.command("hours")(hours_command)``. Any problem in the options
or the file is printed to stderr with its line number and the command exits 2 without computing:
partial hours would look plausible and be wrong.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import time
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from tasks.hours import (
    HoursInputError,
    InputProblem,
    PayrollSettings,
    TechnicianHours,
    WeekTotals,
    WorkdayHours,
    check_settings,
    compute_hours,
    parse_clock_time,
    parse_weekday,
    read_csv_files,
)

EXIT_INPUT_ERROR = 2
T = TypeVar("T")
_WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def hours_command(
    files: Annotated[list[Path], typer.Argument(
        help="CSV file(s) with columns technician_id,start,end,kind[,commute,company_vehicle,relieved]; kinds: "
             "work, travel, break, meal, rest, wait, on_call. Several files (e.g. a week exported in parts) are "
             "computed together, overlaps checked across them.")],
    jurisdiction: Annotated[str, typer.Option(help="US-FLSA, US-CA, US-AK, US-NV or US-CO.")] = "US-FLSA",
    tz: Annotated[str, typer.Option(help="Company IANA time zone.")] = "America/Los_Angeles",
    workday_start: Annotated[str, typer.Option(help="Company workday start, HH:MM local.")] = "00:00",
    workweek_start: Annotated[str, typer.Option(help="First day of the workweek: mon..sun.")] = "sun",
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Compute regular, overtime and double-time hours per technician, workday and workweek."""
    problems: list[InputProblem] = []
    day_start = _collect(problems, lambda: parse_clock_time(workday_start), time(0, 0))
    week_start = _collect(problems, lambda: parse_weekday(workweek_start), 6)
    settings = PayrollSettings(
        timezone=tz, workday_start=day_start, workweek_start=week_start, jurisdiction=jurisdiction
    )
    _collect(problems, lambda: check_settings(settings), None)
    entries = _collect(problems, lambda: read_csv_files(files), [])
    result: dict[str, TechnicianHours] = {}
    if not problems:
        result = _collect(problems, lambda: compute_hours(entries, settings), result)
    if problems:
        for problem in problems:
            typer.echo(f"error: {problem}", err=True)
        typer.echo(f"no hours computed: {len(problems)} problem(s) in the input", err=True)
        raise typer.Exit(EXIT_INPUT_ERROR)
    if json_output:
        typer.echo(json.dumps(hours_as_json(result.values()), indent=2))
    else:
        typer.echo(hours_as_table(result.values(), settings))


def _collect(problems: list[InputProblem], produce: Callable[[], T], fallback: T) -> T:
    """Run ``produce``; on HoursInputError keep its problems and return ``fallback`` to continue checking."""
    try:
        return produce()
    except HoursInputError as exc:
        problems.extend(exc.problems)
        return fallback


def hours_as_json(technicians: Iterable[TechnicianHours]) -> dict[str, list[dict[str, object]]]:
    """JSON shape of the ``--json`` output: hours as numbers rounded to hundredths."""

    def amounts(row: WorkdayHours | WeekTotals) -> dict[str, float]:
        names = ("regular", "overtime", "double_time", "travel", "paid_breaks", "paid_gaps", "paid_standby",
                 "unpaid", "total")
        return {name: float(getattr(row, name)) for name in names}

    return {
        "technicians": [
            {
                "technician_id": tech.technician_id,
                "workdays": [
                    {"date": d.date.isoformat(), "week_start": d.week_start.isoformat(), **amounts(d),
                     "notes": list(d.notes)}
                    for d in tech.workdays
                ],
                "week_totals": [{"week_start": w.week_start.isoformat(), **amounts(w)} for w in tech.weeks],
            }
            for tech in technicians
        ]
    }


def hours_as_table(technicians: Iterable[TechnicianHours], settings: PayrollSettings) -> str:
    """Plain-text table, one block per technician, one line per workday and per workweek."""
    start = settings.workday_start.strftime("%H:%M")
    weekday = _WEEKDAY_NAMES[settings.workweek_start]
    lines = [
        f"{settings.jurisdiction}, {settings.timezone}: workdays start {start}, workweeks {weekday} {start}"
    ]
    header = (f"  {'':<16}{'regular':>9}{'overtime':>10}{'double':>9}{'travel':>9}{'breaks':>9}{'total':>9}"
              "   (travel and paid breaks are inside the total)")
    for tech in technicians:
        lines += ["", f"{tech.technician_id}", header]
        for d in tech.workdays:
            lines.append(_table_row(f"{d.date:%a %Y-%m-%d}", d))
            lines += [f"      {note}" for note in d.notes]
        lines += [_table_row(f"week {w.week_start:%Y-%m-%d}", w) for w in tech.weeks]
    return "\n".join(lines)


def _table_row(label: str, row: WorkdayHours | WeekTotals) -> str:
    return (f"  {label:<16}{row.regular:>9}{row.overtime:>10}{row.double_time:>9}{row.travel:>9}"
            f"{row.paid_breaks:>9}{row.total:>9}")
