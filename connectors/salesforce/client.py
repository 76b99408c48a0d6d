"""Salesforce as the CRM role: Cases upserted by the external id `FSM_Job_Id__c`, notes as CaseComments.

Calls go to the org's `instance_url`, learned from the token answer. The daily API quota
(`Sforce-Limit-Info: api-usage=used/limit`) is fed to the rate budget, which stops cleanly before the
org's allowance is gone; a 403 `REQUEST_LIMIT_EXCEEDED` does the same instead of retrying.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

from connectors.contract import (
    BatchResult,
    CaseNote,
    CaseResolution,
    CaseSummary,
    CaseVisit,
    CustomerContext,
    DataError,
    IntakeCase,
    JobReport,
    NoteRequest,
    UnknownOutcomeError,
    VendorRecord,
)
from connectors.http import HttpClient, OAuth2RefreshToken, RetryPolicy, budget_for, quota
from connectors.salesforce import mapping
from connectors.salesforce.errors import ERRORS, describe

_USAGE = re.compile(r"api-usage=(\d+)/(\d+)")


class SalesforceCRM:
    system = "salesforce"

    def __init__(
        self,
        login_url: str,
        auth: OAuth2RefreshToken,
        *,
        api_version: str = "60.0",
        job_id_field: str = "FSM_Job_Id__c",
        resolution_field: str = "Resolution__c",
        closed_status: str = "Closed",
        intake_field: str = "FSM_Needs_Visit__c",
        daily_reserve: int = 200,
        policy: RetryPolicy | None = None,
        timeout: float = 20.0,
        transport: httpx.BaseTransport | None = None,
        rate_limit: int | None = None,
    ) -> None:
        self.auth = auth
        self.api_version = api_version
        self.job_id_field = job_id_field
        self.resolution_field = resolution_field
        self.closed_status = closed_status
        self.intake_field = intake_field
        self.daily_reserve = daily_reserve
        # Salesforce's real limit is the org's daily quota (read from Sforce-Limit-Info); per second it sets
        # none, so the pace is ours: 50 a second unless the org's rate_limit (per second) says otherwise
        pace = quota(rate_limit, 1.0) if rate_limit else {"rate": 50, "per_seconds": 1.0}
        self.budget = budget_for(f"salesforce:{auth.client_id}:{login_url}", **pace, max_concurrent=20)
        self.http = HttpClient(self.system, login_url, auth=auth, budget=self.budget, policy=policy, timeout=timeout,
                               describe=describe, errors=ERRORS, transport=transport, observe=self._observe)

    # -- plumbing -------------------------------------------------------------------------------

    @property
    def instance_url(self) -> str:
        return self.auth.tokens().extra.get("instance_url") or str(self.http.base_url).rstrip("/")

    def _api(self, path: str) -> str:
        return f"{self.instance_url}/services/data/v{self.api_version}{path}"

    def _observe(self, response: httpx.Response) -> None:
        """Feed the org's daily quota to the rate budget (shared by every client of this org in the process)."""
        match = _USAGE.search(response.headers.get("Sforce-Limit-Info", ""))
        if match:
            self.budget.set_quota(int(match.group(1)), int(match.group(2)), self.daily_reserve, self.system)

    def _case_path(self, job_id: str) -> str:
        return f"/sobjects/Case/{self.job_id_field}/{quote(job_id, safe='')}"

    def query(self, soql: str) -> Iterator[dict[str, Any]]:
        """Every record of a SOQL query, following `nextRecordsUrl`."""
        for page in self.query_pages(soql):
            yield from page

    def query_pages(self, soql: str, batch_size: int | None = None) -> Iterator[list[dict[str, Any]]]:
        """A SOQL query page by page (`Sforce-Query-Options: batchSize` asks for 200–2,000 a page)."""
        headers = {"Sforce-Query-Options": f"batchSize={batch_size}"} if batch_size else None
        _, body = self.http.request("GET", self._api("/query"), params={"q": soql}, headers=headers)
        while True:
            yield body.get("records", [])
            if body.get("done", True) or not body.get("nextRecordsUrl"):
                return
            _, body = self.http.request("GET", f"{self.instance_url}{body['nextRecordsUrl']}", headers=headers)

    def list_cases(self, modified_since: datetime, batch_size: int = 200) -> Iterator[list[CaseSummary]]:
        """Cases changed since then (SOQL on `SystemModstamp`, which also moves on system changes)."""
        since = modified_since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        soql = (f"SELECT Id, {self.job_id_field}, IsClosed, SystemModstamp FROM Case "
                f"WHERE SystemModstamp >= {since} ORDER BY SystemModstamp")
        for page in self.query_pages(soql, batch_size):
            if page:
                yield [mapping.case_summary(r, self.job_id_field) for r in page]

    def list_intake_cases(self, modified_since: datetime, batch_size: int = 200) -> Iterator[list[IntakeCase]]:
        """Cases with the intake checkbox changed since then, oldest first; per page one more query reads
        their contacts (2 queries per 200 cases)."""
        since = modified_since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        soql = (f"SELECT Id, Subject, Description, IsClosed, ContactId, {self.job_id_field}, SystemModstamp "
                f"FROM Case WHERE {self.intake_field} = true AND SystemModstamp >= {since} ORDER BY SystemModstamp")
        for page in self.query_pages(soql, batch_size):
            if not page:
                continue
            ids = sorted({r["ContactId"] for r in page if r.get("ContactId")})
            contacts: dict[str, dict[str, Any]] = {}
            if ids:
                quoted = _quoted(ids)
                contacts = {r["Id"]: r for r in self.query(
                    "SELECT Id, FirstName, LastName, Email, Phone, MailingStreet, MailingCity, MailingState, "
                    f"MailingPostalCode FROM Contact WHERE Id IN ({quoted})")}
            yield [mapping.intake_case(r, self.job_id_field, contacts.get(r.get("ContactId") or "")) for r in page]

    def customer_contexts(self, contact_ids: Sequence[str], last_cases: int) -> dict[str, CustomerContext]:
        """Every contact's context in three queries for a day's customers: the Contacts (preferences, Account),
        their Accounts (service level, contract) and their Cases (open ones, the latest)."""
        ids = sorted(set(contact_ids))
        if not ids:
            return {}
        contacts = {r["Id"]: r for r in self.query(
            f"SELECT Id, FirstName, LastName, Email, AccountId, {mapping.PREFERENCES_FIELD} FROM Contact "
            f"WHERE Id IN ({_quoted(ids)})")}
        account_ids = sorted({str(c["AccountId"]) for c in contacts.values() if c.get("AccountId")})
        accounts = {r["Id"]: r for r in self.query(
            f"SELECT Id, Name, {mapping.SERVICE_LEVEL_FIELD}, {mapping.CONTRACT_FIELD} FROM Account "
            f"WHERE Id IN ({_quoted(account_ids)})")} if account_ids else {}
        cases: dict[str, list[dict[str, Any]]] = {}
        if contacts:
            for row in self.query(f"SELECT Id, Subject, IsClosed, LastModifiedDate, ContactId FROM Case "
                                  f"WHERE ContactId IN ({_quoted(sorted(contacts))})"):
                cases.setdefault(str(row["ContactId"]), []).append(row)
        return {cid: mapping.customer_context(contact, accounts.get(str(contact.get("AccountId") or "")),
                                              cases.get(cid, []), last_cases)
                for cid, contact in contacts.items()}

    def link_case(self, case_id: str, job_id: str) -> VendorRecord:
        """Stamp the job id on the Case (PATCH by Id: repeating it is harmless)."""
        self.http.request("PATCH", self._api(f"/sobjects/Case/{quote(case_id, safe='')}"),
                          json={self.job_id_field: job_id}, idempotent=True)
        return VendorRecord(id=case_id, raw={"Id": case_id, self.job_id_field: job_id})

    # -- the CRM role ---------------------------------------------------------------------------

    def resolve_case(self, case: CaseResolution) -> VendorRecord:
        """Upsert by external id with `updateOnly`: repeating it is harmless, and it never creates a Case."""
        try:
            _, body = self.http.request(
                "PATCH", self._api(self._case_path(case.job_id)), params={"updateOnly": "true"},
                json=mapping.resolution_fields(case, self.closed_status, self.resolution_field), idempotent=True)
        except DataError as exc:
            if exc.status == 404:
                raise DataError(self.system, f"no Salesforce Case has {self.job_id_field}={case.job_id}",
                                status=404) from exc
            if exc.status == 300:
                raise DataError(self.system, f"more than one Salesforce Case has {self.job_id_field}={case.job_id}: "
                                "merge them", status=300) from exc
            raise
        if isinstance(body, dict) and body.get("id"):
            return mapping.upsert_record(body)
        found = self.find_case(case.job_id)  # an API version that answers 204 says nothing: read the id
        if found is None:
            raise DataError(self.system, f"the Case for {case.job_id} vanished after its update")
        return found

    def schedule_case(self, visit: CaseVisit) -> VendorRecord:
        """Show the scheduled visit on the Case (upsert by external id with `updateOnly`: never creates one)."""
        try:
            _, body = self.http.request("PATCH", self._api(self._case_path(visit.job_id)),
                                        params={"updateOnly": "true"}, json=mapping.visit_fields(visit),
                                        idempotent=True)
        except DataError as exc:
            if exc.status == 404:
                raise DataError(self.system, f"no Salesforce Case has {self.job_id_field}={visit.job_id}",
                                status=404) from exc
            raise
        if isinstance(body, dict) and body.get("id"):
            return mapping.upsert_record(body)
        found = self.find_case(visit.job_id)
        if found is None:
            raise DataError(self.system, f"the Case for {visit.job_id} vanished after its update")
        return found

    def open_case(self, job_id: str, subject: str, content: str) -> VendorRecord:
        existing = self.find_case(job_id)
        if existing is not None:
            return existing
        _, body = self.http.request("PATCH", self._api(self._case_path(job_id)),
                                    json=mapping.new_case_fields(subject, content), idempotent=True)
        found = self.find_case(job_id)
        return found if found is not None else mapping.upsert_record(body)

    def find_case(self, job_id: str) -> VendorRecord | None:
        try:
            _, body = self.http.request("GET", self._api(self._case_path(job_id)))
        except DataError as exc:
            if exc.status == 404:
                return None
            if exc.status == 300:
                raise DataError(self.system, f"more than one Salesforce Case has {self.job_id_field}={job_id}",
                                status=300) from exc
            raise
        return mapping.case_record(body)

    def find_note(self, key: str, case_id: str | None = None) -> VendorRecord | None:
        """A CaseComment carries no external id: the Case's comments are read and the marker matched."""
        if case_id is None:
            return None
        soql = f"SELECT Id, ParentId, CommentBody FROM CaseComment WHERE ParentId = '{_soql_escape(case_id)}'"
        for row in self.query(soql):
            if mapping.note_key_of(row.get("CommentBody")) == key:
                return VendorRecord(id=str(row["Id"]), raw=row)
        return None

    def add_note(self, case_id: str, note: CaseNote, formatted: bool = False) -> VendorRecord:
        """Create a comment. Not idempotent by itself: a lost answer raises UnknownOutcomeError, and the
        ledger's lookup (`find_note`) decides before anything is written again. `formatted`: the body already
        ends in its marker line."""
        try:
            _, body = self.http.request("POST", self._api("/sobjects/CaseComment"), json={
                "ParentId": case_id, "CommentBody": note.body if formatted else mapping.comment_body(note),
                "IsPublished": False})
        except UnknownOutcomeError:
            found = self.find_note(note.key, case_id)
            if found is None:
                raise
            return found
        return VendorRecord(id=str(body["id"]), raw=body)

    def update_note(self, note_id: str, note: CaseNote) -> VendorRecord:
        self.http.request("PATCH", self._api(f"/sobjects/CaseComment/{quote(note_id, safe='')}"),
                          json={"CommentBody": mapping.comment_body(note)}, idempotent=True)
        return VendorRecord(id=note_id)

    # -- job reports on the customer's profile (ReportingCRM) --------------------------------------------------

    def find_report(self, key: str, case_id: str) -> VendorRecord | None:
        return self.find_note(key, case_id)

    def file_report(self, case_id: str, report: JobReport) -> VendorRecord:
        """A comment on the Case, then a completed activity (Task) on the Case's Account. Called only when no
        comment of this report exists — and the activity is written after the comment — so neither is there."""
        account_id = self._case_account(case_id)
        comment = self.add_note(case_id, CaseNote(report.key, mapping.report_comment(report), report.timestamp),
                                formatted=True)
        if account_id is None:
            return comment
        _, body = self.http.request("POST", self._api("/sobjects/Task"),
                                    json=mapping.report_activity(report, account_id))
        return VendorRecord(id=comment.id, raw={"task_id": str(body["id"]), "account_id": account_id})

    def update_report(self, existing: VendorRecord, case_id: str, report: JobReport) -> VendorRecord:
        """The comment rewritten and the Account activity brought in line (found by its subject; written when an
        earlier attempt stopped between the comment and the activity)."""
        self.http.request("PATCH", self._api(f"/sobjects/CaseComment/{quote(existing.id, safe='')}"),
                          json={"CommentBody": mapping.report_comment(report)}, idempotent=True)
        account_id = self._case_account(case_id)
        if account_id is None:
            return VendorRecord(id=existing.id)
        activity = mapping.report_activity(report, account_id)
        found = list(self.query(f"SELECT Id FROM Task WHERE WhatId = '{_soql_escape(account_id)}' "
                                f"AND Subject = '{_soql_escape(activity['Subject'])}'"))
        if found:
            task_id = str(found[0]["Id"])
            self.http.request("PATCH", self._api(f"/sobjects/Task/{quote(task_id, safe='')}"), json=activity,
                              idempotent=True)
        else:
            _, body = self.http.request("POST", self._api("/sobjects/Task"), json=activity)
            task_id = str(body["id"])
        return VendorRecord(id=existing.id, raw={"task_id": task_id, "account_id": account_id})

    def _case_account(self, case_id: str) -> str | None:
        rows = list(self.query(f"SELECT Id, AccountId FROM Case WHERE Id = '{_soql_escape(case_id)}'"))
        return str(rows[0]["AccountId"]) if rows and rows[0].get("AccountId") else None

    batch_limit = 200  # records per sObject Collections call

    def resolve_cases(self, cases: Sequence[CaseResolution]) -> list[BatchResult]:
        """Many Cases resolved with two calls: one SOQL query finds their Ids by the job id field, one sObject
        Collections update (allOrNone false) writes them. Never creates a Case (as `updateOnly` for one): a job
        without its Case, or with two, is that item's DataError."""
        if len(cases) > self.batch_limit:
            raise ValueError("sObject Collections take at most 200 records a call")
        quoted = _quoted([c.job_id for c in cases])
        ids: dict[str, list[str]] = {}
        for row in self.query(f"SELECT Id, {self.job_id_field} FROM Case WHERE {self.job_id_field} IN ({quoted})"):
            ids.setdefault(str(row.get(self.job_id_field)), []).append(str(row["Id"]))
        out: dict[str, BatchResult] = {}
        records = []
        for case in cases:
            found = ids.get(case.job_id, [])
            if len(found) != 1:
                out[case.job_id] = DataError(
                    self.system, f"no Salesforce Case has {self.job_id_field}={case.job_id}" if not found else
                    f"more than one Salesforce Case has {self.job_id_field}={case.job_id}: merge them",
                    status=404 if not found else 300)
                continue
            records.append((case, {"attributes": {"type": "Case"}, "Id": found[0],
                                   **mapping.resolution_fields(case, self.closed_status, self.resolution_field)}))
        if records:
            _, body = self.http.request("PATCH", self._api("/composite/sobjects"), idempotent=True,
                                        json={"allOrNone": False, "records": [r for _, r in records]})
            for (case, _), result in zip(records, body, strict=True):
                out[case.job_id] = self._collection_answer(case.job_id, result)
        return [out[c.job_id] for c in cases]

    def add_notes(self, notes: Sequence[NoteRequest]) -> list[BatchResult]:
        """Many CaseComments created in one sObject Collections call, each answered on its own. Not
        replay-safe: a lost answer raises UnknownOutcomeError and each note is looked up before a rewrite."""
        records = [{"attributes": {"type": "CaseComment"}, "ParentId": n.case_id,
                    "CommentBody": mapping.comment_body(n.note), "IsPublished": False} for n in notes]
        _, body = self.http.request("POST", self._api("/composite/sobjects"),
                                    json={"allOrNone": False, "records": records})
        return [self._collection_answer(n.note.key, result) for n, result in zip(notes, body, strict=True)]

    def _collection_answer(self, name: str, result: dict[str, Any]) -> BatchResult:
        if result.get("success"):
            return VendorRecord(id=str(result["id"]), raw=result)
        first = (result.get("errors") or [{}])[0]
        return DataError(self.system, f"{name}: {first.get('message', 'rejected')}",
                         vendor_code=first.get("statusCode"))

    def record_url(self, kind: str, vendor_id: str) -> str | None:
        objects = {"ticket": "Case", "note": "CaseComment"}
        return f"{self.instance_url}/lightning/r/{objects[kind]}/{vendor_id}/view" if kind in objects else None

    def close(self) -> None:
        self.http.close()


def _quoted(values: Sequence[str]) -> str:
    return ", ".join(f"'{_soql_escape(v)}'" for v in values)


def _soql_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")
