"""The comparison split by workday and technician: the same rows as one process, on a Dask LocalCluster too."""

from __future__ import annotations

import pandas as pd
import pytest

from tasks.reconcile.drift import CLASSES, counts, find_drift
from tasks.reconcile.partition import merge, split
from tasks.reconcile.synthetic import make_sides

INJECT = {c: 3 + n for n, c in enumerate(CLASSES)}
SIDES: list = []


@pytest.mark.parametrize("partitions", [1, 3, 16])
def test_partitions_together_find_exactly_the_rows_of_one_process(partitions: int) -> None:
    sides, want = make_sides(6_000, INJECT, held=11, days=3)
    whole = find_drift(sides)
    parts = split(sides, partitions)
    assert len(parts) == partitions
    for side in ("jobs", "hours", "cases", "sheets", "invoices", "ledger"):  # every row in exactly one partition
        pieces = pd.concat([getattr(p, side) for p in parts])
        assert len(pieces) == len(getattr(sides, side)) and pieces.index.is_unique, side
    assert sum(len(p.known_jobs) for p in parts) == len(sides.known_jobs)
    pd.testing.assert_frame_equal(merge([find_drift(p) for p in parts]), whole)
    assert counts(whole) == want


def test_a_technicians_day_and_everything_about_its_jobs_share_one_partition() -> None:
    sides, _ = make_sides(2_000, INJECT, days=4)
    where: dict[tuple[str, str], int] = {}
    for n, part in enumerate(split(sides, 5)):
        for tech, day in zip(part.jobs["technician_id"], part.jobs["workday"], strict=True):
            assert where.setdefault((tech, day), n) == n
        for tech, day in zip(part.hours["technician_id"], part.hours["workday"], strict=True):
            assert where.setdefault((tech, day), n) == n
        assert set(part.cases["job_id"]) <= set(part.jobs["job_id"])
        numbered = part.invoices[part.invoices["doc_number"].isin(sides.jobs["job_id"])]
        assert set(numbered["doc_number"]) <= set(part.jobs["job_id"])  # duplicates stay with their job
    assert len({n for n in where.values()}) == 5


def test_partitions_below_one_are_refused() -> None:
    sides, _ = make_sides(10, {})
    with pytest.raises(ValueError, match="at least 1"):
        split(sides, 0)


@pytest.mark.slow
def test_a_dask_local_cluster_finds_the_same_rows_as_one_process(prefect_harness: None) -> None:
    from prefect import flow

    from tasks.reconcile.distributed import compare_partitioned, dask_runner

    sides, want = make_sides(30_000, INJECT, held=25, days=3)
    SIDES.append(sides)  # a module global: the flow's closure would travel to every worker with the data

    @flow(name="reconcile-on-dask")
    def on_dask() -> pd.DataFrame:
        return compare_partitioned(SIDES[0], 6, dask_runner(workers=2))

    rows = on_dask()
    pd.testing.assert_frame_equal(rows, find_drift(sides))
    assert counts(rows) == want
