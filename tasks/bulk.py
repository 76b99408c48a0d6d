"""The bulk path's work: many validated jobs, every effect through the ledger, written with the vendors' batch APIs.

Each function takes `{job_id: validated fingerprint}` and answers `{job_id: result}` where a result is what the
one-job function of `tasks/effects.py` returns, or a `failure(...)` dict. What a batch cannot do — a vendor
without a batch API, an effect that may already be at the vendor, a changed payload, a lost answer — goes
through the one-job functions, which look the vendor up first. So the bulk path keeps every guarantee of the
real-time path and costs fewer calls: one per 30 invoices (QuickBooks), one per 100 tickets or notes (HubSpot),
one per technician-day of the batch rather than per job (payroll has no batch API).
"""

from __future__ import annotations

import contextvars
import functools
import logging
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import date
from typing import Any

from connectors.contract import (
    BatchAccounting,
    BatchCRM,
    BatchReportingCRM,
    CaseNote,
    CaseResolution,
    NoteRequest,
    ReportRequest,
)
from connectors.contract.errors import ConnectorError, is_retryable
from models.ledger import ITEM_LOG_LEVEL, BatchEntry, BatchOutcome
from tasks import effects, job_report
from tasks.runtime import Runtime
from tasks.snapshot import JobChanged, fingerprint, load_jobs
from tasks.timesheets import affected_weeks, payroll_settings

log = logging.getLogger("fieldbridge.bulk")

Result = dict[str, Any]
PARALLEL_CALLS = 4  # one-record calls (sends, payroll days) in flight at once; the rate budget paces them


def failure(exc: BaseException) -> Result:
    """A job's failure as plain data (task results are persisted; vendor exceptions do not round-trip)."""
    kind = exc.failure_type.value if isinstance(exc, ConnectorError) else "bug"
    return {"error": str(exc), "kind": kind, "type": type(exc).__name__, "retryable": is_retryable(exc)}


def failed(result: Result) -> bool:
    return "error" in result


def one_at_a_time(fn: Callable[..., Result], *args: Any, retries: int | None = None,
                  backoff: float | None = None) -> Result:
    """A one-job function with the real-time tasks' retry policy: transient failures again with jittered
    exponential backoff, data and configuration errors at once."""
    from tasks.effect_tasks import BACKOFF, RETRIES

    retries = RETRIES if retries is None else retries
    backoff = BACKOFF if backoff is None else backoff
    for attempt in range(retries + 1):
        try:
            return fn(*args)
        except Exception as exc:
            if attempt == retries or not is_retryable(exc):
                log.warning("%s failed: %s", getattr(fn, "__name__", "a bulk step"), exc)
                return failure(exc)
            time.sleep(backoff * 2 ** attempt * random.uniform(0.5, 1.0))
    raise AssertionError("unreachable")


