"""The bulk path over the wire: the vendors' batch APIs, every ledger guarantee, each job visible and rerunnable."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import make_world
from tests.test_calls_per_job import _calls


@pytest.fixture(autouse=True)
def _roomy_quotas(monkeypatch: pytest.MonkeyPatch) -> None:
    """Quotas ten times the documented ones (sandbox and budget alike): the pacing is proven elsewhere, here it
    would only make the suite wait (Xero's 60 a minute)."""
    for system, limit in {"quickbooks": 5000, "xero": 600, "hubspot": 1900, "gusto": 2000, "bamboohr": 100}.items():
        monkeypatch.setenv(f"FIELDBRIDGE_{system.upper()}_RATE_LIMIT", str(limit))


def _clear(rt: Any) -> None:
    for connector in rt.connectors():
        connector.http.calls.clear()


def _seed(world: Any, system: str, collection: str, doc: dict[str, Any]) -> None:
    import httpx

    httpx.post(f"{world.sandboxes.url(system)}/_sandbox/seed/{collection}", json={"docs": [doc]}).raise_for_status()


def _assert_posted_once(world: Any, job_ids: list[str]) -> None:
    """What the sandboxes hold: every job's ticket resolved, each note and invoice once, each invoice sent once."""
    tickets = [t for t in world.state("hubspot", "tickets") if t["properties"].get("fieldbridge_job_id") in job_ids]
    assert sorted(t["properties"]["fieldbridge_job_id"] for t in tickets) == sorted(job_ids)
    assert all(t["properties"]["hs_pipeline_stage"] == "4" for t in tickets)
    note_keys = Counter(n["properties"]["fieldbridge_note_key"] for n in world.state("hubspot", "notes"))
    expected_notes = {f"fb-note-{n.id}" for n in world.company.notes if n.job_id in job_ids}
    assert set(note_keys) == expected_notes and set(note_keys.values()) == {1}, note_keys
    all_invoices = world.state("quickbooks", "Invoice")
    assert set(Counter(i["DocNumber"] for i in all_invoices).values()) == {1}
    mine = {i["Id"]: i["DocNumber"] for i in all_invoices if i["DocNumber"] in job_ids}
    assert sorted(mine.values()) == sorted(job_ids)
    sent = Counter(o["invoice"] for o in world.state("quickbooks", "outbox"))
    assert set(sent.values()) == {1} and set(mine) <= set(sent), sent


def test_bulk_writes_in_batches_and_leaves_what_job_closed_would(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 prefect_harness: None) -> None:
    from flows.bulk_job_closed import bulk_job_closed
    from flows.job_closed import job_closed
    from tasks.runtime import reset_runtime

    world = make_world(tmp_path, monkeypatch, jobs=32)
    try:
        rt = world.runtime
        jobs = [j.id for j in world.company.jobs]
        _clear(rt)
        state = bulk_job_closed(jobs, label="t1", return_state=True)
        assert state.is_completed(), state.message
        assert state.result()["posted"] == len(jobs)
        _assert_posted_once(world, jobs)
        crm, payroll, acc = _calls(rt.crm), _calls(rt.payroll), _calls(rt.accounting)
        # CRM: one batch update per 100 tickets, one batch create per 100 notes, nothing one by one
        assert crm == Counter({"POST /crm/v3/objects/tickets/batch/update": 1,
                               "POST /crm/v3/objects/notes/batch/create": 1}), crm
        # accounting: one /batch per 30 invoices (+ the customers and items created once), one send per invoice
        batches = sum(v for k, v in acc.items() if k.startswith("POST") and k.endswith("/batch"))
        sends = sum(v for k, v in acc.items() if k.startswith("POST") and k.endswith("/send"))
        assert sends == len(jobs), acc
        assert not [k for k in acc if k.startswith("POST") and k.endswith("/invoice")], acc
        assert batches == math.ceil(len(jobs) / 30), acc
        assert not [k for k in acc if k.startswith("GET")], acc
        # payroll: one write per technician-day, however many jobs share the day
        writes = sum(v for k, v in payroll.items() if not k.startswith("GET"))
        zone = ZoneInfo(world.settings.company_timezone)
        tech_days = {(e.technician_id, e.start.astimezone(zone).date()) for e in world.company.entries}
        assert writes <= len(tech_days) < len(jobs), (writes, len(tech_days), payroll)

        # the ledger holds exactly what the real-time path would: job-closed afterwards writes nothing
        _clear(rt)
        for job in jobs[:5]:
            assert job_closed(job, return_state=True).is_completed()
        assert sum(sum(_calls(c).values()) for c in rt.connectors()) == 0
        # and a second bulk run of the same jobs neither
        assert bulk_job_closed(jobs, label="t2", return_state=True).is_completed()
        assert sum(sum(_calls(c).values()) for c in rt.connectors()) == 0
        _assert_posted_once(world, jobs)
    finally:
        reset_runtime()
        world.sandboxes.stop()


def test_bulk_is_exactly_once_when_answers_are_lost_and_requests_fail(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefect_harness: None) -> None:
    """Every write's first answer dropped after the vendor committed it (a whole batch included), one request
    in five a 5xx: the batch items are left IN_FLIGHT, looked up one by one, adopted — nothing twice."""
    from flows.bulk_job_closed import bulk_job_closed
    from models.integration import EffectStatus
    from tasks.runtime import reset_runtime

    world = make_world(tmp_path, monkeypatch, jobs=24)
    try:
        jobs = [j.id for j in world.company.jobs]
        world.faults_all(drop_first_write=True, error_rate=0.2, seed=11)
        state = bulk_job_closed(jobs, label="faults", return_state=True)
        assert state.is_completed(), state.message
        world.faults_all(drop_first_write=False, error_rate=0.0)
        _assert_posted_once(world, jobs)
        rows = [e for j in jobs for e in world.runtime.ledger.for_job(j)]
        assert rows and {e.status for e in rows} == {EffectStatus.DONE}
    finally:
        reset_runtime()
        world.sandboxes.stop()


def test_one_bad_job_fails_alone_and_reruns_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 prefect_harness: None) -> None:
    """A job whose CRM ticket is gone (HubSpot's 207 names it) and one whose data fails the gate: the other jobs
    post; the batch ends Partial with a table naming both; after the fix `job-closed` posts the one job alone."""
    from sqlmodel import Session, select

    from flows.bulk_job_closed import bulk_job_closed
    from flows.job_closed import job_closed
    from models.canonical import TimeEntry
    from tasks.runtime import reset_runtime

    world = make_world(tmp_path, monkeypatch, jobs=12)
    try:
        jobs = [j.id for j in world.company.jobs]
        missing, bad = jobs[3], jobs[7]
        ticket = next(t for t in world.state("hubspot", "tickets") if t["properties"]["fieldbridge_job_id"] == missing)
        ticket["properties"]["fieldbridge_job_id"] = f"moved-{missing}"  # the case no longer names the job
        _seed(world, "hubspot", "tickets", ticket)
        with Session(world.runtime.engine) as s:  # impossible hours: the entry ends before it starts
            entry = s.exec(select(TimeEntry).where(TimeEntry.job_id == bad)).first()
            entry.end = entry.start - (entry.end - entry.start)
            s.add(entry)
            s.commit()
        state = bulk_job_closed(jobs, label="partial", return_state=True)
        assert state.is_failed() and state.name == "Partial", state
        outcome = state.result(raise_on_failure=False)
        by_job = {r["job"]: r for r in outcome["jobs"]}
        assert by_job[missing]["state"] == "failed" and "crm" in by_job[missing]["problem"]
        assert by_job[bad]["state"] == "quarantined"
        posted = [j for j in jobs if j not in (missing, bad)]
        assert all(by_job[j]["state"] == "posted" for j in posted)
        _assert_posted_once(world, posted)
        assert not [i for i in world.state("quickbooks", "Invoice") if i["DocNumber"].endswith(bad)]

        ticket["properties"]["fieldbridge_job_id"] = missing  # the CRM is fixed: the job posts alone
        _seed(world, "hubspot", "tickets", ticket)
        assert job_closed(missing, return_state=True).is_completed()
        _assert_posted_once(world, [*posted, missing])
    finally:
        reset_runtime()
        world.sandboxes.stop()


