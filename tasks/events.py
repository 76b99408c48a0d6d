"""Outbound events for custom systems: built from what each branch posted, delivered once per receiver.

Each event's id is derived from its type, job and content, so a rerun that posts nothing new sends
nothing new (the ledger has it DONE), a changed job sends a new event, and a retried delivery carries
the same id for the receiver to deduplicate.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime
from typing import Any

from connectors.contract import EventSink, OutboundEvent
from models.ledger import payload_hash
from models.outbound_events import (
    CaseResolvedData,
    HoursLoggedData,
    InvoiceCreatedData,
    JobClosedData,
    TimesheetLine,
)
from tasks.runtime import Runtime, get_runtime
from tasks.snapshot import load_job

log = logging.getLogger("fieldbridge.events")


def _event(kind: str, job_id: str, data: Any) -> OutboundEvent:
    body = data.model_dump(mode="json")
    return OutboundEvent(f"{kind}:{job_id}:{payload_hash(body)[:16]}", kind, datetime.now(UTC), body)


def build_events(rt: Runtime, job_id: str, results: dict[str, Any]) -> list[OutboundEvent]:
    """One event per branch that posted, and `job.closed` once all three did."""
    events = []
    if "crm" in results:
        crm = results["crm"]
        events.append(_event("case.resolved", job_id, CaseResolvedData(
            job_id=job_id, system=crm["system"], case_id=crm["ticket_id"],
            note_ids=[str(n) for n in crm["note_ids"]])))
    if "payroll" in results:
        payroll = results["payroll"]
        sheets = [TimesheetLine(technician_id=s["technician_id"], workday=s["workday"],
                                timesheet_id=s["timesheet_id"], regular=s["regular"], overtime=s["overtime"],
                                double_time=s["double_time"], travel=s["travel"],
                                paid_breaks=s.get("paid_breaks", "0.00")) for s in payroll["timesheets"]]
        events.append(_event("hours.logged", job_id, HoursLoggedData(job_id=job_id, system=payroll["system"],
                                                                     timesheets=sheets)))
    if "accounting" in results:
        acc = results["accounting"]
        events.append(_event("invoice.created", job_id, InvoiceCreatedData(
            job_id=job_id, system=acc["system"], invoice_id=acc["invoice_id"], number=acc.get("number"),
            total=acc["total"], currency=acc["currency"], sent_to=acc.get("sent_to"))))
    if {"crm", "payroll", "accounting"} <= results.keys():
        snap = load_job(job_id, rt.engine)
        assert snap.job.closed_at is not None
        events.append(_event("job.closed", job_id, JobClosedData(
            job_id=job_id, customer_id=snap.customer.id, closed_at=snap.job.closed_at,
            description=snap.job.description, resolution=snap.job.resolution)))
    return events


def deliver_events(job_id: str, results: dict[str, Any], rt: Runtime | None = None) -> dict[str, Any]:
    """Send every event to every receiver, each (receiver, event) exactly once through the ledger."""
    rt = rt or get_runtime()
    sink: EventSink | None = rt.events
    if sink is None:
        return {"delivered": []}
    delivered = []
    for event in build_events(rt, job_id, results):
        for target in sink.targets():
            digest = hashlib.sha256(target.encode()).hexdigest()[:10]
            outcome = rt.ledger.run(
                f"{sink.system}:{digest}:{event.id}", system=sink.system, kind="event", job_id=job_id,
                payload=event.data, lookup=lambda: None,  # the receiver deduplicates by the event id
                write=lambda _e, t=target, ev=event: sink.deliver(t, ev), summarize=lambda r: {"status": r.status})
            delivered.append({"event": event.id, "target": target, "written": outcome.written})
    return {"system": sink.system, "delivered": delivered}
