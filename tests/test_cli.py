"""The `fieldbridge` entry point: commands are wired and errors are helpful."""

from __future__ import annotations

import json
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
    result = runner.invoke(app, ["sandbox", "salesforce"])
    assert result.exit_code == 2
    assert "unknown sandbox 'salesforce'" in result.output


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

    port = free_port()
    proc = subprocess.Popen([str(Path(sys.executable).parent / "fieldbridge"), "sandbox", "all", "--port", str(port),
                             "--error-rate", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        deadline = time.monotonic() + 60
        while len(lines) < 3 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if "listening on" in line:
                lines.append(line.strip())
        assert [line.split()[0] for line in lines] == ["hubspot", "quickbooks", "gusto"], proc.stderr.read()
        urls = [line.rsplit(" ", 1)[1] for line in lines]
        assert urls == [f"http://127.0.0.1:{port + n}" for n in range(3)]
        assert httpx.get(f"{urls[0]}/crm/v3/objects/tickets").status_code == 401  # auth is enforced
        assert httpx.get(f"{urls[2]}/_sandbox/stats").status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_run_and_effects_commands(world, prefect_harness) -> None:
    unknown = runner.invoke(app, ["run", "J9999"])
    assert unknown.exit_code == 1 and "J9999' does not exist" in unknown.output
    posted = runner.invoke(app, ["run", "J1001"])
    assert posted.exit_code == 0, posted.output
    assert "J1001: ticket" in posted.output and "invoice J1001" in posted.output
    ledger = runner.invoke(app, ["effects", "J1001"])
    assert ledger.exit_code == 0
    assert "quickbooks:invoice:J1001" in ledger.output and "done" in ledger.output
    assert "no effects recorded" in runner.invoke(app, ["effects", "J1002"]).output
