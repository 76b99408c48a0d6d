"""The inbox: store a delivery and apply its snapshot in one transaction, before the sender gets a 2xx.

- A redelivery (same source + event id) is recognised and changes nothing.
- A snapshot older than the one the job's rows reflect (by `occurred_at`) is kept but not applied.
- Two deliveries racing for the same job are serialised on the job's `JobSource` row (a row lock on
  PostgreSQL, the single writer on SQLite) and the whole transaction is retried on a lost race, so the
  newest snapshot wins whatever the commit order.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, select

from models.fsm_events import RUN_TYPES, FieldEvent
from models.integration import InboxEvent, InboxStatus, Installation, JobSource
from models.job_upsert import apply_event

log = logging.getLogger("fieldbridge.inbox")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SQLITE_WRITER = threading.Lock()


@dataclass(frozen=True)
class Receipt:
    """What the inbox did with a delivery; the ingress turns it into the answer to the sender."""

    event_id: str
    job_id: str
    status: InboxStatus
    duplicate: bool
    flow_run_id: str | None

    @property
    def needs_run(self) -> bool:
        return self.status is InboxStatus.RECEIVED and self.flow_run_id is None


def _now() -> datetime:
    return datetime.now(UTC)


def installation_id(engine: Engine) -> str:
    """This database's identity (created on first use); part of every run idempotency key."""
    key = str(engine.url)
    if key not in _INSTALLATIONS:
        with Session(engine) as s:
            row = s.exec(select(Installation)).first()
            if row is None:
                s.add(Installation(id=uuid.uuid4().hex, created_at=_now()))
                try:
                    s.commit()
                except IntegrityError:
                    s.rollback()
                row = s.exec(select(Installation)).first()
            assert row is not None
            _INSTALLATIONS[key] = row.id
    return _INSTALLATIONS[key]


_INSTALLATIONS: dict[str, str] = {}


def receive(engine: Engine, source: str, event: FieldEvent, default_timezone: str, attempts: int = 8) -> Receipt:
    """Store `event` and apply its snapshot atomically; retried when a concurrent delivery wins a race."""
    delay = 0.01
    for attempt in range(1, attempts + 1):
        try:
            if engine.dialect.name == "sqlite":
                # pysqlite reads outside its transaction, so SQLite cannot order two writers of one job by
                # itself; one process owns an SQLite file (the embedded default), and a lock orders it here
                with _SQLITE_WRITER:
                    return _receive_once(engine, source, event, default_timezone)
            return _receive_once(engine, source, event, default_timezone)
        except (IntegrityError, OperationalError) as exc:
            if attempt == attempts or not _is_race(exc):
                raise
            log.debug("inbox race on %s (attempt %d): %s", event.id, attempt, exc)
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
    raise AssertionError("unreachable")


def _is_race(exc: Exception) -> bool:
    """A unique violation, a serialisation failure or SQLite's busy snapshot: retrying re-reads and resolves it."""
    if isinstance(exc, IntegrityError):
        return True
    text = str(exc).lower()
    return any(s in text for s in ("database is locked", "could not serialize", "deadlock", "busy"))


def _receive_once(engine: Engine, source: str, event: FieldEvent, default_timezone: str) -> Receipt:
    job_id = event.data.job.id
    _ensure_job_source(engine, job_id)
    now = _now()
    with Session(engine, expire_on_commit=False) as s:
        seen = s.exec(select(InboxEvent).where(InboxEvent.source == source, InboxEvent.event_id == event.id)).first()
        if seen is not None:
            s.exec(update(InboxEvent).where(InboxEvent.id == seen.id).values(  # type: ignore[call-overload]
                deliveries=InboxEvent.deliveries + 1, last_delivery_at=now))
            s.commit()
            return Receipt(seen.event_id, seen.job_id, seen.status, True, seen.flow_run_id)
        current = s.exec(select(JobSource).where(JobSource.job_id == job_id).with_for_update()).one()
        if event.occurred_at < current.occurred_at:
            status = InboxStatus.SUPERSEDED
        else:
            apply_event(s, event, default_timezone)
            current.occurred_at, current.source, current.event_id = event.occurred_at, source, event.id
            s.add(current)
            status = InboxStatus.RECEIVED if event.type in RUN_TYPES else InboxStatus.APPLIED
        s.add(InboxEvent(source=source, event_id=event.id, type=event.type.value, job_id=job_id,
                         occurred_at=event.occurred_at, status=status, received_at=now,
                         payload=event.model_dump_json()))
        s.commit()
    return Receipt(event.id, job_id, status, False, None)


