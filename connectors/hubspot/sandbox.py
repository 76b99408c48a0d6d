"""HubSpot CRM v3/v4 emulator: tickets (unique `fieldbridge_job_id`), notes, associations.

Shapes follow ../shared/vendor-specs/hubspot (tickets-v3, notes-v3, associations-v4): objects are
`{id, properties, createdAt, updatedAt, archived}`, errors `{status, message, correlationId, category}`,
lists page with `paging.next.after`, and the ten-second rolling limit answers 429 with
`X-HubSpot-RateLimit-*` headers.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

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

NOTE_TO_TICKET = 228  # HUBSPOT_DEFINED association type ids
TICKET_TO_NOTE = 227
PIPELINE_STAGES = {"0": {"1", "2", "3", "4"}}  # default support pipeline; "4" is Closed
OBJECT_TYPES = {
    "tickets": {
        "required": {"subject", "hs_pipeline", "hs_pipeline_stage"},
        "unique": {"fieldbridge_job_id"},
        "known": {
            "subject", "content", "hs_pipeline", "hs_pipeline_stage", "hs_ticket_priority",
            "fieldbridge_job_id", "fieldbridge_resolution", "closed_date", "hs_resolution",
        },
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
            clash = next(store.find(object_type, lambda d, n=name, v=value: d["properties"].get(n) == v), None)
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
        return next(store.find(object_type, lambda d: d["properties"].get(id_property) == object_id), None)

    def public(doc: dict[str, Any], wanted: str | None) -> dict[str, Any]:
        out = {k: v for k, v in doc.items() if k != "associations"}
        if wanted:
            names = set(wanted.split(",")) | {"hs_object_id", "createdate", "hs_lastmodifieddate"}
            out["properties"] = {k: v for k, v in doc["properties"].items() if k in names}
        return out

    async def create(object_type: str, request: Request) -> ExactJSONResponse:
        body = await read_json(request)
        if is_malformed(body) or not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
            return err(400, "Invalid input JSON on line 1: expected an object with 'properties'")
        props = {k: (None if v is None else str(v)) for k, v in body["properties"].items()}
        problem = validate(object_type, props, True, None)
        if problem is not None:
            return problem
        links: list[dict[str, Any]] = []
        for assoc in body.get("associations") or []:
            to_id = str(assoc.get("to", {}).get("id"))
            type_ids = [t.get("associationTypeId") for t in assoc.get("types", [])]
            if object_type == "notes" and NOTE_TO_TICKET in type_ids:
                if store.get("tickets", to_id) is None:
                    return err(400, f"ASSOCIATION: ticket {to_id} does not exist", "VALIDATION_ERROR")
                links.append({"to_type": "tickets", "to_id": to_id, "typeId": NOTE_TO_TICKET})
            else:
                return err(400, f"Invalid association type ids {type_ids}", "VALIDATION_ERROR")
        object_id = str(store.next_id(f"id:{object_type}", start=1000 if object_type == "tickets" else 5000))
        now = _now()
        doc = {
            "id": object_id,
            "properties": {**props, "hs_object_id": object_id, "createdate": now, "hs_lastmodifieddate": now},
            "createdAt": now,
            "updatedAt": now,
            "archived": False,
            "associations": links,
        }
        store.put(object_type, object_id, doc)
        for link in links:  # associations are two-way
            target = store.get(link["to_type"], link["to_id"])
            assert target is not None
            target.setdefault("associations", []).append(
                {"to_type": object_type, "to_id": object_id, "typeId": TICKET_TO_NOTE}
            )
            store.put(link["to_type"], link["to_id"], target)
        return ExactJSONResponse(public(doc, None), status_code=201)

    @app.post("/crm/v3/objects/{object_type}")
    async def create_object(object_type: str, request: Request) -> ExactJSONResponse:
        if object_type not in OBJECT_TYPES:
            return err(404, f"Unknown object type {object_type}")
        return await create(object_type, request)

    @app.get("/crm/v3/objects/{object_type}/{object_id}")
    async def read_object(
        object_type: str, object_id: str, idProperty: str | None = None, properties: str | None = None
    ) -> ExactJSONResponse:
        doc = find(object_type, object_id, idProperty) if object_type in OBJECT_TYPES else None
        if doc is None:
            return err(404, "Object not found.  objectId are usually numeric.")
        return ExactJSONResponse(public(doc, properties))

    @app.patch("/crm/v3/objects/{object_type}/{object_id}")
    async def update_object(
        object_type: str, object_id: str, request: Request, idProperty: str | None = None
    ) -> ExactJSONResponse:
        doc = find(object_type, object_id, idProperty) if object_type in OBJECT_TYPES else None
        if doc is None:
            return err(404, f"resource not found: no {object_type} with {idProperty or 'id'} {object_id}")
        body = await read_json(request)
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
        return ExactJSONResponse(public(doc, None))

    @app.get("/crm/v3/objects/{object_type}")
    async def list_objects(
        object_type: str, limit: int = 10, after: str | None = None, properties: str | None = None
    ) -> ExactJSONResponse:
        if object_type not in OBJECT_TYPES:
            return err(404, f"Unknown object type {object_type}")
        limit = max(1, min(limit, 100))
        docs = store.all(object_type)
        start = int(after) if after else 0
        page = docs[start : start + limit]
        out: dict[str, Any] = {"results": [public(d, properties) for d in page]}
        if start + limit < len(docs):
            nxt = str(start + limit)
            out["paging"] = {"next": {"after": nxt, "link": f"{request_base(object_type)}?after={nxt}"}}
        return ExactJSONResponse(out)

    def request_base(object_type: str) -> str:
        return f"/crm/v3/objects/{object_type}"

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
