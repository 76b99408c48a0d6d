"""Throughput and latency of job_closed against the sandboxes over real HTTP on loopback.

    uv run python benchmarks/job_closed.py [--jobs 200] [--workers 4] [--latency-ms 0] [--drop-rate 0]
                                           [--quota gusto=40]

Prints jobs/s, p50/p95 latency per job, and vendor calls per job per system. Uses a throwaway
home (SQLite + sandboxes) and Prefect's ephemeral API unless PREFECT_API_URL is set.

`--quota SYSTEM=LIMIT` sets a tenant quota (requests per the vendor's window) that the sandbox enforces and
the connector budgets for: scaled down, it makes the quota rather than this machine the limit, as the
tightest quota is for a real tenant. The run then prints jobs/s as a fraction of each quota's ceiling
(its limit ÷ the calls per job measured) and the 429s the sandboxes answered.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--latency-ms", type=int, default=0, help="added latency per sandbox request")
    parser.add_argument("--drop-rate", type=float, default=0.0, help="commit-then-drop rate on writes")
    parser.add_argument("--quota", action="append", default=[], metavar="SYSTEM=LIMIT",
                        help="a tenant quota, e.g. gusto=40 (requests per Gusto's 60 s window)")
    args = parser.parse_args()
    quotas = {k: int(v) for k, v in (q.split("=", 1) for q in args.quota)}
    for system, limit in quotas.items():
        os.environ[f"FIELDBRIDGE_{system.upper()}_RATE_LIMIT"] = str(limit)

    home = Path(tempfile.mkdtemp(prefix="fb-bench-"))
    os.environ.update({"FIELDBRIDGE_HOME": str(home), "FIELDBRIDGE_TASK_BACKOFF_SECONDS": "0.2",
                       "PREFECT_LOGGING_LEVEL": "ERROR", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"})

    from connectors.emulator import FaultConfig
    from deployments import sandboxes
    from deployments.demo import prepare_company
    from flows.job_closed import job_closed
    from models.settings import FieldbridgeSettings
    from tasks.runtime import get_runtime, reset_runtime

    faults = FaultConfig(latency_ms=args.latency_ms, drop_after_commit_rate=args.drop_rate, seed=1)
    running = sandboxes.start_all(FieldbridgeSettings(), faults=faults)
    os.environ.update(running.env())
    reset_runtime()
    company = prepare_company(FieldbridgeSettings(), args.jobs)
    rt = get_runtime()
    for connector in rt.connectors():
        connector.http.calls.clear()

    job_closed(company.jobs[0].id)  # warm-up: GX suites, Prefect client, token refresh
    for connector in rt.connectors():
        connector.http.calls.clear()
    job_ids = [j.id for j in company.jobs[1:]]
    latencies: list[float] = []
    failures = 0

    def one(job_id: str) -> None:
        nonlocal failures
        started = time.perf_counter()
        try:
            job_closed(job_id)
        except Exception as exc:
            failures += 1
            print(f"  {job_id} failed: {exc}", file=sys.stderr)
        latencies.append(time.perf_counter() - started)

    before_429 = _answered_429(running)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        list(pool.map(one, job_ids))
    elapsed = time.perf_counter() - t0
    n = len(job_ids)
    q = statistics.quantiles(latencies, n=20)
    print(f"jobs: {n} (after 1 warm-up)   workers: {args.workers}   sandbox latency: {args.latency_ms} ms   "
          f"drop rate: {args.drop_rate}")
    print(f"throughput: {n / elapsed:.2f} jobs/s   wall: {elapsed:.1f} s   failures: {failures}")
    print(f"latency per job: p50 {statistics.median(latencies) * 1000:.0f} ms   p95 {q[18] * 1000:.0f} ms   "
          f"max {max(latencies) * 1000:.0f} ms")
    print("vendor calls per job:")
    for connector in rt.connectors():
        calls: Counter[str] = connector.http.calls
        total = sum(calls.values())
        detail = ", ".join(f"{k.split(' ')[0]} {v / n:.2f}" for k, v in sorted(
            Counter({m: sum(c for key, c in calls.items() if key.startswith(m)) for m in ("GET", "POST", "PATCH",
                                                                                        "PUT")}).items()) if v)
        print(f"  {connector.system:<11} {total / n:.2f}   ({detail})")
    if quotas:
        quota_report(running, rt, n, elapsed, quotas, before_429)
    duplicates = exactly_once_report(running)
    running.stop()
    return 1 if failures or duplicates else 0


#: each sandbox's documented quota (requests, window seconds) when not overridden with --quota
WINDOWS = {"hubspot": (190, 10.0), "gusto": (200, 60.0), "quickbooks": (500, 60.0)}


def _answered_429(running) -> dict[str, int]:
    import httpx

    return {s: httpx.get(f"{running.url(s)}/_sandbox/stats").json()["429"] for s in running.servers}


def quota_report(running, rt, jobs: int, elapsed: float, quotas: dict[str, int], before: dict[str, int]) -> None:
    """Throughput as a fraction of every quota's ceiling in jobs/s, and the 429s the sandboxes answered."""
    after = _answered_429(running)
    ceilings = {}
    for connector in rt.connectors():
        limit, window = WINDOWS.get(connector.system, (None, None))
        limit = quotas.get(connector.system, limit)
        per_job = sum(connector.http.calls.values()) / jobs
        if limit is None or not per_job:
            continue
        ceilings[connector.system] = (limit / window) / per_job
        seen = after[connector.system] - before.get(connector.system, 0)
        print(f"  {connector.system:<11} quota {limit}/{window:.0f} s, {per_job:.2f} calls/job → ceiling "
              f"{ceilings[connector.system]:.3f} jobs/s; 429s answered: {seen}")
    tightest = min(ceilings, key=ceilings.get)
    print(f"tightest quota: {tightest}; throughput {jobs / elapsed:.3f} jobs/s = "
          f"{jobs / elapsed / ceilings[tightest]:.0%} of its ceiling")


def exactly_once_report(running) -> int:
    """Count what the sandboxes hold: every record must exist once per business key."""
    import httpx

    from connectors.http import jsonbody

    def docs(system: str, collection: str) -> list[dict]:
        resp = httpx.get(f"{running.url(system)}/_sandbox/state/{collection}", timeout=60)
        return jsonbody.loads(resp.content)["results"]

    keys = {
        "invoices": [d["DocNumber"] for d in docs("quickbooks", "Invoice")],
        "notes": [d["properties"]["fieldbridge_note_key"] for d in docs("hubspot", "notes")],
        "time sheets": [d["metadata"]["fieldbridge_key"] for d in docs("gusto", "time_sheets")],
    }
    total = 0
    parts = []
    for name, values in keys.items():
        dupes = sum(n - 1 for n in Counter(values).values() if n > 1)
        total += dupes
        parts.append(f"{name} {len(set(values))} ({dupes} duplicates)")
    print("exactly-once check: " + ", ".join(parts))
    return total


if __name__ == "__main__":
    raise SystemExit(main())
