"""From the door to the vendors: events posted to the served ingress run `job-closed` through the
deployments prefect.yaml declares, once per event, and every kind of later edit converges."""

from __future__ import annotations

import copy
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from deployments import fsm_simulator
from models import inbox

pytestmark = pytest.mark.usefixtures("prefect_harness")

SECRET = "whsec_runs_test"


@dataclass
class Served:
    world: Any
    service: Any
    http: httpx.Client

    def post(self, evt: dict[str, Any]) -> httpx.Response:
        return fsm_simulator.post(self.http, self.service.ingress_url, SECRET, evt)

    def event(self, job_id: str, event_type: str = "job.closed", **kw: Any) -> dict[str, Any]:
        job = next(j for j in self.world.company.jobs if j.id == job_id)
        return fsm_simulator.event(self.world.company, job, event_type, **kw)

    def run_of(self, event_id: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            row = inbox.find_event(self.world.runtime.engine, event_id)
            if row is not None and row.flow_run_id:
                return row.flow_run_id
            time.sleep(0.1)
        raise AssertionError(f"no run was started for {event_id}")

    def finish(self, event_id: str, timeout: float = 90) -> Any:
        from flows.starter import wait_for_runs

        run_id = self.run_of(event_id)
        state = wait_for_runs([run_id], timeout=timeout, poll=0.3)[run_id]
        assert state is not None and state.is_final(), f"run {run_id} for {event_id} did not finish: {state}"
        return state


def _runs_for(served: Served, job_id: str) -> list[Any]:
    """This installation's job-closed runs of a job (the test harness's server outlives each test's world)."""
    from prefect import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    ours = inbox.installation_id(served.world.runtime.engine)
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=["job-closed"])), limit=200)
    return [r for r in runs if (r.parameters or {}).get("job_id") == job_id
            and (r.idempotency_key or "").startswith(ours)]


def _clear_scheduled_runs() -> None:
    """Runs left Scheduled by an earlier test must not execute against this test's world."""
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
    from prefect.client.schemas.objects import StateType

    with get_client(sync_client=True) as client:
        for run in client.read_flow_runs(flow_run_filter=FlowRunFilter(state=FlowRunFilterState(
                type=FlowRunFilterStateType(any_=[StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING]))),
                limit=200):
            client.delete_flow_run(run.id)


