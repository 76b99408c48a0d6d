"""`fieldbridge demo --source jobber`: the day's jobs are worked and closed in the Jobber sandbox, and Jobber's
signed webhooks alone bring them to the CRM, payroll and accounting — once (a repeated webhook finds nothing new:
tests/test_jobber.py; a second demo posting nothing twice: tests/test_demo.py)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from connectors.emulator import free_port
from tests.test_demo import _demo, _docs

pytestmark = pytest.mark.slow


def test_the_demo_from_jobber_posts_each_job_once_through_its_webhooks(tmp_path: Path) -> None:
    home = tmp_path / "fb"
    port = free_port()
    first = _demo(home, port, "--source", "jobber")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    out = " ".join(first.stdout.split())
    assert "3 open jobs" in out and "3 jobs closed in Jobber" in out and "3 of 3 jobs posted from Jobber" in out
    deliveries = _docs(home, "jobber", "webhook_deliveries")
    assert deliveries and all(d["delivered"] for d in deliveries)
    assert any(d["redelivery"] for d in deliveries)  # Jobber's at-least-once: the duplicates changed nothing
    jobs = {f"J{1001 + n}" for n in range(3)}
    invoices = Counter(i["DocNumber"] for i in _docs(home, "quickbooks", "Invoice"))
    assert {j: invoices[j] for j in jobs} == {j: 1 for j in jobs}
    tickets = {t["properties"]["fieldbridge_job_id"]: t["properties"] for t in _docs(home, "hubspot", "tickets")}
    assert {tickets[j]["hs_pipeline_stage"] for j in jobs} == {"4"}
