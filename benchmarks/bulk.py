"""The bulk path at scale: N closed jobs through `bulk-job-closed` runs against the sandboxes, then the very same
vendor requests replayed with bare httpx in the same process, to see what fieldbridge's own work costs.

    uv run python benchmarks/bulk.py [--jobs 10000] [--batch-size 500] [--latency-ms 0]

Prints jobs/s, vendor calls per job per system, and the ratio of the bare replay's time to fieldbridge's
(1.0 = fieldbridge adds nothing; the target is >= 0.5). Quotas are lifted (sandbox and budget alike) so the
machine, not a tenant's quota, is the limit: this measures overhead. The replay sends every recorded request —
method, URL, headers, body — to sandboxes reset to the same starting state (same ids), consecutive requests
of one kind 4 at a time as the bulk path sends them, the three systems at once as the bulk path writes them.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from itertools import groupby
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SYSTEMS = ("hubspot", "salesforce", "gusto", "bamboohr", "quickbooks", "xero")
#: what a vendor's generated id or version looks like when it is not a counter (Gusto: uuids, md5 versions)
_TOKEN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\b[0-9a-f]{32}\b")
_ID = re.compile(r"/(?:\d+|[0-9a-f]{8}-[0-9a-f-]{27,}|[A-Za-z0-9]{15,18})(?=/|$|\?)")


def template(method: str, url: str) -> str:
    """`POST /v3/company/{id}/invoice/{id}/send`: requests of one kind, whatever record they name."""
    path = url.split("?", 1)[0].split("://", 1)[-1]
    return f"{method} {_ID.sub('/{id}', path[path.find('/'):])}"


class Recorder:
    """Every request each connector sends, as sent (auth applied), in order per system."""

    def __init__(self) -> None:
        self.requests: dict[str, list[tuple[str, str, dict[str, str], bytes, bytes]]] = defaultdict(list)
        self._lock = threading.Lock()

    def attach(self, connector: Any) -> None:
        system = connector.system

        def hook(response: Any) -> None:
            request = response.request
            response.read()
            with self._lock:
                self.requests[system].append((request.method, str(request.url), dict(request.headers),
                                              request.content, response.content))

        connector.http._http.event_hooks["response"].append(hook)


def runs(requests: list[Any]) -> list[list[Any]]:
    """Consecutive requests of one kind, split where one names a record again (its order matters)."""
    out: list[list[Any]] = []
    for _kind, group in groupby(requests, key=lambda r: template(r[0], r[1])):
        current: list[Any] = []
        seen: set[str] = set()
        for request in group:
            if request[1] in seen:
                out.append(current)
                current, seen = [], set()
            current.append(request)
            seen.add(request[1])
        out.append(current)
    return out


def replay(recorded: dict[str, list[tuple[str, str, dict[str, str], bytes, bytes]]], start: dict[str, int],
           parallel: int) -> tuple[float, int, int]:
    """Send the recorded requests again: untimed up to `start[system]` (the warm-up), timed after it.
    Returns (timed seconds, requests timed, answers that were not 2xx)."""
    import httpx

    bad = 0
    lock = threading.Lock()
    renamed: dict[str, str] = {}

    def learn(original: bytes, replayed: bytes) -> None:
        """A create answered with other ids (or versions) than the recorded run got: remember the pairs."""
        try:
            before, after = json.loads(original or b"null"), json.loads(replayed or b"null")
        except ValueError:
            return
        if isinstance(before, dict) and isinstance(after, dict):
            for key in ("uuid", "id", "Id", "version"):
                old, new = before.get(key), after.get(key)
                if isinstance(old, str) and isinstance(new, str) and old != new:
                    with lock:
                        renamed[old] = new

    def send_all(client: httpx.Client, requests: list[Any]) -> None:
        nonlocal bad
        for batch in runs(requests):

            def one(r: Any) -> None:
                nonlocal bad
                method, url, headers, content, original = r
                if renamed:  # records created in parallel got their ids in another order: use the replay's
                    # one pass over uuid / hash tokens (ids may have swapped: A→B and B→A)
                    url = _TOKEN.sub(lambda m: renamed.get(m.group(0), m.group(0)), url)
                    content = _TOKEN.sub(lambda m: renamed.get(m.group(0), m.group(0)), content.decode()).encode()
                answer = client.request(method, url, headers=headers, content=content)
                learn(original, answer.content)
                if answer.status_code >= 300:
                    with lock:
                        bad += 1
                        if bad <= 3:
                            print(f"  replay: {method} {url} answered {answer.status_code}: {answer.text[:200]}")
            if len(batch) == 1:
                one(batch[0])
            else:
                with ThreadPoolExecutor(parallel) as pool:
                    list(pool.map(one, batch))

    clients = {s: httpx.Client(timeout=60) for s in recorded}
    try:
        for system, requests in recorded.items():  # the warm-up's requests: untimed, they make the same ids
            send_all(clients[system], requests[:start.get(system, 0)])
        bad = 0
        began = time.perf_counter()
        with ThreadPoolExecutor(len(recorded) or 1) as pool:
            list(pool.map(lambda s: send_all(clients[s], recorded[s][start.get(s, 0):]), recorded))
        elapsed = time.perf_counter() - began
    finally:
        for client in clients.values():
            client.close()
    return elapsed, sum(len(r) - start.get(s, 0) for s, r in recorded.items()), bad


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=500, help="jobs per bulk-job-closed run")
    parser.add_argument("--warmup", type=int, default=60, help="jobs run first, outside the timed part")
    parser.add_argument("--latency-ms", type=int, default=0, help="added latency per sandbox request")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="fb-bulk-"))
    os.environ.update({"FIELDBRIDGE_HOME": str(home), "PREFECT_LOGGING_LEVEL": "ERROR",
                       "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "FIELDBRIDGE_TASK_BACKOFF_SECONDS": "0.2"})
    for system in SYSTEMS:  # quotas out of the way: the machine is the limit
        os.environ[f"FIELDBRIDGE_{system.upper()}_RATE_LIMIT"] = "1000000"
    import logging

    import httpx

    from connectors.emulator import FaultConfig
    from deployments import sandboxes
    from deployments.demo import prepare_company
    from flows.bulk_job_closed import bulk_job_closed
    from models.settings import FieldbridgeSettings
    from tasks.runtime import get_runtime, reset_runtime

    logging.getLogger("fieldbridge").setLevel(logging.WARNING)  # after the flows' imports set it to INFO
    began = time.perf_counter()
    running = sandboxes.start_all(FieldbridgeSettings(), faults=FaultConfig(latency_ms=args.latency_ms, seed=1))
    os.environ.update(running.env())
    reset_runtime()
    settings = FieldbridgeSettings()
    company = prepare_company(settings, args.jobs + args.warmup)
    rt = get_runtime()
    print(f"setup: {len(company.jobs)} jobs, vendors seeded in {time.perf_counter() - began:.1f} s "
          f"(CRM {rt.crm.system}, payroll {rt.payroll.system}, accounting {rt.accounting.system})", flush=True)
    recorder = Recorder()
    for connector in rt.connectors():
        recorder.attach(connector)
    ids = [j.id for j in company.jobs]
    warm, timed = ids[:args.warmup], ids[args.warmup:]
    if warm:
        bulk_job_closed(warm, label="warm-up")
    start = {s: len(r) for s, r in recorder.requests.items()}
    for connector in rt.connectors():
        connector.http.calls.clear()

    began = time.perf_counter()
    not_posted = 0
    for n in range(0, len(timed), args.batch_size):
        chunk = timed[n:n + args.batch_size]
        state = bulk_job_closed(chunk, label=f"bench-{n // args.batch_size + 1}", return_state=True)
        outcome = state.result(raise_on_failure=False)
        not_posted += len(chunk) - (outcome.get("posted", 0) if isinstance(outcome, dict) else 0)
        done = n + len(chunk)
        elapsed = time.perf_counter() - began
        print(f"  {done:>6} of {len(timed)} jobs  {elapsed:7.1f} s  {done / elapsed:7.1f} jobs/s", flush=True)
    fieldbridge_s = time.perf_counter() - began
    calls = {c.system: sum(c.http.calls.values()) for c in rt.connectors()}

    print(f"\nfieldbridge bulk: {len(timed)} jobs in {fieldbridge_s:.1f} s = {len(timed) / fieldbridge_s:.1f} jobs/s, "
          f"{not_posted} not posted")
    for system, count in calls.items():
        print(f"  {system:<11} {count:>7} calls  {count / len(timed):.3f} calls/job")

    for system in running.servers:  # the same starting state: same ids, same records; sessions kept
        httpx.post(f"{running.url(system)}/_sandbox/reset", params={"keep": "oauth_access"}).raise_for_status()
    reset_runtime()
    sandboxes.seed(company, settings)
    replay_s, sent, bad = replay(dict(recorder.requests), start, parallel=4)
    print(f"bare httpx replay: {sent} requests in {replay_s:.1f} s ({bad} not 2xx)")
    print(f"ratio bare / fieldbridge: {replay_s / fieldbridge_s:.2f} (target >= 0.5)")
    running.stop()
    return 0 if not_posted == 0 and bad == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
