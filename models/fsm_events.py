"""The open API's contract: events a field-service system sends to `POST /v1/events`.

An event is `{id, type, occurred_at, data}`; `data` is the whole job as the field-service system knows
it at `occurred_at`. These models are the single source of the published JSON Schema (docs/schemas/)
and of the ingress's 422 answers, so what is documented is exactly what is enforced.
"""

from __future__ import annotations

import functools
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any
from zoneinfo import available_timezones

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

#: identifiers are used as keys, in URLs and in idempotency keys: keep them plain
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")]
EventId = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=500)]
LongText = Annotated[str, StringConstraints(max_length=20_000)]
Money = Annotated[Decimal, Field(max_digits=14, decimal_places=2)]
UnitPrice = Annotated[Decimal, Field(max_digits=14, decimal_places=4)]
Quantity = Annotated[Decimal, Field(max_digits=12, decimal_places=3)]


class EventType(StrEnum):
    JOB_CLOSED = "job.closed"  # the technician closed the job: post it everywhere
    JOB_UPDATED = "job.updated"  # an edit after closing (late note, corrected entry, added part): converge
    JOB_REOPENED = "job.reopened"  # the job went back to work: nothing is posted until it closes again


#: event types after which the job is closed and `job_closed` runs
RUN_TYPES = frozenset({EventType.JOB_CLOSED, EventType.JOB_UPDATED})


