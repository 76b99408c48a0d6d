"""Nightly reconciliation against the sandboxes: every drift class seeded and found with exact counts (with
more than one page from every vendor), safe repair converging without creating anything twice, the DST
windows, and a vendor failing mid-pull never presenting a partial report as complete."""

from __future__ import annotations

import copy
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pendulum
import pytest

from deployments.demo_data import DEMO_DAY
from tasks.reconcile.drift import CLASSES, counts, find_drift, find_drift_plain
from tasks.reconcile.synthetic import make_sides
from tasks.reconcile.window import day_window
from tests.conftest import World, make_world


def _post_all(world: World) -> None:
    from flows.job_closed import job_closed

    for job in world.company.jobs:
        state = job_closed(job.id, return_state=True)
        assert state.is_completed(), state.message


def _reconcile(**params: Any) -> Any:
    from flows.reconciliation import nightly_reconciliation

    return nightly_reconciliation(day=DEMO_DAY, return_state=True, **params)


def _small_pages(world: World) -> None:
    """Listing pages of one or two records, so every vendor is read over several pages."""
    rt = world.runtime
    for connector, attr, size in ((rt.crm, "search_page", 2), (rt.payroll, "list_page_size", 2),
                                  (rt.payroll, "list_batch", 1), (rt.accounting, "list_page_size", 2)):
        if hasattr(connector, attr):
            setattr(connector, attr, size)


def _store(world: World, system: str) -> Any:
    return world.sandboxes.sandboxes[system].store


def _touch(doc: dict[str, Any]) -> None:
    now = pendulum.now("UTC").format("YYYY-MM-DDTHH:mm:ss.SSS") + "Z"
    if "properties" in doc:
        doc["properties"]["hs_lastmodifieddate"] = now
    if "MetaData" in doc:
        doc["MetaData"]["LastUpdatedTime"] = pendulum.now("America/Los_Angeles").isoformat()


@pytest.fixture
def big_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefect_harness: None) -> Any:
    from tasks.runtime import reset_runtime

    w = make_world(tmp_path, monkeypatch, jobs=8)  # one job per seeded drift class
    yield w
    reset_runtime()
    w.sandboxes.stop()


def _seed_drift(world: World) -> dict[str, int]:
    """Change the vendors' records behind fieldbridge's back, one job per class; return the exact counts."""
    from sqlmodel import Session, select

    from models.integration import Effect, EffectStatus

    jobs = [j.id for j in world.company.jobs]
    hub, gusto, qbo = _store(world, "hubspot"), _store(world, "gusto"), _store(world, "quickbooks")
    tickets = {t["properties"]["fieldbridge_job_id"]: t for t in hub.all("tickets")}
    invoices = {i["DocNumber"]: i for i in qbo.all("Invoice")}

    hub.delete("tickets", tickets[jobs[0]]["id"])  # missing_case
    reopened = tickets[jobs[1]]
    reopened["properties"]["hs_pipeline_stage"] = "1"  # case_not_resolved
    _touch(reopened)
    hub.put("tickets", reopened["id"], reopened)

    sheets = sorted(gusto.all("time_sheets"), key=lambda s: s["metadata"]["fieldbridge_key"])
    paid = [s for s in sheets if s.get("entries")]
    gusto.delete("time_sheets", paid[0]["uuid"])  # missing_timesheet
    changed = paid[1]
    changed["entries"][0]["hours_worked"] = f"{float(changed['entries'][0]['hours_worked']) + 0.5:.3f}"
    gusto.put("time_sheets", changed["uuid"], changed)  # hours_mismatch (+30 minutes)

    qbo.delete("Invoice", invoices[jobs[2]]["Id"])  # missing_invoice
    wrong = invoices[jobs[3]]
    first_line = next(ln for ln in wrong["Line"] if ln.get("DetailType") == "SalesItemLineDetail")
    first_line["Amount"] = float(first_line["Amount"]) + 1.0  # someone edited a line: amount_mismatch
    wrong["TotalAmt"] = wrong["Balance"] = float(wrong["TotalAmt"]) + 1.0
    wrong["EmailStatus"] = "NotSet"  # not sent yet: revisable
    _touch(wrong)
    qbo.put("Invoice", wrong["Id"], wrong)
    unsent = invoices[jobs[4]]
    unsent["EmailStatus"] = "NotSet"  # unsent_invoice
    _touch(unsent)
    qbo.put("Invoice", unsent["Id"], unsent)
    twin = copy.deepcopy(invoices[jobs[5]])
    twin["Id"] = "9001"  # duplicate_invoice
    qbo.put("Invoice", twin["Id"], twin)
    orphan = copy.deepcopy(invoices[jobs[5]])
    orphan.update(Id="9002", DocNumber="MANUAL-77")  # orphan_invoice
    qbo.put("Invoice", orphan["Id"], orphan)
    other = invoices[jobs[6]]
    customers = [c["Id"] for c in qbo.all("Customer") if c["Id"] != other["CustomerRef"]["value"]]
    other["CustomerRef"] = {"value": customers[0]}  # customer_mismatch (not sent: revisable)
    other["EmailStatus"] = "NotSet"
    _touch(other)
    qbo.put("Invoice", other["Id"], other)

    with Session(world.runtime.engine) as s:  # ledger_stuck: a send left in flight an hour ago
        effect = s.exec(select(Effect).where(Effect.key == f"quickbooks:invoice-send:{jobs[7]}")).one()
        effect.status, effect.updated_at, effect.last_error = EffectStatus.IN_FLIGHT, datetime.now(UTC) - \
            timedelta(hours=1), "connection reset"
        s.add(effect)
        s.commit()
    want = dict.fromkeys(CLASSES, 1)
    want["unsent_invoice"] = 3  # the revisable amount and customer mismatches are unsent too
    return want


