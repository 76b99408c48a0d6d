"""Signed events at a steady rate into `fieldbridge serve`, backed by a Prefect server on PostgreSQL.

    uv run python benchmarks/webhook_latency.py [--events 120] [--rate 1.0] [--fb-db postgres|sqlite]

Starts (all on this machine): a Prefect server whose database is a fresh PostgreSQL database, the
three vendor sandboxes (`fieldbridge sandbox all`, its own process), and `fieldbridge serve` (its own
process: deployments from prefect.yaml, warm executor, ingress). Then a simulated field-service system
posts signed `job.closed` events at `--rate` per second and the script reports:

- acknowledgement latency (POST → 2xx), p50 / p99 / max;
- event → all three vendor records written, p50 / p95 / max — measured to the flow run's end, which
  comes just after its last vendor write (so slightly conservative);
- where that time goes: event → run created (the ingress's background start), created → running
  (hand-over to the executor and the Pending/Running proposals), running → done (the flow itself);
- an exactly-once check of what the sandboxes hold.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent
PG = os.environ.get("FIELDBRIDGE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
SECRET = "whsec_bench_" + uuid.uuid4().hex[:8]

from benchmarks.pgstack import create_database, drop_database  # noqa: E402 (after the sys.path line)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def free_port_run(n: int) -> int:
    """A port p with p … p+n-1 all free (`fieldbridge sandbox all` takes consecutive ports)."""
    import socket

    from connectors.emulator import free_port

    while True:
        base = free_port()
        ok = True
        for port in range(base, base + n):
            with socket.socket() as s:
                ok = ok and s.connect_ex(("127.0.0.1", port)) != 0
        if ok and base + n < 65535:
            return base


def wait_http(url: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not come up")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=120)
    parser.add_argument("--rate", type=float, default=1.0, help="events per second")
    parser.add_argument("--fb-db", choices=["postgres", "sqlite"], default="postgres",
                        help="fieldbridge's own tables (the Prefect server is always on PostgreSQL)")
    parser.add_argument("--workers", type=int, default=4, help="FIELDBRIDGE_EXECUTOR_WORKERS")
    parser.add_argument("--separate-ingress", action="store_true",
                        help="run `fieldbridge ingress` as its own process next to `fieldbridge serve --no-ingress`")
    args = parser.parse_args()

    from connectors.emulator import free_port
    from deployments import demo_data, fsm_simulator, prefect_server, sandboxes
    from models.settings import FieldbridgeSettings

    home = Path(tempfile.mkdtemp(prefix="fb-latency-"))
    prefect_db = create_database("fb_prefect")
    fb_db = create_database("fb_tables") if args.fb_db == "postgres" else None
    fb_url = f"{PG}/{fb_db}" if fb_db else f"sqlite:///{home / 'fb.db'}"
    procs: list[subprocess.Popen] = []
    server = None
    try:
        os.environ["PREFECT_API_DATABASE_CONNECTION_URL"] = \
            f"postgresql+asyncpg://{PG.split('://', 1)[1]}/{prefect_db}"
        port = free_port()
        t0 = time.monotonic()
        server = prefect_server.start(home / "prefect", port=port, timeout=240)
        print(f"Prefect server on PostgreSQL up in {time.monotonic() - t0:.1f} s: {server.api_url}")
        sandbox_port = free_port_run(3)
        base_env = {k: v for k, v in os.environ.items() if not k.startswith(("FIELDBRIDGE_", "PREFECT_"))}
        procs.append(subprocess.Popen([str(BIN / "fieldbridge"), "sandbox", "all", "--port", str(sandbox_port)],
                                      env=base_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        urls = {s: f"http://127.0.0.1:{sandbox_port + n}" for n, s in enumerate(sandboxes.SYSTEMS)}
        for url in urls.values():
            wait_http(f"{url}/_sandbox/stats")
        vendor_env = {"FIELDBRIDGE_HUBSPOT_BASE_URL": urls["hubspot"],
                      "FIELDBRIDGE_QUICKBOOKS_BASE_URL": urls["quickbooks"],
                      "FIELDBRIDGE_QUICKBOOKS_TOKEN_URL": urls["quickbooks"] + "/oauth2/v1/tokens/bearer",
                      "FIELDBRIDGE_GUSTO_BASE_URL": urls["gusto"]}
        env = {**base_env, **vendor_env, "FIELDBRIDGE_HOME": str(home), "FIELDBRIDGE_DATABASE_URL": fb_url,
               "FIELDBRIDGE_INGRESS_SECRETS": SECRET, "PREFECT_API_URL": server.api_url,
               "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_LOGGING_LEVEL": "WARNING",
               "FIELDBRIDGE_EXECUTOR_WORKERS": str(args.workers)}
        settings = FieldbridgeSettings(home=home, database_url=fb_url, hubspot_base_url=urls["hubspot"],
                                       quickbooks_base_url=urls["quickbooks"], gusto_base_url=urls["gusto"])
        from models.db import create_schema, make_engine

        engine = make_engine(fb_url)
        create_schema(engine)
        company = demo_data.generate(jobs=args.events + 1)
        demo_data.load_setup(company, engine)
        sandboxes.seed(company, settings)

        ingress_port = free_port()
        serve_log = open(home / "serve.log", "wb")  # noqa: SIM115 — the child process owns it until the end
        t0 = time.monotonic()
        serve = [str(BIN / "fieldbridge"), "serve"] + (["--no-ingress"] if args.separate_ingress else
                                                          ["--port", str(ingress_port)])
        procs.append(subprocess.Popen(serve, env=env, cwd=ROOT, stdout=serve_log, stderr=subprocess.STDOUT))
        if args.separate_ingress:
            time.sleep(8)
            procs.append(subprocess.Popen([str(BIN / "fieldbridge"), "ingress", "--port", str(ingress_port)], env=env,
                                          cwd=ROOT, stdout=serve_log, stderr=subprocess.STDOUT))
        ingress = f"http://127.0.0.1:{ingress_port}"
        wait_http(f"{ingress}/healthz", timeout=240)
        print(f"fieldbridge serve up in {time.monotonic() - t0:.1f} s: {ingress}")

        with httpx.Client(timeout=30) as http:
            warm = fsm_simulator.event(company, company.jobs[0])
            fsm_simulator.post(http, ingress, SECRET, warm)  # first run: Prefect client, token refresh
            time.sleep(5)
            acks: list[float] = []
            sent: dict[str, float] = {}
            interval = 1.0 / args.rate
            start = time.time()
            print(f"posting {args.events} events at {args.rate}/s …")
            for n, job in enumerate(company.jobs[1:]):
                target = start + n * interval
                time.sleep(max(0.0, target - time.time()))
                evt = fsm_simulator.event(company, job)
                t = time.time()
                answer = fsm_simulator.post(http, ingress, SECRET, evt)
                acks.append((time.time() - t) * 1000)
                if answer.status_code != 202:
                    print(f"  {job.id}: {answer.status_code} {answer.text[:200]}")
                sent[job.id] = t
        from flows.starter import wait_for_runs
        from models import inbox

        deadline = time.monotonic() + 600
        runs: dict[str, str] = {}
        while time.monotonic() < deadline and len(runs) < len(sent):
            runs = {row.flow_run_id: job_id for job_id in sent
                    if (row := inbox.latest_for_job(engine, job_id)) is not None and row.flow_run_id}
            time.sleep(0.5)
        os.environ["PREFECT_API_URL"] = server.api_url
        from prefect import get_client
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings({PREFECT_API_URL: server.api_url}):
            wait_for_runs(list(runs), timeout=max(1.0, deadline - time.monotonic()))
            with get_client(sync_client=True) as client:
                details = {r: client.read_flow_run(uuid.UUID(r)) for r in runs}
        done, created, queued, running, failed = [], [], [], [], []
        for run_id, run in details.items():
            t_sent = sent[runs[run_id]]
            if run.state is None or run.state.type.value != "COMPLETED" or run.end_time is None:
                failed.append((runs[run_id], run.state.name if run.state else "?"))
                continue
            done.append(run.end_time.timestamp() - t_sent)
            created.append(run.created.timestamp() - t_sent)
            queued.append(run.start_time.timestamp() - run.created.timestamp())
            running.append(run.end_time.timestamp() - run.start_time.timestamp())
        invoices = httpx.get(f"{urls['quickbooks']}/_sandbox/state/Invoice").json()["results"]
        doubles = {k: v for k, v in Counter(i["DocNumber"] for i in invoices).items() if v > 1}
        notes = httpx.get(f"{urls['hubspot']}/_sandbox/state/notes").json()["results"]

        print()
        print(f"events {len(sent)} at {args.rate}/s, fieldbridge tables on {args.fb_db}, "
              f"{args.workers} executor threads")
        print(f"ack latency        p50 {statistics.median(acks):6.1f} ms   p99 {pct(acks, 99):6.1f} ms   "
              f"max {max(acks):6.1f} ms")
        if done:
            print(f"event → written    p50 {statistics.median(done):6.2f} s    p95 {pct(done, 95):6.2f} s    "
                  f"max {max(done):6.2f} s")
            print(f"  event → run created     p50 {statistics.median(created) * 1000:6.0f} ms  "
                  f"p95 {pct(created, 95) * 1000:6.0f} ms")
            print(f"  created → running       p50 {statistics.median(queued) * 1000:6.0f} ms  "
                  f"p95 {pct(queued, 95) * 1000:6.0f} ms")
            print(f"  running → completed     p50 {statistics.median(running) * 1000:6.0f} ms  "
                  f"p95 {pct(running, 95) * 1000:6.0f} ms")
        print(f"not completed: {len(failed)} {failed[:5]}; invoices {len(invoices)}, duplicates {doubles or 0}, "
              f"notes {len(notes)}")
        return 0 if not failed and not doubles else 1
    finally:
        for proc in reversed(procs):
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
        if server is not None:
            server.stop()
        time.sleep(1)
        drop_database(prefect_db)
        if fb_db:
            drop_database(fb_db)


if __name__ == "__main__":
    sys.exit(main())
