"""Gusto as the Payroll role: one time sheet per technician per workday, upserted by our key."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import date, timedelta
from typing import Any

import httpx
from pydantic import SecretStr

from connectors.contract import (
    ConflictError,
    DataError,
    VendorError,
)
from connectors.contract.records import TimeOff, TimesheetDay, TimesheetSummary, VendorRecord
from connectors.gusto import mapping
from connectors.http import (
    BearerToken,
    HttpClient,
    PageNumberPaginator,
    RetryPolicy,
    budget_for,
    quota,
)
from connectors.http.auth import Auth

API_VERSION = "2026-02-01"


def describe(status: int, body: Any, headers: Mapping[str, str] | None = None) -> VendorError | None:
    """Gusto errors: `{"errors": [{error_key, category, message}]}`."""
    if status < 300 or not isinstance(body, dict) or not body.get("errors"):
        return None
    first = body["errors"][0]
    return VendorError(f"{first.get('error_key')}: {first.get('message')}",
                       tuple(c for c in (first.get("category"),) if c))



#: requests per minute per user token: the documented default quota
RATE_LIMIT = 200
TIME_OFF_MARGIN = timedelta(days=62)  # how far outside the asked window a request may start or end and be seen

class GustoPayroll:
    """Payroll role over Gusto's time-tracking API for one company; HR role over its time off requests."""

    system = "gusto"

    def __init__(
        self,
        base_url: str,
        token: SecretStr | Auth,
        company_uuid: str,
        *,
        policy: RetryPolicy | None = None,
        timeout: float = 20.0,
        transport: httpx.BaseTransport | None = None,
        rate_limit: int | None = None,
    ) -> None:
        self.company_uuid = company_uuid
        self.http = HttpClient(
            self.system,
            base_url,
            auth=BearerToken(token) if isinstance(token, SecretStr) else token,
            budget=budget_for(f"gusto:{company_uuid}:{base_url}", **quota(rate_limit or RATE_LIMIT, 60.0),
                              max_concurrent=10),
            policy=policy,
            timeout=timeout,
            describe=describe,
            default_headers={"X-Gusto-API-Version": API_VERSION},
            transport=transport,
        )

    def list_time_sheets(self, employee_id: str | None = None, start: str | None = None,
                         end: str | None = None) -> list[dict[str, Any]]:
        params = {k: v for k, v in {"entity_uuids": employee_id, "start_date": start, "end_date": end}.items() if v}
        out: list[dict[str, Any]] = []
        path = f"/v1/companies/{self.company_uuid}/time_tracking/time_sheets"
        for _, page in self.http.paginate(path, PageNumberPaginator(per=100), params=params):
            out.extend(page)
        return out

    list_page_size = 100  # sheets per page when listing (Gusto's `per`; tests shrink it to see paging)

    def list_timesheets(self, start: date, end: date,
                        employee_ids: Sequence[str] = ()) -> Iterator[list[TimesheetSummary]]:
        """The company's time sheets whose shift starts start..end, a page at a time (a day either side is
        asked for, as in `find_timesheet`, then each sheet is placed on its workday)."""
        params = {"start_date": (start - timedelta(days=1)).isoformat(),
                  "end_date": (end + timedelta(days=1)).isoformat()}
        if len(employee_ids) == 1:
            params["entity_uuids"] = employee_ids[0]
        path = f"/v1/companies/{self.company_uuid}/time_tracking/time_sheets"
        for _, page in self.http.paginate(path, PageNumberPaginator(per=self.list_page_size), params=params):
            rows = [mapping.summary(doc) for doc in page or []]
            rows = [r for r in rows if start <= r.workday <= end]
            if rows:
                yield rows

    def find_timesheet(self, day: TimesheetDay) -> VendorRecord | None:
        """Our sheet for that technician and workday, found by the key we wrote into its metadata."""
        # Gusto filters by the local date the shift starts; our workday may start at 04:00 or cross DST,
        # so search a day either side and match on our key.
        before, after = (day.workday - timedelta(days=1)).isoformat(), (day.workday + timedelta(days=1)).isoformat()
        for doc in self.list_time_sheets(day.employee_id, before, after):
            if doc.get("metadata", {}).get(mapping.KEY_FIELD) == day.key:
                return mapping.record(doc)
        return None

    def upsert_timesheet(self, day: TimesheetDay, existing: VendorRecord | None) -> VendorRecord:
        """Create, or update under `version` only when the hours differ. `existing` without a body is the
        sheet as our last write left it (the ledger remembers its version): one PUT, and a read only when
        Gusto says the version moved on (someone edited the sheet) or the sheet is gone."""
        if existing is None:
            _, doc = self.http.request(
                "POST", f"/v1/companies/{self.company_uuid}/time_tracking/time_sheets",
                json=mapping.time_sheet_body(day),
            )
            return mapping.record(doc)
        if not existing.raw:
            try:
                _, doc = self.http.request("PUT", f"/v1/time_tracking/time_sheets/{existing.id}",
                                           json={"version": existing.version, **mapping.time_sheet_body(day)})
                return mapping.record(doc)
            except ConflictError:
                pass  # edited at Gusto since our write: read it, then write over it as a lookup would
            except DataError as exc:
                if exc.status != 404:
                    raise
            return self.upsert_timesheet(day, self.find_timesheet(day))
        if mapping.same_hours(existing.raw, day):
            return existing
        try:
            _, doc = self.http.request(
                "PUT", f"/v1/time_tracking/time_sheets/{existing.id}",
                json={"version": existing.version, **mapping.time_sheet_body(day)},
            )
        except ConflictError:
            # Our own lost answer (the replayed PUT finds a new version) ends here with the same hours.
            # Different hours mean the sheet changed between our read and our write: fail as a conflict
            # (a data error, not retried blindly) so the next run recomputes from fresh state.
            fresh = self.find_timesheet(day)
            if fresh is not None and mapping.same_hours(fresh.raw, day):
                return fresh
            raise
        return mapping.record(doc)

    # -- HR role: time off ---------------------------------------------------------------------------------------

    def list_time_off(self, start: date, end: date, status: str = "approved") -> list[TimeOff]:
        """The company's time off requests that touch [start, end]. Gusto's filters keep requests *inside* the
        window (start on or after `start_date`, end on or before `end_date`), so the window is widened by
        TIME_OFF_MARGIN on each side and overlap is decided here: a request longer than that margin which
        starts before and ends after the window is not seen (docs/connectors.md, Gusto)."""
        _, body = self.http.request("GET", f"/v1/companies/{self.company_uuid}/time_off_requests", params={
            "start_date": (start - TIME_OFF_MARGIN).isoformat(), "end_date": (end + TIME_OFF_MARGIN).isoformat()})
        leaves = [mapping.time_off(r) for r in body or [] if isinstance(r, dict) and r.get("days")]
        return [t for t in leaves if t.start <= end and t.end >= start and (status is None or t.status == status)]

    def whos_out(self, start: date, end: date) -> list[TimeOff]:
        """Gusto has no who's-out list: the approved requests of the window are who is out."""
        return self.list_time_off(start, end, "approved")

    def record_url(self, kind: str, vendor_id: str) -> str | None:
        base = str(self.http.base_url).rstrip("/")
        return f"{base}/v1/time_tracking/time_sheets/{vendor_id}" if kind == "timesheet" else None

    def close(self) -> None:
        self.http.close()
