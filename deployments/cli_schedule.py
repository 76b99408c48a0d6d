"""`fieldbridge dispatch assign|unassign`, `fieldbridge schedule`, `fieldbridge availability`: the schedule.

Exit codes: 0 done; 2 refused (leave, double booking, unknown job or technician, bad times — nothing
changed) or the CRM has no case for the job; 3 configuration (no HR system for `availability`); 4 the visit is
saved but the CRM could not be updated now (run the same command again: the case is written once).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, NoReturn

import typer

EXIT_REFUSED = 2
EXIT_CONFIG = 3
EXIT_TRANSIENT = 4

dispatch_app = typer.Typer(help="Assign technicians to jobs (refuses leave and double booking).", no_args_is_help=True)


def _fail(message: str, code: int) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _engine():
    from models.db import create_schema, get_engine
    from models.settings import get_settings

    engine = get_engine(get_settings().resolved_database_url())
    create_schema(engine)
    return engine


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        _fail(f"--date {text!r} is not a date (YYYY-MM-DD)", EXIT_REFUSED)


def _moment(text: str, what: str) -> datetime:
    import pendulum

    from models.settings import get_settings

    try:
        parsed = pendulum.parse(text, tz=get_settings().company_timezone)
    except (ValueError, pendulum.parsing.exceptions.ParserError):
        _fail(f"{what} {text!r} is not a date and time (e.g. 2026-12-02T09:00, company time zone, or with an "
              "offset: 2026-12-02T09:00-08:00)", EXIT_REFUSED)
    if not isinstance(parsed, datetime):
        _fail(f"{what} {text!r} needs a time of day", EXIT_REFUSED)
    return parsed


@dispatch_app.command("assign")
def assign_command(
    job: Annotated[str, typer.Argument(help="The job id (e.g. J1004).")],
    technician: Annotated[str, typer.Argument(help="The technician id (e.g. T03).")],
    start: Annotated[str, typer.Option(help="Visit start, e.g. 2026-12-02T09:00 (company time zone) or with offset.")],
    end: Annotated[str, typer.Option(help="Visit end, same forms.")],
    force: Annotated[bool, typer.Option(help="Assign even if the technician is on leave or booked.")] = False,
) -> None:
    """Put TECHNICIAN on JOB from START to END; refused (exit 2, nothing changed) when they are on leave or
    already visiting another job then, unless --force."""
    from models.settings import get_settings
    from tasks.dispatch import DispatchRefused, assign

    settings = get_settings()
    try:
        visit = assign(_engine(), job, technician, _moment(start, "--start"), _moment(end, "--end"),
                       workday_hours=settings.workday_hours, force=force)
    except DispatchRefused as exc:
        _fail(str(exc), EXIT_REFUSED)
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(settings.company_timezone)
    typer.echo(f"{visit.technician_id} visits {visit.job_id} {visit.start.astimezone(tz):%Y-%m-%d %H:%M}–"
               f"{visit.end.astimezone(tz):%H:%M} ({settings.company_timezone})"
               + (" — forced over a conflict" if visit.forced else ""))
    _show_on_case(visit)


def _show_on_case(visit: object) -> None:
    """The CRM case shows the assignment; a failure leaves the schedule as saved and says how to finish."""
    from connectors.contract.errors import is_retryable
    from tasks.dispatch import show_on_case
    from tasks.runtime import get_runtime

    rt = get_runtime()
    try:
        case_id = show_on_case(rt, visit)
    except Exception as exc:
        code = EXIT_TRANSIENT if is_retryable(exc) else EXIT_REFUSED
        _fail(f"the schedule is saved, but the {rt.crm.system} case was not updated: {exc}"
              + (" — run the same command again" if code == EXIT_TRANSIENT else ""), code)
    if case_id is None:
        typer.echo(f"({rt.crm.system} cannot show visits: the schedule is kept in fieldbridge only)")
    else:
        typer.echo(f"{rt.crm.system} case {case_id} shows the visit")


@dispatch_app.command("unassign")
def unassign_command(job: Annotated[str, typer.Argument()], technician: Annotated[str, typer.Argument()]) -> None:
    """Cancel TECHNICIAN's visit to JOB."""
    from tasks.dispatch import get_visit, unassign

    engine = _engine()
    if not unassign(engine, job, technician):
        _fail(f"{technician} has no scheduled visit to {job}", EXIT_REFUSED)
    typer.echo(f"{technician} no longer visits {job}")
    _show_on_case(get_visit(engine, job, technician))


def schedule_command(
    day: Annotated[str, typer.Option("--date", help="The day, YYYY-MM-DD (company time zone).")],
) -> None:
    """Print the day per technician: leave, then visits in time order."""
    from models.settings import get_settings
    from tasks.dispatch import day_schedule

    wanted = _day(day)
    tz = get_settings().company_timezone
    lines = day_schedule(_engine(), wanted, tz)
    typer.echo(f"{wanted.isoformat()} ({tz})")
    last = None
    for line in lines:
        who = f"{line.technician_id} {line.technician}" if line.technician_id != last else ""
        typer.echo(f"  {who:<24} {line.what}")
        last = line.technician_id


def availability_command() -> None:
    """Pull approved time off from the HR system now (the hr-availability flow) and print the conflicts."""
    from models.settings import get_settings

    if not get_settings().hr_system:
        _fail("no HR system configured: set FIELDBRIDGE_HR_SYSTEM to a connector playing the hr role "
              "(`fieldbridge connectors` lists them)", EXIT_CONFIG)
    from flows.hr_availability import hr_availability

    result = hr_availability()
    typer.echo(f"{len(result['added'])} leave day(s) added, {len(result['removed'])} freed, "
               f"{result['unchanged']} unchanged")
    for row in result["conflicts"]:
        typer.echo(f"conflict: {row['technician']} on {row['job']} {row['when (UTC)']} UTC — {row['why']}")


def brief_command(
    technician: Annotated[str, typer.Argument(help="The technician id (e.g. T03).")],
    day: Annotated[str, typer.Option("--date", help="The day, YYYY-MM-DD (company time zone).")],
) -> None:
    """Print TECHNICIAN's pre-visit briefs for the day (built each evening by the customer-context flow)."""
    from tasks.briefs import briefs_for

    wanted = _day(day)
    found = briefs_for(_engine(), technician, wanted)
    if not found:
        _fail(f"no briefs for {technician} on {wanted.isoformat()}: no visits that day, or the customer-context "
              "flow has not run for it yet (`prefect deployment run customer-context/customer-context -p day=…`)",
              EXIT_REFUSED)
    typer.echo("\n\n".join(b.markdown for b in found))
