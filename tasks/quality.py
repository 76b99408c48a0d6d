"""The quality gate as a Prefect task: quarantine + artifact + a Failed run, or release and pass."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from connectors.contract.errors import DataError
from models.integration import Quarantine, ValidatedJob
from tasks.runtime import get_runtime
from tasks.snapshot import fingerprint, load_job, load_jobs
from tasks.validate import ValidationReport, validate_job, validate_jobs


class QualityGateFailed(DataError):
    """The job failed its expectation suite; it is quarantined and nothing was posted."""


def artifact_key(prefix: str, job_id: str) -> str:
    return f"{prefix}-" + re.sub(r"[^a-z0-9-]+", "-", job_id.lower()).strip("-")


def quarantine_markdown(report: ValidationReport) -> str:
    lines = [
        f"# Job {report.job_id} quarantined",
        "",
        f"{len(report.failures)} of {report.checks_run} checks failed. **Nothing was posted** to the CRM, "
        "payroll or accounting. Fix the data in the field-service system and rerun the flow: a passing "
        "run releases the job.",
        "",
        "| check | table | what is wrong | rows |",
        "|---|---|---|---|",
    ]
    for f in report.failures:
        lines.append(f"| `{f.check}` | {f.table} | {f.message} | {', '.join(f.rows) or '(table)'} |")
    return "\n".join(lines)


def apply_gate(job_id: str) -> tuple[ValidationReport, str]:
    """Validate; on failure write the Quarantine row and raise, on success release any old quarantine."""
    rt = get_runtime()
    snap = load_job(job_id, rt.engine, accounting_system=rt.settings.accounting_system)
    report = validate_job(snap)
    _record_verdicts(rt.engine, [report])
    return report, fingerprint(snap)


def apply_gates(job_ids: list[str]) -> dict[str, tuple[ValidationReport, str] | Exception]:
    """The gate for many jobs at once (the bulk path): one validation run for all, the same rows written. A job
    that cannot even be loaded (unknown, not closed) is its own exception; the others go on."""
    rt = get_runtime()
    out: dict[str, tuple[ValidationReport, str] | Exception] = {}
    snaps = []
    for job_id, loaded in load_jobs(job_ids, rt.engine, accounting_system=rt.settings.accounting_system).items():
        if isinstance(loaded, DataError):
            out[job_id] = loaded
        else:
            snaps.append(loaded)
    reports = validate_jobs(snaps)
    _record_verdicts(rt.engine, reports)
    for snap, report in zip(snaps, reports, strict=True):
        out[snap.job.id] = (report, fingerprint(snap))
    return {j: out[j] for j in job_ids}


def _record_verdicts(engine: Any, reports: list[ValidationReport]) -> None:
    """Quarantine each failed job; release and mark validated each passed one (one transaction)."""
    now = datetime.now(UTC)
    ids = [r.job_id for r in reports]
    if not ids:
        return
    with Session(engine) as s:
        open_rows = list(s.exec(select(Quarantine).where(Quarantine.job_id.in_(ids),  # type: ignore[attr-defined]
                                                         Quarantine.released_at.is_(None))))  # type: ignore[union-attr]
        passed_rows = {v.job_id: v for v in s.exec(select(ValidatedJob).where(ValidatedJob.job_id.in_(ids)))}  # type: ignore[attr-defined]
        for report in reports:
            if report.success:
                for row in open_rows:
                    if row.job_id == report.job_id:
                        row.released_at = now
                        s.add(row)
                passed = passed_rows.get(report.job_id) or ValidatedJob(job_id=report.job_id)
                passed.passed_at, passed.checks_run = now, report.checks_run
                s.add(passed)
            else:
                s.add(Quarantine(job_id=report.job_id, created_at=now,
                                 reason="; ".join(f.message for f in report.failures),
                                 failures=json.dumps([f.as_dict() for f in report.failures])))
        try:
            s.commit()
        except IntegrityError:
            # two workers gated the same new job at once and the other inserted its ValidatedJob row
            # first: the same verdict on the same data, so theirs stands (not a failure of this run)
            s.rollback()
            if len(reports) > 1:
                for report in reports:  # which one raced is unknown: record them one by one
                    _record_verdicts(engine, [report])
                return
            if not reports[0].success or s.get(ValidatedJob, reports[0].job_id) is None:
                raise


@task(name="quality-gate", task_run_name="quality-gate-{job_id}", tags=["validation"])
def quality_gate(job_id: str) -> str:
    """Returns the fingerprint of the validated data; raises QualityGateFailed with a dispatcher-readable message."""
    report, validated = apply_gate(job_id)
    if report.success:
        return validated
    create_markdown_artifact(markdown=quarantine_markdown(report), key=artifact_key("quarantine", job_id),
                             description=f"Job {job_id} failed its quality checks")
    problems = "; ".join(f"{f.message} ({', '.join(f.rows)})" if f.rows else f.message for f in report.failures)
    raise QualityGateFailed("fieldbridge", f"job {job_id} quarantined, nothing posted: {problems}")
