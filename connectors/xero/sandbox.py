"""Xero Accounting API emulator: OAuth2 with rotating refresh tokens (identity `/connect/token`),
`/connections`, Contacts and Invoices (PUT creates, POST creates or updates), the invoice Email, Payments,
`where` / `InvoiceNumbers` / `IDs` / `Statuses` / `If-Modified-Since` / paging, `Idempotency-Key` replay,
`ValidationException` bodies, and the per-organisation limits — 60 a minute, 5,000 a day — answered 429
with `Retry-After` and `X-Rate-Limit-Problem`. Shapes follow ../shared/vendor-specs/xero.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
import uuid
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request, Response
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
from connectors.xero import where as where_language

CENT = Decimal("0.01")
TAX_RATES = {"OUTPUT": Decimal("0.0875"), "NONE": Decimal("0"), "EXEMPTOUTPUT": Decimal("0")}
ACCOUNTS = {"200", "260", "090"}  # Sales, Other Revenue, Business Bank (payments)


def _xero_date(moment: datetime | None = None) -> str:
    moment = moment or datetime.now(UTC)
    return f"/Date({int(moment.timestamp() * 1000)}+0000)/"


def day_of(value: Any) -> str | None:
    """A date as Xero accepts it — `2026-11-24`, `2026-11-24T00:00:00`, or `/Date(1795392000000+0000)/` (what
    xero-python sends) — as YYYY-MM-DD; None if it is none of those."""
    text = str(value)
    match = re.fullmatch(r"/Date\((-?\d+)(?:[+-]\d{4})?\)/", text)
    if match:
        return datetime.fromtimestamp(int(match.group(1)) / 1000, tz=UTC).date().isoformat()
    match = re.fullmatch(r"(\d{4}-\d{2}-\d{2})(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?", text)
    if match is None:
        return None
    try:
        return datetime.fromisoformat(match.group(1)).date().isoformat()
    except ValueError:
        return None


def _problem(status: int, title: str, detail: str) -> dict[str, Any]:
    return {"Type": None, "Title": title, "Status": status, "Detail": detail, "Instance": str(uuid.uuid4()),
            "Extensions": {}}


def error_body(status: int, message: str) -> dict[str, Any]:
    if status == 429:
        return {"Title": "Too Many Requests", "Status": 429, "Detail": "Rate limit exceeded"}
    return {"ErrorNumber": 500, "Type": "UnknownErrorException", "Message": f"An error occurred in Xero: {message}"}


def validation(messages: list[str], element: dict[str, Any] | None = None) -> ExactJSONResponse:
    return ExactJSONResponse({
        "ErrorNumber": 10, "Type": "ValidationException", "Message": "A validation exception occurred",
        "Elements": [{**(element or {}), "ValidationErrors": [{"Message": m} for m in messages]}],
    }, status_code=400)


def ordered(rows: list[dict[str, Any]], order: str | None) -> list[dict[str, Any]]:
    """`order=Name DESC` (or `Name ASC`, or just `Name`); dotted fields allowed."""
    if not order:
        return rows
    name, _, direction = order.strip().partition(" ")
    return sorted(rows, key=lambda r: str(where_language.field(r, name) or ""),
                  reverse=direction.strip().upper() == "DESC")


def filtered(rows: list[dict[str, Any]], where: str | None) -> list[dict[str, Any]] | ExactJSONResponse:
    """Rows matching a `where` filter (connectors/xero/where.py), or Xero's 400 saying why it does not parse."""
    if not where:
        return rows
    try:
        predicate = where_language.parse(where)
    except where_language.WhereError as exc:
        return validation([f"The where clause {where!r} is not valid: {exc}"])
    return [r for r in rows if predicate(r)]


