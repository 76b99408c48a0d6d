"""The production path against a real PostgreSQL server: unique claims and leases under real concurrency."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator

import pytest

from connectors.contract.records import VendorRecord
from models.db import create_schema, make_engine
from models.ledger import Ledger

PG_ADMIN_URL = os.environ.get("FIELDBRIDGE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")

pytestmark = pytest.mark.postgres


def _pg_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL.replace("postgresql://", "postgresql://", 1), connect_timeout=3):
            return True
    except Exception:
        return False


def require_postgres() -> None:
    """Skip where PostgreSQL is not running; fail in CI, which must start it."""
    if not _pg_available():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}; CI must start it")
        pytest.skip(f"PostgreSQL is not reachable at {PG_ADMIN_URL}")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A throwaway database per test, dropped afterwards."""
    import psycopg

    require_postgres()
    name = f"fb_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_racing_workers_write_once(backend: str, pg_url: str, tmp_path) -> None:
    url = pg_url if backend == "postgresql" else f"sqlite:///{tmp_path / 'race.db'}"
    engine = make_engine(url)
    create_schema(engine)
    writes: Counter[str] = Counter()
    lock = threading.Lock()
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        ledger = Ledger(engine, wait_seconds=20)
        start.wait()
        try:
            for k in range(5):
                def write(_existing, k=k) -> VendorRecord:
                    with lock:
                        writes[f"key-{k}"] += 1
                    time.sleep(0.02)  # the vendor call
                    return VendorRecord(id=f"vendor-{k}")

                out = ledger.run(f"test:invoice:key-{k}", system="test", kind="invoice", job_id=f"J{k}",
                                 payload={"k": k}, lookup=lambda: None, write=write)
                assert out.vendor_id == f"vendor-{k}"
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert writes == {f"key-{k}": 1 for k in range(5)}
    engine.dispose()


def test_job_closed_on_postgres(pg_url: str, tmp_path, monkeypatch, prefect_harness) -> None:
    from collections import Counter as C

    from flows.job_closed import job_closed
    from tasks.runtime import reset_runtime
    from tests.conftest import make_world, run_concurrently

    world = make_world(tmp_path, monkeypatch, jobs=2, database_url=pg_url)
    try:
        world.faults_all(drop_first_write=True)
        errors = run_concurrently(lambda: job_closed("J1001"), lambda: job_closed("J1001"))
        job_closed("J1002")
        assert errors == []
        assert C(i["DocNumber"] for i in world.state("quickbooks", "Invoice")) == {"J1001": 1, "J1002": 1}
        assert len(world.state("hubspot", "notes")) == 2
        assert len(world.state("gusto", "time_sheets")) == 2
        assert world.runtime.engine.dialect.name == "postgresql"
    finally:
        reset_runtime()
        world.runtime.engine.dispose()
        world.sandboxes.stop()


