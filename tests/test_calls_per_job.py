"""Calls per job at the vendor minimum on the real-time path: the quota decides a tenant's throughput, so no
read is spent where fieldbridge already knows the answer."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_world


def _calls(connector: Any) -> Counter[str]:
    return Counter({k: v for k, v in connector.http.calls.items()})


def test_each_system_gets_its_minimum_of_calls_per_job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       prefect_harness: None) -> None:
    from flows.job_closed import job_closed
    from tasks.runtime import reset_runtime

    world = make_world(tmp_path, monkeypatch, jobs=8)
    try:
        rt = world.runtime
        jobs = [j.id for j in world.company.jobs]
        for job in jobs[:2]:  # warm-up: the customers' and parts' records are created once, then reused
            assert job_closed(job, return_state=True).is_completed()
        for connector in rt.connectors():
            connector.http.calls.clear()
        for job in jobs[2:]:
            state = job_closed(job, return_state=True)
            assert state.is_completed(), state.message
        n = len(jobs) - 2
        notes = sum(1 for note in world.company.notes if note.job_id in jobs[2:])
        crm, payroll, acc = _calls(rt.crm), _calls(rt.payroll), _calls(rt.accounting)
        # payroll: one write per technician-day touched, never a read first (the version our last write
        # returned is sent with the next update)
        assert not [k for k in payroll if k.startswith("GET")], payroll
        # accounting: create the invoice and send it; no read between (the create's answer is the invoice)
        invoice_posts = sum(v for k, v in acc.items() if k.startswith("POST") and "/invoice" in k)
        assert not [k for k in acc if k.startswith("GET")], acc
        assert invoice_posts == 2 * n, acc
        # CRM: one PATCH of the case per job, one POST per note
        assert sum(v for k, v in crm.items() if k.startswith("PATCH")) == n, crm
        assert not [k for k in crm if k.startswith("GET")], crm
        assert sum(v for k, v in crm.items() if k.startswith("POST")) == notes, crm
    finally:
        reset_runtime()
        world.sandboxes.stop()
