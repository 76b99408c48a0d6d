"""Drift between the systems, found by joining one frame per side on effect keys and external refs.

Pure: frames in, one drift table out, so the nightly run, the tests and the million-job benchmark run the
same code. Money is compared in integer cents and hours in integer minutes, so no float ever decides.

Frames (columns):
- `jobs`: job_id, customer_id, expected_cents, accounting_customer (vendor id from the id map, or None),
  has_email, held (quarantined: not drift, reported apart), technician_id and workday (the lead technician and
  the local day it closed: the partition key) — the jobs closed in the window;
- `hours`: employee_id, workday (ISO date), technician_id, expected_minutes — paid time per workday the
  window's jobs touch, from the hours engine;
- `cases`: case_id, job_id, resolved — as the CRM holds them;
- `sheets`: sheet_id, employee_id, workday, minutes — as payroll holds them;
- `invoices`: invoice_id, doc_number, customer_id, total_cents, sent — as accounting holds them;
- `ledger`: key, system, kind, job_id, status, last_error — effects left in flight or failed;
- `known_jobs`: every job id fieldbridge knows (an invoice for none of them is an orphan).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

CLASSES = ("missing_case", "case_not_resolved", "missing_timesheet", "hours_mismatch", "missing_invoice",
           "amount_mismatch", "duplicate_invoice", "orphan_invoice", "customer_mismatch", "unsent_invoice",
           "ledger_stuck")

#: what each class means to the person who has to act on it
EXPLAIN = {
    "missing_case": "the job closed but the CRM has no case for it",
    "case_not_resolved": "the CRM case is still open although the job closed",
    "missing_timesheet": "payroll has no hours for a technician's workday that has paid time",
    "hours_mismatch": "payroll holds different hours than the technician worked (minutes)",
    "missing_invoice": "the job closed but accounting has no invoice for it",
    "amount_mismatch": "the invoice total differs from the job's billable total (cents)",
    "duplicate_invoice": "more than one invoice carries the job's number: void the extra one by hand",
    "orphan_invoice": "an invoice matches no job fieldbridge knows",
    "customer_mismatch": "the invoice is billed to a different customer than the job's",
    "unsent_invoice": "the invoice was created but never sent to the customer",
    "ledger_stuck": "a write was left in flight or failed and needs a rerun or a person",
}

COLUMNS = ["drift_class", "system", "job_id", "employee_id", "workday", "vendor_id", "expected", "actual", "delta",
           "detail"]

JOB_COLUMNS = ["job_id", "customer_id", "expected_cents", "accounting_customer", "has_email", "held", "technician_id",
               "workday"]
HOUR_COLUMNS = ["employee_id", "workday", "technician_id", "expected_minutes"]
CASE_COLUMNS = ["case_id", "job_id", "resolved"]
SHEET_COLUMNS = ["sheet_id", "employee_id", "workday", "minutes"]
INVOICE_COLUMNS = ["invoice_id", "doc_number", "customer_id", "total_cents", "sent"]
LEDGER_COLUMNS = ["key", "system", "kind", "job_id", "status", "last_error"]


@dataclass
class Sides:
    jobs: pd.DataFrame
    hours: pd.DataFrame
    cases: pd.DataFrame
    sheets: pd.DataFrame
    invoices: pd.DataFrame
    ledger: pd.DataFrame
    known_jobs: pd.Index
    systems: dict[str, str] = field(default_factory=lambda: {"crm": "crm", "payroll": "payroll",
                                                              "accounting": "accounting"})


def empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})


def _rows(frame: pd.DataFrame, drift_class: str, system: str, **columns: Any) -> pd.DataFrame:
    """Drift rows from `frame`: each keyword is a column name of `frame` or a constant."""
    out = pd.DataFrame(index=frame.index)
    out["drift_class"] = drift_class
    out["system"] = system
    for name in COLUMNS[2:]:
        value = columns.get(name)
        if isinstance(value, str) and value in frame.columns:
            column = frame[value]
            # cents and minutes are whole numbers: a join's NaN must not turn them into floats ("47568.0")
            out[name] = column.astype("Int64") if pd.api.types.is_float_dtype(column) else column
        else:
            out[name] = value
    return out[COLUMNS]


def find_drift(sides: Sides, *, send_invoices: bool = True) -> pd.DataFrame:
    """Every drift row, one table (`COLUMNS`), sorted by class then job."""
    crm, payroll, accounting = (sides.systems[r] for r in ("crm", "payroll", "accounting"))
    jobs = sides.jobs[~sides.jobs["held"].astype(bool)]
    parts: list[pd.DataFrame] = []

    # CRM: one case per job; a job with several counts as resolved when any is
    by_job = sides.cases.dropna(subset=["job_id"]).groupby("job_id", sort=False).agg(
        case_resolved=("resolved", "max"), case_id=("case_id", "first"))
    j = jobs.join(by_job, on="job_id")
    parts.append(_rows(j[j["case_resolved"].isna()], "missing_case", crm, job_id="job_id"))
    open_cases = j[j["case_resolved"].notna() & ~j["case_resolved"].fillna(False).astype(bool)]
    parts.append(_rows(open_cases, "case_not_resolved", crm, job_id="job_id", vendor_id="case_id",
                       expected="resolved", actual="open"))

    # payroll: paid minutes per employee and workday (two sheets on one day add up: a duplicate shows here)
    held = sides.sheets.groupby(["employee_id", "workday"], as_index=False, sort=False).agg(
        minutes=("minutes", "sum"), sheet_id=("sheet_id", "first"))
    h = sides.hours.merge(held, on=["employee_id", "workday"], how="left")
    missing = h[h["minutes"].isna() & (h["expected_minutes"] > 0)]
    parts.append(_rows(missing, "missing_timesheet", payroll, employee_id="employee_id", workday="workday",
                       expected="expected_minutes", actual=0, delta="expected_minutes", detail="technician_id"))
    both = h[h["minutes"].notna()].copy()
    both["delta"] = both["minutes"].astype("int64") - both["expected_minutes"].astype("int64")
    parts.append(_rows(both[both["delta"] != 0], "hours_mismatch", payroll, employee_id="employee_id",
                       workday="workday", vendor_id="sheet_id", expected="expected_minutes", actual="minutes",
                       delta="delta", detail="technician_id"))

    # accounting: invoices numbered by job id
    inv = sides.invoices
    known = sides.known_jobs if sides.known_jobs.is_unique else sides.known_jobs.unique()
    ours = pd.Series(pd.Index(known).get_indexer(inv["doc_number"]) >= 0, index=inv.index)  # hash lookup
    parts.append(_rows(inv[~ours], "orphan_invoice", accounting, vendor_id="invoice_id", actual="total_cents",
                       detail="doc_number"))
    numbered = inv[ours]
    repeated = numbered[numbered["doc_number"].duplicated(keep=False)]
    dupes = repeated.groupby("doc_number", sort=False)["invoice_id"].agg(
        count="count", ids=lambda ids: ",".join(map(str, ids))).reset_index()
    parts.append(_rows(dupes, "duplicate_invoice", accounting, job_id="doc_number", vendor_id="ids", expected=1,
                       actual="count"))
    first = inv[ours].drop_duplicates("doc_number").set_index("doc_number")[
        ["invoice_id", "customer_id", "total_cents", "sent"]].rename(columns={"customer_id": "billed_to"})
    k = jobs.join(first, on="job_id")
    parts.append(_rows(k[k["invoice_id"].isna()], "missing_invoice", accounting, job_id="job_id",
                       expected="expected_cents"))
    found = k[k["invoice_id"].notna()].copy()
    found["delta"] = found["total_cents"].astype("int64") - found["expected_cents"].astype("int64")
    parts.append(_rows(found[found["delta"] != 0], "amount_mismatch", accounting, job_id="job_id",
                       vendor_id="invoice_id", expected="expected_cents", actual="total_cents", delta="delta"))
    wrong = found[found["accounting_customer"].notna() & (found["billed_to"] != found["accounting_customer"])]
    parts.append(_rows(wrong, "customer_mismatch", accounting, job_id="job_id", vendor_id="invoice_id",
                       expected="accounting_customer", actual="billed_to"))
    if send_invoices:
        unsent = found[~found["sent"].astype(bool) & found["has_email"].astype(bool)]
        parts.append(_rows(unsent, "unsent_invoice", accounting, job_id="job_id", vendor_id="invoice_id",
                           expected="sent", actual="not sent"))

    # the ledger: effects nobody finished
    parts.append(_rows(sides.ledger, "ledger_stuck", "fieldbridge", job_id="job_id", vendor_id="key",
                       actual="status", detail="last_error"))
    return combine(parts)


def combine(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Drift rows found in pieces as one table, by class (in `CLASSES` order), then job, employee, workday and
    vendor id: one order however the rows were found (one process or many partitions)."""
    found = [p[COLUMNS] for p in parts if len(p)]
    drift = pd.concat(found, ignore_index=True) if found else empty(COLUMNS)
    keyed = drift.assign(_order=drift["drift_class"].map({c: n for n, c in enumerate(CLASSES)}))
    return keyed.sort_values(["_order", "job_id", "employee_id", "workday", "vendor_id"], na_position="last",
                             kind="stable").drop(columns="_order").reset_index(drop=True)