def _quiet(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Per-effect log lines at DEBUG while `fn` runs (its batches log their own summaries)."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        token = ITEM_LOG_LEVEL.set(logging.DEBUG)
        try:
            return fn(*args, **kwargs)
        finally:
            ITEM_LOG_LEVEL.reset(token)
    return wrapper


def parallel(fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
    """`fn` over `items`, PARALLEL_CALLS at a time, each in a copy of this context so its log lines still
    reach the Prefect run."""
    with ThreadPoolExecutor(PARALLEL_CALLS, thread_name_prefix="bulk") as pool:
        futures = [pool.submit(contextvars.copy_context().run, fn, item) for item in items]
        return [f.result() for f in futures]


def _snapshots(rt: Runtime, jobs: dict[str, str]) -> tuple[dict[str, Any], dict[str, Result]]:
    """The validated data of each job, loaded for the whole batch at once; a job that changed since its gate
    fails here (JobChanged), alone."""
    snaps: dict[str, Any] = {}
    problems: dict[str, Result] = {}
    loaded = load_jobs(list(jobs), rt.engine, accounting_system=rt.settings.accounting_system)
    for job_id, validated in jobs.items():
        snap = loaded[job_id]
        if isinstance(snap, Exception):
            problems[job_id] = failure(snap)
        elif fingerprint(snap) != validated:
            problems[job_id] = failure(JobChanged(job_id))
        else:
            snaps[job_id] = snap
    return snaps, problems


@_quiet
def resolve_cases(rt: Runtime, jobs: dict[str, str]) -> dict[str, Result]:
    """Tickets resolved, then notes and job reports created, one batch request per `batch_limit` of each."""
    crm = rt.crm
    if not isinstance(crm, BatchCRM):
        return {j: one_at_a_time(effects.resolve_case, j, rt, v) for j, v in jobs.items()}
    snaps, results = _snapshots(rt, jobs)
    cases = {j: CaseResolution(j, s.job.resolution or s.job.description, s.job.closed_at) for j, s in snaps.items()}
    tickets = [BatchEntry(f"{crm.system}:ticket:{j}", j,
                          {"resolution": c.resolution, "closed_at": c.closed_at.isoformat()}, c)
               for j, c in cases.items()]
    done = rt.ledger.run_batch(tickets, system=crm.system, kind="resolve_case", limit=crm.batch_limit,
                               write_many=lambda es: crm.resolve_cases([e.request for e in es]),
                               summarize=lambda r, e: {"ticket_id": r.id})
    notes = [BatchEntry(f"{crm.system}:note:{n.id}", j, {"body": n.body},
                        NoteRequest(str(done.done[f"{crm.system}:ticket:{j}"].vendor_id),
                                    CaseNote(f"fb-note-{n.id}", n.body, n.created_at)))
             for j, s in snaps.items() if f"{crm.system}:ticket:{j}" in done.done for n in s.notes]
    noted = rt.ledger.run_batch(notes, system=crm.system, kind="add_note", limit=crm.batch_limit,
                                write_many=lambda es: crm.add_notes([e.request for e in es]),
                                summarize=lambda r, e: {"note_id": r.id})
    reported = _file_reports(rt, {j: (s, str(done.done[f"{crm.system}:ticket:{j}"].vendor_id))
                                  for j, s in snaps.items() if f"{crm.system}:ticket:{j}" in done.done})
    for job_id, snap in snaps.items():
        ticket = f"{crm.system}:ticket:{job_id}"
        note_keys = [f"{crm.system}:note:{n.id}" for n in snap.notes]
        report_keys = [job_report.effect_key(crm.system, job_id)] if reported is not None else []
        if ticket in done.failed:
            results[job_id] = failure(done.failed[ticket])
        elif ticket not in done.done or any(k not in noted.done and k not in noted.failed for k in note_keys) \
                or any(k not in reported.done and k not in reported.failed for k in report_keys):
            results[job_id] = one_at_a_time(effects.resolve_case, job_id, rt, jobs[job_id])
        elif rejected := [noted.failed[k] for k in note_keys if k in noted.failed] + \
                [reported.failed[k] for k in report_keys if k in reported.failed]:
            results[job_id] = failure(rejected[0])
        else:
            results[job_id] = {"system": crm.system, "ticket_id": done.done[ticket].vendor_id,
                               "note_ids": [noted.done[k].vendor_id for k in note_keys]}
            if report_keys:
                results[job_id]["report_id"] = reported.done[report_keys[0]].vendor_id
    return results


def _file_reports(rt: Runtime, cases: dict[str, tuple[Any, str]]) -> BatchOutcome | None:
    """The jobs' reports (job → snapshot, case id), many per request where the CRM batches them; None when no
    reports are filed. A CRM without batch reports leaves every report to the one-at-a-time path."""
    crm = rt.crm
    if not job_report.files_reports(rt):
        return None
    entries = []
    for job_id, (snap, case_id) in cases.items():
        report = job_report.build_report(snap)
        entries.append(BatchEntry(job_report.effect_key(crm.system, job_id), job_id, job_report.payload(report),
                                  ReportRequest(case_id, report)))
    if not isinstance(crm, BatchReportingCRM):
        return BatchOutcome(left=entries)
    return rt.ledger.run_batch(entries, system=crm.system, kind=job_report.REPORT_KIND, limit=crm.batch_limit,
                               write_many=lambda es: crm.file_reports([e.request for e in es]),
                               summarize=lambda r, e: {"report_id": r.id})


@_quiet
def upsert_hours(rt: Runtime, jobs: dict[str, str]) -> dict[str, Result]:
    """Every technician-week the batch touches recomputed and written once — not once per job — so a day with
    four jobs costs one payroll call instead of four. The weeks are locked together (in key order, so two bulk
    runs cannot deadlock; the real-time path locks one week at a time), their new days claimed together."""
    snaps, results = _snapshots(rt, jobs)
    ps = payroll_settings(rt.settings)
    current = {j: affected_weeks(s.entries, ps) for j, s in snaps.items()}
    touched = {j: current[j] | effects._paid_weeks(rt, j) for j in snaps}
    weeks = sorted(set().union(*touched.values())) if touched else []
    by_week: dict[tuple[str, date], Result] = {}
    with ExitStack() as locks:
        for technician_id, week_start in weeks:
            locks.enter_context(rt.ledger.locked(effects.week_lock_key(rt, technician_id, week_start)))
        days: dict[tuple[str, date], list[effects.DayEffect]] = {}
        for tw in weeks:
            try:
                days[tw] = effects.day_effects(rt, *tw, ps)
            except Exception as exc:
                by_week[tw] = failure(exc)
        sheets = _write_days(rt, [d for ds in days.values() for d in ds])
        for tw, ds in days.items():
            problems = [sheets[d.key] for d in ds if failed(sheets[d.key])]
            by_week[tw] = problems[0] if problems else {"sheets": [sheets[d.key]["sheet"] for d in ds]}
    for job_id in snaps:
        problems = [by_week[tw] for tw in sorted(touched[job_id]) if failed(by_week[tw])]
        if problems:
            results[job_id] = problems[0]
            continue
        effects._remember_paid_weeks(rt, job_id, current[job_id])
        results[job_id] = {"system": rt.payroll.system,
                           "timesheets": [s for tw in sorted(touched[job_id]) for s in by_week[tw]["sheets"]]}
    return results


def _write_days(rt: Runtime, days: list[effects.DayEffect]) -> dict[str, Result]:
    """New days claimed together and created (payroll APIs take one sheet a call: PARALLEL_CALLS at once);
    changed days updated one by one with the version our last write returned."""
    payroll = rt.payroll

    def create(entry: BatchEntry) -> Any:
        try:
            return payroll.upsert_timesheet(entry.request.day, None)
        except ConnectorError as exc:
            return exc

    done = rt.ledger.run_batch([BatchEntry(d.key, None, d.payload, d) for d in days], system=payroll.system,
                               kind="timesheet", limit=max(1, len(days)), write_many=lambda b: parallel(create, b),
                               summarize=lambda r, e: e.request.summary(r))
    left = {e.key for e in done.left}

    def finish(day: effects.DayEffect) -> Result:
        if day.key in left:
            return one_at_a_time(lambda: {"sheet": effects.write_day(rt, day)})
        if day.key in done.failed:
            return failure(done.failed[day.key])
        outcome = done.done[day.key]
        return {"sheet": {**outcome.summary, "written": outcome.written}}

    return dict(zip([d.key for d in days], parallel(finish, days), strict=True))


@_quiet
def create_invoices(rt: Runtime, jobs: dict[str, str]) -> dict[str, Result]:
    """Customers and items ensured (once each across the batch), invoices created `batch_limit` per request,
    then each sent (its own effect: no vendor sends in batches)."""
    acc = rt.accounting
    if not isinstance(acc, BatchAccounting):
        return {j: one_at_a_time(effects.create_invoice, j, rt, v) for j, v in jobs.items()}
    snaps, results = _snapshots(rt, jobs)
    prepared: dict[str, effects.PreparedInvoice] = {}
    known_ids: dict[tuple[str, str], str] = {}
    for job_id, snap in snaps.items():
        ready = one_at_a_time(lambda s: {"invoice": effects.prepare_invoice(rt, s, known_ids)}, snap)
        if failed(ready):
            results[job_id] = ready
        else:
            prepared[job_id] = ready["invoice"]
    entries = [BatchEntry(p.key, j, p.payload, p) for j, p in prepared.items()]

    def write_many(batch: list[BatchEntry]) -> list[Any]:
        from connectors.contract import InvoiceRequest

        return acc.create_invoices([InvoiceRequest(e.request.draft, e.request.customer_id, e.request.item_ids,
                                                   e.attempt_key) for e in batch])

    done = rt.ledger.run_batch(entries, system=acc.system, kind="invoice", limit=acc.batch_limit,
                               write_many=write_many,
                               summarize=lambda r, e: effects.invoice_summary(r, e.request.draft))
    left = {e.job_id for e in done.left}
    sent = _send_new_invoices(rt, {j: p for j, p in prepared.items() if p.key in done.done}, done)

    def finish(job_id: str) -> tuple[str, Result]:
        p = prepared[job_id]
        if job_id in left:
            return job_id, one_at_a_time(effects.create_invoice, job_id, rt, jobs[job_id])
        if p.key in done.failed:
            return job_id, failure(done.failed[p.key])
        outcome = done.done[p.key]
        return job_id, one_at_a_time(effects.finish_invoice, rt, p, outcome, False, outcome.record,
                                     sent.get(job_id))

    results.update(parallel(finish, list(prepared)))
    return results


def _send_new_invoices(rt: Runtime, prepared: dict[str, effects.PreparedInvoice], created: Any) -> dict[str, str]:
    """Email the invoices this batch has just created, each its own ledger effect, claimed together: the
    vendor's answer to the create is the invoice, unsent — nothing to read first. Whatever is not fresh (sent
    before, a lost answer) is left to `finish_invoice`, which reads the invoice before sending."""
    acc = rt.accounting
    if not rt.settings.send_invoices:
        return {}
    entries = [BatchEntry(effects.send_key(acc.system, j), j, {"to": p.draft.customer.email},
                          (p.draft.customer.email, created.done[p.key].record))
               for j, p in prepared.items() if p.draft.customer.email and created.done[p.key].record is not None]

    def send(entry: BatchEntry) -> Any:
        to, invoice = entry.request
        try:
            return acc.send_invoice(invoice, to, entry.attempt_key)
        except ConnectorError as exc:
            return exc

    done = rt.ledger.run_batch(entries, system=acc.system, kind="invoice_send", limit=len(entries) or 1,
                               write_many=lambda batch: parallel(send, batch),
                               summarize=lambda r, e: {"sent_to": e.request[0], "already_sent": False})
    job_of = {e.key: e.job_id for e in entries}
    return {job_of[o.key]: f"sent to {o.summary['sent_to']}" for o in done.done.values() if o.written}
