"""The effect ledger: claim a deterministic key before a vendor write, record the vendor id after.

Protocol for one effect key (DESIGN.md §3.1):
1. ensure a row exists for the key (primary key = key, so two racers get one row);
2. take the row's lease with a conditional UPDATE — only one worker runs an effect at a time;
3. DONE with the same payload → nothing to do, no vendor call;
4. anything that might have reached the vendor before (IN_FLIGHT, FAILED, DONE-but-changed) →
   look the record up at the vendor first, then create or update;
5. mark IN_FLIGHT and commit *before* the call, record DONE + vendor id after it.
A crash between the vendor's commit and ours leaves IN_FLIGHT, and step 4 finds the record.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from connectors.contract.errors import ConnectorError, DataError, FailureType, TransientError
from connectors.contract.records import VendorRecord
from connectors.contract.redact import scrub
from connectors.contract.roles import BatchResult
from models.db import get_engine
from models.integration import Effect, EffectStatus

log = logging.getLogger("fieldbridge.ledger")

#: the level of the one line each finished effect logs: INFO on the real-time path (a job's few effects read as
#: its story), DEBUG in bulk runs, where 10,000 jobs would bury a run's log under 50,000 lines (each batch
#: logs its own summary instead)
ITEM_LOG_LEVEL: ContextVar[int] = ContextVar("fieldbridge_ledger_item_log_level", default=logging.INFO)


class EffectBusy(TransientError):
    """Another worker holds this effect's lease; try again shortly."""


class LeaseLost(TransientError):
    """Our lease expired and another worker took the effect over while we were calling the vendor."""


class EffectDrift(DataError):
    """A write-once record (an invoice) exists with different content than we would write now."""


def payload_hash(payload: Any) -> str:
    """A stable fingerprint of what we intend to write, to skip identical rewrites."""
    text = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass
class EffectOutcome:
    key: str
    vendor_id: str | None
    written: bool  # a vendor write happened in this call
    summary: dict[str, Any] = field(default_factory=dict)
    record: VendorRecord | None = None  # the vendor's answer, when this call wrote


@dataclass
class BatchEntry:
    """One effect of a batch: its key and fingerprinted payload as `Ledger.run` takes them, and `request`,
    what the batch writer sends for it. `attempt_key` is filled in by `run_batch` (the vendor idempotency key)."""

    key: str
    job_id: str | None
    payload: Any
    request: Any
    attempt_key: str = ""


@dataclass
class BatchOutcome:
    """How each entry of a batch ended: written or already done, rejected by the vendor, or left for the
    one-at-a-time path (`Ledger.run`), which handles everything a batch does not: a row another run holds, an
    earlier attempt that may have landed, a changed payload, a request whose outcome is unknown."""

    done: dict[str, EffectOutcome] = field(default_factory=dict)
    failed: dict[str, ConnectorError] = field(default_factory=dict)
    left: list[BatchEntry] = field(default_factory=list)


def _now() -> datetime:
    return datetime.now(UTC)