@pytest.fixture
def served(world, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    from deployments.serve import start_service
    from models.settings import FieldbridgeSettings

    monkeypatch.setenv("FIELDBRIDGE_INGRESS_SECRETS", SECRET)
    _clear_scheduled_runs()
    service = start_service(FieldbridgeSettings(), ingress_port=0)
    with httpx.Client(timeout=30) as http:
        yield Served(world, service, http)
    service.stop()


def test_three_deliveries_of_one_event_make_one_run_and_one_set_of_records(served: Served) -> None:
    evt = served.event("J1001")
    answers = [served.post(evt).status_code for _ in range(3)]
    assert answers == [202, 200, 200]
    assert served.finish(evt["id"]).name == "Completed"
    assert len(_runs_for(served, "J1001")) == 1
    world = served.world
    assert Counter(i["DocNumber"] for i in world.state("quickbooks", "Invoice")) == {"J1001": 1}
    assert len(world.state("hubspot", "notes")) == 1
    assert len(world.state("gusto", "time_sheets")) == 1
    assert inbox.find_event(world.runtime.engine, evt["id"]).deliveries == 3
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey

    run_id = served.run_of(evt["id"])
    with get_client(sync_client=True) as client:
        [summary] = client.read_artifacts(artifact_filter=ArtifactFilter(
            key=ArtifactFilterKey(any_=["job-closed-j1001"]),
            flow_run_id=ArtifactFilterFlowRunId(any_=[__import__("uuid").UUID(run_id)])))
    invoice_id = world.state("quickbooks", "Invoice")[0]["Id"]
    assert f"inbox event `{evt['id']}` (job.closed" in summary.data and "3 deliveries" in summary.data
    assert f"/invoice/{invoice_id})" in summary.data  # a link to the record at the vendor
    assert "/crm/v3/objects/tickets/" in summary.data and "/time_tracking/time_sheets/" in summary.data


def test_prefect_unreachable_the_event_is_accepted_and_the_sweeper_starts_it(served: Served) -> None:
    from fastapi.testclient import TestClient

    from deployments.ingress import create_app
    from flows.ingress_sweeper import ingress_sweeper
    from flows.starter import RunStarter
    from models.settings import FieldbridgeSettings

    engine = served.world.runtime.engine
    dead = RunStarter(api_url="http://127.0.0.1:9/api")  # nothing listens there
    evt = served.event("J1002")
    with TestClient(create_app(FieldbridgeSettings(), engine, dead)) as door:
        answer = fsm_simulator.post(door, "http://testserver", SECRET, evt)
        assert answer.status_code == 202
        deadline = time.monotonic() + 120
        while (row := inbox.find_event(engine, evt["id"])).last_error is None:
            assert time.monotonic() < deadline, "the failed start was never recorded"
            time.sleep(0.2)
    assert row.flow_run_id is None and "ConnectError" in row.last_error
    assert served.world.state("quickbooks", "Invoice") == []
    swept = ingress_sweeper(older_than_seconds=0)
    assert [s["event"] for s in swept["started"]] == [evt["id"]]
    assert served.finish(evt["id"]).name == "Completed"
    assert [i["DocNumber"] for i in served.world.state("quickbooks", "Invoice")] == ["J1002"]
    assert ingress_sweeper(older_than_seconds=0)["started"] == []  # nothing left to sweep


def _edit(evt: dict[str, Any], event_id: str, minutes_later: int = 30) -> dict[str, Any]:
    out = copy.deepcopy(evt)
    out["id"], out["type"] = event_id, "job.updated"
    out["occurred_at"] = (datetime.fromisoformat(evt["occurred_at"]) + timedelta(minutes=minutes_later)).isoformat()
    return out


def test_an_edit_after_posting_converges_everywhere(served: Served, monkeypatch) -> None:
    world = served.world
    monkeypatch.setattr(world.runtime.settings, "send_invoices", False)  # unsent: it may be revised in place
    evt = served.event("J1001")
    served.post(evt)
    assert served.finish(evt["id"]).name == "Completed"
    [invoice] = world.state("quickbooks", "Invoice")
    [sheet] = world.state("gusto", "time_sheets")
    edit = _edit(evt, "evt-J1001-edit-1")
    work = next(e for e in edit["data"]["time_entries"] if e["kind"] == "work")
    work["end"] = (datetime.fromisoformat(work["end"]) - timedelta(minutes=30)).isoformat()  # logged too much
    edit["data"]["notes"].append({"id": "N-late", "technician_id": work["technician_id"], "created_at":
                                  edit["occurred_at"], "body": "Customer called back: all good."})
    edit["data"]["parts"].append({"id": "P-late", "sku": "P-FUSE-07", "quantity": "1", "unit_price": "12.49"})
    assert served.post(edit).status_code == 202
    assert served.finish(edit["id"]).name == "Completed"

    [revised] = world.state("quickbooks", "Invoice")
    assert revised["Id"] == invoice["Id"] and revised["SyncToken"] == "1"  # updated in place, not a second one
    assert "Thermal fuse" in [line.get("Description") for line in revised["Line"]]
    [resheet] = world.state("gusto", "time_sheets")
    hours = lambda doc: sum(Decimal(e["hours_worked"]) for e in doc["entries"])  # noqa: E731
    assert resheet["uuid"] == sheet["uuid"] and hours(sheet) - hours(resheet) == Decimal("0.5")
    assert sorted(n["properties"]["hs_note_body"] for n in world.state("hubspot", "notes"))[0] == \
        "Customer called back: all good."
    assert len(world.state("hubspot", "notes")) == 2
    replay = served.post(edit)  # the FSM retries its webhook: nothing new
    assert replay.status_code == 200 and len(_runs_for(served, "J1001")) == 2


def test_an_edit_after_the_invoice_was_sent_ends_needs_review_with_an_artifact(served: Served) -> None:
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    world = served.world
    evt = served.event("J1003")
    served.post(evt)
    served.finish(evt["id"])
    [invoice] = world.state("quickbooks", "Invoice")
    assert invoice["EmailStatus"] == "EmailSent"  # invoices are sent on creation by default
    edit = _edit(evt, "evt-J1003-edit")
    edit["data"]["expenses"].append({"id": "X-late", "description": "Parking", "amount": "8.00"})
    served.post(edit)
    state = served.finish(edit["id"])
    assert (state.type.value, state.name) == ("FAILED", "NeedsReview")
    assert "already sent to the customer" in state.message
    [unchanged] = world.state("quickbooks", "Invoice")
    assert unchanged["TotalAmt"] == invoice["TotalAmt"] and unchanged["EmailStatus"] == "EmailSent"
    with get_client(sync_client=True) as client:
        [artifact] = client.read_artifacts(artifact_filter=ArtifactFilter(
            key=ArtifactFilterKey(any_=["invoice-review-j1003"])))
    assert "needs review" in artifact.data and "Parking" in artifact.data


def test_a_quarantined_job_ends_in_a_named_state_and_nothing_posts(served: Served) -> None:
    evt = served.event("J1002")
    evt["data"]["parts"] = [{"id": "P-bad", "sku": "NOT-IN-BOOK", "quantity": "1", "unit_price": "5.00"}]
    served.post(evt)
    state = served.finish(evt["id"])
    assert (state.type.value, state.name) == ("FAILED", "Quarantined")
    assert "NOT-IN-BOOK" not in state.message or "price book" in state.message
    assert served.world.state("quickbooks", "Invoice") == []


def test_fieldbridge_log_lines_reach_the_flow_run(served: Served) -> None:
    from uuid import UUID

    from prefect import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    evt = served.event("J1001")
    served.post(evt)
    served.finish(evt["id"])
    run_id = served.run_of(evt["id"])
    deadline = time.monotonic() + 20
    names: set[str] = set()
    while time.monotonic() < deadline and "fieldbridge.ledger" not in names:
        with get_client(sync_client=True) as client:
            logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[UUID(run_id)])))
        names = {log.name for log in logs}
        time.sleep(0.5)
    assert "fieldbridge.ledger" in names, names


