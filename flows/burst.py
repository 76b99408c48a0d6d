"""Bursts: closed jobs arriving faster than real time go through bulk runs, not one run per job.

A day imported late or a backlog arrives as hundreds of `job.closed` events within a minute. One
`job-closed` run each would cost a flow-run process and two or three vendor calls per job; the bulk path
(`flows/bulk_job_closed.py`) validates the same jobs and keeps every ledger guarantee but writes through the
vendors' batch APIs. The ingress counts run-worthy events in a sliding window: below
`FIELDBRIDGE_BURST_THRESHOLD` each event gets its own run at once (the real-time path, lowest latency);
at or above it, events are collected and started as one bulk run per `FIELDBRIDGE_BURST_BATCH_SIZE` events,
or after `FIELDBRIDGE_BURST_LINGER_SECONDS` without the batch filling. The sweeper does the same with a
backlog it finds. Nothing is lost on the way: a collected event is already in the inbox, and if the process
dies before its batch starts, the sweeper starts it.

A bulk run hands every job it could not post (a vendor error, a quarantine, a job edited meanwhile) to that
job's own `job-closed` run — the run the event would have had — so retries, re-drives, quarantine alerts and
`fieldbridge rerun` work per job exactly as on the real-time path.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Any

from flows.starter import EventRef, RunStarter

log = logging.getLogger("fieldbridge.burst")


class BurstDetector:
    """Whether run-worthy events arrive at burst rate: `threshold` or more within `window` seconds."""

    def __init__(self, threshold: int, window_seconds: float) -> None:
        self.threshold, self.window = threshold, window_seconds
        self._seen: deque[float] = deque()
        self._lock = threading.Lock()

    def observe(self, now: float | None = None) -> bool:
        """Count one event; True when this event arrives in a burst."""
        if self.threshold <= 0:
            return False
        now = time.monotonic() if now is None else now
        with self._lock:
            self._seen.append(now)
            while self._seen and self._seen[0] <= now - self.window:
                self._seen.popleft()
            return len(self._seen) >= self.threshold


class Batcher:
    """Collects burst events and starts one bulk run per `batch_size` events, or when the oldest collected
    event has waited `linger_seconds` (a burst that tails off is not held back)."""

    def __init__(self, engine: Any, starter: RunStarter, batch_size: int, linger_seconds: float) -> None:
        self.engine, self.starter = engine, starter
        self.batch_size, self.linger = max(1, batch_size), linger_seconds
        self._items: list[EventRef] = []
        self._oldest = 0.0
        self._stopping = False
        self._wake = threading.Condition()
        self._thread = threading.Thread(target=self._loop, name="burst-batcher", daemon=True)
        self._thread.start()

    def add(self, event: EventRef) -> None:
        with self._wake:
            if not self._items:
                self._oldest = time.monotonic()
            self._items.append(event)
            self._wake.notify()

    def _take(self) -> list[EventRef] | None:
        """The next batch when one is due; None when stopping with nothing left."""
        with self._wake:
            while True:
                if self._items:
                    due = self._oldest + self.linger - time.monotonic()
                    if len(self._items) >= self.batch_size or due <= 0 or self._stopping:
                        batch, self._items = self._items[:self.batch_size], self._items[self.batch_size:]
                        self._oldest = time.monotonic()
                        return batch
                    self._wake.wait(timeout=due)
                elif self._stopping:
                    return None
                else:
                    self._wake.wait()

    def _loop(self) -> None:
        while (batch := self._take()) is not None:
            try:
                self.starter.start_bulk_for_events(self.engine, batch)
            except Exception:  # the events stay in the inbox without a run: the sweeper starts them
                log.exception("burst batch of %d event(s) could not be started", len(batch))

    def shutdown(self) -> None:
        """Start what was collected, then stop."""
        with self._wake:
            self._stopping = True
            self._wake.notify()
        self._thread.join(timeout=60)


def start_backlog(engine: Any, starter: RunStarter, events: list[EventRef], threshold: int,
                  batch_size: int) -> list[dict[str, str]]:
    """Start runs for stored events that have none (the sweeper's backlog): a backlog of `threshold` or more
    goes through bulk runs of `batch_size`, a smaller one gets a run per event. One row per event."""
    rows = []
    if threshold > 0 and len(events) >= threshold:
        for start in range(0, len(events), max(1, batch_size)):
            batch = events[start:start + batch_size]
            run_id = starter.start_bulk_for_events(engine, batch)
            rows += [{"event": e.event_id, "job": e.job_id, "flow_run": run_id or "-",
                      "outcome": "started (bulk)" if run_id else "still waiting (Prefect unreachable?)"}
                     for e in batch]
        return rows
    for e in events:
        run_id = starter.start_for_event(engine, e.source, e.event_id, e.job_id)
        rows.append({"event": e.event_id, "job": e.job_id, "flow_run": run_id or "-",
                     "outcome": "started" if run_id else "still waiting (Prefect unreachable?)"})
    return rows
