"""Canonical ↔ HubSpot payloads. Pure functions, so they are tested without a network."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from connectors.contract.errors import ConflictError, ConnectorError, DataError, TransientError
from connectors.contract.records import (
    CaseBrief,
    CaseNote,
    CaseResolution,
    CaseSummary,
    CaseVisit,
    CustomerContext,
    IntakeCase,
    IntakeContact,
    JobReport,
    VendorRecord,
)
from connectors.contract.times import parse_instant

JOB_ID_PROPERTY = "fieldbridge_job_id"
NOTE_KEY_PROPERTY = "fieldbridge_note_key"
NOTE_TO_TICKET_TYPE = 228
NOTE_TO_CONTACT_TYPE = 202  # HUBSPOT_DEFINED note → contact
NOTE_TO_COMPANY_TYPE = 190  # HUBSPOT_DEFINED note → company


def _iso_ms(ts: datetime) -> str:
    utc = ts.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def resolution_properties(case: CaseResolution, closed_stage: str) -> dict[str, Any]:
    """The ticket properties that mark a case resolved, with the technician's resolution text."""
    return {
        "properties": {
            "hs_pipeline_stage": closed_stage,
            "hs_resolution": "Resolved by field service",
            "fieldbridge_resolution": case.resolution,
            "closed_date": _iso_ms(case.closed_at),
        }
    }


def visit_properties(visit: CaseVisit) -> dict[str, Any]:
    """The ticket's scheduled-visit properties (custom properties the installer creates, docs/connectors.md);
    empty values clear them when the visit is cancelled."""
    props = {
        "fieldbridge_technician": visit.technician if visit.start else "",
        "fieldbridge_visit_start": _iso_ms(visit.start) if visit.start else "",
        "fieldbridge_visit_end": _iso_ms(visit.end) if visit.end else "",
    }
    if visit.owner_id and visit.start:
        props["hubspot_owner_id"] = visit.owner_id  # the technician's HubSpot user owns the ticket
    return {"properties": props}


def note_body(note: CaseNote, ticket_id: str) -> dict[str, Any]:
    """A note create request associated to the ticket (HubSpot-defined note→ticket association)."""
    return {
        "properties": {
            "hs_timestamp": _iso_ms(note.timestamp),
            "hs_note_body": note.body,
            NOTE_KEY_PROPERTY: note.key,
        },
        "associations": [
            {
                "to": {"id": ticket_id},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": NOTE_TO_TICKET_TYPE}],
            }
        ],
    }


def report_text(report: JobReport) -> str:
    return f"{report.title}\n\n{report.body}"


