"""HubSpot as the CRM role: resolve the ticket for a job, attach the technician's notes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from connectors.contract import (
    BatchResult,
    CaseNote,
    CaseResolution,
    CaseSummary,
    CaseVisit,
    ConflictError,
    CustomerContext,
    DataError,
    IntakeCase,
    JobReport,
    NoteRequest,
    ReportRequest,
    TransientError,
    UnknownOutcomeError,
    VendorError,
    VendorRecord,
)
from connectors.http import BearerToken, HttpClient, RetryPolicy, budget_for, quota
from connectors.hubspot import mapping


def describe(status: int, body: Any, headers: Mapping[str, str] | None = None) -> VendorError | None:
    """HubSpot v3 errors: `{status, message, correlationId, category}` (429s carry `errorType`)."""
    if status < 300 or not isinstance(body, dict):
        return None
    codes = tuple(c for c in (body.get("category"), body.get("errorType")) if c)
    return VendorError(body.get("message", ""), codes)


SEARCH_PAGE = 200  # the most the CRM search returns per page
SEARCH_CAP = 10_000  # the most one search query pages through
BATCH_READ = 100  # records per batch read (the contacts of one page of tickets)


#: requests per ten seconds (Professional/Enterprise apps; 100 on Free/Starter): the documented default quota
RATE_LIMIT = 190

class HubSpotCRM:
    """CRM role over HubSpot's v3 objects API. Tickets are addressed by the unique `fieldbridge_job_id`."""

    system = "hubspot"

    def __init__(
        self,
        base_url: str,
        token: SecretStr,
        *,
        closed_stage: str = "4",
        intake_pipeline: str = "0",
        account: str = "default",
        policy: RetryPolicy | None = None,
        timeout: float = 20.0,
        transport: httpx.BaseTransport | None = None,
        rate_limit: int | None = None,
    ) -> None:
        self.closed_stage, self.intake_pipeline = closed_stage, intake_pipeline
        self.search_page = SEARCH_PAGE  # tickets per search page when listing (tests shrink it to see paging)
        self.http = HttpClient(
            self.system,
            base_url,
            auth=BearerToken(token),
            budget=budget_for(f"hubspot:{account}:{base_url}", **quota(rate_limit or RATE_LIMIT, 10.0),
                              max_concurrent=10),
            policy=policy,
            timeout=timeout,
            describe=describe,
            transport=transport,
        )

    def resolve_case(self, case: CaseResolution) -> VendorRecord:
        """PATCH by unique property: setting the same properties twice is harmless, so it may retry."""
        try:
            _, body = self.http.request(
                "PATCH",
                f"/crm/v3/objects/tickets/{quote(case.job_id, safe='')}",
                params={"idProperty": mapping.JOB_ID_PROPERTY},
                json=mapping.resolution_properties(case, self.closed_stage),
                idempotent=True,
            )
        except DataError as exc:
            if exc.status == 404:
                raise DataError(
                    self.system, f"no HubSpot ticket has {mapping.JOB_ID_PROPERTY}={case.job_id}", status=404
                ) from exc
            raise
        return mapping.record(body, self.closed_stage)

    def schedule_case(self, visit: CaseVisit) -> VendorRecord:
        """Show the scheduled visit on the ticket (PATCH by the unique job id: repeating it is harmless)."""
        try:
            _, body = self.http.request(
                "PATCH", f"/crm/v3/objects/tickets/{quote(visit.job_id, safe='')}",
                params={"idProperty": mapping.JOB_ID_PROPERTY}, json=mapping.visit_properties(visit), idempotent=True)
        except DataError as exc:
            if exc.status == 404:
                raise DataError(self.system, f"no HubSpot ticket has {mapping.JOB_ID_PROPERTY}={visit.job_id}",
                                status=404) from exc
            raise
        return mapping.record(body, self.closed_stage)

    batch_limit = 100  # inputs per batch request: HubSpot's documented maximum

    def resolve_cases(self, cases: Sequence[CaseResolution]) -> list[BatchResult]:
        """Many tickets resolved in one request, each addressed by its unique job id. Repeating an update is
        harmless, so the request may retry; a ticket that does not exist comes back as that item's 404."""
        inputs = [{"id": c.job_id, "idProperty": mapping.JOB_ID_PROPERTY,
                   "properties": {**mapping.resolution_properties(c, self.closed_stage)["properties"],
                                  mapping.JOB_ID_PROPERTY: c.job_id}} for c in cases]
        _, body = self.http.request("POST", "/crm/v3/objects/tickets/batch/update", json={"inputs": inputs},
                                    idempotent=True)
        return mapping.batch_answers(self.system, [c.job_id for c in cases], body, mapping.JOB_ID_PROPERTY,
                                     self.closed_stage)

    def add_notes(self, notes: Sequence[NoteRequest]) -> list[BatchResult]:
        """Many notes created in one request. HubSpot refuses a batch create as a whole when one input is
        invalid (a note key that exists, a ticket that is gone): then every note is answered 'try one at a
        time', so only the bad one fails. Not replay-safe: a lost answer raises UnknownOutcomeError."""
        return self._create_notes([mapping.note_body(n.note, n.case_id) for n in notes], [n.note.key for n in notes])

    def _create_notes(self, inputs: list[dict[str, Any]], keys: list[str]) -> list[BatchResult]:
        """One batch create of notes, answered per key; refused as a whole → every note 'one at a time'."""
        try:
            _, body = self.http.request("POST", "/crm/v3/objects/notes/batch/create", json={"inputs": inputs})
        except DataError as exc:
            if len(inputs) == 1:
                raise
            return [TransientError(self.system, f"the batch was refused as a whole ({exc}); one at a time")
                    for _ in inputs]
        return mapping.batch_answers(self.system, keys, body, mapping.NOTE_KEY_PROPERTY)

    def open_case(self, job_id: str, subject: str, content: str) -> VendorRecord:
        """Create the CRM ticket a job comes from (used by intake and the demo); existing → returned."""
        props = {"subject": subject, "content": content, "hs_pipeline": "0", "hs_pipeline_stage": "1",
                 mapping.JOB_ID_PROPERTY: job_id}
        for _ in range(3):
            try:
                _, body = self.http.request("POST", "/crm/v3/objects/tickets", json={"properties": props})
                return mapping.record(body, self.closed_stage)
            except (ConflictError, UnknownOutcomeError) as exc:
                # the unique job id makes "did it land?" answerable: look before creating again
                found = self.find_case(job_id)
                if found is not None:
                    return found
                if isinstance(exc, ConflictError):
                    raise  # a conflict on some other unique value: a data error, not worth retrying
        raise UnknownOutcomeError(self.system, f"could not confirm the ticket for job {job_id}")

    def find_case(self, job_id: str) -> VendorRecord | None:
        found = self._get("tickets", job_id, mapping.JOB_ID_PROPERTY)
        return None if found is None else mapping.record(found.raw, self.closed_stage)

    def find_note(self, key: str, case_id: str | None = None) -> VendorRecord | None:
        """Notes carry the unique property `fieldbridge_note_key`: found directly, whatever the ticket."""
        return self._get("notes", key, mapping.NOTE_KEY_PROPERTY)

    def add_note(self, case_id: str, note: CaseNote) -> VendorRecord:
        """Create once: the note key is a unique property, so a duplicate create answers 409."""
        return self._create_note(mapping.note_body(note, case_id), note.key)

    def _create_note(self, request: dict[str, Any], key: str) -> VendorRecord:
        """One note created; a 409 on its unique key means it exists already: that note is adopted."""
        try:
            _, body = self.http.request("POST", "/crm/v3/objects/notes", json=request)
        except ConflictError:
            existing = self.find_note(key)
            if existing is None:
                raise
            return existing
        return mapping.record(body)

    def update_note(self, note_id: str, note: CaseNote) -> VendorRecord:
        """A technician edited the note after it was posted: the CRM shows the current text."""
        _, body = self.http.request(
            "PATCH", f"/crm/v3/objects/notes/{quote(note_id, safe='')}",
            json={"properties": mapping.note_body(note, "")["properties"]}, idempotent=True,
        )
        return mapping.record(body)

    # -- job reports on the customer's profile (ReportingCRM) --------------------------------------------------

    def find_report(self, key: str, case_id: str) -> VendorRecord | None:
        return self.find_note(key)

    def file_report(self, case_id: str, report: JobReport) -> VendorRecord:
        """One note on the ticket and on its contacts and companies: one read of the ticket's associations, one
        create. The report key is a unique property, so a repeated create answers 409 and is looked up."""
        contacts, companies = self._profile(case_id)
        return self._create_note(mapping.report_body(report, case_id, contacts, companies), report.key)

    def update_report(self, existing: VendorRecord, case_id: str, report: JobReport) -> VendorRecord:
        """The note's text rewritten; its associations stay (it is one record, shown on each of them)."""
        _, body = self.http.request(
            "PATCH", f"/crm/v3/objects/notes/{quote(existing.id, safe='')}",
            json={"properties": {"hs_note_body": mapping.report_text(report)}}, idempotent=True)
        return mapping.record(body)

    def file_reports(self, reports: Sequence[ReportRequest]) -> list[BatchResult]:
        """Many reports: the tickets' contacts and companies in two v4 batch reads, the notes in one batch create
        per 100 (refused as a whole → every report one at a time, as for notes)."""
        ids = sorted({r.case_id for r in reports})
        contacts = self._associated("tickets", "contacts", ids)
        companies = self._associated("tickets", "companies", ids)
        inputs = [mapping.report_body(r.report, r.case_id, contacts.get(r.case_id, []),
                                      companies.get(r.case_id, [])) for r in reports]
        return self._create_notes(inputs, [r.report.key for r in reports])

    def _profile(self, ticket_id: str) -> tuple[list[str], list[str]]:
        """The contacts and companies a ticket is associated to (one read)."""
        _, body = self.http.request("GET", f"/crm/v3/objects/tickets/{quote(ticket_id, safe='')}",
                                    params={"associations": "contacts,companies", "properties": "subject"})
        return mapping.associated_ids(body, "contacts"), mapping.associated_ids(body, "companies")

    def list_cases(self, modified_since: datetime) -> Iterator[list[CaseSummary]]:
        """CRM search on `hs_lastmodifieddate`, 200 a page, oldest first. One query stops at 10,000 results,
        so past that the search starts again from the last modification time seen (ids seen are skipped)."""
        since_ms, after, seen = mapping.epoch_ms(modified_since), None, set()
        while True:
            body = {"filterGroups": [{"filters": [{"propertyName": "hs_lastmodifieddate", "operator": "GTE",
                                                    "value": str(since_ms)}]}],
                    "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
                    "properties": [mapping.JOB_ID_PROPERTY, "hs_pipeline_stage", "hs_lastmodifieddate"],
                    "limit": self.search_page}
            if after is not None:
                body["after"] = after
            _, page = self.http.request("POST", "/crm/v3/objects/tickets/search", json=body, idempotent=True)
            rows = [r for r in page.get("results", []) if str(r["id"]) not in seen]
            seen.update(str(r["id"]) for r in rows)
            if rows:
                yield [mapping.case_summary(r, self.closed_stage) for r in rows]
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if after is None:
                return
            if int(after) + self.search_page > SEARCH_CAP:  # the next page would pass the cap: restart from here
                last = mapping.case_summary(page["results"][-1], self.closed_stage).modified_at
                if last is None or mapping.epoch_ms(last) == since_ms:
                    raise DataError(self.system, f"more than {SEARCH_CAP} tickets changed in one millisecond")
                since_ms, after = mapping.epoch_ms(last), None

    def list_intake_cases(self, modified_since: datetime) -> Iterator[list[IntakeCase]]:
        """Tickets of the intake pipeline changed since `modified_since`, oldest first, with their primary
        contact: per page one search, one batch read of the ticket→contact associations and one batch read
        of the contacts (3 calls per 100 tickets)."""
        since_ms, after = mapping.epoch_ms(modified_since), None
        while True:
            body = {"filterGroups": [{"filters": [
                        {"propertyName": "hs_pipeline", "operator": "EQ", "value": self.intake_pipeline},
                        {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": str(since_ms)}]}],
                    "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
                    "properties": mapping.INTAKE_PROPERTIES, "limit": min(self.search_page, BATCH_READ)}
            if after is not None:
                body["after"] = after
            _, page = self.http.request("POST", "/crm/v3/objects/tickets/search", json=body, idempotent=True)
            tickets = page.get("results", [])
            if tickets:
                yield self._with_contacts(tickets)
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if after is None:
                return
            if int(after) + self.search_page > SEARCH_CAP:  # as list_cases: restart the search past the cap
                since_ms, after = mapping.epoch_ms(mapping.intake_case(tickets[-1], self.closed_stage, None)
                                                   .modified_at), None

    def _with_contacts(self, tickets: list[dict[str, Any]]) -> list[IntakeCase]:
        ids = [{"id": str(t["id"])} for t in tickets]
        _, links = self.http.request("POST", "/crm/v4/associations/tickets/contacts/batch/read",
                                     json={"inputs": ids}, idempotent=True)
        first = {str(r["from"]["id"]): str(min(int(x["toObjectId"]) for x in r["to"]))
                 for r in links.get("results", []) if r.get("to")}
        contacts: dict[str, dict[str, Any]] = {}
        wanted = sorted(set(first.values()))
        if wanted:
            _, found = self.http.request("POST", "/crm/v3/objects/contacts/batch/read", json={
                "inputs": [{"id": c} for c in wanted], "properties": mapping.CONTACT_PROPERTIES}, idempotent=True)
            contacts = {str(c["id"]): c for c in found.get("results", [])}
        return [mapping.intake_case(t, self.closed_stage, contacts.get(first.get(str(t["id"]), "")))
                for t in tickets]

    def customer_contexts(self, contact_ids: Sequence[str], last_cases: int) -> dict[str, CustomerContext]:
        """Every contact's context with batch reads only: the contacts, their companies and their tickets —
        five calls for a day's customers (up to 100 of each), whatever their number."""
        ids = sorted(set(contact_ids))
        if not ids:
            return {}
        contacts = self._batch_read("contacts", ids, ["firstname", "lastname", "email", "fieldbridge_preferences"])
        companies_of = self._associated("contacts", "companies", list(contacts))
        tickets_of = self._associated("contacts", "tickets", list(contacts))
        companies = self._batch_read("companies", sorted({c for cs in companies_of.values() for c in cs}),
                                     ["name", "fieldbridge_service_level", "fieldbridge_contract"])
        tickets = self._batch_read("tickets", sorted({t for ts in tickets_of.values() for t in ts}),
                                   ["subject", "hs_pipeline_stage", "hs_lastmodifieddate"])
        return {cid: mapping.customer_context(contact, [companies[c] for c in companies_of.get(cid, [])
                                                        if c in companies],
                                              [tickets[t] for t in tickets_of.get(cid, []) if t in tickets],
                                              self.closed_stage, last_cases)
                for cid, contact in contacts.items()}

    def _batch_read(self, object_type: str, ids: list[str], properties: list[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), BATCH_READ):
            _, body = self.http.request("POST", f"/crm/v3/objects/{object_type}/batch/read", json={
                "inputs": [{"id": i} for i in ids[start:start + BATCH_READ]], "properties": properties},
                idempotent=True)
            found.update({str(r["id"]): r for r in body.get("results", [])})
        return found

    def _associated(self, from_type: str, to_type: str, ids: list[str]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for start in range(0, len(ids), 1000):  # the v4 batch read takes 1,000 inputs
            _, body = self.http.request("POST", f"/crm/v4/associations/{from_type}/{to_type}/batch/read",
                                        json={"inputs": [{"id": i} for i in ids[start:start + 1000]]},
                                        idempotent=True)
            for r in body.get("results", []):
                out[str(r["from"]["id"])] = [str(x["toObjectId"]) for x in r.get("to", [])]
        return out

    def link_case(self, case_id: str, job_id: str) -> VendorRecord:
        """Stamp the job id on the ticket (PATCH by HubSpot id: repeating it is harmless)."""
        _, body = self.http.request("PATCH", f"/crm/v3/objects/tickets/{quote(case_id, safe='')}",
                                    json={"properties": {mapping.JOB_ID_PROPERTY: job_id}}, idempotent=True)
        return mapping.record(body, self.closed_stage)

    def note_ids_for_ticket(self, ticket_id: str) -> list[str]:
        _, body = self.http.request("GET", f"/crm/v4/objects/tickets/{ticket_id}/associations/notes")
        return [str(r["toObjectId"]) for r in body.get("results", [])]

    def _get(self, object_type: str, value: str, id_property: str) -> VendorRecord | None:
        try:
            _, body = self.http.request(
                "GET", f"/crm/v3/objects/{object_type}/{quote(value, safe='')}", params={"idProperty": id_property}
            )
        except DataError as exc:
            if exc.status == 404:
                return None
            raise
        return mapping.record(body)

    def record_url(self, kind: str, vendor_id: str) -> str | None:
        """The record in the API (HubSpot's app URL needs the portal id, which a private-app token hides)."""
        objects = {"ticket": "tickets", "note": "notes"}.get(kind)
        base = str(self.http.base_url).rstrip("/")
        return f"{base}/crm/v3/objects/{objects}/{quote(vendor_id, safe='')}" if objects else None

    def close(self) -> None:
        self.http.close()
