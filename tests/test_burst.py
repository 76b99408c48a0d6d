"""Bursts: closed jobs arriving faster than real time go through bulk runs (the vendors' batch APIs), and
every job the batch could not post is handed to its own `job-closed` run — nothing lost, nothing twice,
nobody reruns anything."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from flows.burst import Batcher, BurstDetector
from flows.starter import EventRef
from models import inbox
from tests.conftest import make_world
from tests.test_ingress_runs import SECRET, Served, _clear_scheduled_runs

JOBS = ["J1001", "J1002", "J1003", "J1004", "J1005", "J1006"]


def test_the_detector_counts_events_within_its_window() -> None:
    detector = BurstDetector(threshold=3, window_seconds=10)
    assert [detector.observe(now=t) for t in (0, 1, 2, 3)] == [False, False, True, True]
    assert detector.observe(now=20) is False  # the window emptied: real time again
    assert BurstDetector(threshold=0, window_seconds=10).observe() is False  # 0 turns bursts off


class _RecordingStarter:
    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.started = threading.Event()

    def start_bulk_for_events(self, engine: Any, events: list[EventRef]) -> str:
        self.batches.append([e.event_id for e in events])
        self.started.set()
        return "run"


def test_the_batcher_starts_a_full_batch_at_once_and_the_rest_after_the_linger() -> None:
    starter = _RecordingStarter()
    batcher = Batcher(None, starter, batch_size=3, linger_seconds=0.5)  # type: ignore[arg-type]
    began = time.monotonic()
    for n in range(4):
        batcher.add(EventRef("open-api", f"e{n}", f"J{n}"))
    assert starter.started.wait(5) and starter.batches == [["e0", "e1", "e2"]]
    deadline = time.monotonic() + 5
    while len(starter.batches) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert starter.batches[1] == ["e3"] and time.monotonic() - began >= 0.4  # lingered, then went
    batcher.add(EventRef("open-api", "e4", "J4"))
    batcher.shutdown()  # what was collected is started before the process goes
    assert starter.batches[2] == ["e4"]


@pytest.fixture
def burst_served(tmp_path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    from deployments.serve import start_service
    from models.settings import FieldbridgeSettings
    from tasks.runtime import reset_runtime

    monkeypatch.setenv("FIELDBRIDGE_INGRESS_SECRETS", SECRET)
    monkeypatch.setenv("FIELDBRIDGE_BURST_THRESHOLD", "3")
    monkeypatch.setenv("FIELDBRIDGE_BURST_LINGER_SECONDS", "1")
    monkeypatch.setenv("FIELDBRIDGE_HTTP_MAX_ATTEMPTS", "2")  # a vendor outage is recognised quickly
    world = make_world(tmp_path, monkeypatch, jobs=len(JOBS))
    _clear_scheduled_runs()
    service = start_service(FieldbridgeSettings(), ingress_port=0)
    with httpx.Client(timeout=30) as http:
        yield Served(world, service, http)
    service.stop()
    reset_runtime()
    world.sandboxes.stop()


def _final(run_id: str, timeout: float = 180) -> Any:
    from flows.starter import wait_for_runs

    state = wait_for_runs([run_id], timeout=timeout, poll=0.3)[run_id]
    assert state is not None and state.is_final(), f"run {run_id} did not finish: {state}"
    return state


def _flow_run(run_id: str) -> Any:
    from prefect import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(run_id)


def _artifact(run_id: str, key: str) -> Any:
    from uuid import UUID

    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        [artifact] = client.read_artifacts(artifact_filter=ArtifactFilter(
            key=ArtifactFilterKey(any_=[key]), flow_run_id=ArtifactFilterFlowRunId(any_=[UUID(run_id)])))
    return artifact


@pytest.mark.usefixtures("prefect_harness")
def test_a_burst_goes_through_one_bulk_run_and_a_bad_job_is_handed_to_its_own_run(burst_served: Served) -> None:
    served, world = burst_served, burst_served.world
    events = {job: served.event(job) for job in JOBS}
    events["J1004"]["data"]["parts"] = [{"id": "P-bad", "sku": "NOT-IN-BOOK", "quantity": "1", "unit_price": "5.00"}]
    for job in JOBS:
        for _ in range(2):  # redeliveries do not count towards a burst, nor make a second run
            assert served.post(events[job]).status_code in (200, 202)
    first, second = (served.run_of(events[j]["id"]) for j in ("J1001", "J1002"))
    bulk_id = served.run_of(events["J1003"]["id"])  # the third event within the window made it a burst
    assert {served.run_of(events[j]["id"]) for j in ("J1005", "J1006")} == {bulk_id}
    state = _final(bulk_id)
    bulk_run = _flow_run(bulk_id)
    assert bulk_run.name == "bulk-job-closed-burst-J1003-to-J1006-4-jobs" and "burst" in bulk_run.tags
    assert state.name == "HandedOff" and "3 of 4 posted; 1 handed" in state.message, state

    handed = inbox.find_event(world.runtime.engine, events["J1004"]["id"]).flow_run_id
    assert handed != bulk_id
    assert _final(handed).name == "Quarantined"  # alerts and `fieldbridge quarantine` work per job, as ever
    assert _flow_run(handed).name == "job-closed-J1004"
    for job, run_id in (("J1001", first), ("J1002", second)):  # below the threshold: the real-time path
        assert _final(run_id).name == "Completed" and _flow_run(run_id).name == f"job-closed-{job}"
    rows = {r["job"]: r for r in __import__("json").loads(_artifact(bulk_id, "bulk-outcome").data)}
    assert rows["J1004"]["state"] == "quarantined" and rows["J1004"]["next"] == f"job-closed run {handed}"
    assert rows["J1003"]["state"] == "posted" and rows["J1003"]["next"] == ""

    good = [j for j in JOBS if j != "J1004"]
    assert Counter(i["DocNumber"] for i in world.state("quickbooks", "Invoice")) == dict.fromkeys(good, 1)
    assert Counter(t["properties"]["hs_pipeline_stage"] for t in world.state("hubspot", "tickets")
                   if t["id"] in {r["ticket"] for r in rows.values()})["4"] == 3
    assert len(world.state("hubspot", "notes")) == len(good)


@pytest.mark.usefixtures("prefect_harness")
def test_a_backlog_goes_through_one_bulk_run_and_a_vendor_outage_is_waited_out_by_the_batch(
        burst_served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ingress could not reach Prefect while four jobs closed; the sweeper finds the backlog and starts one
    bulk run for it (not four job-closed runs). QuickBooks is down: the batch posts CRM and payroll and ends
    TransientFailure — no job is handed to a run of its own for a transient error — and the sweeper runs the
    same batch again once QuickBooks is back: every invoice once, nobody reruns anything."""
    from fastapi.testclient import TestClient

    from deployments import fsm_simulator
    from deployments.ingress import create_app
    from flows import ingress_sweeper as sweeper
    from flows.starter import RunStarter
    from models.settings import FieldbridgeSettings

    monkeypatch.setattr(sweeper, "retry_delay", lambda run_count: 0.5)  # 1, 2, 4 … minutes in production
    served, world = burst_served, burst_served.world
    engine = world.runtime.engine
    backlog = JOBS[:4]
    with TestClient(create_app(FieldbridgeSettings(burst_threshold=0), engine, RunStarter(
            api_url="http://127.0.0.1:9/api"))) as door:  # nothing listens there
        for job in backlog:
            assert fsm_simulator.post(door, "http://testserver", SECRET, served.event(job)).status_code == 202
    ids = [inbox.latest_for_job(engine, job).event_id for job in backlog]
    world.faults("quickbooks", error_rate=1.0)
    swept = sweeper.ingress_sweeper(older_than_seconds=0)
    assert sorted(r["event"] for r in swept["started"]) == sorted(ids)
    assert {r["outcome"] for r in swept["started"]} == {"started (bulk)"}
    [bulk_id] = {r["flow_run"] for r in swept["started"]}
    state = _final(bulk_id)
    assert state.name == "TransientFailure" and "4 failed transiently" in state.message, state
    assert {inbox.find_event(engine, i).flow_run_id for i in ids} == {bulk_id}  # none handed off
    assert world.state("quickbooks", "Invoice") == [] and len(world.state("hubspot", "notes")) == len(backlog)
    world.faults("quickbooks", error_rate=0.0)  # the outage ends
    [redriven] = sweeper.ingress_sweeper(older_than_seconds=0)["redriven"]
    assert redriven["flow_run"] == bulk_id and "TransientFailure" in redriven["was"]
    deadline = time.monotonic() + 120
    while (state := _final(bulk_id)).name != "Completed":
        assert time.monotonic() < deadline and state.name in ("TransientFailure", "AwaitingRetry"), state
        time.sleep(0.5)
    assert "all 4 jobs posted" in state.message, state
    assert Counter(i["DocNumber"] for i in world.state("quickbooks", "Invoice")) == dict.fromkeys(backlog, 1)
    assert len(world.state("hubspot", "notes")) == len(backlog)
    assert sweeper.ingress_sweeper(older_than_seconds=0)["started"] == []