def test_backfill_reruns_the_failed_job_linked_to_the_run_it_replaces(served: Served) -> None:
    from flows.backfill import backfill

    world = served.world
    for job_id in ("J1001", "J1002", "J1003"):
        served.post(served.event(job_id))
        served.finish(f"evt-{job_id}-closed")
    orphan = served.event("J1003")  # a job whose CRM ticket does not exist yet: the CRM branch fails
    for key in ("job", "customer"):
        orphan["data"][key] = {**orphan["data"][key]}
    orphan["id"], orphan["data"]["job"]["id"] = "evt-J7003-closed", "J7003"
    orphan["data"]["time_entries"] = [{**e, "id": e["id"] + "-7", "start": _shift(e["start"]), "end": _shift(e["end"])}
                                      for e in orphan["data"]["time_entries"]]
    orphan["data"]["parts"] = [{**p, "id": p["id"] + "-7"} for p in orphan["data"]["parts"]]
    orphan["data"]["expenses"] = [{**x, "id": x["id"] + "-7"} for x in orphan["data"]["expenses"]]
    orphan["data"]["notes"] = [{**n, "id": n["id"] + "-7"} for n in orphan["data"]["notes"]]
    orphan["data"]["job"]["closed_at"] = _shift(orphan["data"]["job"]["closed_at"])
    orphan["occurred_at"] = orphan["data"]["job"]["closed_at"]
    served.post(orphan)
    failed = served.finish("evt-J7003-closed")
    assert failed.type.value == "FAILED" and "no HubSpot ticket" in failed.message
    world.runtime.crm.open_case("J7003", "Walk-in", "")  # the dispatcher fixes the CRM side

    day = datetime.fromisoformat(orphan["occurred_at"]).date()
    result = backfill(start=day - timedelta(days=1), end=day + timedelta(days=1))
    assert [p["job"] for p in result["planned"]] == ["J7003"]
    assert result["planned"][0]["replaces"] == served.run_of("evt-J7003-closed")
    assert [o["state"] for o in result["outcome"]] == ["Completed"]
    assert Counter(i["DocNumber"] for i in world.state("quickbooks", "Invoice")) == {"J1001": 1, "J1002": 1,
                                                                                     "J1003": 1, "J7003": 1}


def _shift(stamp: str) -> str:
    return (datetime.fromisoformat(stamp) + timedelta(days=1)).isoformat()


def test_a_vendor_down_longer_than_the_retries_is_waited_out_without_a_person(served: Served, monkeypatch) -> None:
    """QuickBooks answers only 5xx: the run ends `TransientFailure` (not plain Failed: nothing is wrong with
    the data); the sweeper schedules it again, and once QuickBooks is back the same run posts the job once."""
    from flows import ingress_sweeper as sweeper
    from flows.starter import wait_for_runs

    monkeypatch.setattr(sweeper, "retry_delay", lambda run_count: 0.5)  # 1, 2, 4 … minutes in production
    world = served.world
    world.faults("quickbooks", error_rate=1.0)
    evt = served.event("J1003")
    assert served.post(evt).status_code == 202
    state = served.finish(evt["id"], timeout=240)
    assert state.name == "TransientFailure" and "retried automatically" in state.message, state
    assert world.state("quickbooks", "Invoice") == []
    world.faults("quickbooks", error_rate=0.0)  # the outage ends; no one reruns anything
    swept = sweeper.ingress_sweeper(older_than_seconds=0)
    assert [r["event"] for r in swept["redriven"]] == [evt["id"]] and "TransientFailure" in swept["redriven"][0]["was"]
    run_id = served.run_of(evt["id"])
    deadline = time.monotonic() + 120
    while (final := wait_for_runs([run_id], timeout=60, poll=0.3)[run_id]).name != "Completed":
        assert time.monotonic() < deadline, final
        time.sleep(0.5)
    assert Counter(i["DocNumber"] for i in world.state("quickbooks", "Invoice")) == {"J1003": 1}
    assert len(world.state("quickbooks", "outbox")) == 1
    assert len(_runs_for(served, "J1003")) == 1  # the same run, run again
