"""The events fieldbridge sends to custom systems (signed webhooks out), in the open API's envelope
`{id, type, occurred_at, data}`. These models are the source of docs/schemas/outbound/."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid")


class JobClosedData(_Data):
    job_id: str
    customer_id: str
    closed_at: AwareDatetime
    description: str
    resolution: str | None = None


class CaseResolvedData(_Data):
    job_id: str
    system: str  # the CRM, e.g. "hubspot"
    case_id: str
    note_ids: list[str]


class TimesheetLine(_Data):
    technician_id: str
    workday: str
    timesheet_id: str
    regular: str  # hours as decimal strings, exact
    overtime: str
    double_time: str
    travel: str
    paid_breaks: str = "0.00"


class HoursLoggedData(_Data):
    job_id: str
    system: str
    timesheets: list[TimesheetLine]


class InvoiceCreatedData(_Data):
    job_id: str
    system: str
    invoice_id: str
    number: str | None
    total: str
    currency: str
    sent_to: str | None = None  # the address the invoice was emailed to, if it was


DATA_MODELS: dict[str, type[_Data]] = {"job.closed": JobClosedData, "case.resolved": CaseResolvedData,
                                       "hours.logged": HoursLoggedData, "invoice.created": InvoiceCreatedData}


def envelope_schema(event_type: str) -> dict[str, Any]:
    """JSON Schema of one outbound event type (envelope + data)."""
    data = DATA_MODELS[event_type].model_json_schema(ref_template="#/$defs/{model}")
    defs = data.pop("$defs", {})
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://fieldbridge.dev/schemas/outbound/{event_type.replace('.', '-')}.schema.json",
        "title": f"fieldbridge outbound event: {event_type}",
        "type": "object", "additionalProperties": False, "required": ["id", "type", "occurred_at", "data"],
        "properties": {
            "id": {"type": "string", "description": "stable for the same content: deduplicate on it"},
            "type": {"const": event_type},
            "occurred_at": {"type": "string", "format": "date-time"},
            "data": data,
        },
        "$defs": defs,
    }


EventType = Literal["job.closed", "case.resolved", "hours.logged", "invoice.created"]
