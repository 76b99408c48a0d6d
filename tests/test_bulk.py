"""The bulk path over the wire: the vendors' batch APIs, every ledger guarantee, each job visible and rerunnable."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import make_world


def _calls(connector: Any) -> Counter[str]:
    return Counter(dict(connector.http.calls.items()))


def _clear(rt: Any) -> None:
    for connector in rt.connectors():
        connector.http.calls.clear()


def _assert_posted_once(world: Any, job_ids: list[str]) -> None:
    """What the sandboxes hold: every job's ticket resolved, each note and invoice once, each invoice sent once."""
    tickets = [t for t in world.state("hubspot", "tickets") if t["properties"].get("fieldbridge_job_id") in job_ids]
    assert sorted(t["properties"]["fieldbridge_job_id"] for t in tickets) == sorted(job_ids)
    assert all(t["properties"]["hs_pipeline_stage"] == "4" for t in tickets)
    note_keys = Counter(n["properties"]["fieldbridge_note_key"] for n in world.state("hubspot", "notes"))
    expected_notes = {f"fb-note-{n.id}" for n in world.company.notes if n.job_id in job_ids}
    assert set(note_keys) == expected_notes and set(note_keys.values()) == {1}, note_keys
    invoices = Counter(i["DocNumber"] for i in world.state("quickbooks", "Invoice"))
    assert {d for d in invoices if any(d.endswith(j) for j in job_ids)} and set(invoices.values()) == {1}, invoices
    assert len(invoices) == len(job_ids)
    sent = Counter(o["invoice"] for o in world.state("quickbooks", "outbox"))
    assert set(sent.values()) == {1} and len(sent) == len(job_ids), sent


def test_bulk_writes_in_batches_and_leaves_what_job_closed_would(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 prefect_harness: None) -> None:
    from flows.bulk_job_closed import bulk_job_closed
    from flows.job_closed import job_closed
    from tasks.runtime import reset_runtime

    world = make_world(tmp_path, monkeypatch, jobs=40)
    try:
        rt = world.runtime
        jobs = [j.id for j in world.company.jobs]
        _clear(rt)
        state = bulk_job_closed(jobs, label="t1", return_state=True)
        assert state.is_completed(), state.message
        assert state.result()["posted"] == len(jobs)
        _assert_posted_once(world, jobs)
        crm, payroll, acc = _calls(rt.crm), _calls(rt.payroll), _calls(rt.accounting)
        # CRM: one batch update per 100 tickets, one batch create per 100 notes, nothing one by one
        assert crm == Counter({"POST /crm/v3/objects/tickets/batch/update": 1,
                               "POST /crm/v3/objects/notes/batch/create": 1}), crm
        # accounting: one /batch per 30 invoices (+ the customers and items created once), one send per invoice
        batches = sum(v for k, v in acc.items() if k.startswith("POST") and k.endswith("/batch"))
        sends = sum(v for k, v in acc.items() if k.startswith("POST") and k.endswith("/send"))
        assert sends == len(jobs), acc
        assert not [k for k in acc if k.startswith("POST") and k.endswith("/invoice")], acc
        assert batches == math.ceil(len(jobs) / 30), acc
        assert not [k for k in acc if k.startswith("GET")], acc
        # payroll: one write per technician-day, however many jobs share the day
        writes = sum(v for k, v in payroll.items() if not k.startswith("GET"))
        zone = ZoneInfo(world.settings.company_timezone)
        tech_days = {(e.technician_id, e.start.astimezone(zone).date()) for e in world.company.entries}
        assert writes <= len(tech_days) < len(jobs), (writes, len(tech_days), payroll)

        # the ledger holds exactly what the real-time path would: job-closed afterwards writes nothing
        _clear(rt)
        for job in jobs[:5]:
            assert job_closed(job, return_state=True).is_completed()
        assert sum(sum(_calls(c).values()) for c in rt.connectors()) == 0
        # and a second bulk run of the same jobs neither
        assert bulk_job_closed(jobs, label="t2", return_state=True).is_completed()
        assert sum(sum(_calls(c).values()) for c in rt.connectors()) == 0
        _assert_posted_once(world, jobs)
    finally:
        reset_runtime()
        world.sandboxes.stop()
