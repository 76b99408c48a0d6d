"""Canonical ↔ Salesforce payloads. Pure functions.

Technician notes are CaseComments: the Case's native comment list (public or private), updatable, and
readable with SOQL. FeedItems exist only where Case Feed / Chatter is on. Neither takes a custom external
id, so each comment carries a marker line with fieldbridge's note key, which the lookup matches.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from connectors.contract import (
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

MARKER = "— fieldbridge note "
PREFERENCES_FIELD = "FSM_Preferences__c"  # Contact: how the customer wants the visit (custom field, docs/connectors.md)
SERVICE_LEVEL_FIELD = "FSM_Service_Level__c"  # Account: the contract's service level (custom field)
CONTRACT_FIELD = "FSM_Contract__c"  # Account: the service contract (custom field)


def resolution_fields(case: CaseResolution, closed_status: str, resolution_field: str) -> dict[str, Any]:
    return {"Status": closed_status, resolution_field: case.resolution[:32000]}


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def visit_fields(visit: CaseVisit) -> dict[str, Any]:
    """Custom Case fields for the scheduled visit (docs/connectors.md); null clears them on a cancellation."""
    stamp = _stamp
    out = {"FSM_Technician__c": visit.technician[:255] if visit.start else None,
           "FSM_Visit_Start__c": stamp(visit.start) if visit.start else None,
           "FSM_Visit_End__c": stamp(visit.end) if visit.end else None}
    if visit.owner_id and visit.start:
        out["OwnerId"] = visit.owner_id  # the technician's Salesforce user owns the case (a cancellation keeps it)
    return out


def intake_case(row: dict[str, Any], job_id_field: str, contact: dict[str, Any] | None) -> IntakeCase:
    who = None
    if contact is not None:
        name = " ".join(p for p in (contact.get("FirstName"), contact.get("LastName")) if p) or contact["Id"]
        who = IntakeContact(vendor_id=contact["Id"], name=name, email=contact.get("Email"), phone=contact.get("Phone"),
                            line1=contact.get("MailingStreet"), city=contact.get("MailingCity"),
                            state=contact.get("MailingState"), postal_code=contact.get("MailingPostalCode"))
    return IntakeCase(case_id=row["Id"], job_id=row.get(job_id_field) or None,
                      subject=row.get("Subject") or f"Case {row['Id']}", description=row.get("Description") or "",
                      open=not row.get("IsClosed"), modified_at=parse_instant(row["SystemModstamp"]), contact=who)


def customer_context(contact: dict[str, Any], account: dict[str, Any] | None, cases: list[dict[str, Any]],
                     last_cases: int) -> CustomerContext:
    """A Contact, its Account and its Cases as the pre-visit brief reads them; newest cases first."""
    name = " ".join(p for p in (contact.get("FirstName"), contact.get("LastName")) if p) or contact.get("Email") \
        or str(contact["Id"])
    briefs = sorted((CaseBrief(str(c["Id"]), c.get("Subject") or f"Case {c['Id']}", not c.get("IsClosed"),
                               parse_instant(c["LastModifiedDate"]) if c.get("LastModifiedDate") else None)
                     for c in cases), key=lambda b: b.modified_at or datetime.min.replace(tzinfo=UTC), reverse=True)
    account = account or {}
    return CustomerContext(contact_id=str(contact["Id"]), name=name, preferences=contact.get(PREFERENCES_FIELD),
                           company=account.get("Name"), service_level=account.get(SERVICE_LEVEL_FIELD),
                           contract=account.get(CONTRACT_FIELD), open_cases=tuple(b for b in briefs if b.open),
                           recent_cases=tuple(briefs[:last_cases]))


def new_case_fields(subject: str, content: str) -> dict[str, Any]:
    return {"Subject": subject[:255], "Description": content[:32000], "Status": "New", "Origin": "Field Service"}


def comment_body(note: CaseNote) -> str:
    return f"{note.body}\n\n{MARKER}{note.key}"[:4000]


def report_comment(report: JobReport) -> str:
    """The report as a Case comment (4,000 characters at most), ending in its key's marker line."""
    marker = f"\n\n{MARKER}{report.key}"
    return f"{report.title}\n\n{report.body}"[:4000 - len(marker)] + marker


def report_subject(report: JobReport) -> str:
    """The Account activity's subject: it carries the key, so the activity is found again (Subject filters in
    SOQL; a Task's Description does not)."""
    return f"{report.title} [{report.key}]"[:255]


def report_activity(report: JobReport, account_id: str) -> dict[str, Any]:
    """A completed Task logged on the Account: the visit in the customer's activity history."""
    return {"Subject": report_subject(report), "Description": report.body[:32000], "Status": "Completed",
            "ActivityDate": report.timestamp.astimezone(UTC).date().isoformat(), "WhatId": account_id,
            "TaskSubtype": "Task"}


def note_key_of(body: str | None) -> str | None:
    if not body or MARKER not in body:
        return None
    return body.rsplit(MARKER, 1)[1].strip()


def case_summary(doc: dict[str, Any], job_id_field: str) -> CaseSummary:
    return CaseSummary(id=str(doc["Id"]), job_id=doc.get(job_id_field) or None, resolved=bool(doc.get("IsClosed")),
                       modified_at=parse_instant(doc.get("SystemModstamp")))


def case_record(doc: dict[str, Any]) -> VendorRecord:
    closed = doc.get("IsClosed")
    return VendorRecord(id=str(doc["Id"]), status=None if closed is None else ("resolved" if closed else "open"),
                        raw=doc)


def upsert_record(body: dict[str, Any] | None, fallback_id: str | None = None) -> VendorRecord:
    """The answer to an upsert: 201/200 carry `{id, success, errors, created}`; an older 204 carries nothing."""
    return VendorRecord(id=str((body or {}).get("id") or fallback_id), raw=body or {})
