"""Invoice math: Decimal, half-up to the cent per line, total = lines + tax, currency explicit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from models.canonical import Customer, EntryKind, Expense, Job, JobStatus, PartUsage, PriceBookItem, Site, Technician
from models.canonical import TimeEntry as Entry
from tasks.invoicing import build_invoice
from tasks.snapshot import JobSnapshot

T0 = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)


def _snapshot(work_minutes: list[int], parts, expenses) -> JobSnapshot:
    tech = Technician(id="T1", name="Ana Ortiz", email="a@x", hourly_rate=Decimal("30"), bill_rate=Decimal("97.50"))
    entries, start = [], T0
    for n, minutes in enumerate(work_minutes):
        entries.append(Entry(id=f"E{n}", job_id="J1", technician_id="T1", kind=EntryKind.WORK, start=start,
                             end=start + timedelta(minutes=minutes)))
        start += timedelta(minutes=minutes + 5)
    entries.append(Entry(id="Etr", job_id="J1", technician_id="T1", kind=EntryKind.TRAVEL, start=start,
                         end=start + timedelta(minutes=30), billable=False))
    book = {"A": PriceBookItem(sku="A", name="Belt", unit_price=Decimal("24.99")),
            "B": PriceBookItem(sku="B", name="Labour-free part", unit_price=Decimal("0.333"), taxable=False)}
    return JobSnapshot(
        job=Job(id="J1", customer_id="C1", site_id="S1", status=JobStatus.CLOSED, description="Washer",
                closed_at=T0 + timedelta(hours=8)),
        customer=Customer(id="C1", name="Kim"), site=Site(id="S1", customer_id="C1", line1="1", city="SF", state="CA",
                                                          postal_code="94110"),
        technicians={"T1": tech}, entries=tuple(entries), notes=(), price_book=book, accounting_customer_ref="9",
        parts=tuple(PartUsage(id=f"P{n}", job_id="J1", sku=s, quantity=Decimal(q), unit_price=Decimal(p))
                    for n, (s, q, p) in enumerate(parts)),
        expenses=tuple(Expense(id=f"X{n}", job_id="J1", description=d, amount=Decimal(a))
                       for n, (d, a) in enumerate(expenses)),
        loaded_at=T0,
    )


def _build(snap: JobSnapshot, tax: str = "0.0875"):
    return build_invoice(snap, tax_rate=Decimal(tax), currency="USD", labour_item="LABOUR", labour_taxable=False,
                         timezone="America/Los_Angeles")


def test_labour_is_billable_work_only_rounded_half_up() -> None:
    # 50 + 20 minutes = 1.1666… h → 1.17 h; 1.17 × 97.50 = 114.075 → 114.08 (half-up, not banker's)
    draft = _build(_snapshot([50, 20], [], []))
    [labour] = draft.lines
    assert labour.quantity == Decimal("1.17") and labour.amount == Decimal("114.08")
    assert draft.tax == Decimal("0.00") and draft.total == Decimal("114.08")


def test_parts_expenses_tax_and_total() -> None:
    draft = _build(_snapshot([60], [("A", "2", "24.99"), ("B", "3", "0.333")], [("Parking", "12.50")]))
    amounts = [(line.kind, line.amount) for line in draft.lines]
    assert amounts == [("labour", Decimal("97.50")), ("part", Decimal("49.98")), ("part", Decimal("1.00")),
                       ("expense", Decimal("12.50"))]
    assert draft.tax == Decimal("4.37")  # only the taxable belt: 49.98 × 8.75 % = 4.37325 → 4.37
    assert draft.total == sum(a for _, a in amounts) + draft.tax == Decimal("165.35")
    assert all(isinstance(line.amount, Decimal) for line in draft.lines)
    assert draft.currency == "USD" and draft.doc_number == "J1"


def test_invoice_date_is_the_local_close_date() -> None:
    snap = _snapshot([60], [], [])
    late = snap.job.model_copy(update={"closed_at": datetime(2026, 11, 25, 6, 30, tzinfo=UTC)})  # 22:30 PST on 24th
    draft = _build(JobSnapshot(**{**snap.__dict__, "job": late}))
    assert draft.txn_date.isoformat() == "2026-11-24"
