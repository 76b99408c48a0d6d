"""Canonical ↔ Gusto time-sheet payloads. Pure functions."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from connectors.contract.records import TimeOff, TimesheetDay, TimesheetSummary, VendorRecord

KEY_FIELD = "fieldbridge_key"
CLASSIFICATIONS = (("regular_hours", "Regular"), ("overtime_hours", "Overtime"),
                   ("double_time_hours", "Double overtime"))


def entries(day: TimesheetDay) -> list[dict[str, str]]:
    """Entries per pay classification; zero classifications are left out."""
    return [
        {"hours_worked": f"{getattr(day, attr):.3f}", "pay_classification": label}
        for attr, label in CLASSIFICATIONS
        if getattr(day, attr) > 0
    ]


def time_sheet_body(day: TimesheetDay) -> dict[str, Any]:
    return {
        "entity_uuid": day.employee_id,
        "entity_type": "Employee",
        "time_zone": day.timezone,
        "shift_started_at": day.shift_start.isoformat(),
        "shift_ended_at": day.shift_end.isoformat(),
        "metadata": {KEY_FIELD: day.key, "workday": day.workday.isoformat(), "travel_hours": f"{day.travel_hours:.2f}",
                     "paid_break_hours": f"{day.paid_break_hours:.2f}"},
        "entries": entries(day),
    }


def same_hours(doc: dict[str, Any], day: TimesheetDay) -> bool:
    """Whether the sheet at Gusto already says what we would write."""
    theirs = {e["pay_classification"]: Decimal(str(e["hours_worked"])) for e in doc.get("entries", [])}
    ours = {e["pay_classification"]: Decimal(e["hours_worked"]) for e in entries(day)}
    meta = doc.get("metadata", {})
    return (theirs == ours and meta.get("travel_hours") == f"{day.travel_hours:.2f}"
            and meta.get("paid_break_hours", "0.00") == f"{day.paid_break_hours:.2f}")


def summary(doc: dict[str, Any]) -> TimesheetSummary:
    """A sheet's paid hours on its workday (ours say the workday in metadata; others: the shift's local date)."""
    meta = doc.get("metadata") or {}
    workday = meta.get("workday") or str(doc.get("shift_started_at", ""))[:10]
    hours = sum((Decimal(str(e.get("hours_worked", "0"))) for e in doc.get("entries") or []), Decimal(0))
    return TimesheetSummary(id=str(doc["uuid"]), employee_id=str(doc.get("entity_uuid")),
                            workday=date.fromisoformat(workday), hours=hours, key=meta.get(KEY_FIELD))


def record(doc: dict[str, Any]) -> VendorRecord:
    return VendorRecord(id=doc["uuid"], version=doc["version"], raw=doc)


def _hours(value: Any) -> Decimal:
    """"8.000" → 8, "4.500" → 4.5 (exact, without Gusto's padding)."""
    return Decimal(format(Decimal(str(value)).normalize(), "f"))


#: Gusto's request statuses in the words of the HR role (TimeOff.status)
TIME_OFF_STATUSES = {"approved": "approved", "pending": "requested", "denied": "denied"}


def time_off(row: dict[str, Any]) -> TimeOff:
    """A Gusto time off request: `days` maps each date to the hours taken (strings, "8.000"); the employee is
    its uuid (the technician's payroll id, which is also their HR id when Gusto plays HR)."""
    days = tuple(sorted((date.fromisoformat(d), _hours(h)) for d, h in (row.get("days") or {}).items()))
    if not days:
        raise ValueError(f"Gusto time off request {row.get('id')} has no days")
    return TimeOff(vendor_id=str(row["id"]), employee_id=str((row.get("employee") or {}).get("uuid", "")),
                   start=days[0][0], end=days[-1][0],
                   kind=str(row.get("request_type") or "time off").replace("_", " ").capitalize(),
                   status=TIME_OFF_STATUSES.get(str(row.get("status")), str(row.get("status"))),
                   amount=sum((h for _, h in days), Decimal(0)), unit="hours", days=days)
