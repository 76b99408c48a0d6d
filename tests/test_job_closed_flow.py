"""End to end over the wire: a closed job reaches HubSpot, Gusto and QuickBooks exactly once."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlmodel import Session, select

from flows.job_closed import job_closed

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _invoices(world) -> list[dict]:
    return world.state("quickbooks", "Invoice")


def test_closed_job_posts_to_all_three_systems(world) -> None:
    result = job_closed("J1001")
    ticket = next(t for t in world.state("hubspot", "tickets") if t["properties"]["fieldbridge_job_id"] == "J1001")
    assert ticket["properties"]["hs_pipeline_stage"] == "4"
    assert result["crm"]["ticket_id"] == ticket["id"]
    notes = world.state("hubspot", "notes")
    assert len(notes) == 1 and "Customer signed off" in notes[0]["properties"]["hs_note_body"]
    invoices = _invoices(world)
    assert [i["DocNumber"] for i in invoices] == ["J1001"]
    assert str(invoices[0]["TotalAmt"]) == result["accounting"]["total"] == result["accounting"]["expected_total"]
    sheets = world.state("gusto", "time_sheets")
    assert len(sheets) == 1 and sheets[0]["metadata"]["workday"] == "2026-11-24"


def test_running_twice_changes_nothing(world) -> None:
    job_closed("J1001")
    before = {c: world.state(s, c) for s, c in [("hubspot", "notes"), ("quickbooks", "Invoice"),
                                                ("gusto", "time_sheets")]}
    second = job_closed("J1001")
    after = {c: world.state(s, c) for s, c in [("hubspot", "notes"), ("quickbooks", "Invoice"),
                                               ("gusto", "time_sheets")]}
    assert before == after
    assert second["accounting"]["written"] is False
    assert [m["to"] for m in world.state("quickbooks", "outbox")] == ["customer001@mail.example"]  # sent once
    assert second["accounting"]["sent"].endswith("earlier")


def test_commit_then_drop_on_every_first_write_still_posts_once(world) -> None:
    world.faults_all(drop_first_write=True)
    job_closed("J1002")
    assert Counter(i["DocNumber"] for i in _invoices(world)) == {"J1002": 1}
    assert len(world.state("quickbooks", "outbox")) == 1  # the send's answer was lost too: not sent again
    assert len(world.state("hubspot", "notes")) == 1
    sheets = world.state("gusto", "time_sheets")
    assert Counter(s["metadata"]["fieldbridge_key"] for s in sheets) == {"T02:2026-11-24": 1}


def test_a_data_error_in_one_branch_is_not_retried_and_the_others_still_post(world) -> None:
    from datetime import timedelta

    import httpx

    from models.canonical import Job, JobStatus, TimeEntry

    with Session(world.runtime.engine) as s:  # a job whose CRM ticket does not exist, J1001's time a day later
        first = s.get(Job, "J1001")
        s.add(Job(id="J5001", customer_id=first.customer_id, site_id=first.site_id, status=JobStatus.CLOSED,
                  description="Walk-in repair", resolution="Fixed", closed_at=first.closed_at + timedelta(days=1)))
        s.flush()
        for e in list(s.exec(select(TimeEntry).where(TimeEntry.job_id == "J1001"))):
            s.add(TimeEntry(id=e.id + "-w", job_id="J5001", technician_id=e.technician_id, kind=e.kind,
                            start=e.start + timedelta(days=1), end=e.end + timedelta(days=1), commute=e.commute))
        s.commit()
    before = httpx.get(f"{world.sandboxes.url('hubspot')}/_sandbox/stats").json()["requests"]
    with pytest.raises(Exception, match="no HubSpot ticket has fieldbridge_job_id=J5001"):
        job_closed("J5001")
    after = httpx.get(f"{world.sandboxes.url('hubspot')}/_sandbox/stats").json()["requests"]
    assert after - before == 1  # one PATCH, answered 404: not retried by the client nor by Prefect
    assert [i["DocNumber"] for i in world.state("quickbooks", "Invoice")] == ["J5001"]
    assert len(world.state("gusto", "time_sheets")) == 1
