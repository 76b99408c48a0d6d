"""Hardening: a vendor that echoes credentials never gets them into a log, the ledger, an artifact, a state
message or a traceback; httpx's request logs hide URLs' data; the home and its files are owner-only; `.env`
stays out of git; the sandbox admin API answers loopback clients only; `fieldbridge run` ends in one line
and an exit code that tells data, configuration and transient failures apart; `fieldbridge --version`."""

from __future__ import annotations

import asyncio
import logging
import stat
import subprocess
import traceback
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from connectors.contract.redact import MASK, install_log_redaction, remember_secret, scrub
from connectors.http import RetryPolicy
from deployments.cli import app
from tests.conftest import World

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def _hubspot_token() -> str:
    from connectors.registry import get_plugin

    return get_plugin("hubspot").load_settings().token.get_secret_value()


async def _run_texts(flow_run_id: Any) -> list[str]:
    """Everything Prefect holds about one run: its logs (and its tasks'), state messages, artifacts."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowRunFilter,
        FlowRunFilterId,
        LogFilter,
        LogFilterFlowRunId,
        TaskRunFilter,
        TaskRunFilterFlowRunId,
    )

    async with get_client() as client:
        logs = await client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
        arts = await client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))
        runs = await client.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
        tasks = await client.read_task_runs(task_run_filter=TaskRunFilter(
            flow_run_id=TaskRunFilterFlowRunId(any_=[flow_run_id])))
    return ([log.message for log in logs] + [str(a.data) + str(a.description) for a in arts]
            + [r.state.message or "" for r in runs if r.state] + [t.state.message or "" for t in tasks if t.state])


def test_a_vendor_echoing_credentials_never_gets_them_anywhere(
        world: World, prefect_harness: None, caplog: pytest.LogCaptureFixture) -> None:
    from flows.job_closed import job_closed
    from models.integration import Effect

    token = _hubspot_token()
    world.faults("hubspot", echo_credentials=True)
    raw = httpx.get(f"{world.sandboxes.url('hubspot')}/crm/v3/objects/tickets?hapikey=k3y-in-the-query-123",
                    headers={"Authorization": f"Bearer {token}"})
    assert raw.status_code == 400 and token in raw.text and "k3y-in-the-query-123" in raw.text  # it does echo

    job = world.company.jobs[0].id
    with caplog.at_level(logging.DEBUG):
        state = job_closed(job, return_state=True)
    assert state.is_failed()
    error = state.result(raise_on_failure=False)
    texts = [state.message or "", str(error), "".join(traceback.format_exception(error))]
    texts += [r.getMessage() + (r.exc_text or "") for r in caplog.records]
    with Session(world.runtime.engine) as s:
        texts += [e.last_error or "" for e in s.exec(select(Effect).where(Effect.job_id == job))]
    texts += asyncio.run(_run_texts(state.state_details.flow_run_id))
    leaked = [t for t in texts if token in t]
    assert not leaked, leaked[0][:500]
    assert any(f"Authorization '{MASK}'" in t for t in texts)  # the echo arrived, scrubbed: the test looks where
    # it would leak


def test_scrub_masks_remembered_values_and_credential_shapes() -> None:
    remember_secret("s3cr3t-remembered-value")
    text = ('{"message": "bad key s3cr3t-remembered-value", "access_token": "abc123def456", '
            '"hint": "Authorization: Basic dXNlcjpwYXNzd29yZA==", "url": "/x?client_secret=zzzzzz&page=2", '
            '"jwt": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"}')
    out = scrub(text)
    for secret in ("s3cr3t-remembered-value", "abc123def456", "dXNlcjpwYXNzd29yZA==", "zzzzzz", "eyJhbGciOi"):
        assert secret not in out
    assert "page=2" in out and '"message": "bad key ***"' in out  # only the secrets go
    for prose in ("job J1042 closed at 10:00, 3 hours", "no refresh token configured: run the connect step",
                  "Basic authentication failed", "the bearer token expired"):
        assert scrub(prose) == prose


def test_log_records_and_tracebacks_are_scrubbed_for_every_logger(caplog: pytest.LogCaptureFixture) -> None:
    install_log_redaction()
    remember_secret("tok-0123456789-abcdef")
    log = logging.getLogger("some.library")
    with caplog.at_level(logging.INFO):
        log.info("calling with %s", "Bearer tok-0123456789-abcdef")
        try:
            raise RuntimeError("vendor said: token tok-0123456789-abcdef is invalid")
        except RuntimeError:
            log.exception("failed")
    rendered = caplog.text + "".join(r.exc_text or "" for r in caplog.records)
    assert "tok-0123456789-abcdef" not in rendered and "RuntimeError" in rendered


def test_httpx_request_logs_hide_queries_and_emails(caplog: pytest.LogCaptureFixture) -> None:
    install_log_redaction()
    assert logging.getLogger("httpx").getEffectiveLevel() >= logging.WARNING  # not logged at all by default
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={}))
    logging.getLogger("httpx").setLevel(logging.INFO)  # someone turns it on to debug
    try:
        with caplog.at_level(logging.INFO, logger="httpx"), httpx.Client(transport=transport) as client:
            client.get("https://api.example.com/contacts/jane.doe@example.com?email=jane.doe%40example.com"
                       "&hapikey=abcdefgh12345678")
    finally:
        logging.getLogger("httpx").setLevel(logging.WARNING)
    lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert lines, "httpx logged nothing: the filter cannot be checked"
    assert all("jane.doe" not in line and "abcdefgh12345678" not in line for line in lines), lines
    assert any("https://api.example.com/contacts/" in line for line in lines)


def test_the_home_and_its_files_are_owner_only(tmp_path: Path) -> None:
    from connectors.contract import TokenSet
    from connectors.http import FileTokenStore
    from deployments.demo import ingress_secret
    from models.db import create_schema, make_engine
    from models.settings import FieldbridgeSettings

    home = tmp_path / "home"
    url = FieldbridgeSettings(home=home, database_url=None).resolved_database_url()
    engine = make_engine(url)
    create_schema(engine)
    engine.dispose()
    FileTokenStore(home / "tokens" / "vendor.json").save(TokenSet("a" * 20, "r" * 20, 0.0))
    ingress_secret(home)
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    files = [p for p in home.rglob("*") if p.is_file() and not p.name.endswith(".lock")]
    assert {p.name for p in files} >= {"fieldbridge.db", "vendor.json"}
    wide = {str(p.relative_to(home)): oct(stat.S_IMODE(p.stat().st_mode)) for p in files
            if stat.S_IMODE(p.stat().st_mode) & 0o077}
    assert not wide


def test_a_home_created_too_open_is_tightened(tmp_path: Path) -> None:
    from models.settings import FieldbridgeSettings

    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    home.chmod(0o755)
    (home / "fieldbridge.db").touch(mode=0o644)
    (home / "fieldbridge.db").chmod(0o644)
    FieldbridgeSettings(home=home, database_url=None).resolved_database_url()
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "fieldbridge.db").stat().st_mode) == 0o600


def test_dotenv_files_are_ignored_by_git() -> None:
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    for name in (".env", ".env.production"):
        assert subprocess.run(["git", "check-ignore", "-q", name], cwd=ROOT).returncode == 0, name


def test_the_sandbox_admin_api_answers_loopback_clients_only() -> None:
    from deployments import sandboxes

    box = sandboxes.build("hubspot", None, None)

    async def call(host: str, path: str, method: str = "GET") -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=box.asgi(), client=(host, 50000)),
                                     base_url="http://sandbox") as c:
            return await c.request(method, path)

    remote = asyncio.run(call("10.1.2.3", "/_sandbox/stats"))
    assert remote.status_code == 403 and "loopback clients only" in remote.text
    assert asyncio.run(call("10.1.2.3", "/_sandbox/reset", "POST")).status_code == 403
    assert asyncio.run(call("127.0.0.1", "/_sandbox/stats")).status_code == 200
    assert asyncio.run(call("::1", "/_sandbox/stats")).status_code == 200
    assert asyncio.run(call("10.1.2.3", "/crm/v3/objects/tickets")).status_code == 401  # the vendor API is not


def test_version() -> None:
    from importlib.metadata import version

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"fieldbridge {version('fieldbridge')}"


def test_run_ends_in_one_line_and_an_exit_code_per_kind_of_failure(world: World, prefect_harness: None) -> None:
    from sqlmodel import Session

    from models.canonical import TimeEntry

    jobs = [j.id for j in world.company.jobs]
    help_text = runner.invoke(app, ["run", "--help"]).output
    assert "Exit codes" in help_text and "configuration" in help_text

    def run(job: str) -> Any:
        result = runner.invoke(app, ["run", job])
        assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1, result.output
        return result

    unknown = run("J9999")
    assert unknown.exit_code == 2 and "J9999' does not exist" in unknown.output

    world.faults("hubspot", error_rate=1.0)  # the CRM is down: transient, try again later
    world.runtime.crm.http.policy = RetryPolicy(max_attempts=2, base_seconds=0.01)
    down = run(jobs[0])
    assert down.exit_code == 4, down.output
    world.faults("hubspot", error_rate=0.0)

    token = world.runtime.crm.http.auth
    from pydantic import SecretStr

    from connectors.http import BearerToken

    world.runtime.crm.http.auth = BearerToken(SecretStr("pat-revoked-token-000"))  # credentials revoked
    revoked = run(jobs[0])
    assert revoked.exit_code == 3, revoked.output
    assert "pat-revoked-token-000" not in revoked.output
    world.runtime.crm.http.auth = token

    posted = run(jobs[0])
    assert posted.exit_code == 0 and f"{jobs[0]}: ticket" in posted.output

    with Session(world.runtime.engine) as s:  # impossible hours: the quality gate holds the job
        entry = s.exec(select(TimeEntry).where(TimeEntry.job_id == jobs[1])).first()
        entry.end = entry.start.replace(year=entry.start.year - 1)
        s.add(entry)
        s.commit()
    held = run(jobs[1])
    assert held.exit_code == 2 and "quarantined" in held.output.lower(), held.output


def test_a_database_or_api_that_went_away_is_transient_a_schema_error_is_not() -> None:
    """What the task retries and the sweeper's re-drive may wait out: a dropped connection (PostgreSQL
    restarted), SQLite's lock, the Prefect API unreachable; never a missing table or a constraint."""
    import httpx
    from sqlalchemy.exc import IntegrityError, OperationalError

    import models.db  # noqa: F401  (registers the database checks)
    import tasks.runtime  # noqa: F401  (registers the orchestration checks)
    from connectors.contract.errors import DataError, TransientError, is_retryable

    def op(message: str) -> OperationalError:
        return OperationalError("SELECT 1", {}, Exception(message))

    assert is_retryable(op("server closed the connection unexpectedly"))
    assert is_retryable(op("terminating connection due to administrator command"))
    assert is_retryable(op("connection to server at \"127.0.0.1\", port 5432 failed: Connection refused"))
    assert is_retryable(op("database is locked"))
    assert not is_retryable(op("no such table: effect"))
    assert not is_retryable(IntegrityError("INSERT", {}, Exception("duplicate key value")))
    assert is_retryable(httpx.ConnectError("connection refused"))
    from prefect.concurrency.v1._asyncio import ConcurrencySlotAcquisitionError

    assert is_retryable(ConcurrencySlotAcquisitionError("Unable to acquire concurrency slots on ['tag:crm']"))
    assert is_retryable(TransientError("gusto", "503")) and not is_retryable(DataError("gusto", "422"))
    assert not is_retryable(ValueError("a bug"))
