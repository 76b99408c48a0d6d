"""Gusto time-tracking emulator: employees (seeded), time sheets with pay-classified entries,
`version` optimistic locking, page/per pagination, 200 requests per 60 s with `Retry-After`; a static
bearer token, or OAuth company tokens from `POST /oauth/token` that expire after two hours, where the
used refresh token is revoked on the first use of the new access token (as Gusto documents).
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pendulum
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError

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
from connectors.http import jsonbody

PAY_CLASSIFICATIONS = {"Regular", "Overtime", "Double overtime"}


def error_body(status: int, message: str, key: str = "base", category: str | None = None) -> dict[str, Any]:
    default = {401: "unauthorized", 404: "not_found", 409: "invalid_operation", 422: "invalid_attribute_value",
               429: "rate_limit_exceeded"}
    return {"errors": [{"error_key": key, "category": category or default.get(status, "internal_error"),
                        "message": message}]}


def read_body(raw: bytes, content_type: str) -> dict[str, Any]:
    """A token request body: JSON (as Gusto's examples send it) or form-encoded (as OAuth libraries do)."""
    text = raw.decode("utf-8")  # UnicodeDecodeError is a ValueError
    if "json" in content_type:
        body = jsonbody.loads(text)
        if not isinstance(body, dict):
            raise ValueError("not an object")
        return {k: str(v) for k, v in body.items()}
    return {k: v[0] for k, v in parse_qs(text).items()}


def _version(doc: dict[str, Any]) -> str:
    return hashlib.md5(repr(sorted(doc.items())).encode(), usedforsecurity=False).hexdigest()


def create_app(
    token: str = "gusto-sandbox-token",
    company_uuid: str = "c0a8f5e2-0000-4000-8000-00000000f1e1",
    faults: FaultConfig | None = None,
    state_path: Path | None = None,
    per_minute_limit: int = 200,
    *,
    oauth_client: tuple[str, str, str] | None = None,
    access_token_ttl: int = 7200,
) -> Sandbox:
    """`oauth_client`: (client_id, client_secret, first refresh token) of an app connected to the company."""
    store = SandboxStore(state_path or ":memory:")
    faults = faults or FaultConfig()
    app = FastAPI(title="Gusto sandbox")
    if oauth_client is not None and store.get("oauth", "refresh") is None:
        store.put("oauth", "refresh", {"valid": [oauth_client[2]]})

    def err(status: int, message: str, key: str = "base", category: str | None = None) -> ExactJSONResponse:
        return ExactJSONResponse(error_body(status, message, key, category), status_code=status)

    @app.exception_handler(RequestValidationError)
    async def bad_parameter(request: Request, exc: RequestValidationError) -> ExactJSONResponse:
        """A parameter of the wrong type (`page=abc`) gets Gusto's 422 `errors` list, not FastAPI's `detail`."""
        return ExactJSONResponse({"errors": [{"error_key": str(e["loc"][-1]), "category": "invalid_attribute_value",
                                              "message": f"{e['loc'][-1]} is not valid"} for e in exc.errors()]},
                                 status_code=422)

    @app.post("/oauth/token")
    async def oauth_token(request: Request) -> ExactJSONResponse:
        """Exchange a refresh token (JSON or form body) for a new access token and refresh token."""
        raw = await request.body()
        try:
            form: Any = read_body(raw, request.headers.get("content-type", ""))
        except ValueError:
            return ExactJSONResponse({"error": "invalid_request"}, status_code=400)
        if oauth_client is None or form.get("client_id") != oauth_client[0] or \
                form.get("client_secret") != oauth_client[1]:
            return ExactJSONResponse({"error": "invalid_client", "error_description": "Client authentication "
                                      "failed due to unknown client."}, status_code=401)
        if form.get("grant_type") != "refresh_token":
            return ExactJSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        state = store.get("oauth", "refresh") or {"valid": []}
        used = form.get("refresh_token")
        if used not in state["valid"]:
            return ExactJSONResponse({"error": "invalid_grant", "error_description": "The provided authorization "
                                      "grant is invalid, expired, revoked, or was issued to another client."},
                                     status_code=400)
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        store.put("oauth", "refresh", {"valid": [*state["valid"], refresh]})
        store.put("oauth_access", access, {"expires_at": time.time() + access_token_ttl, "revokes": used})
        return ExactJSONResponse({"access_token": access, "token_type": "bearer", "expires_in": access_token_ttl,
                                  "refresh_token": refresh, "created_at": int(time.time())})

    def authorised(header: str) -> bool:
        if header == f"Bearer {token}":
            return True
        grant = store.get("oauth_access", header.removeprefix("Bearer ")) if header.startswith("Bearer ") else None
        if grant is None or grant["expires_at"] < time.time():
            return False
        if grant.get("revokes"):  # first use of a new access token revokes the refresh token that bought it
            state = store.get("oauth", "refresh") or {"valid": []}
            store.put("oauth", "refresh", {"valid": [t for t in state["valid"] if t != grant["revokes"]]})
            store.put("oauth_access", header.removeprefix("Bearer "), {**grant, "revokes": None})
        return True

    @app.post("/_sandbox/expire-access-tokens")
    async def expire_tokens() -> ExactJSONResponse:
        for doc_id in store.ids("oauth_access"):
            store.put("oauth_access", doc_id, {**(store.get("oauth_access", doc_id) or {}), "expires_at": 0})
        return ExactJSONResponse({"expired": True})

    @app.middleware("http")
    async def require_token(request: Request, call_next):  # type: ignore[no-untyped-def]
        if request.url.path.startswith(("/_sandbox", "/oauth/")):
            return await call_next(request)
        if not authorised(request.headers.get("authorization", "")):
            return err(401, "The access token is invalid or has expired")
        return await call_next(request)

    def check(body: Any, creating: bool) -> tuple[dict[str, Any] | None, ExactJSONResponse | None]:
        if is_malformed(body) or not isinstance(body, dict):
            return None, err(400, "Request body is not valid JSON")
        required = {"entity_uuid", "entity_type", "time_zone", "shift_started_at"} if creating else {"version"}
        missing = sorted(required - body.keys())
        if missing:
            return None, err(422, f"{missing[0]} is required", missing[0], "invalid_attribute_value")
        if "entity_uuid" in body:
            employee = store.get("employees", str(body["entity_uuid"]))
            if body.get("entity_type", "Employee") != "Employee" or employee is None:
                return None, err(422, f"Employee {body['entity_uuid']} was not found in this company", "entity_uuid")
        if "time_zone" in body:
            try:
                pendulum.timezone(body["time_zone"])
            except Exception:
                return None, err(422, f"{body['time_zone']} is not a valid time zone", "time_zone")
        for field in ("shift_started_at", "shift_ended_at"):
            if body.get(field) is not None or (field == "shift_started_at" and field in body):  # start: never null
                try:
                    moment = pendulum.parse(body[field])
                except Exception:
                    moment = None
                if not isinstance(moment, pendulum.DateTime):  # not a date alone, a time alone or a duration
                    return None, err(422, f"{field} must be an ISO 8601 timestamp", field)
        if not isinstance(body.get("entries") or [], list) or not all(
                isinstance(e, dict) for e in body.get("entries") or []):
            return None, err(422, "entries must be a list of objects", "entries")
        entries = []
        for n, entry in enumerate(body.get("entries") or []):
            if entry.get("pay_classification") not in PAY_CLASSIFICATIONS:
                return None, err(422, f"entries[{n}].pay_classification must be one of {sorted(PAY_CLASSIFICATIONS)}",
                                 "pay_classification")
            try:
                hours = Decimal(str(entry.get("hours_worked")))
            except InvalidOperation:
                hours = Decimal(-1)
            if not hours.is_finite() or hours < 0 or hours > 24:
                return None, err(422, f"entries[{n}].hours_worked must be between 0 and 24", "hours_worked")
            entries.append({"hours_worked": f"{hours:.3f}", "pay_classification": entry["pay_classification"]})
        clean = {k: v for k, v in body.items() if k not in {"entries", "version", "uuid", "company_uuid"}}
        if "entries" in body:
            clean["entries"] = entries
        if "metadata" in body and (not isinstance(body["metadata"] or {}, dict)
                                   or not all(isinstance(v, str) for v in (body["metadata"] or {}).values())):
            return None, err(422, "metadata values must be strings", "metadata")
        return clean, None

    @app.post("/v1/companies/{company}/time_tracking/time_sheets")
    async def create_time_sheet(company: str, request: Request) -> ExactJSONResponse:
        if company != company_uuid:
            return err(404, f"Company {company} not found")
        clean, problem = check(await read_json(request), creating=True)
        if problem:
            return problem
        assert clean is not None
        # a v4-shaped uuid from the store's counter: random to a client, the same again after a reset (replays)
        serial = store.next_id("time_sheet_uuid")
        doc = {"uuid": str(uuid.UUID(int=(0x5A4D << 112) | serial, version=4)), "company_uuid": company,
               "status": "pending", "job_uuid": None, "shift_ended_at": None, "metadata": {}, "entries": [], **clean}
        doc["version"] = _version(doc)
        store.put("time_sheets", doc["uuid"], doc)
        return ExactJSONResponse(doc, status_code=201)

    @app.get("/v1/companies/{company}/time_tracking/time_sheets")
    async def list_time_sheets(
        company: str, page: int = 1, per: int = 25, entity_uuids: str | None = None,
        start_date: str | None = None, end_date: str | None = None,
    ) -> ExactJSONResponse:
        if company != company_uuid:
            return err(404, f"Company {company} not found")
        wanted = set(entity_uuids.split(",")) if entity_uuids else None

        def keep(doc: dict[str, Any]) -> bool:
            local = pendulum.parse(doc["shift_started_at"]).in_timezone(doc["time_zone"]).to_date_string()
            return ((wanted is None or doc["entity_uuid"] in wanted)
                    and (start_date is None or local >= start_date) and (end_date is None or local <= end_date))

        rows = [d for d in store.all("time_sheets") if keep(d)]
        per = max(1, min(per, 100))
        pages = max(1, -(-len(rows) // per))
        chunk = rows[(page - 1) * per : page * per]
        return ExactJSONResponse(chunk, headers={"X-Total-Count": str(len(rows)), "X-Total-Pages": str(pages)})

    @app.get("/v1/time_tracking/time_sheets/{sheet_uuid}")
    async def get_time_sheet(sheet_uuid: str) -> ExactJSONResponse:
        doc = store.get("time_sheets", sheet_uuid)
        return ExactJSONResponse(doc) if doc else err(404, f"Time sheet {sheet_uuid} not found")

    @app.put("/v1/time_tracking/time_sheets/{sheet_uuid}")
    async def update_time_sheet(sheet_uuid: str, request: Request) -> ExactJSONResponse:
        doc = store.get("time_sheets", sheet_uuid)
        if doc is None:
            return err(404, f"Time sheet {sheet_uuid} not found")
        body = await read_json(request)
        clean, problem = check(body, creating=False)
        if problem:
            return problem
        if body["version"] != doc["version"]:
            return err(409, "The version you supplied is out of date. Fetch the latest version and try again.",
                       "version", "invalid_operation")
        assert clean is not None
        doc.update(clean)
        doc.pop("version")
        doc["version"] = _version(doc)
        store.put("time_sheets", sheet_uuid, doc)
        return ExactJSONResponse(doc)

    @app.get("/v1/companies/{company}/employees")
    async def list_employees(company: str, page: int = 1, per: int = 25, terminated: bool | None = None,
                             search_term: str | None = None) -> ExactJSONResponse:
        """The company's employees: `search_term` matches names and email, `terminated` filters, page/per."""
        if company != company_uuid:
            return err(404, f"Company {company} not found")
        rows = [d for d in store.all("employees") if d.get("company_uuid", company) == company
                and (terminated is None or bool(d.get("terminated")) == terminated)
                and (not search_term or search_term.lower() in " ".join(
                    str(d.get(f) or "") for f in ("first_name", "last_name", "email")).lower())]
        per = max(1, min(per, 100))
        chunk = rows[(max(page, 1) - 1) * per: max(page, 1) * per]
        return ExactJSONResponse(chunk, headers={"X-Total-Count": str(len(rows)),
                                                 "X-Total-Pages": str(max(1, -(-len(rows) // per)))})

    @app.get("/v1/employees/{employee_uuid}")
    async def get_employee(employee_uuid: str) -> ExactJSONResponse:
        doc = store.get("employees", employee_uuid)
        return ExactJSONResponse(doc) if doc else err(404, f"Employee {employee_uuid} not found")

    @app.get("/v1/companies/{company}/time_off_requests")
    async def list_time_off_requests(company: str, start_date: str | None = None,
                                     end_date: str | None = None) -> ExactJSONResponse:
        """Every time off request of the company, past and present (Gusto: "Get time off requests for a
        company"): `start_date` keeps requests starting on or after it, `end_date` those ending on or before it —
        requests inside the window, not overlapping it."""
        if company != company_uuid:
            return err(404, f"Company {company} not found")
        try:
            low = date.fromisoformat(start_date) if start_date else None
            high = date.fromisoformat(end_date) if end_date else None
        except ValueError:
            return err(422, "start_date and end_date must be dates (YYYY-MM-DD)", "start_date")
        rows = []
        for doc in sorted(store.all("time_off_requests"), key=lambda d: d["id"]):
            days = [date.fromisoformat(d) for d in sorted(doc.get("days") or {})]
            if days and (low is None or days[0] >= low) and (high is None or days[-1] <= high):
                rows.append(doc)
        return ExactJSONResponse(rows)

    @app.post("/_sandbox/time-off")
    async def add_time_off(request: Request) -> ExactJSONResponse:
        """Seed a time off request as an employee files it in Gusto (hours per day; 8 is a whole day)."""
        body = await read_json(request) or {}
        first, last = date.fromisoformat(body["start"]), date.fromisoformat(body["end"])
        hours = str(body.get("hours_per_day", "8.000"))
        employee = store.get("employees", str(body["employee_uuid"])) or {}
        doc = {"id": store.next_id("time_off_requests", start=1), "status": body.get("status", "approved"),
               "employee_note": body.get("note", ""), "employer_note": "",
               "request_type": body.get("request_type", "vacation"),
               "days": {(first + timedelta(days=n)).isoformat(): hours for n in range((last - first).days + 1)},
               "employee": {"uuid": str(body["employee_uuid"]),
                            "full_name": f"{employee.get('first_name', '')} {employee.get('last_name', '')}".strip()},
               "initiator": {"uuid": str(body["employee_uuid"]), "full_name": ""},
               "approver": {"uuid": "a0000000-0000-4000-8000-000000000001", "full_name": "Office Manager"}
               if body.get("status", "approved") == "approved" else None}
        store.put("time_off_requests", str(doc["id"]), doc)
        return ExactJSONResponse(doc, status_code=201)

    @app.post("/_sandbox/time-off/{request_id}/status")
    async def set_time_off_status(request_id: str, request: Request) -> ExactJSONResponse:
        """The employer approves or denies a request in Gusto's app (there is no API for it)."""
        doc = store.get("time_off_requests", request_id)
        if doc is None:
            return err(404, f"Time off request {request_id} not found")
        doc["status"] = (await read_json(request) or {}).get("status", doc["status"])
        store.put("time_off_requests", request_id, doc)
        return ExactJSONResponse(doc)

    return build_sandbox("gusto", app, store, faults, error_body, RateWindow(per_minute_limit, 60.0),
                         exempt=("/oauth/",))
