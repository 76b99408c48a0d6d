"""The open API for field-service systems: `POST /v1/events`, signed, stored before it is acknowledged.

Order of checks, cheapest and least revealing first: size (413), signature (401), content type (415),
JSON (400), schema (422). Only an event that passes all of them is stored, in one transaction with the
upsert of its job snapshot (DESIGN.md §3.6); then the sender gets its 2xx and the `job-closed` run is
started off the request path, so a slow or absent Prefect API never slows or loses an acknowledgement.
"""

from __future__ import annotations

import logging
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from connectors import signing
from flows.burst import Batcher, BurstDetector
from flows.starter import EventRef, RunStarter
from models import inbox, webhook_inbox
from models.fsm_events import FieldEvent
from models.job_upsert import SnapshotRejected
from models.settings import FieldbridgeSettings, get_settings

log = logging.getLogger("fieldbridge.ingress")

SOURCE = "open-api"


class RunLauncher:
    """Starts flow runs for stored events on a small thread pool, after the sender has its answer: one
    `job-closed` run per event, or — while events arrive at burst rate — one bulk run per batch (flows/burst.py)."""

    def __init__(self, engine: Engine, starter: RunStarter | None, settings: FieldbridgeSettings,
                 workers: int = 4) -> None:
        self.engine = engine
        self.starter = starter
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="run-launcher")
        self._burst = BurstDetector(settings.burst_threshold, settings.burst_window_seconds)
        self._batcher = (Batcher(engine, starter, settings.burst_batch_size, settings.burst_linger_seconds)
                         if starter is not None and settings.burst_threshold > 0 else None)

    def launch(self, receipt: inbox.Receipt) -> None:
        # a redelivery starts nothing: its event's run was started (or batched) on the first delivery, and one
        # whose start failed is the sweeper's — a second start here could run a batched event twice
        if self.starter is None or not receipt.needs_run or receipt.duplicate:
            return
        if self._batcher is not None and self._burst.observe():
            self._batcher.add(EventRef(SOURCE, receipt.event_id, receipt.job_id))
            return
        self._pool.submit(self.starter.start_for_event, self.engine, SOURCE, receipt.event_id, receipt.job_id)

    def launch_webhook(self, hook: webhook_inbox.StoredWebhook) -> None:
        """Start the run a stored vendor webhook asks for, after its sender has the answer."""
        if self.starter is None or not hook.needs_run or hook.duplicate:
            return
        self._pool.submit(self.starter.start_for_webhook, self.engine, hook)

    def shutdown(self) -> None:
        if self._batcher is not None:
            self._batcher.shutdown()
        self._pool.shutdown(wait=True)


def _error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": code, "message": message, **extra}, status_code=status)


def _field_path(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(body)"


_SUBPATH = re.compile(r"^[A-Za-z_][\w.\[\]]*$")


def _schema_errors(exc: ValidationError) -> list[dict[str, str]]:
    """One {path, message} per problem; cross-field checks ("time_entries[0].technician_id: …") are
    reported at the field they name, not at the object that ran them."""
    out = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith(("function-", "tagged-"))))
        base = _field_path(loc) if loc else ""
        if err["type"] != "value_error":
            out.append({"path": base or "(body)", "message": err["msg"]})
            continue
        for part in err["msg"].removeprefix("Value error, ").split("; "):
            sub, sep, text = part.partition(": ")
            if sep and _SUBPATH.match(sub):
                path = sub if not base or sub.startswith(base + ".") else f"{base}.{sub}"
                out.append({"path": path, "message": text})
            else:
                out.append({"path": base or "(body)", "message": part})
    return out


