"""Split one night's sides into partitions by day and technician, so the comparison can run on many machines.

A partition is a set of (workday, technician) keys, chosen by a stable hash. Every row of every side lands in
exactly one partition, and every row a comparison has to see together lands in the same one:

- a job, its CRM case and its invoices (however many carry its number) follow the job's (workday, technician);
- a technician's paid minutes for a workday and the payroll sheets of that employee and day go together;
- an invoice numbered for no job of the window goes where that number's known job (if any) goes, so an
  orphan is still an orphan and a duplicate still a duplicate inside its partition;
- the ledger's stuck effects follow their job.

So `merge([find_drift(p) for p in split(sides, n)])` equals `find_drift(sides)` row for row, whatever `n`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tasks.reconcile.drift import Sides, combine

_SEP = "\x1f"


def _hash(*columns: pd.Series) -> np.ndarray:
    """A stable 64-bit hash of the joined string values (the same on every machine and run)."""
    joined = columns[0].astype("string").fillna("")
    for col in columns[1:]:
        joined = joined + _SEP + col.astype("string").fillna("")
    return pd.util.hash_array(joined.to_numpy(dtype=object))


def _bucket(*columns: pd.Series, partitions: int) -> np.ndarray:
    return (_hash(*columns) % np.uint64(partitions)).astype(np.int64)


def _follow(keys: pd.Series, owner: pd.Series, partitions: int) -> np.ndarray:
    """The partition of each key's owner (a job or technician-day), or the key's own hash when it has none."""
    mapped = keys.map(owner)
    own = _bucket(keys, partitions=partitions)
    return np.where(mapped.isna().to_numpy(), own, mapped.fillna(-1).to_numpy(dtype=np.int64))


def _groups(frame: pd.DataFrame, buckets: np.ndarray, partitions: int) -> list[pd.DataFrame]:
    by = pd.Series(buckets, index=frame.index)
    grouped = {int(b): part for b, part in frame.groupby(by, sort=False)} if len(frame) else {}
    return [grouped.get(b, frame.iloc[0:0]) for b in range(partitions)]


def split(sides: Sides, partitions: int) -> list[Sides]:
    """`partitions` Sides whose comparisons, merged, are the whole night's comparison."""
    if partitions < 1:
        raise ValueError(f"partitions must be at least 1, not {partitions}")
    jobs, hours = sides.jobs, sides.hours
    job_bucket = _bucket(jobs["technician_id"], jobs["workday"], partitions=partitions)
    of_job = pd.Series(job_bucket, index=jobs["job_id"].to_numpy())
    of_job = of_job[~of_job.index.duplicated()]
    hour_bucket = _bucket(hours["technician_id"], hours["workday"], partitions=partitions)
    day_keys = hours["employee_id"].astype("string") + _SEP + hours["workday"].astype("string")
    of_day = pd.Series(hour_bucket, index=day_keys.to_numpy())
    of_day = of_day[~of_day.index.duplicated()]
    sheet_keys = sides.sheets["employee_id"].astype("string") + _SEP + sides.sheets["workday"].astype("string")

    known = pd.Series(sides.known_jobs, dtype="string")
    pieces = {
        "jobs": _groups(jobs, job_bucket, partitions),
        "hours": _groups(hours, hour_bucket, partitions),
        "cases": _groups(sides.cases, _follow(sides.cases["job_id"], of_job, partitions), partitions),
        "sheets": _groups(sides.sheets, _follow(sheet_keys, of_day, partitions), partitions),
        "invoices": _groups(sides.invoices, _follow(sides.invoices["doc_number"], of_job, partitions), partitions),
        "ledger": _groups(sides.ledger, _follow(sides.ledger["job_id"].fillna(sides.ledger["key"]), of_job, partitions),
                          partitions),
        "known": _groups(known.to_frame("job_id"), _follow(known, of_job, partitions), partitions),
    }
    return [Sides(pieces["jobs"][b], pieces["hours"][b], pieces["cases"][b], pieces["sheets"][b],
                  pieces["invoices"][b], pieces["ledger"][b], pd.Index(pieces["known"][b]["job_id"]),
                  dict(sides.systems)) for b in range(partitions)]


def merge(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The partitions' drift rows as one table, in the single-process order."""
    return combine(parts)
