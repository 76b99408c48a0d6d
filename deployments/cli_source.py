"""`fieldbridge connect <vendor>` (an OAuth app's first tokens) and `fieldbridge sync <job>` (read a job from the
field-service system again, e.g. after fixing its mapping)."""

from __future__ import annotations

import secrets
from typing import Annotated
from urllib.parse import parse_qs, urlsplit

import typer

from deployments.cli_schedule import _engine, _fail


def code_from(answer: str, state: str | None) -> str:
    """The authorization code from what the person pasted: the whole redirect URL (its state checked against
    the one this command sent, when it sent one), or the code alone."""
    answer = answer.strip()
    if "://" not in answer and "?" not in answer:
        if not answer:
            raise ValueError("nothing was pasted")
        return answer
    query = parse_qs(urlsplit(answer).query)
    if "code" not in query:
        raise ValueError("the URL has no code: the authorization was denied, or this is not the redirect URL")
    if state is not None and query.get("state", [""])[0] != state:
        raise ValueError("the URL's state is not the one this command sent: start `fieldbridge connect` again")
    return query["code"][0]


def connect_command(
    connector: Annotated[str, typer.Argument(help="The connector to connect (`fieldbridge connectors` lists them).")],
    code: Annotated[str | None, typer.Option(help="The authorization code (or the redirect URL), if you have it "
                                             "already; otherwise the command asks for it.")] = None,
) -> None:
    """Connect an OAuth app: open the printed URL, consent, paste the URL you were sent back to."""
    from connectors.contract import ConfigError, ConnectContext
    from connectors.registry import UnknownConnector, get_plugin
    from models.settings import get_settings
    from models.token_store import DatabaseTokenStore

    try:
        plugin = get_plugin(connector)
    except UnknownConnector as exc:
        _fail(str(exc), 1)
    if plugin.oauth is None:
        _fail(f"{plugin.title} needs no authorization step: see {plugin.docs or 'docs/connectors.md'}", 1)
    settings = plugin.load_settings()
    state = secrets.token_urlsafe(16)
    sent_state: str | None = None  # `--code`: the URL comes from an earlier authorization, not this one
    if code is None:
        sent_state = state
        typer.echo(f"1. Open this URL and allow access to your {plugin.title} account:\n\n   "
                   f"{plugin.oauth.authorize_url(settings, state)}\n")
        typer.echo(f"2. {plugin.title} sends you to {plugin.oauth.redirect_uri(settings)}?code=…; paste that whole "
                   "address (or the code) here.")
        code = typer.prompt("Redirect URL or code")
    try:
        grant = code_from(code, sent_state)
    except ValueError as exc:
        _fail(str(exc), 1)
    core = get_settings()
    engine = _engine()
    ctx = ConnectContext(settings=settings, home=core.home, timeout_seconds=core.http_timeout_seconds,
                         max_attempts=core.http_max_attempts, token_store=lambda key: DatabaseTokenStore(engine, key))
    try:
        what = plugin.oauth.exchange(ctx, grant)
    except ConfigError as exc:
        _fail(f"{exc} — open the URL again for a fresh code (a code works once, for a few minutes)", 3)
    typer.echo(f"Connected: {what}. The tokens are in fieldbridge's database; refreshes rotate them there.")


def sync_command(
    job: Annotated[str, typer.Argument(help="fieldbridge's job id (e.g. JB1001) or the vendor's job id.")],
) -> None:
    """Read one job from the field-service system again and post it if it changed (after fixing a mapping)."""
    from sqlmodel import Session, select

    from flows.field_service import field_service_sync
    from models.integration import ExternalRef
    from tasks.runtime import get_runtime

    rt = get_runtime()
    if rt.field_service is None:
        _fail("no field-service system is configured: set FIELDBRIDGE_FIELD_SERVICE_SYSTEM", 3)
    with Session(rt.engine) as s:
        ref = s.exec(select(ExternalRef).where(ExternalRef.system == rt.field_service.system,
                                               ExternalRef.entity == "job", ExternalRef.canonical_id == job)).first()
    state = field_service_sync(topic="JOB_UPDATE", item_id=ref.vendor_id if ref else job, return_state=True)
    result = state.result(raise_on_failure=False)
    if not state.is_completed():
        _fail(f"{state.name}: {state.message}", 1)
    typer.echo(f"{job}: {result.get('outcome')}" + (f" ({result['why']})" if result.get("why") else "")
               + (f", job-closed run {result['flow_run_id']}" if result.get("flow_run_id") else ""))