class Ledger:
    """Leases are short (20 s) and renewed every third of that while their holder works, so a worker killed
    mid-effect holds its jobs for seconds, not minutes. On PostgreSQL they are stamped and compared with the
    database's clock: workers on several hosts never disagree about whether a lease has expired."""

    def __init__(self, engine: Engine | None = None, lease_seconds: float = 20.0, wait_seconds: float = 30.0) -> None:
        self.engine = engine or get_engine()
        self.lease_seconds = lease_seconds
        self.wait_seconds = wait_seconds
        self._db_clock = self.engine.dialect.name == "postgresql"

    def _now(self) -> Any:
        """Now, as the lease comparisons see it: the database's clock where there are several hosts
        (PostgreSQL), this machine's where there is one (SQLite)."""
        return func.clock_timestamp() if self._db_clock else _now()

    def _lease_end(self) -> Any:
        return self._now() + timedelta(seconds=self.lease_seconds)

    def _ensure_row(self, key: str, system: str, kind: str, job_id: str | None) -> None:
        with Session(self.engine) as session:
            if session.get(Effect, key) is not None:
                return
            session.add(Effect(key=key, system=system, kind=kind, job_id=job_id, updated_at=_now()))
            try:
                session.commit()
            except IntegrityError:
                session.rollback()  # a racer inserted it first: fine, it is one row either way

    def _try_lease(self, key: str, owner: str) -> bool:
        with Session(self.engine) as session:
            result = session.exec(  # type: ignore[call-overload]
                update(Effect)
                .where(Effect.key == key)
                .where((Effect.lease_owner.is_(None)) | (Effect.lease_expires_at < self._now()))  # type: ignore[union-attr]
                .values(lease_owner=owner, lease_expires_at=self._lease_end())
            )
            session.commit()
            return result.rowcount == 1

    def _acquire(self, key: str, owner: str, wait_seconds: float | None = None) -> None:
        deadline = time.monotonic() + (self.wait_seconds if wait_seconds is None else wait_seconds)
        delay = 0.05
        told = False
        while not self._try_lease(key, owner):
            if time.monotonic() > deadline:
                raise EffectBusy("ledger", f"effect {key} is being written by another run")
            if not told and delay >= 1.0:
                log.info("%s is held by another run: waiting for it", key)
                told = True
            time.sleep(delay)
            delay = min(delay * 2, 1.0)

    def _update(self, key: str, owner: str, **values: Any) -> bool:
        """Update the row only while we still hold its lease; False if we lost it."""
        return self._update_many([key], owner, **values) == 1

    def _renewing(self, key: str, owner: str) -> AbstractContextManager[None]:
        """Extend the lease while a (possibly slow, retrying) vendor call runs, so it never lapses mid-call."""
        return self._renewing_many([key], owner)

    def attempt_key(self, key: str) -> str:
        """The vendor idempotency key for this effect. It stays the same across transient retries, so a
        request that may have landed is deduplicated by the vendor too; it changes only after the vendor
        *rejected* a request (FAILED), because a vendor replays its first answer to a repeated key and a
        fixed request would otherwise get the old rejection forever."""
        row = self.get(key)
        return f"{key}#{row.rejections if row else 0}"

    @contextmanager
    def locked(self, key: str, wait_seconds: float = 900.0) -> Iterator[None]:
        """Hold a lease on a lock row for a compute-then-write section (e.g. one technician's workweek),
        so concurrent runs serialise the whole recomputation, not just each write. Waiting is patient (15
        minutes by default): the holder renews its lease only while it is alive, so a long wait means it is
        working — e.g. spacing its vendor calls under a tight quota — and a dead holder frees the lock within
        one lease. Giving up after 30 s turned a busy technician-week into failed runs that needed a person."""
        owner = uuid.uuid4().hex
        self._ensure_row(key, "lock", "lock", None)
        self._acquire(key, owner, wait_seconds)
        try:
            with self._renewing(key, owner):
                yield
        finally:
            self._update(key, owner, lease_owner=None, lease_expires_at=None)

    def reopen(self, key: str, reason: str) -> bool:
        """Reconciliation found the vendor no longer holds what a DONE effect wrote (deleted, changed by
        hand): the next run looks the record up first, then writes what is missing. The vendor idempotency
        key moves on (a vendor would replay its first answer to the old one, naming a record now gone).
        False when there is no finished row to reopen, or a run holds it right now."""
        with Session(self.engine) as session:
            result = session.exec(  # type: ignore[call-overload]
                update(Effect).where(Effect.key == key).where(Effect.status == EffectStatus.DONE)
                .where((Effect.lease_owner.is_(None)) | (Effect.lease_expires_at < self._now()))  # type: ignore[union-attr]
                .values(status=EffectStatus.PENDING, attempts=Effect.attempts + 1, rejections=Effect.rejections + 1,
                        last_error=f"reopened: {reason}"[:2000], updated_at=_now())
            )
            session.commit()
            return result.rowcount == 1

    def run_batch(
        self,
        entries: list[BatchEntry],
        *,
        system: str,
        kind: str,
        write_many: Callable[[list[BatchEntry]], list[BatchResult]],
        limit: int,
        summarize: Callable[[VendorRecord, BatchEntry], dict[str, Any]] = lambda r, e: {},
    ) -> BatchOutcome:
        """The ledger protocol for many effects and one vendor call per `limit` of them (the bulk path).

        Only *fresh* effects — never attempted, so nothing of them can be at the vendor — are written in
        batches: claimed with set-based statements, marked IN_FLIGHT and committed before the call, DONE per
        item after it. Effects DONE with the same payload are skipped. Everything else is `left` for `run`,
        which looks the vendor up first. A batch whose answer is lost stays IN_FLIGHT and is left too, so the
        next step finds what landed: exactly once holds item by item, as in `run`."""
        out = BatchOutcome()
        if not entries:
            return out
        owner = uuid.uuid4().hex
        by_key = {e.key: e for e in entries}
        self._ensure_rows(list(by_key), system, kind, {e.key: e.job_id for e in entries})
        self._lease_many(list(by_key), owner)
        with Session(self.engine) as session:
            rows = {r.key: r for r in self._select_many(session, list(by_key)) if r.lease_owner == owner}
        fresh: list[BatchEntry] = []
        digests: dict[str, str] = {}
        for entry in entries:
            row = rows.get(entry.key)
            if row is None:  # another run holds it: `run` waits for it
                out.left.append(entry)
                continue
            digests[entry.key] = payload_hash(entry.payload)
            if row.status is EffectStatus.DONE and row.payload_hash == digests[entry.key]:
                out.done[entry.key] = EffectOutcome(entry.key, row.vendor_id, False, json.loads(row.summary or "{}"))
            elif row.status is EffectStatus.PENDING and row.attempts == 0:
                entry.attempt_key = f"{entry.key}#{row.rejections}"
                fresh.append(entry)
            else:
                out.left.append(entry)
        fresh_keys = {e.key for e in fresh}
        self._release_many([k for k in rows if k not in fresh_keys], owner)
        if not fresh:
            return out
        fresh = self._mark_in_flight(fresh, owner, out)
        try:
            with self._renewing_many([e.key for e in fresh], owner):
                for start in range(0, len(fresh), limit):
                    chunk = fresh[start:start + limit]
                    try:
                        answers = write_many(chunk)
                    except ConnectorError as exc:
                        answers = [exc] * len(chunk)
                    if len(answers) != len(chunk):
                        raise RuntimeError(f"{system} answered {len(answers)} items for a batch of {len(chunk)}")
                    self._record_answers(chunk, answers, owner, digests, summarize, out)
        except Exception as exc:  # a bug, not a vendor answer: what was sent is unknown — keep IN_FLIGHT
            unrecorded = [e.key for e in fresh if e.key not in out.done and e.key not in out.failed
                          and e not in out.left]
            self._update_many(unrecorded, owner, last_error=scrub(f"{type(exc).__name__}: {exc}")[:2000])
            raise
        finally:
            self._release_many([e.key for e in fresh], owner)
        log.info("%s %s batch: %d written or done, %d rejected, %d left for one-by-one", system, kind,
                 len(out.done), len(out.failed), len(out.left))
        return out

    def _record_answers(self, chunk: list[BatchEntry], answers: list[BatchResult], owner: str,
                        digests: dict[str, str], summarize: Callable[[VendorRecord, BatchEntry], dict[str, Any]],
                        out: BatchOutcome) -> None:
        """One transaction per chunk: DONE with the vendor id, FAILED with the item's own rejection, or still
        IN_FLIGHT (transient, outcome unknown) and left for `run` to look up."""
        with Session(self.engine) as session:
            for entry, answer in zip(chunk, answers, strict=True):
                mine = (Effect.key == entry.key) & (Effect.lease_owner == owner)
                if isinstance(answer, ConnectorError):
                    values: dict[str, Any] = {"last_error": scrub(str(answer))[:2000], "updated_at": _now()}
                    if answer.failure_type is FailureType.TRANSIENT:
                        out.left.append(entry)
                    else:
                        values.update(status=EffectStatus.FAILED, rejections=Effect.rejections + 1)
                        out.failed[entry.key] = answer
                    session.exec(update(Effect).where(mine).values(**values))  # type: ignore[call-overload]
                    continue
                summary = summarize(answer, entry)
                result = session.exec(update(Effect).where(mine).values(  # type: ignore[call-overload]
                    status=EffectStatus.DONE, vendor_id=answer.id, vendor_version=answer.version,
                    payload_hash=digests[entry.key], summary=json.dumps(summary, default=str), last_error=None,
                    updated_at=_now()))
                if result.rowcount != 1:  # lost the lease mid-call: `run` will look it up and adopt it
                    out.left.append(entry)
                    continue
                out.done[entry.key] = EffectOutcome(entry.key, answer.id, True, summary, answer)
            session.commit()

    def _ensure_rows(self, keys: list[str], system: str, kind: str, job_ids: dict[str, str | None]) -> None:
        with Session(self.engine) as session:
            have = {r.key for r in self._select_many(session, keys)}
            missing = [k for k in keys if k not in have]
            if not missing:
                return
            session.add_all(Effect(key=k, system=system, kind=kind, job_id=job_ids[k], updated_at=_now())
                            for k in missing)
            try:
                session.commit()
                return
            except IntegrityError:
                session.rollback()
        for key in missing:  # a racer inserted some of them: one at a time, tolerant of each
            self._ensure_row(key, system, kind, job_ids[key])

    @staticmethod
    def _select_many(session: Session, keys: list[str]) -> list[Effect]:
        rows: list[Effect] = []
        for start in range(0, len(keys), 500):
            rows.extend(session.exec(select(Effect).where(Effect.key.in_(keys[start:start + 500]))))  # type: ignore[attr-defined]
        return rows

    def _lease_many(self, keys: list[str], owner: str) -> None:
        with Session(self.engine) as session:
            for start in range(0, len(keys), 500):
                session.exec(update(Effect)  # type: ignore[call-overload]
                             .where(Effect.key.in_(keys[start:start + 500]))  # type: ignore[attr-defined]
                             .where((Effect.lease_owner.is_(None)) | (Effect.lease_expires_at < self._now()))  # type: ignore[union-attr]
                             .values(lease_owner=owner, lease_expires_at=self._lease_end()))
            session.commit()

    def _update_many(self, keys: list[str], owner: str, **values: Any) -> int:
        changed = 0
        with Session(self.engine) as session:
            for start in range(0, len(keys), 500):
                result = session.exec(update(Effect)  # type: ignore[call-overload]
                                      .where(Effect.key.in_(keys[start:start + 500]))  # type: ignore[attr-defined]
                                      .where(Effect.lease_owner == owner).values(updated_at=_now(), **values))
                changed += result.rowcount
            session.commit()
        return changed

    def _release_many(self, keys: list[str], owner: str) -> None:
        if keys:
            self._update_many(keys, owner, lease_owner=None, lease_expires_at=None)

    def _mark_in_flight(self, fresh: list[BatchEntry], owner: str, out: BatchOutcome) -> list[BatchEntry]:
        """IN_FLIGHT and committed before anything is sent; an entry whose lease lapsed meanwhile is left."""
        keys = [e.key for e in fresh]
        if self._update_many(keys, owner, status=EffectStatus.IN_FLIGHT, attempts=Effect.attempts + 1) == len(keys):
            return fresh
        with Session(self.engine) as session:
            ours = {r.key for r in self._select_many(session, keys)
                    if r.lease_owner == owner and r.status is EffectStatus.IN_FLIGHT}
        out.left.extend(e for e in fresh if e.key not in ours)
        return [e for e in fresh if e.key in ours]

    @contextmanager
    def _renewing_many(self, keys: list[str], owner: str) -> Iterator[None]:
        """One thread keeps every lease of `keys` alive while their (possibly slow, retrying) calls run."""
        stop = threading.Event()

        def renew() -> None:
            while not stop.wait(self.lease_seconds / 3):
                try:
                    self._update_many(keys, owner, lease_expires_at=self._lease_end())
                except Exception:  # a locked or dropped database must not end the renewals for good
                    log.warning("could not renew the lease on %s; retrying", ", ".join(keys[:3]), exc_info=True)

        thread = threading.Thread(target=renew, daemon=True, name=f"lease-{keys[0]}+{len(keys) - 1}")
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=5)

    def get(self, key: str) -> Effect | None:
        with Session(self.engine) as session:
            return session.get(Effect, key)

    def for_job(self, job_id: str) -> list[Effect]:
        with Session(self.engine) as session:
            return list(session.exec(select(Effect).where(Effect.job_id == job_id).order_by(Effect.key)))

    def run(
        self,
        key: str,
        *,
        system: str,
        kind: str,
        job_id: str | None,
        payload: Any,
        lookup: Callable[[], VendorRecord | None],
        write: Callable[[VendorRecord | None], VendorRecord],  # may call attempt_key(key) for its idempotency key;
        # returns `existing` itself when the vendor already holds what it would write (no call made)
        summarize: Callable[[VendorRecord], dict[str, Any]] = lambda r: {},
        mutable: bool = False,
        trust_last_write: bool = False,
    ) -> EffectOutcome:
        """Run one effect exactly once (or converge it, when `mutable`). See the module docstring."""
        digest = payload_hash(payload)
        owner = uuid.uuid4().hex
        self._ensure_row(key, system, kind, job_id)
        self._acquire(key, owner)
        try:
            row = self.get(key)
            assert row is not None
            if row.status is EffectStatus.DONE and (not mutable or row.payload_hash == digest):
                if row.payload_hash != digest:
                    raise EffectDrift(system, f"{key} was already written (vendor id {row.vendor_id}) with different "
                                      "content; it is not rewritten automatically: review and correct it at the vendor")
                return EffectOutcome(key, row.vendor_id, False, json.loads(row.summary or "{}"))
            maybe_written = row.status is not EffectStatus.PENDING or row.attempts > 0
            # a finished mutable effect whose record we wrote ourselves: its id and version as our write left
            # them stand in for a read (the writer sends the version and reads only if the vendor says 409)
            remembered = (trust_last_write and mutable and row.status is EffectStatus.DONE
                          and row.vendor_id is not None and row.vendor_version is not None)
            with self._renewing(key, owner):
                if remembered:
                    existing = VendorRecord(id=row.vendor_id, version=row.vendor_version)  # type: ignore[arg-type]
                else:
                    existing = lookup() if maybe_written else None
                if existing is not None and not mutable:
                    record = existing  # the earlier attempt landed; adopt it, write nothing
                    written = False
                else:
                    if not self._update(key, owner, status=EffectStatus.IN_FLIGHT, attempts=row.attempts + 1):
                        raise LeaseLost(system, f"lost the lease on {key} before writing; nothing was sent")
                    record = write(existing)
                    written = record is not existing  # a writer returns `existing` itself when nothing changed
            summary = summarize(record)
            if not self._update(
                key, owner, status=EffectStatus.DONE, vendor_id=record.id, vendor_version=record.version,
                payload_hash=digest, summary=json.dumps(summary, default=str), last_error=None,
            ):
                raise LeaseLost(system, f"lost the lease on {key} during the vendor call (vendor id {record.id})")
            log.log(ITEM_LOG_LEVEL.get(), "%s: %s %s record %s", key,
                    "wrote" if written else "found the earlier attempt's",
                     system, record.id)
            return EffectOutcome(key, record.id, written, summary)
        except EffectDrift:
            raise
        except ConnectorError as exc:
            if exc.failure_type is FailureType.TRANSIENT:
                self._update(key, owner, status=EffectStatus.IN_FLIGHT, last_error=scrub(str(exc))[:2000])
            else:
                self._update(key, owner, status=EffectStatus.FAILED, last_error=scrub(str(exc))[:2000],
                             rejections=Effect.rejections + 1)
            raise
        except Exception as exc:  # a bug or bad payload after a possible write: keep it unknown, say why
            self._update(key, owner, last_error=scrub(f"{type(exc).__name__}: {exc}")[:2000])
            raise
        finally:
            self._update(key, owner, lease_owner=None, lease_expires_at=None)
