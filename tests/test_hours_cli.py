"""``fieldbridge hours``: output shapes, and refusal (exit 2, nothing on stdout) for any bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from deployments.cli_hours import EXIT_INPUT_ERROR, hours_command

DATA = Path(__file__).parent / "data" / "hours"
app = typer.Typer()
app.command("hours")(hours_command)


@app.command("version")
def _version() -> None:
    """A second command, so that ``hours`` is addressed by name as in the real CLI."""


runner = CliRunner()


def run(*args: str | Path) -> tuple[int, str, str]:
    result = runner.invoke(app, ["hours", *map(str, args)])
    return result.exit_code, result.stdout, result.stderr


def test_json_output_for_a_california_seven_day_week() -> None:
    code, out, err = run(DATA / "ca_week.csv", "--jurisdiction", "US-CA", "--json")
    assert (code, err) == (0, "")
    technicians = json.loads(out)["technicians"]
    assert [t["technician_id"] for t in technicians] == ["T1", "T2"]
    t1 = technicians[0]
    assert [d["date"] for d in t1["workdays"]] == [f"2026-01-{d:02d}" for d in range(4, 11)]
    assert t1["workdays"][0] == {
        "date": "2026-01-04",
        "week_start": "2026-01-04",
        "regular": 8.0,
        "overtime": 2.0,
        "double_time": 0.0,
        "travel": 0.0,
        "paid_breaks": 0.0,
        "paid_gaps": 0.0,
        "paid_standby": 0.0,
        "unpaid": 0.0,
        "total": 10.0,
        "notes": [],
    }
    # Cal. Labor Code 510(a): the seventh consecutive day, 14 hours -> 8 at 1.5x, 6 at 2x
    assert (t1["workdays"][-1]["overtime"], t1["workdays"][-1]["double_time"]) == (8.0, 6.0)
    assert t1["week_totals"] == [
        {
            "week_start": "2026-01-04",
            "regular": 40.0,
            "overtime": 28.0,
            "double_time": 6.0,
            "travel": 0.0,
            "paid_breaks": 0.0,
            "paid_gaps": 0.0,
            "paid_standby": 0.0,
            "unpaid": 0.0,
            "total": 74.0,
        }
    ]
    assert technicians[1]["week_totals"][0]["regular"] == 40.0


def test_json_hours_are_numbers() -> None:
    _, out, _ = run(DATA / "dst_nights.csv", "--workday-start", "18:00", "--json")
    workdays = json.loads(out)["technicians"][0]["workdays"]
    assert [(d["date"], d["total"]) for d in workdays] == [("2026-03-07", 7.0), ("2026-10-31", 9.0)]
    assert all(isinstance(d["regular"], float) for d in workdays)


def test_flsa_default_and_options() -> None:
    code, out, _ = run(DATA / "ca_week.csv", "--json", "--workweek-start", "mon", "--tz", "America/Denver")
    assert code == 0
    t1 = json.loads(out)["technicians"][0]
    assert [w["week_start"] for w in t1["week_totals"]] == ["2025-12-29", "2026-01-05"]
    assert all(w["double_time"] == 0.0 for w in t1["week_totals"])


def test_table_output() -> None:
    code, out, err = run(DATA / "ca_week.csv", "--jurisdiction", "US-CA")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].startswith("US-CA, America/Los_Angeles")
    assert any(
        line.split()[:2] == ["Sat", "2026-01-10"]
        and line.split()[2:] == ["0.00", "8.00", "6.00", "0.00", "0.00", "14.00"]
        for line in lines
    )
    assert any(
        line.split() == ["week", "2026-01-04", "40.00", "28.00", "6.00", "0.00", "0.00", "74.00"] for line in lines
    )


def test_invalid_rows_are_reported_with_line_numbers_and_nothing_is_printed() -> None:
    code, out, err = run(DATA / "invalid.csv", "--json")
    assert code == EXIT_INPUT_ERROR == 2
    assert out == ""
    for line, text in [
        (3, "no UTC offset"),
        (4, "not an ISO 8601 time"),
        (5, "end is not after start"),
        (6, "unknown kind 'lunch'"),
        (8, "overlaps line 7"),
    ]:
        assert f"invalid.csv:{line}: " in err and text in err
    assert "5 problem(s)" in err


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--jurisdiction", "US-TX", "unknown jurisdiction 'US-TX'"),
        ("--tz", "Pacific/Atlantis", "unknown timezone 'Pacific/Atlantis'"),
        ("--workday-start", "7 in the morning", "bad time of day"),
        ("--workday-start", "24:00", "bad time of day"),
        ("--workweek-start", "funday", "unknown weekday 'funday'"),
    ],
)
def test_bad_options_exit_2_without_output(option: str, value: str, message: str) -> None:
    code, out, err = run(DATA / "ca_week.csv", option, value)
    assert (code, out) == (2, "")
    assert message in err


def test_bad_options_and_bad_rows_are_all_reported() -> None:
    code, out, err = run(DATA / "invalid.csv", "--jurisdiction", "XX", "--workweek-start", "8")
    assert (code, out) == (2, "")
    assert "unknown jurisdiction" in err and "unknown weekday" in err and "invalid.csv:8:" in err


def test_missing_file(tmp_path: Path) -> None:
    code, out, err = run(tmp_path / "nope.csv")
    assert (code, out) == (2, "")
    assert "cannot read file" in err


def test_empty_file_needs_a_header(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    code, out, err = run(empty)
    assert (code, out) == (2, "")
    assert "empty.csv:1: header must name technician_id,start,end,kind" in err


def test_header_only_file_prints_no_technicians(tmp_path: Path) -> None:
    header = tmp_path / "header.csv"
    header.write_text("technician_id,start,end,kind\n")
    code, out, _ = run(header, "--json")
    assert (code, json.loads(out)) == (0, {"technicians": []})


def test_the_preview_shows_paid_breaks_and_why(tmp_path: Path) -> None:
    csv_file = tmp_path / "day.csv"
    csv_file.write_text(
        "technician_id,start,end,kind,commute,relieved\n"
        "T1,2026-01-05T07:30:00-08:00,2026-01-05T08:00:00-08:00,travel,true,\n"
        "T1,2026-01-05T08:00:00-08:00,2026-01-05T12:00:00-08:00,work,,\n"
        "T1,2026-01-05T12:00:00-08:00,2026-01-05T12:30:00-08:00,meal,,true\n"
        "T1,2026-01-05T12:30:00-08:00,2026-01-05T14:30:00-08:00,work,,\n"
        "T1,2026-01-05T14:30:00-08:00,2026-01-05T14:45:00-08:00,break,,\n"
        "T1,2026-01-05T14:45:00-08:00,2026-01-05T16:45:00-08:00,work,,\n")
    code, out, err = run(csv_file, "--jurisdiction", "US-CA")
    assert (code, err) == (0, "")
    assert any(line.split()[:8] == ["Mon", "2026-01-05", "8.00", "0.25", "0.00", "0.00", "0.25", "8.25"]
               for line in out.splitlines()), out
    assert "14:30–14:45 break 15 min: paid — a break of 20 minutes or less is a rest period" in out
    assert "[IWC Wage Order 4 (8 CCR 11040) §12(A)]" in out
    assert "12:00–12:30 meal period 30 min: not paid" in out and "07:30–08:00 travel 30 min: not paid" in out
    code, out, _ = run(csv_file, "--jurisdiction", "US-CA", "--json")
    [day] = json.loads(out)["technicians"][0]["workdays"]
    assert (day["paid_breaks"], day["unpaid"], day["total"]) == (0.25, 1.0, 8.25) and len(day["notes"]) == 3
