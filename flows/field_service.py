"""field_service_sync(topic, item_id): a field-service system's webhook said something changed — read the job
and send it down the open API's path.

The webhook was stored and acknowledged by the ingress before this run started (models/webhook_inbox.py). Here:
1. find the job the item belongs to (a visit's, a time sheet entry's; a deleted entry's through fieldbridge's
   own copy of it);
2. read the whole job from the vendor and map it (connector); anything unmappable quarantines the job with the
   vendor's record named, and nothing is posted;
3. a closed job becomes an open-API event in the inbox, exactly as if the vendor had posted it to
   `/v1/events`: a redelivered or repeated webhook that finds the same job changes nothing, an edit after the
   job was posted is a `job.updated` that converges, a job reopened in the vendor is a `job.reopened`;
4. the inbox event's `job-closed` run is started (or, if Prefect cannot be reached, by the ingress sweeper).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run
from prefect.states import Failed, State
from prefect.tasks import exponential_backoff
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from connectors.contract import ConfigError, FieldService, PriceBook, SourceJob, SourceProblem
from flows.job_closed import transient_as_state
from flows.logs import route_fieldbridge_logs
from flows.starter import RunStarter
from models import inbox
from models.canonical import Expense, Job, JobStatus, PriceBookItem, TimeEntry
from models.fsm_events import RUN_TYPES, EventType, FieldEvent
from models.integration import ExternalRef, Quarantine
from models.job_upsert import SnapshotRejected
from tasks.effect_tasks import BACKOFF, RETRIES, retry_transient
from tasks.quality import artifact_key
from tasks.runtime import get_runtime

route_fieldbridge_logs()


def short_item(item_id: str) -> str:
    """A GraphQL global id (base64 of gid://Vendor/Type/123) as `Type-123` for run names; else its head."""
    try:
        text = base64.b64decode(item_id + "=" * (-len(item_id) % 4), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return item_id[:24]
    parts = text.removeprefix("gid://").split("/")
    return f"{parts[1]}-{parts[2]}" if text.startswith("gid://") and len(parts) == 3 else item_id[:24]


def _run_name() -> str:
    params = flow_run.parameters
    system = get_runtime().settings.field_service_system or "field-service"
    return f"{system}-{str(params.get('topic', '')).lower()}-{short_item(str(params.get('item_id', '')))}"


def _source() -> FieldService:
    source = get_runtime().field_service
    if source is None:
        raise ConfigError("fieldbridge", "no field-service system is configured: set FIELDBRIDGE_FIELD_SERVICE_SYSTEM "
                          "(`fieldbridge connectors` lists the installed ones)")
    return source


def price_book(engine: Any) -> PriceBook:
    with Session(engine) as s:
        items = list(s.exec(select(PriceBookItem)))
    return PriceBook(skus=frozenset(i.sku for i in items), names={i.name.lower(): i.sku for i in items})


def job_of_gone(engine: Any, system: str, gone: tuple[str, str]) -> tuple[str, str] | None:
    """A deleted child record (time entry, expense) → (fieldbridge job id, the vendor's job id), from fieldbridge's
    own copy: the vendor can no longer say which job it was on."""
    table = {"time_entry": TimeEntry, "expense": Expense}.get(gone[0])
    if table is None:
        return None
    with Session(engine) as s:
        row = s.get(table, gone[1])
        if row is None:
            return None
        ref = s.exec(select(ExternalRef).where(ExternalRef.system == system, ExternalRef.entity == "job",
                                               ExternalRef.canonical_id == row.job_id)).first()
        return (row.job_id, ref.vendor_id) if ref else None


def remember_refs(engine: Any, system: str, refs: tuple[tuple[str, str, str], ...]) -> None:
    """fieldbridge id ↔ vendor id for the job, its customer, site and technicians (ExternalRef). Several runs about
    one job (its visits' and its own webhooks) race here: a lost race is read again, and then agrees."""
    for attempt in range(3):
        with Session(engine, autoflush=False) as s:
            for entity, canonical, vendor in refs:
                if not canonical or not vendor:
                    continue
                row = s.exec(select(ExternalRef).where(ExternalRef.system == system, ExternalRef.entity == entity,
                                                       ExternalRef.canonical_id == canonical)).first()
                if row is None:
                    s.add(ExternalRef(system=system, entity=entity, canonical_id=canonical, vendor_id=vendor))
                elif row.vendor_id != vendor:
                    row.vendor_id = vendor
                    s.add(row)
            try:
                s.commit()
                return
            except IntegrityError:
                s.rollback()
                if attempt == 2:
                    raise


def quarantine_markdown(system: str, fetched: SourceJob, problems: list[SourceProblem]) -> str:
    lines = [f"# Job {fetched.job_id} quarantined: {fetched.label or system} could not be mapped", "",
             f"{len(problems)} record(s) of {fetched.label or 'the job'} have no counterpart in fieldbridge. "
             "**Nothing was posted** to the CRM, payroll or accounting. Fix the mapping (the connector's docs) or the "
             "record in the field-service system; the next change to the job, or `fieldbridge sync "
             f"{fetched.job_id}`, reads it again.", "", "| record | what is wrong |", "|---|---|"]
    lines += [f"| {p.record} | {p.message} |" for p in problems]
    if fetched.url:
        lines += ["", f"Open it: {fetched.url}"]
    return "\n".join(lines)


def quarantine(engine: Any, system: str, fetched: SourceJob, problems: list[SourceProblem]) -> str:
    """Hold the job back with the vendor's records named (the gate releases it once a later run passes)."""
    reason = "; ".join(f"{p.record}: {p.message}" for p in problems)
    failures = [{"check": f"{system}_mapping", "table": "source", "message": f"{p.record}: {p.message}", "rows": []}
                for p in problems]
    with Session(engine) as s:
        open_row = s.exec(select(Quarantine).where(Quarantine.job_id == fetched.job_id,
                                                   Quarantine.released_at.is_(None))).first()  # type: ignore[union-attr]
        if open_row is None or open_row.reason != reason:
            if open_row is not None:
                open_row.released_at = datetime.now(UTC)  # superseded by what is wrong now
                s.add(open_row)
            s.add(Quarantine(job_id=fetched.job_id, reason=reason, failures=json.dumps(failures),
                             created_at=datetime.now(UTC)))
            s.commit()
    create_markdown_artifact(markdown=quarantine_markdown(system, fetched, problems),
                             key=artifact_key("quarantine", fetched.job_id),
                             description=f"Job {fetched.job_id}: records of {system} that could not be mapped")
    return reason


def release_mapping_quarantine(engine: Any, system: str, job_id: str) -> None:
    """A read that maps cleanly ends a mapping quarantine (the gate's own quarantines are the gate's to end)."""
    with Session(engine) as s:
        rows = s.exec(select(Quarantine).where(Quarantine.job_id == job_id,
                                               Quarantine.released_at.is_(None))).all()  # type: ignore[union-attr]
        mapping = [r for r in rows if f'"check": "{system}_mapping"' in r.failures]
        for row in mapping:
            row.released_at = datetime.now(UTC)
            s.add(row)
        if mapping:
            s.commit()


def to_event(system: str, fetched: SourceJob, latest: Any) -> FieldEvent | None:
    """The inbox event for what was read, or None when it is what the job's latest event already says."""
    assert fetched.snapshot is not None
    if fetched.closed:
        kind = EventType.JOB_UPDATED if latest is not None and latest.source == system else EventType.JOB_CLOSED
    else:
        kind = EventType.JOB_REOPENED
    # ordered by when the read began: of two runs racing on one job, the one that began later read data at least
    # as new, and the inbox never lets an older read overwrite it
    read_at = fetched.read_at or datetime.now(UTC)
    candidate = {"id": "pending", "type": kind.value, "occurred_at": read_at.isoformat(), "data": fetched.snapshot}
    event = FieldEvent.model_validate(candidate)
    data = event.data.model_dump(mode="json")
    if latest is not None:
        same_data = json.loads(latest.payload)["data"] == data
        same_side = (EventType(latest.type) in RUN_TYPES) == fetched.closed
        if same_data and same_side:
            return None
    # the same read after the same latest event is the same event (two runs racing on one job agree on it)
    digest = hashlib.sha256(json.dumps([kind.value, data, latest.event_id if latest else ""],
                                       sort_keys=True).encode()).hexdigest()[:24]
    return event.model_copy(update={"id": f"{system}:{fetched.job_id}:{digest}"})


#: a vendor away longer than the client's own retries: the task tries again (the webhook is stored either way)
_RETRIES: dict[str, Any] = {"retries": RETRIES, "retry_delay_seconds": exponential_backoff(backoff_factor=BACKOFF),
                            "retry_jitter_factor": 0.5, "retry_condition_fn": retry_transient}


@task(name="field-service-locate", task_run_name="locate-{topic}", **_RETRIES)
def locate(topic: str, item_id: str) -> tuple[str | None, str | None, str | None]:
    """(fieldbridge job id if known, the vendor's job id, why nothing is to be done)."""
    rt = get_runtime()
    source = _source()
    item = source.locate(topic, item_id)
    if item.ignored:
        return None, None, item.ignored
    if item.gone is not None:
        found = job_of_gone(rt.engine, source.system, item.gone)
        if found is None:
            return None, None, f"{item.gone[0]} {item.gone[1]} was deleted and fieldbridge never had it"
        return found[0], found[1], None
    return None, item.job, None


@task(name="field-service-fetch", task_run_name="fetch-job", **_RETRIES)
def fetch(vendor_job_id: str) -> SourceJob | None:
    rt = get_runtime()
    return _source().fetch_job(vendor_job_id, price_book(rt.engine))


@flow(name="field-service-sync", flow_run_name=_run_name, log_prints=False)
def field_service_sync(topic: str, item_id: str, occurred_at: str = "") -> dict[str, Any] | State:
    """Read the job a field-service webhook is about and post it through the inbox (see the module docstring)."""
    return transient_as_state(lambda: _sync(topic, item_id), f"{topic} {item_id}")


def _sync(topic: str, item_id: str) -> dict[str, Any] | State:
    logger = get_run_logger()
    rt = get_runtime()
    system = _source().system
    known_job, vendor_job, ignored = locate(topic, item_id)
    if vendor_job is None:
        logger.info("%s %s: nothing to do (%s)", topic, short_item(item_id), ignored)
        return {"outcome": "ignored", "why": ignored}
    fetched = fetch(vendor_job)
    if fetched is None:
        logger.info("%s %s: the job is gone from %s; what was posted stays", topic, short_item(item_id), system)
        return {"outcome": "ignored", "why": f"job {known_job or vendor_job} no longer exists in {system}"}
    remember_refs(rt.engine, system, fetched.refs)
    if not fetched.closed and not _closed_here(rt.engine, fetched.job_id):
        logger.info("%s: still open in %s, nothing to post yet", fetched.label, system)
        return {"outcome": "open", "job_id": fetched.job_id}
    problems = list(fetched.problems)
    event = None
    if not problems:
        try:
            event = to_event(system, fetched, inbox.latest_for_job(rt.engine, fetched.job_id))
        except ValidationError as exc:
            problems = [SourceProblem(fetched.label, f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}")
                        for e in exc.errors(include_url=False, include_input=False)]
    if problems:
        reason = quarantine(rt.engine, system, fetched, problems)
        logger.warning("job %s (%s) quarantined, nothing posted: %s", fetched.job_id, fetched.label, reason)
        return Failed(name="Quarantined", message=f"job {fetched.job_id} quarantined, nothing posted: {reason}")
    release_mapping_quarantine(rt.engine, system, fetched.job_id)
    if event is None:
        logger.info("job %s (%s): unchanged since its last event, nothing to do", fetched.job_id, fetched.label)
        return {"outcome": "unchanged", "job_id": fetched.job_id}
    try:
        receipt = inbox.receive(rt.engine, system, event, rt.settings.company_timezone)
    except SnapshotRejected as exc:
        reason = quarantine(rt.engine, system, fetched, [SourceProblem(fetched.label, f"{exc.path}: {exc}")])
        return Failed(name="Quarantined", message=f"job {fetched.job_id} quarantined, nothing posted: {reason}")
    if receipt.status.value == "superseded":
        logger.info("job %s (%s): a read that began later was applied first; this older one is kept, not applied",
                    fetched.job_id, fetched.label)
    run_id = receipt.flow_run_id
    if receipt.needs_run:
        run_id = RunStarter().start_for_event(rt.engine, system, receipt.event_id, receipt.job_id)
    logger.info("job %s (%s): %s %s, job-closed run %s", fetched.job_id, fetched.label, event.type.value,
                receipt.status.value, run_id or "left to the sweeper")
    return {"outcome": event.type.value, "job_id": fetched.job_id, "event_id": receipt.event_id,
            "status": receipt.status.value, "flow_run_id": run_id}


def _closed_here(engine: Any, job_id: str) -> bool:
    """Whether fieldbridge has the job closed (a job reopened in the vendor must then be reopened here)."""
    with Session(engine) as s:
        job = s.get(Job, job_id)
        return job is not None and job.status == JobStatus.CLOSED
