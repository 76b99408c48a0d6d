"""HubSpot CRM v3/v4 emulator: tickets (unique `fieldbridge_job_id`), notes, associations.

Shapes follow ../shared/vendor-specs/hubspot (tickets-v3, notes-v3, associations-v4): objects are
`{id, properties, createdAt, updatedAt, archived}`, errors `{status, message, correlationId, category}`,
lists page with `paging.next.after`, and the ten-second rolling limit answers 429 with
`X-HubSpot-RateLimit-*` headers.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Annotated, Any

import pendulum
from fastapi import FastAPI, Query, Request
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

NOTE_TO_TICKET = 228  # HUBSPOT_DEFINED association type ids
TICKET_TO_NOTE = 227
NOTE_TO_CONTACT, CONTACT_TO_NOTE = 202, 201
NOTE_TO_COMPANY, COMPANY_TO_NOTE = 190, 189
#: what a note create may associate to, by HUBSPOT_DEFINED type id
NOTE_TARGETS = {NOTE_TO_TICKET: "tickets", NOTE_TO_CONTACT: "contacts", NOTE_TO_COMPANY: "companies"}
# (from, to) → HUBSPOT_DEFINED type id; each pair's reverse is its own id (HubSpot's association definitions)
ASSOCIATION_TYPES = {("notes", "tickets"): NOTE_TO_TICKET, ("tickets", "notes"): TICKET_TO_NOTE,
                     ("contacts", "tickets"): 15, ("tickets", "contacts"): 16,
                     ("companies", "tickets"): 25, ("tickets", "companies"): 26,
                     ("contacts", "companies"): 1, ("companies", "contacts"): 2,
                     ("notes", "contacts"): NOTE_TO_CONTACT, ("contacts", "notes"): CONTACT_TO_NOTE,
                     ("notes", "companies"): NOTE_TO_COMPANY, ("companies", "notes"): COMPANY_TO_NOTE}
BATCH_LIMIT = 100  # inputs per batch create/update request
PIPELINE_STAGES = {"0": {"1", "2", "3", "4"}}  # default support pipeline; "4" is Closed
OBJECT_TYPES = {
    "tickets": {
        "required": {"subject", "hs_pipeline", "hs_pipeline_stage"},
        "unique": {"fieldbridge_job_id"},
        "known": {
            "subject", "content", "hs_pipeline", "hs_pipeline_stage", "hs_ticket_priority",
            "fieldbridge_job_id", "fieldbridge_resolution", "closed_date", "hs_resolution",
            "fieldbridge_technician", "fieldbridge_visit_start", "fieldbridge_visit_end", "hubspot_owner_id",
        },
    },
    "contacts": {
        "required": set(),
        "unique": {"email"},
        "known": {"email", "firstname", "lastname", "phone", "address", "city", "state", "zip", "company",
                  "fieldbridge_preferences"},
    },
    "companies": {
        "required": {"name"},
        "unique": set(),
        "known": {"name", "domain", "phone", "address", "city", "state", "zip", "fieldbridge_service_level",
                  "fieldbridge_contract"},
    },
    "notes": {
        "required": {"hs_timestamp"},
        "unique": {"fieldbridge_note_key"},
        "known": {"hs_timestamp", "hs_note_body", "hubspot_owner_id", "fieldbridge_note_key"},
    },
}


def error_body(status: int, message: str, category: str | None = None, **extra: Any) -> dict[str, Any]:
    default = {400: "VALIDATION_ERROR", 401: "INVALID_AUTHENTICATION", 404: "OBJECT_NOT_FOUND", 409: "CONFLICT"}
    return {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": category or default.get(status, "INTERNAL_ERROR" if status >= 500 else "ERROR"),
        **extra,
    }


def rate_limit_body(status: int, message: str) -> dict[str, Any]:
    return {
        "status": "error",
        "message": "You have reached your ten_secondly_rolling limit.",
        "errorType": "RATE_LIMIT",
        "correlationId": str(uuid.uuid4()),
        "policyName": "TEN_SECONDLY_ROLLING",
    }


SEARCH_OPERATORS = {"EQ", "NEQ", "LT", "LTE", "GT", "GTE", "IN", "NOT_IN", "HAS_PROPERTY", "NOT_HAS_PROPERTY",
                    "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN", "BETWEEN"}


SEARCH_RESULT_CAP = 10_000  # HubSpot answers 400 to a page past the first 10,000 results of one query


def _filter_holds(f: dict[str, Any], props: dict[str, Any]) -> bool:
    """One search filter against an object's properties (values compare as strings, numbers as numbers)."""
    op, value = f["operator"], props.get(f["propertyName"])
    if op == "HAS_PROPERTY":
        return value not in (None, "")
    if op == "NOT_HAS_PROPERTY":
        return value in (None, "")
    if op in ("IN", "NOT_IN"):
        found = str(value) in {str(v) for v in f.get("values") or []}
        return found if op == "IN" else not found
    if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        found = str(f.get("value", "")).strip("*").lower() in str(value or "").lower()
        return found if op == "CONTAINS_TOKEN" else not found
    if op == "BETWEEN":
        return _compare(value, f.get("value")) >= 0 and _compare(value, f.get("highValue")) <= 0
    if value is None:
        return op == "NEQ"
    result = _compare(value, f.get("value"))
    return {"EQ": result == 0, "NEQ": result != 0, "LT": result < 0, "LTE": result <= 0, "GT": result > 0,
            "GTE": result >= 0}[op]


