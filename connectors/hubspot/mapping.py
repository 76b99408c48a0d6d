"""Canonical ↔ HubSpot payloads. Pure functions, so they are tested without a network."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from connectors.contract.records import CaseNote, CaseResolution, CaseSummary, VendorRecord
from connectors.contract.times import parse_instant

JOB_ID_PROPERTY = "fieldbridge_job_id"
NOTE_KEY_PROPERTY = "fieldbridge_note_key"
NOTE_TO_TICKET_TYPE = 228


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


def epoch_ms(ts: datetime) -> int:
    """HubSpot's date filters take milliseconds since the epoch."""
    return int(ts.astimezone(UTC).timestamp() * 1000)


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
