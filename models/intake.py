"""CRM intake state: which case made which job, and how far each CRM has been read.

`crm_case` makes "the same case never makes two jobs" a primary key; `intake_cursor` is advanced in the same
transaction as the jobs of the page that moved it, so a crash mid-poll resumes with no gap and no duplicate.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Column, Field, SQLModel

from models.types import UTCDateTime


class CrmCase(SQLModel, table=True):
    __tablename__ = "crm_case"
    system: str = Field(primary_key=True)
    case_id: str = Field(primary_key=True)
    job_id: str = Field(index=True, unique=True)
    open: bool = True  # False: closed or cancelled in the CRM
    cancelled: bool = False  # closed in the CRM before the job was: the job and its visits are cancelled
    modified_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    linked: bool = False  # the job id is stamped on the case (the close path finds the case by it)


class IntakeCursor(SQLModel, table=True):
    __tablename__ = "intake_cursor"
    system: str = Field(primary_key=True)
    modified_since: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
