"""A local Prefect server for the embedded default: schedules and the UI need one (DESIGN.md §7)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from models.files import private_dir


def healthy(api_url: str) -> bool:
    try:
        return httpx.get(f"{api_url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@dataclass
class LocalPrefectServer:
    api_url: str
    process: subprocess.Popen | None  # None when we reused a server that was already running
    log_path: Path | None = None

    @property
    def ui_url(self) -> str:
        return self.api_url.removesuffix("/api")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()


LEASE_STORAGE = "prefect.server.concurrency.lease_storage.filesystem"
"""Where a single-host server keeps concurrency leases (several API hosts: `prefect_redis.lease_storage`)."""


def start(home: Path, port: int = 4200, timeout: float = 120.0) -> LocalPrefectServer:
    """Reuse a healthy server on `port`, or start `prefect server start` with its state under `home`."""
    api_url = f"http://127.0.0.1:{port}/api"
    if healthy(api_url):
        return LocalPrefectServer(api_url, None)
    private_dir(home)
    env = {**os.environ, "PREFECT_HOME": str(home.resolve()), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_UI_ENABLED": os.environ.get("PREFECT_UI_ENABLED", "true"),
           # automations render run links (`flow_run | ui_url`) from this
           "PREFECT_UI_URL": f"http://127.0.0.1:{port}"}
    # deployment concurrency slots are held under leases; Prefect keeps them in memory by default, so a server
    # restart forgets every lease and the slots they held are never given back (the deployment's queue
    # stalls at AwaitingConcurrencySlot). On disk they survive the restart and expire if their holder died.
    env.setdefault("PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE", LEASE_STORAGE)
    env.pop("PREFECT_API_URL", None)
    log_path = home / "server.log"
    prefect_bin = Path(sys.executable).parent / "prefect"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [str(prefect_bin), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    while not healthy(api_url):
        if process.poll() is not None:
            raise RuntimeError(f"prefect server exited with {process.returncode}; see {log_path}")
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"prefect server did not become healthy in {timeout:.0f}s; see {log_path}")
        time.sleep(0.5)
    return LocalPrefectServer(api_url, process, log_path)
