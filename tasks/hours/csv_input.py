"""Read time entries from CSV, reporting every bad row with its line number.

Columns: ``technician_id,start,end,kind`` plus optional ``commute`` and ``company_vehicle`` (true/false,
travel entries) and ``relieved`` (true/false/empty: was the technician completely relieved of duty during
a break, meal, wait or on-call period; empty = not recorded). Other columns are ignored, and so are
blank lines and lines starting with ``#`` (comments, e.g. a source citation in a fixture). Times are
ISO 8601 with a UTC offset. A file with any problem yields no entries at all: a half-read timesheet
would produce wrong overtime, which is worse than none.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from tasks.hours.model import HoursInputError, InputProblem, WorkInterval, find_overlaps

REQUIRED_COLUMNS: tuple[str, ...] = ("technician_id", "start", "end", "kind")
_TRUE = frozenset({"1", "true", "t", "yes", "y"})
_FALSE = frozenset({"", "0", "false", "f", "no", "n"})


def parse_csv(text: str, source: str | None = None) -> list[WorkInterval]:
    """Entries of one CSV document; raises HoursInputError listing every problem by line."""
    return _finish(*_parse(text, source))


def read_csv(path: Path) -> list[WorkInterval]:
    """Entries of one CSV file (UTF-8, BOM tolerated)."""
    return read_csv_files([path])


def read_csv_files(paths: Iterable[Path]) -> list[WorkInterval]:
    """Union of several files, e.g. one workweek exported in two parts; overlaps are checked across them."""
    entries: list[WorkInterval] = []
    where: list[tuple[str | None, int]] = []
    problems: list[InputProblem] = []
    for path in paths:
        try:
            text = Path(path).read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(InputProblem(f"cannot read file: {exc}", source=str(path)))
            continue
        file_entries, file_where, file_problems = _parse(text, str(path))
        entries += file_entries
        where += file_where
        problems += file_problems
    return _finish(entries, where, problems)


def _finish(
    entries: list[WorkInterval], where: list[tuple[str | None, int]], problems: list[InputProblem]
) -> list[WorkInterval]:
    for overlap in find_overlaps(entries):
        source, line = where[overlap.index]
        other_source, other_line = where[overlap.other]
        other = f"line {other_line}" if other_source == source else f"{other_source} line {other_line}"
        tech = entries[overlap.index].technician_id
        problems.append(InputProblem(f"overlaps {other} (technician {tech})", line, source))
    if problems:
        raise HoursInputError(sorted(problems, key=lambda p: (p.source or "", p.line or 0)))
    return entries


def _parse(
    text: str, source: str | None
) -> tuple[list[WorkInterval], list[tuple[str | None, int]], list[InputProblem]]:
    """Parse rows; returns the good entries with their (source, line) and the problems found."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    entries: list[WorkInterval] = []
    where: list[tuple[str | None, int]] = []
    problems: list[InputProblem] = []
    header = next(reader, None)
    columns = {name.strip().lower(): i for i, name in enumerate(header or [])}
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        expected = ",".join(REQUIRED_COLUMNS)
        problems.append(InputProblem(f"header must name {expected}; missing {', '.join(missing)}", 1, source))
        return entries, where, problems
    last_line = reader.line_num
    for row in reader:
        line, last_line = last_line + 1, reader.line_num
        if not any(cell.strip() for cell in row) or row[0].lstrip().startswith("#"):
            continue
        row_problems, entry = _parse_row(row, columns)
        problems += [InputProblem(p, line, source) for p in row_problems]
        if entry is not None:
            entries.append(entry)
            where.append((source, line))
    return entries, where, problems


def _parse_row(row: list[str], columns: dict[str, int]) -> tuple[list[str], WorkInterval | None]:
    needed = max(columns[c] for c in REQUIRED_COLUMNS) + 1
    if len(row) < needed:
        return [f"expected at least {needed} columns, got {len(row)}"], None
    cell = {name: row[i].strip() if i < len(row) else "" for name, i in columns.items()}
    problems: list[str] = []
    start, end = (_parse_time(name, cell[name], problems) for name in ("start", "end"))
    commute = _parse_bool("commute", cell.get("commute", ""), problems)
    vehicle = _parse_bool("company_vehicle", cell.get("company_vehicle", ""), problems)
    relieved = None if not cell.get("relieved", "") else _parse_bool("relieved", cell["relieved"], problems)
    if problems or start is None or end is None:
        return problems, None
    try:
        return [], WorkInterval(cell["technician_id"], start, end, cell["kind"].lower(), commute,
                                relieved=relieved, company_vehicle=vehicle)
    except HoursInputError as exc:
        return [p.message for p in exc.problems], None


def _parse_time(name: str, value: str, problems: list[str]) -> datetime | None:
    if not value:
        problems.append(f"{name} is empty")
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        problems.append(f"{name} {value!r} is not an ISO 8601 time (e.g. 2026-03-08T07:00:00-08:00)")
        return None


def _parse_bool(name: str, value: str, problems: list[str]) -> bool:
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text not in _FALSE:
        problems.append(f"{name} {value!r} is not true/false")
    return False
