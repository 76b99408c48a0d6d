"""BambooHR API emulator: API-key Basic auth, the employee directory, time-tracking hour entries
(store: create or update by id; delete; timesheet entries listing), time-off requests and who's out —
JSON when asked for it, XML otherwise, as BambooHR does — problem+json errors on time tracking, the
`X-BambooHR-Error-Message` header elsewhere, and 429 with `Retry-After` when throttled (BambooHR's answer
since its September 2026 change; 503 before). Shapes, types and status codes follow BambooHR's published
OpenAPI reference (the spec in BambooHR/bhr-api-python, specs/public.yaml, and documentation.bamboohr.com):
ids and hours are JSON numbers, timesheet ranges span at most 365 days, `employeeIds` is `^\d+(,\d+)*$`.
"""

from __future__ import annotations

import base64
import re
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pendulum
from fastapi import FastAPI, Request, Response

from connectors.emulator import (
    ExactJSONResponse,
    FaultConfig,
    RateWindow,
    Sandbox,
    SandboxStore,
    build_sandbox,
    is_malformed,
    read_json,
)

TIMEZONE = "America/Los_Angeles"


def error_body(status: int, message: str) -> dict[str, Any]:
    return {"type": "about:blank", "title": "Too Many Requests" if status == 429 else "Server Error",
            "status": status, "detail": message}


def problem(status: int, title: str, detail: str, fields: dict[str, str] | None = None,
            code: str | None = None) -> ExactJSONResponse:
    return ExactJSONResponse({"type": "https://documentation.bamboohr.com/docs/api-details", "title": title,
                              "status": status, "detail": detail, "instance": "", "code": code,
                              "fields": fields or {}}, status_code=status, headers={"content-type":
                                                                                   "application/problem+json"})


def header_error(status: int, message: str) -> Response:
    return Response(status_code=status, headers={"X-BambooHR-Error-Message": message})


def _xml(rows: list[dict[str, Any]], root: str, item: str) -> Response:
    def node(name: str, value: Any) -> str:
        if isinstance(value, dict):
            return f"<{name}>" + "".join(node(k, v) for k, v in value.items()) + f"</{name}>"
        return f"<{name}>{'' if value is None else escape(str(value))}</{name}>"

    body = f"<?xml version=\"1.0\"?><{root}>" + "".join(node(item, r) for r in rows) + f"</{root}>"
    return Response(content=body, media_type="application/xml")


