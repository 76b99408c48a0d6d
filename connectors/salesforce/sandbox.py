"""Salesforce REST API emulator: OAuth2 (refresh token with rotation, JWT bearer), Case and CaseComment
sObjects with upsert by external id (201 / 200 / 300, `updateOnly`), SOQL with `nextRecordsUrl` paging,
sObject Collections, the daily quota in `Sforce-Limit-Info` (403 `REQUEST_LIMIT_EXCEEDED` past it), and
error arrays `[{"message", "errorCode", "fields"}]`. Paths accept the trailing slashes SDKs add.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

import pendulum
from fastapi import FastAPI, Request, Response

from connectors.emulator import (
    ExactJSONResponse,
    FaultConfig,
    Sandbox,
    SandboxStore,
    build_sandbox,
    is_malformed,
    read_json,
)
from connectors.salesforce import soql

CASE_STATUSES = {"New": False, "Working": False, "Escalated": False, "Closed": True}
OBJECTS: dict[str, dict[str, Any]] = {
    "Case": {"prefix": "500", "fields": {"Subject", "Description", "Status", "Origin", "Priority", "FSM_Job_Id__c",
                                          "Resolution__c", "OwnerId", "ContactId", "AccountId", "Type", "Reason",
                                          "FSM_Technician__c", "FSM_Visit_Start__c", "FSM_Visit_End__c",
                                          "FSM_Needs_Visit__c"},
             "readonly": {"Id", "IsClosed", "ClosedDate", "CreatedDate", "LastModifiedDate", "SystemModstamp",
                          "CaseNumber"},
             "external_ids": {"FSM_Job_Id__c"}},
    "Contact": {"prefix": "003", "fields": {"FirstName", "LastName", "Email", "Phone", "MailingStreet", "MailingCity",
                                            "MailingState", "MailingPostalCode", "AccountId",
                                            "FSM_Preferences__c"},
                "readonly": {"Id", "Name", "CreatedDate", "LastModifiedDate", "SystemModstamp"},
                "external_ids": set()},
    "CaseComment": {"prefix": "00a", "fields": {"ParentId", "CommentBody", "IsPublished"},
                    "readonly": {"Id", "CreatedDate", "LastModifiedDate", "SystemModstamp", "CreatedById"},
                    "external_ids": set()},
    "Account": {"prefix": "001", "fields": {"Name", "Phone", "BillingStreet", "BillingCity", "BillingState",
                                            "BillingPostalCode", "Type", "Industry", "FSM_Service_Level__c",
                                            "FSM_Contract__c"},
                "readonly": {"Id", "CreatedDate", "LastModifiedDate", "SystemModstamp"},
                "external_ids": set()},
    # an activity: WhatId names the Account (or other record) it is logged on, WhoId a Contact
    "Task": {"prefix": "00T", "fields": {"Subject", "Description", "Status", "Priority", "ActivityDate", "WhatId",
                                         "WhoId", "TaskSubtype", "OwnerId"},
             "readonly": {"Id", "IsClosed", "CreatedDate", "LastModifiedDate", "SystemModstamp", "AccountId"},
             "external_ids": set()},
}
TASK_STATUSES = {"Not Started": False, "In Progress": False, "Waiting on someone else": False, "Deferred": False,
                 "Completed": True}


def error(status: int, message: str, code: str | None = None, fields: list[str] | None = None) -> ExactJSONResponse:
    default = {400: "INVALID_FIELD", 401: "INVALID_SESSION_ID", 403: "INSUFFICIENT_ACCESS", 404: "NOT_FOUND",
               429: "REQUEST_LIMIT_EXCEEDED", 500: "UNKNOWN_EXCEPTION", 503: "SERVER_UNAVAILABLE"}
    return ExactJSONResponse([{"message": message, "errorCode": code or default.get(status, "UNKNOWN_EXCEPTION"),
                               "fields": fields or []}], status_code=status)


def error_body(status: int, message: str) -> list[dict[str, Any]]:
    if status == 429:
        return [{"message": "ConcurrentPerOrgLongTxn Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED",
                 "fields": []}]
    return [{"message": message, "errorCode": "SERVER_UNAVAILABLE" if status == 503 else "UNKNOWN_EXCEPTION",
             "fields": []}]


def _now() -> str:
    return pendulum.now("UTC").format("YYYY-MM-DDTHH:mm:ss.SSSZZ").replace("+00:00", "+0000")


def _b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def create_app(
    client_id: str = "sandbox-consumer-key",
    client_secret: str = "sandbox-consumer-secret",
    initial_refresh_token: str = "5Aep-sandbox-refresh",
    faults: FaultConfig | None = None,
    state_path: Path | None = None,
    *,
    rotate_refresh_tokens: bool = True,
    jwt_public_key: str | None = None,
    daily_limit: int = 15000,
    api_versions: tuple[str, ...] = ("58.0", "59.0", "60.0", "61.0"),
) -> Sandbox:
    store = SandboxStore(state_path or ":memory:")
    faults = faults or FaultConfig()
    app = FastAPI(title="Salesforce sandbox")
    if store.get("oauth", "refresh") is None:
        store.put("oauth", "refresh", {"valid": [initial_refresh_token]})
    if store.get("limits", "daily") is None:
        store.put("limits", "daily", {"used": 0, "limit": daily_limit})

    # ---- OAuth2 ------------------------------------------------------------------------------
    @app.post("/services/oauth2/token")
    async def token(request: Request) -> ExactJSONResponse:
        try:
            form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        except UnicodeDecodeError:
            form = {}
        grant = form.get("grant_type")
        base = str(request.base_url).rstrip("/")
        answer = {"instance_url": base, "id": f"{base}/id/00D000000000001AAA/005000000000001AAA",
                  "token_type": "Bearer", "issued_at": str(int(time.time() * 1000)), "scope": "api refresh_token",
                  "signature": base64.b64encode(secrets.token_bytes(32)).decode()}
        if grant == "refresh_token":
            if form.get("client_id") != client_id or form.get("client_secret") != client_secret:
                return ExactJSONResponse({"error": "invalid_client_id", "error_description": "client identifier "
                                          "invalid"}, status_code=400)
            state = store.get("oauth", "refresh") or {"valid": []}
            if form.get("refresh_token") not in state["valid"]:
                return ExactJSONResponse({"error": "invalid_grant", "error_description": "expired access/refresh "
                                          "token"}, status_code=400)
            if rotate_refresh_tokens:
                answer["refresh_token"] = "5Aep-" + secrets.token_urlsafe(24)
                store.put("oauth", "refresh", {"valid": [answer["refresh_token"]]})
        elif grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            problem = _check_assertion(form.get("assertion", ""), client_id, jwt_public_key, base)
            if problem:
                return ExactJSONResponse({"error": "invalid_grant", "error_description": problem}, status_code=400)
        else:
            return ExactJSONResponse({"error": "unsupported_grant_type", "error_description": "grant type not "
                                      "supported"}, status_code=400)
        answer["access_token"] = "00D!" + secrets.token_urlsafe(40)
        store.put("oauth_access", answer["access_token"], {"issued": time.time()})
        return ExactJSONResponse(answer)

    @app.post("/_sandbox/expire-sessions")
    async def expire_sessions() -> ExactJSONResponse:
        for token_id in store.ids("oauth_access"):
            store.delete("oauth_access", token_id)
        return ExactJSONResponse({"expired": True})

    @app.post("/_sandbox/daily-usage")
    async def set_usage(request: Request) -> ExactJSONResponse:
        body = await read_json(request) or {}
        state = store.get("limits", "daily") or {"used": 0, "limit": daily_limit}
        state.update({k: int(v) for k, v in body.items() if k in ("used", "limit")})
        store.put("limits", "daily", state)
        return ExactJSONResponse(state)

    @app.middleware("http")
    async def session_and_limits(request: Request, call_next):  # type: ignore[no-untyped-def]
        if not request.url.path.startswith("/services/data"):
            return await call_next(request)
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or store.get("oauth_access", auth.removeprefix("Bearer ")) is None:
            return error(401, "Session expired or invalid", "INVALID_SESSION_ID")
        limits = store.get("limits", "daily") or {"used": 0, "limit": daily_limit}
        if limits["used"] >= limits["limit"]:
            response = error(403, "TotalRequests Limit exceeded.", "REQUEST_LIMIT_EXCEEDED")
        else:
            limits["used"] += 1
            store.put("limits", "daily", limits)
            response = await call_next(request)
        response.headers["Sforce-Limit-Info"] = f"api-usage={limits['used']}/{limits['limit']}"
        return response

    # ---- sObjects ----------------------------------------------------------------------------
    def new_id(sobject: str) -> str:
        n = store.next_id(f"id:{sobject}", start=1)
        return f"{OBJECTS[sobject]['prefix']}{n:012d}AAA"

    def public(sobject: str, doc: dict[str, Any], api: str) -> dict[str, Any]:
        return {"attributes": {"type": sobject, "url": f"{api}/sobjects/{sobject}/{doc['Id']}"}, **doc}

    def check_fields(sobject: str, body: Any, ext_field: str | None = None) -> ExactJSONResponse | None:
        if is_malformed(body) or not isinstance(body, dict):
            return error(400, "The request body is not a JSON object", "JSON_PARSER_ERROR")
        spec = OBJECTS[sobject]
        for name, value in body.items():
            if name == "attributes":
                continue
            if name == "Id" or name == ext_field:
                return error(400, f"{name} is not allowed in the body of an upsert by external id", "INVALID_FIELD",
                             [name])
            if name in spec["readonly"]:
                return error(400, f"Unable to create/update fields: {name}. Please check the security settings "
                             "of this field", "INVALID_FIELD_FOR_INSERT_UPDATE", [name])
            if name not in spec["fields"]:
                return error(400, f"No such column '{name}' on sobject of type {sobject}", "INVALID_FIELD", [name])
            if value is not None and not isinstance(value, str | bool | int | float):
                return error(400, f"Cannot deserialize instance of string from {type(value).__name__} value for "
                             f"{name}", "JSON_PARSER_ERROR", [name])
        if sobject == "Case" and "Status" in body and body["Status"] not in CASE_STATUSES:
            return error(400, f"Status: bad value for restricted picklist field: {body['Status']}",
                         "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", ["Status"])
        if sobject == "CaseComment" and "ParentId" in body and store.get("Case", str(body["ParentId"])) is None:
            return error(400, f"Parent ID: id value of incorrect type: {body['ParentId']}",
                         "FIELD_INTEGRITY_EXCEPTION", ["ParentId"])
        if sobject == "CaseComment" and len(str(body.get("CommentBody") or "")) > 4000:
            return error(400, "Body: data value too large", "STRING_TOO_LONG", ["CommentBody"])
        if sobject == "Task" and "Status" in body and body["Status"] not in TASK_STATUSES:
            return error(400, f"Status: bad value for restricted picklist field: {body['Status']}",
                         "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", ["Status"])
        if sobject == "Task" and body.get("WhatId") and not any(
                store.get(o, str(body["WhatId"])) is not None for o in ("Account", "Case")):
            return error(400, f"Related To ID: id value of incorrect type: {body['WhatId']}",
                         "FIELD_INTEGRITY_EXCEPTION", ["WhatId"])
        if sobject == "Task" and len(str(body.get("Subject") or "")) > 255:
            return error(400, "Subject: data value too large", "STRING_TOO_LONG", ["Subject"])
        if sobject == "Task" and len(str(body.get("Description") or "")) > 32000:
            return error(400, "Comments: data value too large", "STRING_TOO_LONG", ["Description"])
        return None

    def apply(sobject: str, doc: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        now = _now()
        doc.update({k: v for k, v in body.items() if k != "attributes"})
        if sobject == "Case":
            closed = CASE_STATUSES.get(doc.get("Status") or "New", False)
            if closed and not doc.get("IsClosed"):
                doc["ClosedDate"] = now
            doc["IsClosed"] = closed
        if sobject == "Task":
            doc["IsClosed"] = TASK_STATUSES.get(doc.get("Status") or "Not Started", False)
            what = str(doc.get("WhatId") or "")
            doc["AccountId"] = what if store.get("Account", what) is not None else None
        doc["LastModifiedDate"] = doc["SystemModstamp"] = now
        return doc

    def create(sobject: str, body: dict[str, Any]) -> dict[str, Any]:
        doc = {"Id": new_id(sobject), "CreatedDate": _now()}
        if sobject == "Case":
            doc["CaseNumber"] = f"{store.next_id('CaseNumber', start=1001):08d}"
            body = {"Status": "New", **body}
        if sobject == "CaseComment":
            body = {"IsPublished": False, **body}
        if sobject == "Task":
            body = {"Status": "Not Started", "Priority": "Normal", **body}
        doc = apply(sobject, doc, body)
        store.put(sobject, doc["Id"], doc)
        return doc

    def by_external(sobject: str, field: str, value: str) -> list[dict[str, Any]]:
        return store.find_by(sobject, f"$.{field}", value)

    def api_base(version: str) -> str:
        return f"/services/data/v{version}"

    def known_version(version: str) -> ExactJSONResponse | None:
        if version not in api_versions:
            return error(404, f"The requested resource does not exist: API version {version}", "NOT_FOUND")
        return None

    @app.get("/services/data")
    @app.get("/services/data/")
    async def versions(request: Request) -> ExactJSONResponse:
        return ExactJSONResponse([{"label": f"v{v}", "url": f"/services/data/v{v}", "version": v}
                                  for v in api_versions])

    @app.post("/services/data/v{version}/sobjects/{sobject}")
    @app.post("/services/data/v{version}/sobjects/{sobject}/")
    async def create_record(version: str, sobject: str, request: Request) -> ExactJSONResponse:
        if (bad := known_version(version)) or (bad := unknown_object(sobject)):
            return bad
        body = await read_json(request)
        if (problem := check_fields(sobject, body)) is not None:
            return problem
        if sobject == "Case" and (ext := body.get("FSM_Job_Id__c")) and by_external("Case", "FSM_Job_Id__c", ext):
            return error(400, f"duplicate value found: FSM_Job_Id__c duplicates value on record with id: "
                         f"{by_external('Case', 'FSM_Job_Id__c', ext)[0]['Id']}", "DUPLICATE_VALUE", ["FSM_Job_Id__c"])
        doc = create(sobject, body)
        return ExactJSONResponse({"id": doc["Id"], "success": True, "errors": []}, status_code=201)

    def unknown_object(sobject: str) -> ExactJSONResponse | None:
        if sobject not in OBJECTS:
            return error(404, f"The requested resource does not exist: sObject type '{sobject}' is not supported.",
                         "NOT_FOUND")
        return None

    @app.get("/services/data/v{version}/sobjects/{sobject}/{record_id}")
    async def read_record(version: str, sobject: str, record_id: str) -> ExactJSONResponse:
        if (bad := known_version(version)) or (bad := unknown_object(sobject)):
            return bad
        doc = store.get(sobject, unquote(record_id))
        if doc is None:
            return error(404, "The requested resource does not exist", "NOT_FOUND")
        return ExactJSONResponse(public(sobject, doc, api_base(version)))

    @app.patch("/services/data/v{version}/sobjects/{sobject}/{record_id}")
    async def update_record(version: str, sobject: str, record_id: str, request: Request) -> ExactJSONResponse:
        if (bad := known_version(version)) or (bad := unknown_object(sobject)):
            return bad
        doc = store.get(sobject, unquote(record_id))
        if doc is None:
            return error(404, "The requested resource does not exist", "NOT_FOUND")
        body = await read_json(request)
        if (problem := check_fields(sobject, body)) is not None:
            return problem
        store.put(sobject, doc["Id"], apply(sobject, doc, body))
        return Response(status_code=204)

    @app.get("/services/data/v{version}/sobjects/{sobject}/{field}/{value}")
    async def read_by_external_id(version: str, sobject: str, field: str, value: str) -> ExactJSONResponse:
        if (bad := known_version(version)) or (bad := unknown_object(sobject)):
            return bad
        if field not in OBJECTS[sobject]["external_ids"] and field != "Id":
            return error(400, f"Provided external ID field does not exist or is not accessible: {field}",
                         "NOT_FOUND")
        matches = by_external(sobject, field, unquote(value).replace("+", " "))
        if not matches:
            return error(404, "The requested resource does not exist", "NOT_FOUND")
        if len(matches) > 1:
            return ExactJSONResponse([f"{api_base(version)}/sobjects/{sobject}/{d['Id']}" for d in matches],
                                     status_code=300)
        return ExactJSONResponse(public(sobject, matches[0], api_base(version)))

    @app.patch("/services/data/v{version}/sobjects/{sobject}/{field}/{value}")
    async def upsert(version: str, sobject: str, field: str, value: str, request: Request,
                     updateOnly: str | None = None) -> ExactJSONResponse:
        if (bad := known_version(version)) or (bad := unknown_object(sobject)):
            return bad
        if field not in OBJECTS[sobject]["external_ids"]:
            return error(400, f"Provided external ID field does not exist or is not accessible: {field}",
                         "NOT_FOUND")
        body = await read_json(request)
        if (problem := check_fields(sobject, body, field)) is not None:
            return problem
        key = unquote(value)
        matches = by_external(sobject, field, key)
        if len(matches) > 1:
            return ExactJSONResponse([f"{api_base(version)}/sobjects/{sobject}/{d['Id']}" for d in matches],
                                     status_code=300)
        if matches:
            doc = apply(sobject, matches[0], body)
            store.put(sobject, doc["Id"], doc)
            return ExactJSONResponse({"id": doc["Id"], "success": True, "errors": [], "created": False})
        if (updateOnly or "").lower() == "true":
            return error(404, f"No {sobject} has {field} = {key}", "NOT_FOUND")
        doc = create(sobject, {**body, field: key})
        return ExactJSONResponse({"id": doc["Id"], "success": True, "errors": [], "created": True}, status_code=201)

    # ---- SOQL ----------------------------------------------------------------------------------
    def page_of(version: str, locator: str, offset: int, batch: int) -> dict[str, Any]:
        cursor = store.get("cursors", locator)
        rows = cursor["records"]
        chunk = rows[offset: offset + batch]
        done = offset + batch >= len(rows)
        out: dict[str, Any] = {"totalSize": len(rows), "done": done, "records": chunk}
        if not done:
            out["nextRecordsUrl"] = f"{api_base(version)}/query/{locator}-{offset + batch}"
        return out

    def batch_size(request: Request) -> int:
        options = request.headers.get("sforce-query-options", "")
        for part in options.split(","):
            name, _, value = part.strip().partition("=")
            if name == "batchSize" and value.isdigit():
                return max(200, min(int(value), 2000))
        return 2000

    @app.get("/services/data/v{version}/query")
    @app.get("/services/data/v{version}/query/")
    async def query(version: str, request: Request, q: str | None = None) -> ExactJSONResponse:
        if (bad := known_version(version)) is not None:
            return bad
        if not q:
            return error(400, "A query string is required (q=SELECT ...)", "MALFORMED_QUERY")
        try:
            parsed = soql.parse(q)
        except soql.SoqlError as exc:
            return error(400, str(exc), "MALFORMED_QUERY")
        if parsed.sobject not in OBJECTS:
            return error(400, f"sObject type '{parsed.sobject}' is not supported.", "INVALID_TYPE")
        unknown = [f for f in parsed.fields
                   if f not in OBJECTS[parsed.sobject]["fields"] | OBJECTS[parsed.sobject]["readonly"]]
        if unknown:
            return error(400, f"No such column '{unknown[0]}' on entity '{parsed.sobject}'", "INVALID_FIELD")
        rows = [{"attributes": {"type": parsed.sobject, "url": f"{api_base(version)}/sobjects/{parsed.sobject}/"
                                f"{r.get('Id')}"}, **r} for r in soql.run(parsed, store.all(parsed.sobject))]
        locator = "01g" + secrets.token_hex(8)
        store.put("cursors", locator, {"records": rows})
        return ExactJSONResponse(page_of(version, locator, 0, batch_size(request)))

    @app.get("/services/data/v{version}/query/{cursor}")
    async def query_more(version: str, cursor: str, request: Request) -> ExactJSONResponse:
        locator, _, offset = cursor.rpartition("-")
        if not offset.isdigit() or store.get("cursors", locator) is None:
            return error(400, "invalid query locator", "INVALID_QUERY_LOCATOR")
        return ExactJSONResponse(page_of(version, locator, int(offset), batch_size(request)))

    # ---- sObject Collections --------------------------------------------------------------------
    def collection_records(body: Any) -> list[dict[str, Any]] | ExactJSONResponse:
        if is_malformed(body) or not isinstance(body, dict) or not isinstance(body.get("records"), list):
            return error(400, "Expected {\"allOrNone\": …, \"records\": […]}", "JSON_PARSER_ERROR")
        if len(body["records"]) > 200:
            return error(400, "EXCEEDED_ID_LIMIT: record limit reached. cannot submit more than 200 records into "
                         "this call", "EXCEEDED_ID_LIMIT")
        if not all(isinstance(r, dict) for r in body["records"]):
            return error(400, "each record must be a JSON object", "JSON_PARSER_ERROR")
        return body["records"]

    def record_error(message: str, code: str, fields: list[str] | None = None) -> dict[str, Any]:
        return {"success": False, "errors": [{"statusCode": code, "message": message, "fields": fields or []}]}

    async def collection_request(version: str,
                                 request: Request) -> tuple[Any, list[dict[str, Any]] | ExactJSONResponse]:
        """The body and records of a collections call, or the error answer (unknown version, bad shape)."""
        if (bad := known_version(version)) is not None:
            return None, bad
        body = await read_json(request)
        return body, collection_records(body)

    def record_type(record: dict[str, Any]) -> Any:
        attributes = record.get("attributes") or {}
        return attributes.get("type") if isinstance(attributes, dict) else None

    @app.post("/services/data/v{version}/composite/sobjects")
    async def create_collection(version: str, request: Request) -> ExactJSONResponse:
        body, records = await collection_request(version, request)
        if isinstance(records, ExactJSONResponse):
            return records
        results = []
        for record in records:
            sobject = record_type(record)
            if not isinstance(sobject, str) or sobject not in OBJECTS:
                results.append(record_error(f"sObject type {sobject!r} is not supported", "INVALID_TYPE"))
                continue
            fields = {k: v for k, v in record.items() if k != "attributes"}
            problem = check_fields(sobject, fields)
            if problem is not None:
                first = json.loads(problem.body)[0]
                results.append(record_error(first["message"], first["errorCode"], first["fields"]))
                continue
            results.append({"id": create(sobject, fields)["Id"], "success": True, "errors": []})
        return ExactJSONResponse(_all_or_none(body, results))

    @app.patch("/services/data/v{version}/composite/sobjects")
    async def update_collection(version: str, request: Request) -> ExactJSONResponse:
        """sObject Collections update: up to 200 records by Id, each answered on its own."""
        body, records = await collection_request(version, request)
        if isinstance(records, ExactJSONResponse):
            return records
        results = []
        for record in records:
            sobject = record_type(record)
            record_id = record.get("Id")
            fields = {k: v for k, v in record.items() if k not in ("attributes", "Id")}
            if not isinstance(sobject, str) or sobject not in OBJECTS:
                results.append(record_error(f"sObject type {sobject!r} is not supported", "INVALID_TYPE"))
            elif not isinstance(record_id, str) or (doc := store.get(sobject, record_id)) is None:
                results.append(record_error(f"invalid cross reference id: {record_id}",
                                            "INVALID_CROSS_REFERENCE_KEY", ["Id"]))
            elif (problem := check_fields(sobject, fields)) is not None:
                first = json.loads(problem.body)[0]
                results.append(record_error(first["message"], first["errorCode"], first["fields"]))
            else:
                store.put(sobject, doc["Id"], apply(sobject, doc, fields))
                results.append({"id": doc["Id"], "success": True, "errors": []})
        return ExactJSONResponse(_all_or_none(body, results))

    @app.patch("/services/data/v{version}/composite/sobjects/{sobject}/{field}")
    async def upsert_collection(version: str, sobject: str, field: str, request: Request) -> ExactJSONResponse:
        if (bad := known_version(version)) or (bad := unknown_object(sobject)):
            return bad
        if field not in OBJECTS[sobject]["external_ids"]:
            return error(400, f"Provided external ID field does not exist or is not accessible: {field}",
                         "NOT_FOUND")
        body = await read_json(request)
        records = collection_records(body)
        if isinstance(records, ExactJSONResponse):
            return records
        results = []
        for record in records:
            key = record.get(field)
            fields = {k: v for k, v in record.items() if k not in ("attributes", field)}
            problem = check_fields(sobject, fields) if key else None
            if not key:
                results.append(record_error(f"{field} is required for an upsert", "MISSING_ARGUMENT", [field]))
            elif problem is not None:
                first = json.loads(problem.body)[0]
                results.append(record_error(first["message"], first["errorCode"], first["fields"]))
            elif len(matches := by_external(sobject, field, str(key))) > 1:
                results.append(record_error(f"more than one record has {field} = {key}", "DUPLICATE_EXTERNAL_ID"))
            elif matches:
                store.put(sobject, matches[0]["Id"], apply(sobject, matches[0], fields))
                results.append({"id": matches[0]["Id"], "success": True, "errors": [], "created": False})
            else:
                doc = create(sobject, {**fields, field: str(key)})
                results.append({"id": doc["Id"], "success": True, "errors": [], "created": True})
        return ExactJSONResponse(_all_or_none(body, results))

    return build_sandbox("salesforce", app, store, faults, error_body, exempt=("/services/oauth2/",))


def _all_or_none(body: dict[str, Any], results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """With allOrNone, one failure rolls the others back (their results say so). The sandbox applies the
    good records before it knows; this emulates the answer, not a transaction — tests use allOrNone=false."""
    if body.get("allOrNone") and any(not r.get("success") for r in results):
        return [r if not r.get("success") else {"success": False, "errors": [{
            "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK", "message": "Record rolled back because not all "
            "records were valid and the request was using AllOrNone header", "fields": []}]} for r in results]
    return results


def _check_assertion(assertion: str, client_id: str, public_key_pem: str | None, own_url: str) -> str | None:
    """A JWT bearer assertion: RS256, issued by the connected app for a user, meant for Salesforce's login
    server (or this My Domain), not expired (`exp` in seconds, as a number or a numeric string — SDKs send
    both), signed by the app's certificate."""
    if public_key_pem is None:
        return "JWT bearer is not configured for this connected app"
    try:
        head_b64, body_b64, sig_b64 = assertion.split(".")
        head, claims = json.loads(_b64url_decode(head_b64)), json.loads(_b64url_decode(body_b64))
    except (ValueError, RecursionError):
        return "invalid assertion"
    if not isinstance(head, dict) or not isinstance(claims, dict) or head.get("alg") != "RS256":
        return "invalid assertion algorithm"
    if claims.get("iss") != client_id:
        return "client identifier invalid"
    if claims.get("aud") not in ("https://login.salesforce.com", "https://test.salesforce.com", own_url):
        return "audience is invalid"
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        return "user hasn't approved this consumer"
    exp = claims.get("exp")
    if isinstance(exp, str) and exp.isdigit():
        exp = int(exp)
    if not isinstance(exp, int) or exp < time.time():
        return "expired assertion"
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    key = serialization.load_pem_public_key(public_key_pem.encode())
    try:
        key.verify(_b64url_decode(sig_b64), f"{head_b64}.{body_b64}".encode(), padding.PKCS1v15(),  # type: ignore[union-attr]
                   hashes.SHA256())
    except (InvalidSignature, ValueError):
        return "invalid assertion signature"
    return None
