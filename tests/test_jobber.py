"""Jobber as the field-service source, over the wire against its sandbox: signed webhooks stored before they are
acknowledged, GraphQL reads under the query-cost budget, unmappable records quarantined by name, and the whole
chain — a job closed in Jobber to the CRM, payroll and accounting sandboxes — exactly once, edits converging."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session, func, select

from connectors.jobber import webhooks
from tests.conftest import World, make_world

pytestmark = pytest.mark.usefixtures("prefect_harness")

SECRET = "sandbox-jobber-secret"  # JobberSettings' default client secret: the sandbox signs with it


@pytest.fixture
def jw(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A world whose field-service system is Jobber, with the company's technicians mapped by email."""
    from tasks.runtime import get_runtime, reset_runtime

    monkeypatch.setenv("FIELDBRIDGE_FIELD_SERVICE_SYSTEM", "jobber")
    monkeypatch.setenv("FIELDBRIDGE_JOBBER_PAGE_SIZE", "2")  # every connection below has more than one page
    w = make_world(tmp_path, monkeypatch, jobs=1)
    links = {t.email: {"id": t.id, "payroll_id": t.payroll_id} for t in w.company.technicians}
    monkeypatch.setenv("FIELDBRIDGE_JOBBER_TECHNICIANS", json.dumps(links))
    reset_runtime()
    w.runtime = get_runtime()
    yield w
    reset_runtime()
    w.sandboxes.stop()


def admin(w: World, path: str, payload: dict[str, Any] | None = None) -> Any:
    url = f"{w.sandboxes.url('jobber')}{path}"
    resp = httpx.post(url, json=payload, timeout=30) if payload is not None else httpx.get(url, timeout=30)
    assert resp.status_code < 300, resp.text
    return resp.json()


def seed_job(w: World, number: int = 5001, *, extra_user: bool = False, unknown_product: bool = False) -> dict:
    """A job worked in Jobber: 3 visits, 3 time sheet entries, 3 product lines and a service line, 1 expense,
    3 notes — more than one page of each (page size 2)."""
    techs = w.company.technicians[:2]
    users = [{"first": t.name.split()[0], "last": t.name.split()[-1], "email": t.email} for t in techs]
    if extra_user:
        users.append({"first": "Temp", "last": "Helper", "email": "temp@agency.example"})
    admin(w, "/_sandbox/users", {"users": users})
    book = w.company.price_book
    products = [{"name": book[i].name, "category": "PRODUCT", "unitPrice": str(book[i].unit_price)} for i in range(3)]
    products.append({"name": "Mystery valve", "category": "PRODUCT", "unitPrice": "10"})
    admin(w, "/_sandbox/products", {"products": products})
    day = "2026-10-06"  # a day the company has no other work
    a, b = techs[0].email, techs[1].email
    entries = [{"userEmail": a, "startAt": f"{day}T16:00:00Z", "endAt": f"{day}T16:30:00Z", "label": "Driving"},
               {"userEmail": a, "startAt": f"{day}T16:30:00Z", "endAt": f"{day}T18:00:00Z"},
               {"userEmail": b, "startAt": f"{day}T16:30:00Z", "endAt": f"{day}T17:30:00Z"}]
    if extra_user:
        entries.append({"userEmail": "temp@agency.example", "startAt": f"{day}T17:00:00Z",
                        "endAt": f"{day}T17:45:00Z"})
    lines = [{"name": book[i].name, "quantity": "1", "unitPrice": str(book[i].unit_price), "product": book[i].name,
              "category": "PRODUCT"} for i in range(3)]
    lines.append({"name": "Labour", "quantity": "2", "unitPrice": "95", "category": "SERVICE", "product": None})
    if unknown_product:
        lines.append({"name": "Mystery valve", "quantity": "1", "unitPrice": "10", "product": "Mystery valve",
                      "category": "PRODUCT"})
    doc = {"jobNumber": number, "title": "Dishwasher leaking under the door",
           "client": {"firstName": "Dana", "lastName": "Whitfield", "email": "dana@example.com",
                      "phone": "415-555-0101", "billingAddress": {"street1": "12 Elm St", "city": "Oakland",
                                                                  "province": "CA", "postalCode": "94610",
                                                                  "country": "US"}},
           "property": {"address": {"street1": "12 Elm St", "city": "Oakland", "province": "CA",
                                    "postalCode": "94610", "country": "US"}},
           "visits": [{"title": f"Visit {n}", "startAt": f"{day}T16:00:00Z", "endAt": f"{day}T18:00:00Z",
                       "assignedUserEmails": [a, b]} for n in range(3)],
           "timeSheetEntries": entries, "lineItems": lines,
           "expenses": [{"title": "Parking", "total": "12.00", "date": f"{day}T17:00:00Z", "userEmail": a}],
           "notes": [{"message": f"Note {n}: replaced the door gasket", "userEmail": a,
                      "createdAt": f"{day}T17:5{n}:00Z"} for n in range(3)]}
    return admin(w, "/_sandbox/jobs", doc)


