"""The comparison run as partitions on a Dask cluster, through prefect-dask's `DaskTaskRunner`.

Each partition (a set of workdays × technicians, see `partition.py`) is one Prefect task run, so the UI shows
the partitions of a night and which one failed. The vendor pulls stay in the flow's process: they are bounded
by vendor quotas, not CPU; the pandas comparison is the part that grows with the company and spreads out.
"""

from __future__ import annotations

import logging

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect_dask import DaskTaskRunner

from tasks.reconcile.drift import Sides, find_drift
from tasks.reconcile.partition import merge, split


@task(name="compare-partition", cache_policy=NO_CACHE, task_run_name="compare-partition-{number}-of-{total}")
def compare_partition(sides: Sides, number: int, total: int, send_invoices: bool) -> pd.DataFrame:
    """The drift rows of one partition (its jobs, cases, invoices, hours and sheets)."""
    return find_drift(sides, send_invoices=send_invoices)


def dask_runner(address: str | None = None, workers: int = 2) -> DaskTaskRunner:
    """A runner on the cluster at `address` (`tcp://scheduler:8786`), or on a `LocalCluster` of `workers`
    single-threaded processes started for this run and stopped after it."""
    logging.getLogger("distributed").setLevel(logging.WARNING)  # the cluster's chatter is not the run's news
    if address:
        return DaskTaskRunner(address=address)
    return DaskTaskRunner(cluster_class="distributed.LocalCluster",
                          cluster_kwargs={"n_workers": workers, "threads_per_worker": 1, "processes": True,
                                          "dashboard_address": None})


def compare_partitioned(sides: Sides, partitions: int, runner: DaskTaskRunner, *,
                        send_invoices: bool = True) -> pd.DataFrame:
    """`find_drift(sides)`, computed as `partitions` task runs on `runner`'s cluster and merged in order."""
    parts = split(sides, partitions)
    with runner:
        # each partition goes to a worker once, as data, rather than inside the task graph
        held = runner.client.scatter(parts)
        futures = [runner.submit(compare_partition, {"sides": part, "number": n, "total": partitions,
                                                     "send_invoices": send_invoices})
                   for n, part in enumerate(held, 1)]
        frames = [future.result() for future in futures]
    return merge(frames)
