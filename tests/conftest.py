"""Shared fixtures: one Prefect test harness per session, fresh sandboxes + database per test."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
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
# Job reports on the CRM profile (a note / Case comment per job, on by default in the product) are off for the
# in-process tests, whose assertions count the technicians' notes; tests/test_job_report.py, test_combinations.py
# and the bulk Salesforce test turn them on, and the subprocess end-to-end tests (demo, real server, chaos) run
# with the product's default.
os.environ.setdefault("FIELDBRIDGE_CRM_JOB_REPORTS", "false")


def run_concurrently(*calls: Callable[[], Any]) -> list[BaseException]:
    """Start every call on its own thread at once (a barrier lines them up, so they really race); return what
    they raised (empty when all succeeded)."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(calls))

    def guarded(call: Callable[[], Any]) -> None:
        barrier.wait()
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
        for system in self.sandboxes.servers:
            self.faults(system, **knobs)

    def add_job(self, job_id: str, technician_id: str, start: datetime, hours: float, description: str,
                closed_after_hours: float = 3, note: str | None = None) -> None:
        """A further closed job (same customer as J1001) with one work entry and its CRM ticket."""
        from sqlmodel import Session

        from models.canonical import EntryKind, Job, JobStatus, JobTechnician, Note, TimeEntry

        with Session(self.runtime.engine) as s:
            first = s.get(Job, "J1001")
            s.add(Job(id=job_id, customer_id=first.customer_id, site_id=first.site_id, status=JobStatus.CLOSED,
                      description=description, resolution="ok", closed_at=start + timedelta(hours=closed_after_hours)))
            s.flush()
            s.add(JobTechnician(job_id=job_id, technician_id=technician_id))
            s.add(TimeEntry(id=f"E-{job_id}", job_id=job_id, technician_id=technician_id, kind=EntryKind.WORK,
                            start=start, end=start + timedelta(hours=hours)))
            if note:
                s.add(Note(id=f"N-{job_id}", job_id=job_id, technician_id=technician_id, body=note, created_at=start))
            s.commit()
        self.runtime.crm.open_case(job_id, description, "")

    def shift_job(self, job_id: str, delta: timedelta) -> None:
        """Move a job's time entries and its close time, as a dispatcher correcting the date would."""
        from sqlmodel import Session, select

        from models.canonical import Job, TimeEntry

        with Session(self.runtime.engine) as s:
            for e in s.exec(select(TimeEntry).where(TimeEntry.job_id == job_id)):
                e.start, e.end = e.start + delta, e.end + delta
                s.add(e)
            job = s.get(Job, job_id)
            job.closed_at = job.closed_at + delta
            s.add(job)
            s.commit()


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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Slow suites first: with `-n 3 --dist loadfile` each file goes to one worker in collection order, and a
    minutes-long file collected last (test_workers_pg.py) kept one worker busy long after the other was done."""
    items.sort(key=lambda item: 0 if item.get_closest_marker("slow") else 1)
