"""The demo company: a 10-technician appliance-repair business, generated deterministically.

Same seed → same ids and values, so running the demo twice merges rather than duplicates.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pendulum
from sqlalchemy.engine import Engine
from sqlmodel import Session

from models.canonical import (
    Customer,
    EntryKind,
    Expense,
    Job,
    JobStatus,
    JobTechnician,
    Note,
    PartUsage,
    PriceBookItem,
    Site,
    Technician,
    TimeEntry,
)
from models.integration import ExternalRef

TZ = "America/Los_Angeles"
DEMO_DAY = date(2026, 11, 24)
_NS = uuid.UUID("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")

FIRST = ["Ana", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hugo", "Imani", "Jonah"]
LAST = ["Ortiz", "Nguyen", "Walsh", "Patel", "Rossi", "Haddad", "Kim", "Berg", "Okafor", "Levy"]
STREETS = ["Mission St", "Valencia St", "Irving St", "Geary Blvd", "Judah St", "Taraval St", "Clement St"]
CITIES = [("San Francisco", "94110"), ("Daly City", "94015"), ("Oakland", "94607"), ("San Mateo", "94401")]
APPLIANCES = ["dishwasher", "washer", "dryer", "refrigerator", "oven", "range hood", "ice maker", "garbage disposal"]
FAULTS = ["not draining", "leaking", "not heating", "making a grinding noise", "tripping the breaker", "not starting"]
PRICE_BOOK = [
    ("P-PUMP-01", "Drain pump assembly", "89.50"), ("P-BELT-02", "Drive belt", "24.99"),
    ("P-ELEM-03", "Heating element", "64.00"), ("P-THERM-04", "Thermostat", "42.75"),
    ("P-VALVE-05", "Water inlet valve", "38.20"), ("P-SEAL-06", "Door gasket", "55.00"),
    ("P-FUSE-07", "Thermal fuse", "12.49"), ("P-MOTOR-08", "Fan motor", "118.00"),
    ("P-BOARD-09", "Control board", "229.00"), ("P-HOSE-10", "Drain hose", "18.75"),
    ("P-IGN-11", "Oven igniter", "47.30"), ("P-SWITCH-12", "Door switch", "15.95"),
]


def default_id(kind: str, n: int) -> str:
    """Neutral demo ids; the demo asks the configured connectors for vendor-shaped ones instead."""
    return str(uuid.uuid5(_NS, f"employee:T{n:02d}")) if kind == "employee" else str(200 + n)


@dataclass(frozen=True)
class DemoCompany:
    technicians: list[Technician]
    customers: list[Customer]
    sites: list[Site]
    price_book: list[PriceBookItem]
    jobs: list[Job]
    job_technicians: list[JobTechnician]
    entries: list[TimeEntry]
    parts: list[PartUsage]
    expenses: list[Expense]
    notes: list[Note]
    accounting_customers: dict[str, str]  # customers that already exist in accounting: canonical → vendor id
    accounting_system: str | None = None  # whose ids those are (None: link none)


def default_hr_id(kind: str, n: int) -> str:
    """An HR employee id when no HR system is configured (the FSM's own numbering)."""
    return f"EMP-{100 + n}"


def generate(jobs: int = 30, seed: int = 1042, day: date = DEMO_DAY, *, accounting_system: str | None = None,
             vendor_id: Callable[[str, int], str] = default_id, payroll_id: Callable[[str, int], str] = default_id,
             hr_id: Callable[[str, int], str] | None = None) -> DemoCompany:
    """The company; `payroll_id` / `vendor_id` give employee and accounting-customer ids in the shape the
    configured payroll and accounting systems use (a Gusto uuid, a BambooHR number, a Xero ContactID)."""
    rng = random.Random(seed)
    techs = [
        Technician(id=f"T{n:02d}", name=f"{FIRST[n - 1]} {LAST[n - 1]}",
                   email=f"{FIRST[n - 1].lower()}@bayside.example",
                   timezone=TZ, hourly_rate=Decimal(rng.choice(["28.00", "32.50", "36.00", "41.25"])),
                   bill_rate=Decimal(rng.choice(["95.00", "110.00", "125.00", "145.00"])),
                   payroll_id=payroll_id("employee", n), hr_id=(hr_id or default_hr_id)("employee", n))
        for n in range(1, 11)
    ]
    customers, sites = [], []
    for n in range(1, 25):
        city, postal = rng.choice(CITIES)
        street = f"{rng.randint(100, 4999)} {rng.choice(STREETS)}"
        cust = Customer(id=f"C{n:03d}", name=f"{rng.choice(FIRST)} {rng.choice(LAST)} ({n:03d})",
                        email=f"customer{n:03d}@mail.example", phone=f"415-555-{n:04d}",
                        bill_line1=street, bill_city=city, bill_state="CA", bill_postal_code=postal)
        customers.append(cust)
        sites.append(Site(id=f"S{n:03d}", customer_id=cust.id, line1=street, city=city, state="CA",
                          postal_code=postal, timezone=TZ))
    book = [PriceBookItem(sku=s, name=n, unit_price=Decimal(p), taxable=True) for s, n, p in PRICE_BOOK]
    accounting_customers = {c.id: vendor_id("customer", i) for i, c in enumerate(customers) if i % 3 == 0}

    job_rows, links, entries, parts, expenses, notes = [], [], [], [], [], []
    tz = pendulum.timezone(TZ)
    clock = {t.id: pendulum.datetime(day.year, day.month, day.day, 7, 30, tz=tz) for t in techs}
    had_meal: set[tuple[str, date]] = set()
    for n in range(jobs):
        job_id = f"J{1001 + n}"
        tech = techs[n % len(techs)]
        if n // len(techs) >= 1 and n % 7 == 0:  # some long days: real overtime for the payroll rules
            clock[tech.id] = clock[tech.id].add(hours=2)
        if clock[tech.id].hour >= 18:  # end of the technician's day: next job tomorrow morning
            nxt = clock[tech.id].add(days=1)
            clock[tech.id] = pendulum.datetime(nxt.year, nxt.month, nxt.day, 7, 30, tz=tz)
        cust = customers[n % len(customers)]
        appliance, fault = rng.choice(APPLIANCES), rng.choice(FAULTS)
        travel_start = clock[tech.id]
        travel_end = travel_start.add(minutes=rng.choice([15, 20, 25, 35, 40]))
        work_end = travel_end.add(minutes=rng.choice([60, 90, 120, 150, 180, 240]))
        entries.append(TimeEntry(id=f"E{job_id}-1", job_id=job_id, technician_id=tech.id, kind=EntryKind.TRAVEL,
                                 start=travel_start, end=travel_end, billable=False, commute=(n < len(techs))))
        entries.append(TimeEntry(id=f"E{job_id}-2", job_id=job_id, technician_id=tech.id, kind=EntryKind.WORK,
                                 start=travel_end, end=work_end, billable=True))
        links.append(JobTechnician(job_id=job_id, technician_id=tech.id))
        pause_end = work_end
        if work_end.hour >= 12 and (tech.id, work_end.date()) not in had_meal:  # lunch after the morning's work
            pause_end = work_end.add(minutes=30)
            entries.append(TimeEntry(id=f"E{job_id}-meal", job_id=job_id, technician_id=tech.id, kind=EntryKind.MEAL,
                                     start=work_end, end=pause_end, billable=False))
            had_meal.add((tech.id, work_end.date()))
        elif n % 4 == 1:  # a short rest period: paid time (29 CFR 785.18, Wage Order 4 §12)
            pause_end = work_end.add(minutes=15)
            entries.append(TimeEntry(id=f"E{job_id}-rest", job_id=job_id, technician_id=tech.id, kind=EntryKind.REST,
                                     start=work_end, end=pause_end, billable=False))
        clock[tech.id] = pause_end.add(minutes=rng.choice([0, 10, 30]))
        for k in range(rng.choice([0, 1, 1, 2])):
            sku, _, price = rng.choice(PRICE_BOOK)
            parts.append(PartUsage(id=f"P{job_id}-{k + 1}", job_id=job_id, sku=sku,
                                   quantity=Decimal(rng.choice([1, 1, 2])), unit_price=Decimal(price)))
        if rng.random() < 0.3:
            expenses.append(Expense(id=f"X{job_id}-1", job_id=job_id, description="Parking",
                                    amount=Decimal(rng.choice(["6.00", "12.50", "18.00"]))))
        resolution = f"Replaced faulty component; {appliance} tested and working."
        notes.append(Note(id=f"N{job_id}-1", job_id=job_id, technician_id=tech.id, created_at=work_end,
                          body=f"{appliance.capitalize()} {fault}. {resolution} Customer signed off."))
        job_rows.append(Job(id=job_id, customer_id=cust.id, site_id=f"S{cust.id[1:]}", status=JobStatus.CLOSED,
                            description=f"{appliance.capitalize()} {fault}", resolution=resolution,
                            closed_at=pause_end.add(minutes=5)))
    return DemoCompany(techs, customers, sites, book, job_rows, links, entries, parts, expenses, notes,
                       accounting_customers, accounting_system)


def load_setup(company: DemoCompany, engine: Engine) -> None:
    """What a company configures once, before any job event arrives: the price book, and the id map of
    customers that already exist in accounting. Jobs, customers and technicians arrive in events."""
    with Session(engine) as s:
        for row in company.price_book:
            s.merge(row)
        _link_accounting_customers(s, company)
        s.commit()


def load(company: DemoCompany, engine: Engine) -> None:
    """Upsert the whole company into the FSM tables (merge by primary key: a rerun duplicates nothing).
    Tests and benchmarks use this shortcut; the demo sends the jobs through the ingress instead."""
    with Session(engine) as s:
        for group in (company.technicians, company.customers, company.sites, company.price_book, company.jobs):
            for row in group:
                s.merge(row)
        s.flush()
        for group in (company.job_technicians, company.entries, company.parts, company.expenses, company.notes):
            for row in group:
                s.merge(row)
        _link_accounting_customers(s, company)
        s.commit()


def _link_accounting_customers(s: Session, company: DemoCompany) -> None:
    system = company.accounting_system
    if system is None:
        return
    for cust_id, vendor_id in company.accounting_customers.items():
        exists = s.query(ExternalRef).filter_by(system=system, entity="customer", canonical_id=cust_id).first()
        if exists is None:
            s.add(ExternalRef(system=system, entity="customer", canonical_id=cust_id, vendor_id=vendor_id))