def close(w: World, job: dict) -> None:
    admin(w, f"/_sandbox/jobs/{job['id']}/close", {"completedAt": "2026-10-06T18:30:00Z"})


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Jobber-Hmac-SHA256": webhooks.signature(secret, body)}


def hook_body(topic: str, item: str) -> bytes:
    return json.dumps({"data": {"webHookEvent": {"topic": topic, "appId": "sandbox-jobber-client",
                                                 "accountId": "Z2lkOi8vSm9iYmVyL0FjY291bnQvMQ==", "itemId": item,
                                                 "occurredAt": "2026-11-24T18:30:00Z"}}}).encode()


# --- the ingress: verify, store, acknowledge ---------------------------------------------------------------


def test_without_a_client_secret_every_webhook_is_refused() -> None:
    from connectors.contract import WebhookRefused
    from connectors.jobber.settings import JobberSettings

    body = hook_body("JOB_CLOSED", "Z2lkOi8vSm9iYmVyL0pvYi8x")
    with pytest.raises(WebhookRefused, match="not configured"):  # fail closed: no default secret to forge with
        webhooks.verify(JobberSettings(client_secret=None), "POST", "/", signed(body), body, 0.0)


def test_the_cost_bucket_never_promises_the_same_points_twice() -> None:
    from connectors.http.ratelimit import QueryCostBucket

    bucket = QueryCostBucket()
    assert bucket.take(10_000) == 0.0  # nothing known yet: the vendor's answer will tell
    bucket.report(10_000, 150, 500)
    assert bucket.take(100) == 0.0
    wait = bucket.take(100)  # 50 left: the second query waits for 50 more points, 0.1 s
    assert 0.05 < wait <= 0.11
    bucket.take(0)
    assert bucket.take(20_000) == 0.0  # more than the bucket holds: sent, and Jobber says so


def test_signature_good_bad_missing_and_duplicates_are_stored_once(jw: World) -> None:
    from fastapi.testclient import TestClient

    from deployments.ingress import create_app
    from models.settings import FieldbridgeSettings
    from models.webhook_inbox import VendorWebhook

    engine = jw.runtime.engine
    app = create_app(FieldbridgeSettings(ingress_secrets="open-api-secret"), engine, starter=None)
    body = hook_body("JOB_CLOSED", "Z2lkOi8vSm9iYmVyL0pvYi8x")
    with TestClient(app) as client:
        assert client.post("/webhooks/jobber", content=body, headers=signed(body, "not-our-secret")).status_code == 401
        missing = client.post("/webhooks/jobber", content=body, headers={"Content-Type": "application/json"})
        assert missing.status_code == 401 and "X-Jobber-Hmac-SHA256" in missing.json()["message"]
        tampered = body.replace(b"JOB_CLOSED", b"JOB_UPDATE")
        assert client.post("/webhooks/jobber", content=tampered, headers=signed(body)).status_code == 401
        not_a_hook = b'{"hello": "world"}'
        bad = client.post("/webhooks/jobber", content=not_a_hook, headers=signed(not_a_hook))
        assert bad.status_code == 400 and bad.json()["error"] == "malformed_webhook"
        with Session(engine) as s:
            assert s.exec(select(func.count()).select_from(VendorWebhook)).one() == 0  # nothing refused is kept
        first = client.post("/webhooks/jobber", content=body, headers=signed(body))
        again = client.post("/webhooks/jobber", content=body, headers=signed(body))
    assert first.status_code == 202 and again.status_code == 200, (first.text, again.text)
    assert again.json()["duplicate"] and again.json()["webhook_id"] == first.json()["webhook_id"]
    with Session(engine) as s:
        [row] = s.exec(select(VendorWebhook)).all()
    assert row.deliveries == 2 and json.loads(row.parameters)["topic"] == "JOB_CLOSED"


