"""The `fieldbridge` entry point: commands are wired and errors are helpful."""

from __future__ import annotations

import json
import os
from pathlib import Path

from typer.testing import CliRunner

from deployments.cli import app

DATA = Path(__file__).parent / "data" / "hours"
runner = CliRunner()


def test_hours_is_reachable_from_the_main_cli() -> None:
    result = runner.invoke(app, ["hours", str(DATA / "ca_week.csv"), "--jurisdiction", "US-CA", "--json"])
    assert result.exit_code == 0, result.output
    techs = json.loads(result.stdout)["technicians"]
    assert techs and all("workdays" in t and "week_totals" in t for t in techs)


def test_unknown_sandbox_is_a_clear_error() -> None:
    result = runner.invoke(app, ["sandbox", "sage"])
    assert result.exit_code == 2
    assert "unknown sandbox 'sage'" in result.output and "salesforce" in result.output  # and the choices
    both = runner.invoke(app, ["sandbox", "all", "--port", "9000"])
    assert both.exit_code == 2 and "each uses its configured port" in both.output


def test_help_lists_every_command() -> None:
    result = runner.invoke(app, ["--help"])
    for command in ("demo", "hours", "sandbox", "run", "serve"):
        assert command in result.output


def test_a_week_split_across_two_files_is_computed_together() -> None:
    both = runner.invoke(app, ["hours", str(DATA / "week_part1.csv"), str(DATA / "week_part2.csv"),
                               "--jurisdiction", "US-FLSA", "--json"])
    first = runner.invoke(app, ["hours", str(DATA / "week_part1.csv"), "--jurisdiction", "US-FLSA", "--json"])
    assert both.exit_code == 0 and first.exit_code == 0, both.output + first.output

    def overtime(result) -> float:
        return sum(w["overtime"] for t in json.loads(result.stdout)["technicians"] for w in t["week_totals"])

    assert overtime(both) > overtime(first)  # weekly overtime appears only when the whole week is seen


def test_sandbox_all_starts_each_vendor_and_says_where(tmp_path) -> None:
    import subprocess
    import sys
    import time

    import httpx

    from connectors.emulator import free_port

    ports = {name: free_port() for name in ("hubspot", "gusto", "quickbooks")}
    env = {**os.environ, **{f"FIELDBRIDGE_{name.upper()}_BASE_URL": f"http://127.0.0.1:{port}"
                            for name, port in ports.items()}}
    proc = subprocess.Popen([str(Path(sys.executable).parent / "fieldbridge"), "sandbox", "all", "--error-rate", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        lines = []
        deadline = time.monotonic() + 60
        while len(lines) < 3 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if "listening on" in line:
                lines.append(line.strip())
        listening = {line.split()[0]: line.rsplit(" ", 1)[1] for line in lines}
        # each sandbox listens where its connector's settings point, whatever the role order
        assert listening == {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}, proc.stderr.read()
        assert httpx.get(f"{listening['hubspot']}/crm/v3/objects/tickets").status_code == 401  # auth is enforced
        assert httpx.get(f"{listening['gusto']}/_sandbox/stats").status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_run_and_effects_commands(world, prefect_harness) -> None:
    unknown = runner.invoke(app, ["run", "J9999"])
    assert unknown.exit_code == 2 and "J9999' does not exist" in unknown.output  # a data problem
    posted = runner.invoke(app, ["run", "J1001"])
    assert posted.exit_code == 0, posted.output
    assert "J1001: ticket" in posted.output and "invoice J1001" in posted.output
    ledger = runner.invoke(app, ["effects", "J1001"])
    assert ledger.exit_code == 0
    assert "quickbooks:invoice:J1001" in ledger.output and "done" in ledger.output
    assert "no effects recorded" in runner.invoke(app, ["effects", "J1002"]).output


def test_serve_and_ingress_refuse_to_start_without_a_signing_secret(monkeypatch) -> None:
    monkeypatch.delenv("FIELDBRIDGE_INGRESS_SECRETS", raising=False)
    for command in (["serve"], ["ingress"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 3 and "FIELDBRIDGE_INGRESS_SECRETS is not set" in result.output


def test_deploy_without_a_prefect_server_is_a_clear_error(monkeypatch) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    result = runner.invoke(app, ["deploy"])
    assert result.exit_code == 3 and "PREFECT_API_URL is not set" in result.output


def test_rerun_rejects_a_bad_date() -> None:
    result = runner.invoke(app, ["rerun", "--since", "last tuesday"])
    assert result.exit_code == 2 and "is not a date" in result.output


def _set_part_sku(world, job_id: str, sku: str) -> None:
    from sqlmodel import Session, select

    from models.canonical import PartUsage

    with Session(world.runtime.engine) as s:
        part = s.exec(select(PartUsage).where(PartUsage.job_id == job_id)).first()
        part.sku = sku
        s.add(part)
        s.commit()


def test_quarantine_list_show_release_and_rerun_locally(world, prefect_harness) -> None:
    _set_part_sku(world, "J1002", "NOT-IN-BOOK")
    day = "2026-11-24"
    plan = runner.invoke(app, ["rerun", "--since", day, "--until", day, "--local", "--dry-run"])
    assert plan.exit_code == 0, plan.output
    assert all(job in plan.output for job in ("J1001", "J1002", "J1003")) and "not posted" in plan.output
    first = runner.invoke(app, ["rerun", "--since", day, "--until", day, "--local"])
    assert first.exit_code == 1 and "J1002: Quarantined" in first.output and "2 of 3 reruns completed" in first.output

    listed = runner.invoke(app, ["quarantine", "list"])
    assert listed.exit_code == 0 and "J1002" in listed.output and "price book" in listed.output
    shown = runner.invoke(app, ["quarantine", "show", "J1002"])
    assert "part_sku_in_price_book" in shown.output and "PJ1002-1" in shown.output
    held = runner.invoke(app, ["quarantine", "release", "J1002", "--local"])
    assert held.exit_code == 1 and "still quarantined" in held.output

    _set_part_sku(world, "J1002", "P-BELT-02")  # the dispatcher fixes the part in the FSM
    released = runner.invoke(app, ["quarantine", "release", "J1002", "--local"])
    assert released.exit_code == 0 and "J1002 released: Completed" in released.output, released.output
    assert runner.invoke(app, ["quarantine", "list"]).output.strip() == "no job is quarantined"
    again = runner.invoke(app, ["rerun", "--since", day, "--until", day, "--local", "--dry-run"])
    assert "nothing to rerun" in again.output


def test_rerun_in_bulk_posts_the_good_jobs_and_names_the_quarantined_one(world, prefect_harness) -> None:
    _set_part_sku(world, "J1002", "NOT-IN-BOOK")
    day = "2026-11-24"
    first = runner.invoke(app, ["rerun", "--since", day, "--until", day, "--local", "--bulk", "--batch-size", "2"])
    assert first.exit_code == 1, first.output
    assert "J1002: quarantined" in first.output and "2 of 3 reruns completed" in first.output
    assert "batch 1 of 2" in first.output and "batch 2 of 2" in first.output
    invoices = {i["DocNumber"] for i in world.state("quickbooks", "Invoice")}
    assert invoices == {"J1001", "J1003"}
    again = runner.invoke(app, ["rerun", "--since", day, "--until", day, "--local", "--dry-run"])
    assert "J1002" in again.output and "J1001" not in again.output  # only the quarantined one is left