def test_concurrent_deliveries_on_postgres_store_once_and_newest_wins(pg_url: str, tmp_path) -> None:
    """The ingress on PostgreSQL: the same event delivered twice at once is stored once; an older and a
    newer snapshot of one job racing leave the newer one applied, whatever the commit order."""
    import httpx

    from connectors.emulator import SandboxServer
    from deployments import demo_data, fsm_simulator
    from deployments.ingress import create_app
    from models.canonical import Job
    from models.integration import InboxEvent, InboxStatus
    from models.settings import FieldbridgeSettings
    from tests.conftest import run_concurrently

    engine = make_engine(pg_url)
    create_schema(engine)
    app = create_app(FieldbridgeSettings(home=tmp_path, ingress_secrets="pg-secret"), engine, starter=None)
    server = SandboxServer(app).start()
    company = demo_data.generate(jobs=6)
    try:
        with httpx.Client(timeout=30) as http:
            def deliver(evt):
                return lambda: answers.append(fsm_simulator.post(http, server.url, "pg-secret", evt).status_code)

            for round_ in range(3):  # several rounds: each race may resolve in a different order
                answers: list[int] = []
                job = company.jobs[round_]
                closed = fsm_simulator.event(company, job)
                newer = fsm_simulator.event(company, job, "job.updated", event_id=f"evt-{job.id}-newer",
                                            occurred_at=job.closed_at.add(hours=1))
                newer["data"]["job"]["resolution"] = "final resolution"
                assert run_concurrently(deliver(closed), deliver(closed), deliver(newer), deliver(closed)) == []
                assert sorted(answers) == [200, 200, 202, 202]
                from sqlmodel import Session, select

                with Session(engine) as s:
                    rows = list(s.exec(select(InboxEvent).where(InboxEvent.job_id == job.id)))
                    assert s.get(Job, job.id).resolution == "final resolution"
                assert {r.event_id: r.deliveries for r in rows} == {closed["id"]: 3, newer["id"]: 1}
                statuses = {r.event_id: r.status for r in rows}
                assert statuses[newer["id"]] == InboxStatus.RECEIVED
                assert statuses[closed["id"]] in (InboxStatus.RECEIVED, InboxStatus.SUPERSEDED)
            # different jobs of one new customer at once: both stored, the shared customer once
            answers = []
            a, b = company.jobs[3], company.jobs[4]
            ea, eb = fsm_simulator.event(company, a), fsm_simulator.event(company, b)
            eb["data"]["customer"] = ea["data"]["customer"]
            eb["data"]["site"] = ea["data"]["site"]
            assert run_concurrently(deliver(ea), deliver(eb)) == []
            assert answers == [202, 202]
    finally:
        server.stop()
        engine.dispose()


_REFRESHER = """
import sys, httpx
from pydantic import SecretStr
from connectors.http.auth import OAuth2RefreshToken
from models.db import make_engine
from models.token_store import DatabaseTokenStore

db, token_url, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
auth = OAuth2RefreshToken(token_url, "pg-client", SecretStr("pg-secret"),
                          DatabaseTokenStore(make_engine(db), "quickbooks:pg-realm"), SecretStr("RT-first"))
for _ in range(rounds):
    used = auth.tokens().access_token
    auth.refresh(httpx.Request("GET", "http://x", headers={"Authorization": f"Bearer {used}"}))  # as after a 401
print(auth.refresh_count)
"""


def test_workers_on_several_hosts_share_one_rotating_refresh_token(pg_url: str, tmp_path) -> None:
    """Four worker processes (think: four hosts) refresh the same QuickBooks connection over and over. The
    refresh token rotates strictly — a used one is dead — so two refreshing with the same token would lose
    the connection. The row lock serialises them: every refresh uses the newest token, none fails, and the
    database ends holding the one token QuickBooks still accepts."""
    import subprocess
    import sys

    from connectors.emulator import SandboxServer
    from connectors.quickbooks import sandbox as qbo_sandbox
    from models.token_store import DatabaseTokenStore

    engine = make_engine(pg_url)
    create_schema(engine)
    box = qbo_sandbox.create_app("pg-client", "pg-secret", "RT-first", "pg-realm")
    server = SandboxServer(box.asgi()).start()
    try:
        procs = [subprocess.Popen([sys.executable, "-c", _REFRESHER, pg_url,
                                   f"{server.url}/oauth2/v1/tokens/bearer", "8"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
        outcomes = [p.communicate(timeout=180) for p in procs]
        assert [p.returncode for p in procs] == [0, 0, 0, 0], [err[-2000:] for _, err in outcomes]
        refreshes = sum(int(out.strip().splitlines()[-1]) for out, _ in outcomes)
        assert 8 <= refreshes <= 32  # a refresh another host just did is adopted, not repeated
        stored = DatabaseTokenStore(engine, "quickbooks:pg-realm").load()
        valid = box.store.get("oauth", "refresh")["valid"]
        assert stored is not None and valid == [stored.refresh_token]  # the one live token is in the database
    finally:
        server.stop()
        engine.dispose()