def create_app(
    client_id: str = "sandbox-xero-client",
    client_secret: str = "sandbox-xero-secret",
    initial_refresh_token: str = "xero-rt-sandbox-initial",
    tenant_id: str = "4d1c2b3a-0000-4000-8000-00000000beef",
    faults: FaultConfig | None = None,
    state_path: Path | None = None,
    *,
    minute_limit: int = 60,
    day_limit: int = 5000,
    access_token_ttl: int = 1800,
) -> Sandbox:
    store = SandboxStore(state_path or ":memory:")
    faults = faults or FaultConfig()
    app = FastAPI(title="Xero sandbox")
    window = RateWindow(minute_limit, 60.0)

    @app.exception_handler(RequestValidationError)
    async def bad_parameter(request: Request, exc: RequestValidationError) -> ExactJSONResponse:
        """A parameter of the wrong type (`page=abc`) gets Xero's ValidationException, not FastAPI's 422."""
        return validation([f"{e['loc'][-1]} is not valid" for e in exc.errors()])
    if store.get("oauth", "refresh") is None:
        store.put("oauth", "refresh", {"valid": [initial_refresh_token]})

    # ---- identity ------------------------------------------------------------------------------
    @app.post("/connect/token")
    async def token(request: Request) -> ExactJSONResponse:
        try:
            form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        except UnicodeDecodeError:
            form = {}
        basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
        by_header = request.headers.get("authorization") == f"Basic {basic}"
        by_form = form.get("client_id") == client_id and form.get("client_secret") == client_secret
        if not (by_header or by_form):
            return ExactJSONResponse({"error": "invalid_client"}, status_code=400)
        if form.get("grant_type") != "refresh_token":
            return ExactJSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        state = store.get("oauth", "refresh") or {"valid": []}
        if form.get("refresh_token") not in state["valid"]:
            return ExactJSONResponse({"error": "invalid_grant"}, status_code=400)
        refresh = "xero-rt-" + secrets.token_urlsafe(24)
        access = "xero-at-" + secrets.token_urlsafe(32)
        store.put("oauth", "refresh", {"valid": [refresh]})  # rotation: the used token is dead now
        store.put("oauth_access", access, {"expires_at": time.time() + access_token_ttl})
        return ExactJSONResponse({"id_token": None, "access_token": access, "expires_in": access_token_ttl,
                                  "token_type": "Bearer", "refresh_token": refresh,
                                  "scope": "offline_access accounting.transactions accounting.contacts"})

    @app.get("/connections")
    async def connections(request: Request) -> ExactJSONResponse:
        if (problem := authenticate(request)) is not None:
            return problem
        return ExactJSONResponse([{"id": str(uuid.uuid5(uuid.NAMESPACE_URL, tenant_id)), "tenantId": tenant_id,
                                   "tenantType": "ORGANISATION", "tenantName": "Bayside Appliance Repair"}])

    def authenticate(request: Request) -> ExactJSONResponse | None:
        auth = request.headers.get("authorization", "")
        grant = store.get("oauth_access", auth.removeprefix("Bearer ")) if auth.startswith("Bearer ") else None
        if grant is None or grant["expires_at"] < time.time():
            return ExactJSONResponse(_problem(401, "Unauthorized", "AuthenticationUnsuccessful"), status_code=401)
        return None

    canonical = {name.lower(): name for name in ("Contacts", "Invoices", "Payments", "Email", "Connections")}

    @app.middleware("http")
    async def case_insensitive_paths(request: Request, call_next):  # type: ignore[no-untyped-def]
        """Xero's paths are case-insensitive (`/api.xro/2.0/invoices` works; xero-python asks for
        `/Connections`): resource names are brought to one spelling before routing."""
        parts = request.scope["path"].split("/")
        fixed = [canonical.get(p.lower(), p) if p.lower() in canonical else p for p in parts]
        if fixed and fixed[1:2] == ["Connections"]:
            fixed[1] = "connections"
        request.scope["path"] = "/".join(fixed)
        return await call_next(request)

    @app.middleware("http")
    async def tenant_and_day(request: Request, call_next):  # type: ignore[no-untyped-def]
        if not request.url.path.startswith("/api.xro/"):
            return await call_next(request)
        if (problem := authenticate(request)) is not None:
            return problem
        if request.headers.get("xero-tenant-id") != tenant_id:
            return ExactJSONResponse(_problem(403, "Forbidden", "AuthorizationUnsuccessful"), status_code=403)
        day = datetime.now(UTC).date().isoformat()
        used = (store.get("limits", day) or {"used": 0})["used"]
        if used >= day_limit:
            response = ExactJSONResponse(error_body(429, "day"), status_code=429)
            response.headers.update({"Retry-After": str(3600), "X-Rate-Limit-Problem": "day",
                                     "X-DayLimit-Remaining": "0"})
            return response
        store.put("limits", day, {"used": used + 1})
        response = await call_next(request)
        response.headers["X-DayLimit-Remaining"] = str(max(0, day_limit - used - 1))
        return response

    @app.post("/_sandbox/day-usage")
    async def set_day_usage(request: Request) -> ExactJSONResponse:
        body = await read_json(request) or {}
        store.put("limits", datetime.now(UTC).date().isoformat(), {"used": int(body.get("used", 0))})
        return ExactJSONResponse({"ok": True})

    # ---- idempotency ------------------------------------------------------------------------------
    async def replayed(request: Request) -> tuple[str | None, ExactJSONResponse | Response | None]:
        key = request.headers.get("idempotency-key")
        if not key:
            return None, None
        if len(key) > 128:
            return None, validation(["Idempotency-Key must be at most 128 characters"])
        slot = hashlib.sha256(f"{request.method} {request.url.path} {key}".encode()).hexdigest()
        seen = store.get("idempotency", slot)
        if seen is None:
            return slot, None
        if seen["status"] == 204:
            return slot, Response(status_code=204)
        return slot, ExactJSONResponse(seen["body"], status_code=seen["status"])

    def remember(slot: str | None, status: int, body: Any) -> None:
        if slot is not None:
            store.put("idempotency", slot, {"status": status, "body": body})

    def envelope(name: str, items: list[dict[str, Any]]) -> dict[str, Any]:
        return {"Id": str(uuid.uuid4()), "Status": "OK", "ProviderName": "fieldbridge", "DateTimeUTC": _xero_date(),
                name: items}

    # ---- contacts --------------------------------------------------------------------------------
    def save_contact(body: dict[str, Any], existing: dict[str, Any] | None) -> tuple[dict[str, Any] | None, list[str]]:
        name = body.get("Name", existing.get("Name") if existing else None)
        if not isinstance(name, str) or not name.strip():
            return None, ["The contact name must be specified."]
        clash = next(store.find("Contacts", lambda c: c["Name"].lower() == name.lower() and c.get(
            "ContactStatus") == "ACTIVE" and (existing is None or c["ContactID"] != existing["ContactID"])), None)
        if clash is not None:
            return None, [f"The contact name {name} is already assigned to another contact. The contact name must "
                          "be unique across all active contacts."]
        contact = existing or {"ContactID": str(uuid.uuid4()), "ContactStatus": "ACTIVE", "IsCustomer": True}
        for field in ("Name", "ContactNumber", "EmailAddress", "Addresses", "FirstName", "LastName"):
            if field in body:
                contact[field] = body[field]
        contact["UpdatedDateUTC"] = _xero_date()
        store.put("Contacts", contact["ContactID"], contact)
        return contact, []

    @app.get("/api.xro/2.0/Contacts")
    async def list_contacts(request: Request, where: str | None = None, page: int | None = None,
                            IDs: str | None = None, searchTerm: str | None = None,
                            order: str | None = None) -> ExactJSONResponse:
        rows = store.all("Contacts")
        rows = filtered(rows, where)
        if isinstance(rows, ExactJSONResponse):
            return rows
        if IDs:
            wanted = {v.strip().lower() for v in IDs.split(",")}
            rows = [r for r in rows if r["ContactID"].lower() in wanted]
        if searchTerm:  # case-insensitive, across the name, person, number and email fields
            term = searchTerm.lower()
            rows = [r for r in rows if any(term in str(r.get(f) or "").lower() for f in (
                "Name", "FirstName", "LastName", "ContactNumber", "EmailAddress"))]
        rows = ordered(rows, order)
        if page:
            rows = rows[(page - 1) * 100: page * 100]
        return ExactJSONResponse(envelope("Contacts", rows))

    @app.get("/api.xro/2.0/Contacts/{contact_id}")
    async def get_contact(contact_id: str) -> ExactJSONResponse:
        doc = store.get("Contacts", contact_id) or next(store.find("Contacts", lambda c: c.get("ContactNumber") ==
                                                                   contact_id), None)
        if doc is None:
            return ExactJSONResponse(_problem(404, "Not Found", "The resource you're looking for cannot be found"),
                                     status_code=404)
        return ExactJSONResponse(envelope("Contacts", [doc]))

    @app.put("/api.xro/2.0/Contacts")
    @app.post("/api.xro/2.0/Contacts")
    async def save_contacts(request: Request) -> Response:
        slot, seen = await replayed(request)
        if seen is not None:
            return seen
        body = await read_json(request)
        if is_malformed(body) or not isinstance(body, dict) or not isinstance(body.get("Contacts"), list):
            return validation(["The request body must be {\"Contacts\": [...]}"])
        saved = []
        for item in body["Contacts"]:
            if not isinstance(item, dict):
                return validation(["Each contact must be an object"])
            existing = store.get("Contacts", str(item.get("ContactID"))) if item.get("ContactID") else None
            if request.method == "PUT" and existing is not None:
                return validation(["A contact with this ContactID already exists; use POST to update"])
            contact, problems = save_contact(item, existing)
            if problems:
                return validation(problems, {"Name": item.get("Name")})
            saved.append(contact)
        out = envelope("Contacts", saved)
        remember(slot, 200, out)
        return ExactJSONResponse(out)

    # ---- invoices --------------------------------------------------------------------------------
    def number(value: Any, name: str, n: int, problems: list[str]) -> Decimal | None:
        try:
            return Decimal(str(value))
        except (InvalidOperation, ValueError):
            problems.append(f"Line {n}: {name} must be a number")
            return None

    def priced(item: dict[str, Any], existing: dict[str, Any] | None) -> tuple[dict[str, Any] | None, list[str]]:
        """Validate and price an invoice the way Xero does; returns the stored document or the problems."""
        doc = dict(existing or {"InvoiceID": str(uuid.uuid4()), "Type": "ACCREC", "Status": "DRAFT",
                                "AmountPaid": Decimal("0.00"), "AmountCredited": Decimal("0.00"),
                                "SentToContact": False, "Payments": [], "HasAttachments": False})
        problems: list[str] = []
        if existing is not None and existing.get("Status") in ("PAID", "VOIDED", "DELETED"):
            return None, ["Invoice not of valid status for modification"]
        if existing is not None and Decimal(str(existing.get("AmountPaid") or 0)) > 0 and "LineItems" in item:
            return None, ["This document cannot be edited as it has a payment or credit note allocated to it."]
        kind = item.get("Type", doc["Type"])
        if kind not in ("ACCREC", "ACCPAY"):
            problems.append("Invoice Type must be ACCREC or ACCPAY")
        contact_id = (item.get("Contact") or doc.get("Contact") or {}).get("ContactID")
        contact = store.get("Contacts", str(contact_id)) if contact_id else None
        if contact is None:
            problems.append("A Contact must be specified for this type of transaction")
        lines_in = item.get("LineItems", doc.get("LineItems"))
        if not isinstance(lines_in, list) or not lines_in:
            problems.append("At least one line item is required")
            lines_in = []
        lines = []
        for n, line in enumerate(lines_in, 1):
            if not isinstance(line, dict) or not (line.get("Description") or line.get("ItemCode")):
                problems.append(f"Line {n}: Description or ItemCode is required")
                continue
            qty = number(line.get("Quantity", 1), "Quantity", n, problems)
            unit = number(line.get("UnitAmount", 0), "UnitAmount", n, problems)
            if qty is None or unit is None:
                continue
            amount = (qty * unit).quantize(CENT, rounding=ROUND_HALF_UP)
            if line.get("LineAmount") is not None and number(line["LineAmount"], "LineAmount", n, problems) != amount:
                problems.append(f"Line {n}: the line total {line['LineAmount']} does not match quantity × unit "
                                f"amount ({amount})")
            account = str(line.get("AccountCode") or "")
            if account not in ACCOUNTS:
                problems.append(f"Line {n}: Account code '{account}' is not a valid code for this document.")
            tax_type = line.get("TaxType", "NONE")
            if not isinstance(tax_type, str) or tax_type not in TAX_RATES:
                problems.append(f"Line {n}: The TaxType code '{tax_type}' does not exist or cannot be used")
                continue
            tax = line.get("TaxAmount")
            tax = number(tax, "TaxAmount", n, problems) if tax is not None else \
                (amount * TAX_RATES[tax_type]).quantize(CENT, rounding=ROUND_HALF_UP)
            lines.append({"LineItemID": line.get("LineItemID") or str(uuid.uuid4()),
                          "Description": line.get("Description", ""), "Quantity": qty, "UnitAmount": unit,
                          "LineAmount": amount, "AccountCode": account, "TaxType": tax_type,
                          "TaxAmount": tax or Decimal("0.00")})
        number_ = item.get("InvoiceNumber", doc.get("InvoiceNumber"))
        if number_ and kind == "ACCREC" and next(store.find("Invoices", lambda i: i.get("InvoiceNumber") == number_
                                                            and i["InvoiceID"] != doc["InvoiceID"]), None):
            problems.append("Invoice # must be unique.")
        status = item.get("Status", doc["Status"])
        if status not in ("DRAFT", "SUBMITTED", "AUTHORISED"):
            problems.append(f"Status {status} cannot be set here")
        date = day_of(item.get("Date") or doc.get("DateString", "")[:10] or datetime.now(UTC).date().isoformat())
        due = day_of(item.get("DueDate") or doc.get("DueDateString", "")[:10] or date)
        if date is None or due is None:
            problems.append("Date and DueDate must be dates (YYYY-MM-DD or /Date(ms)/)")
        if problems:
            return None, problems
        assert contact is not None and date is not None and due is not None
        subtotal = sum((x["LineAmount"] for x in lines), Decimal("0.00"))
        tax_total = sum((x["TaxAmount"] for x in lines), Decimal("0.00"))
        total = subtotal + tax_total
        doc.update({
            "Type": kind, "Contact": {"ContactID": contact["ContactID"], "Name": contact["Name"]},
            "LineItems": lines, "LineAmountTypes": item.get("LineAmountTypes", doc.get("LineAmountTypes",
                                                                                         "Exclusive")),
            "InvoiceNumber": number_ or f"INV-{store.next_id('InvoiceNumber', start=1):04d}",
            "Reference": item.get("Reference", doc.get("Reference", "")), "Status": status,
            "CurrencyCode": item.get("CurrencyCode", doc.get("CurrencyCode", "USD")),
            "Date": _xero_date(datetime.fromisoformat(date).replace(tzinfo=UTC)), "DateString": f"{date}T00:00:00",
            "DueDate": _xero_date(datetime.fromisoformat(due).replace(tzinfo=UTC)), "DueDateString": f"{due}T00:00:00",
            "SubTotal": subtotal, "TotalTax": tax_total, "Total": total,
            "AmountDue": total - doc["AmountPaid"] - doc["AmountCredited"], "UpdatedDateUTC": _xero_date(),
        })
        return doc, []

    def invoices_answer(slot: str | None, saved: list[dict[str, Any]]) -> ExactJSONResponse:
        out = envelope("Invoices", saved)
        remember(slot, 200, out)
        return ExactJSONResponse(out)

    @app.put("/api.xro/2.0/Invoices")
    @app.post("/api.xro/2.0/Invoices")
    async def save_invoices(request: Request) -> Response:
        slot, seen = await replayed(request)
        if seen is not None:
            return seen
        body = await read_json(request)
        if is_malformed(body) or not isinstance(body, dict) or not isinstance(body.get("Invoices"), list):
            return validation(["The request body must be {\"Invoices\": [...]}"])
        saved = []
        for item in body["Invoices"]:
            if not isinstance(item, dict):
                return validation(["Each invoice must be an object"])
            existing = store.get("Invoices", str(item.get("InvoiceID"))) if item.get("InvoiceID") else None
            if request.method == "PUT" and existing is not None:
                return validation(["An invoice with this InvoiceID already exists; use POST to update"])
            doc, problems = priced(item, existing)
            if problems:
                return validation(problems, {"InvoiceNumber": item.get("InvoiceNumber")})
            assert doc is not None
            store.put("Invoices", doc["InvoiceID"], doc)
            saved.append(doc)
        return invoices_answer(slot, saved)

    @app.post("/api.xro/2.0/Invoices/{invoice_id}")
    async def update_invoice(invoice_id: str, request: Request) -> Response:
        slot, seen = await replayed(request)
        if seen is not None:
            return seen
        existing = store.get("Invoices", invoice_id)
        if existing is None:
            return ExactJSONResponse(_problem(404, "Not Found", "The resource you're looking for cannot be found"),
                                     status_code=404)
        body = await read_json(request)
        items = body.get("Invoices") if isinstance(body, dict) else None
        if is_malformed(body) or not isinstance(items, list) or len(items) != 1 or not isinstance(items[0], dict):
            return validation(["The request body must be {\"Invoices\": [one invoice]}"])
        doc, problems = priced(items[0], existing)
        if problems:
            return validation(problems, {"InvoiceID": invoice_id})
        assert doc is not None
        store.put("Invoices", invoice_id, doc)
        return invoices_answer(slot, [doc])

    @app.get("/api.xro/2.0/Invoices")
    async def list_invoices(request: Request, where: str | None = None, InvoiceNumbers: str | None = None,
                            IDs: str | None = None, Statuses: str | None = None, page: int | None = None,
                            pageSize: int | None = None, order: str | None = None,
                            ContactIDs: str | None = None) -> ExactJSONResponse:
        rows = store.all("Invoices")
        rows = filtered(rows, where)
        if isinstance(rows, ExactJSONResponse):
            return rows
        for param, field in ((InvoiceNumbers, "InvoiceNumber"), (IDs, "InvoiceID"), (Statuses, "Status"),
                             (ContactIDs, "Contact.ContactID")):
            if param:
                wanted = {v.strip().strip('"').lower() for v in param.split(",")}
                rows = [r for r in rows if str(where_language.field(r, field) or "").lower() in wanted]
        since = request.headers.get("if-modified-since")
        if since:
            try:
                cutoff = datetime.fromisoformat(since.replace("Z", "+00:00"))
            except ValueError:
                return validation([f"If-Modified-Since {since!r} is not a date"])
            cutoff = cutoff if cutoff.tzinfo else cutoff.replace(tzinfo=UTC)
            rows = [r for r in rows if _ms(r["UpdatedDateUTC"]) >= cutoff.timestamp() * 1000]
        rows = ordered(rows, order)
        if page:
            size = max(1, min(pageSize or 100, 1000))
            rows = rows[(page - 1) * size: page * size]
        return ExactJSONResponse(envelope("Invoices", rows))

    @app.get("/api.xro/2.0/Invoices/{invoice_id}")
    async def get_invoice(invoice_id: str) -> ExactJSONResponse:
        doc = store.get("Invoices", invoice_id) or next(store.find("Invoices", lambda i: i.get("InvoiceNumber") ==
                                                                   invoice_id), None)
        if doc is None:
            return ExactJSONResponse(_problem(404, "Not Found", "The resource you're looking for cannot be found"),
                                     status_code=404)
        return ExactJSONResponse(envelope("Invoices", [doc]))

    @app.post("/api.xro/2.0/Invoices/{invoice_id}/Email")
    async def email_invoice(invoice_id: str, request: Request) -> Response:
        slot, seen = await replayed(request)
        if seen is not None:
            return seen
        doc = store.get("Invoices", invoice_id)
        if doc is None:
            return ExactJSONResponse(_problem(404, "Not Found", "The resource you're looking for cannot be found"),
                                     status_code=404)
        if doc["Status"] not in ("AUTHORISED", "PAID"):
            return validation(["Invoice must be approved before it can be emailed"])
        contact = store.get("Contacts", doc["Contact"]["ContactID"]) or {}
        if not contact.get("EmailAddress"):
            return validation(["The contact does not have a valid email address"])
        doc["SentToContact"] = True
        doc["UpdatedDateUTC"] = _xero_date()
        store.put("Invoices", invoice_id, doc)
        store.put("outbox", str(store.next_id("outbox")), {"invoice": invoice_id, "to": contact["EmailAddress"]})
        remember(slot, 204, None)
        return Response(status_code=204)

    @app.put("/api.xro/2.0/Payments")
    async def create_payments(request: Request) -> Response:
        slot, seen = await replayed(request)
        if seen is not None:
            return seen
        body = await read_json(request)
        payments = body.get("Payments") if isinstance(body, dict) else None
        if is_malformed(body) or not isinstance(payments, list) or not payments:
            return validation(["The request body must be {\"Payments\": [...]}"])
        saved = []
        for p in payments:
            if not isinstance(p, dict) or not isinstance(p.get("Invoice") or {}, dict):
                return validation(["Each payment must be an object with an Invoice object"])
            invoice = store.get("Invoices", str(((p or {}).get("Invoice") or {}).get("InvoiceID")))
            try:
                amount = Decimal(str(p.get("Amount")))
            except (InvalidOperation, ValueError, AttributeError):
                return validation(["Payment amount must be a number"])
            if invoice is None or invoice["Status"] != "AUTHORISED":
                return validation(["Payment can only be made against an AUTHORISED invoice"])
            if amount <= 0 or amount > invoice["AmountDue"]:
                return validation([f"Payment amount exceeds the amount outstanding on this document ({amount})"])
            invoice["AmountPaid"] += amount
            invoice["AmountDue"] -= amount
            if invoice["AmountDue"] == 0:
                invoice["Status"] = "PAID"
            invoice["UpdatedDateUTC"] = _xero_date()
            store.put("Invoices", invoice["InvoiceID"], invoice)
            saved.append({"PaymentID": str(uuid.uuid4()), "Amount": amount,
                          "Invoice": {"InvoiceID": invoice["InvoiceID"]}, "Status": "AUTHORISED"})
        out = envelope("Payments", saved)
        remember(slot, 200, out)
        return ExactJSONResponse(out)

    def headers(w: RateWindow | None) -> dict[str, str]:
        remaining = max(0, (w.limit if w else minute_limit) - (len(w._hits) if w else 0))
        out = {"X-MinLimit-Remaining": str(remaining), "X-AppMinLimit-Remaining": "9999"}
        if remaining == 0:
            out["X-Rate-Limit-Problem"] = "minute"
        return out

    return build_sandbox("xero", app, store, faults, error_body, window, headers,
                         exempt=("/connect/token", "/connections"))


def _ms(xero_date: str) -> int:
    match = re.search(r"/Date\((\d+)", xero_date or "")
    return int(match.group(1)) if match else 0
