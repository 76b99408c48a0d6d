"""A custom system receiving fieldbridge's events: it verifies each signature (the same scheme the
ingress uses), refuses stale or forged deliveries with 401, deduplicates by event id, and keeps what it
received — with the shared fault knobs, so lost answers and 5xx bursts can be tested."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request

from connectors import signing
from connectors.emulator import ExactJSONResponse, FaultConfig, Sandbox, SandboxStore, build_sandbox


def error_body(status: int, message: str) -> dict[str, Any]:
    return {"error": "unavailable" if status >= 500 else "rate_limited", "message": message}


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def create_app(secrets: list[str], faults: FaultConfig | None = None, state_path: Path | None = None) -> Sandbox:
    store = SandboxStore(state_path or ":memory:")
    faults = faults or FaultConfig()
    app = FastAPI(title="Event receiver sandbox")

    @app.post("/events")
    async def receive(request: Request) -> ExactJSONResponse:
        raw = await request.body()
        try:
            signing.verify(request.headers.get(signing.HEADER), raw, secrets)
        except signing.SignatureError as exc:
            return ExactJSONResponse({"error": "bad_signature", "message": str(exc)}, status_code=401)
        try:
            event = json.loads(raw, parse_constant=_not_json, parse_float=Decimal)  # NaN, Infinity: not JSON
            event_id, kind = str(event["id"]), str(event["type"])
        except (ValueError, KeyError, TypeError, RecursionError):
            return ExactJSONResponse({"error": "malformed", "message": "expected {id, type, occurred_at, data}"},
                                     status_code=400)
        seen = store.get("events", event_id)
        if seen is not None:
            seen["deliveries"] += 1
            store.put("events", event_id, seen)
            return ExactJSONResponse({"received": event_id, "duplicate": True})
        store.put("events", event_id, {"id": event_id, "type": kind, "event": event, "deliveries": 1})
        return ExactJSONResponse({"received": event_id, "duplicate": False}, status_code=202)

    return build_sandbox("webhook", app, store, faults, error_body)
