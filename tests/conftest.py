"""Shared fixtures: one Prefect test harness per session, fresh sandboxes + database per test."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

# Fast Prefect retries in tests; must be set before tasks.effect_tasks is imported.
os.environ.setdefault("FIELDBRIDGE_TASK_RETRIES", "4")
os.environ.setdefault("FIELDBRIDGE_TASK_BACKOFF_SECONDS", "0.05")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


def run_concurrently(*calls: Callable[[], Any]) -> list[BaseException]:
    """Start every call on its own thread at once; return what they raised (empty when all succeeded)."""
    errors: list[BaseException] = []

    def guarded(call: Callable[[], Any]) -> None:
        try:
            call()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(call,)) for call in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


@dataclass
class World:
    home: Path
    settings: Any
    sandboxes: Any
    company: Any
    runtime: Any

    def state(self, system: str, collection: str) -> list[dict[str, Any]]:
        resp = httpx.get(f"{self.sandboxes.url(system)}/_sandbox/state/{collection}")
        resp.raise_for_status()
        return resp.json()["results"]

    def faults(self, system: str, **knobs: Any) -> None:
        httpx.post(f"{self.sandboxes.url(system)}/_sandbox/faults", json=knobs).raise_for_status()

    def faults_all(self, **knobs: Any) -> None:
        for system in ("hubspot", "quickbooks", "gusto"):
            self.faults(system, **knobs)


def make_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: int = 3,
               database_url: str | None = None) -> World:
    from deployments import sandboxes
    from deployments.demo import prepare_company
    from models.settings import FieldbridgeSettings
    from tasks.runtime import get_runtime, reset_runtime

    monkeypatch.setenv("FIELDBRIDGE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FIELDBRIDGE_DATABASE_URL", database_url or f"sqlite:///{tmp_path / 'fb.db'}")
    running = sandboxes.start_all(FieldbridgeSettings())
    for key, value in running.env().items():
        monkeypatch.setenv(key, value)
    reset_runtime()
    settings = FieldbridgeSettings()
    company = prepare_company(settings, jobs)
    return World(tmp_path / "home", settings, running, company, get_runtime())


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    w = make_world(tmp_path, monkeypatch)
    yield w
    from tasks.runtime import reset_runtime

    reset_runtime()
    w.sandboxes.stop()
