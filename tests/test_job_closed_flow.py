"""End to end over the wire: a closed job reaches HubSpot, Gusto and QuickBooks exactly once."""

from __future__ import annotations

from collections import Counter

import pytest

from flows.job_closed import job_closed

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _invoices(world) -> list[dict]:
    return world.state("quickbooks", "Invoice")


def test_closed_job_posts_to_all_three_systems(world) -> None:
    result = job_closed("J1001")
    ticket = next(t for t in world.state("hubspot", "tickets") if t["properties"]["fieldbridge_job_id"] == "J1001")
    assert ticket["properties"]["hs_pipeline_stage"] == "4"
    assert result["crm"]["ticket_id"] == ticket["id"]
    notes = world.state("hubspot", "notes")
    assert len(notes) == 1 and "Customer signed off" in notes[0]["properties"]["hs_note_body"]
    invoices = _invoices(world)
    assert [i["DocNumber"] for i in invoices] == ["J1001"]
    assert str(invoices[0]["TotalAmt"]) == result["accounting"]["total"] == result["accounting"]["expected_total"]
    sheets = world.state("gusto", "time_sheets")
    assert len(sheets) == 1 and sheets[0]["metadata"]["workday"] == "2026-11-24"


def test_running_twice_changes_nothing(world) -> None:
    job_closed("J1001")
    before = {c: world.state(s, c) for s, c in [("hubspot", "notes"), ("quickbooks", "Invoice"),
                                                ("gusto", "time_sheets")]}
    second = job_closed("J1001")
    after = {c: world.state(s, c) for s, c in [("hubspot", "notes"), ("quickbooks", "Invoice"),
                                               ("gusto", "time_sheets")]}
    assert before == after
    assert second["accounting"]["written"] is False


def test_commit_then_drop_on_every_first_write_still_posts_once(world) -> None:
    world.faults_all(drop_first_write=True)
    job_closed("J1002")
    assert Counter(i["DocNumber"] for i in _invoices(world)) == {"J1002": 1}
    assert len(world.state("hubspot", "notes")) == 1
    sheets = world.state("gusto", "time_sheets")
    assert Counter(s["metadata"]["fieldbridge_key"] for s in sheets) == {"T02:2026-11-24": 1}
