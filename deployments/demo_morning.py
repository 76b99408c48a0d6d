"""The demo's morning: the day starts in the CRM and HR before any job closes (issue 9).

New cases logged in the CRM become jobs (`crm_intake`), the dispatcher books them for tomorrow (shown on the CRM
case), a sick day arrives from HR (`hr_availability`) and the visit it conflicts with goes to another technician,
and the evening's pre-visit briefs are published (`customer_context`). Safe to run again: the seed is written
once, intake keeps a cursor, a booked job is not booked twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pendulum
from rich.console import Console

from connectors.contract import DemoCase, DemoLeave
from deployments.demo_data import DemoCompany
from models.settings import FieldbridgeSettings


@dataclass(frozen=True)
class DemoMorning:
    day: date  # the day the new cases are booked for: tomorrow, company time
    cases: tuple[DemoCase, ...]
    leaves: tuple[DemoLeave, ...]
    bookings: tuple[tuple[str, str, int, int], ...]  # job id, technician, start hour, end hour


def plan(company: DemoCompany, settings: FieldbridgeSettings) -> DemoMorning:
    """Two new cases for tomorrow, booked with the first two technicians; the first one calls in sick."""
    day = pendulum.now(settings.company_timezone).date() + timedelta(days=1)
    cases = (
        DemoCase("demo-case-1", "Boiler service", "Annual service; the pilot light keeps going out",
                 "Dana Okafor", "dana.okafor@home.example", "12 Harbor Rd", "Sausalito", "CA", "94965",
                 preferences="Call 30 min ahead; dog in the yard", company="Okafor Holdings",
                 contract="Annual maintenance 2026", service_level="Gold (4 h response)"),
        DemoCase("demo-case-2", "Leak under the kitchen sink", "Water on the floor since last night",
                 "Sam Reyes", "sam.reyes@home.example", "48 Bridgeway", "Sausalito", "CA", "94965",
                 preferences="Side gate code 4411", company="Reyes Bakery", contract="Pay per visit",
                 service_level="Standard (next business day)"),
    )
    first, second = company.technicians[0], company.technicians[1]
    leaves = (DemoLeave("demo-leave-1", first.hr_id or "", day),) if first.hr_id else ()
    bookings = ((f"CRM-{cases[0].key}", first.id, 9, 11), (f"CRM-{cases[1].key}", second.id, 13, 15))
    return DemoMorning(day, cases, leaves, bookings)


def run(morning: DemoMorning, company: DemoCompany, console: Console) -> None:
    """The morning through the same flows and functions the deployments and the CLI use."""
    from flows.crm_intake import crm_intake
    from flows.customer_context import customer_context
    from flows.hr_availability import hr_availability
    from tasks.dispatch import DispatchRefused, assign, show_on_case
    from tasks.runtime import get_runtime

    rt = get_runtime()
    tz = ZoneInfo(rt.settings.company_timezone)
    _roster(rt.engine, company)
    intake = crm_intake()
    created = intake.get("created", [])
    console.print(f"  crm             {len(created)} new case(s) became jobs"
                  + (f" ({', '.join(created)})" if created else " (the cases of an earlier run are jobs already)"))
    booked = []
    for job_id, tech, start_hour, end_hour in morning.bookings:
        if _booked(rt.engine, job_id):
            continue
        start = datetime.combine(morning.day, datetime.min.time(), tz) + timedelta(hours=start_hour)
        try:
            visit = assign(rt.engine, job_id, tech, start, start + timedelta(hours=end_hour - start_hour),
                           workday_hours=rt.settings.workday_hours)
        except DispatchRefused as exc:
            console.print(f"  dispatch        {exc}")
            continue
        show_on_case(rt, visit)
        booked.append(f"{job_id} → {tech} {start_hour:02d}:00–{end_hour:02d}:00")
    if booked:
        console.print(f"  dispatch        {morning.day}: " + ", ".join(booked) + " (shown on the CRM cases)")
    hr = hr_availability()
    if not hr.get("synced"):
        console.print("  hr              no HR system configured: availability not synced")
    else:
        away = hr["added"] or ["no new time off"]
        console.print(f"  hr              {rt.settings.hr_system}: " + "; ".join(away))
        for conflict in hr["conflicts"]:
            moved = _reassign(rt, conflict["job"], conflict["technician"], company)
            console.print(f"  dispatch        {conflict['job']}: {conflict['technician']} {conflict['why']} → "
                          + (f"reassigned to {moved}" if moved else "nobody free: left for the dispatcher"))
    briefs = customer_context(day=morning.day.isoformat())
    example = briefs["technicians"][0] if briefs["technicians"] else "TECH"
    console.print(f"  briefs          {briefs['visits']} visit(s) on {morning.day}, {briefs['with_crm_context']} with "
                  f"the customer's CRM context: fieldbridge brief {example} --date {morning.day}")


def _roster(engine: Any, company: DemoCompany) -> None:
    """The technicians the dispatcher books (the field-service system's roster; their job events carry the same
    records later)."""
    from sqlmodel import Session

    with Session(engine) as s:
        for tech in company.technicians:
            s.merge(tech)
        s.commit()


def _booked(engine: Any, job_id: str) -> bool:
    from sqlmodel import Session, select

    from models.schedule import Visit, VisitStatus

    with Session(engine) as s:
        return s.exec(select(Visit).where(Visit.job_id == job_id, Visit.status == VisitStatus.SCHEDULED)).first() \
            is not None


def _reassign(rt: Any, job_id: str, technician: str, company: DemoCompany) -> str | None:
    """Move the visit to the first other technician who is free then (the dispatcher's first choice)."""
    from tasks.dispatch import DispatchRefused, assign, get_visit, show_on_case, unassign

    visit = get_visit(rt.engine, job_id, technician)
    for other in company.technicians:
        if other.id == technician:
            continue
        try:
            moved = assign(rt.engine, job_id, other.id, visit.start, visit.end,
                           workday_hours=rt.settings.workday_hours)
        except DispatchRefused:
            continue
        unassign(rt.engine, job_id, technician)
        show_on_case(rt, moved)
        return other.id
    return None
