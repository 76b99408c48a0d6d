"""The reconciliation window: one local day of the company, as a half-open UTC interval."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import pendulum


@dataclass(frozen=True)
class Window:
    start: datetime  # UTC, inclusive
    end: datetime  # UTC, exclusive
    timezone: str
    label: str  # the local day, YYYY-MM-DD, or "start..end" for a custom window

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600

    def local_days(self) -> list[date]:
        """Every local date the window touches (payroll sheets are dated by local workday)."""
        first = pendulum.instance(self.start).in_timezone(self.timezone).date()
        last = pendulum.instance(self.end).subtract(microseconds=1).in_timezone(self.timezone).date()
        return [first.add(days=n) for n in range((last - first).days + 1)]


def day_window(day: date, timezone: str) -> Window:
    """Midnight to midnight in the company's time zone: 23 hours on the spring DST day, 25 in the autumn;
    a job closed at 23:30 local belongs to that day."""
    start = pendulum.datetime(day.year, day.month, day.day, tz=timezone)
    end = start.add(days=1)  # calendar arithmetic: the next local midnight, whatever the day's length
    return Window(start.in_timezone("UTC"), end.in_timezone("UTC"), timezone, day.isoformat())


def yesterday(timezone: str, now: datetime | None = None) -> Window:
    today = pendulum.instance(now).in_timezone(timezone) if now else pendulum.now(timezone)
    return day_window(today.subtract(days=1).date(), timezone)


def custom_window(start: datetime, end: datetime, timezone: str) -> Window:
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("window_start and window_end need a time zone (e.g. 2026-11-29T00:00:00-08:00)")
    if end <= start:
        raise ValueError(f"the window ends ({end.isoformat()}) before it starts ({start.isoformat()})")
    s, e = pendulum.instance(start).in_timezone("UTC"), pendulum.instance(end).in_timezone("UTC")
    return Window(s, e, timezone, f"{s.to_iso8601_string()}..{e.to_iso8601_string()}")
