"""Nothing lost, nothing twice: duplicate runs, races, lost answers and crashes mid-effect."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlmodel import Session

from flows.job_closed import job_closed
from models.canonical import Note
from models.integration import Effect, EffectStatus
from tasks import effects
from tests.conftest import run_concurrently

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _counts(world) -> tuple[Counter, int, Counter]:
    invoices = Counter(i["DocNumber"] for i in world.state("quickbooks", "Invoice"))
    notes = len(world.state("hubspot", "notes"))
    sheets = Counter(s["metadata"]["fieldbridge_key"] for s in world.state("gusto", "time_sheets"))
    return invoices, notes, sheets


def test_two_concurrent_runs_for_one_job_create_one_of_each(world) -> None:
    world.faults_all(latency_ms=30)  # widen the race window
    assert run_concurrently(lambda: job_closed("J1001"), lambda: job_closed("J1001")) == []
    invoices, notes, sheets = _counts(world)
    assert invoices == {"J1001": 1} and notes == 1 and sheets == {"T01:2026-11-24": 1}


def test_lost_answers_plus_server_errors_still_converge(world) -> None:
    world.faults_all(drop_first_write=True, error_rate=0.2, seed=7)
    for job_id in ("J1001", "J1002", "J1003"):
        job_closed(job_id)
    invoices, notes, sheets = _counts(world)
    assert invoices == {"J1001": 1, "J1002": 1, "J1003": 1}
    assert notes == 3
    assert set(sheets.values()) == {1} and len(sheets) == 3


class Crash(BaseException):
    """Stands in for the process dying: not an Exception, so nothing in our code handles it."""


def test_crash_after_vendor_commit_before_ledger_record(world, monkeypatch) -> None:
    real = world.runtime.accounting.create_invoice

    def commit_then_die(*args, **kwargs):
        real(*args, **kwargs)
        raise Crash

    monkeypatch.setattr(world.runtime.accounting, "create_invoice", commit_then_die)
    with pytest.raises(Crash):
        effects.create_invoice("J1002")
    key = "quickbooks:invoice:J1002"
    assert world.runtime.ledger.get(key).status is EffectStatus.IN_FLIGHT
    # the dead process still "holds" the lease until it expires
    with Session(world.runtime.engine) as s:
        row = s.get(Effect, key)
        row.lease_owner, row.lease_expires_at = "dead-worker", datetime.now(UTC) - timedelta(seconds=1)
        s.add(row)
        s.commit()
    monkeypatch.setattr(world.runtime.accounting, "create_invoice", real)
    result = effects.create_invoice("J1002")
    assert result["written"] is False  # found at the vendor by DocNumber, adopted, not written again
    assert Counter(i["DocNumber"] for i in world.state("quickbooks", "Invoice")) == {"J1002": 1}
    done = world.runtime.ledger.get(key)
    assert done.status is EffectStatus.DONE and done.vendor_id == result["invoice_id"]


def test_a_live_lease_blocks_a_second_writer(world) -> None:
    from models.ledger import EffectBusy, Ledger

    ledger = Ledger(world.runtime.engine, wait_seconds=0.3)
    hold = threading.Event()
    release = threading.Event()

    def slow_write(_existing):
        hold.set()
        release.wait(5)
        from connectors.contract.records import VendorRecord

        return VendorRecord(id="v1")

    t = threading.Thread(target=lambda: ledger.run("test:key", system="test", kind="k", job_id=None, payload=1,
                                                   lookup=lambda: None, write=slow_write))
    t.start()
    hold.wait(5)
    with pytest.raises(EffectBusy):
        ledger.run("test:key", system="test", kind="k", job_id=None, payload=1, lookup=lambda: None,
                   write=lambda _e: pytest.fail("second writer must not write"))
    release.set()
    t.join()
    assert ledger.get("test:key").vendor_id == "v1"


def test_a_section_lock_waits_for_a_live_holder_instead_of_failing_the_run(world) -> None:
    """A technician's week held by a run that spaces its calls under a tight quota: the next run waits for
    it (the holder's renewals say it is alive) rather than failing after the effect wait of 0.3 s."""
    from models.ledger import EffectBusy, Ledger

    ledger = Ledger(world.runtime.engine, wait_seconds=0.3, lease_seconds=0.6)
    inside = threading.Event()

    def holder() -> None:
        with ledger.locked("gusto:week:T1:2026-11-22"):
            inside.set()
            time.sleep(1.5)  # longer than the wait and than a lease: only renewals keep it

    t = threading.Thread(target=holder)
    t.start()
    inside.wait(5)
    started = time.monotonic()
    with ledger.locked("gusto:week:T1:2026-11-22"):
        waited = time.monotonic() - started
    t.join()
    assert waited >= 1.0  # it waited for the holder, which was never overtaken
    week = "gusto:week:T1:2026-11-22"
    # a caller that cannot wait still gets a clear, retryable answer
    with pytest.raises(EffectBusy), ledger.locked(week), ledger.locked(week, wait_seconds=0.2):
        pass


def test_late_closure_updates_the_day_instead_of_appending(world) -> None:
    job_closed("J1001")
    [sheet] = world.state("gusto", "time_sheets")
    before = {e["pay_classification"]: Decimal(e["hours_worked"]) for e in sheet["entries"]}
    # a second job for the same technician and day is closed later
    world.add_job("J2001", "T01", datetime(2026, 11, 24, 23, 0, tzinfo=UTC), 4, "Follow-up",  # 15:00 local
                  closed_after_hours=5, note="All good")
    job_closed("J2001")
    sheets = world.state("gusto", "time_sheets")
    assert len(sheets) == 1 and sheets[0]["uuid"] == sheet["uuid"]
    after = {e["pay_classification"]: Decimal(e["hours_worked"]) for e in sheets[0]["entries"]}
    assert sum(after.values()) == sum(before.values()) + 4
    assert after != before


def test_a_slow_vendor_call_keeps_its_lease(world) -> None:
    """The lease is renewed during the call: a second worker never takes over a call still in progress."""
    from connectors.contract.records import VendorRecord
    from models.ledger import EffectBusy, Ledger

    ledger = Ledger(world.runtime.engine, lease_seconds=0.6, wait_seconds=1.5)
    started = threading.Event()
    writes = []

    def slow_write(_existing):
        writes.append(1)
        started.set()
        time.sleep(2.5)  # four times the lease
        return VendorRecord(id="slow-1")

    t = threading.Thread(target=lambda: ledger.run("test:slow", system="test", kind="k", job_id=None, payload=1,
                                                   lookup=lambda: None, write=slow_write))
    t.start()
    started.wait(5)
    with pytest.raises(EffectBusy):
        ledger.run("test:slow", system="test", kind="k", job_id=None, payload=1, lookup=lambda: None,
                   write=lambda _e: writes.append(2) or VendorRecord(id="slow-2"))
    t.join()
    assert writes == [1] and ledger.get("test:slow").vendor_id == "slow-1"


def _late_expense(world) -> None:
    from models.canonical import Expense

    with Session(world.runtime.engine) as s:
        s.add(Expense(id="X-late", job_id="J1001", description="Late parking receipt", amount=Decimal("9.00")))
        s.commit()


def test_changed_lines_revise_an_unsent_unpaid_invoice_in_place(world, monkeypatch) -> None:
    monkeypatch.setattr(world.runtime.settings, "send_invoices", False)  # a company that sends invoices by hand
    first = job_closed("J1001")["accounting"]
    _late_expense(world)
    revised = effects.create_invoice("J1001")
    [invoice] = world.state("quickbooks", "Invoice")
    assert revised["updated"] is True and revised["invoice_id"] == first["invoice_id"] == invoice["Id"]
    assert Decimal(revised["total"]) == Decimal(first["total"]) + Decimal("9.00") == Decimal(str(invoice["TotalAmt"]))
    assert invoice["SyncToken"] == "1"
    assert effects.create_invoice("J1001")["written"] is False  # converged: a rerun changes nothing


@pytest.mark.parametrize("how", ["paid", "sent"])
def test_changed_lines_after_the_invoice_was_paid_or_sent_need_review(world, how: str, monkeypatch) -> None:
    monkeypatch.setattr(world.runtime.settings, "send_invoices", how == "sent")  # sent: by fieldbridge itself
    first = job_closed("J1001")["accounting"]
    qbo = world.runtime.accounting
    if how == "sent":
        assert first["sent"].startswith("sent to ")
    else:
        qbo.http.request("POST", f"/v3/company/{qbo.realm_id}/payment", params={"requestid": "pay-1"},
                         json={"TotalAmt": Decimal("10.00"), "CustomerRef": {"value": "1"},
                               "Line": [{"Amount": Decimal("10.00"),
                                         "LinkedTxn": [{"TxnId": first["invoice_id"], "TxnType": "Invoice"}]}]},
                         idempotent=True)
    before = world.state("quickbooks", "Invoice")
    _late_expense(world)
    with pytest.raises(effects.InvoiceNeedsReview, match="review it in the accounting system") as err:
        effects.create_invoice("J1001")
    assert ("already sent" if how == "sent" else "already paid 10.00") in str(err.value)
    assert "Late parking receipt" in err.value.markdown()
    assert world.state("quickbooks", "Invoice") == before  # nothing changed at the vendor


def test_an_invoice_someone_already_sent_is_not_sent_again(world, monkeypatch) -> None:
    """Sending switched on after the invoice was made, and a person had emailed it from QuickBooks meanwhile:
    the customer gets no second email (the send reads the invoice first — it needs it anyway)."""
    monkeypatch.setattr(world.runtime.settings, "send_invoices", False)
    made = job_closed("J1001")["accounting"]
    qbo = world.runtime.accounting
    qbo.http.request("POST", f"/v3/company/{qbo.realm_id}/invoice/{made['invoice_id']}/send",
                     params={"requestid": "by-hand", "sendTo": "ap@customer.example"},
                     idempotent=True)  # a person sent it by hand
    monkeypatch.setattr(world.runtime.settings, "send_invoices", True)
    result = effects.create_invoice("J1001")
    assert result["sent"] == "already sent from the accounting system: not sent again" and result["sent_to"] is None
    assert len(world.state("quickbooks", "outbox")) == 1
    assert effects.create_invoice("J1001")["sent"].endswith("earlier")  # and the ledger remembers it


def test_a_vendor_rejection_fixed_by_the_user_is_released_by_a_rerun(world) -> None:
    """Each ledger attempt uses its own requestid: QuickBooks replays the first answer to a repeated one,
    so reusing it would return the old rejection forever."""
    from sqlmodel import select

    from connectors.contract.errors import DataError
    from models.integration import ExternalRef

    with Session(world.runtime.engine) as s:  # the id map points at an item QuickBooks does not have
        s.add(ExternalRef(system="quickbooks", entity="item", canonical_id="LABOUR", vendor_id="99999"))
        s.commit()
    with pytest.raises(DataError, match="Item 99999"):
        effects.create_invoice("J1001")
    assert world.runtime.ledger.get("quickbooks:invoice:J1001").status is EffectStatus.FAILED
    with Session(world.runtime.engine) as s:  # the user fixes the id map
        s.delete(s.exec(select(ExternalRef).where(ExternalRef.vendor_id == "99999")).one())
        s.commit()
    result = effects.create_invoice("J1001")
    assert result["written"] is True
    assert [i["DocNumber"] for i in world.state("quickbooks", "Invoice")] == ["J1001"]


def test_an_edited_note_is_updated_not_duplicated(world) -> None:
    job_closed("J1001")
    with Session(world.runtime.engine) as s:
        note = s.get(Note, "NJ1001-1")
        note.body = note.body + " Follow-up: customer called, all fine."
        s.add(note)
        s.commit()
    job_closed("J1001")
    [posted] = world.state("hubspot", "notes")
    assert posted["properties"]["hs_note_body"].endswith("all fine.")


def test_two_jobs_of_one_technician_at_once_leave_the_right_day_total(world) -> None:
    # a second job for T01 the same day, after J1001
    world.add_job("J4001", "T01", datetime(2026, 11, 25, 0, 0, tzinfo=UTC), 2, "Second call")
    world.faults_all(latency_ms=40)
    assert run_concurrently(lambda: job_closed("J1001"), lambda: job_closed("J4001")) == []
    from tasks.timesheets import payroll_settings, week_start_of, week_timesheets

    ps = payroll_settings(world.runtime.settings)
    expected = next(d for d in week_timesheets("T01", week_start_of(date(2026, 11, 24), ps), ps, world.runtime.engine)
                    if d.workday == date(2026, 11, 24))
    [sheet] = world.state("gusto", "time_sheets")
    posted = sum(Decimal(e["hours_worked"]) for e in sheet["entries"])
    assert posted == expected.regular_hours + expected.overtime_hours + expected.double_time_hours
    assert posted > 2  # both jobs' time is in it