def test_salesforce_collections_and_vendors_without_batches_under_lost_answers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefect_harness: None) -> None:
    """Salesforce (sObject Collections), BambooHR and Xero (no batch API: one record at a time) with the custom
    webhook receivers: the same bulk run, every first write's answer lost, each record and event once."""
    from flows.bulk_job_closed import bulk_job_closed
    from tasks.runtime import reset_runtime
    from tests.test_combinations import _state, accounting_census, crm_census, link_profile, payroll_census

    for name, value in {"FIELDBRIDGE_CRM_SYSTEM": "salesforce", "FIELDBRIDGE_PAYROLL_SYSTEM": "bamboohr",
                        "FIELDBRIDGE_ACCOUNTING_SYSTEM": "xero", "FIELDBRIDGE_EVENTS_SYSTEM": "webhook",
                        "FIELDBRIDGE_WEBHOOK_SECRETS": "whsec_bulk", "FIELDBRIDGE_CRM_JOB_REPORTS": "true"}.items():
        monkeypatch.setenv(name, value)
    world = make_world(tmp_path, monkeypatch, jobs=8)
    try:
        jobs = [j.id for j in world.company.jobs]
        link_profile(world, "salesforce", jobs[0])  # one Case on an Account: its report is an activity there too
        world.faults_all(drop_first_write=True)
        state = bulk_job_closed(jobs, label="sf", return_state=True)
        assert state.is_completed(), state.message
        cases, notes = crm_census(world, "salesforce")
        assert cases == dict.fromkeys(jobs, True)
        reports = {f"fb-report-{j}" for j in jobs} | {f"activity:fb-report-{jobs[0]}"}
        assert set(notes.values()) == {1} and len(notes) == len(world.company.notes) + len(reports)
        assert reports <= set(notes)
        assert set(payroll_census(world, "bamboohr").values()) == {1}
        invoices, emails = accounting_census(world, "xero")
        assert invoices == dict.fromkeys(jobs, 1) and set(emails.values()) == {1} and len(emails) == len(jobs)
        events = Counter(e["type"] for e in _state(world, "webhook", "events"))
        assert events == {"case.resolved": len(jobs), "hours.logged": len(jobs), "invoice.created": len(jobs),
                          "job.closed": len(jobs)}
        assert sum(v for k, v in world.runtime.crm.http.calls.items() if "/composite/sobjects" in k) >= 2
    finally:
        reset_runtime()
        world.sandboxes.stop()
