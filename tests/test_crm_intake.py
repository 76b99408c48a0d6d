"""CRM intake over the wire (HubSpot's sandbox): tickets of the intake pipeline become jobs with their
customer and site, once; edits update the job; a ticket closed before the visit cancels it; a crash
mid-poll resumes with no gap and no duplicate."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlmodel import Session, select

from models.canonical import Customer, Job, Site
from models.intake import CrmCase
from models.schedule import Visit
from tasks.dispatch import DispatchRefused, assign
from tests.conftest import World, make_world

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _api(world: World, method: str, path: str, **kw: Any) -> dict[str, Any]:
    from connectors.registry import get_plugin

    token = get_plugin("hubspot").load_settings().token.get_secret_value()
    answer = httpx.request(method, f"{world.sandboxes.url('hubspot')}{path}",
                           headers={"Authorization": f"Bearer {token}"}, timeout=20, **kw)
    answer.raise_for_status()
    return answer.json() if answer.content else {}


def _contact(world: World, n: int, address: bool = True) -> str:
    props = {"email": f"owner{n}@home.example", "firstname": "Dana", "lastname": f"Okafor{n}", "phone": "415-555-0100"}
    if address:
        props |= {"address": f"{n} Harbor Rd", "city": "Sausalito", "state": "CA", "zip": "94965"}
    return str(_api(world, "POST", "/crm/v3/objects/contacts", json={"properties": props})["id"])


def _ticket(world: World, subject: str, contact: str | None = None) -> str:
    ticket = str(_api(world, "POST", "/crm/v3/objects/tickets", json={"properties": {
        "subject": subject, "content": "Customer reports no hot water", "hs_pipeline": "0",
        "hs_pipeline_stage": "1"}})["id"])
    if contact is not None:
        _api(world, "PUT", f"/crm/v4/objects/tickets/{ticket}/associations/default/contacts/{contact}")
    return ticket


def _props(world: World, ticket: str) -> dict[str, Any]:
    return _api(world, "GET", f"/crm/v3/objects/tickets/{ticket}",
                params={"properties": "fieldbridge_job_id,subject"})["properties"]


def test_cases_become_jobs_once_updates_follow_and_a_closed_case_cancels_its_job(world: World) -> None:
    from flows.crm_intake import crm_intake

    engine = world.runtime.engine
    who = _contact(world, 1)
    boiler = _ticket(world, "Boiler service", who)
    no_contact = _ticket(world, "Call back")
    no_address = _ticket(world, "Leak", _contact(world, 2, address=False))

    first = crm_intake()
    job_id = f"CRM-{boiler}"
    assert first["created"] == [job_id] and first["linked"] == [job_id]
    assert dict(first["skipped"]) == {no_contact: "the case has no contact: no customer to visit yet",
                                      no_address: "contact " + first["skipped"][1][1].split()[1]
                                      + " (Dana Okafor2) has no address to visit"}
    with Session(engine) as s:
        job = s.get(Job, job_id)
        customer, site = s.get(Customer, job.customer_id), s.get(Site, job.site_id)
    assert job.description == "Boiler service — Customer reports no hot water"
    assert (customer.name, customer.email) == ("Dana Okafor1", "owner1@home.example")
    assert (site.line1, site.city, site.postal_code) == ("1 Harbor Rd", "Sausalito", "94965")
    assert _props(world, boiler)["fieldbridge_job_id"] == job_id  # the close path finds the case by it
    assert {t["properties"].get("fieldbridge_job_id") for t in world.state("hubspot", "tickets")} >= {"J1001"}

    again = crm_intake()  # the same cases read again (and the stamped ticket, changed by the stamp)
    assert again["created"] == [] and again["linked"] == [] and again["cancelled"] == []
    with Session(engine) as s:
        assert len(s.exec(select(CrmCase)).all()) == 1 and len(s.exec(select(Customer).where(
            Customer.email == "owner1@home.example")).all()) == 1

    _api(world, "PATCH", f"/crm/v3/objects/tickets/{boiler}", json={"properties": {"subject": "Boiler service (2)"}})
    assert crm_intake()["updated"] == [job_id]

    la = ZoneInfo("America/Los_Angeles")
    assign(engine, job_id, "T01", datetime(2026, 12, 8, 9, tzinfo=la), datetime(2026, 12, 8, 10, tzinfo=la),
           workday_hours=world.runtime.settings.workday_hours)
    _api(world, "PATCH", f"/crm/v3/objects/tickets/{boiler}", json={"properties": {"hs_pipeline_stage": "4"}})
    assert crm_intake()["cancelled"] == [job_id]
    with Session(engine) as s:
        assert s.get(Visit, f"{job_id}:T01").status.value == "cancelled"
    with pytest.raises(DispatchRefused, match="cancelled in the CRM"):
        assign(engine, job_id, "T01", datetime(2026, 12, 9, 9, tzinfo=la), datetime(2026, 12, 9, 10, tzinfo=la),
               workday_hours=world.runtime.settings.workday_hours)


def test_a_crash_mid_poll_resumes_with_no_gap_and_no_duplicate(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from flows import crm_intake as intake_flow

    who = _contact(world, 3)
    tickets = [_ticket(world, f"Visit {n}", who) for n in range(5)]
    world.runtime.crm.search_page = 2  # four pages (the demo's own three tickets come first)
    real, calls = intake_flow.apply_page, []

    def crash_on_second_page(*args: Any, **kw: Any) -> Any:
        calls.append(1)
        if len(calls) == 3:
            raise ConnectionError("the worker lost its database mid-poll")
        return real(*args, **kw)

    monkeypatch.setattr(intake_flow, "apply_page", crash_on_second_page)
    state = intake_flow.crm_intake(return_state=True)
    assert state.is_failed()
    with Session(world.runtime.engine) as s:
        before = len(s.exec(select(CrmCase)).all())
    assert 0 < before < len(tickets)  # the pages before the crash, with their cursor

    monkeypatch.setattr(intake_flow, "apply_page", real)
    resumed = intake_flow.crm_intake()
    with Session(world.runtime.engine) as s:
        made = sorted(c.case_id for c in s.exec(select(CrmCase)))
    assert made == sorted(tickets) and len(resumed["created"]) == len(tickets) - before
    assert all(_props(world, t)["fieldbridge_job_id"] == f"CRM-{t}" for t in tickets)


@pytest.fixture
def hooked(world: World, monkeypatch: pytest.MonkeyPatch) -> Any:
    from deployments.serve import start_service
    from models.settings import FieldbridgeSettings
    from tests.test_ingress_runs import SECRET, _clear_scheduled_runs

    monkeypatch.setenv("FIELDBRIDGE_INGRESS_SECRETS", SECRET)
    monkeypatch.setenv("FIELDBRIDGE_HUBSPOT_CLIENT_SECRET", "hs-app-secret")
    _clear_scheduled_runs()
    service = start_service(FieldbridgeSettings(), ingress_port=0)
    yield service
    service.stop()


def wait_for_webhook_run(engine: Any, webhook_id: int, timeout: float = 60) -> str:
    """The run the ingress started for a stored vendor webhook (it is started just after the answer)."""
    import time

    from models.webhook_inbox import VendorWebhook

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with Session(engine) as s:
            row = s.get(VendorWebhook, webhook_id)
            if row is not None and row.flow_run_id:
                return row.flow_run_id
        time.sleep(0.2)
    raise AssertionError(f"no run was started for webhook {webhook_id}")


def test_a_signed_hubspot_webhook_starts_intake_and_a_bad_or_stale_one_is_refused(world: World, hooked: Any) -> None:
    import json
    import time

    from connectors.hubspot.webhooks import signature
    from flows.starter import wait_for_runs

    ticket = _ticket(world, "Furnace won't start", _contact(world, 4))
    url = f"{hooked.ingress_url.rstrip('/')}/webhooks/hubspot"
    body = json.dumps([{"eventId": 101, "subscriptionId": 7, "portalId": 62515, "occurredAt": int(time.time() * 1000),
                        "subscriptionType": "ticket.creation", "attemptNumber": 0, "objectId": int(ticket)}]).encode()

    def deliver(stamp_ms: int, secret: str = "hs-app-secret", **headers: str) -> httpx.Response:
        signed = {"X-HubSpot-Signature-v3": signature(secret, "POST", url, body, str(stamp_ms)),
                  "X-HubSpot-Request-Timestamp": str(stamp_ms), "Content-Type": "application/json", **headers}
        return httpx.post(url, content=body, headers={k: v for k, v in signed.items() if v}, timeout=30)

    now_ms = int(time.time() * 1000)
    assert deliver(now_ms, secret="someone-else").status_code == 401
    stale = deliver(now_ms - 6 * 60 * 1000)
    assert stale.status_code == 401 and "refused as a replay" in stale.json()["message"]
    assert deliver(now_ms, **{"X-HubSpot-Signature-v3": ""}).status_code == 401
    assert httpx.post(f"{hooked.ingress_url.rstrip('/')}/webhooks/gusto", content=body).status_code == 404
    with Session(world.runtime.engine) as s:
        assert s.exec(select(CrmCase)).all() == []  # nothing refused started anything

    good = deliver(now_ms)
    assert good.status_code == 202, good.text  # stored, acknowledged; the run is started after the answer
    again = deliver(now_ms)  # HubSpot's redelivery: the same stored delivery, no second run
    assert again.status_code == 200 and again.json()["duplicate"], again.text
    assert again.json()["webhook_id"] == good.json()["webhook_id"]
    run_id = wait_for_webhook_run(world.runtime.engine, good.json()["webhook_id"])
    state = wait_for_runs([run_id], timeout=120, poll=0.3)[run_id]
    assert state is not None and state.name == "Completed", state
    with Session(world.runtime.engine) as s:
        assert s.get(Job, f"CRM-{ticket}") is not None


def test_the_evening_brief_tells_the_technician_about_the_customer(world: World) -> None:
    from typer.testing import CliRunner

    from deployments.cli import app
    from flows.crm_intake import crm_intake
    from flows.customer_context import customer_context

    engine = world.runtime.engine
    who = _contact(world, 5)
    _api(world, "PATCH", f"/crm/v3/objects/contacts/{who}",
         json={"properties": {"fieldbridge_preferences": "Call 30 min ahead; dog in the yard"}})
    company = str(_api(world, "POST", "/crm/v3/objects/companies", json={"properties": {
        "name": "Okafor Holdings", "fieldbridge_service_level": "Gold (4 h response)",
        "fieldbridge_contract": "Annual maintenance 2026"}})["id"])
    _api(world, "PUT", f"/crm/v4/objects/contacts/{who}/associations/default/companies/{company}")
    old = _ticket(world, "Thermostat replaced", who)
    _api(world, "PATCH", f"/crm/v3/objects/tickets/{old}", json={"properties": {"hs_pipeline_stage": "4"}})
    leak = _ticket(world, "Leak under the sink", who)
    crm_intake()
    la = ZoneInfo("America/Los_Angeles")
    assign(engine, f"CRM-{leak}", "T02", datetime(2026, 12, 8, 13, tzinfo=la), datetime(2026, 12, 8, 15, tzinfo=la),
           workday_hours=world.runtime.settings.workday_hours)
    with Session(engine) as s:  # a job the field-service system made, at the site of the demo's J1001
        template = s.get(Job, "J1001")
        s.add(Job(id="S9", customer_id=template.customer_id, site_id=template.site_id, description="Follow-up"))
        s.commit()
    assign(engine, "S9", "T02", datetime(2026, 12, 8, 9, tzinfo=la), datetime(2026, 12, 8, 10, tzinfo=la),
           workday_hours=world.runtime.settings.workday_hours)

    result = customer_context(day="2026-12-08")
    assert result == {"day": "2026-12-08", "visits": 2, "technicians": ["T02"], "with_crm_context": 1}
    printed = CliRunner().invoke(app, ["brief", "T02", "--date", "2026-12-08"])
    assert printed.exit_code == 0, printed.output
    first, second = printed.output.split("\n\n## ")
    assert first.startswith("## 09:00–10:00 · job S9") and "no hubspot record for this customer" in first
    notes = [n.body for n in world.company.notes if n.job_id == "J1001"]
    assert notes and f"job J1001: {notes[0]}" in first  # what the last technician at this site wrote
    assert second.startswith(f"13:00–15:00 · job CRM-{leak} · Dana Okafor5")
    assert "**Preferences:** Call 30 min ahead; dog in the yard" in second
    assert "**Contract:** Annual maintenance 2026 · service level Gold (4 h response) (Okafor Holdings)" in second
    assert f"**Open issues (1):** Leak under the sink (case {leak})" in second
    assert "Thermostat replaced (closed)" in second
    assert CliRunner().invoke(app, ["brief", "T03", "--date", "2026-12-08"]).exit_code == 2


def test_salesforce_cases_become_jobs_and_the_brief_reads_the_contact_account_and_cases(
        tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Salesforce as the CRM: a Case flagged for a visit becomes a job (polled), and the evening brief reads the
    Contact's preferences, its Account's contract and service level, and its Cases — over the wire."""
    from typer.testing import CliRunner

    from deployments.cli import app
    from flows.crm_intake import crm_intake
    from flows.customer_context import customer_context
    from tasks.runtime import reset_runtime

    monkeypatch.setenv("FIELDBRIDGE_CRM_SYSTEM", "salesforce")
    world = make_world(tmp_path, monkeypatch)
    try:
        sf = world.runtime.crm

        def create(sobject: str, **fields: Any) -> str:
            return str(sf.http.request("POST", sf._api(f"/sobjects/{sobject}"), json=fields)[1]["id"])

        account = create("Account", Name="Okafor Holdings", FSM_Service_Level__c="Gold (4 h response)",
                         FSM_Contract__c="Annual maintenance 2026")
        who = create("Contact", FirstName="Dana", LastName="Okafor", Email="dana@home.example", AccountId=account,
                     FSM_Preferences__c="Call 30 min ahead; dog in the yard", MailingStreet="5 Harbor Rd",
                     MailingCity="Sausalito", MailingState="CA", MailingPostalCode="94965")
        create("Case", Subject="Thermostat replaced", ContactId=who, Status="Closed")
        leak = create("Case", Subject="Leak under the sink", Description="Water on the floor", ContactId=who,
                      FSM_Needs_Visit__c=True)

        assert crm_intake()["created"] == [f"CRM-{leak}"]
        la = ZoneInfo("America/Los_Angeles")
        assign(world.runtime.engine, f"CRM-{leak}", "T02", datetime(2026, 12, 8, 13, tzinfo=la),
               datetime(2026, 12, 8, 15, tzinfo=la), workday_hours=world.runtime.settings.workday_hours)
        result = customer_context(day="2026-12-08")
        assert result["visits"] == 1 and result["with_crm_context"] == 1
        printed = CliRunner().invoke(app, ["brief", "T02", "--date", "2026-12-08"])
        assert printed.exit_code == 0, printed.output
        assert f"job CRM-{leak} · Dana Okafor" in printed.output
        assert "**Preferences:** Call 30 min ahead; dog in the yard" in printed.output
        assert "**Contract:** Annual maintenance 2026 · service level Gold (4 h response) (Okafor Holdings)" \
            in printed.output
        assert f"**Open issues (1):** Leak under the sink (case {leak})" in printed.output
        assert "Thermostat replaced (closed)" in printed.output
    finally:
        reset_runtime()
        world.sandboxes.stop()