class Strict(BaseModel):
    """Unknown fields are refused: a misspelt field would otherwise be silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


@functools.cache
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _check_timezone(value: str) -> str:
    """Membership in the IANA database, not a file lookup: garbage never reaches the file system."""
    if value not in _known_zones():
        shown = value if len(value) <= 60 else value[:60] + "…"
        raise ValueError(f"{shown!r} is not an IANA time zone such as 'America/Los_Angeles'")
    return value


class BillingAddress(Strict):
    line1: ShortText
    city: ShortText
    state: Annotated[str, StringConstraints(max_length=50)] | None = None
    postal_code: Annotated[str, StringConstraints(min_length=1, max_length=20)]


class CustomerIn(Strict):
    id: Identifier
    name: ShortText
    email: Annotated[str, StringConstraints(max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")] | None = None
    phone: Annotated[str, StringConstraints(max_length=40)] | None = None
    billing_address: BillingAddress | None = None


class SiteIn(Strict):
    id: Identifier
    line1: ShortText
    city: ShortText
    state: Annotated[str, StringConstraints(max_length=50)] = ""
    postal_code: Annotated[str, StringConstraints(min_length=1, max_length=20)]
    timezone: str = Field("America/Los_Angeles", description="IANA time zone of the site")

    _tz = field_validator("timezone")(_check_timezone)


class TechnicianIn(Strict):
    id: Identifier
    name: ShortText
    email: Annotated[str, StringConstraints(max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")]
    timezone: str | None = Field(None, description="IANA time zone; defaults to the company's")
    payroll_id: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = Field(
        None, description="The technician's employee id in the payroll system")
    hr_id: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None
    hourly_rate: Money | None = Field(None, ge=0, description="Pay rate; required the first time a technician is seen")
    bill_rate: Money | None = Field(None, ge=0, description="Billed labour rate; required the first time")

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str | None) -> str | None:
        return None if value is None else _check_timezone(value)


class EntryKindIn(StrEnum):
    WORK = "work"
    TRAVEL = "travel"
    BREAK = "break"  # kind unknown: a break of 20 min or less is a rest period, 30 min or more a meal period
    MEAL = "meal"
    REST = "rest"
    WAIT = "wait"  # waiting on duty, e.g. for parts at the customer's site
    ON_CALL = "on_call"


class TimeEntryIn(Strict):
    id: Identifier
    technician_id: Identifier
    kind: EntryKindIn
    start: AwareDatetime = Field(description="RFC 3339 with a UTC offset, e.g. 2026-11-24T08:05:00-08:00")
    end: AwareDatetime
    billable: bool = True
    commute: bool = Field(False, description="home → first job or last job → home travel")
    company_vehicle: bool = Field(False, description="travel in the employer's vehicle")
    relieved: bool | None = Field(None, description="break, meal, wait, on_call: was the technician completely "
                                  "relieved of duty? Omit when not recorded (the employee-protective reading applies)")

    @model_validator(mode="after")
    def _flags_fit_the_kind(self) -> TimeEntryIn:
        if (self.commute or self.company_vehicle) and self.kind is not EntryKindIn.TRAVEL:
            raise ValueError(f"commute: only travel entries can be a commute or in a company vehicle, not "
                             f"{self.kind.value}")
        if self.relieved is not None and self.kind.value not in ("break", "meal", "wait", "on_call"):
            raise ValueError(f"relieved: only break, meal, wait and on_call entries say it, not {self.kind.value}")
        return self


class PartIn(Strict):
    id: Identifier
    sku: Identifier
    quantity: Quantity
    unit_price: UnitPrice


class ExpenseIn(Strict):
    id: Identifier
    description: ShortText
    amount: Money
    billable: bool = True


class NoteIn(Strict):
    id: Identifier
    technician_id: Identifier
    body: LongText
    created_at: AwareDatetime


class JobIn(Strict):
    id: Identifier
    description: ShortText
    resolution: LongText | None = None
    closed_at: AwareDatetime | None = Field(None, description="Required for job.closed and job.updated")


class JobSnapshot(Strict):
    """The whole job: children missing from a newer snapshot are removed from fieldbridge's copy."""

    job: JobIn
    customer: CustomerIn
    site: SiteIn
    technicians: Annotated[list[TechnicianIn], Field(max_length=50)]
    time_entries: Annotated[list[TimeEntryIn], Field(max_length=1000)] = []
    parts: Annotated[list[PartIn], Field(max_length=1000)] = []
    expenses: Annotated[list[ExpenseIn], Field(max_length=500)] = []
    notes: Annotated[list[NoteIn], Field(max_length=500)] = []

    @model_validator(mode="after")
    def _references(self) -> JobSnapshot:
        techs = {t.id for t in self.technicians}
        problems = [f"time_entries[{n}].technician_id: {e.technician_id!r} is not in technicians"
                    for n, e in enumerate(self.time_entries) if e.technician_id not in techs]
        problems += [f"notes[{n}].technician_id: {x.technician_id!r} is not in technicians"
                     for n, x in enumerate(self.notes) if x.technician_id not in techs]
        for name, rows in (("technicians", self.technicians), ("time_entries", self.time_entries),
                           ("parts", self.parts), ("expenses", self.expenses), ("notes", self.notes)):
            seen: set[str] = set()
            for n, row in enumerate(rows):
                if row.id in seen:
                    problems.append(f"{name}[{n}].id: {row.id!r} appears twice")
                seen.add(row.id)
        if problems:
            raise ValueError("; ".join(problems))
        return self


class FieldEvent(Strict):
    """One delivery of the open API. `id` is the sender's event id: a redelivery carries the same id."""

    id: EventId = Field(description="Unique per event; redeliveries reuse it (deduplication key)")
    type: EventType
    occurred_at: AwareDatetime = Field(description="When the change happened in the field-service system; "
                                       "a snapshot older than the one stored never overwrites it")
    data: JobSnapshot

    @model_validator(mode="after")
    def _closed_jobs_have_a_close_time(self) -> FieldEvent:
        if self.type in RUN_TYPES and self.data.job.closed_at is None:
            raise ValueError(f"data.job.closed_at: required for {self.type.value} events")
        return self


def event_json_schema() -> dict[str, Any]:
    """The JSON Schema of an event (published as docs/schemas/event.schema.json)."""
    schema = FieldEvent.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "fieldbridge field-service event"
    return schema
