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


class InboundEvent(SQLModel, table=True):
    """The inbox: webhook deliveries stored durably before they are acknowledged."""

    event_id: str = Field(primary_key=True)
    source: str
    type: str
    payload: str = Field(sa_column=Column(Text, nullable=False))
    received_at: datetime | None = _utc()
    flow_run_id: str | None = None
