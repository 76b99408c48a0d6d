"""Start `job-closed` flow runs idempotently: one run per inbox event, however often it is asked.

The Prefect server keeps one flow run per (flow, idempotency key); the key is the inbox event's
source and id, so the ingress, a redelivery and the sweeper racing for the same event get the same run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from models import inbox
from models.settings import get_settings

log = logging.getLogger("fieldbridge.runs")


def idempotency_key(source: str, event_id: str) -> str:
    return f"{source}:{event_id}"


@dataclass
class RunStarter:
    """Creates the deployment's flow run; `on_created` hears of each run (the warm executor claims it at once)."""

    deployment: str = field(default_factory=lambda: get_settings().job_closed_deployment)
    on_created: Callable[[str], None] | None = None

    def start(self, job_id: str, *, key: str, parameters: dict[str, Any] | None = None,
              tags: list[str] | None = None) -> str:
        """Create (or find) the run for `key`; return its id. Raises when Prefect cannot be reached."""
        from prefect.deployments import run_deployment

        run = run_deployment(self.deployment, parameters={"job_id": job_id, **(parameters or {})}, timeout=0,
                             idempotency_key=key, as_subflow=False, tags=tags)
        run_id = str(run.id)
        if self.on_created is not None:
            self.on_created(run_id)
        return run_id

    def start_for_event(self, engine: Any, source: str, event_id: str, job_id: str) -> str | None:
        """Start the run an inbox event is due and record it; on failure record why and leave it to the sweeper."""
        try:
            run_id = self.start(job_id, key=idempotency_key(source, event_id), parameters={"event_id": event_id},
                                tags=[f"event:{event_id}"[:100]])
        except Exception as exc:  # Prefect down or refusing: the event is stored, the sweeper retries
            log.warning("could not start the run for event %s (job %s): %s; the sweeper will retry",
                        event_id, job_id, exc)
            inbox.mark_start_failed(engine, source, event_id, f"{type(exc).__name__}: {exc}")
            return None
        inbox.mark_started(engine, source, event_id, run_id)
        return run_id
