"""Canonical ↔ BambooHR hour entries. Pure functions.

BambooHR keeps hours as entries per employee and date, with server-assigned ids: fieldbridge writes one
entry per pay classification (regular, overtime, double time) and marks each with its key in the note —
the marker is how a lost answer is found again, and how the day's entries are updated in place.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

from connectors.contract import DataError, TimesheetDay, TimesheetSummary, VendorRecord

CLASSES = (("regular_hours", "regular", "Regular hours"), ("overtime_hours", "overtime", "Overtime"),
           ("double_time_hours", "double", "Double time"))


_MARKER = re.compile(r"\[fieldbridge (\S+) (regular|overtime|double)\]")


def summaries(entries: list[dict[str, Any]]) -> list[TimesheetSummary]:
    """fieldbridge's workday sheets among hour entries: entries with the same key make one sheet."""
    sheets: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        found = _MARKER.search(str(entry.get("note") or ""))
        if found:
            sheets.setdefault(found.group(1), []).append(entry)
    out = []
    for key, rows in sheets.items():
        workday = key.rsplit(":", 1)[-1]
        out.append(TimesheetSummary(
            id=",".join(str(r.get("id")) for r in rows), employee_id=str(rows[0].get("employeeId")),
            workday=date.fromisoformat(workday) if _is_date(workday) else date.fromisoformat(str(rows[0]["date"])),
            hours=sum((Decimal(str(r.get("hours") or 0)) for r in rows), Decimal(0)), key=key))
    return out


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def marker(day: TimesheetDay, cls: str) -> str:
    return f"[fieldbridge {day.key} {cls}]"


def employee_number(day: TimesheetDay) -> int:
    try:
        return int(day.employee_id)
    except ValueError:
        raise DataError("bamboohr", f"BambooHR employee ids are numbers; {day.employee_id!r} is not") from None


def wanted_entries(day: TimesheetDay) -> dict[str, dict[str, Any]]:
    """classification → the entry fieldbridge wants for it (zero-hour classes are absent)."""
    out = {}
    for attr, cls, label in CLASSES:
        hours = getattr(day, attr)
        if hours > 0:
            extra = f"; travel {day.travel_hours} h, paid breaks {day.paid_break_hours} h" if cls == "regular" else ""
            out[cls] = {"employeeId": employee_number(day), "date": day.workday.isoformat(), "hours": hours,
                        "note": f"{label}{extra} {marker(day, cls)}"}
    return out


def ours(entries: list[dict[str, Any]], day: TimesheetDay) -> dict[str, dict[str, Any]]:
    """classification → our existing entry for the day, recognised by its marker."""
    found = {}
    for entry in entries:
        for _, cls, _ in CLASSES:
            if marker(day, cls) in (entry.get("note") or ""):
                found[cls] = entry
    return found


def same(existing: dict[str, dict[str, Any]], wanted: dict[str, dict[str, Any]]) -> bool:
    return existing.keys() == wanted.keys() and all(
        Decimal(str(existing[c]["hours"])) == Decimal(str(wanted[c]["hours"])) and existing[c].get("note") ==
        wanted[c]["note"] for c in wanted)


def day_record(entries: dict[str, dict[str, Any]]) -> VendorRecord:
    ids = ",".join(str(entries[c]["id"]) for _, c, _ in CLASSES if c in entries)
    return VendorRecord(id=ids or "none", raw={"entries": entries})
