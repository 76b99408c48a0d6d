"""Shared plumbing for vendor emulators: exact-JSON responses, bearer checks and the admin API."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

from connectors.emulator.faults import ErrorBody, FaultConfig, FaultInjector, RateWindow
from connectors.emulator.store import SandboxStore
from connectors.http import jsonbody


class ExactJSONResponse(Response):
    """JSON whose Decimals go out as exact numbers, the way vendors print money."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return jsonbody.dumps(content).encode()


async def read_json(request: Request) -> Any:
    raw = await request.body()
    try:
        return jsonbody.loads(raw) if raw else None
    except ValueError:
        return _MALFORMED


_MALFORMED = object()


def is_malformed(body: Any) -> bool:
    return body is _MALFORMED


@dataclass
class Sandbox:
    """One emulator: its app (wrapped in fault injection), state, and admin surface."""

    name: str
    app: FastAPI
    store: SandboxStore
    faults: FaultConfig
    injector: FaultInjector | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def asgi(self) -> FaultInjector:
        assert self.injector is not None
        return self.injector


def build_sandbox(
    name: str,
    app: FastAPI,
    store: SandboxStore,
    faults: FaultConfig,
    error_body: ErrorBody,
    rate_window: RateWindow | None = None,
    rate_limit_headers: Callable[[RateWindow | None], dict[str, str]] | None = None,
    rate_limit_body: ErrorBody | None = None,
    exempt: tuple[str, ...] = (),
) -> Sandbox:
    """Wrap a vendor app with the fault injector and mount `/_sandbox/*` for tests and the demo.
    `exempt`: path prefixes the fault knobs leave alone (the vendor's OAuth token endpoint)."""
    sandbox = Sandbox(name, app, store, faults)

    @app.get("/_sandbox/state/{collection}")
    async def state(collection: str) -> ExactJSONResponse:
        return ExactJSONResponse({"results": store.all(collection)})

    @app.post("/_sandbox/faults")
    async def set_faults(request: Request) -> ExactJSONResponse:
        body = await read_json(request) or {}
        known = {f.name for f in fields(FaultConfig)}
        for key, value in body.items():
            if key in known:
                setattr(faults, key, value)
        if "burst" in body and sandbox.injector is not None:
            sandbox.injector.burst(int(body["burst"]))
        return ExactJSONResponse(asdict(faults))

    @app.get("/_sandbox/stats")
    async def stats() -> ExactJSONResponse:
        return ExactJSONResponse(sandbox.injector.stats if sandbox.injector else {})

    @app.post("/_sandbox/seed/{collection}")
    async def seed(collection: str, request: Request) -> ExactJSONResponse:
        body = await read_json(request) or {}
        id_field = body.get("id_field", "id")
        for doc in body.get("docs", []):
            store.put(collection, str(doc[id_field]), doc)
        return ExactJSONResponse({"seeded": len(body.get("docs", []))})

    @app.post("/_sandbox/reset")
    async def reset(keep: str = "") -> ExactJSONResponse:
        """Forget all state; `?keep=oauth_access,…` keeps those collections (sessions stay valid)."""
        store.reset([c for c in keep.split(",") if c])
        return ExactJSONResponse({"reset": True})

    sandbox.injector = FaultInjector(app, faults, error_body, rate_window, rate_limit_headers, rate_limit_body,
                                     exempt)
    return sandbox
