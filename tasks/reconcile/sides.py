"""One frame per side for a window: what fieldbridge says should exist, and what each system holds.

The vendor sides are pulled through the role Protocols (`list_cases`, `list_timesheets`, `list_invoices`),
page by page, within each connector's rate budget; `on_page` is told after every page so a long pull
shows progress. A job the listing does not mention is looked up once by id before it is called missing
(its record may simply not have changed since the window opened).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pandas as pd
import pendulum
from sqlmodel import Session, select

from connectors.contract import CRM, Accounting, CaseSummary, InvoiceSummary, Payroll, TimesheetSummary
from models.canonical import Job, JobStatus, TimeEntry
from models.integration import Effect, EffectStatus, ExternalRef, Quarantine
from tasks.invoicing import build_invoice
from tasks.reconcile.drift import (
    CASE_COLUMNS,
    HOUR_COLUMNS,
    INVOICE_COLUMNS,
    JOB_COLUMNS,
    LEDGER_COLUMNS,
    SHEET_COLUMNS,
    empty,
)
from tasks.reconcile.window import Window
from tasks.runtime import Runtime
from tasks.snapshot import load_job
from tasks.timesheets import affected_weeks, payroll_settings, week_timesheets, workday_of

OnPage = Callable[[str, int, int], None]  # (side, pages so far, rows so far)

#: effects touched this recently may still be running: not called stuck
STUCK_AFTER = timedelta(minutes=10)


def cents(amount: Decimal) -> int:
    return int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def minutes(hours: Decimal) -> int:
    return int((hours * 60).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def closed_jobs(rt: Runtime, window: Window) -> list[str]:
    with Session(rt.engine) as s:
        return list(s.exec(select(Job.id).where(
            Job.status == JobStatus.CLOSED, Job.closed_at >= window.start, Job.closed_at < window.end,  # type: ignore[operator]
        ).order_by(Job.id)))


def canonical_side(rt: Runtime, window: Window) -> dict[str, Any]:
    """The jobs closed in the window with their expected invoice totals, the paid minutes of every workday
    their entries touch, the effects left unfinished, and every job id fieldbridge knows."""
    st = rt.settings
    job_ids = closed_jobs(rt, window)
    with Session(rt.engine) as s:
        held = set(s.exec(select(Quarantine.job_id).where(Quarantine.released_at.is_(None))))  # type: ignore[union-attr]
        refs = dict(s.exec(select(ExternalRef.canonical_id, ExternalRef.vendor_id).where(
            ExternalRef.system == rt.accounting.system, ExternalRef.entity == "customer")).all())
        known = list(s.exec(select(Job.id)))
        entries = list(s.exec(select(TimeEntry).where(TimeEntry.job_id.in_(job_ids)))) if job_ids else []  # type: ignore[attr-defined]
    jobs = []
    for job_id in job_ids:
        snap = load_job(job_id, rt.engine, accounting_system=rt.accounting.system)
        draft = build_invoice(snap, tax_rate=Decimal(st.tax_rate), currency=st.currency,
                              labour_item=st.labour_item_code, labour_taxable=st.labour_taxable,
                              timezone=st.company_timezone)
        jobs.append({"job_id": job_id, "customer_id": snap.customer.id, "expected_cents": cents(draft.total),
                     "accounting_customer": refs.get(snap.customer.id), "has_email": bool(snap.customer.email),
                     "held": job_id in held, "technician_id": min(snap.technicians, default=None),
                     "workday": _local_day(snap.job.closed_at, st.company_timezone)})
    ps = payroll_settings(st)
    touched = {(e.technician_id, workday_of(instant, ps)) for e in entries if e.job_id not in held
               for instant in (e.start, e.end - timedelta(microseconds=1))}
    hours = []
    for technician_id, week_start in sorted(affected_weeks([e for e in entries if e.job_id not in held], ps)):
        for day in week_timesheets(technician_id, week_start, ps, rt.engine):
            if (technician_id, day.workday) in touched:
                hours.append({"employee_id": day.employee_id, "workday": day.workday.isoformat(),
                              "technician_id": technician_id, "expected_minutes": minutes(
                                  day.regular_hours + day.overtime_hours + day.double_time_hours)})
    return {"jobs": _frame(jobs, JOB_COLUMNS), "hours": _frame(hours, HOUR_COLUMNS),
            "ledger": ledger_side(rt), "known_jobs": pd.Index(known)}


def ledger_side(rt: Runtime, now: datetime | None = None) -> pd.DataFrame:
    """Effects left in flight, failed, or claimed after an attempt, that no run holds right now."""
    now = now or datetime.now(UTC)
    with Session(rt.engine) as s:
        rows = s.exec(select(Effect).where(
            Effect.kind != "lock",
            (Effect.status.in_([EffectStatus.IN_FLIGHT, EffectStatus.FAILED]))  # type: ignore[attr-defined]
            | ((Effect.status == EffectStatus.PENDING) & (Effect.attempts > 0)),
            (Effect.lease_owner.is_(None)) | (Effect.lease_expires_at < now),  # type: ignore[union-attr]
            Effect.updated_at < now - STUCK_AFTER,  # type: ignore[operator]
        ).order_by(Effect.key)).all()
    return _frame([{"key": r.key, "system": r.system, "kind": r.kind, "job_id": r.job_id, "status": str(r.status),
                    "last_error": (r.last_error or "")[:300]} for r in rows], LEDGER_COLUMNS)


def _read_pages(side: str, pages: Iterable[list[Any]], on_page: OnPage) -> list[Any]:
    rows: list[Any] = []
    for n, page in enumerate(pages, 1):
        rows.extend(page)
        on_page(side, n, len(rows))
    return rows


def pull_cases(crm: CRM, window: Window, expected_jobs: list[str], on_page: OnPage) -> pd.DataFrame:
    rows: list[CaseSummary] = _read_pages("crm", crm.list_cases(window.start), on_page)
    listed = {r.job_id for r in rows}
    for job_id in expected_jobs:
        if job_id not in listed:  # unchanged since the window opened, or really missing: ask once
            found = crm.find_case(job_id)
            if found is not None:
                rows.append(CaseSummary(found.id, job_id, found.status == "resolved"))
    return _frame([{"case_id": r.id, "job_id": r.job_id, "resolved": r.resolved} for r in rows], CASE_COLUMNS)


def pull_sheets(payroll: Payroll, days: list[date], employee_ids: list[str], on_page: OnPage) -> pd.DataFrame:
    """Sheets of the workdays `days` span (the window's local days and every workday its jobs touch)."""
    rows: list[TimesheetSummary] = _read_pages(
        "payroll", payroll.list_timesheets(min(days), max(days), sorted(set(employee_ids))), on_page)
    wanted = set(employee_ids)
    return _frame([{"sheet_id": r.id, "employee_id": r.employee_id, "workday": r.workday.isoformat(),
                    "minutes": minutes(r.hours)} for r in rows if not wanted or r.employee_id in wanted],
                  SHEET_COLUMNS)


def pull_invoices(acc: Accounting, window: Window, expected_jobs: list[str], on_page: OnPage) -> pd.DataFrame:
    rows: list[InvoiceSummary] = _read_pages("accounting", acc.list_invoices(window.start), on_page)
    listed = {r.doc_number for r in rows}
    for job_id in expected_jobs:
        if job_id not in listed:
            found = acc.find_invoice(job_id)
            if found is not None:
                rows.append(acc.summarize_invoice(found))
    return _frame([{"invoice_id": r.id, "doc_number": r.doc_number, "customer_id": r.customer_id,
                    "total_cents": cents(r.total), "sent": r.sent} for r in rows], INVOICE_COLUMNS)


def _local_day(instant: datetime | None, timezone: str) -> str | None:
    return pendulum.instance(instant).in_timezone(timezone).date().isoformat() if instant else None


def workdays(hours: pd.DataFrame) -> list[date]:
    return sorted({date.fromisoformat(d) for d in hours["workday"]})


def _frame(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=columns) if rows else empty(columns)
