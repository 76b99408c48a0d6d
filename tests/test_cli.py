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
