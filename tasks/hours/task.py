"""Prefect task wrapper around compute_hours; the only module of the engine that imports Prefect."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.hours.engine import compute_hours
from tasks.hours.model import PayrollSettings, TechnicianHours, WorkInterval


@task(name="compute-hours", cache_policy=NO_CACHE)
def compute_hours_task(
    entries: list[WorkInterval],
    settings: PayrollSettings,
    hourly_rates: Mapping[str, Decimal] | None = None,
) -> dict[str, TechnicianHours]:
    """Run the pure engine as a task run, so the payroll flow shows it; no caching, it is cheap and exact."""
    return compute_hours(entries, settings, hourly_rates)