def counts(drift: pd.DataFrame) -> dict[str, int]:
    """Rows per class, every class present (zeros included)."""
    found = drift["drift_class"].value_counts().to_dict()
    return {c: int(found.get(c, 0)) for c in CLASSES}


def find_drift_plain(sides: Sides, *, send_invoices: bool = True) -> dict[str, int]:
    """The same comparison with dicts and loops: the benchmark's yardstick (counts only)."""
    out: Counter[str] = Counter({c: 0 for c in CLASSES})
    jobs = [r for r in sides.jobs.itertuples(index=False) if not r.held]
    resolved: dict[str, bool] = {}
    for case in sides.cases.itertuples(index=False):
        if pd.notna(case.job_id):
            resolved[case.job_id] = resolved.get(case.job_id, False) or bool(case.resolved)
    for job in jobs:
        if job.job_id not in resolved:
            out["missing_case"] += 1
        elif not resolved[job.job_id]:
            out["case_not_resolved"] += 1
    minutes: dict[tuple[str, str], int] = defaultdict(int)
    for sheet in sides.sheets.itertuples(index=False):
        minutes[(sheet.employee_id, sheet.workday)] += int(sheet.minutes)
    for row in sides.hours.itertuples(index=False):
        key = (row.employee_id, row.workday)
        if key not in minutes:
            out["missing_timesheet"] += int(row.expected_minutes > 0)
        elif minutes[key] != row.expected_minutes:
            out["hours_mismatch"] += 1
    known = set(sides.known_jobs)
    by_number: dict[str, list[Any]] = defaultdict(list)
    for invoice in sides.invoices.itertuples(index=False):
        if invoice.doc_number in known:
            by_number[invoice.doc_number].append(invoice)
        else:
            out["orphan_invoice"] += 1
    out["duplicate_invoice"] = sum(1 for rows in by_number.values() if len(rows) > 1)
    for job in jobs:
        rows = by_number.get(job.job_id)
        if not rows:
            out["missing_invoice"] += 1
            continue
        invoice = rows[0]
        out["amount_mismatch"] += int(invoice.total_cents != job.expected_cents)
        out["customer_mismatch"] += int(pd.notna(job.accounting_customer)
                                        and invoice.customer_id != job.accounting_customer)
        out["unsent_invoice"] += int(send_invoices and not invoice.sent and bool(job.has_email))
    out["ledger_stuck"] = len(sides.ledger)
    return dict(out)
