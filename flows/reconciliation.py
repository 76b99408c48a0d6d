"""nightly_reconciliation: prove that CRM, payroll and accounting agree with the field-service model for a
day, report every drift row, and (with repair="safe") re-drive what is missing through the ledger.

Run state: `Completed` when every check of the suite passes; `Failed` with a message an accountant can act
on when drift is above the thresholds; `Failed` (and no report published as complete) when a vendor could
not be read to the end.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.cache_policies import NO_CACHE
from prefect.states import Completed, Failed, State

from flows.logs import route_fieldbridge_logs
from tasks.reconcile import sides as pull
from tasks.reconcile.checks import Verdict, summary_counts, verdict
from tasks.reconcile.distributed import compare_partitioned, dask_runner
from tasks.reconcile.drift import CLASSES, EXPLAIN, Sides, counts, find_drift
from tasks.reconcile.repair import RepairReport, repair
from tasks.reconcile.window import Window, custom_window, day_window, yesterday
from tasks.runtime import Runtime, get_runtime

route_fieldbridge_logs()

STEPS = 5  # canonical, CRM, payroll, accounting, compare


class PullFailed(RuntimeError):
    """A system could not be read to the end: the report would be partial, so none is published."""


@dataclass
class Night:
    window: Window
    sides: Sides
    drift: pd.DataFrame
    verdict: Verdict


def resolve_window(window_start: datetime | None, window_end: datetime | None, timezone: str,
                   day: date | None = None) -> Window:
    if day is not None:
        return day_window(day, timezone)
    if window_start is None and window_end is None:
        return yesterday(timezone)
    if window_start is None or window_end is None:
        raise ValueError("give both window_start and window_end, or neither (yesterday)")
    return custom_window(window_start, window_end, timezone)


@task(name="canonical-side", cache_policy=NO_CACHE, task_run_name="canonical-{label}")
def canonical_task(window: Window, label: str) -> dict[str, Any]:
    return pull.canonical_side(get_runtime(), window)


@task(name="pull-side", cache_policy=NO_CACHE, task_run_name="pull-{role}-{system}", retries=1,
      retry_delay_seconds=5)
def pull_side(role: str, system: str, read: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    """Read one system's side to the end, or fail saying that no report will be published."""
    try:
        return read()
    except Exception as exc:
        label = "CRM" if role == "crm" else role
        raise PullFailed(f"{label} ({system}): could not be read to the end ({exc}); no reconciliation report "
                         "was published for this window — rerun it when the system answers") from exc


#: callables told of every page and step (the CLI's progress bar listens here)
LISTENERS: list[Any] = []


class Progress:
    """A progress artifact (steps done of STEPS) plus a log line per page pulled."""

    def __init__(self, label: str) -> None:
        self.logger = get_run_logger()
        self.steps = 0
        self.id = create_progress_artifact(progress=0.0, key=f"reconciliation-progress-{_key(label)}",
                                           description=f"Reconciliation of {label}: sides read and compared")

    def __call__(self, side: str, pages: int, rows: int) -> None:
        self.logger.info("%s: page %d read (%d records so far)", side, pages, rows)
        for listener in LISTENERS:
            listener(self.steps, f"{side}: page {pages} ({rows} records)")

    def step(self, what: str) -> None:
        self.steps = min(self.steps + 1, STEPS)
        update_progress_artifact(self.id, progress=100.0 * self.steps / STEPS)
        self.logger.info("reconciliation: %s (%d/%d)", what, self.steps, STEPS)
        for listener in LISTENERS:
            listener(self.steps, what)