def _ensure_job_source(engine: Engine, job_id: str) -> None:
    """Insert the job's ordering row if absent (a no-op when a racer did), so it can be locked."""
    values = {"job_id": job_id, "occurred_at": _EPOCH, "source": "", "event_id": ""}
    stmt = (pg_insert if engine.dialect.name == "postgresql" else sqlite_insert)(JobSource.__table__)
    with engine.begin() as conn:
        conn.execute(stmt.values(**values).on_conflict_do_nothing(index_elements=["job_id"]))


def due_for_run(engine: Engine, older_than_seconds: float = 5.0, limit: int = 500) -> list[InboxEvent]:
    """Events whose flow run was never started (the ingress could not reach Prefect, or died after storing)."""
    cutoff = _now() - timedelta(seconds=older_than_seconds)
    with Session(engine) as s:
        return list(s.exec(
            select(InboxEvent).where(InboxEvent.status == InboxStatus.RECEIVED, InboxEvent.flow_run_id.is_(None),  # type: ignore[union-attr]
                                     InboxEvent.received_at <= cutoff)
            .order_by(InboxEvent.received_at).limit(limit)))


def started_run_ids(engine: Engine, limit: int = 5000) -> dict[str, str]:
    """flow run id → event id for the most recent started events (the sweeper checks them for crashes)."""
    with Session(engine) as s:
        rows = s.exec(select(InboxEvent.flow_run_id, InboxEvent.event_id)
                      .where(InboxEvent.status == InboxStatus.STARTED)
                      .order_by(InboxEvent.run_started_at.desc()).limit(limit))  # type: ignore[union-attr]
        return {run_id: event_id for run_id, event_id in rows if run_id}


def mark_started(engine: Engine, source: str, event_id: str, flow_run_id: str) -> None:
    with Session(engine) as s:
        s.exec(update(InboxEvent).where(InboxEvent.source == source, InboxEvent.event_id == event_id)  # type: ignore[call-overload]
               .values(status=InboxStatus.STARTED, flow_run_id=flow_run_id, run_started_at=_now(), last_error=None))
        s.commit()


def mark_many_started(engine: Engine, keys: list[tuple[str, str]], flow_run_id: str) -> None:
    """Several events handled by one run (a bulk run of a burst)."""
    if not keys:
        return
    with Session(engine) as s:
        for source in {src for src, _ in keys}:
            ids = [event_id for src, event_id in keys if src == source]
            s.exec(update(InboxEvent).where(InboxEvent.source == source, InboxEvent.event_id.in_(ids))  # type: ignore[call-overload, attr-defined]
                   .values(status=InboxStatus.STARTED, flow_run_id=flow_run_id, run_started_at=_now(), last_error=None))
        s.commit()


def release(engine: Engine, source: str, event_id: str, error: str) -> None:
    """Back to waiting for a run (the sweeper starts one): the run it had could not finish it nor hand it on."""
    with Session(engine) as s:
        s.exec(update(InboxEvent).where(InboxEvent.source == source, InboxEvent.event_id == event_id)  # type: ignore[call-overload]
               .values(status=InboxStatus.RECEIVED, flow_run_id=None, last_error=error[:2000]))
        s.commit()


def mark_start_failed(engine: Engine, source: str, event_id: str, error: str) -> None:
    with Session(engine) as s:
        s.exec(update(InboxEvent).where(InboxEvent.source == source, InboxEvent.event_id == event_id)  # type: ignore[call-overload]
               .values(last_error=error[:2000]))
        s.commit()


def get(engine: Engine, source: str, event_id: str) -> InboxEvent | None:
    with Session(engine) as s:
        return s.exec(select(InboxEvent).where(InboxEvent.source == source, InboxEvent.event_id == event_id)).first()


def find_event(engine: Engine, event_id: str) -> InboxEvent | None:
    """An event by its id alone (flow runs carry only the id; ids are unique per source)."""
    with Session(engine) as s:
        return s.exec(select(InboxEvent).where(InboxEvent.event_id == event_id)
                      .order_by(InboxEvent.received_at.desc())).first()  # type: ignore[attr-defined]


def latest_for_job(engine: Engine, job_id: str) -> InboxEvent | None:
    """The newest applied event of a job (what its canonical rows reflect)."""
    with Session(engine) as s:
        src = s.get(JobSource, job_id)
        if src is None or not src.event_id:
            return None
        return s.exec(select(InboxEvent).where(InboxEvent.source == src.source,
                                               InboxEvent.event_id == src.event_id)).first()


def counts(engine: Engine) -> dict[str, int]:
    with Session(engine) as s:
        rows = s.exec(select(InboxEvent.status, func.count()).group_by(InboxEvent.status))  # type: ignore[call-overload]
        return {str(status): n for status, n in rows}


def payload_of(row: InboxEvent) -> dict:
    return json.loads(row.payload)
