"""`job_closed` runs unchanged for every combination of CRM × payroll × accounting (plus signed webhooks
out), exactly once under commit-then-drop on every first write, and a rerun adds nothing."""

from __future__ import annotations

from collections import Counter
from itertools import product
from typing import Any

import httpx
import pytest

from flows.job_closed import job_closed
from tests.conftest import make_world

pytestmark = pytest.mark.usefixtures("prefect_harness")

COMBOS = list(product(("hubspot", "salesforce"), ("gusto", "bamboohr"), ("quickbooks", "xero")))


def _state(world: Any, system: str, collection: str) -> list[dict[str, Any]]:
    return httpx.get(f"{world.sandboxes.url(system)}/_sandbox/state/{collection}", timeout=20).json()["results"]


def crm_census(world: Any, crm: str) -> tuple[dict[str, bool], Counter]:
    """job id → case resolved?, and how many records hold each note and job report (by key); on Salesforce a
    report is a Case comment plus an activity on the Account (counted under the key with an `activity:` prefix)."""
    if crm == "hubspot":
        cases = {t["properties"]["fieldbridge_job_id"]: t["properties"]["hs_pipeline_stage"] == "4"
                 for t in _state(world, crm, "tickets")}
        notes = Counter(n["properties"]["fieldbridge_note_key"] for n in _state(world, crm, "notes"))
        return cases, notes
    cases = {c["FSM_Job_Id__c"]: c["IsClosed"] for c in _state(world, crm, "Case")}
    notes = Counter(c["CommentBody"].rsplit("— fieldbridge note ", 1)[1] for c in _state(world, crm, "CaseComment"))
    notes.update(f"activity:{t['Subject'].rsplit('[', 1)[1].rstrip(']')}" for t in _state(world, crm, "Task"))
    return cases, notes


def link_profile(world: Any, crm: str, job_id: str) -> None:
    """Put the job's case on a customer profile at the CRM, as the CRM's users keep it: HubSpot — a contact and a
    company associated to the ticket; Salesforce — an Account on the Case."""
    client = world.runtime.crm  # the connector's own authenticated HTTP client, as an admin script would use
    if crm == "hubspot":
        ticket = client.find_case(job_id).id
        for kind, props in (("contacts", {"email": f"{job_id.lower()}@customer.example", "firstname": "Pat"}),
                            ("companies", {"name": f"Customer of {job_id}"})):
            _, made = client.http.request("POST", f"/crm/v3/objects/{kind}", json={"properties": props})
            client.http.request("PUT", f"/crm/v4/objects/tickets/{ticket}/associations/default/{kind}/{made['id']}",
                                idempotent=True)
        return
    case = client.find_case(job_id)
    _, made = client.http.request("POST", client._api("/sobjects/Account"), json={"Name": f"Customer {job_id}"})
    client.http.request("PATCH", client._api(f"/sobjects/Case/{case.id}"), json={"AccountId": made["id"]},
                        idempotent=True)


def payroll_census(world: Any, payroll: str) -> Counter:
    """How many records hold each (technician-day, pay class) — must be 1 each."""
    if payroll == "gusto":
        return Counter((s["metadata"]["fieldbridge_key"], e["pay_classification"])
                       for s in _state(world, payroll, "time_sheets") for e in s["entries"])
    return Counter(e["note"].rsplit("[fieldbridge ", 1)[1].rstrip("]") for e in _state(world, payroll, "hour_entries"))


def accounting_census(world: Any, accounting: str) -> tuple[Counter, Counter]:
    """Invoices per job, and emails per invoice."""
    if accounting == "quickbooks":
        invoices = Counter(i["DocNumber"] for i in _state(world, accounting, "Invoice"))
    else:
        invoices = Counter(i["InvoiceNumber"] for i in _state(world, accounting, "Invoices"))
    emails = Counter(m["invoice"] for m in _state(world, accounting, "outbox"))
    return invoices, emails


@pytest.mark.parametrize(("crm", "payroll", "accounting"), COMBOS, ids=["-".join(c) for c in COMBOS])
def test_every_combination_posts_each_record_once(crm: str, payroll: str, accounting: str, tmp_path,
                                                  monkeypatch) -> None:
    from tasks.runtime import reset_runtime

    monkeypatch.setenv("FIELDBRIDGE_CRM_SYSTEM", crm)
    monkeypatch.setenv("FIELDBRIDGE_PAYROLL_SYSTEM", payroll)
    monkeypatch.setenv("FIELDBRIDGE_ACCOUNTING_SYSTEM", accounting)
    monkeypatch.setenv("FIELDBRIDGE_EVENTS_SYSTEM", "webhook")
    monkeypatch.setenv("FIELDBRIDGE_WEBHOOK_SECRETS", "whsec_combo")
    monkeypatch.setenv("FIELDBRIDGE_CRM_JOB_REPORTS", "true")
    world = make_world(tmp_path, monkeypatch, jobs=1)
    try:
        link_profile(world, crm, "J1001")
        world.faults_all(drop_first_write=True)  # every first write commits, then its answer is lost
        first = job_closed("J1001")
        again = job_closed("J1001")

        assert (first["crm"]["system"], first["payroll"]["system"], first["accounting"]["system"]) == \
            (crm, payroll, accounting)
        cases, notes = crm_census(world, crm)
        assert cases == {"J1001": True}
        # the technician's note and the job report, once each (on Salesforce the report's Account activity too)
        reports = {"fb-report-J1001"} | ({"activity:fb-report-J1001"} if crm == "salesforce" else set())
        assert set(notes.values()) == {1} and set(notes) - {k for k in notes if "note-" in k} == reports
        assert len(notes) == 1 + len(reports)
        sheets = payroll_census(world, payroll)
        assert sheets and set(sheets.values()) == {1}
        invoices, emails = accounting_census(world, accounting)
        assert invoices == {"J1001": 1}
        assert len(emails) == 1 and set(emails.values()) == {1}  # emailed once
        events = _state(world, "webhook", "events")
        assert Counter(e["type"] for e in events) == {"case.resolved": 1, "hours.logged": 1, "invoice.created": 1,
                                                      "job.closed": 1}
        assert {e["deliveries"] for e in events} <= {1, 2}  # a lost answer's retry carries the same id
        assert again["accounting"]["written"] is False and again["accounting"]["total"] == \
            first["accounting"]["total"]
        assert all(not d["written"] for d in again["events"]["delivered"])  # nothing new to tell
    finally:
        reset_runtime()
        world.sandboxes.stop()