def report_body(report: JobReport, ticket_id: str, contact_ids: Sequence[str] = (),
                company_ids: Sequence[str] = ()) -> dict[str, Any]:
    """A job report as a note create request on the ticket and on the customer's contacts and companies (the
    records associated to the ticket), so it shows on every one of them."""
    targets = [(ticket_id, NOTE_TO_TICKET_TYPE)] + [(c, NOTE_TO_CONTACT_TYPE) for c in contact_ids] + \
        [(c, NOTE_TO_COMPANY_TYPE) for c in company_ids]
    return {
        "properties": {"hs_timestamp": _iso_ms(report.timestamp), "hs_note_body": report_text(report),
                       NOTE_KEY_PROPERTY: report.key},
        "associations": [{"to": {"id": to_id},
                          "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}]}
                         for to_id, type_id in targets],
    }


def associated_ids(obj: dict[str, Any], to_type: str) -> list[str]:
    """The ids a v3 object read with `associations=` lists for one object type."""
    found = ((obj.get("associations") or {}).get(to_type) or {}).get("results") or []
    return sorted({str(r["id"]) for r in found if isinstance(r, dict) and r.get("id") is not None})


def epoch_ms(ts: datetime) -> int:
    """HubSpot's date filters take milliseconds since the epoch."""
    return int(ts.astimezone(UTC).timestamp() * 1000)


INTAKE_PROPERTIES = ["subject", "content", "hs_pipeline", "hs_pipeline_stage", "hs_lastmodifieddate",
                     JOB_ID_PROPERTY]
CONTACT_PROPERTIES = ["email", "firstname", "lastname", "phone", "address", "city", "state", "zip"]


def intake_case(ticket: dict[str, Any], closed_stage: str, contact: dict[str, Any] | None) -> IntakeCase:
    props = ticket.get("properties") or {}
    modified = _parse_time(props.get("hs_lastmodifieddate") or ticket.get("updatedAt")) or datetime.now(UTC)
    who = None
    if contact is not None:
        c = contact.get("properties") or {}
        name = (" ".join(p for p in (c.get("firstname"), c.get("lastname")) if p) or c.get("email")
                or f"contact {contact['id']}")
        who = IntakeContact(vendor_id=str(contact["id"]), name=name, email=c.get("email") or None,
                            phone=c.get("phone") or None, line1=c.get("address") or None, city=c.get("city") or None,
                            state=c.get("state") or None, postal_code=c.get("zip") or None)
    return IntakeCase(case_id=str(ticket["id"]), job_id=props.get(JOB_ID_PROPERTY) or None,
                      subject=props.get("subject") or f"Ticket {ticket['id']}", description=props.get("content") or "",
                      open=props.get("hs_pipeline_stage") != closed_stage, modified_at=modified, contact=who)


def customer_context(contact: dict[str, Any], companies: list[dict[str, Any]], tickets: list[dict[str, Any]],
                     closed_stage: str, last_cases: int) -> CustomerContext:
    c = contact.get("properties") or {}
    name = " ".join(p for p in (c.get("firstname"), c.get("lastname")) if p) or c.get("email") or contact["id"]
    company = (companies[0].get("properties") or {}) if companies else {}
    cases = sorted((CaseBrief(str(t["id"]), (t.get("properties") or {}).get("subject") or f"Ticket {t['id']}",
                              (t.get("properties") or {}).get("hs_pipeline_stage") != closed_stage,
                              _parse_time((t.get("properties") or {}).get("hs_lastmodifieddate")))
                    for t in tickets), key=lambda b: b.modified_at or datetime.min.replace(tzinfo=UTC),
                   reverse=True)
    return CustomerContext(contact_id=str(contact["id"]), name=name, preferences=c.get("fieldbridge_preferences"),
                           company=company.get("name"), service_level=company.get("fieldbridge_service_level"),
                           contract=company.get("fieldbridge_contract"),
                           open_cases=tuple(b for b in cases if b.open), recent_cases=tuple(cases[:last_cases]))


def case_summary(body: dict[str, Any], closed_stage: str) -> CaseSummary:
    props = body.get("properties") or {}
    modified = props.get("hs_lastmodifieddate") or body.get("updatedAt")
    return CaseSummary(id=str(body["id"]), job_id=props.get(JOB_ID_PROPERTY) or None,
                       resolved=props.get("hs_pipeline_stage") == closed_stage,
                       modified_at=_parse_time(modified))


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    if str(value).isdigit():
        return datetime.fromtimestamp(int(value) / 1000, UTC)
    return parse_instant(value)


def record(body: dict[str, Any], closed_stage: str | None = None) -> VendorRecord:
    """A ticket or note; a ticket's status says whether it sits in the closed stage."""
    stage = (body.get("properties") or {}).get("hs_pipeline_stage")
    status = None if stage is None or closed_stage is None else ("resolved" if stage == closed_stage else "open")
    return VendorRecord(id=str(body["id"]), status=status, raw=body)


_EXISTING_ID = re.compile(r"Existing ID: (\d+)")


def existing_id_from_conflict(body: Any) -> str | None:
    """A 409 on a unique property names the object that already holds the value."""
    if not isinstance(body, dict):
        return None
    ids = (body.get("context") or {}).get("id")
    if ids:
        return str(ids[0])
    match = _EXISTING_ID.search(body.get("message", ""))
    return match.group(1) if match else None


def batch_answers(system: str, wanted: list[str], body: Any, key_property: str,
                  closed_stage: str | None = None) -> list[VendorRecord | ConnectorError]:
    """A batch create/update answer (200/201, or 207 with `errors`) in the order of the inputs. HubSpot does
    not promise the results' order, so each result is matched by its unique `key_property`; an input named in
    an error's `context.ids` gets that error; one named nowhere got no answer (transient: looked up later)."""
    results = body.get("results", []) if isinstance(body, dict) else []
    by_key = {str((r.get("properties") or {}).get(key_property)): r for r in results if isinstance(r, dict)}
    failed: dict[str, ConnectorError] = {}
    for error in (body.get("errors", []) if isinstance(body, dict) else []):
        category, message = error.get("category") or "", error.get("message") or "rejected"
        for value in (error.get("context") or {}).get("ids", []):
            if category == "OBJECT_NOT_FOUND":
                failed[str(value)] = DataError(system, f"no HubSpot record has {key_property}={value}", status=404)
            elif category == "CONFLICT":
                failed[str(value)] = ConflictError(system, message, status=409, vendor_code=category)
            else:
                failed[str(value)] = DataError(system, message, status=400, vendor_code=category or None)
    out: list[VendorRecord | ConnectorError] = []
    for value in wanted:
        if value in by_key:
            out.append(record(by_key[value], closed_stage))
        else:
            out.append(failed.get(value) or TransientError(system, f"the batch answer names no result for {value}"))
    return out
