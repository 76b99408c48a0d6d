"""The open API's door: every bad delivery gets its clear 4xx and stores nothing; good ones are stored
with their snapshot in one transaction, deduplicated, and never overwritten by an older snapshot."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from connectors import signing
from deployments import demo_data, fsm_simulator
from deployments.ingress import create_app
from models.canonical import Customer, Job, JobStatus, Note, Technician, TimeEntry
from models.db import create_schema, make_engine
from models.integration import InboxEvent, InboxStatus
from models.settings import FieldbridgeSettings

NEW, OLD = "whsec_new_2026", "whsec_old_2025"


@dataclass
class Door:
    client: TestClient
    engine: Any
    company: demo_data.DemoCompany

    def post(self, evt: dict[str, Any], secrets: str | list[str] = NEW, *, timestamp: int | None = None,
             headers: dict[str, str] | None = None, raw: bytes | None = None) -> Any:
        body = raw if raw is not None else fsm_simulator.body_of(evt)
        sent = {"Content-Type": "application/json", signing.HEADER: signing.sign(body, secrets, timestamp)}
        return self.client.post("/v1/events", content=body, headers={**sent, **(headers or {})})

    def event(self, n: int = 0, **kw: Any) -> dict[str, Any]:
        return fsm_simulator.event(self.company, self.company.jobs[n], **kw)

    def stored(self) -> list[InboxEvent]:
        with Session(self.engine) as s:
            return list(s.exec(select(InboxEvent)))

    def jobs(self) -> list[Job]:
        with Session(self.engine) as s:
            return list(s.exec(select(Job)))


@pytest.fixture
def door(tmp_path: Path) -> Iterator[Door]:
    engine = make_engine(f"sqlite:///{tmp_path / 'ingress.db'}")
    create_schema(engine)
    settings = FieldbridgeSettings(home=tmp_path, ingress_secrets=f"{NEW},{OLD}")
    with TestClient(create_app(settings, engine, starter=None)) as client:
        yield Door(client, engine, demo_data.generate(jobs=4))
    engine.dispose()


def _nothing_stored(door: Door) -> None:
    assert door.stored() == []
    assert door.jobs() == []


# -- accepted -------------------------------------------------------------------------------------


def test_a_signed_event_is_stored_with_its_snapshot_before_the_answer(door: Door) -> None:
    evt = door.event(0)
    answer = door.post(evt)
    assert answer.status_code == 202
    assert answer.json() == {"event_id": evt["id"], "job_id": "J1001", "status": "received", "duplicate": False,
                             "flow_run_id": None}
    [row] = door.stored()
    assert (row.event_id, row.type, row.status, row.deliveries) == (evt["id"], "job.closed", InboxStatus.RECEIVED, 1)
    with Session(door.engine) as s:
        job = s.get(Job, "J1001")
        assert job.status is JobStatus.CLOSED
        assert job.closed_at == datetime.fromisoformat(evt["data"]["job"]["closed_at"])
        entries = list(s.exec(select(TimeEntry).where(TimeEntry.job_id == "J1001")))
        assert {e.id for e in entries} == {e["id"] for e in evt["data"]["time_entries"]}
        tech = s.get(Technician, evt["data"]["technicians"][0]["id"])
        assert tech.bill_rate == Decimal(evt["data"]["technicians"][0]["bill_rate"])
        assert s.get(Customer, evt["data"]["customer"]["id"]).bill_postal_code == \
            evt["data"]["customer"]["billing_address"]["postal_code"]


def test_a_redelivery_answers_200_and_changes_nothing(door: Door) -> None:
    evt = door.event(0)
    assert door.post(evt).status_code == 202
    for _ in range(2):
        again = door.post(evt)
        assert again.status_code == 200 and again.json()["duplicate"] is True
    [row] = door.stored()
    assert row.deliveries == 3


def test_rotation_both_secrets_verify_and_a_sender_may_sign_with_both(door: Door) -> None:
    assert door.post(door.event(0), OLD).status_code == 202
    assert door.post(door.event(1), NEW).status_code == 202
    assert door.post(door.event(2), ["whsec_unknown", NEW]).status_code == 202  # any one v1 may match
    assert len(door.stored()) == 3


def test_an_older_snapshot_is_kept_but_does_not_overwrite_newer_data(door: Door) -> None:
    job = door.company.jobs[0]
    newer = door.event(0, event_type="job.updated", event_id="evt-new", occurred_at=job.closed_at.add(hours=1))
    newer["data"]["job"]["resolution"] = "Replaced the pump (corrected)"
    older = door.event(0, event_id="evt-old")
    assert door.post(newer).json()["status"] == "received"
    answer = door.post(older)
    assert answer.status_code == 202 and answer.json()["status"] == "superseded"
    with Session(door.engine) as s:
        assert s.get(Job, job.id).resolution == "Replaced the pump (corrected)"
    assert {r.event_id: r.status for r in door.stored()} == {"evt-new": InboxStatus.RECEIVED,
                                                             "evt-old": InboxStatus.SUPERSEDED}


def test_a_newer_snapshot_replaces_the_jobs_children(door: Door) -> None:
    job = door.company.jobs[0]
    door.post(door.event(0))
    edit = door.event(0, event_type="job.updated", event_id="evt-edit", occurred_at=job.closed_at.add(minutes=30))
    edit["data"]["notes"] = []  # the technician deleted the note
    edit["data"]["time_entries"] = edit["data"]["time_entries"][1:]  # and removed the travel entry
    assert door.post(edit).status_code == 202
    with Session(door.engine) as s:
        assert list(s.exec(select(Note).where(Note.job_id == job.id))) == []
        assert [e.id for e in s.exec(select(TimeEntry).where(TimeEntry.job_id == job.id))] == \
            [edit["data"]["time_entries"][0]["id"]]


def test_reopened_job_goes_back_to_work_and_needs_no_run(door: Door) -> None:
    door.post(door.event(0))
    job = door.company.jobs[0]
    answer = door.post(door.event(0, event_type="job.reopened", event_id="evt-reopen",
                                  occurred_at=job.closed_at.add(hours=2)))
    assert answer.status_code == 202 and answer.json()["status"] == "applied"
    with Session(door.engine) as s:
        row = s.get(Job, job.id)
        assert row.status is JobStatus.IN_PROGRESS and row.closed_at is None


# -- refused, and nothing stored --------------------------------------------------------------------


def test_missing_signature_is_401(door: Door) -> None:
    body = fsm_simulator.body_of(door.event(0))
    answer = door.client.post("/v1/events", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 401 and "header is missing" in answer.json()["message"]
    _nothing_stored(door)


@pytest.mark.parametrize("header", ["v1=abc", "t=notanumber,v1=abc", "t=1700000000", "garbage"])
def test_malformed_signature_header_is_401(door: Door, header: str) -> None:
    answer = door.post(door.event(0), headers={signing.HEADER: header})
    assert answer.status_code == 401
    _nothing_stored(door)


def test_wrong_secret_and_tampered_body_are_401(door: Door) -> None:
    assert door.post(door.event(0), "whsec_attacker").status_code == 401
    evt = door.event(0)
    body = fsm_simulator.body_of(evt)
    header = signing.sign(body, NEW)
    tampered = body.replace(b'"J1001"', b'"J1002"', 1)
    answer = door.client.post("/v1/events", content=tampered,
                              headers={"Content-Type": "application/json", signing.HEADER: header})
    assert answer.status_code == 401 and "no v1 signature matches" in answer.json()["message"]
    _nothing_stored(door)


@pytest.mark.parametrize("skew", [-301, 301, -86400])
def test_timestamp_outside_five_minutes_is_401(door: Door, skew: int) -> None:
    answer = door.post(door.event(0), timestamp=int(time.time()) + skew)
    assert answer.status_code == 401 and "300 s" in answer.json()["message"]
    _nothing_stored(door)


def test_wrong_content_type_is_415(door: Door) -> None:
    answer = door.post(door.event(0), headers={"Content-Type": "text/plain"})
    assert answer.status_code == 415
    _nothing_stored(door)


@pytest.mark.parametrize("raw", [b"{not json", b"", b"\xff\xfe\x00", b'{"id": NaN}', b"[1, 2"])
def test_malformed_json_is_400(door: Door, raw: bytes) -> None:
    answer = door.post({}, raw=raw)
    assert answer.status_code == 400 and answer.json()["error"] == "malformed_json"
    _nothing_stored(door)


def _break(evt: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(evt)
    *parents, last = path.split(".")
    node: Any = out
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    if value is _DELETE:
        del node[int(last) if last.isdigit() else last]
    else:
        node[int(last) if last.isdigit() else last] = value
    return out


_DELETE = object()
SCHEMA_CASES = [
    ("type", "job.finished", "type"),
    ("occurred_at", "2026-11-24T10:00:00", "occurred_at"),  # no offset: ambiguous, refused
    ("data.time_entries.0.start", "2026-11-24T08:00:00", "data.time_entries[0].start"),
    ("data.time_entries.0.kind", "lunch", "data.time_entries[0].kind"),
    ("data.parts.0.quantity", "two", "data.parts[0].quantity"),
    ("data.customer.name", _DELETE, "data.customer.name"),
    ("data.site.timezone", "Mars/Olympus", "data.site.timezone"),
    ("data.job.closed_at", None, "data.job.closed_at"),  # required for job.closed
    ("data.expenses", [{"id": "X1", "description": "Parking", "amount": "12.345"}], "data.expenses[0].amount"),
    ("data.job.id", "J 1001; drop", "data.job.id"),
    ("data.job.colour", "red", "data.job.colour"),  # unknown fields are refused, not dropped
    ("id", "", "id"),
]


@pytest.mark.parametrize(("path", "value", "reported"), SCHEMA_CASES, ids=[c[0] for c in SCHEMA_CASES])
def test_schema_violations_are_422_naming_the_field(door: Door, path: str, value: Any, reported: str) -> None:
    evt = door.event(3)  # job J1004 has parts
    if path.startswith("data.parts") and not evt["data"]["parts"]:
        evt["data"]["parts"] = [{"id": "P1", "sku": "P-BELT-02", "quantity": "1", "unit_price": "24.99"}]
    answer = door.post(_break(evt, path, value))
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["error"] == "schema_violation"
    assert reported in [e["path"] for e in body["errors"]], body
    _nothing_stored(door)


def test_references_inside_the_snapshot_must_resolve(door: Door) -> None:
    evt = door.event(0)
    evt["data"]["time_entries"][0]["technician_id"] = "T99"
    answer = door.post(evt)
    assert answer.status_code == 422
    assert "data.time_entries[0].technician_id" in [e["path"] for e in answer.json()["errors"]]
    _nothing_stored(door)


def test_an_entry_id_owned_by_another_job_is_422_and_rolls_back(door: Door) -> None:
    assert door.post(door.event(0)).status_code == 202
    evt = door.event(1)
    evt["data"]["time_entries"][0]["id"] = door.event(0)["data"]["time_entries"][0]["id"]
    answer = door.post(evt)
    assert answer.status_code == 422 and answer.json()["error"] == "snapshot_rejected"
    assert "already belongs to job 'J1001'" in answer.json()["message"]
    assert [r.job_id for r in door.stored()] == ["J1001"]
    assert [j.id for j in door.jobs()] == ["J1001"]  # J1002's customer, site and job rolled back with it


def test_a_new_technician_without_rates_is_422(door: Door) -> None:
    evt = door.event(0)
    del evt["data"]["technicians"][0]["bill_rate"]
    answer = door.post(evt)
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["path"] == "data.technicians[0].bill_rate"
    _nothing_stored(door)


def test_body_over_one_mib_is_413(door: Door) -> None:
    evt = door.event(0)
    evt["data"]["notes"][0]["body"] = "x" * (1024 * 1024)
    answer = door.post(evt)
    assert answer.status_code == 413
    _nothing_stored(door)


def test_oversized_chunked_body_without_length_is_413(door: Door) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b"x" * 65536
    answer = door.client.post("/v1/events", content=chunks(), headers={"Content-Type": "application/json",
                                                                       signing.HEADER: "t=1,v1=0"})
    assert answer.status_code == 413
    _nothing_stored(door)


def test_the_openapi_document_describes_the_event_and_the_signature(door: Door) -> None:
    doc = door.client.get("/openapi.json").json()
    op = doc["paths"]["/v1/events"]["post"]
    assert op["parameters"][0]["name"] == "Fieldbridge-Signature"
    assert op["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/FieldEvent"}
    assert {"202", "200", "400", "401", "413", "415", "422"} <= set(op["responses"])
    assert "TimeEntryIn" in doc["components"]["schemas"]
    json.dumps(doc)  # serialisable as published


def test_the_ingress_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(ValueError, match="FIELDBRIDGE_INGRESS_SECRETS is not set"):
        create_app(FieldbridgeSettings(home=tmp_path, ingress_secrets=None), engine)