def create_app(api_key: str = "bamboo-sandbox-key", faults: FaultConfig | None = None,
               state_path: Path | None = None, per_second_limit: int = 10) -> Sandbox:
    store = SandboxStore(state_path or ":memory:")
    faults = faults or FaultConfig()
    app = FastAPI(title="BambooHR sandbox")
    expected = "Basic " + base64.b64encode(f"{api_key}:x".encode()).decode()

    @app.middleware("http")
    async def api_key_auth(request: Request, call_next):  # type: ignore[no-untyped-def]
        if not request.url.path.startswith("/api/"):
            return await call_next(request)
        auth = request.headers.get("authorization", "")
        try:
            user = base64.b64decode(auth.removeprefix("Basic ")).decode().split(":", 1)[0] if auth.startswith(
                "Basic ") else ""
        except (ValueError, UnicodeDecodeError):
            user = ""
        if user != api_key and auth != expected:
            if request.url.path.startswith("/api/v1/time_tracking/"):  # the newer endpoints answer problem+json
                return problem(401, "Unauthorized", "Invalid API key", code="unauthorized")
            return header_error(401, "Invalid API key")
        return await call_next(request)

    def wants_json(request: Request) -> bool:
        return "json" in request.headers.get("accept", "")

    @app.get("/api/v1/employees/directory")
    async def directory(request: Request) -> Response:
        employees = [{"id": str(e["id"]), "displayName": f"{e.get('firstName', '')} {e.get('lastName', '')}".strip(),
                      "firstName": e.get("firstName"), "lastName": e.get("lastName"), "workEmail": e.get("workEmail"),
                      "canUploadPhoto": 0} for e in store.all("employees")]
        if not employees:
            return header_error(404, "The directory is empty")
        fields = [{"id": "displayName", "type": "text", "name": "Display Name"},
                  {"id": "firstName", "type": "text", "name": "First Name"},
                  {"id": "lastName", "type": "text", "name": "Last Name"},
                  {"id": "workEmail", "type": "email", "name": "Work Email"}]
        if wants_json(request):
            return ExactJSONResponse({"fields": fields, "employees": employees})
        fieldset = "".join(f'<field id="{f["id"]}" type="{f["type"]}">{escape(f["name"])}</field>' for f in fields)
        people = "".join(
            f'<employee id="{e["id"]}">' + "".join(
                f'<field id="{f["id"]}">{escape(str(e.get(f["id"]) or ""))}</field>' for f in fields) + "</employee>"
            for e in employees)
        return Response(content=f'<?xml version="1.0"?><directory><fieldset>{fieldset}</fieldset>'
                                f"<employees>{people}</employees></directory>", media_type="application/xml")

    def entry_out(doc: dict[str, Any]) -> dict[str, Any]:
        return {"id": doc["id"], "employeeId": doc["employeeId"], "type": "hour", "date": doc["date"], "start": None,
                "end": None, "timezone": TIMEZONE, "hours": doc["hours"], "note": doc.get("note"),
                "projectInfo": None, "breakInfo": None, "approvedAt": None, "approved": False,
                "createdAt": doc["createdAt"], "updatedAt": doc["updatedAt"]}

    @app.post("/api/v1/time_tracking/hour_entries/store")
    async def store_hours(request: Request) -> Response:
        body = await read_json(request)
        if is_malformed(body) or not isinstance(body, dict) or not isinstance(body.get("hours"), list) \
                or not body["hours"]:
            return problem(400, "Bad Request", "The body must be {\"hours\": [entries]}", code="invalid_request")
        checked: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
        for n, entry in enumerate(body["hours"]):
            if not isinstance(entry, dict):
                return problem(400, "Bad Request", f"hours[{n}] must be an object", code="invalid_request")
            fields: dict[str, str] = {}
            employee = entry.get("employeeId")
            if not isinstance(employee, int) or isinstance(employee, bool):
                fields["employeeId"] = "must be an integer"
            elif store.get("employees", str(employee)) is None:
                return problem(404, "Not Found", f"Employee {employee} was not found", code="employee_not_found")
            try:
                day = date.fromisoformat(str(entry.get("date")))
                if day > date.today() + timedelta(days=366):
                    fields["date"] = "is too far in the future"
            except ValueError:
                fields["date"] = "must be a date, YYYY-MM-DD"
            raw_hours = entry.get("hours")
            if not isinstance(raw_hours, int | float | Decimal) or isinstance(raw_hours, bool):
                fields["hours"] = "must be a number"
            else:
                try:
                    hours = Decimal(str(raw_hours))
                    if not hours.is_finite() or hours <= 0 or hours > 24:
                        fields["hours"] = "must be > 0 and at most 24"
                except InvalidOperation:
                    fields["hours"] = "must be a number"
            for optional in ("projectId", "taskId"):
                if optional in entry and entry[optional] is not None and (
                        not isinstance(entry[optional], int) or isinstance(entry[optional], bool)):
                    fields[optional] = "must be an integer"
            note = entry.get("note")
            if note is not None and (not isinstance(note, str) or len(note) > 1000):
                fields["note"] = "must be text of at most 1000 characters"
            if fields:
                return problem(400, "Bad Request", f"hours[{n}] is not valid", fields, code="invalid_entry")
            existing = None
            if "id" in entry:
                if not isinstance(entry["id"], int) or isinstance(entry["id"], bool):
                    return problem(400, "Bad Request", f"hours[{n}] is not valid", {"id": "must be an integer"},
                                   code="invalid_entry")
                existing = store.get("hour_entries", str(entry["id"]))
                if existing is None:
                    return problem(404, "Not Found", f"Hour entry {entry['id']} was not found",
                                   code="entry_not_found")
            checked.append((entry, existing))
        now = pendulum.now("UTC").to_iso8601_string()
        out = []
        for entry, existing in checked:
            doc = existing or {"id": store.next_id("hour_entry", start=101), "createdAt": now}
            doc.update({"employeeId": entry["employeeId"], "date": str(entry["date"]),
                        "hours": Decimal(str(entry["hours"])), "note": entry.get("note"), "updatedAt": now})
            store.put("hour_entries", str(doc["id"]), doc)
            out.append(entry_out(doc))
        return ExactJSONResponse(out, status_code=201)

    @app.post("/api/v1/time_tracking/hour_entries/delete")
    async def delete_hours(request: Request) -> Response:
        body = await read_json(request)
        ids = body.get("hourEntryIds") if isinstance(body, dict) else None
        if is_malformed(body) or not isinstance(ids, list) or not ids or not all(
                isinstance(i, int) and not isinstance(i, bool) for i in ids):
            return problem(400, "Bad Request", "The body must be {\"hourEntryIds\": [one or more integer ids]}",
                           code="invalid_request")
        for entry_id in ids:
            store.delete("hour_entries", str(entry_id))  # an id already gone is not an error: deleting is idempotent
        return Response(status_code=204)

    def parse_range(start: str | None, end: str | None) -> tuple[date, date] | Response:
        try:
            lo, hi = date.fromisoformat(start or ""), date.fromisoformat(end or "")
        except ValueError:
            return problem(400, "Bad Request", "start and end are required dates (YYYY-MM-DD)",
                           {"start": "required", "end": "required"}, code="invalid_range")
        if hi < lo:
            return problem(400, "Bad Request", "end is before start", code="invalid_range")
        if (hi - lo).days > 365:
            return problem(400, "Bad Request", "the range may span at most 365 days", code="invalid_range")
        return lo, hi

    @app.get("/api/v1/time_tracking/timesheet_entries")
    async def timesheet_entries(start: str | None = None, end: str | None = None,
                                employeeIds: str | None = None) -> Response:
        span = parse_range(start, end)
        if isinstance(span, Response):
            return span
        lo, hi = span
        if employeeIds is not None and not re.fullmatch(r"\d+(,\d+)*", employeeIds):
            return problem(400, "Bad Request", "employeeIds must be comma-separated employee ids",
                           {"employeeIds": "must match ^\\d+(,\\d+)*$"}, code="invalid_request")
        wanted = {int(i) for i in employeeIds.split(",")} if employeeIds else None
        rows = [entry_out(d) for d in store.all("hour_entries")
                if lo.isoformat() <= d["date"] <= hi.isoformat() and (wanted is None or d["employeeId"] in wanted)]
        return ExactJSONResponse(sorted(rows, key=lambda r: (r["date"], r["id"])))

    @app.get("/api/v1/time_off/requests")
    async def time_off_requests(request: Request, start: str | None = None, end: str | None = None,
                                status: str | None = None, employeeId: str | None = None, id: str | None = None,
                                type: str | None = None, excludeNote: str | None = None) -> Response:
        span = parse_range(start, end)
        if isinstance(span, Response):
            return header_error(400, "Invalid start or end date")
        lo, hi = span
        rows = [r for r in store.all("time_off") if r["start"] <= hi.isoformat() and r["end"] >= lo.isoformat()
                and (not status or r["status"]["status"] in status.split(","))
                and (not employeeId or str(r["employeeId"]) == employeeId)
                and (not id or str(r["id"]) == id)
                and (not type or str(r["type"]["id"]) in type.split(","))]
        if excludeNote:
            rows = [{k: v for k, v in r.items() if k != "notes"} for r in rows]
        return ExactJSONResponse(rows) if wants_json(request) else _xml(rows, "requests", "request")

    @app.get("/api/v1/time_off/whos_out")
    async def whos_out(request: Request, start: str | None = None, end: str | None = None) -> Response:
        try:
            lo = date.fromisoformat(start) if start else date.today()
            hi = date.fromisoformat(end) if end else lo + timedelta(days=14)
        except ValueError:
            return header_error(400, "Invalid start or end date")
        rows = [{"id": r["id"], "type": "timeOff", "employeeId": r["employeeId"], "name": r.get("name", ""),
                 "start": r["start"], "end": r["end"]}
                for r in store.all("time_off") if r["status"]["status"] == "approved"
                and r["start"] <= hi.isoformat() and r["end"] >= lo.isoformat()]
        rows.sort(key=lambda r: r["start"])
        return ExactJSONResponse(rows) if wants_json(request) else _xml(rows, "calendar", "item")

    @app.put("/api/v1/time_off/requests/{request_id}/status")
    async def change_time_off_status(request_id: str, request: Request) -> Response:
        """Approve, deny or cancel a request (BambooHR: `{"status": "canceled", "note": …}`)."""
        body = await read_json(request) or {}
        doc = store.get("time_off", request_id)
        if doc is None:
            return header_error(404, "Time off request not found")
        status = body.get("status")
        if status not in ("approved", "denied", "declined", "canceled", "cancelled", "requested"):
            return header_error(400, "Invalid status")
        doc["status"] = {**doc["status"], "status": {"declined": "denied", "cancelled": "canceled"}.get(status, status),
                         "lastChanged": datetime.now().date().isoformat()}
        store.put("time_off", request_id, doc)
        return Response(status_code=200)

    @app.post("/_sandbox/time-off")
    async def add_time_off(request: Request) -> ExactJSONResponse:
        """Seed a leave request the way an employee would file one (tests and the demo)."""
        body = await read_json(request) or {}
        today = datetime.now().date().isoformat()
        first, last = date.fromisoformat(body["start"]), date.fromisoformat(body["end"])
        unit, per_day = body.get("unit", "days"), body.get("per_day", 1)  # e.g. unit "hours", per_day 4
        days = {(first + timedelta(days=n)).isoformat(): per_day for n in range((last - first).days + 1)}
        doc = {"id": store.next_id("time_off", start=1), "employeeId": int(body["employeeId"]),
               "name": body.get("name", ""), "start": body["start"], "end": body["end"], "created": today,
               "status": {"lastChanged": today, "lastChangedByUserId": 2369, "status": body.get("status", "approved")},
               "type": {"id": 78, "name": body.get("type", "Vacation"), "icon": "palm-trees"},
               "amount": {"unit": unit, "amount": Decimal(str(body.get("amount", sum(days.values()))))},
               "actions": {"view": True, "edit": True, "cancel": True, "approve": False, "deny": False,
                           "bypass": False},
               "dates": days,
               "notes": {"employee": body.get("note", ""), "manager": ""}}
        store.put("time_off", str(doc["id"]), doc)
        return ExactJSONResponse(doc)

    return build_sandbox("bamboohr", app, store, faults, error_body, RateWindow(per_second_limit, 1.0))