def check_night(rt: Runtime, window: Window, threshold: float, progress: Progress, partitions: int = 0) -> Night:
    canonical = canonical_task(window, window.label)
    progress.step(f"{len(canonical['jobs'])} closed job(s), {len(canonical['hours'])} technician-day(s) expected")
    jobs = [j for j, held in zip(canonical["jobs"]["job_id"], canonical["jobs"]["held"], strict=True) if not held]
    days = sorted(set(window.local_days()) | set(pull.workdays(canonical["hours"])))
    employees = sorted(set(canonical["hours"]["employee_id"]))
    systems = {"crm": rt.crm.system, "payroll": rt.payroll.system, "accounting": rt.accounting.system}
    futures = {
        "cases": pull_side.submit("crm", rt.crm.system, lambda: pull.pull_cases(rt.crm, window, jobs, progress)),
        "sheets": pull_side.submit("payroll", rt.payroll.system,
                                   lambda: pull.pull_sheets(rt.payroll, days, employees, progress)),
        "invoices": pull_side.submit("accounting", rt.accounting.system,
                                     lambda: pull.pull_invoices(rt.accounting, window, jobs, progress)),
    }
    frames: dict[str, pd.DataFrame] = {}
    errors: list[str] = []
    for name, future in futures.items():
        try:
            frames[name] = future.result()
            progress.step(f"{name}: {len(frames[name])} record(s) read")
        except Exception as exc:
            errors.append(str(exc))
    if errors:
        raise PullFailed(" | ".join(errors))
    sides = Sides(canonical["jobs"], canonical["hours"], frames["cases"], frames["sheets"], frames["invoices"],
                  canonical["ledger"], canonical["known_jobs"], systems)
    drift = compare(rt, sides, partitions)
    return Night(window, sides, drift, verdict(sides, drift, threshold))


def compare(rt: Runtime, sides: Sides, partitions: int) -> pd.DataFrame:
    """In this process, or as `partitions` task runs on a Dask cluster: the same rows either way."""
    if partitions <= 1:
        return find_drift(sides, send_invoices=rt.settings.send_invoices)
    st = rt.settings
    get_run_logger().info("comparing in %d partitions (workday × technician) on %s", partitions,
                          st.reconcile_dask_address or f"a local Dask cluster of {st.reconcile_dask_workers}")
    runner = dask_runner(st.reconcile_dask_address, st.reconcile_dask_workers)
    return compare_partitioned(sides, partitions, runner, send_invoices=st.send_invoices)


def _run_name() -> str:
    from prefect.runtime import flow_run

    params = flow_run.parameters or {}
    when = params.get("day") or (f"{params['window_start']}..{params['window_end']}"
                                 if params.get("window_start") else "yesterday")
    return f"reconciliation-{when}" + ("-repair" if params.get("repair_mode") == "safe" else "")


@flow(name="nightly-reconciliation", flow_run_name=_run_name, log_prints=False)
def nightly_reconciliation(window_start: datetime | None = None, window_end: datetime | None = None,
                           repair_mode: Literal["none", "safe"] = "none", day: date | None = None,
                           match_threshold: float | None = None, partitions: int | None = None) -> State:
    """Compare the four systems for a window (default: yesterday in the company's time zone).

    `repair_mode="safe"` re-drives missing and mismatched effects through the ledger and checks again;
    duplicates and orphans are only reported. Rows go to a table artifact, a markdown summary, and Parquet
    and CSV files under `<home>/reconciliation/`. `partitions` > 1 compares on a Dask cluster (default:
    the `reconcile_partitions` setting).
    """
    logger = get_run_logger()
    rt = get_runtime()
    window = resolve_window(window_start, window_end, rt.settings.company_timezone, day)
    threshold = rt.settings.reconcile_match_threshold if match_threshold is None else match_threshold
    parts = rt.settings.reconcile_partitions if partitions is None else partitions
    progress = Progress(window.label)
    try:
        night = check_night(rt, window, threshold, progress, parts)
    except PullFailed as exc:
        logger.error("reconciliation of %s incomplete: %s", window.label, exc)
        return Failed(message=f"reconciliation of {window.label} incomplete: {exc}")
    before = counts(night.drift)
    repaired: RepairReport | None = None
    if repair_mode == "safe" and len(night.drift):
        repaired = repair(rt, night.drift)
        logger.info("repair: %d re-driven, %d not repaired, %d for a person", len(repaired.repaired),
                    len(repaired.not_repaired), repaired.for_a_person)
        progress.steps = 0  # the re-check reads every side again
        try:
            night = check_night(rt, window, threshold, progress, parts)
        except PullFailed as exc:
            return Failed(message=f"reconciliation of {window.label}: repaired, but the re-check is incomplete: {exc}")
    files = publish(rt, night, before, repaired)
    summary = {"window": window.label, "drift": counts(night.drift), "before_repair": before if repaired else None,
               "match_rate": night.verdict.match_rate, "files": files,
               "repair": repaired.lines() if repaired else None}
    update_progress_artifact(progress.id, progress=100.0)
    if not night.verdict.success:
        return Failed(message=f"reconciliation of {window.label}: {night.verdict.message()}", data=summary)
    return Completed(message=f"reconciliation of {window.label}: {night.verdict.message()}, "
                     f"{len(night.drift)} drift row(s)", data=summary)


