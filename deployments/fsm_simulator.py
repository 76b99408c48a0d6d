"""A simulated field-service system: turns the demo company's jobs into signed open-API events and posts them.

The demo, the tests and the latency benchmark use it, so they exercise the same path a real FSM does.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from connectors import signing
from deployments.demo_data import DemoCompany
from models.canonical import Job


def _ts(value: datetime) -> str:
    return value.isoformat()


def _money(value: Decimal) -> str:
    return str(value)


def snapshot(company: DemoCompany, job: Job) -> dict[str, Any]:
    """The whole job as the FSM knows it: the `data` of an event."""
    customer = next(c for c in company.customers if c.id == job.customer_id)
    site = next(s for s in company.sites if s.id == job.site_id)
    tech_ids = {link.technician_id for link in company.job_technicians if link.job_id == job.id}
    technicians = [t for t in company.technicians if t.id in tech_ids]
    billing = ({"line1": customer.bill_line1, "city": customer.bill_city, "state": customer.bill_state,
                "postal_code": customer.bill_postal_code} if customer.bill_line1 else None)
    return {
        "job": {"id": job.id, "description": job.description, "resolution": job.resolution,
                "closed_at": _ts(job.closed_at) if job.closed_at else None},
        "customer": {"id": customer.id, "name": customer.name, "email": customer.email, "phone": customer.phone,
                     "billing_address": billing},
        "site": {"id": site.id, "line1": site.line1, "city": site.city, "state": site.state,
                 "postal_code": site.postal_code, "timezone": site.timezone},
        "technicians": [{"id": t.id, "name": t.name, "email": t.email, "timezone": t.timezone,
                         "payroll_id": t.payroll_id, "hr_id": t.hr_id, "hourly_rate": _money(t.hourly_rate),
                         "bill_rate": _money(t.bill_rate)} for t in technicians],
        "time_entries": [{"id": e.id, "technician_id": e.technician_id, "kind": str(e.kind), "start": _ts(e.start),
                          "end": _ts(e.end), "billable": e.billable, "commute": e.commute,
                          **({"company_vehicle": True} if e.company_vehicle else {}),
                          **({"relieved": e.relieved} if e.relieved is not None else {})}
                         for e in company.entries if e.job_id == job.id],
        "parts": [{"id": p.id, "sku": p.sku, "quantity": _money(p.quantity), "unit_price": _money(p.unit_price)}
                  for p in company.parts if p.job_id == job.id],
        "expenses": [{"id": x.id, "description": x.description, "amount": _money(x.amount), "billable": x.billable}
                     for x in company.expenses if x.job_id == job.id],
        "notes": [{"id": n.id, "technician_id": n.technician_id, "body": n.body, "created_at": _ts(n.created_at)}
                  for n in company.notes if n.job_id == job.id],
    }


def event(company: DemoCompany, job: Job, event_type: str = "job.closed", *, event_id: str | None = None,
          occurred_at: datetime | None = None, data: dict[str, Any] | None = None) -> dict[str, Any]:
    occurred = occurred_at or job.closed_at
    assert occurred is not None
    return {"id": event_id or f"evt-{job.id}-{event_type.split('.')[1]}", "type": event_type,
            "occurred_at": _ts(occurred), "data": data or snapshot(company, job)}


def edited(company: DemoCompany, job: Job, n: int) -> dict[str, Any]:
    """A `job.updated` a dispatcher would send after closing: a late note, or a corrected travel time (the
    drive was logged 10 minutes too long). Neither changes what the customer was invoiced — invoices are
    sent on creation, so a billable change would (rightly) wait for finance's review."""
    data = snapshot(company, job)
    assert job.closed_at is not None
    if n % 2 == 0 and data["notes"]:
        first = data["notes"][0]
        data["notes"].append({"id": f"{first['id']}-late", "technician_id": first["technician_id"],
                              "body": "Follow-up: customer called, appliance still working fine.",
                              "created_at": _ts(job.closed_at + timedelta(minutes=20))})
    else:
        travel = next(e for e in data["time_entries"] if e["kind"] == "travel")
        travel["start"] = _ts(datetime.fromisoformat(travel["start"]) + timedelta(minutes=10))
    return event(company, job, "job.updated", event_id=f"evt-{job.id}-edit-{n}",
                 occurred_at=job.closed_at + timedelta(minutes=30), data=data)


def body_of(evt: dict[str, Any]) -> bytes:
    return json.dumps(evt, separators=(",", ":")).encode()


def post(client: httpx.Client, url: str, secrets: str | Sequence[str], evt: dict[str, Any],
         timestamp: int | None = None) -> httpx.Response:
    """Deliver one event the way an FSM does: raw JSON body, signed header."""
    raw = body_of(evt)
    headers = {"Content-Type": "application/json", signing.HEADER: signing.sign(raw, secrets, timestamp)}
    return client.post(f"{url.rstrip('/')}/v1/events", content=raw, headers=headers)
