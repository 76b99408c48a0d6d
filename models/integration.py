"""Integration state: id maps, the effect ledger, the inbox and the quarantine."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import UniqueConstraint
from sqlmodel import Column, Field, SQLModel, Text

from models.types import UTCDateTime


def _utc(nullable: bool = False) -> object:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable))


class ExternalRef(SQLModel, table=True):
    """Canonical id ↔ vendor id, per system and entity type."""

    __table_args__ = (UniqueConstraint("system", "entity", "canonical_id"),)
    id: int | None = Field(default=None, primary_key=True)
    system: str
    entity: str
    canonical_id: str
    vendor_id: str


class EffectStatus(StrEnum):
    PENDING = "pending"  # claimed, no vendor call made yet
    IN_FLIGHT = "in_flight"  # a call was made; its outcome is unknown until recorded
    DONE = "done"
    FAILED = "failed"  # a data/config error the vendor rejected; needs a human


class Effect(SQLModel, table=True):
    """One row per external write. The primary key *is* the deterministic effect key."""

    key: str = Field(primary_key=True)
    system: str = Field(index=True)
    kind: str
    job_id: str | None = Field(default=None, index=True)
    status: EffectStatus = EffectStatus.PENDING
    vendor_id: str | None = None
    vendor_version: str | None = None  # the record's version as our last write left it (optimistic locking)
    payload_hash: str | None = None
    summary: str | None = Field(default=None, sa_column=Column(Text))
    attempts: int = 0
    rejections: int = 0  # how often the vendor rejected it; part of the vendor idempotency key
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    lease_owner: str | None = None
    lease_expires_at: datetime | None = _utc(nullable=True)
    updated_at: datetime | None = _utc(nullable=True)


class Quarantine(SQLModel, table=True):
    """A job held back by the quality gate, with what failed; released when a rerun passes."""

    id: int | None = Field(default=None, primary_key=True)
    job_id: str = Field(index=True)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    failures: str = Field(sa_column=Column(Text, nullable=False))  # JSON list
    created_at: datetime | None = _utc()
    released_at: datetime | None = _utc(nullable=True)


class ValidatedJob(SQLModel, table=True):
    """A job that passed its expectation suite; only such jobs' time reaches payroll."""

    job_id: str = Field(primary_key=True)
    passed_at: datetime | None = _utc()
    checks_run: int = 0
    paid_weeks: str = Field(default="[]", sa_column=Column(Text, nullable=False, server_default="[]"))
    # JSON [[technician_id, week_start], ...] the payroll effect last recomputed for this job: if an entry
    # moves to another week, the old week is recomputed (and cleared) too


class InboxStatus(StrEnum):
    RECEIVED = "received"  # stored and applied; a flow run is due (the sweeper starts it if the ingress could not)
    STARTED = "started"  # its flow run exists (flow_run_id)
    APPLIED = "applied"  # stored and applied; no run is due (e.g. job.reopened)
    SUPERSEDED = "superseded"  # older than the snapshot already stored: kept, not applied, no run


class InboxEvent(SQLModel, table=True):
    """The inbox: every accepted delivery, stored in the same transaction as its canonical upsert, before
    the sender gets its 2xx. Unique per (source, event id), so a redelivery is recognised, not re-applied."""

    __tablename__ = "inbox_event"
    __table_args__ = (UniqueConstraint("source", "event_id"),)
    id: int | None = Field(default=None, primary_key=True)
    source: str
    event_id: str
    type: str
    job_id: str = Field(index=True)
    occurred_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    payload: str = Field(sa_column=Column(Text, nullable=False))
    status: InboxStatus = Field(default=InboxStatus.RECEIVED, index=True)
    deliveries: int = 1
    received_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    last_delivery_at: datetime | None = _utc(nullable=True)
    flow_run_id: str | None = None
    run_started_at: datetime | None = _utc(nullable=True)
    last_error: str | None = Field(default=None, sa_column=Column(Text))  # why the run could not be started yet


class JobSource(SQLModel, table=True):
    """Which delivered snapshot the canonical rows of a job reflect: an older one never overwrites them."""

    __tablename__ = "job_source"
    job_id: str = Field(primary_key=True)
    occurred_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    source: str
    event_id: str


class Installation(SQLModel, table=True):
    """One row: this database's identity, so two fieldbridge installations sharing a Prefect server never
    share an idempotency key (their field-service systems may well both send an event "evt-1")."""

    __tablename__ = "installation"
    singleton: int = Field(default=1, primary_key=True)  # one row, so racing first starts agree on one id
    id: str
    created_at: datetime | None = _utc()