@pytest.mark.slow
def test_every_drift_class_is_found_exactly_and_safe_repair_converges(big_world: World) -> None:
    world = big_world
    _post_all(world)
    _small_pages(world)
    clean = _reconcile()
    assert clean.is_completed(), clean.message
    assert set(clean.result()["drift"].values()) == {0}

    want = _seed_drift(world)
    report = _reconcile()
    assert report.is_failed() and "no_duplicate_invoices" in report.message
    assert report.result(raise_on_failure=False)["drift"] == want
    rows = pd.read_parquet(report.result(raise_on_failure=False)["files"]["parquet"])
    assert Counter(rows["drift_class"]) == {c: n for c, n in want.items() if n}
    hours = rows[rows["drift_class"] == "hours_mismatch"].iloc[0]
    assert hours["delta"] == "30" and hours["system"] == "gusto"

    on_dask = _reconcile(partitions=3)  # the comparison in partitions on a Dask LocalCluster: the same rows
    assert on_dask.result(raise_on_failure=False)["drift"] == want
    pd.testing.assert_frame_equal(pd.read_parquet(on_dask.result(raise_on_failure=False)["files"]["parquet"]), rows)

    repaired = _reconcile(repair_mode="safe")
    after = repaired.result(raise_on_failure=False)
    left = {c: n for c, n in after["drift"].items() if n}
    assert left == {"duplicate_invoice": 1, "orphan_invoice": 1}, after["repair"]  # for a person, untouched
    assert after["before_repair"] == want
    qbo = _store(world, "quickbooks")
    assert {i["Id"] for i in qbo.all("Invoice")} >= {"9001", "9002"}  # never voided or deleted
    numbers = Counter(i["DocNumber"] for i in qbo.all("Invoice"))
    assert numbers[world.company.jobs[2].id] == 1 and numbers[world.company.jobs[5].id] == 2

    snapshot = {name: len(_store(world, name).all(coll)) for name, coll in
                (("hubspot", "tickets"), ("gusto", "time_sheets"), ("quickbooks", "Invoice"))}
    again = _reconcile(repair_mode="safe")
    assert {c: n for c, n in again.result(raise_on_failure=False)["drift"].items() if n} == left
    assert snapshot == {name: len(_store(world, name).all(coll)) for name, coll in
                        (("hubspot", "tickets"), ("gusto", "time_sheets"), ("quickbooks", "Invoice"))}
    sent = {i["DocNumber"]: i.get("EmailStatus") for i in qbo.all("Invoice")}
    assert all(sent[j.id] == "EmailSent" for j in world.company.jobs)


def test_a_vendor_failing_mid_pull_fails_the_run_and_publishes_no_report(world: World, prefect_harness: None) -> None:
    from prefect.client.orchestration import get_client

    _post_all(world)
    _small_pages(world)
    acc = world.runtime.accounting
    real = acc.list_invoices

    def failing_after_first_page(since: datetime) -> Any:
        pages = real(since)
        yield next(pages)
        world.faults("quickbooks", error_rate=1.0)  # the vendor goes down between two pages
        yield from pages

    acc.list_invoices = failing_after_first_page
    state = _reconcile()
    world.faults("quickbooks", error_rate=0.0)
    assert state.is_failed()
    assert "incomplete" in state.message and "accounting (quickbooks)" in state.message
    assert not (world.home / "reconciliation" / f"reconciliation-{DEMO_DAY}.parquet").exists()

    async def artifact_keys() -> set[str]:  # of this run only: the session's Prefect holds other tests' too
        async with get_client() as client:
            return {a.key for a in await client.read_artifacts()
                    if a.key and a.flow_run_id == state.state_details.flow_run_id}

    import asyncio

    assert f"reconciliation-{DEMO_DAY}" not in asyncio.run(artifact_keys())


