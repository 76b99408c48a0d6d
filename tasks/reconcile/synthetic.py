"""Synthetic sides with a known number of each drift class, for the scale benchmark and tests.

Every job starts in agreement on all four sides; each drift class is then injected into its own slice of
jobs (slices never overlap), so the exact count of every class is known in advance.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tasks.reconcile.drift import CLASSES, LEDGER_COLUMNS, Sides, empty


def _ids(prefix: str, numbers: np.ndarray, width: int = 7) -> pd.Series:
    return prefix + pd.Series(numbers).astype(str).str.zfill(width)


def make_sides(jobs: int, inject: dict[str, int], *, held: int = 0, seed: int = 7,
               workday: str = "2026-11-29", days: int = 1) -> tuple[Sides, dict[str, int]]:
    """`jobs` closed jobs agreeing everywhere, then `inject[class]` rows of each class and `held` quarantined
    jobs (not drift). Jobs close on `days` consecutive workdays from `workday`, one technician each.
    Returns the sides and the counts a correct comparison must find."""
    unknown = set(inject) - set(CLASSES)
    if unknown:
        raise ValueError(f"unknown drift classes: {sorted(unknown)}")
    on_jobs = [c for c in CLASSES if c not in ("orphan_invoice", "ledger_stuck")]
    needed = sum(inject.get(c, 0) for c in on_jobs) + held
    if needed > jobs:
        raise ValueError(f"{needed} jobs needed for the injected drift, only {jobs} exist")
    rng = np.random.default_rng(seed)
    n = np.arange(jobs)
    job_ids = _ids("J", n)
    customers = _ids("C", n % max(1, jobs // 20), 6)
    expected = rng.integers(5_000, 250_000, jobs)
    minutes = rng.integers(60, 600, jobs)
    first = pd.Timestamp(workday)
    workdays = pd.Series([(first + pd.Timedelta(days=d)).date().isoformat() for d in range(days)])[n % days]
    workdays = workdays.reset_index(drop=True)
    slices: dict[str, np.ndarray] = {}
    order = rng.permutation(jobs)
    at = 0
    for name in [*on_jobs, "held"]:
        count = held if name == "held" else inject.get(name, 0)
        slices[name] = order[at: at + count]
        at += count

    is_held = np.zeros(jobs, dtype=bool)
    is_held[slices["held"]] = True
    jobs_frame = pd.DataFrame({"job_id": job_ids, "customer_id": customers, "expected_cents": expected,
                               "accounting_customer": "A" + customers, "has_email": True, "held": is_held,
                               "technician_id": _ids("T", n), "workday": workdays})
    posted = ~is_held  # a held job was never posted anywhere

    keep = posted.copy()
    keep[slices["missing_case"]] = False
    resolved = np.ones(jobs, dtype=bool)
    resolved[slices["case_not_resolved"]] = False
    cases = pd.DataFrame({"case_id": _ids("K", n), "job_id": job_ids, "resolved": resolved})[keep]

    employees = _ids("E", n)
    hours = pd.DataFrame({"employee_id": employees, "workday": workdays, "technician_id": _ids("T", n),
                          "expected_minutes": minutes})[posted]
    keep = posted.copy()
    keep[slices["missing_timesheet"]] = False
    held_minutes = minutes.copy()
    held_minutes[slices["hours_mismatch"]] += 15
    sheets = pd.DataFrame({"sheet_id": _ids("S", n), "employee_id": employees, "workday": workdays,
                           "minutes": held_minutes})[keep]

    keep = posted.copy()
    keep[slices["missing_invoice"]] = False
    totals = expected.copy()
    totals[slices["amount_mismatch"]] += 1
    billed = ("A" + customers).to_numpy(copy=True)
    billed[slices["customer_mismatch"]] = "A-someone-else"
    sent = np.ones(jobs, dtype=bool)
    sent[slices["unsent_invoice"]] = False
    invoices = pd.DataFrame({"invoice_id": _ids("I", n), "doc_number": job_ids, "customer_id": billed,
                             "total_cents": totals, "sent": sent})[keep]
    dupes = invoices[invoices["doc_number"].isin(job_ids.iloc[slices["duplicate_invoice"]])].copy()
    dupes["invoice_id"] = "D" + dupes["invoice_id"]
    orphans = pd.DataFrame({"invoice_id": _ids("O", np.arange(inject.get("orphan_invoice", 0))),
                            "doc_number": _ids("X", np.arange(inject.get("orphan_invoice", 0))),
                            "customer_id": "A-walk-in", "total_cents": 1000, "sent": True})
    invoices = pd.concat([invoices, dupes, orphans], ignore_index=True)

    stuck = inject.get("ledger_stuck", 0)
    ledger = pd.DataFrame({"key": _ids("accounting:invoice:J", np.arange(stuck)), "system": "accounting",
                           "kind": "invoice", "job_id": None, "status": "in_flight",
                           "last_error": "connection reset"}) if stuck else empty(LEDGER_COLUMNS)
    sides = Sides(jobs_frame, hours.reset_index(drop=True), cases.reset_index(drop=True),
                  sheets.reset_index(drop=True), invoices, ledger, pd.Index(job_ids))
    return sides, {c: inject.get(c, 0) for c in CLASSES}
