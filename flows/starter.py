"""Start `job-closed` flow runs idempotently: one run per inbox event, however often it is asked.

The Prefect server keeps one flow run per (flow, idempotency key); the key is the inbox event's
source and id, so the ingress, a redelivery and the sweeper racing for the same event get the same run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from models import inbox, webhook_inbox
from models.settings import get_settings

log = logging.getLogger("fieldbridge.runs")


def idempotency_key(engine: Any, source: str, event_id: str) -> str:
    """Unique per installation, source and event: a redelivery or the sweeper finds the same run."""
    return f"{inbox.installation_id(engine)}:{source}:{event_id}"


@dataclass(frozen=True)
class EventRef:
    """An inbox event as runs name it."""

    source: str
    event_id: str
    job_id: str


def bulk_idempotency_key(engine: Any, events: list[EventRef]) -> str:
    """The same batch of events always finds the same bulk run (a restarted batcher, a racing sweeper)."""
    import hashlib

    digest = hashlib.sha256("\n".join(sorted(f"{e.source}:{e.event_id}" for e in events)).encode()).hexdigest()
    return f"{inbox.installation_id(engine)}:bulk:{digest[:32]}"


@dataclass
class RunStarter:
    """Creates the deployment's flow run; `on_created` hears of each run (the warm executor claims it at once)."""

    deployment: str = field(default_factory=lambda: get_settings().job_closed_deployment)
    on_created: Callable[[str], None] | None = None
    api_url: str | None = None  # a specific Prefect API (default: this process's PREFECT_API_URL)
    bulk_deployment: str = field(default_factory=lambda: get_settings().bulk_job_closed_deployment)

    def start(self, job_id: str, *, key: str, parameters: dict[str, Any] | None = None,
              tags: list[str] | None = None) -> str:
        """Create (or find) the run for `key`; return its id. Raises when Prefect cannot be reached."""
        from contextlib import nullcontext

        from prefect.deployments import run_deployment
        from prefect.settings import PREFECT_API_URL, temporary_settings

        scope = temporary_settings({PREFECT_API_URL: self.api_url}) if self.api_url else nullcontext()
        with scope:
            run = run_deployment(self.deployment, parameters={"job_id": job_id, **(parameters or {})}, timeout=0,
                                 idempotency_key=key, as_subflow=False, tags=tags)
        run_id = str(run.id)
        if self.on_created is not None:
            self.on_created(run_id)
        return run_id

    def start_deployment(self, deployment: str, *, key: str, parameters: dict[str, Any] | None = None,
                         tags: list[str] | None = None) -> str:
        """Create (or find, by `key`) a run of any deployment; its id. Raises when Prefect cannot be reached."""
        from contextlib import nullcontext

        from prefect.deployments import run_deployment
        from prefect.settings import PREFECT_API_URL, temporary_settings

        scope = temporary_settings({PREFECT_API_URL: self.api_url}) if self.api_url else nullcontext()
        with scope:
            run = run_deployment(deployment, parameters=parameters or {}, timeout=0, idempotency_key=key,
                                 as_subflow=False, tags=tags)
        run_id = str(run.id)
        if self.on_created is not None:
            self.on_created(run_id)
        return run_id

    def start_bulk_for_events(self, engine: Any, events: list[EventRef]) -> str | None:
        """One `bulk-job-closed` run for a batch of inbox events (a burst); each event records that run. On
        failure the events stay without a run, and the sweeper starts them later."""
        from contextlib import nullcontext

        from prefect.deployments import run_deployment
        from prefect.settings import PREFECT_API_URL, temporary_settings

        jobs = list(dict.fromkeys(e.job_id for e in events))
        parameters = {"job_ids": jobs, "label": f"burst-{jobs[0]}-to-{jobs[-1]}-{len(jobs)}-jobs",
                      "events": [[e.source, e.event_id, e.job_id] for e in events]}
        scope = temporary_settings({PREFECT_API_URL: self.api_url}) if self.api_url else nullcontext()
        try:
            with scope:
                run = run_deployment(self.bulk_deployment, parameters=parameters, timeout=0, as_subflow=False,
                                     idempotency_key=bulk_idempotency_key(engine, events), tags=["burst"])
        except Exception as exc:  # Prefect down or refusing: the events are stored, the sweeper retries
            log.warning("could not start the bulk run for %d event(s) (%s … %s): %s; the sweeper will retry",
                        len(events), jobs[0], jobs[-1], exc)
            for e in events:
                inbox.mark_start_failed(engine, e.source, e.event_id, f"{type(exc).__name__}: {exc}")
            return None
        run_id = str(run.id)
        inbox.mark_many_started(engine, [(e.source, e.event_id) for e in events], run_id)
        log.info("burst: %d event(s) of %d job(s) go through bulk run %s", len(events), len(jobs), run_id)
        if self.on_created is not None:
            self.on_created(run_id)
        return run_id

    def start_for_event(self, engine: Any, source: str, event_id: str, job_id: str) -> str | None:
        """Start the run an inbox event is due and record it; on failure record why and leave it to the sweeper."""
        try:
            run_id = self.start(job_id, key=idempotency_key(engine, source, event_id),
                                parameters={"event_id": event_id}, tags=[f"event:{event_id}"[:100]])
        except Exception as exc:  # Prefect down or refusing: the event is stored, the sweeper retries
            log.warning("could not start the run for event %s (job %s): %s; the sweeper will retry",
                        event_id, job_id, exc)
            inbox.mark_start_failed(engine, source, event_id, f"{type(exc).__name__}: {exc}")
            return None
        inbox.mark_started(engine, source, event_id, run_id)
        return run_id


    def start_for_webhook(self, engine: Any, hook: webhook_inbox.StoredWebhook) -> str | None:
        """Start (or find, by its key) the run a stored vendor webhook asks for, and record it; on failure record
        why and leave it to the sweeper."""
        key = webhook_inbox.run_key(inbox.installation_id(engine), hook)
        try:
            run_id = self.start_deployment(hook.deployment, key=key, parameters=hook.parameters,
                                           tags=[f"webhook:{hook.system}"])
        except Exception as exc:  # Prefect away: the delivery is stored, the sweeper starts it later
            log.warning("could not start %s for a %s webhook: %s; the sweeper will retry", hook.deployment,
                        hook.system, exc)
            webhook_inbox.mark_start_failed(engine, hook.id, f"{type(exc).__name__}: {exc}")
            return None
        webhook_inbox.mark_started(engine, hook.id, run_id)
        return run_id


def wait_for_runs(run_ids: list[str], *, timeout: float = 3600, poll: float = 1.0,
                  on_progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Poll until every run is final (or `timeout`); returns run id → its last state."""
    import time
    from uuid import UUID

    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    states: dict[str, Any] = {}
    deadline = time.monotonic() + timeout
    pending = set(run_ids)
    with get_client(sync_client=True) as client:
        while pending and time.monotonic() < deadline:
            for chunk_start in range(0, len(pending), 200):
                chunk = sorted(pending)[chunk_start:chunk_start + 200]
                for run in client.read_flow_runs(
                        flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[UUID(r) for r in chunk])), limit=200):
                    states[str(run.id)] = run.state
                    if run.state is not None and run.state.is_final():
                        pending.discard(str(run.id))
            if on_progress is not None:
                on_progress(len(run_ids) - len(pending), len(run_ids))
            if pending:
                time.sleep(poll)
    return states
