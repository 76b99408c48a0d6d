"""A deployment's concurrency slot held by a run whose process died is given back — even when the Prefect
server restarted in between. (Prefect keeps slot leases in memory by default: a restart forgot them and the
slots leaked for good, so `job-closed` runs queued `AwaitingConcurrencySlot` behind ghosts — found by the
chaos benchmark.)"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from connectors.emulator import free_port
from deployments import prefect_server

pytestmark = pytest.mark.slow


def _propose_pending(client: Any, run_id: Any) -> str:
    from prefect.states import Pending

    return client.set_flow_run_state(run_id, Pending()).status.value


def test_a_dead_runs_slot_comes_back_after_a_server_restart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    monkeypatch.setenv("PREFECT_SERVER_CONCURRENCY_INITIAL_DEPLOYMENT_LEASE_DURATION", "30")  # the minimum
    monkeypatch.setenv("PREFECT_SERVER_SERVICES_REPOSSESSOR_LOOP_SECONDS", "2")
    monkeypatch.setenv("PREFECT_UI_ENABLED", "false")
    port, home = free_port(), tmp_path / "prefect"
    server = prefect_server.start(home, port=port, timeout=180)
    try:
        with temporary_settings({PREFECT_API_URL: server.api_url}), get_client(sync_client=True) as client:
            flow_id = client.create_flow_from_name("slot-probe")
            deployment_id = client.create_deployment(flow_id=flow_id, name="probe", concurrency_limit=1)
            holder = client.create_flow_run_from_deployment(deployment_id)
            waiting = client.create_flow_run_from_deployment(deployment_id)
            assert _propose_pending(client, holder.id) == "ACCEPT"  # takes the one slot, then its process "dies"
            assert _propose_pending(client, waiting.id) != "ACCEPT"  # queued AwaitingConcurrencySlot

            server.stop()
            server = prefect_server.start(home, port=port, timeout=180)

            deadline, status = time.monotonic() + 120, "REJECT"
            while status != "ACCEPT" and time.monotonic() < deadline:
                time.sleep(3)
                status = _propose_pending(client, waiting.id)
            assert status == "ACCEPT", "the dead holder's slot was never given back"
            assert client.read_flow_run(waiting.id).state.type.value == "PENDING"
    finally:
        server.stop()
