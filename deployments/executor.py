"""Execute served deployments' flow runs in this process, on warm threads.

Prefect's `serve` starts a fresh interpreter for every flow run. Here that costs ~5 s of imports plus
~7 s to build the Great Expectations suites — longer than the work itself and far over the ~3 s a
closed job should take to reach every system. This executor keeps one warm process instead: imports,
GX suites, HTTP clients and rate budgets are shared by every run.

It claims runs the way Prefect's runner does — it proposes `Pending`, and the server's orchestration
lets exactly one claimant win (a deployment's concurrency limit is enforced there too) — then runs
them with Prefect's own engine (`run_flow` with the existing flow run), so states, task runs, retries,
logs and artifacts are the same as under any worker. Runs arrive two ways: the ingress hands over the
run it just created (no polling delay), and a poll picks up everything else (schedules, event
triggers, UI retries, `prefect deployment run`).

Trade-offs, stated: a run cannot be cancelled mid-flight from the UI (threads cannot be killed; runs
take seconds), and if this process dies its in-flight runs stay Running until the ingress sweeper
re-drives their events (the effect ledger keeps that exactly-once).
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any
from uuid import UUID

log = logging.getLogger("fieldbridge.executor")


class WarmExecutor:
    def __init__(self, flows: dict[UUID, Any], workers: int = 4, poll_seconds: float = 1.0) -> None:
        self.flows = flows  # deployment id → flow object
        self.workers = workers
        self.poll_seconds = poll_seconds
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="flow-run")
        self._lock = threading.Lock()
        self._active: set[str] = set()
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None
        self.completed = 0

    # -- intake ---------------------------------------------------------------------------------

    def claim(self, flow_run_id: str) -> bool:
        """Take a run now if a worker thread is free; otherwise the poll picks it up later."""
        with self._lock:
            if self._stop.is_set() or flow_run_id in self._active or len(self._active) >= self.workers:
                return False
            self._active.add(flow_run_id)
        self._pool.submit(self._execute, flow_run_id)
        return True

    def poll_once(self) -> int:
        """Claim scheduled runs of the served deployments that are due; returns how many were taken."""
        from prefect import get_client
        from prefect.types._datetime import now

        with self._lock:
            free = self.workers - len(self._active)
        if free <= 0 or not self.flows:
            return 0
        with get_client(sync_client=True) as client:
            runs = client.get_scheduled_flow_runs_for_deployments(
                deployment_ids=list(self.flows), scheduled_before=now("UTC") + timedelta(seconds=1), limit=free)
        return sum(self.claim(str(run.id)) for run in runs)

    def start(self) -> WarmExecutor:
        self._poller = threading.Thread(target=self._poll_loop, name="flow-run-poller", daemon=True)
        self._poller.start()
        return self

    def _poll_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception as exc:  # the API restarting must not end the poll for good
                log.warning("polling Prefect for scheduled runs failed: %s", exc)
            self._stop.wait(self.poll_seconds)

    # -- execution ------------------------------------------------------------------------------

    def _execute(self, flow_run_id: str) -> None:
        from prefect import get_client
        from prefect.exceptions import Abort
        from prefect.flow_engine import run_flow
        from prefect.states import Crashed, Pending
        from prefect.utilities.engine import propose_state_sync

        try:
            with get_client(sync_client=True) as client:
                flow_run = client.read_flow_run(UUID(flow_run_id))
                flow = self.flows.get(flow_run.deployment_id) if flow_run.deployment_id else None
                if flow is None or flow_run.state is None or not flow_run.state.is_scheduled():
                    return  # not ours, or already claimed/finished
                try:
                    state = propose_state_sync(client, Pending(), flow_run_id=flow_run.id)
                except Abort:
                    return  # another executor or worker won the claim
                if not state.is_pending():
                    return  # e.g. AwaitingConcurrencySlot: the deployment's limit is reached; polled again later
                flow_run = client.read_flow_run(flow_run.id)
            try:
                run_flow(flow, flow_run=flow_run, return_type="state")
            except BaseException as exc:  # the engine itself failed: never leave the run looking alive
                log.exception("flow run %s crashed in the engine", flow_run_id)
                with get_client(sync_client=True) as client:
                    try:
                        propose_state_sync(client, Crashed(message=f"engine error: {exc}"), flow_run_id=flow_run.id)
                    except Exception:
                        log.warning("could not mark flow run %s crashed", flow_run_id, exc_info=True)
        except Exception:
            log.exception("could not execute flow run %s", flow_run_id)
        finally:
            with self._lock:
                self._active.discard(flow_run_id)
                self.completed += 1

    # -- shutdown -------------------------------------------------------------------------------

    def active(self) -> int:
        with self._lock:
            return len(self._active)

    def stop(self, wait: bool = True) -> None:
        """Stop taking runs; with `wait`, let the in-flight ones finish (they take seconds)."""
        self._stop.set()
        if self._poller is not None:
            self._poller.join(timeout=10)
        self._pool.shutdown(wait=wait, cancel_futures=True)
