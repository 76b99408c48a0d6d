"""The quality gate: a Great Expectations suite per job table, run before anything is posted.

Each expectation carries a dispatcher-readable explanation; a failure names the rows (entry, part or
customer ids) so the dispatcher knows exactly what to fix in the FSM.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pandas as pd

from models.canonical import EntryKind
from tasks.snapshot import JobSnapshot

MAX_ENTRY_HOURS = 16

#: (table, expectation factory, what a dispatcher should be told when it fails)
EXPLAIN = {
    "work_entry_present": "the job has no work time entry: log the technician's work time",
    "end_after_start": "a time entry ends before (or when) it starts",
    "entry_at_most_16h": f"a time entry is longer than {MAX_ENTRY_HOURS} hours",
    "no_overlap": "a technician has overlapping time entries (on this job or against another job)",
    "closed_after_last_entry": "the job was closed before its last time entry ended",
    "part_quantity_positive": "a part line has a quantity of zero or less",
    "part_price_not_negative": "a part line has a negative price",
    "part_sku_in_price_book": "a part line uses a SKU that is not in the price book",
    "customer_billable": "the customer has no accounting record and lacks billing data (name, email, address)",
    "expense_not_negative": "an expense has a negative amount",
    "technician_in_payroll": "a technician on the job has no payroll employee id",
}


@dataclass(frozen=True)
class Failure:
    check: str
    table: str
    message: str
    rows: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.check, "table": self.table, "message": self.message, "rows": list(self.rows)}


@dataclass(frozen=True)
class ValidationReport:
    job_id: str
    failures: tuple[Failure, ...]
    checks_run: int

    @property
    def success(self) -> bool:
        return not self.failures


def job_frames(snap: JobSnapshot) -> dict[str, pd.DataFrame]:
    """The job as the tables the suites validate, with derived columns (hours, overlap) computed here."""
    rows = [
        {
            "row_id": e.id, "technician_id": e.technician_id, "kind": str(e.kind), "start": e.start, "end": e.end,
            "hours": (e.end - e.start).total_seconds() / 3600, "closed_at": snap.job.closed_at,
        }
        for e in snap.entries
    ]
    entries = pd.DataFrame(rows, columns=["row_id", "technician_id", "kind", "start", "end", "hours", "closed_at"])
    entries["overlaps_previous"] = False
    others = [(e.technician_id, e.start, e.end) for e in snap.neighbour_entries]
    for _, group in entries.sort_values("start").groupby("technician_id"):
        latest_end = None
        for idx, row in group.iterrows():
            if latest_end is not None and row["start"] < latest_end:
                entries.loc[idx, "overlaps_previous"] = True
            latest_end = row["end"] if latest_end is None else max(latest_end, row["end"])
            if any(t == row["technician_id"] and s < row["end"] and row["start"] < e for t, s, e in others):
                entries.loc[idx, "overlaps_previous"] = True
    # one row per job (not a table-level row count), so many jobs can be validated in one frame
    work = pd.DataFrame([{"row_id": snap.job.id,
                          "work_entries": int((entries["kind"] == EntryKind.WORK.value).sum())}])
    # floats below only feed sign and range checks; no money is computed from them
    parts = pd.DataFrame(
        [{"row_id": p.id, "sku": p.sku, "quantity": float(p.quantity), "unit_price": float(p.unit_price)}
         for p in snap.parts],
        columns=["row_id", "sku", "quantity", "unit_price"],
    )
    billable = snap.accounting_customer_ref is not None or snap.customer.has_billing_data()
    customer = pd.DataFrame([{"row_id": snap.customer.id, "billable": billable}])
    expenses = pd.DataFrame([{"row_id": x.id, "amount": float(x.amount)} for x in snap.expenses],
                            columns=["row_id", "amount"])
    technicians = pd.DataFrame(
        [{"row_id": t.id, "in_payroll": bool(t.payroll_id)} for t in snap.technicians.values()],
        columns=["row_id", "in_payroll"],
    )
    return {"entries": entries, "work": work, "parts": parts, "customer": customer, "expenses": expenses,
            "technicians": technicians}


class _Suites:
    """An ephemeral GX context with one suite per table, built once per process."""

    def __init__(self) -> None:
        import great_expectations as gx
        import great_expectations.expectations as gxe

        for name in [n for n in logging.root.manager.loggerDict if n.startswith("great_expectations")]:
            logging.getLogger(name).setLevel(logging.ERROR)  # GX sets levels on its own children
        logging.getLogger("great_expectations").setLevel(logging.ERROR)
        self.context = gx.get_context(mode="ephemeral")
        try:
            from great_expectations.data_context.types.base import ProgressBarsConfig

            self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        except Exception:  # progress bars are cosmetic; never fail validation over them
            pass
        source = self.context.data_sources.add_pandas("fieldbridge_job")
        spec: dict[str, list[tuple[str, Any]]] = {
            "work": [("work_entry_present", gxe.ExpectColumnValuesToBeBetween(column="work_entries", min_value=1))],
            "entries": [
                ("end_after_start", gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="end", column_B="start")),
                ("entry_at_most_16h", gxe.ExpectColumnValuesToBeBetween(column="hours", max_value=MAX_ENTRY_HOURS)),
                ("no_overlap", gxe.ExpectColumnValuesToBeInSet(column="overlaps_previous", value_set=[False])),
                ("closed_after_last_entry", gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                    column_A="closed_at", column_B="end", or_equal=True)),
            ],
            "parts": [
                ("part_quantity_positive", gxe.ExpectColumnValuesToBeBetween(
                    column="quantity", min_value=0, strict_min=True)),
                ("part_price_not_negative", gxe.ExpectColumnValuesToBeBetween(column="unit_price", min_value=0)),
                ("part_sku_in_price_book", gxe.ExpectColumnValuesToBeInSet(
                    column="sku", value_set={"$PARAMETER": "price_book_skus"})),
            ],
            "customer": [("customer_billable", gxe.ExpectColumnValuesToBeInSet(column="billable", value_set=[True]))],
            "expenses": [("expense_not_negative", gxe.ExpectColumnValuesToBeBetween(column="amount", min_value=0))],
            "technicians": [("technician_in_payroll", gxe.ExpectColumnValuesToBeInSet(
                column="in_payroll", value_set=[True]))],
        }
        self.tables = add_suites(self.context, source, "job", spec)

    def validate(self, frames: dict[str, pd.DataFrame], params: dict[str, Any]
                 ) -> tuple[dict[str, list[Failure]], int]:
        """Run every suite once over `frames` (one job's rows, or many jobs' with their `job_id`); failures
        by job id (a single job's are under "")."""
        failures: dict[str, list[Failure]] = {}
        checks = 0
        with _GX_LOCK:
            for table, (batch_def, suite) in self.tables.items():
                frame = frames[table]
                index = ["job_id", "row_id"] if "job_id" in frame.columns else ["row_id"]
                batch = batch_def.get_batch(batch_parameters={"dataframe": frame})
                result = batch.validate(
                    suite, expectation_parameters=params,
                    result_format={"result_format": "COMPLETE", "unexpected_index_column_names": index},
                )
                for res in result.results:
                    checks += 1
                    if res.success:
                        continue
                    check = check_name(res)
                    by_job: dict[str, set[str]] = {}
                    for i in res.result.get("unexpected_index_list") or []:
                        by_job.setdefault(str(i.get("job_id", "")), set()).add(str(i["row_id"]))
                    for job_id, rows in (by_job or {"": set()}).items():
                        failures.setdefault(job_id, []).append(
                            Failure(check, table, EXPLAIN.get(check, check), tuple(sorted(rows))))
        return failures, checks


def add_suites(context: Any, source: Any, prefix: str,
               spec: dict[str, list[tuple[str, Any]]]) -> dict[str, tuple[Any, Any]]:
    """One dataframe asset and one suite per table of `spec`; each expectation carries its check's name."""
    import great_expectations as gx

    tables: dict[str, tuple[Any, Any]] = {}
    for table, expectations in spec.items():
        batch_def = source.add_dataframe_asset(table).add_batch_definition_whole_dataframe(prefix)
        suite = gx.ExpectationSuite(name=f"{prefix}_{table}")
        for check, expectation in expectations:
            expectation.meta = {"check": check}
            suite.add_expectation(expectation)
        tables[table] = (batch_def, context.suites.add(suite))
    return tables


def check_name(result: Any) -> str:
    """The check an expectation result belongs to (set by `add_suites`)."""
    return (result.expectation_config.meta or {}).get("check", result.expectation_config.type)


#: GX is not thread-safe (its suite-parameter parser is a shared pyparsing grammar), and the effect
#: flows run jobs on threads: build and run the suites under one process-wide lock.
_GX_LOCK = threading.RLock()


@lru_cache(maxsize=1)
def _build_suites() -> _Suites:
    return _Suites()


def _suites() -> _Suites:
    with _GX_LOCK:
        return _build_suites()


def warm_up() -> None:
    """Build the suites now (GX imports take seconds) rather than inside the first job."""
    _suites()


def validate_job(snap: JobSnapshot) -> ValidationReport:
    """Run every expectation for the job; never raises for bad data, only reports it."""
    frames = job_frames(snap)
    failures, checks = _suites().validate(frames, {"price_book_skus": sorted(snap.price_book)})
    return ValidationReport(snap.job.id, tuple(failures.get("", ())), checks)


def validate_jobs(snaps: list[JobSnapshot]) -> list[ValidationReport]:
    """The same expectations for many jobs in one run of each suite (the bulk path): a suite run costs
    about 20 ms whatever its rows, so 500 jobs cost what 2 did one by one. Each failure names its job."""
    if not snaps:
        return []
    per_job = [job_frames(snap) for snap in snaps]
    frames = {table: pd.concat([f[table].assign(job_id=snap.job.id) for snap, f in zip(snaps, per_job, strict=True)],
                               ignore_index=True)
              for table in per_job[0]}
    skus = sorted({sku for snap in snaps for sku in snap.price_book})  # one price book: every job loads it whole
    failures, checks = _suites().validate(frames, {"price_book_skus": skus})
    return [ValidationReport(snap.job.id, tuple(failures.get(snap.job.id, ())), checks) for snap in snaps]
