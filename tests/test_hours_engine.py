"""Engine behaviour: DST, workday and workweek boundaries, hours-worked rules, validation, result shape."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tasks.hours import (
    HoursInputError,
    PayrollSettings,
    WorkdayHours,
    WorkInterval,
    compute_hours,
    parse_clock_time,
    parse_csv,
    parse_weekday,
    read_csv,
    read_csv_files,
)

LA = ZoneInfo("America/Los_Angeles")
DATA = Path(__file__).parent / "data" / "hours"


def entry(start: str, end: str, kind: str = "work", tech: str = "T1", commute: bool = False) -> WorkInterval:
    """Times are ISO strings with their own offsets, as in the CSV files."""
    return WorkInterval(tech, datetime.fromisoformat(start), datetime.fromisoformat(end), kind, commute)


def local(
    start: str, hours: float, kind: str = "work", tech: str = "T1", commute: bool = False
) -> WorkInterval:
    """``hours`` of real elapsed time from a Los Angeles wall-clock start."""
    begin = datetime.fromisoformat(start).replace(tzinfo=LA)
    end = (begin.astimezone(UTC) + timedelta(hours=hours)).astimezone(LA)
    return WorkInterval(tech, begin, end, kind, commute)


def table(result: dict, tech: str = "T1") -> dict[str, tuple[float, float, float]]:
    return {
        d.date.isoformat(): (float(d.regular), float(d.overtime), float(d.double_time))
        for d in result[tech].workdays
    }


# --- DST: elapsed time is real time ---------------------------------------------------------------
# DOL FLSA Hours Worked Advisor, "Daylight Savings Time": an 11 p.m.-7:30 a.m. shift with a 30-minute
# meal is 7 hours worked on the spring-forward night and 9 hours on the fall-back night.


@pytest.mark.parametrize(
    ("night", "first", "meal_at", "end", "worked"),
    [
        ("spring", "2026-03-07T23:00:00-08:00", "2026-03-08T03:00:00-07:00", "2026-03-08T07:30:00-07:00", 7),
        ("fall", "2026-10-31T23:00:00-07:00", "2026-11-01T03:00:00-08:00", "2026-11-01T07:30:00-08:00", 9),
    ],
)
def test_dol_dst_night_shift(night: str, first: str, meal_at: str, end: str, worked: float) -> None:
    meal_end = (datetime.fromisoformat(meal_at) + timedelta(minutes=30)).isoformat()
    shifts = [entry(first, meal_at), entry(meal_at, meal_end, "break"), entry(meal_end, end)]
    settings = PayrollSettings(workday_start=time(18, 0))  # the whole night in one workday
    [day] = compute_hours(shifts, settings)["T1"].workdays
    assert day.total == Decimal(worked), night
    assert day.regular_seconds == worked * 3600


def test_dst_nights_fixture_counts_7_and_9_hours() -> None:
    result = compute_hours(read_csv(DATA / "dst_nights.csv"), PayrollSettings(workday_start=time(18, 0)))
    assert [(d.date.isoformat(), float(d.total)) for d in result["N1"].workdays] == [
        ("2026-03-07", 7.0),
        ("2026-10-31", 9.0),
    ]


@pytest.mark.parametrize(
    ("day", "length"),
    [("2026-03-08", 23), ("2026-11-01", 25), ("2026-03-09", 24)],
)
def test_workday_across_dst_is_23_or_25_hours(day: str, length: int) -> None:
    """A California technician working the whole DST day: the workday holds 23 / 25 real hours."""
    start = datetime.fromisoformat(f"{day}T00:00").replace(tzinfo=LA)
    end = datetime.combine(start.date() + timedelta(days=1), time(0), LA)
    result = compute_hours([WorkInterval("T1", start, end, "work")], PayrollSettings(jurisdiction="US-CA"))
    [workday] = result["T1"].workdays
    assert workday.total_seconds == length * 3600
    assert (workday.regular, workday.overtime, workday.double_time) == (8, 4, length - 12)


def test_workday_start_07_00_across_spring_forward() -> None:
    """22:00 PST Saturday to 10:00 PDT Sunday is 11 real hours; the 07:00 PDT boundary cuts 8 + 3."""
    shift = entry("2026-03-07T22:00:00-08:00", "2026-03-08T10:00:00-07:00")
    settings = PayrollSettings(jurisdiction="US-CA", workday_start=time(7, 0))
    assert table(compute_hours([shift], settings)) == {"2026-03-07": (8, 0, 0), "2026-03-08": (3, 0, 0)}


def test_workday_start_in_the_dst_gap_resolves_to_the_later_instant() -> None:
    """02:30 does not exist on 2026-03-08 in Los Angeles; that workday begins at 03:30 PDT (pendulum)."""
    shift = entry("2026-03-08T03:00:00-07:00", "2026-03-08T04:00:00-07:00")
    result = compute_hours([shift], PayrollSettings(workday_start=time(2, 30)))
    assert [(d.date.isoformat(), d.total_seconds) for d in result["T1"].workdays] == [
        ("2026-03-07", 1800),
        ("2026-03-08", 1800),
    ]


def test_fall_back_shift_counts_repeated_hour_once_per_occurrence() -> None:
    """00:00 PDT to 03:00 PST on 2026-11-01 spans 4 real hours although the clock moved 3."""
    shift = entry("2026-11-01T00:00:00-07:00", "2026-11-01T03:00:00-08:00")
    [day] = compute_hours([shift], PayrollSettings())["T1"].workdays
    assert day.total_seconds == 4 * 3600


# --- workday and workweek boundaries ----------------------------------------------------------------


def test_shift_across_midnight_splits_into_two_workdays() -> None:
    result = compute_hours([local("2026-01-05 20:00", 10)], PayrollSettings(jurisdiction="US-CA"))
    assert table(result) == {"2026-01-05": (4, 0, 0), "2026-01-06": (6, 0, 0)}


def test_shift_across_07_00_workday_start() -> None:
    """03:00-15:00: with a 07:00 workday, 4 h belong to the previous workday and no daily OT is due."""
    shift = local("2026-01-06 03:00", 12)
    at_seven = compute_hours([shift], PayrollSettings(jurisdiction="US-CA", workday_start=time(7, 0)))
    assert table(at_seven) == {"2026-01-05": (4, 0, 0), "2026-01-06": (8, 0, 0)}
    at_midnight = compute_hours([shift], PayrollSettings(jurisdiction="US-CA"))
    assert table(at_midnight) == {"2026-01-06": (8, 4, 0)}


def test_workweek_starts_at_workday_start_on_the_configured_weekday() -> None:
    """Monday 07:00 workweeks: Monday 03:00 still belongs to the previous week (and its Sunday workday)."""
    settings = PayrollSettings(workday_start=time(7, 0), workweek_start=parse_weekday("mon"))
    result = compute_hours([local("2026-01-12 03:00", 2), local("2026-01-12 08:00", 2)], settings)["T1"]
    assert [(d.date, d.week_start) for d in result.workdays] == [
        (date(2026, 1, 11), date(2026, 1, 5)),
        (date(2026, 1, 12), date(2026, 1, 12)),
    ]
    assert [w.week_start for w in result.weeks] == [date(2026, 1, 5), date(2026, 1, 12)]


def test_flsa_overtime_lands_on_the_day_the_40th_hour_passes() -> None:
    shifts = [local(f"2026-01-0{d} 06:00", 11) for d in (5, 6, 7, 8)]
    assert table(compute_hours(shifts, PayrollSettings())) == {
        "2026-01-05": (11, 0, 0),
        "2026-01-06": (11, 0, 0),
        "2026-01-07": (11, 0, 0),
        "2026-01-08": (7, 4, 0),
    }


def test_nevada_workday_straddling_the_workweek_start_yields_one_row_per_week() -> None:
    shift = local("2026-01-10 20:00", 10)  # Saturday 20:00 -> Sunday 06:00, workweek starts Sunday 00:00
    result = compute_hours([shift], PayrollSettings(jurisdiction="US-NV"), {"T1": Decimal("15")})["T1"]
    rows = [(d.date, d.week_start, d.regular, d.overtime) for d in result.workdays]
    assert rows == [
        (date(2026, 1, 10), date(2026, 1, 4), 4, 0),
        (date(2026, 1, 10), date(2026, 1, 11), 4, 2),
    ]
    assert [(w.week_start, w.total) for w in result.weeks] == [(date(2026, 1, 4), 4), (date(2026, 1, 11), 6)]


def test_week_split_across_two_csv_files_is_computed_over_the_union() -> None:
    """Each file alone is under 40 hours; the workweek they share is 50, so 10 hours are overtime."""
    settings = PayrollSettings()
    part1 = compute_hours(read_csv(DATA / "week_part1.csv"), settings)["T3"].weeks
    part2 = compute_hours(read_csv(DATA / "week_part2.csv"), settings)["T3"].weeks
    assert [w.overtime for w in part1 + part2] == [0, 0]
    union = read_csv_files([DATA / "week_part1.csv", DATA / "week_part2.csv"])
    [week] = compute_hours(union, settings)["T3"].weeks
    assert (week.regular, week.overtime) == (40, 10)


def test_overlap_across_files_names_both_files(tmp_path: Path) -> None:
    extra = tmp_path / "extra.csv"
    extra.write_text(
        "technician_id,start,end,kind\nT3,2026-01-05T16:00:00-08:00,2026-01-05T18:00:00-08:00,work\n"
    )
    with pytest.raises(HoursInputError) as err:
        read_csv_files([DATA / "week_part1.csv", extra])
    [problem] = err.value.problems
    assert (problem.source, problem.line) == (str(extra), 2)
    assert "week_part1.csv line 2" in problem.message


# --- hours worked: travel, commute, meals ------------------------------------------------------------


def test_travel_between_job_sites_is_paid_and_reported() -> None:
    """29 CFR 785.38: travel from job site to job site during the workday is work."""
    shifts = [
        local("2026-01-05 08:00", 4),
        local("2026-01-05 12:00", 1, "travel"),
        local("2026-01-05 13:00", 4),
    ]
    [day] = compute_hours(shifts, PayrollSettings(jurisdiction="US-CA"))["T1"].workdays
    assert (day.regular, day.overtime, day.travel, day.travel_seconds) == (8, 1, 1, 3600)


@pytest.mark.parametrize(("paid_commute", "total"), [(False, 8), (True, 10)])
def test_commute_is_paid_only_when_configured(paid_commute: bool, total: int) -> None:
    """29 CFR 785.35: home-to-work travel is not work, unless company policy pays it."""
    shifts = [
        local("2026-01-05 07:00", 1, "travel", commute=True),
        local("2026-01-05 08:00", 8),
        local("2026-01-05 16:00", 1, "travel", commute=True),
    ]
    settings = PayrollSettings(paid_commute_travel=paid_commute)
    [day] = compute_hours(shifts, settings)["T1"].workdays
    assert (day.total, day.travel) == (total, total - 8)


@pytest.mark.parametrize(("minutes", "paid_meals", "total"), [
    (30, False, Decimal("8")),  # a bona fide meal period (29 CFR 785.19) is not worked
    (30, True, Decimal("8.5")),  # unless the company pays meal periods anyway
    (15, False, Decimal("8.25")),  # a short break is a rest period (785.18): paid, whatever the company says
])
def test_breaks_by_length(minutes: int, paid_meals: bool, total: Decimal) -> None:
    shifts = [
        local("2026-01-05 08:00", 4),
        local("2026-01-05 12:00", minutes / 60, "break"),
        local(f"2026-01-05 12:{minutes:02d}", 4),
    ]
    [day] = compute_hours(shifts, PayrollSettings(paid_meal_periods=paid_meals))["T1"].workdays
    assert day.total == total


def test_workdays_without_paid_time_are_omitted() -> None:
    result = compute_hours(
        [local("2026-01-05 12:00", 1, "break"), local("2026-01-06 07:00", 1, "travel", commute=True)],
        PayrollSettings(),
    )
    assert result["T1"].workdays == [] and result["T1"].weeks == []


def test_any_utc_offset_is_accepted() -> None:
    same = [
        entry("2026-01-05T16:00:00+00:00", "2026-01-06T02:00:00+00:00"),
        entry("2026-01-06T21:30:00+05:30", "2026-01-07T07:30:00+05:30"),
    ]
    assert table(compute_hours(same, PayrollSettings(jurisdiction="US-CA"))) == {
        "2026-01-05": (8, 2, 0),
        "2026-01-06": (8, 2, 0),
    }


# --- result shape ------------------------------------------------------------------------------------


def test_result_is_keyed_and_sorted_by_technician_and_date() -> None:
    shifts = [local("2026-01-07 08:00", 8, tech="B"), local("2026-01-06 08:00", 8, tech="A")]
    shifts.append(local("2026-01-05 08:00", 8, tech="B"))
    result = compute_hours(shifts, PayrollSettings())
    assert list(result) == ["A", "B"]
    assert [d.date.day for d in result["B"].workdays] == [5, 7]
    assert result["B"].technician_id == "B"


@pytest.mark.parametrize(
    ("seconds", "hours"),
    [(1200, "0.33"), (18, "0.01"), (17, "0.00"), (5400, "1.50"), (29_999, "8.33"), (0, "0.00")],
)
def test_hours_are_rounded_half_up_to_hundredths(seconds: int, hours: str) -> None:
    day = WorkdayHours(
        date=date(2026, 1, 5),
        week_start=date(2026, 1, 4),
        regular_seconds=seconds,
        overtime_seconds=0,
        double_time_seconds=0,
        travel_seconds=0,
    )
    assert day.regular == Decimal(hours) and str(day.regular) == hours


def test_total_is_rounded_from_exact_seconds() -> None:
    day = WorkdayHours(
        date=date(2026, 1, 5),
        week_start=date(2026, 1, 4),
        regular_seconds=18,
        overtime_seconds=18,
        double_time_seconds=0,
        travel_seconds=0,
    )
    assert (day.regular + day.overtime, day.total) == (Decimal("0.02"), Decimal("0.01"))


# --- validation ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "kind", "message"),
    [
        ("2026-01-05T08:00:00", "2026-01-05T09:00:00-08:00", "work", "start time has no UTC offset"),
        ("2026-01-05T08:00:00-08:00", "2026-01-05T08:00:00-08:00", "work", "end is not after start"),
        ("2026-01-05T09:00:00-08:00", "2026-01-05T08:00:00-08:00", "work", "end is not after start"),
        ("2026-01-05T08:00:00-08:00", "2026-01-05T09:00:00-08:00", "lunch", "unknown kind 'lunch'"),
    ],
)
def test_invalid_interval_is_rejected_on_construction(start: str, end: str, kind: str, message: str) -> None:
    with pytest.raises(HoursInputError, match=message):
        entry(start, end, kind)


def test_commute_flag_only_on_travel() -> None:
    with pytest.raises(HoursInputError, match="commute is only meaningful for travel"):
        local("2026-01-05 08:00", 1, "work", commute=True)


def test_overlapping_entries_of_one_technician_are_rejected() -> None:
    shifts = [
        local("2026-01-05 08:00", 4),
        local("2026-01-05 11:00", 2, "travel"),
        local("2026-01-05 08:00", 4, tech="B"),
    ]
    with pytest.raises(HoursInputError, match=r"entry #1 overlaps entry #0 \(technician T1\)") as err:
        compute_hours(shifts, PayrollSettings())
    assert len(err.value.problems) == 1


def test_touching_entries_are_not_overlaps() -> None:
    shifts = [local("2026-01-05 08:00", 4), local("2026-01-05 12:00", 4)]
    assert compute_hours(shifts, PayrollSettings())["T1"].weeks[0].total == 8


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (PayrollSettings(timezone="Mars/Olympus_Mons"), "unknown timezone 'Mars/Olympus_Mons'"),
        (PayrollSettings(jurisdiction="US-TX"), "unknown jurisdiction 'US-TX'"),
        (PayrollSettings(workweek_start=7), "workweek_start must be 0..6"),
        (PayrollSettings(workday_start=time(7, tzinfo=UTC)), "workday_start must be a naive"),
        (PayrollSettings(nv_minimum_wage=Decimal(0)), "nv_minimum_wage must be positive"),
    ],
)
def test_bad_settings_raise_before_computing(settings: PayrollSettings, message: str) -> None:
    with pytest.raises(HoursInputError, match=message):
        compute_hours([local("2026-01-05 08:00", 8)], settings)


@pytest.mark.parametrize(("text", "index"), [("sun", 6), ("Monday", 0), ("SAT", 5), ("3", 3), (2, 2)])
def test_parse_weekday(text: str | int, index: int) -> None:
    assert parse_weekday(text) == index


@pytest.mark.parametrize("bad", ["sunday-ish", "7", 9, ""])
def test_parse_weekday_rejects(bad: str | int) -> None:
    with pytest.raises(HoursInputError):
        parse_weekday(bad)


def test_parse_clock_time() -> None:
    assert parse_clock_time("07:00") == time(7, 0)
    for bad in ("25:00", "7am", "07:00+01:00"):
        with pytest.raises(HoursInputError):
            parse_clock_time(bad)


def test_csv_reports_every_bad_line_and_returns_nothing() -> None:
    with pytest.raises(HoursInputError) as err:
        read_csv(DATA / "invalid.csv")
    found = [(p.line, p.message.split(" ")[0]) for p in err.value.problems]
    assert found == [(3, "start"), (4, "start"), (5, "end"), (6, "unknown"), (8, "overlaps")]


def test_csv_header_commute_column_and_comments() -> None:
    text = (
        "\ufeffTechnician_ID,start,end,kind,commute,job\n"
        "# source: a comment line\n"
        "\n"
        "T1,2026-01-05T07:00:00-08:00,2026-01-05T08:00:00-08:00,travel,yes,J-1\n"
        "T1,2026-01-05T08:00:00Z,2026-01-05T09:00:00Z,WORK,,J-1\n"
    )
    first, second = parse_csv(text)
    assert first.commute and first.kind == "travel" and not second.commute and second.kind == "work"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tech,start,end,kind\n", "missing technician_id"),
        ("technician_id,start,end,kind\nT1,2026-01-05T07:00:00-08:00\n", "expected at least 4 columns"),
        (
            "technician_id,start,end,kind,commute\n"
            "T1,2026-01-05T07:00-08:00,2026-01-05T08:00-08:00,travel,maybe\n",
            "commute",
        ),
        (
            "technician_id,start,end,kind\n,2026-01-05T07:00-08:00,2026-01-05T08:00-08:00,work\n",
            "technician_id is empty",
        ),
        ("technician_id,start,end,kind\nT1,,2026-01-05T08:00-08:00,work\n", "start is empty"),
    ],
)
def test_csv_row_problems(text: str, message: str) -> None:
    with pytest.raises(HoursInputError, match=message):
        parse_csv(text, "inline.csv")


# --- Prefect wrapper ----------------------------------------------------------------------------------


def test_engine_import_does_not_pull_in_prefect() -> None:
    code = "import sys, tasks.hours, deployments.cli_hours; assert 'prefect' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parent.parent)


def test_task_wrapper_calls_the_engine() -> None:
    from tasks.hours.task import compute_hours_task  # imports Prefect: keep it local to this test

    shifts = [local("2026-01-05 07:00", 10)]
    settings = PayrollSettings(jurisdiction="US-CA")
    assert compute_hours_task.fn(shifts, settings) == compute_hours(shifts, settings)
    assert compute_hours_task.name == "compute-hours"
