"""QuickBooks Online Accounting API v3 emulator: OAuth2 with rotating refresh tokens, invoices,
customers, items, the query language subset we use, requestid replay, SyncToken locking, Faults.
"""

from __future__ import annotations

import base64
import secrets
import time
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pendulum
from fastapi import FastAPI, Request

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
from connectors.quickbooks import query as qbo_query

ENTITIES = {"invoice": "Invoice", "customer": "Customer", "item": "Item", "payment": "Payment"}
CENTS = Decimal("0.01")


def number(value: Any) -> Decimal | None:
    """A JSON number as QuickBooks reads it: exact decimals, whole numbers, and numeric strings (its JSON reader
    coerces them; python-quickbooks sends Decimals as strings). Anything else is not a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal | int):
        return Decimal(value)
    if isinstance(value, str):
        try:
            parsed = Decimal(value.strip())
        except ArithmeticError:
            return None
        return parsed if parsed.is_finite() else None
    return None


def _time() -> str:
    return pendulum.now("America/Los_Angeles").isoformat()


def fault(code: str, message: str, detail: str, fault_type: str = "ValidationFault", element: str = "") -> dict:
    return {
        "Fault": {"Error": [{"Message": message, "Detail": detail, "code": code, "element": element}],
                  "type": fault_type},
        "time": _time(),
    }


def error_body(status: int, message: str) -> dict[str, Any]:
    if status == 429:
        return fault("3001", "message=ThrottleExceeded; errorCode=003001; statusCode=429",
                     "The request limit for this resource has been reached. Try again later.", "SERVICE")
    return fault("10000", "An application error has occurred while processing your request",
                 f"System Failure Error: {message}", "SystemFault")


def create_app(
    client_id: str = "sandbox-client",
    client_secret: str = "sandbox-secret",
    initial_refresh_token: str = "RT1-sandbox-initial",
    realm_id: str = "9341453112345678",
    faults: FaultConfig | None = None,
    state_path: Path | None = None,
    access_token_ttl: int = 3600,
    per_minute_limit: int = 500,
) -> Sandbox:
    store = SandboxStore(state_path or ":memory:")
    faults = faults or FaultConfig()
    app = FastAPI(title="QuickBooks Online sandbox")
    if store.get("oauth", "refresh") is None:
        store.put("oauth", "refresh", {"valid": [initial_refresh_token]})

    def qerr(status: int, body: dict) -> ExactJSONResponse:
        return ExactJSONResponse(body, status_code=status)

    # ---- OAuth2 -----------------------------------------------------------------------------
    @app.post("/oauth2/v1/tokens/bearer")
    async def token(request: Request) -> ExactJSONResponse:
        expected = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {expected}":
            return ExactJSONResponse({"error": "invalid_client"}, status_code=401)
        try:
            form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        except UnicodeDecodeError:
            return ExactJSONResponse({"error": "invalid_request"}, status_code=400)
        if form.get("grant_type") != "refresh_token":
            return ExactJSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        state = store.get("oauth", "refresh") or {"valid": []}
        if form.get("refresh_token") not in state["valid"]:
            return ExactJSONResponse({"error": "invalid_grant"}, status_code=400)
        new_refresh = "RT1-" + secrets.token_urlsafe(24)
        access = "eyJ-" + secrets.token_urlsafe(32)
        store.put("oauth", "refresh", {"valid": [new_refresh]})  # rotation: the used token is dead now
        store.put("oauth_access", access, {"expires_at": time.time() + access_token_ttl})
        return ExactJSONResponse({
            "token_type": "bearer", "access_token": access, "refresh_token": new_refresh,
            "expires_in": access_token_ttl, "x_refresh_token_expires_in": 8726400,
        })

    @app.post("/_sandbox/expire-access-tokens")
    async def expire_tokens() -> ExactJSONResponse:
        for doc_id in store.ids("oauth_access"):
            store.put("oauth_access", doc_id, {"expires_at": 0})
        return ExactJSONResponse({"expired": True})

    @app.middleware("http")
    async def require_token(request: Request, call_next):  # type: ignore[no-untyped-def]
        if not request.url.path.startswith("/v3/"):
            return await call_next(request)
        auth = request.headers.get("authorization", "")
        grant = store.get("oauth_access", auth.removeprefix("Bearer ")) if auth.startswith("Bearer ") else None
        if grant is None or grant["expires_at"] < time.time():
            return qerr(401, fault("3200", "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                                   "Token expired or invalid", "AUTHENTICATION"))
        if not request.url.path.startswith(f"/v3/company/{realm_id}/"):
            return qerr(403, fault("3100", "message=ApplicationAuthorizationFailed; errorCode=003100; "
                                   "statusCode=403", "The realm is not authorized for this token",
                                   "AUTHORIZATION"))
        return await call_next(request)

    # ---- entities ---------------------------------------------------------------------------
    def meta() -> dict[str, str]:
        now = _time()
        return {"CreateTime": now, "LastUpdatedTime": now}

    def validate_invoice(body: dict[str, Any]) -> dict | None:
        customer_ref, tax_detail = body.get("CustomerRef") or {}, body.get("TxnTaxDetail") or {}
        if not isinstance(customer_ref, dict) or not isinstance(tax_detail, dict):
            return fault("2310", "Invalid Request", "CustomerRef and TxnTaxDetail must be objects")
        cust = customer_ref.get("value")
        if not cust or store.get("Customer", str(cust)) is None:
            return fault("2500", "Invalid Reference Id", f"Invalid Reference Id : Customer {cust} not found",
                         element="CustomerRef")
        lines = body.get("Line")
        if not isinstance(lines, list) or not lines:
            return fault("2020", "Required param missing, need to supply the required value for the API",
                         "Required parameter Line is missing in the request", element="Line")
        for n, line in enumerate(lines, 1):
            if isinstance(line, dict) and line.get("DetailType") == "SubTotalLineDetail":
                continue  # the subtotal an SDK read and sends back is recomputed, not validated
            if not isinstance(line, dict):
                return fault("2310", "Invalid Request", f"Line {n} must be an object", element="Line")
            detail = line.get("SalesItemLineDetail") or {}
            detail = detail if isinstance(detail, dict) else {}
            item_ref = detail.get("ItemRef") or {}
            item = item_ref.get("value") if isinstance(item_ref, dict) else None
            if line.get("DetailType") != "SalesItemLineDetail" or not item or store.get("Item", str(item)) is None:
                return fault("2500", "Invalid Reference Id", f"Line {n}: Invalid Reference Id : Item {item}",
                             element="ItemRef")
            amount, qty, price = number(line.get("Amount")), number(detail.get("Qty")), number(detail.get("UnitPrice"))
            if amount is None or amount < 0:
                return fault("2050", "Invalid amount", f"Line {n}: Amount must be a non-negative number")
            given = (detail.get("Qty"), qty), (detail.get("UnitPrice"), price)
            if any(raw is not None and parsed is None for raw, parsed in given):
                return fault("2050", "Invalid amount", f"Line {n}: Qty and UnitPrice must be numbers")
            line["Amount"] = amount
            expected = (qty * price).quantize(CENTS, ROUND_HALF_UP) if qty is not None and price is not None else None
            if expected is not None and expected != amount:
                return fault("6070", "Amount is not equal to UnitPrice * Qty",
                             f"Line {n}: Amount {amount} is not equal to UnitPrice {price} * Qty {qty}")
        doc = body.get("DocNumber")
        if doc and store.find_by("Invoice", "$.DocNumber", doc):
            return fault("6140", "Duplicate Document Number Error",
                         f"Duplicate Document Number Error : You must specify a different number. "
                         f"This number has already been used. DocNumber={doc}")
        return None

    def priced_lines(body: dict[str, Any]) -> tuple[list[dict[str, Any]], Decimal, Decimal]:
        """Numbered lines plus the SubTotalLine QuickBooks appends, the subtotal and the total."""
        tax = number((body.get("TxnTaxDetail") or {}).get("TotalTax") or 0) or Decimal(0)
        items = [line for line in body["Line"] if line.get("DetailType") == "SalesItemLineDetail"]
        subtotal = sum((line["Amount"] for line in items), Decimal(0))
        lines = [{**line, "Id": str(n), "LineNum": n} for n, line in enumerate(items, 1)]
        lines.append({"Amount": subtotal, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}})
        return lines, subtotal, subtotal + tax

    def create_invoice(body: dict[str, Any]) -> tuple[int, dict]:
        problem = validate_invoice(body)
        if problem:
            return 400, problem
        inv_id = str(store.next_id("Invoice", start=130))
        lines, _, total = priced_lines(body)
        invoice = {
            **body, "Id": inv_id, "SyncToken": "0", "domain": "QBO", "sparse": False, "MetaData": meta(),
            "Line": lines, "TxnTaxDetail": {"TotalTax": total - lines[-1]["Amount"]}, "TotalAmt": total,
            "Balance": total, "CurrencyRef": body.get("CurrencyRef") or {"value": "USD"},
            "DocNumber": body.get("DocNumber") or inv_id, "EmailStatus": "NotSet",
        }
        store.put("Invoice", inv_id, invoice)
        return 200, {"Invoice": invoice, "time": _time()}

    def update_invoice(body: dict[str, Any]) -> tuple[int, dict]:
        current = store.get("Invoice", str(body["Id"]))
        if current is None:
            return 400, fault("610", "Object Not Found", f"Invoice {body['Id']} not found")
        if str(body.get("SyncToken")) != current["SyncToken"]:
            return 400, fault("5010", "Stale Object Error",
                              "Stale Object Error : You and another user were working on the same thing. "
                              "Please try again")
        changes = {k: v for k, v in body.items()  # read-only: QuickBooks keeps its own totals and MetaData
                   if k not in {"Id", "SyncToken", "sparse", "MetaData", "TotalAmt", "Balance"}}
        if "Line" in changes or "TxnTaxDetail" in changes or "CustomerRef" in changes:
            problem = validate_invoice({**current, **changes, "DocNumber": None})
            if problem:
                return 400, problem
        paid = current["TotalAmt"] - current["Balance"]
        current.update(changes)
        if "Line" in changes or "TxnTaxDetail" in changes:  # QuickBooks recomputes the totals on update
            lines, _, total = priced_lines(current)
            current.update(Line=lines, TotalAmt=total, Balance=total - paid,
                           TxnTaxDetail={"TotalTax": total - lines[-1]["Amount"]})
        current["SyncToken"] = str(int(current["SyncToken"]) + 1)
        current["MetaData"]["LastUpdatedTime"] = _time()
        store.put("Invoice", current["Id"], current)
        return 200, {"Invoice": current, "time": _time()}

    def create_payment(body: dict[str, Any]) -> tuple[int, dict]:
        """A payment applied to invoices through `Line[].LinkedTxn` lowers their Balance."""
        total = number(body.get("TotalAmt"))
        if total is None or total <= 0:
            return 400, fault("2020", "Required param missing, need to supply the required value for the API",
                              "Required parameter TotalAmt is missing in the request", element="TotalAmt")
        lines = body.get("Line") or []
        if not isinstance(lines, list) or not all(
                isinstance(line, dict) and isinstance(line.get("LinkedTxn") or [], list)
                and all(isinstance(linked, dict) for linked in line.get("LinkedTxn") or []) for line in lines):
            return 400, fault("2310", "Invalid Request", "Line must be a list of {Amount, LinkedTxn: [{TxnId, "
                              "TxnType}]}", element="Line")
        for line in body.get("Line") or []:
            for linked in line.get("LinkedTxn") or []:
                invoice = store.get("Invoice", str(linked.get("TxnId")))
                if linked.get("TxnType") != "Invoice" or invoice is None:
                    return 400, fault("2500", "Invalid Reference Id",
                                      f"Invalid Reference Id : Invoice {linked.get('TxnId')} not found")
        pay_id = str(store.next_id("Payment", start=300))
        for line in body.get("Line") or []:
            for linked in line.get("LinkedTxn") or []:
                invoice = store.get("Invoice", str(linked["TxnId"]))
                invoice["Balance"] = max(Decimal(0), invoice["Balance"] - (number(line.get("Amount")) or Decimal(0)))
                invoice["SyncToken"] = str(int(invoice["SyncToken"]) + 1)
                store.put("Invoice", invoice["Id"], invoice)
        doc = {**body, "TotalAmt": total, "Id": pay_id, "SyncToken": "0", "MetaData": meta()}
        store.put("Payment", pay_id, doc)
        return 200, {"Payment": doc, "time": _time()}

    def create_named(entity: str, body: dict[str, Any]) -> tuple[int, dict]:
        name_field = "DisplayName" if entity == "Customer" else "Name"
        name = body.get(name_field)
        if not name:
            return 400, fault("2020", "Required param missing, need to supply the required value for the API",
                              f"Required parameter {name_field} is missing in the request")
        if next(store.find(entity, lambda d: d.get(name_field) == name), None) is not None:
            return 400, fault("6240", "Duplicate Name Exists Error",
                              f"The name supplied already exists. : {name}")
        new_id = str(store.next_id(entity, start=58))
        doc = {**body, "Id": new_id, "SyncToken": "0", "Active": True, "MetaData": meta()}
        store.put(entity, new_id, doc)
        return 200, {entity: doc, "time": _time()}

    @app.post("/v3/company/{realm}/invoice/{invoice_id}/send")
    async def send_invoice(realm: str, invoice_id: str, request: Request, sendTo: str | None = None,
                           requestid: str | None = None) -> ExactJSONResponse:
        """Email the invoice: EmailStatus becomes EmailSent and DeliveryInfo records when."""
        replay_key = f"{realm}:send:{requestid}" if requestid else None
        if replay_key and (seen := store.get("requestid", replay_key)) is not None:
            return ExactJSONResponse(seen["body"], status_code=seen["status"])
        invoice = store.get("Invoice", invoice_id)
        if invoice is None:
            return qerr(400, fault("610", "Object Not Found", f"Object Not Found : Invoice {invoice_id}"))
        address = sendTo or (invoice.get("BillEmail") or {}).get("Address")
        if not address:
            return qerr(400, fault("2050", "Email Address is missing", "The invoice has no BillEmail and no sendTo"))
        invoice.update(EmailStatus="EmailSent", BillEmail={"Address": address},
                       DeliveryInfo={"DeliveryType": "Email", "DeliveryTime": _time()})
        outbox = store.next_id("outbox")  # the emails the customer received, for tests to count
        store.put("outbox", str(outbox), {"invoice": invoice_id, "to": address, "at": _time()})
        invoice["SyncToken"] = str(int(invoice["SyncToken"]) + 1)
        store.put("Invoice", invoice_id, invoice)
        result = {"Invoice": invoice, "time": _time()}
        if replay_key:
            store.put("requestid", replay_key, {"status": 200, "body": result})
        return ExactJSONResponse(result)

    @app.post("/v3/company/{realm}/batch")
    async def batch(realm: str, request: Request, requestid: str | None = None) -> ExactJSONResponse:
        """Up to 30 operations; each item's Fault comes back INSIDE the 200 (QuickBooks' batch contract)."""
        replay_key = f"{realm}:batch:{requestid}" if requestid else None
        if replay_key and (seen := store.get("requestid", replay_key)) is not None:
            return ExactJSONResponse(seen["body"], status_code=seen["status"])
        body = await read_json(request)
        items = body.get("BatchItemRequest") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            return qerr(400, fault("2310", "Invalid Request", "BatchItemRequest is required"))
        if len(items) > 30:
            return qerr(400, fault("4001", "Batch size exceeded", f"{len(items)} operations; the maximum is 30"))
        responses = []
        if not all(isinstance(item, dict) and isinstance(item.get("Query", ""), str)
                   and all(isinstance(item[e], dict) for e in ENTITIES.values() if e in item) for item in items):
            return qerr(400, fault("2310", "Invalid Request", "each BatchItemRequest item must be an object holding "
                                   "an entity object or a Query string"))
        for item in items:
            bid = item.get("bId")
            if "Query" in item:
                status, out = run_query(item["Query"])
                out.pop("time", None)
            else:
                entity = next((e for e in ENTITIES.values() if e in item), None)
                if item.get("operation") not in ("create", "update") or entity is None:
                    status, out = 400, fault("4000", "Unsupported Operation", f"bId {bid}: unsupported operation")
                elif entity == "Invoice":
                    status, out = (update_invoice if item["Invoice"].get("Id") else create_invoice)(item["Invoice"])
                elif entity == "Payment":
                    status, out = create_payment(item["Payment"])
                else:
                    status, out = create_named(entity, item[entity])
                out.pop("time", None)
            responses.append({"bId": bid, **({"Fault": out["Fault"]} if status >= 400 else out)})
        result = {"BatchItemResponse": responses, "time": _time()}
        if replay_key:
            store.put("requestid", replay_key, {"status": 200, "body": result})
        return ExactJSONResponse(result)

    @app.post("/v3/company/{realm}/{entity}")
    async def post_entity(realm: str, entity: str, request: Request, requestid: str | None = None) -> ExactJSONResponse:
        if entity == "query":
            return await query_by_post(request)
        if entity not in ENTITIES:
            return qerr(400, fault("4000", "Unsupported Operation", f"Operation {entity} is not supported"))
        replay_key = f"{realm}:{requestid}" if requestid else None
        if replay_key:
            seen = store.get("requestid", replay_key)
            if seen is not None:  # same requestid: the original answer, nothing new written
                return ExactJSONResponse(seen["body"], status_code=seen["status"])
        body = await read_json(request)
        if is_malformed(body) or not isinstance(body, dict):
            status, out = 400, fault("2310", "Invalid Request", "Request has invalid or unsupported property")
        elif ENTITIES[entity] == "Invoice":
            status, out = update_invoice(body) if body.get("Id") else create_invoice(body)
        elif ENTITIES[entity] == "Payment":
            status, out = create_payment(body)
        else:
            status, out = create_named(ENTITIES[entity], body)
        if replay_key:
            store.put("requestid", replay_key, {"status": status, "body": out})
        return ExactJSONResponse(out, status_code=status)

    @app.get("/v3/company/{realm}/{entity}/{entity_id}")
    async def read_entity(realm: str, entity: str, entity_id: str) -> ExactJSONResponse:
        doc = store.get(ENTITIES.get(entity, "?"), entity_id)
        if doc is None:
            return qerr(400, fault("610", "Object Not Found", f"Object Not Found : {entity} {entity_id}"))
        return ExactJSONResponse({ENTITIES[entity]: doc, "time": _time()})

    def run_query(text: str) -> tuple[int, dict[str, Any]]:
        """The query language, parsed (connectors/quickbooks/query.py): names with `and` or a backslash
        in them are found exactly."""
        try:
            parsed = qbo_query.parse(text)
        except qbo_query.QueryError as exc:
            return 400, fault("4000", "Error parsing query", str(exc))
        entity = next((e for e in ENTITIES.values() if e.lower() == parsed.entity.lower()), None)
        if entity is None:
            return 400, fault("4000", "Error parsing query",
                              f"QueryParserError: Invalid entity {parsed.entity}")
        rows = store.all(entity)
        if parsed.count:
            return 200, {"QueryResponse": {"totalCount": sum(1 for r in rows if parsed.matches(r))}, "time": _time()}
        page = qbo_query.run(parsed, rows)
        result: dict[str, Any] = {}
        if page:
            result = {entity: page, "startPosition": parsed.start, "maxResults": len(page)}
        return 200, {"QueryResponse": result, "time": _time()}

    @app.get("/v3/company/{realm}/query")
    async def query(realm: str, query: str | None = None) -> ExactJSONResponse:
        if not query:
            return qerr(400, fault("4000", "Error parsing query", "QueryParserError: the query parameter is empty"))
        status, body = run_query(query)
        return ExactJSONResponse(body, status_code=status)

    async def query_by_post(request: Request) -> ExactJSONResponse:
        """The SDKs send queries as a POST with the statement as an `application/text` body."""
        try:
            text = (await request.body()).decode("utf-8")
        except UnicodeDecodeError:
            text = ""
        if not text.strip():
            return qerr(400, fault("4000", "Error parsing query", "QueryParserError: the query body is empty"))
        status, body = run_query(text)
        return ExactJSONResponse(body, status_code=status)

    @app.get("/.well-known/openid_configuration")
    async def discovery(request: Request) -> ExactJSONResponse:
        """OpenID discovery, which Intuit's OAuth client reads to find the token endpoint."""
        base = str(request.base_url).rstrip("/")
        return ExactJSONResponse({
            "issuer": base, "authorization_endpoint": f"{base}/oauth2/v1/authorize",
            "token_endpoint": f"{base}/oauth2/v1/tokens/bearer",
            "userinfo_endpoint": f"{base}/v1/openid_connect/userinfo",
            "revocation_endpoint": f"{base}/oauth2/v1/tokens/revoke", "jwks_uri": f"{base}/oauth2/v1/keys"})

    return build_sandbox("quickbooks", app, store, faults, error_body, RateWindow(per_minute_limit, 60.0),
                         exempt=("/oauth2/", "/.well-known/"))