def _compare(left: Any, right: Any) -> int:
    """Numbers as numbers; a datetime property against epoch milliseconds (how HubSpot documents date
    filters) or an ISO string as instants; anything else as strings."""
    try:
        a, b = float(left), float(right)
    except (TypeError, ValueError):
        a, b = _epoch_ms(left), _epoch_ms(right)
        if a is None or b is None:
            a, b = str(left), str(right)  # type: ignore[assignment]
    return (a > b) - (a < b)


def _epoch_ms(value: Any) -> float | None:
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        return float(value)
    if isinstance(value, str) and len(value) >= 20 and value[4:5] == "-" and value[10:11] == "T":
        try:
            return pendulum.parse(value).timestamp() * 1000  # type: ignore[union-attr]
        except Exception:
            return None
    return None


def _names(values: list[str] | str | None) -> set[str]:
    """A query list that may repeat (SDKs) or be comma-joined (curl)."""
    return {n for value in ([values] if isinstance(values, str) else values or []) for n in value.split(",") if n}


def _now() -> str:
    return pendulum.now("UTC").format("YYYY-MM-DDTHH:mm:ss.SSS") + "Z"


def create_app(
    token: str = "pat-sandbox-hubspot",
    faults: FaultConfig | None = None,
    state_path: Path | None = None,
    ten_second_limit: int = 190,
) -> Sandbox:
    """Build the HubSpot emulator. `token` is the private-app token it accepts."""
    store = SandboxStore(state_path or ":memory:")
    faults = faults or FaultConfig()
    app = FastAPI(title="HubSpot sandbox")
    window = RateWindow(ten_second_limit, 10.0)

    def err(status: int, message: str, category: str | None = None, **extra: Any) -> ExactJSONResponse:
        return ExactJSONResponse(error_body(status, message, category, **extra), status_code=status)

    @app.exception_handler(RequestValidationError)
    async def bad_parameter(request: Request, exc: RequestValidationError) -> ExactJSONResponse:
        """A parameter of the wrong type (`limit=abc`) gets HubSpot's 400, not FastAPI's 422 `detail` list."""
        names = sorted({str(e["loc"][-1]) for e in exc.errors()})
        return err(400, f"Invalid value for {', '.join(names)}", "VALIDATION_ERROR")

    @app.middleware("http")
    async def require_token(request: Request, call_next):  # type: ignore[no-untyped-def]
        if request.url.path.startswith("/_sandbox"):
            return await call_next(request)
        if request.headers.get("authorization") != f"Bearer {token}":
            return err(
                401,
                "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can "
                "find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
            )
        return await call_next(request)

    def validate(
        object_type: str, props: dict[str, Any], creating: bool, own_id: str | None
    ) -> ExactJSONResponse | None:
        spec = OBJECT_TYPES[object_type]
        unknown = [name for name in props if name not in spec["known"]]
        if unknown:
            errors = [
                {"message": f'Property "{n}" does not exist', "code": "PROPERTY_DOESNT_EXIST",
                 "context": {"propertyName": [n]}}
                for n in unknown
            ]
            return err(400, f"Property values were not valid: {unknown}", errors=errors)
        if creating:
            missing = sorted(spec["required"] - props.keys())
            if missing:
                return err(400, f"Required properties are missing: {missing}", errors=[
                    {"message": f"{m} is required", "code": "REQUIRED_FIELD"} for m in missing])
        stage = props.get("hs_pipeline_stage")
        if stage is not None and stage not in PIPELINE_STAGES["0"]:
            return err(400, f"{stage} is not a valid pipeline stage ID", errors=[
                {"message": f"{stage} is not a valid pipeline stage ID", "code": "INVALID_OPTION"}])
        for name in spec["unique"]:
            value = props.get(name)
            if value is None:
                continue
            clash = next(iter(store.find_by(object_type, f"$.properties.{name}", value)), None)
            if clash is not None and clash["id"] != own_id:
                return err(
                    409,
                    f"Object already has that value for a unique property. {name}={value}. Existing ID: {clash['id']}",
                    "CONFLICT",
                    context={"id": [clash["id"]]},
                )
        return None

    def find(object_type: str, object_id: str, id_property: str | None) -> dict[str, Any] | None:
        if id_property in (None, "hs_object_id"):
            return store.get(object_type, object_id)
        if id_property not in OBJECT_TYPES[object_type]["unique"]:
            return None
        return next(iter(store.find_by(object_type, f"$.properties.{id_property}", object_id)), None)

    def public(doc: dict[str, Any], wanted: list[str] | str | None,
               associations: list[str] | None = None, object_type: str = "objects") -> dict[str, Any]:
        """The object as the API shows it; `properties` may repeat (SDKs) or be comma-joined (curl); with
        `associations`, the ids of the associated objects of those types (the v3 read's association map)."""
        out = {k: v for k, v in doc.items() if k != "associations"}
        names = _names(wanted)
        if names:
            names |= {"hs_object_id", "createdate", "hs_lastmodifieddate"}
            out["properties"] = {k: v for k, v in doc["properties"].items() if k in names}
        linked: dict[str, Any] = {}
        for to_type in sorted(_names(associations)):
            found = [x for x in doc.get("associations", []) if x["to_type"] == to_type]
            if found:
                name = f"{object_type[:-1]}_to_{to_type[:-1]}"
                linked[to_type] = {"results": [{"id": x["to_id"], "type": name} for x in found]}
        if linked:
            out["associations"] = linked
        return out


    def link(from_type: str, from_id: str, to_type: str, to_id: str, type_id: int) -> None:
        """Associations are two-way: each side records the other (with the reverse HubSpot-defined type id)."""
        back = ASSOCIATION_TYPES[(to_type, from_type)]
        for a_type, a_id, b_type, b_id, tid in ((from_type, from_id, to_type, to_id, type_id),
                                                (to_type, to_id, from_type, from_id, back)):
            doc = store.get(a_type, a_id)
            assert doc is not None
            links = doc.setdefault("associations", [])
            if not any(x["to_type"] == b_type and x["to_id"] == b_id for x in links):
                links.append({"to_type": b_type, "to_id": b_id, "typeId": tid})
            store.put(a_type, a_id, doc)

    def check_create(object_type: str, body: Any) -> tuple[ExactJSONResponse | None, dict[str, Any], list[Any]]:
        """Validate one create input: the error response, or the properties and associations to store."""
        if is_malformed(body) or not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
            return err(400, "Invalid input JSON on line 1: expected an object with 'properties'"), {}, []
        props = {k: (None if v is None else str(v)) for k, v in body["properties"].items()}
        problem = validate(object_type, props, True, None)
        if problem is not None:
            return problem, {}, []
        links: list[dict[str, Any]] = []
        associations = body.get("associations") or []
        if not isinstance(associations, list) or not all(
                isinstance(a, dict) and isinstance(a.get("to", {}), dict) and isinstance(a.get("types", []), list)
                and all(isinstance(t, dict) for t in a.get("types", [])) for a in associations):
            return err(400, "associations must be a list of {to: {id}, types: [{associationTypeId}]}",
                       "VALIDATION_ERROR"), {}, []
        for assoc in associations:
            to_id = str(assoc.get("to", {}).get("id"))
            type_ids = [t.get("associationTypeId") for t in assoc.get("types", [])]
            target = next((NOTE_TARGETS[t] for t in type_ids if t in NOTE_TARGETS), None)
            if object_type == "notes" and target is not None:
                if store.get(target, to_id) is None:
                    return err(400, f"ASSOCIATION: {target[:-1]} {to_id} does not exist", "VALIDATION_ERROR"), {}, []
                links.append({"to_type": target, "to_id": to_id, "typeId": ASSOCIATION_TYPES[("notes", target)]})
            else:
                return err(400, f"Invalid association type ids {type_ids}", "VALIDATION_ERROR"), {}, []
        return None, props, links

    def store_new(object_type: str, props: dict[str, Any], links: list[dict[str, Any]]) -> dict[str, Any]:
        object_id = str(store.next_id(f"id:{object_type}", start=1000 if object_type == "tickets" else 5000))
        now = _now()
        doc = {
            "id": object_id,
            "properties": {**props, "hs_object_id": object_id, "createdate": now, "hs_lastmodifieddate": now},
            "createdAt": now,
            "updatedAt": now,
            "archived": False,
            "associations": [],
        }
        store.put(object_type, object_id, doc)
        for pair in links:
            link(object_type, object_id, pair["to_type"], pair["to_id"], pair["typeId"])
        return doc

    async def create(object_type: str, request: Request) -> ExactJSONResponse:
        problem, props, links = check_create(object_type, await read_json(request))
        if problem is not None:
            return problem
        return ExactJSONResponse(public(store_new(object_type, props, links), None), status_code=201)

    def update_doc(object_type: str, doc: dict[str, Any], body: Any) -> ExactJSONResponse | None:
        """Apply one update input to `doc`; the error response when it is refused."""
        if is_malformed(body) or not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
            return err(400, "Invalid input JSON: expected an object with 'properties'")
        props = {k: (None if v is None else str(v)) for k, v in body["properties"].items()}
        problem = validate(object_type, props, False, doc["id"])
        if problem is not None:
            return problem
        now = _now()
        doc["properties"].update(props)
        doc["properties"]["hs_lastmodifieddate"] = now
        doc["updatedAt"] = now
        store.put(object_type, doc["id"], doc)
        return None

    async def batch_inputs(object_type: str, request: Request) -> tuple[ExactJSONResponse | None, list[Any]]:
        if object_type not in OBJECT_TYPES:
            return err(404, f"Unknown object type {object_type}"), []
        body = await read_json(request)
        inputs = body.get("inputs") if isinstance(body, dict) and not is_malformed(body) else None
        if not isinstance(inputs, list) or not inputs:
            return err(400, "Invalid input JSON: expected an object with a non-empty 'inputs' list",
                       "VALIDATION_ERROR"), []
        if len(inputs) > BATCH_LIMIT:
            return err(400, f"Batch input limit exceeded: {len(inputs)} inputs, the limit is {BATCH_LIMIT}",
                       "VALIDATION_ERROR"), []
        return None, inputs

    @app.post("/crm/v3/objects/{object_type}/batch/create")
    async def batch_create(object_type: str, request: Request) -> ExactJSONResponse:
        """All or nothing, as HubSpot's batch create: one invalid input (an unknown property, a unique value
        that exists, a missing ticket) refuses the whole batch and nothing is created."""
        problem, inputs = await batch_inputs(object_type, request)
        if problem is not None:
            return problem
        checked, seen = [], set()
        for n, item in enumerate(inputs):
            problem, props, links = check_create(object_type, item)
            if problem is not None:
                return problem
            for name in OBJECT_TYPES[object_type]["unique"]:
                if props.get(name) is not None and (name, props[name]) in seen:
                    return err(409, f"Duplicate unique value in input {n}: {name}={props[name]}", "CONFLICT")
                seen.add((name, props.get(name)))
            checked.append((props, links))
        started = _now()
        results = [public(store_new(object_type, props, links), None) for props, links in checked]
        return ExactJSONResponse({"status": "COMPLETE", "results": results, "startedAt": started,
                                  "completedAt": _now()}, status_code=201)

    @app.post("/crm/v3/objects/{object_type}/batch/read")
    async def batch_read(object_type: str, request: Request) -> ExactJSONResponse:
        """Read up to 100 records by id; ids that do not exist come back as errors in a 207."""
        if object_type not in OBJECT_TYPES:
            return err(404, f"Unknown object type {object_type}")
        body = await read_json(request)
        inputs = body.get("inputs") if isinstance(body, dict) else None
        if not isinstance(inputs, list) or not all(isinstance(i, dict) and "id" in i for i in inputs):
            return err(400, "Invalid input JSON: expected {inputs: [{id}]}", "VALIDATION_ERROR")
        if len(inputs) > BATCH_LIMIT:
            return err(400, f"Too many inputs: {len(inputs)} > {BATCH_LIMIT}", "VALIDATION_ERROR")
        found, missing = [], []
        for i in inputs:
            doc = store.get(object_type, str(i["id"]))
            (found.append(public(doc, body.get("properties"))) if doc is not None else missing.append(str(i["id"])))
        out: dict[str, Any] = {"status": "COMPLETE", "results": found, "startedAt": _now(), "completedAt": _now()}
        if missing:
            out["errors"] = [{"status": "error", "category": "OBJECT_NOT_FOUND", "message": "Could not get some "
                              f"{object_type} objects, they may be deleted or not exist.", "context": {"ids": missing}}]
            out["numErrors"] = 1
        return ExactJSONResponse(out, status_code=207 if missing else 200)

    @app.post("/crm/v4/associations/{from_type}/{to_type}/batch/read")
    async def associations_batch_read(from_type: str, to_type: str, request: Request) -> ExactJSONResponse:
        """The associations of up to 1,000 records at once (v4)."""
        body = await read_json(request)
        inputs = body.get("inputs") if isinstance(body, dict) else None
        if not isinstance(inputs, list) or not all(isinstance(i, dict) and "id" in i for i in inputs):
            return err(400, "Invalid input JSON: expected {inputs: [{id}]}", "VALIDATION_ERROR")
        if (from_type, to_type) not in ASSOCIATION_TYPES:
            return err(400, f"No association is defined between {from_type} and {to_type}", "VALIDATION_ERROR")
        results = []
        for i in inputs:
            doc = store.get(from_type, str(i["id"]))
            links = [x for x in (doc or {}).get("associations", []) if x["to_type"] == to_type]
            if links:
                results.append({"from": {"id": str(i["id"])}, "to": [
                    {"toObjectId": int(x["to_id"]), "associationTypes": [
                        {"category": "HUBSPOT_DEFINED", "typeId": x["typeId"], "label": None}]} for x in links]})
        return ExactJSONResponse({"status": "COMPLETE", "results": results, "startedAt": _now(),
                                  "completedAt": _now()})

    @app.post("/crm/v3/objects/{object_type}/batch/update")
    async def batch_update(object_type: str, request: Request) -> ExactJSONResponse:
        """Each input by id or `idProperty`; the ones that fail come back in `errors` with a 207 Multi-Status,
        the rest are updated (HubSpot's batch update contract)."""
        problem, inputs = await batch_inputs(object_type, request)
        if problem is not None:
            return problem
        started, results, errors = _now(), [], []
        for item in inputs:
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                errors.append({"status": "error", "category": "VALIDATION_ERROR",
                               "message": "each input needs an 'id' string", "context": {"ids": []}})
                continue
            doc = find(object_type, item["id"], item.get("idProperty"))
            if doc is None:
                errors.append({"status": "error", "category": "OBJECT_NOT_FOUND",
                               "message": f"Could not get some {object_type} objects, they may be deleted or "
                                          "not exist. Check that ids are valid.", "context": {"ids": [item["id"]]}})
                continue
            refused = update_doc(object_type, doc, item)
            if refused is not None:
                detail = json.loads(refused.body)
                errors.append({"status": "error", "category": detail.get("category") or "VALIDATION_ERROR",
                               "message": detail.get("message", ""), "context": {"ids": [item["id"]]}})
                continue
            results.append(public(doc, None))
        out: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": _now()}
        if errors:
            out.update(numErrors=len(errors), errors=errors)
        return ExactJSONResponse(out, status_code=207 if errors else 200)

    @app.post("/crm/v3/objects/{object_type}")
    async def create_object(object_type: str, request: Request) -> ExactJSONResponse:
        if object_type not in OBJECT_TYPES:
            return err(404, f"Unknown object type {object_type}")
        return await create(object_type, request)

    @app.post("/crm/v3/objects/{object_type}/search")
    async def search(object_type: str, request: Request) -> ExactJSONResponse:
        """CRM search: filterGroups (OR of groups, AND inside), sorts, properties, limit/after paging."""
        if object_type not in OBJECT_TYPES:
            return err(404, f"Unknown object type {object_type}")
        body = await read_json(request)
        if is_malformed(body) or not isinstance(body, dict):
            return err(400, "Invalid input JSON on line 1")
        groups = body.get("filterGroups") or []
        if not isinstance(groups, list) or len(groups) > 5 or any(
                not isinstance(g, dict) or not isinstance(g.get("filters", []), list) for g in groups):
            return err(400, "filterGroups must be a list of at most 5 groups of filters", "VALIDATION_ERROR")
        try:
            limit = max(1, min(int(body.get("limit") or 10), 200))
            start = int(body.get("after") or 0)
        except (TypeError, ValueError):
            return err(400, "limit and after must be numbers", "VALIDATION_ERROR")
        problem = [f for g in groups for f in g.get("filters", [])  # a list: a null filter is a problem too
                   if not isinstance(f, dict) or f.get("operator") not in SEARCH_OPERATORS
                   or not isinstance(f.get("propertyName"), str) or not isinstance(f.get("values") or [], list)]
        if problem:
            return err(400, f"Invalid filter {problem[0]!r}: operator must be one of {sorted(SEARCH_OPERATORS)}",
                       "VALIDATION_ERROR")
        sorts, wanted = body.get("sorts") or [], body.get("properties")
        if not isinstance(sorts, list) or not all(
                isinstance(s, str) or (isinstance(s, dict) and isinstance(s.get("propertyName"), str)) for s in sorts) \
                or not (wanted is None or isinstance(wanted, str)
                        or (isinstance(wanted, list) and all(isinstance(n, str) for n in wanted))):
            return err(400, "sorts must be a list of {propertyName, direction} and properties a list of names",
                       "VALIDATION_ERROR")
        hits = [d for d in store.all(object_type)
                if not groups or any(all(_filter_holds(f, d["properties"]) for f in g.get("filters", []))
                                     for g in groups)]
        for sort in reversed(body.get("sorts") or []):
            name = sort.get("propertyName") if isinstance(sort, dict) else sort
            descending = isinstance(sort, dict) and sort.get("direction") == "DESCENDING"
            hits.sort(key=lambda d, n=name: str(d["properties"].get(n) or ""), reverse=descending)
        if start + limit > SEARCH_RESULT_CAP:
            return err(400, f"Search results are limited to {SEARCH_RESULT_CAP} per query: narrow the filters "
                       "to page further", "VALIDATION_ERROR")
        page = hits[start: start + limit]
        out: dict[str, Any] = {"total": len(hits), "results": [public(d, body.get("properties")) for d in page]}
        if start + limit < len(hits):
            out["paging"] = {"next": {"after": str(start + limit)}}
        return ExactJSONResponse(out)

    @app.get("/crm/v3/objects/{object_type}/{object_id}")
    async def read_object(
        object_type: str, object_id: str, idProperty: str | None = None,
        properties: Annotated[list[str] | None, Query()] = None,
        associations: Annotated[list[str] | None, Query()] = None,
    ) -> ExactJSONResponse:
        doc = find(object_type, object_id, idProperty) if object_type in OBJECT_TYPES else None
        if doc is None:
            return err(404, "Object not found.  objectId are usually numeric.")
        return ExactJSONResponse(public(doc, properties, associations, object_type))

    @app.patch("/crm/v3/objects/{object_type}/{object_id}")
    async def update_object(
        object_type: str, object_id: str, request: Request, idProperty: str | None = None
    ) -> ExactJSONResponse:
        doc = find(object_type, object_id, idProperty) if object_type in OBJECT_TYPES else None
        if doc is None:
            return err(404, f"resource not found: no {object_type} with {idProperty or 'id'} {object_id}")
        refused = update_doc(object_type, doc, await read_json(request))
        return refused or ExactJSONResponse(public(doc, None))

    @app.get("/crm/v3/objects/{object_type}")
    async def list_objects(
        object_type: str, limit: int = 10, after: str | None = None,
        properties: Annotated[list[str] | None, Query()] = None,
    ) -> ExactJSONResponse:
        if object_type not in OBJECT_TYPES:
            return err(404, f"Unknown object type {object_type}")
        limit = max(1, min(limit, 100))
        docs = store.all(object_type)
        try:
            start = int(after) if after else 0
        except ValueError:
            return err(400, f"after must be a paging cursor from a previous answer, not {after!r}", "VALIDATION_ERROR")
        page = docs[start : start + limit]
        out: dict[str, Any] = {"results": [public(d, properties) for d in page]}
        if start + limit < len(docs):
            nxt = str(start + limit)
            out["paging"] = {"next": {"after": nxt, "link": f"{request_base(object_type)}?after={nxt}"}}
        return ExactJSONResponse(out)

    def request_base(object_type: str) -> str:
        return f"/crm/v3/objects/{object_type}"

    @app.put("/crm/v4/objects/{object_type}/{object_id}/associations/default/{to_type}/{to_id}")
    async def associate_default(object_type: str, object_id: str, to_type: str, to_id: str) -> ExactJSONResponse:
        return associate(object_type, object_id, to_type, to_id, None)

    @app.put("/crm/v4/objects/{object_type}/{object_id}/associations/{to_type}/{to_id}")
    async def associate_labeled(object_type: str, object_id: str, to_type: str, to_id: str,
                                request: Request) -> ExactJSONResponse:
        body = await read_json(request)
        if is_malformed(body) or not isinstance(body, list) or not body or not all(isinstance(t, dict) for t in body):
            return err(400, "Expected a list of association types", "VALIDATION_ERROR")
        return associate(object_type, object_id, to_type, to_id, [t.get("associationTypeId") for t in body])

    def associate(object_type: str, object_id: str, to_type: str, to_id: str,
                  type_ids: list[Any] | None) -> ExactJSONResponse:
        expected = ASSOCIATION_TYPES.get((object_type, to_type))
        if expected is None:
            return err(400, f"No association is defined between {object_type} and {to_type}", "VALIDATION_ERROR")
        if type_ids is not None and expected not in type_ids:
            return err(400, f"Invalid association type ids {type_ids} from {object_type} to {to_type}",
                       "VALIDATION_ERROR")
        if store.get(object_type, object_id) is None or store.get(to_type, to_id) is None:
            return err(404, "One or both objects do not exist.")
        link(object_type, object_id, to_type, to_id, expected)
        return ExactJSONResponse({"fromObjectTypeId": object_type, "fromObjectId": int(object_id),
                                  "toObjectTypeId": to_type, "toObjectId": int(to_id),
                                  "labels": []}, status_code=201 if type_ids is None else 200)

    @app.get("/crm/v4/objects/{object_type}/{object_id}/associations/{to_type}")
    async def list_associations(object_type: str, object_id: str, to_type: str) -> ExactJSONResponse:
        doc = store.get(object_type, object_id) if object_type in OBJECT_TYPES else None
        if doc is None:
            return err(404, "Object not found.")
        results = [
            {"toObjectId": int(link["to_id"]), "associationTypes": [
                {"category": "HUBSPOT_DEFINED", "typeId": link["typeId"], "label": None}]}
            for link in doc.get("associations", []) if link["to_type"] == to_type
        ]
        return ExactJSONResponse({"results": results})

    def headers(w: RateWindow | None) -> dict[str, str]:
        used = len(w._hits) if w else 0
        limit = w.limit if w else ten_second_limit
        return {
            "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
            "X-HubSpot-RateLimit-Max": str(limit),
            "X-HubSpot-RateLimit-Remaining": str(max(0, limit - used)),
            "X-HubSpot-RateLimit-Daily": "500000",
        }

    return build_sandbox("hubspot", app, store, faults, error_body, window, headers, rate_limit_body)
