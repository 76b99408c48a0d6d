"""Every expectation has a fixture that fails it: the job is quarantined and nothing is posted."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlmodel import Session, select

from flows.job_closed import job_closed
from models.canonical import Customer, EntryKind, Expense, Job, PartUsage, Technician, TimeEntry
from models.integration import ExternalRef, Quarantine

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _work(s: Session, job_id: str) -> TimeEntry:
    return s.exec(select(TimeEntry).where(TimeEntry.job_id == job_id, TimeEntry.kind == EntryKind.WORK)).one()


def _part(s: Session, job_id: str) -> PartUsage:
    part = s.exec(select(PartUsage).where(PartUsage.job_id == job_id)).first()
    if part is None:
        part = PartUsage(id=f"P{job_id}-x", job_id=job_id, sku="P-BELT-02", quantity=Decimal(1),
                         unit_price=Decimal("24.99"))
        s.add(part)
    return part


def no_work(s: Session, job_id: str) -> None:
    _work(s, job_id).kind = EntryKind.TRAVEL


def end_before_start(s: Session, job_id: str) -> None:
    e = _work(s, job_id)
    e.end = e.start - timedelta(minutes=30)


def too_long(s: Session, job_id: str) -> None:
    e = _work(s, job_id)
    e.end = e.start + timedelta(hours=17)
    s.get(Job, job_id).closed_at = e.end + timedelta(minutes=5)


def overlap(s: Session, job_id: str) -> None:
    e = _work(s, job_id)
    s.add(TimeEntry(id=f"E{job_id}-dup", job_id=job_id, technician_id=e.technician_id, kind=EntryKind.WORK,
                    start=e.start + timedelta(minutes=10), end=e.end - timedelta(minutes=5)))


def closed_too_early(s: Session, job_id: str) -> None:
    s.get(Job, job_id).closed_at = _work(s, job_id).end - timedelta(hours=1)


def negative_quantity(s: Session, job_id: str) -> None:
    _part(s, job_id).quantity = Decimal(-1)


def negative_price(s: Session, job_id: str) -> None:
    _part(s, job_id).unit_price = Decimal("-5.00")


def unknown_sku(s: Session, job_id: str) -> None:
    _part(s, job_id).sku = "NOT-IN-BOOK"


def customer_without_billing_data(s: Session, job_id: str) -> None:
    job = s.get(Job, job_id)
    for ref in s.exec(select(ExternalRef).where(ExternalRef.canonical_id == job.customer_id)):
        s.delete(ref)
    s.get(Customer, job.customer_id).bill_line1 = None


def negative_expense(s: Session, job_id: str) -> None:
    s.add(Expense(id=f"X{job_id}-neg", job_id=job_id, description="Refund?", amount=Decimal("-500.00")))


def technician_without_payroll_id(s: Session, job_id: str) -> None:
    s.get(Technician, _work(s, job_id).technician_id).payroll_id = None


def overlap_with_another_job(s: Session, job_id: str) -> None:
    e = _work(s, job_id)
    other = s.exec(select(Job).where(Job.id != job_id)).first()
    s.add(TimeEntry(id=f"E{other.id}-clash", job_id=other.id, technician_id=e.technician_id, kind=EntryKind.WORK,
                    start=e.start + timedelta(minutes=5), end=e.start + timedelta(minutes=50)))


CASES: list[tuple[str, Callable[[Session, str], None]]] = [
    ("work_entry_present", no_work),
    ("end_after_start", end_before_start),
    ("entry_at_most_16h", too_long),
    ("no_overlap", overlap),
    ("closed_after_last_entry", closed_too_early),
    ("part_quantity_positive", negative_quantity),
    ("part_price_not_negative", negative_price),
    ("part_sku_in_price_book", unknown_sku),
    ("customer_billable", customer_without_billing_data),
    ("expense_not_negative", negative_expense),
    ("technician_in_payroll", technician_without_payroll_id),
    ("no_overlap", overlap_with_another_job),
]


def _nothing_posted(world, job_id: str) -> None:
    assert world.state("quickbooks", "Invoice") == []
    assert world.state("gusto", "time_sheets") == []
    assert world.state("hubspot", "notes") == []
    ticket = next(t for t in world.state("hubspot", "tickets") if t["properties"]["fieldbridge_job_id"] == job_id)
    assert ticket["properties"]["hs_pipeline_stage"] == "1"


@pytest.mark.parametrize(("check", "corrupt"), CASES, ids=[f.__name__ for _, f in CASES])
def test_failed_expectation_quarantines_and_posts_nothing(world, check: str, corrupt) -> None:
    job_id = "J1002"
    with Session(world.runtime.engine) as s:
        corrupt(s, job_id)
        s.commit()
    with pytest.raises(Exception, match=f"job {job_id} quarantined, nothing posted"):
        job_closed(job_id)
    _nothing_posted(world, job_id)
    with Session(world.runtime.engine) as s:
        rows = list(s.exec(select(Quarantine).where(Quarantine.job_id == job_id)))
    assert len(rows) == 1 and rows[0].released_at is None
    failed = {f["check"] for f in json.loads(rows[0].failures)}
    assert check in failed


def test_quarantine_names_rows_and_fixing_the_data_releases_the_job(world) -> None:
    job_id = "J1003"
    with Session(world.runtime.engine) as s:
        negative_quantity(s, job_id)
        part_id = _part(s, job_id).id
        s.commit()
    with pytest.raises(Exception, match=part_id):
        job_closed(job_id)
    with Session(world.runtime.engine) as s:
        _part(s, job_id).quantity = Decimal(2)
        s.commit()
    result = job_closed(job_id)
    assert result["accounting"]["number"] == job_id
    with Session(world.runtime.engine) as s:
        row = s.exec(select(Quarantine).where(Quarantine.job_id == job_id)).one()
    assert row.released_at is not None


def test_quarantine_artifact_is_written(world) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with Session(world.runtime.engine) as s:
        unknown_sku(s, "J1001")
        s.commit()
    with pytest.raises(Exception, match="quarantined"):
        job_closed("J1001")
    with get_client(sync_client=True) as client:
        key_filter = ArtifactFilter(key=ArtifactFilterKey(any_=["quarantine-j1001"]))
        artifacts = client.read_artifacts(artifact_filter=key_filter)
    assert artifacts and "part_sku_in_price_book" in artifacts[0].data
    assert "PJ1001" in artifacts[0].data  # the failing row is named


def test_many_jobs_validated_at_once_get_the_verdicts_of_one_by_one(tmp_path, monkeypatch) -> None:
    """The bulk path validates a batch in one run of each suite: every job gets exactly the failed checks (and
    rows) it gets alone, whatever else is wrong in the batch."""
    from tasks.runtime import reset_runtime
    from tasks.snapshot import load_job
    from tasks.validate import validate_job, validate_jobs
    from tests.conftest import make_world

    world = make_world(tmp_path, monkeypatch, jobs=len(CASES) + 3)
    try:
        jobs = [j.id for j in world.company.jobs]
        with Session(world.runtime.engine) as s:
            for job_id, (_check, corrupt) in zip(jobs[2:], CASES, strict=False):
                corrupt(s, job_id)
            s.commit()
        snaps = [load_job(j, world.runtime.engine, accounting_system="quickbooks") for j in jobs]
        together = validate_jobs(snaps)
        alone = [validate_job(snap) for snap in snaps]
        assert [r.job_id for r in together] == jobs
        for t, a in zip(together, alone, strict=True):
            assert sorted(f.as_dict().items() for f in t.failures) == sorted(f.as_dict().items() for f in a.failures)
            assert t.checks_run == a.checks_run
        failed = {r.job_id: {f.check for f in r.failures} for r in together if r.failures}
        for job_id, (check, _corrupt) in zip(jobs[2:], CASES, strict=False):
            assert check in failed[job_id], (job_id, check, failed)
        assert len(failed) < len(jobs)  # corrupting one job may fail its neighbours (same technician), not all
    finally:
        reset_runtime()
        world.sandboxes.stop()


def test_loading_many_jobs_at_once_reads_what_one_by_one_reads(world) -> None:
    """The bulk path's set-based load: the same rows, the same fingerprint, the same neighbours, per job."""
    from tasks.snapshot import JobNotFound, fingerprint, load_job, load_jobs

    first = world.company.entries[0]
    world.add_job("J2001", first.technician_id, first.start + timedelta(minutes=30), 1.0, "overlapping")
    jobs = [j.id for j in world.company.jobs] + ["J2001", "nope"]
    together = load_jobs(jobs, world.runtime.engine, accounting_system="quickbooks")
    assert isinstance(together["nope"], JobNotFound)
    for job_id in jobs[:-1]:
        alone = load_job(job_id, world.runtime.engine, accounting_system="quickbooks")
        snap = together[job_id]
        assert fingerprint(snap) == fingerprint(alone)
        assert {e.id for e in snap.neighbour_entries} == {e.id for e in alone.neighbour_entries}
        assert (snap.site, snap.accounting_customer_ref, sorted(snap.price_book)) == \
            (alone.site, alone.accounting_customer_ref, sorted(alone.price_book))
    assert any(together[j].neighbour_entries for j in jobs[:-1])  # the overlap is seen from both sides