async def _read_capped(request: Request, limit: int) -> bytes | None:
    """The raw body, or None as soon as it exceeds `limit` (never buffered past it)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _parse_json(raw: bytes) -> Any:
    import simplejson

    return simplejson.loads(raw.decode("utf-8"), use_decimal=True, parse_constant=_reject_constant)


def create_app(settings: FieldbridgeSettings | None = None, engine: Engine | None = None,
               starter: RunStarter | None = None) -> FastAPI:
    """The ingress app. `starter=None` stores events without starting runs (the sweeper starts them)."""
    from connectors.contract.redact import install_log_redaction

    install_log_redaction()
    settings = settings or get_settings()
    if engine is None:
        from models.db import create_schema, get_engine

        engine = get_engine(settings.resolved_database_url())
        create_schema(engine)
    secrets = settings.ingress_secret_list()
    if not secrets:
        raise ValueError("FIELDBRIDGE_INGRESS_SECRETS is not set: the ingress refuses to run without a signing "
                         "secret (comma-separated; any one verifies)")
    limit = settings.ingress_max_body_bytes
    launcher = RunLauncher(engine, starter, settings)
    app = FastAPI(title="fieldbridge open API", version="1",
                  description="Field-service systems post job events here; see docs/ingress.md.")
    app.state.launcher = launcher
    app.router.on_shutdown.append(launcher.shutdown)

    @app.get("/healthz", tags=["operations"], summary="Liveness and database reachability")
    async def healthz() -> JSONResponse:
        try:
            await run_in_threadpool(inbox.counts, engine)
        except SQLAlchemyError:
            return _error(503, "database_unavailable", "the inbox database cannot be reached")
        return JSONResponse({"status": "ok"})

    @app.post("/v1/events", tags=["events"], summary="Deliver a field-service job event",
              status_code=202, openapi_extra=_OPENAPI_EVENT_OPERATION)
    async def receive_event(request: Request) -> JSONResponse:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            return _error(413, "body_too_large", f"the body is over {limit} bytes")
        raw = await _read_capped(request, limit)
        if raw is None:
            return _error(413, "body_too_large", f"the body is over {limit} bytes")
        try:
            signing.verify(request.headers.get(signing.HEADER), raw, secrets,
                           tolerance_seconds=settings.ingress_tolerance_seconds)
        except signing.SignatureError as exc:
            return _error(401, "bad_signature", str(exc))
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media != "application/json":
            return _error(415, "unsupported_media_type", "send the event as application/json")
        try:
            body = _parse_json(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            return _error(400, "malformed_json", f"the body is not valid UTF-8 JSON: {str(exc)[:200]}")
        try:
            event = FieldEvent.model_validate(body)
        except ValidationError as exc:
            errors = _schema_errors(exc)
            return _error(422, "schema_violation", "; ".join(f"{e['path']}: {e['message']}" for e in errors[:5]),
                          errors=errors)
        try:
            receipt = await run_in_threadpool(inbox.receive, engine, SOURCE, event, settings.company_timezone)
        except SnapshotRejected as exc:
            return _error(422, "snapshot_rejected", str(exc), errors=[{"path": exc.path, "message": str(exc)}])
        except SQLAlchemyError:
            log.exception("could not store event %s", event.id)
            answer = _error(503, "store_unavailable", "the event was not stored; deliver it again later")
            answer.headers["Retry-After"] = "5"
            return answer
        launcher.launch(receipt)
        return JSONResponse(
            {"event_id": receipt.event_id, "job_id": receipt.job_id, "status": receipt.status.value,
             "duplicate": receipt.duplicate, "flow_run_id": receipt.flow_run_id},
            status_code=200 if receipt.duplicate else 202,
        )

    systems = {s for s in (settings.crm_system, settings.payroll_system, settings.accounting_system,
                           settings.hr_system, settings.events_system, settings.field_service_system) if s}

    @app.post("/webhooks/{system}", tags=["webhooks"], status_code=202,
              summary="A configured vendor's webhook: verified, then the flow it starts reads the vendor")
    async def vendor_webhook(system: str, request: Request) -> JSONResponse:
        import time

        from connectors.contract import WebhookRefused
        from connectors.registry import plugins

        plugin = plugins().get(system) if system in systems else None
        if plugin is None or plugin.webhook is None:
            return _error(404, "unknown_webhook", f"no webhooks are accepted for {system!r} here")
        raw = await _read_capped(request, limit)
        if raw is None:
            return _error(413, "body_too_large", f"the body is over {limit} bytes")
        url = str(request.url)
        if settings.ingress_public_url:  # behind a proxy the vendor signed the URL it called, not ours
            url = settings.ingress_public_url.rstrip("/") + request.url.path + (
                f"?{request.url.query}" if request.url.query else "")
        try:
            # in a thread: a credentials block loads synchronously there (in the event loop it would not)
            vendor = await run_in_threadpool(plugin.load_settings)
            plugin.webhook.verify(vendor, request.method, url, request.headers, raw, time.time())
        except WebhookRefused as exc:
            return _error(401, "bad_signature", str(exc))
        try:
            parameters = dict(plugin.webhook.parameters(raw)) if plugin.webhook.parameters else {}
        except ValueError as exc:
            return _error(400, "malformed_webhook", str(exc))
        try:  # stored before it is acknowledged: the run is started after the answer, and by the sweeper
            hook = await run_in_threadpool(webhook_inbox.store, engine, system, raw, plugin.webhook.starts,
                                           parameters)
        except SQLAlchemyError:
            log.exception("could not store a %s webhook", system)
            answer = _error(503, "store_unavailable", "the delivery was not stored; deliver it again later")
            answer.headers["Retry-After"] = "5"
            return answer
        launcher.launch_webhook(hook)
        return JSONResponse({"accepted": True, "webhook_id": hook.id, "duplicate": hook.duplicate,
                             "flow_run_id": hook.flow_run_id}, status_code=200 if hook.duplicate else 202)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes)
            event_schema = FieldEvent.model_json_schema(ref_template="#/components/schemas/{model}")
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(event_schema.pop("$defs", {}))
            components["FieldEvent"] = event_schema
            components["Problem"] = _PROBLEM_SCHEMA
            components["Accepted"] = _ACCEPTED_SCHEMA
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


_PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["error", "message"],
    "properties": {
        "error": {"type": "string", "description": "machine-readable code"},
        "message": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object", "required": ["path", "message"], "properties": {
            "path": {"type": "string", "description": "the offending field, e.g. data.time_entries[2].start"},
            "message": {"type": "string"}}}},
    },
}
_ACCEPTED_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["event_id", "job_id", "status", "duplicate"],
    "properties": {
        "event_id": {"type": "string"}, "job_id": {"type": "string"},
        "status": {"type": "string", "enum": ["received", "started", "applied", "superseded"]},
        "duplicate": {"type": "boolean"},
        "flow_run_id": {"type": ["string", "null"], "description": "set once the job-closed run exists"},
    },
}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}


_OPENAPI_EVENT_OPERATION: dict[str, Any] = {
    "parameters": [{
        "name": signing.HEADER, "in": "header", "required": True,
        "description": "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, \"{t}.{raw body}\")>; several v1= allowed",
        "schema": {"type": "string"},
    }],
    "requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/FieldEvent"}}}},
    "responses": {
        "202": {"description": "Stored; the job-closed run is started (or will be, by the sweeper)",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Accepted"}}}},
        "200": {"description": "A redelivery of an event already stored: nothing new happens",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Accepted"}}}},
        "400": _problem("The body is not valid JSON"),
        "401": _problem("Missing, malformed or wrong signature, or a timestamp outside ±5 minutes"),
        "413": _problem("The body is over 1 MiB"),
        "415": _problem("The body is not application/json"),
        "422": _problem("The event violates the schema (the field path is named) or contradicts stored data"),
        "503": _problem("The inbox database is unavailable: nothing was stored, deliver again later"),
    },
}
