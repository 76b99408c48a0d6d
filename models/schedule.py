"""The schedule: who visits which job when, and when a technician cannot work (time off from HR).

A `Visit` is a dispatcher's assignment of a technician to a job for a time window (UTC). An
`Unavailability` row is one day of a technician's approved leave as the HR system holds it — whole, or
partial with the hours away — and is replaced at every sync, so a leave cancelled in HR frees its days.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlmodel import Column, Field, SQLModel, Text

from models.types import DecimalString, UTCDateTime


class VisitStatus(StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


class Visit(SQLModel, table=True):
    id: str = Field(primary_key=True)  # "<job>:<technician>"
    job_id: str = Field(foreign_key="job.id", index=True)
    technician_id: str = Field(foreign_key="technician.id", index=True)
    start: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    end: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    status: VisitStatus = VisitStatus.SCHEDULED
    assigned_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    forced: bool = False  # assigned despite a leave or another visit (`--force`)


class Unavailability(SQLModel, table=True):
    id: str = Field(primary_key=True)  # "<hr system>:<request id>:<day>"
    technician_id: str = Field(foreign_key="technician.id", index=True)
    day: date = Field(index=True)
    hours_away: Decimal | None = Field(default=None, sa_column=Column(DecimalString(), nullable=True))  # None: all day
    kind: str  # Vacation, Sick …
    source: str  # the HR system
    request_id: str  # its time-off request
    synced_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class VisitBrief(SQLModel, table=True):
    """The pre-visit brief of one visit (customer_context), as the technician reads it the evening before."""

    __tablename__ = "visit_brief"
    visit_id: str = Field(primary_key=True)
    technician_id: str = Field(index=True)
    day: date = Field(index=True)  # the visit's day, company time zone
    markdown: str = Field(sa_column=Column(Text, nullable=False))
    built_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