# --- the sync flow in this process ---------------------------------------------------------------------------


def _sync(topic: str, item: str) -> Any:
    from flows.field_service import field_service_sync

    return field_service_sync(topic=topic, item_id=item, return_state=True)


def test_a_closed_job_is_read_past_every_page_and_posted_once(jw: World) -> None:
    from flows.job_closed import job_closed
    from models import inbox
    from models.canonical import Expense, Note, PartUsage, TimeEntry

    job = seed_job(jw)
    close(jw, job)
    state = _sync("JOB_CLOSED", job["id"])
    assert state.is_completed(), state.message
    result = state.result()
    assert result["outcome"] == "job.closed" and result["job_id"] == "JB5001"
    engine = jw.runtime.engine
    with Session(engine) as s:  # page size 2: every connection needed a second page
        assert len(s.exec(select(TimeEntry).where(TimeEntry.job_id == "JB5001")).all()) == 3
        assert sorted(p.sku for p in s.exec(select(PartUsage).where(PartUsage.job_id == "JB5001"))) == sorted(
            i.sku for i in jw.company.price_book[:3])  # the SERVICE line is labour, billed from the hours
        assert len(s.exec(select(Note).where(Note.job_id == "JB5001")).all()) == 3
        assert len(s.exec(select(Expense).where(Expense.job_id == "JB5001")).all()) == 1
    # a VISIT_COMPLETE and a redelivered JOB_CLOSED about the same closing find nothing new
    for topic, item in (("VISIT_COMPLETE", job["visits"][0]), ("JOB_CLOSED", job["id"])):
        again = _sync(topic, item)
        assert again.result()["outcome"] == "unchanged", again.result()
    event = inbox.latest_for_job(engine, "JB5001")
    assert event is not None
    posted = job_closed("JB5001", event.event_id, return_state=True)  # no deployment here: run it directly
    assert posted.is_completed(), posted.message
    [invoice] = [i for i in jw.state("quickbooks", "Invoice") if i["DocNumber"] == "JB5001"]
    [ticket] = [t for t in jw.state("hubspot", "tickets") if t["properties"].get("fieldbridge_job_id") == "JB5001"]
    assert ticket["properties"]["hs_pipeline_stage"] != "1"  # opened for the Jobber job, then resolved
    assert len([n for n in jw.state("hubspot", "notes") if "replaced the door gasket" in
                str(n["properties"].get("hs_note_body"))]) == 3
    assert invoice["CustomerRef"]["value"]


