"""The production shape on one machine: a Prefect server on PostgreSQL, fieldbridge's tables on PostgreSQL,
the deployments of prefect.yaml on a process work pool, and N `prefect worker` processes (each flow run its
own process), against the vendor sandboxes with their real rate windows. Used by `benchmarks/workers.py` and
`tests/test_workers_pg.py`.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PG = os.environ.get("FIELDBRIDGE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432")


def create_database(prefix: str, pg: str = PG) -> str:
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{pg}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_database(name: str, pg: str = PG) -> None:
    import psycopg

    with psycopg.connect(f"{pg}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code < 500
    except httpx.HTTPError:
        return False


@dataclass
class PgStack:
    home: Path
    jobs: int
    workers: int = 2
    vendor_env: dict[str, str] = field(default_factory=dict)  # e.g. FIELDBRIDGE_GUSTO_RATE_LIMIT
    env: dict[str, str] = field(default_factory=dict)
    databases: list[str] = field(default_factory=list)
    procs: list[subprocess.Popen] = field(default_factory=list)
    server: Any = None
    sandboxes: Any = None
    company: Any = None
    api_url: str = ""
    saved_env: dict[str, str] = field(default_factory=dict)
    pg: str = PG  # the PostgreSQL server both databases live on (chaos: a private cluster it may restart)
    faults: Any = None  # the sandboxes' FaultConfig
    worker_env: dict[str, str] = field(default_factory=dict)  # e.g. PREFECT_FLOWS_HEARTBEAT_FREQUENCY
    ingress_secret: str | None = None  # set: jobs arrive as signed events through a `fieldbridge ingress`
    ingress_url: str = ""
    ingress_proc: Any = None
    workers_started: int = 0

    def start(self) -> PgStack:
        from connectors.emulator import free_port
        from deployments import demo_data, sandboxes
        from deployments.demo import company_for
        from models.db import create_schema, make_engine
        from models.settings import FieldbridgeSettings

        self.saved_env = dict(os.environ)  # put back by stop(): a test after this one must not inherit quotas
        prefect_db, fb_db = create_database("fb_prefect", self.pg), create_database("fb_tables", self.pg)
        self.databases += [prefect_db, fb_db]
        fb_url = f"{self.pg}/{fb_db}"
        os.environ.update(self.vendor_env)  # the sandboxes (here) enforce the quotas the workers budget for
        self.prefect_db_url = f"postgresql+asyncpg://{self.pg.split('://', 1)[1]}/{prefect_db}"
        self._start_server(free_port())
        self.sandboxes = sandboxes.start_all(FieldbridgeSettings(home=self.home))
        os.environ.update(self.sandboxes.env())
        base = {k: v for k, v in os.environ.items() if not k.startswith(("FIELDBRIDGE_", "PREFECT_"))}
        self.env = {**base, **self.sandboxes.env(), **self.vendor_env, "FIELDBRIDGE_HOME": str(self.home),
                    "FIELDBRIDGE_DATABASE_URL": fb_url, "PREFECT_API_URL": self.api_url,
                    "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "FIELDBRIDGE_CHECKOUT": str(ROOT),
                    "PREFECT_LOGGING_LEVEL": "WARNING", "FIELDBRIDGE_TASK_BACKOFF_SECONDS": "1"}
        settings = FieldbridgeSettings(home=self.home, database_url=fb_url,
                                       **{k.removeprefix("FIELDBRIDGE_").lower(): v
                                          for k, v in self.sandboxes.env().items()})
        engine = make_engine(fb_url)
        create_schema(engine)
        self.company = company_for(settings, jobs=self.jobs)
        if self.ingress_secret:
            demo_data.load_setup(self.company, engine)  # the jobs themselves come through the ingress
        else:
            demo_data.load(self.company, engine)
        sandboxes.seed(self.company, settings)
        engine.dispose()
        if self.faults is not None:  # after seeding: the vendors' own data is there before the storm starts
            from dataclasses import asdict

            for system in self.sandboxes.servers:
                httpx.post(f"{self.sandboxes.url(system)}/_sandbox/faults", json=asdict(self.faults),
                           timeout=30).raise_for_status()
        deployed = subprocess.run([str(BIN / "fieldbridge"), "deploy"], env=self.env, cwd=ROOT, capture_output=True,
                                  text=True, timeout=300)
        if deployed.returncode != 0:
            raise RuntimeError(f"deploy failed: {deployed.stdout[-2000:]}{deployed.stderr[-2000:]}")
        for _ in range(self.workers):
            self.start_worker()
        if self.ingress_secret:
            port = free_port()
            log = open(self.home / "ingress.log", "wb")  # noqa: SIM115 - the process owns it
            self.ingress_proc = subprocess.Popen(
                [str(BIN / "fieldbridge"), "ingress", "--port", str(port)],
                env={**self.env, "FIELDBRIDGE_INGRESS_SECRETS": self.ingress_secret}, cwd=ROOT, stdout=log,
                stderr=subprocess.STDOUT)
            self.ingress_url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while not _answers(f"{self.ingress_url}/healthz"):
                if time.monotonic() > deadline or self.ingress_proc.poll() is not None:
                    raise RuntimeError(f"the ingress did not start: {(self.home / 'ingress.log').read_text()[-2000:]}")
                time.sleep(0.3)
        return self

    def start_worker(self) -> subprocess.Popen:
        """One more `prefect worker` (its own process group: `kill_worker` takes its flow-run processes too)."""
        n = self.workers_started
        self.workers_started += 1
        log = open(self.home / f"worker-{n}.log", "wb")  # noqa: SIM115 - the worker owns it
        proc = subprocess.Popen(
            [str(BIN / "prefect"), "worker", "start", "--pool", "fieldbridge", "--name", f"worker-{n}"],
            env={**self.env, "PREFECT_WORKER_QUERY_SECONDS": "1", **self.worker_env}, cwd=ROOT, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        return proc

    def kill_worker(self, n: int = 0) -> None:
        """SIGKILL a worker and every flow run it is executing: no clean-up, no final states."""
        import signal

        os.killpg(self.procs[n].pid, signal.SIGKILL)
        self.procs[n].wait(timeout=30)

    def _start_server(self, port: int) -> None:
        from deployments import prefect_server

        os.environ["PREFECT_API_DATABASE_CONNECTION_URL"] = self.prefect_db_url
        try:
            self.server = prefect_server.start(self.home / "prefect", port=port, timeout=240)
        finally:
            os.environ.pop("PREFECT_API_DATABASE_CONNECTION_URL")
        self.api_url = self.server.api_url

    def restart_server(self, down_seconds: float = 0.0) -> None:
        """Stop the Prefect server and start it again on the same port and database (workers reconnect)."""
        port = int(self.api_url.rsplit(":", 1)[1].split("/", 1)[0])
        self.server.stop()
        time.sleep(down_seconds)
        self._start_server(port)

    @contextmanager
    def client(self) -> Iterator[Any]:
        """A synchronous Prefect client on this stack's server."""
        from prefect import get_client
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings({PREFECT_API_URL: self.api_url}), get_client(sync_client=True) as client:
            yield client

    def run_jobs(self, job_ids: list[str], timeout: float = 900) -> dict[str, Any]:
        """Start one job-closed run per job through the deployment (the workers pick them up); wait for
        every run to end. Returns job id → final flow run."""
        from prefect.deployments import run_deployment
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings({PREFECT_API_URL: self.api_url}):
            started = {job: run_deployment("job-closed/job-closed", parameters={"job_id": job}, timeout=0).id
                       for job in job_ids}
        deadline = time.monotonic() + timeout
        done: dict[str, Any] = {}
        while len(done) < len(started) and time.monotonic() < deadline:
            with self.client() as client:
                for job, run_id in started.items():
                    if job not in done:
                        run = client.read_flow_run(run_id)
                        if run.state is not None and run.state.is_final():
                            done[job] = run
            time.sleep(1)
        if len(done) < len(started):
            raise RuntimeError(f"{len(started) - len(done)} run(s) did not finish in {timeout:.0f} s")
        return done

    def state(self, system: str, collection: str) -> list[dict[str, Any]]:
        return httpx.get(f"{self.sandboxes.url(system)}/_sandbox/state/{collection}").json()["results"]

    def stats(self) -> dict[str, dict[str, int]]:
        return {s: httpx.get(f"{self.sandboxes.url(s)}/_sandbox/stats").json() for s in self.sandboxes.servers}

    def duplicates(self) -> dict[str, int]:
        """Records the vendors hold more than once (by the job or day they belong to)."""
        tickets = Counter(t["properties"].get("fieldbridge_job_id") for t in self.state("hubspot", "tickets"))
        notes = Counter(n["properties"].get("fieldbridge_note_key") for n in self.state("hubspot", "notes"))
        sheets = Counter(s.get("metadata", {}).get("fieldbridge_key") for s in self.state("gusto", "time_sheets"))
        invoices = Counter(i.get("DocNumber") for i in self.state("quickbooks", "Invoice"))
        return {name: sum(n - 1 for n in counts.values() if n > 1) for name, counts in
                (("tickets", tickets), ("notes", notes), ("time_sheets", sheets), ("invoices", invoices))}

    def stop(self) -> None:
        if self.ingress_proc is not None and self.ingress_proc.poll() is None:
            self.ingress_proc.terminate()
            self.ingress_proc.wait(timeout=30)
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        if self.sandboxes is not None:
            self.sandboxes.stop()
        if self.server is not None:
            self.server.stop()
        for name in self.databases:
            with contextlib.suppress(Exception):  # a private cluster may already be gone
                drop_database(name, self.pg)
        if self.saved_env:
            os.environ.clear()
            os.environ.update(self.saved_env)
        from connectors.http.ratelimit import use_budget_store

        use_budget_store(None)  # the stack's database is gone