@pytest.mark.slow
@pytest.mark.parametrize(("crm", "payroll", "accounting"), [("salesforce", "bamboohr", "xero")])
def test_the_other_vendors_reconcile_clean_then_find_what_was_removed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefect_harness: None, crm: str, payroll: str,
        accounting: str) -> None:
    from tasks.runtime import reset_runtime

    monkeypatch.setenv("FIELDBRIDGE_CRM_SYSTEM", crm)
    monkeypatch.setenv("FIELDBRIDGE_PAYROLL_SYSTEM", payroll)
    monkeypatch.setenv("FIELDBRIDGE_ACCOUNTING_SYSTEM", accounting)
    world = make_world(tmp_path, monkeypatch, jobs=4)
    try:
        _post_all(world)
        _small_pages(world)
        cases = _store(world, "salesforce")
        for n in range(205):  # Salesforce pages at least 200 records: more than one page of Cases
            cases.put("Case", f"500X{n:012d}", {"Id": f"500X{n:012d}", "Subject": "walk-in", "IsClosed": False,
                                                 "SystemModstamp": pendulum.now("UTC").isoformat()})
        clean = _reconcile()
        assert clean.is_completed(), clean.message
        xero, bamboo = _store(world, "xero"), _store(world, "bamboohr")
        gone = next(i for i in xero.all("Invoices") if i["InvoiceNumber"] == world.company.jobs[0].id)
        xero.delete("Invoices", gone["InvoiceID"])
        entry = bamboo.all("hour_entries")[0]
        bamboo.delete("hour_entries", str(entry["id"]))
        found = _reconcile().result(raise_on_failure=False)["drift"]
        assert found["missing_invoice"] == 1
        assert found["missing_timesheet"] + found["hours_mismatch"] == 1
        fixed = _reconcile(repair_mode="safe").result(raise_on_failure=False)
        assert set(fixed["drift"].values()) == {0}, fixed["repair"]
    finally:
        reset_runtime()
        world.sandboxes.stop()


# -- the window and the comparison itself ------------------------------------------------------------------


@pytest.mark.parametrize(("day", "hours"), [(date(2026, 3, 8), 23), (date(2026, 11, 1), 25), (date(2026, 11, 24), 24)])
def test_the_window_is_the_local_day_whatever_its_length(day: date, hours: int) -> None:
    window = day_window(day, "America/Los_Angeles")
    assert window.hours == hours
    assert pendulum.instance(window.start).in_timezone("America/Los_Angeles").format("YYYY-MM-DD HH:mm") == \
        f"{day.isoformat()} 00:00"
    late = pendulum.datetime(day.year, day.month, day.day, 23, 30, tz="America/Los_Angeles")
    assert window.start <= late < window.end  # a job closed at 23:30 local belongs to that day
    assert not (window.start <= late.add(hours=1) < window.end)
    assert window.local_days() == [day]


def test_synthetic_drift_of_every_class_is_counted_exactly_by_both_comparisons() -> None:
    inject = {c: 2 + n for n, c in enumerate(CLASSES)}
    sides, want = make_sides(3_000, inject, held=7)
    assert counts(find_drift(sides)) == want
    assert find_drift_plain(sides) == want


def test_quarantined_jobs_are_not_drift_and_unsent_is_ignored_when_sending_is_off() -> None:
    sides, _ = make_sides(500, {"unsent_invoice": 4}, held=9)
    assert counts(find_drift(sides))["missing_case"] == 0
    assert counts(find_drift(sides, send_invoices=False))["unsent_invoice"] == 0


def test_the_cli_reconciles_a_day_and_explains_bad_options(world: World, prefect_harness: None) -> None:
    from typer.testing import CliRunner

    from deployments.cli import app

    runner = CliRunner()
    bad = runner.invoke(app, ["reconcile", "--repair", "wild"])
    assert bad.exit_code == 2 and "--repair must be none or safe" in bad.output
    assert runner.invoke(app, ["reconcile", "--date", "24/11/2026"]).exit_code == 2
    _post_all(world)
    done = runner.invoke(app, ["reconcile", "--date", DEMO_DAY.isoformat()])
    assert done.exit_code == 0, done.output
    assert f"reconciliation of {DEMO_DAY}: all checks passed" in done.output
    world.runtime.crm.http.close()  # the CRM stops answering: the night cannot be read to the end
    world.sandboxes.servers["hubspot"].stop()
    incomplete = runner.invoke(app, ["reconcile", "--date", DEMO_DAY.isoformat()])
    assert incomplete.exit_code == 4 and "incomplete" in incomplete.output
