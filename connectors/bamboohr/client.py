"""BambooHR as payroll (hour entries per employee and day) and HR (time off, who's out).

Auth is the API key as the Basic-auth user name. Hour entries get server-assigned ids, so a create is not
idempotent by itself: a lost answer raises UnknownOutcomeError and the ledger's lookup finds the entries
by the marker in their note before anything is written again.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
from pydantic import SecretStr

from connectors.bamboohr import mapping
from connectors.bamboohr.errors import ERRORS, describe
from connectors.contract import TimeOff, TimesheetDay, TimesheetSummary, VendorRecord
from connectors.http import HttpClient, RetryPolicy, budget_for, quota

#: requests per second: BambooHR publishes no number (its 503s say when it is exceeded)
RATE_LIMIT = 10

class ApiKeyBasic:
    """BambooHR's scheme: the API key as the user name, any password."""

    def __init__(self, api_key: SecretStr) -> None:
        self._value = "Basic " + base64.b64encode(f"{api_key.get_secret_value()}:x".encode()).decode()

    def apply(self, request: httpx.Request) -> None:
        request.headers["Authorization"] = self._value

    def refresh(self, failed_request: httpx.Request) -> bool:
        return False


class BambooHRPayroll:
    system = "bamboohr"

    def __init__(self, base_url: str, api_key: SecretStr, *, policy: RetryPolicy | None = None,
                 timeout: float = 20.0, transport: httpx.BaseTransport | None = None,
                 rate_limit: int | None = None) -> None:
        self.http = HttpClient(
            self.system, base_url, auth=ApiKeyBasic(api_key),
            budget=budget_for(f"bamboohr:{base_url}", **quota(rate_limit or RATE_LIMIT, 1.0), max_concurrent=5),
            policy=policy, timeout=timeout, describe=describe, errors=ERRORS, transport=transport,
        )

    # -- payroll role ---------------------------------------------------------------------------

    def entries(self, employee_id: int | str, start: date, end: date) -> list[dict[str, Any]]:
        _, body = self.http.request("GET", "/api/v1/time_tracking/timesheet_entries", params={
            "start": start.isoformat(), "end": end.isoformat(), "employeeIds": str(employee_id)})
        return body if isinstance(body, list) else []

    list_batch = 100  # employees per listing call (tests shrink it to see several pages)

    def list_timesheets(self, start: date, end: date,
                        employee_ids: Sequence[str] = ()) -> Iterator[list[TimesheetSummary]]:
        """Hour entries start..end (a day either side, as in `find_timesheet`), grouped into fieldbridge's
        workday sheets by their marker. BambooHR does not page this listing: the pages are batches of
        employees (all employees in one call when none are named)."""
        ids = [str(i) for i in employee_ids]
        size = self.list_batch
        batches = [ids[i: i + size] for i in range(0, len(ids), size)] or [[]]
        for chunk in batches:
            params = {"start": (start - timedelta(days=1)).isoformat(), "end": (end + timedelta(days=1)).isoformat()}
            if chunk:
                params["employeeIds"] = ",".join(chunk)
            _, body = self.http.request("GET", "/api/v1/time_tracking/timesheet_entries", params=params)
            rows = [r for r in mapping.summaries(body if isinstance(body, list) else []) if start <= r.workday <= end]
            if rows:
                yield rows

    def find_timesheet(self, day: TimesheetDay) -> VendorRecord | None:
        # a day either side: BambooHR dates entries by the company's day, ours may start at 04:00 or cross DST
        rows = self.entries(mapping.employee_number(day), day.workday - timedelta(days=1),
                            day.workday + timedelta(days=1))
        found = mapping.ours(rows, day)
        return mapping.day_record(found) if found else None

    def upsert_timesheet(self, day: TimesheetDay, existing: VendorRecord | None) -> VendorRecord:
        """Make the day's entries exactly the wanted ones: update ours in place, create the missing,
        delete the ones whose hours went to zero (BambooHR refuses an entry of 0 hours)."""
        have: dict[str, dict[str, Any]] = existing.raw.get("entries", {}) if existing is not None else {}
        want = mapping.wanted_entries(day)
        if existing is not None and mapping.same(have, want):
            return existing
        stale = [have[c]["id"] for c in have if c not in want]
        if stale:
            self.http.request("POST", "/api/v1/time_tracking/hour_entries/delete", json={"hourEntryIds": stale},
                              idempotent=True)  # deleting twice deletes nothing more
        hours = [{**entry, **({"id": have[c]["id"]} if c in have else {})} for c, entry in want.items()]
        if not hours:
            return mapping.day_record({})
        _, body = self.http.request("POST", "/api/v1/time_tracking/hour_entries/store", json={"hours": hours},
                                    idempotent=all("id" in h for h in hours))
        return mapping.day_record(mapping.ours(body if isinstance(body, list) else [], day))

    # -- HR role --------------------------------------------------------------------------------

    def list_time_off(self, start: date, end: date, status: str = "approved") -> list[TimeOff]:
        _, body = self.http.request("GET", "/api/v1/time_off/requests", params={
            "start": start.isoformat(), "end": end.isoformat(), "status": status})
        return [_time_off(r) for r in body or []]

    def whos_out(self, start: date, end: date) -> list[TimeOff]:
        _, body = self.http.request("GET", "/api/v1/time_off/whos_out", params={
            "start": start.isoformat(), "end": end.isoformat()})
        return [TimeOff(str(r["id"]), str(r.get("employeeId", "")), date.fromisoformat(r["start"]),
                        date.fromisoformat(r["end"]), str(r.get("type", "timeOff")), "approved")
                for r in body or [] if r.get("type") != "holiday"]

    def record_url(self, kind: str, vendor_id: str) -> str | None:
        return f"{str(self.http.base_url).rstrip('/')}/employees/timesheet" if kind == "timesheet" else None

    def close(self) -> None:
        self.http.close()


def _time_off(row: dict[str, Any]) -> TimeOff:
    """The legacy answers carry strings where the spec says numbers: accept both."""
    amount = (row.get("amount") or {}).get("amount")
    return TimeOff(vendor_id=str(row["id"]), employee_id=str(row["employeeId"]),
                   start=date.fromisoformat(row["start"]), end=date.fromisoformat(row["end"]),
                   kind=str((row.get("type") or {}).get("name", "")),
                   status=str((row.get("status") or {}).get("status", "")),
                   amount=Decimal(str(amount)) if amount is not None else None,
                   unit=(row.get("amount") or {}).get("unit"),
                   days=tuple(sorted((date.fromisoformat(d), Decimal(str(n)))
                                     for d, n in (row.get("dates") or {}).items())))
