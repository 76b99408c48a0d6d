"""The job report filed on the customer's CRM profile after a job closes: what was done, the parts, the time on
site and the technicians' notes — one per job, through the ledger, updated (not duplicated) when the job is edited.

The text is built from the validated snapshot alone (no clock, no vendor ids), so the same job always gives the
same report: a rerun finds it DONE with the same fingerprint and writes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pendulum

from connectors.contract.records import JobReport
from connectors.contract.roles import ReportingCRM
from models.canonical import EntryKind
from tasks.runtime import Runtime
from tasks.snapshot import JobSnapshot

REPORT_KIND = "job_report"


def report_key(job_id: str) -> str:
    """The report's marker at the CRM (a unique property or a marker line): one report per job."""
    return f"fb-report-{job_id}"


def effect_key(system: str, job_id: str) -> str:
    return f"{system}:report:{job_id}"


def _hours(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min"


def build_report(snap: JobSnapshot) -> JobReport:
    """The report of one validated job, as plain text a customer-facing CRM user can read."""
    job, site = snap.job, snap.site
    tz = site.timezone
    lines = [f"Job {job.id} — {job.description}", f"Site: {site.line1}, {site.city} {site.state} {site.postal_code}"]
    closed = pendulum.instance(job.closed_at).in_timezone(tz) if job.closed_at else None
    if closed is not None:
        lines.append(f"Closed: {closed.format('YYYY-MM-DD HH:mm')} ({tz})")
    lines += ["", "Work done:", f"  {job.resolution or job.description}"]
    on_site: dict[str, timedelta] = defaultdict(timedelta)
    first: dict[str, Any] = {}
    last: dict[str, Any] = {}
    for entry in snap.entries:
        if entry.kind is EntryKind.TRAVEL:
            continue
        on_site[entry.technician_id] += entry.end - entry.start
        first[entry.technician_id] = min(first.get(entry.technician_id, entry.start), entry.start)
        last[entry.technician_id] = max(last.get(entry.technician_id, entry.end), entry.end)
    if on_site:
        lines += ["", "Time on site:"]
        for tech_id in sorted(on_site):
            name = snap.technicians[tech_id].name if tech_id in snap.technicians else tech_id
            arrive = pendulum.instance(first[tech_id]).in_timezone(tz).format("HH:mm")
            leave = pendulum.instance(last[tech_id]).in_timezone(tz).format("HH:mm")
            lines.append(f"  {name}: {arrive}–{leave}, {_hours(on_site[tech_id])}")
    if snap.parts:
        lines += ["", "Parts:"]
        for part in sorted(snap.parts, key=lambda p: (p.sku, p.id)):
            item = snap.price_book.get(part.sku)
            qty = Decimal(part.quantity).normalize()
            lines.append(f"  {qty:f} × {item.name if item else part.sku} ({part.sku})")
    if snap.notes:
        lines += ["", "Technician notes:"]
        for note in sorted(snap.notes, key=lambda n: (n.created_at, n.id)):
            who = snap.technicians[note.technician_id].name if note.technician_id in snap.technicians \
                else note.technician_id
            lines.append(f"  {who}: {note.body}")
    return JobReport(key=report_key(job.id), job_id=job.id, title=f"Job report {job.id}", body="\n".join(lines),
                     timestamp=job.closed_at or snap.loaded_at)


def payload(report: JobReport) -> dict[str, str]:
    """What the ledger fingerprints: a changed text is a changed report."""
    return {"title": report.title, "body": report.body}


def files_reports(rt: Runtime) -> bool:
    """Reports are filed when the CRM can (`ReportingCRM`) and the operator has not turned them off."""
    return rt.settings.crm_job_reports and isinstance(rt.crm, ReportingCRM)


def file_report(rt: Runtime, snap: JobSnapshot, case_id: str) -> str | None:
    """The job's report on the customer's profile, exactly once; the vendor id of what holds it."""
    crm = rt.crm
    assert isinstance(crm, ReportingCRM)
    report = build_report(snap)
    outcome = rt.ledger.run(
        effect_key(crm.system, snap.job.id), system=crm.system, kind=REPORT_KIND, job_id=snap.job.id,
        payload=payload(report),
        lookup=lambda: crm.find_report(report.key, case_id),
        write=lambda existing: (crm.update_report(existing, case_id, report) if existing is not None
                                else crm.file_report(case_id, report)),
        summarize=lambda r: {"report_id": r.id},
        mutable=True,  # an edited job rewrites its report where it is, on every record it was filed on
    )
    return outcome.vendor_id
