"""Salesforce CRM connector over the wire against its sandbox: upserts by external id, comments found by
marker, SOQL paging, collections, OAuth rotation and JWT bearer, the daily quota, error arrays."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from connectors.contract import (
    CRM,
    CaseNote,
    CaseResolution,
    ConfigError,
    DataError,
    NoteRequest,
    QuotaExhausted,
    is_retryable,
)
from connectors.emulator import FaultConfig, SandboxServer
from connectors.http import FileTokenStore, RetryPolicy
from connectors.http.auth import JwtBearer, OAuth2RefreshToken
from connectors.salesforce import sandbox as sf_sandbox
from connectors.salesforce.client import SalesforceCRM
from tests.sandbox_handles import SandboxHandle

CLIENT_ID, SECRET, RT = "test-consumer", "test-consumer-secret", "5Aep-test-initial"
POLICY = RetryPolicy(max_attempts=4, base_seconds=0.01, cap_seconds=0.05)
CLOSED_AT = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)
_n = itertools.count(1)


@dataclass
class SfSandbox(SandboxHandle):
    tokens: Path
    clients: list[SalesforceCRM] = field(default_factory=list)

    def client(self, token_file: str = "sf.json", reserve: int = 0) -> SalesforceCRM:
        auth = OAuth2RefreshToken(f"{self.url}/services/oauth2/token", CLIENT_ID, SecretStr(SECRET),
                                  FileTokenStore(self.tokens / token_file), SecretStr(RT), client_auth="body",
                                  keep=("instance_url",))
        crm = SalesforceCRM(self.url, auth, daily_reserve=reserve, policy=POLICY)
        self.clients.append(crm)
        return crm


def _make(tmp_path: Path, **kw: object) -> tuple[SandboxServer, object]:
    box = sf_sandbox.create_app(CLIENT_ID, SECRET, RT, FaultConfig(seed=next(_n)), **kw)  # type: ignore[arg-type]
    return SandboxServer(box.asgi()).start(), box


@pytest.fixture
def sf(tmp_path: Path) -> Iterator[SfSandbox]:
    server, box = _make(tmp_path)
    handle = SfSandbox(box, server, tmp_path)  # type: ignore[arg-type]
    yield handle
    for c in handle.clients:
        c.close()
    server.stop()


def test_implements_the_crm_role(sf: SfSandbox) -> None:
    assert isinstance(sf.client(), CRM)


def test_open_resolve_and_find_a_case_by_its_external_id(sf: SfSandbox) -> None:
    crm = sf.client()
    opened = crm.open_case("J1001", "Dryer not draining", "Job J1001")
    assert crm.open_case("J1001", "again", "") .id == opened.id  # idempotent by external id
    resolved = crm.resolve_case(CaseResolution("J1001", "Replaced the pump", CLOSED_AT))
    assert resolved.id == opened.id
    [case] = sf.state("Case")
    assert (case["Status"], case["IsClosed"], case["Resolution__c"]) == ("Closed", True, "Replaced the pump")
    assert crm.find_case("J1001").status == "resolved" and crm.find_case("nope") is None


def test_a_scheduled_visit_shows_on_the_case_and_a_cancellation_clears_it(sf: SfSandbox) -> None:
    from connectors.contract import CaseVisit, SchedulingCRM

    crm = sf.client()
    assert isinstance(crm, SchedulingCRM)
    opened = crm.open_case("J1001", "Dryer not draining", "Job J1001")
    start = datetime(2026, 12, 2, 17, 0, tzinfo=UTC)
    assert crm.schedule_case(CaseVisit("J1001", "Ana Reyes", start, start + timedelta(hours=2))).id == opened.id
    [case] = sf.state("Case")
    assert (case["FSM_Technician__c"], case["FSM_Visit_Start__c"], case["FSM_Visit_End__c"]) == (
        "Ana Reyes", "2026-12-02T17:00:00.000+0000", "2026-12-02T19:00:00.000+0000")
    crm.schedule_case(CaseVisit("J1001", "Ana Reyes", None, None))
    [case] = sf.state("Case")
    assert case["FSM_Technician__c"] is None and case["FSM_Visit_Start__c"] is None
    with pytest.raises(DataError, match="no Salesforce Case has FSM_Job_Id__c=J404"):
        crm.schedule_case(CaseVisit("J404", "Ana Reyes", start, start))  # updateOnly: never creates a Case
    assert len(sf.state("Case")) == 1


def test_flagged_cases_are_read_for_intake_with_their_contact_and_stamped_with_the_job_id(sf: SfSandbox) -> None:
    from connectors.contract import IntakeCRM

    crm = sf.client()
    assert isinstance(crm, IntakeCRM)

    def create(sobject: str, fields: dict[str, object]) -> str:
        return crm.http.request("POST", crm._api(f"/sobjects/{sobject}"), json=fields)[1]["id"]

    contact = create("Contact", {"FirstName": "Ana", "LastName": "Reyes", "Email": "ana@home.example",
                                 "MailingStreet": "12 Bay St", "MailingCity": "Oakland", "MailingState": "CA",
                                 "MailingPostalCode": "94607"})
    wanted = create("Case", {"Subject": "No heat", "Description": "Since Sunday", "Status": "New",
                             "ContactId": contact, "FSM_Needs_Visit__c": True})
    create("Case", {"Subject": "Billing question", "Status": "New"})  # not for the field: never read
    [page] = list(crm.list_intake_cases(datetime(2020, 1, 1, tzinfo=UTC)))
    [case] = page
    assert (case.case_id, case.subject, case.description, case.open, case.job_id) == (
        wanted, "No heat", "Since Sunday", True, None)
    assert (case.contact.name, case.contact.email, case.contact.line1, case.contact.postal_code) == (
        "Ana Reyes", "ana@home.example", "12 Bay St", "94607")
    crm.link_case(wanted, "CRM-500X")
    crm.http.request("PATCH", crm._api(f"/sobjects/Case/{wanted}"), json={"Status": "Closed"})
    [[again]] = list(crm.list_intake_cases(datetime(2020, 1, 1, tzinfo=UTC)))
    assert again.job_id == "CRM-500X" and again.open is False


def test_resolving_a_job_without_a_case_is_a_data_error_and_creates_nothing(sf: SfSandbox) -> None:
    crm = sf.client()
    with pytest.raises(DataError, match="no Salesforce Case has FSM_Job_Id__c=J404") as err:
        crm.resolve_case(CaseResolution("J404", "x", CLOSED_AT))  # updateOnly: never creates
    assert not is_retryable(err.value) and sf.state("Case") == []


def test_two_cases_with_one_job_id_are_refused_not_guessed(sf: SfSandbox) -> None:
    sf.seed("Case", [{"Id": f"500X{n}", "FSM_Job_Id__c": "J7", "Status": "New", "IsClosed": False}
                     for n in range(2)], id_field="Id")
    with pytest.raises(DataError, match="more than one Salesforce Case"):
        sf.client().resolve_case(CaseResolution("J7", "x", CLOSED_AT))


def test_notes_are_case_comments_found_again_by_their_marker(sf: SfSandbox) -> None:
    crm = sf.client()
    case = crm.open_case("J1001", "Dryer", "")
    note = crm.add_note(case.id, CaseNote("fb-note-N1", "Customer signed off", CLOSED_AT))
    assert crm.find_note("fb-note-N1", case.id).id == note.id
    assert crm.find_note("fb-note-N2", case.id) is None
    crm.update_note(note.id, CaseNote("fb-note-N1", "Customer signed off (edited)", CLOSED_AT))
    [comment] = sf.state("CaseComment")
    assert comment["CommentBody"].startswith("Customer signed off (edited)")
    assert comment["ParentId"] == case.id and comment["IsPublished"] is False


def test_a_lost_answer_to_a_comment_create_is_resolved_by_lookup_not_duplicated(sf: SfSandbox) -> None:
    crm = sf.client()
    case = crm.open_case("J1001", "Dryer", "")
    sf.faults(drop_first_write=True)
    note = crm.add_note(case.id, CaseNote("fb-note-N1", "Customer signed off", CLOSED_AT))
    assert [c["Id"] for c in sf.state("CaseComment")] == [note.id]


def test_soql_pages_follow_next_records_url(sf: SfSandbox) -> None:
    crm = sf.client()
    case = crm.open_case("J1001", "Dryer", "")
    sf.seed("CaseComment", [{"Id": f"00aP{n:05d}", "ParentId": case.id, "CommentBody": f"c{n}", "IsPublished": False}
                            for n in range(2300)], id_field="Id")
    rows = list(crm.query(f"SELECT Id, CommentBody FROM CaseComment WHERE ParentId = '{case.id}'"))
    assert len(rows) == 2300 and crm.http.calls[f"GET /services/data/v{crm.api_version}/query"] == 1
    assert sum(v for k, v in crm.http.calls.items() if "/query/" in k) == 1  # one nextRecordsUrl page


def test_collections_resolve_up_to_200_answer_each_and_never_create_a_case(sf: SfSandbox) -> None:
    crm = sf.client()
    case = crm.open_case("J1", "a", "")
    crm.open_case("J3", "c", "")
    crm.http.calls.clear()
    results = crm.resolve_cases([CaseResolution("J1", "done", CLOSED_AT), CaseResolution("J2", "new", CLOSED_AT),
                                 CaseResolution("J3", "done too", CLOSED_AT)])
    assert [type(r).__name__ for r in results] == ["VendorRecord", "DataError", "VendorRecord"]
    assert results[0].id == case.id and results[1].status == 404 and "J2" in str(results[1])
    assert {c["FSM_Job_Id__c"]: c["Status"] for c in sf.state("Case")} == {"J1": "Closed", "J3": "Closed"}
    assert sum(crm.http.calls.values()) == 2  # one SOQL query, one collections update
    notes = crm.add_notes([NoteRequest(case.id, CaseNote(f"fb-note-{n}", f"note {n}", CLOSED_AT)) for n in range(3)]
                          + [NoteRequest("500000000000000AAA", CaseNote("fb-note-x", "orphan", CLOSED_AT))])
    assert [type(r).__name__ for r in notes] == ["VendorRecord"] * 3 + ["DataError"]
    assert crm.find_note("fb-note-2", case.id) is not None
    with pytest.raises(ValueError, match="at most 200"):
        crm.resolve_cases([CaseResolution(f"J{n}", "x", CLOSED_AT) for n in range(201)])


def test_the_refresh_token_rotates_and_the_new_one_is_kept(sf: SfSandbox) -> None:
    crm = sf.client()
    crm.open_case("J1", "a", "")
    saved = FileTokenStore(sf.tokens / "sf.json").load()
    assert saved is not None and saved.refresh_token != RT and saved.extra["instance_url"] == sf.url
    sf.admin("/_sandbox/expire-sessions", {})  # the session times out: a 401, a refresh, one retry
    assert crm.find_case("J1") is not None
    assert crm.auth.refresh_count == 2


def test_the_jwt_bearer_flow_signs_its_assertion(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    server, _ = _make(tmp_path, jwt_public_key=public)
    try:
        auth = JwtBearer(f"{server.url}/services/oauth2/token", CLIENT_ID, "integration@x.example", SecretStr(pem),
                         server.url, FileTokenStore(tmp_path / "jwt.json"), keep=("instance_url",))
        crm = SalesforceCRM(server.url, auth, policy=POLICY)
        assert crm.open_case("J1", "a", "").id
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
        forged = JwtBearer(f"{server.url}/services/oauth2/token", CLIENT_ID, "x", SecretStr(other), server.url,
                           FileTokenStore(tmp_path / "forged.json"))
        with pytest.raises(ConfigError, match="invalid_grant"):
            SalesforceCRM(server.url, forged, policy=POLICY).find_case("J1")
        crm.close()
    finally:
        server.stop()


def test_the_daily_quota_stops_cleanly_before_and_at_the_limit(sf: SfSandbox) -> None:
    crm = sf.client(reserve=5)
    crm.open_case("J1", "a", "")
    sf.admin("/_sandbox/daily-usage", {"used": 14990, "limit": 15000})
    crm.find_case("J1")  # the answer reports api-usage=14991/15000: within the reserve of 5? not yet
    crm.find_case("J1")
    sf.admin("/_sandbox/daily-usage", {"used": 14996})
    crm.find_case("J1")  # 14997/15000: now within the reserve
    before = sf.stats()["requests"]
    with pytest.raises(QuotaExhausted, match="daily API quota"):
        crm.find_case("J1")
    assert sf.stats()["requests"] == before  # stopped before sending anything

    sf.admin("/_sandbox/daily-usage", {"used": 100})  # the rolling 24-hour window moved on
    crm.budget.quota_recheck_seconds = 0.0  # …and the recheck interval (15 min) has passed
    assert crm.find_case("J1") is not None  # a long-running worker picks up again without a restart
    crm.budget.quota_recheck_seconds = 900.0
    assert crm.find_case("J1") is not None  # the fresh usage (101/15000) was read from the answer

    quota_free = sf.client()  # a client whose budget has not seen the header yet hits the wall
    quota_free.budget._quota = None
    sf.admin("/_sandbox/daily-usage", {"used": 15000})
    with pytest.raises(QuotaExhausted, match="TotalRequests Limit exceeded") as err:
        quota_free.find_case("J1")
    assert not is_retryable(err.value)


def test_error_arrays_name_the_fields(sf: SfSandbox) -> None:
    crm = sf.client()
    crm.open_case("J1", "a", "")
    with pytest.raises(ConfigError, match=r"No such column 'Bogus__c' on sobject of type Case \(fields: Bogus__c\)") \
            as err:  # an org without the field fieldbridge writes: a configuration problem, named
        crm.http.request("PATCH", crm._api("/sobjects/Case/FSM_Job_Id__c/J1"), json={"Bogus__c": 1},
                         idempotent=True)
    assert err.value.vendor_code == "INVALID_FIELD"
    with pytest.raises(DataError, match="restricted picklist"):
        crm.http.request("PATCH", crm._api("/sobjects/Case/FSM_Job_Id__c/J1"), json={"Status": "Fixed-ish"},
                         idempotent=True)


def test_concurrency_limit_answers_are_waited_out(sf: SfSandbox) -> None:
    crm = sf.client()
    crm.open_case("J1", "a", "")
    sf.admin("/_sandbox/faults", {"burst": 2, "retry_after_seconds": 0.05})
    assert crm.find_case("J1") is not None  # 429 REQUEST_LIMIT_EXCEEDED (concurrent): retried, not stopped


def test_malformed_requests_get_salesforce_errors_not_500(sf: SfSandbox) -> None:
    crm = sf.client()
    crm.open_case("J1", "a", "")
    token = crm.auth.tokens().access_token
    api = f"{sf.url}/services/data/v60.0"
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}) as http:
        for method, path, body in [("PATCH", "/sobjects/Case/FSM_Job_Id__c/J1", b"{not json"),
                                   ("GET", "/query?q=SELEC Id FROM Case", None),
                                   ("GET", "/query?q=SELECT Id FROM Case WHERE Subject = 'x", None),
                                   ("POST", "/sobjects/Nope__c", b"{}"), ("GET", "/sobjects/Case/500nope", None),
                                   ("POST", "/composite/sobjects", b"[]")]:
            answer = http.request(method, api + path, content=body, headers={"Content-Type": "application/json"})
            assert 400 <= answer.status_code < 500, (method, path, answer.status_code)
            assert isinstance(answer.json(), list) and answer.json()[0]["errorCode"]


@pytest.mark.parametrize(("base_url", "audience"), [
    ("https://login.salesforce.com", "https://login.salesforce.com"),
    ("https://acme.my.salesforce.com", "https://login.salesforce.com"),
    ("https://test.salesforce.com", "https://test.salesforce.com"),
    ("https://acme--uat.sandbox.my.salesforce.com", "https://test.salesforce.com"),
    ("http://127.0.0.1:8704/", "http://127.0.0.1:8704"),
])
def test_the_jwt_audience_follows_the_kind_of_org(base_url: str, audience: str) -> None:
    from connectors.salesforce.settings import SalesforceSettings

    assert SalesforceSettings(base_url=base_url).jwt_audience_url() == audience
    assert SalesforceSettings(base_url=base_url, jwt_audience="https://x.example").jwt_audience_url() == \
        "https://x.example"
