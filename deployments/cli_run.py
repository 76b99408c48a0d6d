"""`fieldbridge run JOB`: one job through job_closed in this process, ending in one line and an exit code that
tells a person what kind of problem it is (a script can branch on it; cron can alert on it)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

EXIT_OK = 0
EXIT_UNEXPECTED = 1  # a bug: the run's logs in Prefect have the traceback
EXIT_DATA = 2  # the job's data: fix it in the field-service system (or release it from quarantine)
EXIT_CONFIG = 3  # settings, credentials, connectors: fix the configuration
EXIT_TRANSIENT = 4  # a system did not answer: run it again later (nothing was posted twice)

HELP = f"""Run job_closed for one job against the configured systems, in this process.

Exit codes: {EXIT_OK} posted everywhere; {EXIT_DATA} a data problem (unknown or open job, quarantined by the quality
gate, an invoice that needs finance's review); {EXIT_CONFIG} a configuration problem (credentials, scopes,
connector settings); {EXIT_TRANSIENT} a system was unavailable: run it again, nothing posts twice;
{EXIT_UNEXPECTED} anything else (see the run's logs)."""


def exit_code_for(error: BaseException | None) -> int:
    """The exit code of a failure: configuration beats data beats transient when several branches failed
    (a person has to act on the first two; the last goes away by itself)."""
    from pydantic import ValidationError
    from sqlalchemy.exc import OperationalError

    from connectors.contract.errors import ConnectorError, FailureType

    if error is None:
        return EXIT_UNEXPECTED
    found = list(error.exceptions) if isinstance(error, BaseExceptionGroup) else [error]
    kinds = set()
    for exc in found:
        if isinstance(exc, ConnectorError):
            kinds.add({FailureType.CONFIG: EXIT_CONFIG, FailureType.DATA: EXIT_DATA,
                       FailureType.TRANSIENT: EXIT_TRANSIENT}[exc.failure_type])
        elif isinstance(exc, ValidationError):
            kinds.add(EXIT_CONFIG)
        elif isinstance(exc, OperationalError | ConnectionError | TimeoutError):
            kinds.add(EXIT_TRANSIENT)
        else:
            kinds.add(EXIT_UNEXPECTED)
    for code in (EXIT_UNEXPECTED, EXIT_CONFIG, EXIT_DATA, EXIT_TRANSIENT):
        if code in kinds:
            return code
    return EXIT_UNEXPECTED


@contextmanager
def quiet_console(verbose: bool) -> Iterator[None]:
    """Keep Prefect's console output (run banners, task tracebacks) off the terminal during the run: the
    same lines still reach the Prefect API, where the run's page shows them."""
    from prefect.logging.handlers import APILogHandler

    if verbose:
        yield
        return
    loggers = [logging.getLogger(), *(lg for lg in logging.root.manager.loggerDict.values()
                                      if isinstance(lg, logging.Logger))]
    muted: list[tuple[logging.Handler, int]] = []
    for logger in loggers:
        for handler in logger.handlers:
            if isinstance(handler, logging.StreamHandler) and not isinstance(handler, APILogHandler):
                muted.append((handler, handler.level))
                handler.setLevel(logging.CRITICAL + 1)
    server = logging.getLogger("prefect.server")  # a temporary server's own chatter, if one is started
    server_level = server.level
    server.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for handler, level in muted:
            handler.setLevel(level)
        server.setLevel(server_level)


def run_command(
    job_id: Annotated[str, typer.Argument(help="The closed job to post, e.g. J1042.")],
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show Prefect's run logs here too.")] = False,
) -> None:
    import os

    from connectors.contract.redact import scrub

    # without a Prefect server Prefect starts a temporary one in a subprocess: keep its chatter off the terminal
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "ERROR")
    try:
        from flows.job_closed import job_closed  # configures Prefect's logging: quiet it after

        with quiet_console(verbose):
            state = job_closed(job_id, return_state=True)
            result: Any = state.result(raise_on_failure=False)
    except Exception as exc:  # before the flow could start: settings, imports, the Prefect API
        typer.echo(f"error: {scrub(str(exc)).splitlines()[0] if str(exc) else type(exc).__name__}", err=True)
        raise typer.Exit(exit_code_for(exc)) from None
    if state.is_completed() and isinstance(result, dict) and "accounting" in result:
        acc = result["accounting"]
        typer.echo(f"{job_id}: ticket {result['crm']['ticket_id']} resolved, "
                   f"{len(result['payroll']['timesheets'])} timesheet(s), invoice {acc['number']} total "
                   f"{acc['total']} {acc['currency']}")
        raise typer.Exit(EXIT_OK)
    if state.is_completed():  # superseded by a newer event's run
        typer.echo(f"{job_id}: {state.message or state.name}")
        raise typer.Exit(EXIT_OK)
    error = result if isinstance(result, BaseException) else None
    label = f"{state.name.lower()}: " if state.name not in ("Failed", "Crashed") else ""
    message = scrub(str(error) if error is not None and str(error) else state.message or "failed")
    typer.echo(f"error: {label}{message.splitlines()[0]}", err=True)
    raise typer.Exit(exit_code_for(error))
