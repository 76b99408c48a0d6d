"""The Salesforce sandbox driven by simple-salesforce: OAuth tokens, Case upsert by external id (201/200/300,
updateOnly), reads by id and external id, CaseComments, SOQL with `nextRecordsUrl` paging (query_all),
sObject Collections, the errors the SDK maps to its exception classes, and the daily limit it reports."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests
from requests.adapters import HTTPAdapter

simple_salesforce = pytest.importorskip("simple_salesforce")

from simple_salesforce import Salesforce  # noqa: E402
from simple_salesforce.exceptions import (  # noqa: E402
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceResourceNotFound,
)

from connectors.emulator import SandboxServer  # noqa: E402
from connectors.salesforce import sandbox as salesforce_sandbox  # noqa: E402

CLIENT_ID, SECRET, REFRESH = "sdk-consumer-key", "sdk-consumer-secret", "5Aep-sdk-refresh"


class LoopbackTLS(HTTPAdapter):
    """simple-salesforce only speaks https to *.salesforce.com hosts; the sandbox listens on plain loopback HTTP.
    This adapter stands in for DNS plus a TLS-terminating proxy: the SDK builds every URL and body itself, we
    only route login.salesforce.com to the sandbox and swap the scheme on the way out."""

    def __init__(self, sandbox_url: str) -> None:
        super().__init__()
        self.sandbox_url = sandbox_url

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        url = str(request.url).replace("https://login.salesforce.com", self.sandbox_url)
        request.url = "http://" + url.removeprefix("https://").removeprefix("http://")
        return super().send(request, **kwargs)


@pytest.fixture
def sandbox_url() -> Iterator[str]:
    server = SandboxServer(salesforce_sandbox.create_app(CLIENT_ID, SECRET, REFRESH).asgi()).start()
    try:
        yield server.url
    finally:
        server.stop()


_refresh_tokens: dict[str, str] = {}


def _access_token(url: str) -> str:
    """The refresh-token grant, as an integrator's OAuth library sends it; the sandbox rotates refresh tokens,
    so the new one is kept (the old one is refused, as Salesforce does with rotation on)."""
    resp = httpx.post(f"{url}/services/oauth2/token", data={
        "grant_type": "refresh_token", "client_id": CLIENT_ID, "client_secret": SECRET,
        "refresh_token": _refresh_tokens.get(url, REFRESH)})
    resp.raise_for_status()
    body = resp.json()
    assert body["instance_url"] == url and body["refresh_token"] != _refresh_tokens.get(url, REFRESH)
    _refresh_tokens[url] = body["refresh_token"]
    return body["access_token"]


def _session(url: str) -> requests.Session:
    session = requests.Session()
    session.mount("https://", LoopbackTLS(url))
    return session


def _sdk(url: str, token: str | None = None, version: str = "59.0") -> Salesforce:
    return Salesforce(instance_url=url, session_id=token or _access_token(url), session=_session(url),
                      version=version)


@pytest.fixture
def sf(sandbox_url: str) -> Salesforce:
    return _sdk(sandbox_url)


def test_case_upsert_by_external_id_creates_then_updates(sf: Salesforce) -> None:
    assert sf.Case.upsert("FSM_Job_Id__c/J-1001", {"Subject": "No heat", "Status": "New"}) == 201
    assert sf.Case.upsert("FSM_Job_Id__c/J-1001", {"Status": "Closed", "Resolution__c": "Igniter"}) == 200
    case = sf.Case.get_by_custom_id("FSM_Job_Id__c", "J-1001")
    assert case["Status"] == "Closed" and case["IsClosed"] is True and case["Resolution__c"] == "Igniter"
    assert sf.Case.get(case["Id"])["FSM_Job_Id__c"] == "J-1001"
    assert case["attributes"]["type"] == "Case"

    with pytest.raises(SalesforceResourceNotFound):
        sf.Case.upsert("FSM_Job_Id__c/J-404?updateOnly=true", {"Status": "Closed"})
    with pytest.raises(SalesforceResourceNotFound):
        sf.Case.get_by_custom_id("FSM_Job_Id__c", "J-404")


def test_external_ids_with_spaces_and_duplicates(sf: Salesforce) -> None:
    sf.Case.create({"Subject": "a", "FSM_Job_Id__c": "Smith and Sons 7"})
    assert sf.Case.get_by_custom_id("FSM_Job_Id__c", "Smith and Sons 7")["Subject"] == "a"
    with pytest.raises(SalesforceMalformedRequest) as dup:
        sf.Case.create({"Subject": "b", "FSM_Job_Id__c": "Smith and Sons 7"})
    assert dup.value.content[0]["errorCode"] == "DUPLICATE_VALUE"


def test_more_than_one_match_is_a_300(sf: Salesforce, sandbox_url: str) -> None:
    """Two Cases share an external id only if one was created before the field was made unique; the API
    then answers 300 with the candidates, which the SDK raises as SalesforceMoreThanOneRecord."""
    first = sf.Case.create({"Subject": "a"})["id"]
    second = sf.Case.create({"Subject": "b"})["id"]
    sf.Case.update(first, {"Subject": "a2"})
    sandbox_state = httpx.get(f"{sandbox_url}/_sandbox/state/Case").json()["results"]
    assert len(sandbox_state) == 2
    httpx.post(f"{sandbox_url}/_sandbox/seed/Case", json={"id_field": "Id", "docs": [
        {**doc, "FSM_Job_Id__c": "J-DUP"} for doc in sandbox_state]}).raise_for_status()
    with pytest.raises(SalesforceMoreThanOneRecord) as many:
        sf.Case.get_by_custom_id("FSM_Job_Id__c", "J-DUP")
    assert {url.rsplit("/", 1)[1] for url in many.value.content} == {first, second}


def test_case_comments_are_created_and_found_with_soql(sf: Salesforce) -> None:
    case_id = sf.Case.create({"Subject": "No heat", "FSM_Job_Id__c": "J-7"})["id"]
    made = sf.CaseComment.create({"ParentId": case_id, "CommentBody": "[fb:J-7:note] Igniter swapped"})
    assert made["success"] is True
    found = sf.query(f"SELECT Id, CommentBody FROM CaseComment WHERE ParentId = '{case_id}' "
                     "AND CommentBody LIKE '[fb:J-7:note]%'")
    assert found["totalSize"] == 1 and found["records"][0]["Id"] == made["id"]
    with pytest.raises(SalesforceMalformedRequest) as orphan:
        sf.CaseComment.create({"ParentId": "500000000000999AAA", "CommentBody": "x"})
    assert orphan.value.content[0]["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"


def test_soql_pages_with_next_records_url(sf: Salesforce) -> None:
    for n in range(450):
        sf.Case.create({"Subject": f"O'Brien \\ case {n}", "FSM_Job_Id__c": f"J-{n:04d}"})
    sf.headers["Sforce-Query-Options"] = "batchSize=200"
    first = sf.query("SELECT Id, FSM_Job_Id__c FROM Case ORDER BY FSM_Job_Id__c")
    assert first["totalSize"] == 450 and len(first["records"]) == 200 and first["done"] is False
    second = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert second["records"][0]["FSM_Job_Id__c"] == "J-0200"
    everything = sf.query_all("SELECT FSM_Job_Id__c FROM Case WHERE Subject LIKE 'O\\'Brien \\\\ case%'")
    assert everything["totalSize"] == 450 and len(everything["records"]) == 450
    by_name = sf.query("SELECT Id FROM Case WHERE Subject = 'O\\'Brien \\\\ case 7'")
    assert by_name["totalSize"] == 1
    with pytest.raises(SalesforceMalformedRequest) as bad:
        sf.query("SELECT Id FROM Case WHERE")
    assert bad.value.content[0]["errorCode"] == "MALFORMED_QUERY"


def test_sobject_collections_upsert_many_in_one_call(sf: Salesforce) -> None:
    records = [{"attributes": {"type": "Case"}, "FSM_Job_Id__c": f"J-{n}", "Subject": f"job {n}"} for n in range(3)]
    created = sf.restful("composite/sobjects/Case/FSM_Job_Id__c", method="PATCH",
                         json={"allOrNone": False, "records": records})
    assert [r["created"] for r in created] == [True, True, True]
    again = sf.restful("composite/sobjects/Case/FSM_Job_Id__c", method="PATCH",
                       json={"allOrNone": False, "records": [{**records[0], "Status": "Closed"}]})
    assert again[0]["created"] is False and again[0]["id"] == created[0]["id"]
    inserted = sf.restful("composite/sobjects", method="POST", json={"allOrNone": False, "records": [
        {"attributes": {"type": "CaseComment"}, "ParentId": created[0]["id"], "CommentBody": "one"}]})
    assert inserted[0]["success"] is True


def test_expired_sessions_and_the_daily_limit_reach_the_sdk(sf: Salesforce, sandbox_url: str) -> None:
    sf.Case.create({"Subject": "x"})
    sf.query("SELECT Id FROM Case")
    assert sf.api_usage["api-usage"].used == 2 and sf.api_usage["api-usage"].total == 15000
    httpx.post(f"{sandbox_url}/_sandbox/expire-sessions").raise_for_status()
    with pytest.raises(SalesforceExpiredSession):
        sf.Case.create({"Subject": "y"})

    fresh = _sdk(sandbox_url)
    httpx.post(f"{sandbox_url}/_sandbox/daily-usage", json={"used": 15000}).raise_for_status()
    with pytest.raises(Exception) as limited:
        fresh.Case.create({"Subject": "z"})
    assert getattr(limited.value, "status", None) == 403
    assert limited.value.content[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"


def test_the_sdk_logs_in_with_the_jwt_bearer_flow() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    server = SandboxServer(salesforce_sandbox.create_app(CLIENT_ID, SECRET, REFRESH, jwt_public_key=public).asgi())
    server.start()
    try:
        sf = Salesforce(username="ops@fieldbridge.example", consumer_key=CLIENT_ID, privatekey=private,
                        domain="login", session=_session(server.url))
        assert sf.sf_instance == server.url.removeprefix("http://")
        assert sf.Case.upsert("FSM_Job_Id__c/J-JWT", {"Subject": "via JWT"}) == 201

        from simple_salesforce.exceptions import SalesforceAuthenticationFailed
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
        with pytest.raises(SalesforceAuthenticationFailed, match="signature"):
            Salesforce(username="ops@fieldbridge.example", consumer_key=CLIENT_ID, privatekey=other,
                       domain="login", session=_session(server.url))
    finally:
        server.stop()


def test_an_unsupported_api_version_is_not_found(sandbox_url: str) -> None:
    old = _sdk(sandbox_url, version="20.0")
    with pytest.raises(SalesforceResourceNotFound):
        old.Case.create({"Subject": "x"})
