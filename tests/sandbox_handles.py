"""A test-side handle on a running sandbox: its admin API (faults, stats, state, seed) in one place."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import httpx

from connectors.emulator import Sandbox, SandboxServer
from connectors.http import jsonbody


def seed_failing_first(n: int, rate: float = 0.5) -> int:
    """A FaultConfig seed under which the first `n` API requests get a 5xx and the next one does not
    (mirrors the injector: one `random()` per request, plus a 500/503 `choice` when it fails)."""
    for seed in range(100_000):
        rng = random.Random(seed)
        fails = 0
        while fails < n and rng.random() < rate:
            rng.choice([500, 503])
            fails += 1
        if fails == n and rng.random() >= rate:
            return seed
    raise AssertionError("no seed found")


@dataclass
class SandboxHandle:
    sandbox: Sandbox
    server: SandboxServer

    @property
    def url(self) -> str:
        return self.server.url

    def admin(self, path: str, payload: dict[str, Any] | None = None) -> Any:
        resp = httpx.post(self.url + path, json=payload) if payload is not None else httpx.get(self.url + path)
        resp.raise_for_status()
        return jsonbody.loads(resp.content)  # exact numbers: httpx's .json() would read money as floats

    def faults(self, **knobs: Any) -> None:
        self.admin("/_sandbox/faults", knobs)

    def stats(self) -> dict[str, int]:
        return self.admin("/_sandbox/stats")

    def state(self, collection: str) -> list[dict[str, Any]]:
        return self.admin(f"/_sandbox/state/{collection}")["results"]

    def seed(self, collection: str, docs: list[dict[str, Any]], id_field: str = "id") -> None:
        self.admin(f"/_sandbox/seed/{collection}", {"id_field": id_field, "docs": docs})
