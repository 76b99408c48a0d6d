"""`fieldbridge demo` is the main job: it must work from a clean home and be safe to run again."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from connectors.emulator import free_port

pytestmark = pytest.mark.slow


def _docs(home: Path, system: str, collection: str) -> list[dict]:
    with sqlite3.connect(home / "sandboxes" / f"{system}.sqlite") as db:
        return [json.loads(r[0]) for r in db.execute("SELECT body FROM doc WHERE coll = ?", (collection,))]


def _demo(home: Path, port: int, *options: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FIELDBRIDGE_", "PREFECT_API"))}
    return subprocess.run(
        [str(Path(sys.executable).parent / "fieldbridge"), "demo", *options, "--jobs", "3", "--home", str(home),
         "--prefect-port", str(port)],
        capture_output=True, text=True, timeout=400, env=env, cwd=home.parent,
    )


def test_demo_posts_each_job_once_and_a_rerun_duplicates_nothing(tmp_path: Path) -> None:
    home = tmp_path / "fb"
    port = free_port()
    first = _demo(home, port)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert "3 of 3 jobs posted" in first.stdout
    assert "reconciliation of 2026-11-24: all checks passed (match rate 100.0%), 0 drift row(s)" in first.stdout
    assert f"http://127.0.0.1:{port}" in first.stdout
    # the morning: CRM cases → jobs, booked for tomorrow, a sick day from HR moves a visit, briefs published
    morning = " ".join(first.stdout.split())
    assert "2 new case(s) became jobs (CRM-demo-case-1, CRM-demo-case-2)" in morning
    assert "CRM-demo-case-1 → T01 09:00–11:00, CRM-demo-case-2 → T02 13:00–15:00 (shown on the CRM cases)" in morning
    assert "(Sick, all day)" in morning and "CRM-demo-case-1: T01 on leave (Sick) on" in morning
    assert "→ reassigned to T02" in morning and "2 visit(s) on" in morning
    assert "2 with the customer's CRM context: fieldbridge brief T02 --date" in morning

    expected_jobs = {f"J{1001 + n}" for n in range(3)}
    intake = {"CRM-demo-case-1", "CRM-demo-case-2"}
    tickets = {t["properties"]["fieldbridge_job_id"]: t["properties"] for t in _docs(home, "hubspot", "tickets")}
    assert set(tickets) == expected_jobs | intake
    assert {tickets[j]["hs_pipeline_stage"] for j in expected_jobs} == {"4"}  # closed jobs: resolved
    assert {tickets[j]["hs_pipeline_stage"] for j in intake} == {"1"}  # tomorrow's visits: still open
    # the reassigned visit shows on its case with the technician it moved to
    assert tickets["CRM-demo-case-1"]["fieldbridge_technician"] == tickets["CRM-demo-case-2"]["fieldbridge_technician"]
    notes = Counter(n["properties"]["fieldbridge_note_key"].split("-")[1] for n in _docs(home, "hubspot", "notes"))
    assert notes == {"note": 3, "report": 3}  # each job's technician note and its report on the customer profile
    invoices = _docs(home, "quickbooks", "Invoice")
    assert Counter(i["DocNumber"] for i in invoices) == dict.fromkeys(expected_jobs, 1)
    sheets = _docs(home, "gusto", "time_sheets")
    assert len(sheets) == 3  # 3 jobs, one per technician, all on the demo day
    assert all(s["metadata"]["workday"] == "2026-11-24" for s in sheets)

    second = _demo(home, port)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert "0 new case(s) became jobs" in second.stdout and "reassigned" not in second.stdout
    assert len(_docs(home, "hubspot", "tickets")) == 5
    assert len(_docs(home, "hubspot", "notes")) == 6
    assert _docs(home, "quickbooks", "Invoice") == invoices
    assert len(_docs(home, "gusto", "time_sheets")) == 3
