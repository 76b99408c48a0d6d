"""Jobber as the field-service source, measured: how fast the ingress acknowledges Jobber's webhooks (Jobber wants
an answer within 1 s), and what reading one closed job costs in GraphQL requests, query-cost points and time.

    uv run python benchmarks/jobber_source.py [--jobs 100] [--page-size 50]

The company's jobs are put into the Jobber sandbox and closed there; the sandbox delivers its signed webhooks
(every 5th twice) to a real ingress server (uvicorn, SQLite inbox, no Prefect on the answer path — runs start
after the answer, so Prefect is not part of what Jobber waits for). Then the connector reads every job as the
field-service-sync run does. Prints figures and ratios; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--page-size", type=int, default=20)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fb-jobber-bench-"))
    os.environ.update({"FIELDBRIDGE_HOME": str(work / "home"), "FIELDBRIDGE_DATABASE_URL": f"sqlite:///{work}/fb.db",
                       "FIELDBRIDGE_FIELD_SERVICE_SYSTEM": "jobber", "FIELDBRIDGE_INGRESS_SECRETS": "bench",
                       "FIELDBRIDGE_JOBBER_PAGE_SIZE": str(args.page_size), "PREFECT_LOGGING_LEVEL": "WARNING"})

    import httpx

    from connectors.emulator import SandboxServer
    from connectors.registry import get_plugin
    from deployments import demo_data, fsm_simulator, sandboxes
    from deployments.demo import company_for
    from deployments.ingress import create_app
    from flows.field_service import price_book
    from models.db import create_schema, get_engine
    from models.settings import FieldbridgeSettings
    from tasks.runtime import connect

    running = sandboxes.start_all(FieldbridgeSettings())
    os.environ.update(running.env())
    settings = FieldbridgeSettings()
    engine = get_engine(settings.resolved_database_url())
    create_schema(engine)
    company = company_for(settings, args.jobs)
    demo_data.load_setup(company, engine)
    plugin = get_plugin("jobber", "field_service")
    assert plugin.demo_source is not None
    url = running.url("jobber")
    env, jobs, _ = plugin.demo_source.seed(url, plugin.load_settings(),
                                           [fsm_simulator.snapshot(company, j) for j in company.jobs])
    os.environ.update(env)
    ingress = SandboxServer(create_app(FieldbridgeSettings(), engine, starter=None)).start()
    try:
        closed_at = {j.id: j.closed_at.isoformat() for j in company.jobs if j.closed_at}
        started = time.monotonic()
        plugin.demo_source.close(url, plugin.load_settings(), [(v, closed_at[j]) for j, v in jobs.items()],
                                 f"{ingress.url}/webhooks/jobber")
        while plugin.demo_source.pending(url):
            time.sleep(0.2)
        delivered = time.monotonic() - started
        hooks = httpx.get(f"{url}/_sandbox/webhooks", timeout=30).json()["deliveries"]
        answers = sorted(d["answer_ms"] for d in hooks if d.get("answer_ms") is not None)
        client = connect(plugin, core=FieldbridgeSettings(), engine=engine)
        book = price_book(engine)
        client.users()  # the user cache, once
        calls_before, points_before = sum(client.http.calls.values()), client.points_requested
        spent_before = client.points_spent
        reads = []
        problems = 0
        for vendor_id in jobs.values():
            t0 = time.perf_counter()
            got = client.fetch_job(vendor_id, book)
            reads.append(time.perf_counter() - t0)
            problems += bool(got is None or got.problems)
        calls = sum(client.http.calls.values()) - calls_before
        points = client.points_requested - points_before
        spent = client.points_spent - spent_before
    finally:
        ingress.stop()
        running.stop()

    def pct(values: list[float], q: float) -> float:
        return values[min(len(values) - 1, int(q * len(values)))]

    n = len(jobs)
    print(f"Jobber source, {n} jobs, page size {args.page_size}")
    print(f"  webhooks      {len(hooks)} deliveries ({sum(d['redelivery'] for d in hooks)} redeliveries) in "
          f"{delivered:.1f} s; answer p50 {pct(answers, 0.5):.1f} ms, p99 {pct(answers, 0.99):.1f} ms, "
          f"max {answers[-1]:.1f} ms (Jobber's limit 1000 ms: max/limit = {answers[-1] / 1000:.3f})")
    print(f"  reads         {calls / n:.2f} GraphQL requests/job; query cost {points / n:.0f} points requested, "
          f"{spent / n:.0f} spent per job (bucket 10,000 restoring 500/s: {500 / max(spent / n, 1):.1f} jobs/s "
          f"sustained, bursts of {10000 / max(points / n, 1):.0f}); request ceiling 2,500 per 5 min: "
          f"{2500 / 300 / (calls / n):.1f} jobs/s")
    print(f"  read time     p50 {statistics.median(reads) * 1000:.1f} ms, p99 {pct(sorted(reads), 0.99) * 1000:.1f} ms "
          f"per job (loopback sandbox); {problems} job(s) unmappable")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
