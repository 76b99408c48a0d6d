"""Safe repair: re-drive what is missing or different through the same ledgered effects the job ran.

Safe means: every write goes through the effect ledger (exactly-once across retries and crashes), a job
is re-validated by the quality gate before anything of it is posted, an invoice is only revised while it
is unsent and unpaid, and nothing is ever deleted, voided or credited at a vendor — duplicate and orphan
invoices are left for a person.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date

import pandas as pd
from sqlmodel import Session

from connectors.contract.errors import ConnectorError
from models.canonical import Job
from tasks.effects import create_invoice, resolve_case, upsert_hours, upsert_week
from tasks.quality import apply_gate
from tasks.runtime import Runtime
from tasks.timesheets import payroll_settings, week_start_of

log = logging.getLogger("fieldbridge.reconcile")

CRM_CLASSES = {"missing_case", "case_not_resolved"}
HOUR_CLASSES = {"missing_timesheet", "hours_mismatch"}
INVOICE_CLASSES = {"missing_invoice", "amount_mismatch", "customer_mismatch", "unsent_invoice"}
FOR_A_PERSON = {"duplicate_invoice", "orphan_invoice"}
CRM_KINDS = {"resolve_case", "add_note"}
ACCOUNTING_KINDS = {"invoice", "invoice_send", "customer", "item"}


@dataclass
class RepairReport:
    repaired: list[str] = field(default_factory=list)  # what was re-driven
    not_repaired: list[str] = field(default_factory=list)  # what failed again, and why
    for_a_person: int = 0  # duplicates and orphans, never touched

    def lines(self) -> list[str]:
        return [*(f"re-driven: {r}" for r in self.repaired), *(f"not repaired: {r}" for r in self.not_repaired)]


def repair(rt: Runtime, drift: pd.DataFrame) -> RepairReport:
    """Re-drive every repairable drift row once; report what could not be repaired and why."""
    report = RepairReport(for_a_person=int(drift["drift_class"].isin(FOR_A_PERSON).sum()))
    crm_jobs, invoice_jobs = set(), set()
    weeks: set[tuple[str, date]] = set()
    ps = payroll_settings(rt.settings)
    for row in drift.itertuples(index=False):
        cls = row.drift_class
        if cls in CRM_CLASSES:
            rt.ledger.reopen(f"{rt.crm.system}:ticket:{row.job_id}", cls)
            crm_jobs.add(row.job_id)
        elif cls in INVOICE_CLASSES:
            for suffix in ("invoice", "invoice-send"):  # each looks at the vendor first: no double write
                rt.ledger.reopen(f"{rt.accounting.system}:{suffix}:{row.job_id}", cls)
            invoice_jobs.add(row.job_id)
        elif cls in HOUR_CLASSES:
            technician, day = str(row.detail), date.fromisoformat(str(row.workday))
            rt.ledger.reopen(f"{rt.payroll.system}:timesheet:{technician}:{day.isoformat()}", cls)
            weeks.add((technician, week_start_of(day, ps)))
        elif cls == "ledger_stuck":
            kind, key = _stuck_kind(str(row.vendor_id)), str(row.vendor_id)
            if kind == "timesheet":
                technician, day_text = key.rsplit(":", 2)[-2:]
                weeks.add((technician, week_start_of(date.fromisoformat(day_text), ps)))
            elif row.job_id is not None and kind in CRM_KINDS:
                crm_jobs.add(row.job_id)
            elif row.job_id is not None and kind in ACCOUNTING_KINDS:
                invoice_jobs.add(row.job_id)
            elif row.job_id is not None:
                crm_jobs.add(row.job_id)
                invoice_jobs.add(row.job_id)
    gated: dict[str, str | None] = {}
    for job_id in sorted(crm_jobs | invoice_jobs):
        gated[job_id] = _gate(job_id, report)
    missing_cases = set(drift.loc[drift["drift_class"] == "missing_case", "job_id"])
    for job_id in sorted(crm_jobs):
        if gated[job_id] is not None:
            if job_id in missing_cases:  # gone from the CRM: open it again (found, not duplicated, by job id)
                _drive(report, f"reopened case of {job_id}", lambda j=job_id: _open_case(rt, j), quiet=True)
            _drive(report, f"case of {job_id}", lambda j=job_id: resolve_case(j, rt, gated[j]))
    for job_id in sorted(invoice_jobs):
        if gated[job_id] is not None:
            _drive(report, f"invoice of {job_id}", lambda j=job_id: create_invoice(j, rt, gated[j]))
    for job_id in sorted(gated):  # a job that never ran has no hours posted either; for the rest a no-op
        if gated[job_id] is not None:
            _drive(report, f"hours of {job_id}", lambda j=job_id: upsert_hours(j, rt, gated[j]), quiet=True)
    for technician, week_start in sorted(weeks):
        _drive(report, f"hours of {technician}, week of {week_start}",
               lambda t=technician, w=week_start: upsert_week(rt, t, w, ps))
    return report


def _open_case(rt: Runtime, job_id: str) -> None:
    with Session(rt.engine) as s:
        job = s.get(Job, job_id)
    assert job is not None
    rt.crm.open_case(job_id, f"{job.description} — {job_id}", f"Job {job_id} for customer {job.customer_id} "
                     "(opened again by the nightly reconciliation: the CRM no longer had it)")


def _stuck_kind(key: str) -> str:
    """An effect key is `system:kind:rest`."""
    parts = key.split(":", 2)
    return parts[1] if len(parts) > 2 else ""


def _gate(job_id: str, report: RepairReport) -> str | None:
    """Re-validate before posting anything of the job: a job never gated must not bypass the gate."""
    try:
        result, fingerprint = apply_gate(job_id)
    except ConnectorError as exc:
        report.not_repaired.append(f"job {job_id}: {exc}")
        return None
    if not result.success:
        report.not_repaired.append(f"job {job_id}: held by the quality gate ("
                                   f"{'; '.join(f.message for f in result.failures)})")
        return None
    return fingerprint


def _drive(report: RepairReport, what: str, action: object, quiet: bool = False) -> None:
    try:
        action()  # type: ignore[operator]
    except ConnectorError as exc:
        report.not_repaired.append(f"{what}: {exc}")
        log.warning("reconciliation could not repair the %s: %s", what, exc)
    else:
        if not quiet:
            report.repaired.append(what)
