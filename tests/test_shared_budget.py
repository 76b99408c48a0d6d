"""Several workers, one vendor quota: the rate budget and the 429 pause shared through PostgreSQL, and ledger
leases that use the database's clock and recover from a killed worker in seconds."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from datetime import timedelta

import pytest

from models.db import create_schema, make_engine
from tests.test_postgres import pg_url  # noqa: F401  (the throwaway-database fixture)

pytestmark = pytest.mark.postgres

RATE, PER = 20, 1.0


def _hammer(url: str, key: str, seconds: float, out: mp.Queue, pause: float = 0.0) -> None:
    """A worker process: take as many requests as the shared budget allows for `seconds`."""
    from connectors.http.ratelimit import RateBudget
    from models.rate_budget import DatabaseBudgetStore

    budget = RateBudget(RATE, PER, key=key, store=DatabaseBudgetStore(make_engine(url)))
    if pause:
        budget.pause(pause)  # this worker saw a 429: everyone holds
    sent, started = [], time.monotonic()
    while time.monotonic() - started < seconds:
        budget.acquire()
        budget.release()
        sent.append(time.time())
    out.put(sent)


def _run(url: str, key: str, seconds: float, pauses: tuple[float, ...] = (0.0, 0.0)) -> list[list[float]]:
    ctx = mp.get_context("spawn")
    queue: mp.Queue = ctx.Queue()
    procs = [ctx.Process(target=_hammer, args=(url, key, seconds, queue, p)) for p in pauses]
    for proc in procs:
        proc.start()
    results = [queue.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
    return results


def test_two_processes_share_one_budget(pg_url: str) -> None:  # noqa: F811
    create_schema(make_engine(pg_url))
    seconds = 3.0
    per_worker = _run(pg_url, "vendor:tenant-a", seconds)
    total = sum(len(sent) for sent in per_worker)
    ceiling = max(1, RATE // 20) + RATE * (seconds + 1.0) / PER  # the burst, then the refill (+1 s of start-up skew)
    assert all(len(sent) > 5 for sent in per_worker), [len(s) for s in per_worker]  # both got their share
    assert total <= ceiling, f"{total} requests in {seconds} s from two workers; the tenant's budget is {ceiling:.0f}"
    # two process-local budgets would have let each worker send a full budget of its own
    assert total < 2 * (RATE + RATE * seconds / PER)


def test_a_pause_seen_by_one_worker_holds_the_other(pg_url: str) -> None:  # noqa: F811
    create_schema(make_engine(pg_url))
    started = time.time()
    first, second = _run(pg_url, "vendor:tenant-b", 2.5, pauses=(2.0, 0.0))
    assert first and second
    assert min(second) - started >= 1.5, "the worker that saw no 429 sent during the other's pause"


def _hold_lease(url: str, key: str, ready: mp.Event) -> None:
    from models.ledger import Ledger

    ledger = Ledger(make_engine(url), lease_seconds=3.0)
    ledger._ensure_row(key, "test", "invoice", "J1")
    assert ledger._try_lease(key, "dying-worker")
    ready.set()
    with ledger._renewing(key, "dying-worker"):
        time.sleep(600)  # killed long before


def test_a_killed_workers_lease_is_taken_over_within_seconds(pg_url: str) -> None:  # noqa: F811
    from models.ledger import Ledger

    engine = make_engine(pg_url)
    create_schema(engine)
    ctx = mp.get_context("spawn")
    ready = ctx.Event()
    proc = ctx.Process(target=_hold_lease, args=(pg_url, "test:invoice:J1", ready))
    proc.start()
    assert ready.wait(60)
    time.sleep(4.0)  # past one lease length: only the renewals keep it
    survivor = Ledger(engine, lease_seconds=3.0)
    assert not survivor._try_lease("test:invoice:J1", "survivor")  # alive and renewing: not stolen
    os.kill(proc.pid, signal.SIGKILL)
    killed = time.monotonic()
    proc.join()
    while not survivor._try_lease("test:invoice:J1", "survivor"):
        assert time.monotonic() - killed < 10, "the dead worker's lease never expired"
        time.sleep(0.1)
    assert time.monotonic() - killed <= 3.0 + 1.0


def test_leases_use_the_databases_clock_not_the_workers(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    import models.ledger as ledger_module
    from models.ledger import Ledger

    engine = make_engine(pg_url)
    create_schema(engine)
    holder = Ledger(engine)
    holder._ensure_row("test:case:J2", "test", "case", "J2")
    assert holder._try_lease("test:case:J2", "host-a")
    real = ledger_module._now
    monkeypatch.setattr(ledger_module, "_now", lambda: real() + timedelta(hours=1))  # host-b's clock runs fast
    assert not Ledger(engine)._try_lease("test:case:J2", "host-b")


def test_sqlite_keeps_budgets_in_the_process(tmp_path) -> None:
    from connectors.http import ratelimit
    from models.settings import FieldbridgeSettings
    from tasks.runtime import share_rate_budgets

    engine = make_engine(f"sqlite:///{tmp_path / 'fb.db'}")
    assert share_rate_budgets(FieldbridgeSettings(home=tmp_path), engine) is False
    assert ratelimit.budget_for("x:sqlite", 10, 1.0).store is None
    with pytest.raises(ValueError, match="PostgreSQL"):
        share_rate_budgets(FieldbridgeSettings(home=tmp_path, rate_budgets="database"), engine)
    ratelimit.use_budget_store(None)
