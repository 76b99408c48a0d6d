"""The production path on a real local Prefect server: `fieldbridge deploy` from prefect.yaml (work pool
created), a real `prefect worker`, a failed run retried the way the UI does it (nothing posts twice), and
the alert automation calling the operator's webhook for a quarantined run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.emulator import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


class _Receiver(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        try:
            self.received.append(json.loads(body))
        except ValueError:
            self.received.append({"raw": body.decode(errors="replace")})
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@dataclass
class Stack:
    env: dict[str, str]
    api_url: str
    sandboxes: Any
    alerts: list[dict[str, Any]]
    worker: subprocess.Popen | None = None

    def stop_worker(self) -> None:
        if self.worker is not None and self.worker.poll() is None:
            self.worker.terminate()
            self.worker.wait(timeout=30)

    def state(self, system: str, collection: str) -> list[dict[str, Any]]:
        return httpx.get(f"{self.sandboxes.url(system)}/_sandbox/state/{collection}").json()["results"]

    def cli(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
        return subprocess.run(list(args), env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)

    @contextmanager
    def client(self) -> Iterator[Any]:
        from prefect import get_client
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings({PREFECT_API_URL: self.api_url}), get_client(sync_client=True) as client:
            yield client

    def wait_final(self, run_id: Any, timeout: float = 240) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.client() as client:
                run = client.read_flow_run(run_id)
            if run.state is not None and run.state.is_final():
                return run.state
            time.sleep(1)
        raise AssertionError(f"flow run {run_id} did not finish: {run.state}")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    from deployments import demo_data, prefect_server, sandboxes
    from deployments.demo import company_for
    from models.db import create_schema, make_engine
    from models.settings import FieldbridgeSettings

    home = tmp_path_factory.mktemp("real")
    receiver = HTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    server = prefect_server.start(home / "prefect", port=free_port(), timeout=180)
    db_url = f"sqlite:///{home / 'fb.db'}"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("FIELDBRIDGE_", "PREFECT_"))}
    running = sandboxes.start_all(FieldbridgeSettings(home=home))
    patch = pytest.MonkeyPatch()
    for key, value in running.env().items():  # this process seeds the sandboxes through the connectors too
        patch.setenv(key, value)
    env = {**base, **running.env(), "FIELDBRIDGE_HOME": str(home), "FIELDBRIDGE_DATABASE_URL": db_url,
           "PREFECT_API_URL": server.api_url, "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "FIELDBRIDGE_CHECKOUT": str(ROOT), "FIELDBRIDGE_TASK_RETRIES": "1",
           "FIELDBRIDGE_TASK_BACKOFF_SECONDS": "0.1", "FIELDBRIDGE_HTTP_MAX_ATTEMPTS": "2",
           "FIELDBRIDGE_ALERT_WEBHOOK_URL": f"http://127.0.0.1:{receiver.server_port}/alerts"}
    settings = FieldbridgeSettings(home=home, database_url=db_url, **{k.removeprefix("FIELDBRIDGE_").lower(): v
                                                                      for k, v in running.env().items()})
    engine = make_engine(db_url)
    create_schema(engine)
    company = company_for(settings, jobs=3)  # the customers QuickBooks already holds are linked in the id map
    demo_data.load(company, engine)
    sandboxes.seed(company, settings)
    engine.dispose()
    stack = Stack(env, server.api_url, running, _Receiver.received)
    try:
        deployed = stack.cli(str(BIN / "fieldbridge"), "deploy", timeout=300)
        assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-3000:]
        stack.worker = subprocess.Popen([str(BIN / "prefect"), "worker", "start", "--pool", "fieldbridge"],
                                        env={**env, "PREFECT_WORKER_QUERY_SECONDS": "2"}, cwd=ROOT,
                                        stdout=open(home / "worker.log", "wb"),  # noqa: SIM115
                                        stderr=subprocess.STDOUT)
        yield stack
    finally:
        stack.stop_worker()
        running.stop()
        server.stop()
        receiver.shutdown()
        patch.undo()


def test_deploy_creates_the_pool_and_every_deployment_of_prefect_yaml(stack: Stack) -> None:
    import yaml

    declared = {d["name"] for d in yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]}
    with stack.client() as client:
        pool = client.read_work_pool("fieldbridge")
        deployments = {d.name: d for d in client.read_deployments()}
        automations = {a.name for a in client.read_automations()}
    assert pool.type == "process"
    assert set(deployments) == declared
    assert all(d.work_pool_name == "fieldbridge" for d in deployments.values())
    sweeper = deployments["ingress-sweeper"]
    assert [s.schedule.interval.total_seconds() for s in sweeper.schedules] == [60]
    assert deployments["job-closed"].global_concurrency_limit.limit == 8
    assert {"fieldbridge: job-closed failed or quarantined", "fieldbridge: crashed when heartbeats stop",
            "job-closed__automation_1"} <= automations
    again = stack.cli(str(BIN / "fieldbridge"), "deploy", timeout=300)  # idempotent: a second deploy is fine
    assert again.returncode == 0, again.stderr[-2000:]


def test_a_failed_run_retried_like_the_ui_does_posts_nothing_twice(stack: Stack) -> None:
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    httpx.post(f"{stack.sandboxes.url('hubspot')}/_sandbox/faults", json={"error_rate": 1.0}).raise_for_status()
    with temporary_settings({PREFECT_API_URL: stack.api_url}):
        run = run_deployment("job-closed/job-closed", parameters={"job_id": "J1001"}, timeout=0)
    failed = stack.wait_final(run.id)
    assert failed.type.value == "FAILED" and "hubspot" in failed.message
    assert Counter(i["DocNumber"] for i in stack.state("quickbooks", "Invoice")) == {"J1001": 1}
    assert len(stack.state("gusto", "time_sheets")) == 1

    httpx.post(f"{stack.sandboxes.url('hubspot')}/_sandbox/faults", json={"error_rate": 0.0}).raise_for_status()
    retry = stack.cli(str(BIN / "prefect"), "flow-run", "retry", str(run.id))
    assert retry.returncode == 0, retry.stdout + retry.stderr
    done = stack.wait_final(run.id)
    assert done.type.value == "COMPLETED", done.message
    assert Counter(i["DocNumber"] for i in stack.state("quickbooks", "Invoice")) == {"J1001": 1}
    assert len(stack.state("gusto", "time_sheets")) == 1
    assert sorted(n["properties"]["fieldbridge_note_key"].split("-")[1] for n in stack.state("hubspot", "notes")) \
        == ["note", "report"]  # the technician's note and the job report (the product default), once each
    [ticket] = [t for t in stack.state("hubspot", "tickets") if t["properties"]["fieldbridge_job_id"] == "J1001"]
    assert ticket["properties"]["hs_pipeline_stage"] == "4"
    with stack.client() as client:
        assert len(client.read_flow_runs()) >= 1 and client.read_flow_run(run.id).run_count == 2


def test_a_quarantined_run_calls_the_alert_webhook(stack: Stack) -> None:
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings
    from sqlmodel import Session, select

    from models.canonical import PartUsage
    from models.db import make_engine

    engine = make_engine(stack.env["FIELDBRIDGE_DATABASE_URL"])
    with Session(engine) as s:
        part = s.exec(select(PartUsage).where(PartUsage.job_id == "J1002")).first()
        if part is None:
            s.add(PartUsage(id="P-bad", job_id="J1002", sku="NOT-IN-BOOK", quantity=1, unit_price=5))
        else:
            part.sku = "NOT-IN-BOOK"
            s.add(part)
        s.commit()
    engine.dispose()
    with temporary_settings({PREFECT_API_URL: stack.api_url}):
        run = run_deployment("job-closed/job-closed", parameters={"job_id": "J1002"}, timeout=0)
    state = stack.wait_final(run.id)
    assert (state.type.value, state.name) == ("FAILED", "Quarantined")
    deadline = time.monotonic() + 90
    while not any(a.get("flow_run_id") == str(run.id) for a in stack.alerts):
        assert time.monotonic() < deadline, f"no alert for {run.id}: {stack.alerts}"
        time.sleep(1)
    alert = next(a for a in stack.alerts if a.get("flow_run_id") == str(run.id))
    assert alert["state"] == "Quarantined" and alert["job_id"] == "J1002"
    assert "price book" in alert["message"] and alert["url"].endswith(str(run.id))


def test_serve_takes_events_and_stops_cleanly_on_ctrl_c(stack: Stack) -> None:
    """Runs last in this module: serving re-registers the deployments without a work pool."""
    import signal

    from deployments import demo_data, fsm_simulator

    stack.stop_worker()  # serve runs its own deployments: the pool's worker must not race it for the runs
    port = free_port()
    env = {**stack.env, "FIELDBRIDGE_INGRESS_SECRETS": "whsec_serve_test"}
    proc = subprocess.Popen([str(BIN / "fieldbridge"), "serve", "--port", str(port)], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, proc.stdout.read()
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "serve did not come up"
            time.sleep(0.5)
        company = demo_data.generate(jobs=3)
        with httpx.Client(timeout=30) as http:
            answer = fsm_simulator.post(http, url, "whsec_serve_test", fsm_simulator.event(company, company.jobs[2]))
        assert answer.status_code == 202, answer.text
        deadline = time.monotonic() + 60
        while "J1003" not in {i["DocNumber"] for i in stack.state("quickbooks", "Invoice")}:
            if time.monotonic() > deadline:
                proc.kill()
                alerts = [a for a in stack.alerts if a.get("job_id") == "J1003"]
                raise AssertionError(f"the event's run did not post the invoice; alerts {alerts}; serve said:\n"
                                     + proc.communicate()[0][-4000:])
            time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=90)
        assert proc.returncode == 0, output[-3000:]
        assert "serving         job-closed/job-closed" in output and "Traceback" not in output, output[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
