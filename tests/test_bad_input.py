"""Bad input gets a clear error, posts nothing and loses nothing."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy.exc import StatementError
from sqlmodel import Session, select

from flows.job_closed import job_closed
from models.canonical import EntryKind, Job, JobStatus, TimeEntry
from models.integration import Effect

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _posted_nothing(world) -> None:
    assert world.state("quickbooks", "Invoice") == []
    assert world.state("gusto", "time_sheets") == []
    assert world.state("hubspot", "notes") == []
    with Session(world.runtime.engine) as s:
        assert list(s.exec(select(Effect))) == []


def test_unknown_job_id(world) -> None:
    with pytest.raises(Exception, match="job 'J9999' does not exist"):
        job_closed("J9999")
    _posted_nothing(world)


def test_job_not_closed(world) -> None:
    with Session(world.runtime.engine) as s:
        s.get(Job, "J1001").status = JobStatus.IN_PROGRESS
        s.commit()
    with pytest.raises(Exception, match="J1001' is in_progress, not closed"):
        job_closed("J1001")
    _posted_nothing(world)


def test_naive_datetime_is_refused_at_the_door(world) -> None:
    with Session(world.runtime.engine) as s, pytest.raises(StatementError, match="naive datetime"):
        s.add(TimeEntry(id="E-naive", job_id="J1001", technician_id="T01", kind=EntryKind.WORK,
                        start=datetime(2026, 11, 24, 9, 0), end=datetime(2026, 11, 24, 10, 0)))
        s.commit()
    with Session(world.runtime.engine) as s:
        assert s.get(TimeEntry, "E-naive") is None


def test_money_refuses_float(world) -> None:
    from models.canonical import Expense

    with Session(world.runtime.engine) as s, pytest.raises(StatementError, match="money must be Decimal"):
        s.add(Expense(id="X-float", job_id="J1001", description="parking", amount=12.5))
        s.commit()
