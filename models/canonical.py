"""The canonical field-service model: what the FSM knows, independent of any vendor."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlmodel import Column, Field, SQLModel

from models.types import DecimalString, UTCDateTime


def _money(**kw: object) -> object:
    return Field(sa_column=Column(DecimalString(), nullable=False), **kw)


def _utc(nullable: bool = False) -> object:
    return Field(sa_column=Column(UTCDateTime(), nullable=nullable))


class JobStatus(StrEnum):
    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    CLOSED = "closed"


class EntryKind(StrEnum):
    WORK = "work"
    TRAVEL = "travel"
    BREAK = "break"  # a break whose kind the FSM does not know: classified by its length
    MEAL = "meal"
    REST = "rest"
    WAIT = "wait"  # waiting on duty (for parts, for the customer): "engaged to wait"
    ON_CALL = "on_call"


class Customer(SQLModel, table=True):
    id: str = Field(primary_key=True)
    name: str
    email: str | None = None
    phone: str | None = None
    bill_line1: str | None = None
    bill_city: str | None = None
    bill_state: str | None = None
    bill_postal_code: str | None = None

    def has_billing_data(self) -> bool:
        """Enough to create the customer in accounting when no accounting ref exists yet."""
        return bool(self.name and self.email and self.bill_line1 and self.bill_city and self.bill_postal_code)


class Site(SQLModel, table=True):
    id: str = Field(primary_key=True)
    customer_id: str = Field(foreign_key="customer.id", index=True)
    line1: str
    city: str
    state: str
    postal_code: str
    timezone: str = "America/Los_Angeles"


class Technician(SQLModel, table=True):
    id: str = Field(primary_key=True)
    name: str
    email: str
    timezone: str = "America/Los_Angeles"
    hourly_rate: Decimal = _money()  # what the technician is paid
    bill_rate: Decimal = _money()  # what an hour of their labour is billed at
    payroll_id: str | None = None  # the employee id in the payroll system
    hr_id: str | None = None


class PriceBookItem(SQLModel, table=True):
    sku: str = Field(primary_key=True)
    name: str
    unit_price: Decimal = _money()
    taxable: bool = True


class Job(SQLModel, table=True):
    id: str = Field(primary_key=True)
    customer_id: str = Field(foreign_key="customer.id", index=True)
    site_id: str = Field(foreign_key="site.id")
    status: JobStatus = JobStatus.SCHEDULED
    description: str
    resolution: str | None = None
    closed_at: datetime | None = _utc(nullable=True)


class JobTechnician(SQLModel, table=True):
    job_id: str = Field(foreign_key="job.id", primary_key=True)
    technician_id: str = Field(foreign_key="technician.id", primary_key=True)


class TimeEntry(SQLModel, table=True):
    id: str = Field(primary_key=True)
    job_id: str = Field(foreign_key="job.id", index=True)
    technician_id: str = Field(foreign_key="technician.id", index=True)
    kind: EntryKind
    start: datetime = _utc()
    end: datetime = _utc()
    billable: bool = True
    commute: bool = False  # home → first job / last job → home travel
    company_vehicle: bool = False  # travel in the employer's vehicle
    relieved: bool | None = None  # break, meal, wait, on call: completely relieved of duty (None: not recorded)


class PartUsage(SQLModel, table=True):
    id: str = Field(primary_key=True)
    job_id: str = Field(foreign_key="job.id", index=True)
    sku: str
    quantity: Decimal = _money()
    unit_price: Decimal = _money()


class Expense(SQLModel, table=True):
    id: str = Field(primary_key=True)
    job_id: str = Field(foreign_key="job.id", index=True)
    description: str
    amount: Decimal = _money()
    billable: bool = True


class Note(SQLModel, table=True):
    id: str = Field(primary_key=True)
    job_id: str = Field(foreign_key="job.id", index=True)
    technician_id: str = Field(foreign_key="technician.id")
    body: str
    created_at: datetime = _utc()