def publish(rt: Runtime, night: Night, before: dict[str, int], repaired: RepairReport | None) -> dict[str, str]:
    """The table artifact (every row), the markdown summary, and the same rows as Parquet and CSV."""
    label = night.window.label
    out = Path(rt.settings.home) / "reconciliation"
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"reconciliation-{_key(label)}"
    rows = night.drift.astype("string")  # one type per column for Parquet; missing values stay null
    rows.to_parquet(f"{stem}.parquet", index=False)
    rows.to_csv(f"{stem}.csv", index=False)
    table = night.drift.astype(object).where(night.drift.notna(), None).to_dict(orient="records") \
        or [{"drift_class": "none", "detail": "every system agrees"}]
    create_table_artifact(key=f"reconciliation-{_key(label)}", table=table,
                          description=f"Reconciliation of {label}: every drift row")
    create_markdown_artifact(key=f"reconciliation-summary-{_key(label)}",
                             markdown=summary_markdown(night, before, repaired, f"{stem}.parquet"),
                             description=f"Reconciliation of {label}: summary per class and system")
    return {"parquet": f"{stem}.parquet", "csv": f"{stem}.csv"}


def summary_markdown(night: Night, before: dict[str, int], repaired: RepairReport | None, parquet: str) -> str:
    s, v = night.sides, night.verdict
    held = int(s.jobs["held"].astype(bool).sum())
    lines = [f"# Reconciliation of {night.window.label} ({night.window.timezone}, {night.window.hours:g} h)", "",
             f"**{'Passed' if v.success else 'FAILED'}** — {v.message()}", "",
             f"- closed jobs: **{len(s.jobs)}** ({held} held by the quality gate, not drift)",
             f"- technician-days with paid time: **{len(s.hours)}**",
             f"- read: {len(s.cases)} case(s) from {s.systems['crm']}, {len(s.sheets)} sheet(s) from "
             f"{s.systems['payroll']}, {len(s.invoices)} invoice(s) from {s.systems['accounting']}",
             f"- rows for analysts: `{parquet}` (and .csv)", "",
             "| drift class | rows | " + ("before repair | " if repaired else "") + "per system | what it means |",
             "|---|---|" + ("---|" if repaired else "") + "---|---|"]
    per = summary_counts(night.drift)
    now = counts(night.drift)
    for cls in CLASSES:
        systems = ", ".join(f"{k}: {n}" for k, n in per[cls].items()) or "-"
        mid = f"{before[cls]} | " if repaired else ""
        lines.append(f"| `{cls}` | {now[cls]} | {mid}{systems} | {EXPLAIN[cls]} |")
    if repaired:
        lines += ["", "## Repair", "", f"{len(repaired.repaired)} re-driven through the ledger, "
                  f"{len(repaired.not_repaired)} not repaired, {repaired.for_a_person} left for a person "
                  "(duplicates and orphans are never voided or deleted by fieldbridge).", ""]
        lines += [f"- {line}" for line in repaired.lines()[:200]]
    return "\n".join(lines)


def _key(label: str) -> str:
    """Artifact keys take lowercase letters, digits and dashes."""
    return "".join(c if c.isalnum() else "-" for c in label.lower()).strip("-")
