"""The Great Expectations suite that decides whether a night's reconciliation passed.

It runs on the joined frame — one row per job closed in the window, with what each system holds — and on
the ledger, so the verdict is data quality expressed the same way as the quality gate's, not an `if` ladder.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pandas as pd

from tasks.reconcile.drift import CLASSES, Sides

#: check → what an accountant is told when it fails
EXPLAIN = {
    "no_duplicate_invoices": "some jobs were invoiced more than once: void the extra invoices listed under "
                             "duplicate_invoice in the accounting system (fieldbridge never voids)",
    "match_rate": "fewer jobs than required agree in every system: work through the drift rows, or rerun "
                  "with repair=safe to re-post what is missing",
    "no_stuck_effects": "some writes were left unfinished: rerun the jobs listed under ledger_stuck",
    "hours_exact": "payroll does not hold every technician's paid minutes: check the rows under "
                   "missing_timesheet and hours_mismatch before payroll is run",
}

JOB_DRIFT = {"missing_case", "case_not_resolved", "missing_invoice", "amount_mismatch", "customer_mismatch",
             "unsent_invoice", "duplicate_invoice"}


@dataclass(frozen=True)
class Verdict:
    success: bool
    match_rate: float  # share of the window's (not held) jobs whose case and invoice agree (hours are per
    # technician-day, not per job: their drift fails the run through its own rows, not this rate)
    failures: tuple[str, ...]  # failed checks, each with its explanation

    def message(self) -> str:
        if self.success:
            return f"all checks passed (match rate {self.match_rate:.1%})"
        return "; ".join(self.failures)


def joined(sides: Sides, drift: pd.DataFrame) -> pd.DataFrame:
    """One row per job of the window: invoices carrying its number, and whether it agrees everywhere."""
    jobs = sides.jobs[~sides.jobs["held"].astype(bool)][["job_id"]].copy()
    numbers = sides.invoices["doc_number"].value_counts()
    jobs["invoice_count"] = jobs["job_id"].map(numbers).fillna(0).astype(int)
    bad = set(drift.loc[drift["drift_class"].isin(JOB_DRIFT), "job_id"].dropna())
    jobs["matched"] = ~jobs["job_id"].isin(bad)
    return jobs.reset_index(drop=True)


class _Suite:
    def __init__(self) -> None:
        import great_expectations.expectations as gxe

        from tasks.validate import _suites, add_suites  # the gate's context: GX set up (quiet) once per process

        self.context = _suites().context
        source = self.context.data_sources.add_pandas("fieldbridge_reconciliation")
        spec: dict[str, list[tuple[str, Any]]] = {
            "jobs": [
                ("no_duplicate_invoices", gxe.ExpectColumnValuesToBeBetween(column="invoice_count", max_value=1)),
                ("match_rate", gxe.ExpectColumnMeanToBeBetween(
                    column="matched", min_value={"$PARAMETER": "match_threshold"})),
            ],
            "hours": [("hours_exact", gxe.ExpectColumnValuesToBeBetween(
                column="minutes_off", max_value={"$PARAMETER": "hours_tolerance_minutes"}))],
            "ledger": [("no_stuck_effects", gxe.ExpectTableRowCountToEqual(value=0))],
        }
        self.tables = add_suites(self.context, source, "reconciliation", spec)


@lru_cache(maxsize=1)
def _suite() -> _Suite:
    return _Suite()


def verdict(sides: Sides, drift: pd.DataFrame, match_threshold: float) -> Verdict:
    """Run the suite; the run fails when any check fails."""
    from tasks.validate import _GX_LOCK, check_name

    frame = joined(sides, drift)
    rate = float(frame["matched"].mean()) if len(frame) else 1.0
    frames = {"jobs": frame.assign(matched=frame["matched"].astype(float)), "hours": hours_off(drift),
              "ledger": sides.ledger}
    failures = []
    with _GX_LOCK:  # GX is not thread-safe; the gate's lock covers this suite too
        suite = _suite()
        for table, (batch_def, expectations) in suite.tables.items():
            data = frames[table]
            if table != "ledger" and data.empty:
                continue  # no jobs closed (or no hours off) in the window: nothing can disagree
            batch = batch_def.get_batch(batch_parameters={"dataframe": data})
            result = batch.validate(expectations, expectation_parameters={
                "match_threshold": match_threshold, "hours_tolerance_minutes": 0})
            for res in result.results:
                if not res.success:
                    check = check_name(res)
                    detail = f" ({rate:.1%} < {match_threshold:.1%})" if check == "match_rate" else ""
                    failures.append(f"{check}{detail}: {EXPLAIN.get(check, check)}")
    return Verdict(not failures, rate, tuple(failures))


def hours_off(drift: pd.DataFrame) -> pd.DataFrame:
    """Minutes each drifting technician-day is off by (a missing sheet: all its minutes)."""
    rows = drift[drift["drift_class"].isin({"missing_timesheet", "hours_mismatch"})]
    return pd.DataFrame({"minutes_off": rows["delta"].astype("int64").abs()}) if len(rows) \
        else pd.DataFrame({"minutes_off": pd.Series(dtype="int64")})


def summary_counts(drift: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Rows per class and system, for the markdown summary."""
    out: dict[str, dict[str, int]] = {c: {} for c in CLASSES}
    for (cls, system), n in drift.groupby(["drift_class", "system"]).size().items():
        out[cls][system] = int(n)
    return out
