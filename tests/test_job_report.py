"""The job report on the customer's CRM profile: filed once with the case and on the customer's own records,
updated in place when the job is edited — over the wire against the HubSpot and Salesforce sandboxes, in the
real-time and the bulk path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from flows.job_closed import job_closed
from tests.conftest import World, make_world
from tests.test_combinations import link_profile

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crm: str = "hubspot", jobs: int = 3) -> World:
    monkeypatch.setenv("FIELDBRIDGE_CRM_SYSTEM", crm)
    monkeypatch.setenv("FIELDBRIDGE_CRM_JOB_REPORTS", "true")
    return make_world(tmp_path, monkeypatch, jobs=jobs)


@pytest.fixture
def reporting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    from tasks.runtime import reset_runtime

    worlds: list[World] = []

    def make(crm: str = "hubspot", jobs: int = 3) -> World:
        worlds.append(_world(tmp_path, monkeypatch, crm, jobs))
        return worlds[-1]

    yield make
    reset_runtime()
    for w in worlds:
        w.sandboxes.stop()


def _reports(world: World) -> dict[str, dict[str, Any]]:
    return {n["properties"]["fieldbridge_note_key"]: n for n in world.state("hubspot", "notes")
            if n["properties"]["fieldbridge_note_key"].startswith("fb-report-")}


def _linked(note: dict[str, Any], kind: str) -> set[str]:
    return {a["to_id"] for a in note.get("associations", []) if a["to_type"] == kind}


def _set_resolution(world: World, job_id: str, text: str) -> None:
    """The job edited after it was posted (its resolution rewritten in the field-service system)."""
    from models.canonical import Job

    with Session(world.runtime.engine) as s:
        job = s.get(Job, job_id)
        job.resolution = text
        s.add(job)
        s.commit()


def _profile_ids(world: World, job_id: str) -> tuple[str, set[str], set[str]]:
    """The ticket of the job and the contacts and companies it is associated to."""
    [ticket] = [t for t in world.state("hubspot", "tickets") if t["properties"]["fieldbridge_job_id"] == job_id]
    return ticket["id"], _linked(ticket, "contacts"), _linked(ticket, "companies")


def test_the_report_is_on_the_ticket_the_contact_and_the_company_once_and_edits_update_it(reporting) -> None:
    from models.canonical import Job, Note, PartUsage, TimeEntry

    world = reporting()
    link_profile(world, "hubspot", "J1001")
    ticket, contacts, companies = _profile_ids(world, "J1001")
    assert len(contacts) == 1 and len(companies) == 1
    world.faults("hubspot", drop_first_write=True)  # the report's create commits, then its answer is lost

    first = job_closed("J1001")
    [(key, report)] = _reports(world).items()
    assert key == "fb-report-J1001" and first["crm"]["report_id"] == report["id"]
    assert _linked(report, "tickets") == {ticket}
    assert _linked(report, "contacts") == contacts and _linked(report, "companies") == companies
    body = report["properties"]["hs_note_body"]
    with Session(world.runtime.engine) as s:
        job = s.get(Job, "J1001")
        notes = s.exec(select(Note).where(Note.job_id == "J1001")).all()
        parts = s.exec(select(PartUsage).where(PartUsage.job_id == "J1001")).all()
        assert s.exec(select(TimeEntry).where(TimeEntry.job_id == "J1001")).first() is not None
    assert body.startswith("Job report J1001") and (job.resolution or job.description) in body
    assert "Time on site:" in body and all(n.body in body for n in notes) and all(p.sku in body for p in parts)

    job_closed("J1001")  # a rerun: nothing new
    assert _reports(world) == {key: report}

    _set_resolution(world, "J1001", "Replaced the valve; the customer will watch the pressure for a week.")
    job_closed("J1001")
    [(key_after, edited)] = _reports(world).items()
    assert (key_after, edited["id"]) == (key, report["id"])  # the same note, rewritten
    assert "watch the pressure for a week" in edited["properties"]["hs_note_body"]
    assert _linked(edited, "contacts") == contacts and _linked(edited, "companies") == companies


def test_a_case_without_a_profile_still_gets_its_report_on_the_ticket(reporting) -> None:
    world = reporting()
    job_closed("J1002")
    [report] = _reports(world).values()
    assert _linked(report, "tickets") == {_profile_ids(world, "J1002")[0]}
    assert not _linked(report, "contacts") and not _linked(report, "companies")


def test_reports_turned_off_file_nothing(reporting, monkeypatch: pytest.MonkeyPatch) -> None:
    from tasks.runtime import reset_runtime

    world = reporting()
    monkeypatch.setenv("FIELDBRIDGE_CRM_JOB_REPORTS", "false")
    reset_runtime()
    result = job_closed("J1001")
    assert "report_id" not in result["crm"] and _reports(world) == {}


def test_bulk_files_reports_in_batches_on_each_profile_once(reporting) -> None:
    from flows.bulk_job_closed import bulk_job_closed

    world = reporting(jobs=4)
    jobs = [j.id for j in world.company.jobs]
    for job_id in jobs[:3]:
        link_profile(world, "hubspot", job_id)
    profiles = {j: _profile_ids(world, j) for j in jobs}
    before = dict(world.runtime.crm.http.calls)
    state = bulk_job_closed(jobs, label="reports", return_state=True)
    assert state.is_completed(), state.message
    reports = _reports(world)
    assert set(reports) == {f"fb-report-{j}" for j in jobs}
    for job_id, (ticket, contacts, companies) in profiles.items():
        note = reports[f"fb-report-{job_id}"]
        assert (_linked(note, "tickets"), _linked(note, "contacts"), _linked(note, "companies")) == \
            ({ticket}, contacts, companies)
    calls = {k: v - before.get(k, 0) for k, v in world.runtime.crm.http.calls.items()}
    # one batch create for the technicians' notes, one for the reports
    assert calls["POST /crm/v3/objects/notes/batch/create"] == 2
    assert calls["POST /crm/v4/associations/tickets/contacts/batch/read"] == 1
    assert not any(k.startswith("GET /crm/v3/objects/tickets/") and n for k, n in calls.items())  # none per ticket

    again = bulk_job_closed(jobs, label="reports-again", return_state=True)
    assert again.is_completed() and _reports(world) == reports


def test_salesforce_files_a_case_comment_and_an_account_activity_and_edits_both(reporting) -> None:
    world = reporting("salesforce")
    link_profile(world, "salesforce", "J1001")
    world.faults("salesforce", drop_first_write=True)
    job_closed("J1001")
    job_closed("J1001")
    [case] = [c for c in world.state("salesforce", "Case") if c["FSM_Job_Id__c"] == "J1001"]
    comments = [c for c in world.state("salesforce", "CaseComment") if "fb-report-J1001" in c["CommentBody"]]
    [task] = world.state("salesforce", "Task")
    assert len(comments) == 1 and comments[0]["ParentId"] == case["Id"]
    assert task["WhatId"] == case["AccountId"] and task["Status"] == "Completed" and task["IsClosed"] is True
    assert task["Subject"] == "Job report J1001 [fb-report-J1001]" and "Work done:" in task["Description"]

    _set_resolution(world, "J1001", "Second visit booked for the filter.")
    job_closed("J1001")
    comments_after = [c for c in world.state("salesforce", "CaseComment") if "fb-report-J1001" in c["CommentBody"]]
    [task_after] = world.state("salesforce", "Task")
    assert [c["Id"] for c in comments_after] == [comments[0]["Id"]] and task_after["Id"] == task["Id"]
    assert "Second visit booked" in comments_after[0]["CommentBody"]
    assert "Second visit booked" in task_after["Description"]