def test_unmapped_users_and_items_quarantine_the_job_naming_the_jobber_records(
        jw: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from models.integration import Quarantine

    job = seed_job(jw, 5002, extra_user=True, unknown_product=True)
    close(jw, job)
    state = _sync("JOB_CLOSED", job["id"])
    assert state.name == "Quarantined", (state.name, state.message)
    with Session(jw.runtime.engine) as s:
        [row] = s.exec(select(Quarantine).where(Quarantine.job_id == "JB5002")).all()
    assert "Jobber user 'Temp Helper' (gid://Jobber/User/" in row.reason and "temp@agency.example" in row.reason
    assert "Jobber line item 'Mystery valve' (gid://Jobber/JobLineItem/" in row.reason
    from models import inbox

    assert inbox.latest_for_job(jw.runtime.engine, "JB5002") is None  # nothing went on towards the vendors
    assert not [i for i in jw.state("quickbooks", "Invoice") if i["DocNumber"] == "JB5002"]

    # the office maps the temp and the valve; reading the job again (`fieldbridge sync`) lets it through
    from tasks.runtime import get_runtime, reset_runtime

    links = {t.email: {"id": t.id, "payroll_id": t.payroll_id} for t in jw.company.technicians}
    links["temp@agency.example"] = {"id": "T90", "payroll_id": "TEMP-1", "hourly_rate": "30.00", "bill_rate": "80.00"}
    monkeypatch.setenv("FIELDBRIDGE_JOBBER_TECHNICIANS", json.dumps(links))
    monkeypatch.setenv("FIELDBRIDGE_JOBBER_ITEMS", json.dumps({"Mystery valve": jw.company.price_book[3].sku}))
    reset_runtime()
    jw.runtime = get_runtime()
    fixed = _sync("JOB_UPDATE", job["id"])
    assert fixed.is_completed() and fixed.result()["outcome"] == "job.closed", fixed.message
    with Session(jw.runtime.engine) as s:
        assert s.exec(select(Quarantine).where(Quarantine.job_id == "JB5002",
                                               Quarantine.released_at.is_(None))).all() == []


def test_a_throttled_fetch_waits_for_the_bucket_and_does_not_fail(jw: World) -> None:
    job = seed_job(jw, 5003)
    close(jw, job)
    # an empty bucket restoring slowly: at most the first query meets it empty (nothing told the client before);
    # from Jobber's report on, every query of the job (users, each further page) waits for its points instead
    admin(jw, "/_sandbox/throttle", {"currentlyAvailable": 0, "restoreRate": 60})
    state = _sync("JOB_CLOSED", job["id"])
    assert state.is_completed(), state.message
    assert state.result()["outcome"] == "job.closed"
    assert admin(jw, "/_sandbox/throttle")["throttled"] <= 1
    client = jw.runtime.field_service
    assert client.cost.waited_seconds > 1.0  # it waited rather than failed
    # another app drains the bucket behind fieldbridge's back: at most one answer tells the client, which waits
    admin(jw, "/_sandbox/throttle", {"currentlyAvailable": 0})
    before = admin(jw, "/_sandbox/throttle")["throttled"]
    again = _sync("JOB_UPDATE", job["id"])
    assert again.is_completed() and again.result()["outcome"] == "unchanged"
    assert admin(jw, "/_sandbox/throttle")["throttled"] - before <= 1


def test_connect_walks_the_authorization_and_the_client_uses_the_rotated_tokens(
        jw: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from connectors.jobber.oauth import authorize_url, token_key
    from connectors.jobber.settings import JobberSettings
    from deployments.cli import app
    from models.token_store import DatabaseTokenStore

    settings = JobberSettings()
    sent_to = httpx.get(authorize_url(settings, "st4te"), follow_redirects=False)
    assert sent_to.status_code in (302, 303), sent_to.text
    redirect = sent_to.headers["location"]
    assert redirect.startswith(settings.redirect_uri) and "state=st4te" in redirect
    runner = CliRunner()
    wrong_state = runner.invoke(app, ["connect", "jobber"], input=redirect + "\n")
    assert wrong_state.exit_code == 1 and "state" in wrong_state.output  # a different command's redirect
    done = runner.invoke(app, ["connect", "jobber", "--code", redirect])  # the redirect URL of that consent
    assert done.exit_code == 0, done.output
    assert "Connected" in done.output
    stored = DatabaseTokenStore(jw.runtime.engine, token_key(settings)).load()
    assert stored is not None and stored.refresh_token != "jobber-rt-sandbox-initial"
    reused = runner.invoke(app, ["connect", "jobber", "--code", redirect.split("code=")[1].split("&")[0]])
    assert reused.exit_code == 3 and "fresh code" in reused.output  # a code works once
    admin(jw, "/_sandbox/oauth/expire-access", {})
    job = seed_job(jw, 5004)
    close(jw, job)
    assert _sync("JOB_CLOSED", job["id"]).is_completed()  # refreshed with the connected, rotated token
    rotated = DatabaseTokenStore(jw.runtime.engine, token_key(settings)).load()
    assert rotated is not None and rotated.refresh_token != stored.refresh_token


# --- the whole chain, served: Jobber's webhooks drive it ----------------------------------------------------


@pytest.fixture
def served_jobber(jw: World, monkeypatch: pytest.MonkeyPatch) -> Any:
    from deployments.serve import start_service
    from models.settings import FieldbridgeSettings
    from tests.test_ingress_runs import _clear_scheduled_runs

    monkeypatch.setenv("FIELDBRIDGE_INGRESS_SECRETS", "open-api-secret")
    monkeypatch.setenv("FIELDBRIDGE_SEND_INVOICES", "false")  # unsent, the invoice follows the edits in place
    from tasks.runtime import get_runtime, reset_runtime

    reset_runtime()
    jw.runtime = get_runtime()
    _clear_scheduled_runs()
    service = start_service(FieldbridgeSettings(), ingress_port=0)
    admin(jw, "/_sandbox/webhooks", {"url": f"{service.ingress_url.rstrip('/')}/webhooks/jobber",
                                     "redeliver_every": 2})
    yield service
    service.stop()


def settle(w: World, job_id: str, timeout: float = 180) -> dict[str, str]:
    """Until Jobber has delivered everything, every stored webhook's run and the job's latest run are final;
    the final state of each run (by id)."""
    from flows.starter import wait_for_runs
    from models import inbox
    from models.webhook_inbox import VendorWebhook

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if admin(w, "/_sandbox/webhooks")["pending"] == 0:
            with Session(w.runtime.engine) as s:
                hooks = s.exec(select(VendorWebhook)).all()
            if hooks and all(h.flow_run_id for h in hooks):
                states = wait_for_runs([h.flow_run_id for h in hooks], timeout=deadline - time.monotonic())
                latest = inbox.latest_for_job(w.runtime.engine, job_id)
                if latest is not None and latest.flow_run_id:
                    states |= wait_for_runs([latest.flow_run_id], timeout=deadline - time.monotonic())
                    with Session(w.runtime.engine) as s:
                        if all(h.flow_run_id for h in s.exec(select(VendorWebhook))) and admin(
                                w, "/_sandbox/webhooks")["pending"] == 0:
                            return {r: (st.name if st else "?") for r, st in states.items()}
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} did not settle in {timeout:.0f} s")


def vendor_records(w: World, job_id: str) -> dict[str, list[dict[str, Any]]]:
    return {
        "tickets": [t for t in w.state("hubspot", "tickets") if t["properties"].get("fieldbridge_job_id") == job_id],
        "invoices": [i for i in w.state("quickbooks", "Invoice") if i["DocNumber"] == job_id],
        "sheets": [x for x in w.state("gusto", "time_sheets") if x.get("metadata", {}).get("workday") == "2026-10-06"],
    }


def test_a_job_closed_in_jobber_reaches_every_system_once_and_an_edit_converges(
        jw: World, served_jobber: Any) -> None:
    from models.integration import InboxEvent

    job = seed_job(jw, 5010)
    close(jw, job)  # VISIT_COMPLETE × 3 and JOB_CLOSED, every second delivery sent twice
    states = settle(jw, "JB5010")
    assert set(states.values()) == {"Completed"}, states
    hooks = admin(jw, "/_sandbox/webhooks")["deliveries"]
    assert len(hooks) >= 6 and any(h["redelivery"] for h in hooks) and all(h["delivered"] for h in hooks)
    assert max(h["answer_ms"] for h in hooks) < 1000  # acknowledged within Jobber's second
    first = vendor_records(jw, "JB5010")
    assert len(first["tickets"]) == 1 and len(first["invoices"]) == 1, first
    assert len(first["sheets"]) == 2  # each technician's workday, once
    with Session(jw.runtime.engine) as s:  # four webhooks about one closing: one event, one job-closed run
        assert s.exec(select(func.count()).select_from(InboxEvent).where(InboxEvent.job_id == "JB5010")).one() == 1
    total = first["invoices"][0]["TotalAmt"]

    # after posting, the office corrects Jobber: one entry longer, one deleted, a late note
    entries = job["timeSheetEntries"]
    admin(jw, f"/_sandbox/jobs/{job['id']}/edit", {
        "updateTimeSheetEntries": [{"id": entries[1], "endAt": "2026-10-06T18:15:00Z"}],
        "deleteTimeSheetEntries": [entries[2]],
        "addNotes": [{"message": "Late note: customer confirmed no more leaks", "userEmail":
                      jw.company.technicians[0].email}]})
    states = settle(jw, "JB5010")
    assert set(states.values()) <= {"Completed", "Superseded"}, states
    after = vendor_records(jw, "JB5010")
    assert len(after["tickets"]) == 1 and len(after["invoices"]) == 1, after  # revised in place, never twice
    assert after["invoices"][0]["Id"] == first["invoices"][0]["Id"] and after["invoices"][0]["TotalAmt"] != total
    assert len(after["sheets"]) == 2  # upserted: the same two workdays, the hours corrected
    hours = {x["metadata"]["fieldbridge_key"]: x for x in after["sheets"]}
    assert hours != {x["metadata"]["fieldbridge_key"]: x for x in first["sheets"]}
    notes = [n for n in jw.state("hubspot", "notes") if "customer confirmed no more leaks" in
             str(n["properties"].get("hs_note_body"))]
    assert len(notes) == 1
    from models.canonical import TimeEntry

    with Session(jw.runtime.engine) as s:  # the deleted entry is gone from fieldbridge's copy too
        kept = {e.id for e in s.exec(select(TimeEntry).where(TimeEntry.job_id == "JB5010"))}
    assert len(kept) == 2


def test_a_time_sheet_entry_deleted_after_posting_is_found_through_fieldbridges_copy(jw: World) -> None:
    from models.canonical import TimeEntry

    job = seed_job(jw, 5005)
    close(jw, job)
    assert _sync("JOB_CLOSED", job["id"]).result()["outcome"] == "job.closed"
    gone = job["timeSheetEntries"][2]
    admin(jw, f"/_sandbox/jobs/{job['id']}/edit", {"deleteTimeSheetEntries": [gone]})
    # Jobber can no longer say which job the entry was on: fieldbridge's own copy of it does
    state = _sync("TIMESHEET_DESTROY", gone)
    assert state.is_completed(), state.message
    assert state.result()["outcome"] == "job.updated" and state.result()["job_id"] == "JB5005"
    with Session(jw.runtime.engine) as s:
        assert len(s.exec(select(TimeEntry).where(TimeEntry.job_id == "JB5005")).all()) == 2
    # an entry fieldbridge never had, and a topic it does not act on: nothing to do, said in words
    never = _sync("TIMESHEET_DESTROY", "Z2lkOi8vSm9iYmVyL1RpbWVTaGVldEVudHJ5Lzk5OTk=")
    assert never.result()["outcome"] == "ignored" and "never had" in never.result()["why"]
    assert _sync("QUOTE_CREATE", job["id"]).result()["outcome"] == "ignored"


def test_a_stored_webhook_whose_run_could_not_start_is_started_by_the_sweeper(jw: World) -> None:
    from fastapi.testclient import TestClient

    from deployments.ingress import create_app
    from flows.starter import RunStarter
    from models import webhook_inbox
    from models.settings import FieldbridgeSettings

    class Starter(RunStarter):  # Prefect away at first, then back: records what it was asked to start
        def __init__(self) -> None:
            super().__init__()
            self.up, self.started = False, []

        def start_deployment(self, deployment: str, *, key: str, parameters: Any = None, tags: Any = None) -> str:
            if not self.up:
                raise ConnectionError("Prefect API unreachable")
            self.started.append((deployment, key, parameters))
            return f"run-{len(self.started)}"

    engine = jw.runtime.engine
    starter = Starter()
    app = create_app(FieldbridgeSettings(ingress_secrets="open-api-secret"), engine, starter=starter)
    body = hook_body("JOB_CLOSED", "Z2lkOi8vSm9iYmVyL0pvYi8y")
    with TestClient(app) as client:  # the answer does not wait for Prefect
        assert client.post("/webhooks/jobber", content=body, headers=signed(body)).status_code == 202
    [due] = webhook_inbox.due_for_run(engine, older_than_seconds=0)
    starter.up = True
    assert starter.start_for_webhook(engine, due) == "run-1"  # what the sweeper does for each due delivery
    assert webhook_inbox.due_for_run(engine, older_than_seconds=0) == []
    [(deployment, key, parameters)] = starter.started
    assert deployment == "field-service-sync/field-service-sync" and ":webhook:jobber:" in key
    assert parameters["topic"] == "JOB_CLOSED" and parameters["item_id"] == "Z2lkOi8vSm9iYmVyL0pvYi8y"
