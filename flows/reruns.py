"""Which closed jobs need another `job-closed` run, and which earlier run each one replaces.

A job needs a rerun when fieldbridge's own records say it is not fully posted — an open quarantine, an
effect not DONE, no invoice effect at all — or when its latest `job-closed` run in Prefect failed or
crashed. The ledger makes a rerun of a posted job harmless, so `only_failed=False` simply reposts all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from models.canonical import Job, JobStatus
from models.integration import Effect, EffectStatus, Quarantine

FAILED_STATE_TYPES = ("FAILED", "CRASHED")


@dataclass(frozen=True)
class RerunCandidate:
    job_id: str
    closed_at: datetime
    reason: str
    replaces: str | None  # the failed / crashed / quarantined flow run this rerun stands in for


def closed_jobs(engine: Any, start: datetime, end: datetime) -> list[Job]:
    with Session(engine) as s:
        return list(s.exec(select(Job).where(Job.status == JobStatus.CLOSED, Job.closed_at >= start,  # type: ignore[operator]
                                             Job.closed_at < end).order_by(Job.closed_at)))  # type: ignore[operator]


def ledger_problems(engine: Any, job_ids: list[str]) -> dict[str, str]:
    """job id → why fieldbridge's own records say it is not fully posted."""
    problems: dict[str, str] = {}
    with Session(engine) as s:
        for q in s.exec(select(Quarantine).where(Quarantine.job_id.in_(job_ids),  # type: ignore[attr-defined]
                                                 Quarantine.released_at.is_(None))):  # type: ignore[union-attr]
            problems.setdefault(q.job_id, f"quarantined: {q.reason}")
        for e in s.exec(select(Effect).where(Effect.job_id.in_(job_ids),  # type: ignore[union-attr]
                                             Effect.status != EffectStatus.DONE)):
            problems.setdefault(e.job_id or "", f"{e.key} {e.status}: {(e.last_error or '')[:120]}")
        invoiced = set(s.exec(select(Effect.job_id).where(
            Effect.job_id.in_(job_ids), Effect.kind == "invoice",  # type: ignore[union-attr]
            Effect.status == EffectStatus.DONE)))
    for job_id in job_ids:
        if job_id not in invoiced:
            problems.setdefault(job_id, "not posted: no invoice recorded")
    return problems


def latest_runs(job_ids: list[str], since: datetime) -> dict[str, Any]:
    """job id → its latest `job-closed` flow run started since `since` (from the Prefect API)."""
    from prefect import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName, FlowRunFilter, FlowRunFilterExpectedStartTime
    from prefect.client.schemas.sorting import FlowRunSort

    wanted = set(job_ids)
    latest: dict[str, Any] = {}
    with get_client(sync_client=True) as client:
        offset = 0
        while True:
            page = client.read_flow_runs(
                flow_filter=FlowFilter(name=FlowFilterName(any_=["job-closed"])),
                flow_run_filter=FlowRunFilter(expected_start_time=FlowRunFilterExpectedStartTime(after_=since)),
                sort=FlowRunSort.EXPECTED_START_TIME_DESC, limit=200, offset=offset)
            for run in page:
                job_id = (run.parameters or {}).get("job_id")
                if job_id in wanted and job_id not in latest:
                    latest[job_id] = run
            if len(page) < 200:
                return latest
            offset += 200


def find_reruns(engine: Any, start: datetime, end: datetime, *, only_failed: bool = True,
                use_prefect: bool = True) -> list[RerunCandidate]:
    jobs = closed_jobs(engine, start, end)
    ids = [j.id for j in jobs]
    problems = ledger_problems(engine, ids) if ids else {}
    runs = latest_runs(ids, start) if ids and use_prefect else {}
    out = []
    for job in jobs:
        run = runs.get(job.id)
        failed_run = run is not None and run.state is not None and run.state.type.value in FAILED_STATE_TYPES
        reason = problems.get(job.id)
        if failed_run and reason is None:
            reason = f"last run {run.state.name}: {(run.state.message or '')[:120]}"
        if reason is None and only_failed:
            continue
        assert job.closed_at is not None
        out.append(RerunCandidate(job.id, job.closed_at, reason or "repost (converges; nothing posts twice)",
                                  str(run.id) if failed_run else None))
    return out
