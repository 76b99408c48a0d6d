"""The production path against a real PostgreSQL server: unique claims and leases under real concurrency."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator

import pytest

from connectors.protocols import VendorRecord
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


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A throwaway database per test, dropped afterwards."""
    import psycopg

    if not _pg_available():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}; CI must start it")
        pytest.skip(f"PostgreSQL is not reachable at {PG_ADMIN_URL}")
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
