"""`fieldbridge reconcile`: the nightly reconciliation, run here with a progress bar and a printed summary."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from deployments.cli_ops import _console, _parse_day

EXIT_DRIFT = 2  # the systems disagree beyond the thresholds (a data problem)
EXIT_INCOMPLETE = 4  # a system could not be read to the end (transient: run it again)


def reconcile_command(
    day: Annotated[str | None, typer.Option("--date", help="The local day to reconcile (YYYY-MM-DD, company time "
                                            "zone). Default: yesterday.")] = None,
    repair: Annotated[str, typer.Option(help="none: report only. safe: re-post what is missing or different "
                                        "through the ledger, then check again (never voids or deletes).")] = "none",
    threshold: Annotated[float | None, typer.Option(min=0, max=1, help="Share of jobs that must agree "
                                                    "(default: FIELDBRIDGE_RECONCILE_MATCH_THRESHOLD).")] = None,
    partitions: Annotated[int | None, typer.Option(min=0, help="Compare in N partitions (workday × technician) "
                                                   "on a Dask cluster: FIELDBRIDGE_RECONCILE_DASK_ADDRESS, or a "
                                                   "local one (default: FIELDBRIDGE_RECONCILE_PARTITIONS).")] = None,
) -> None:
    """Compare CRM, payroll and accounting with the field-service model for one day.

    Exit codes: 0 every check passed, 2 drift above the thresholds, 4 a system could not be read to the end."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from flows import reconciliation
    from tasks.reconcile.drift import CLASSES, EXPLAIN

    if repair not in ("none", "safe"):
        typer.echo(f"error: --repair must be none or safe, not {repair!r}", err=True)
        raise typer.Exit(EXIT_DRIFT)
    when = _parse_day(day, "--date") if day else None
    console = _console()
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task("reconciling", total=reconciliation.STEPS)

        def listen(steps: int, what: str) -> None:
            bar.update(task, completed=steps, description=what[:70])

        reconciliation.LISTENERS.append(listen)
        try:
            state = reconciliation.nightly_reconciliation(day=when, repair_mode=repair, match_threshold=threshold,
                                                          partitions=partitions, return_state=True)
        finally:
            reconciliation.LISTENERS.remove(listen)
    result: Any = state.result(raise_on_failure=False)
    if not isinstance(result, dict):  # incomplete: no report
        console.print(f"[red]{state.message}[/red]")
        raise typer.Exit(EXIT_INCOMPLETE)
    console.print(f"[bold]{state.message}[/bold]")
    before = result.get("before_repair")
    for cls in CLASSES:
        n = result["drift"][cls]
        was = f" (before repair {before[cls]})" if before else ""
        if n or (before and before[cls]):
            console.print(f"  {cls:<18} {n:>6}{was}  {EXPLAIN[cls]}")
    for line in result.get("repair") or []:
        console.print(f"  {line}")
    console.print(f"rows: {result['files']['parquet']} (and .csv)")
    raise typer.Exit(0 if state.is_completed() else EXIT_DRIFT)
