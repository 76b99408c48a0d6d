"""`fieldbridge serve`: every deployment prefect.yaml declares, plus the ingress, from one process.

1. a Prefect API: the configured one (`PREFECT_API_URL`), or a local `prefect server start` under the
   fieldbridge home — schedules and automations need a real server (DESIGN.md §7);
2. the deployments, read from prefect.yaml and registered as served deployments (schedules, triggers,
   concurrency limits as declared), executed by the warm executor;
3. fieldbridge's automations (alerts, zombie detection);
4. the ingress on `FIELDBRIDGE_INGRESS_PORT`, handing each new run straight to the executor.

Ctrl-C (or SIGTERM) stops taking work, lets in-flight runs finish, and stops what it started.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deployments import prefect_server
from deployments.project import PROJECT_FILE
from models.settings import FieldbridgeSettings

log = logging.getLogger("fieldbridge.serve")


def use_prefect_api(home: Path, port: int = 4200) -> prefect_server.LocalPrefectServer | None:
    """Point this process at a Prefect API: the configured one, else a local server we start.

    Must run before Prefect is imported: Prefect reads its settings from the environment at import.
    """
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # heartbeats every 30 s (Prefect's minimum): a dead process's runs are marked Crashed within ~90 s
    os.environ.setdefault("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "30")
    if os.environ.get("PREFECT_API_URL"):
        return None
    server = prefect_server.start(home / "prefect", port=port)
    os.environ["PREFECT_API_URL"] = server.api_url
    os.environ.setdefault("PREFECT_UI_URL", server.ui_url)
    return server


@dataclass
class Service:
    """What `serve` runs; `stop()` undoes it in reverse order."""

    deployments: dict[str, str]  # full name → deployment id
    executor: Any
    ingress_url: str | None
    ingress_server: Any = None
    prefect: prefect_server.LocalPrefectServer | None = None
    stopped: threading.Event = field(default_factory=threading.Event)

    def stop(self) -> None:
        if self.stopped.is_set():
            return
        self.stopped.set()
        if self.ingress_server is not None:
            self.ingress_server.stop()
        self.executor.stop(wait=True)
        if self.prefect is not None:
            self.prefect.stop()


def start_service(settings: FieldbridgeSettings, *, project_file: Path = PROJECT_FILE, ingress: bool = True,
                  ingress_port: int | None = None, prefect: prefect_server.LocalPrefectServer | None = None) -> Service:
    """Register and serve the deployments, start the ingress; returns at once (work runs on threads)."""
    from connectors.emulator import SandboxServer
    from deployments.automations import ensure_automations
    from deployments.executor import WarmExecutor
    from deployments.ingress import create_app
    from deployments.project import read_project
    from flows.starter import RunStarter
    from models.db import create_schema, get_engine
    from tasks.validate import warm_up

    engine = get_engine(settings.resolved_database_url())
    create_schema(engine)
    flows: dict[Any, Any] = {}
    names: dict[str, str] = {}
    for spec in read_project(project_file):
        deployment = spec.to_runner_deployment()
        deployment_id = deployment.apply()
        flows[deployment_id] = spec.load_flow()
        names[deployment.full_name] = str(deployment_id)
    ensure_automations(settings)
    warm_up()  # build the quality suites before the first run needs them
    executor = WarmExecutor(flows, workers=settings.executor_workers, poll_seconds=settings.executor_poll_seconds)
    executor.start()
    service = Service(names, executor, None, prefect=prefect)
    if ingress:
        app = create_app(settings, engine, RunStarter(settings.job_closed_deployment, on_created=executor.claim))
        port = settings.ingress_port if ingress_port is None else ingress_port
        service.ingress_server = SandboxServer(app, port=port, host=settings.ingress_host).start()
        service.ingress_url = service.ingress_server.url
    return service


def serve_forever(service: Service) -> None:
    """Block until Ctrl-C or SIGTERM, then stop cleanly."""
    done = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        log.info("received signal %s: finishing in-flight runs and stopping", signum)
        done.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not done.wait(1.0):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        service.stop()
