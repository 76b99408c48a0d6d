"""The Jobber sandbox (connectors/jobber/sandbox.py) over real HTTP: OAuth with refresh-token rotation, the GraphQL
endpoint's refusals, nested connections and pagination, query cost and throttling, the request ceiling, signed
webhooks (duplicates, retries) and the admin API that drives them."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from connectors.emulator import FaultConfig, Sandbox, SandboxServer
from connectors.http import jsonbody
from connectors.jobber import webhooks
from connectors.jobber.sandbox import create_app, encode_id

CLIENT_ID = "jobber-test-client"
SECRET = "jobber-test-secret"
INITIAL_REFRESH = "jobber-rt-initial"
VERSION = "2025-04-16"
CALLBACK = "http://127.0.0.1:9/oauth/jobber/callback"

JOB_QUERY = """
query Job($id: EncodedId!, $first: Int, $after: String) {
  job(id: $id) {
    id jobNumber title jobStatus total jobberWebUri
    client { name firstName isCompany emails { address primary } }
    property { address { street1 city } }
    visits(first: $first, after: $after) {
      nodes { id title startAt visitStatus isComplete assignedUsers { nodes { email { raw } } } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      totalCount
    }
    lineItems(first: 10) { nodes { name quantity unitPrice totalPrice linkedProductOrService { name } } }
    timeSheetEntries(first: 10) { edges { cursor node { id finalDuration ticking label user { name { full } } } } }
    expenses(first: 10) { nodes { title total enteredBy { id } linkedJob { jobNumber } } }
    notes(first: 10) { nodes { __typename ... on JobNote { message createdBy { ... on User { timezone } } } } }
  }
}
"""


@dataclass
class Jobber:
    """A served sandbox and a client for it."""

    box: Sandbox
    server: SandboxServer
    http: httpx.Client

    @property
    def url(self) -> str:
        return self.server.url

    def admin(self, path: str, payload: dict[str, Any] | None = None) -> Any:
        resp = self.http.post(self.url + path, json=payload) if payload is not None else self.http.get(self.url + path)
        resp.raise_for_status()
        return jsonbody.loads(resp.content)

    def connect(self) -> dict[str, str]:
        """The authorization-code flow: authorize (the sandbox consents at once), then exchange the code."""
        resp = self.http.get(f"{self.url}/api/oauth/authorize", params={
            "response_type": "code", "client_id": CLIENT_ID, "redirect_uri": CALLBACK, "state": "s1"})
        code = parse_qs(urlsplit(resp.headers["location"]).query)["code"][0]
        return self.token(grant_type="authorization_code", code=code, redirect_uri=CALLBACK).json()

    def token(self, **form: str) -> httpx.Response:
        return self.http.post(f"{self.url}/api/oauth/token", data={"client_id": CLIENT_ID, "client_secret": SECRET,
                                                                   **form})

    def gql(self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None,
            version: str | None = VERSION) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token or self.access}"}
        if version is not None:
            headers["X-JOBBER-GRAPHQL-VERSION"] = version
        return self.http.post(f"{self.url}/api/graphql", json={"query": query, "variables": variables or {}},
                              headers=headers)

    @property
    def access(self) -> str:
        if not hasattr(self, "_access"):
            self._access = self.connect()["access_token"]
        return self._access


@contextmanager
def serve(**limits: Any) -> Iterator[Jobber]:
    box = create_app(CLIENT_ID, SECRET, INITIAL_REFRESH, FaultConfig(seed=7), None, **limits)
    server = SandboxServer(box.asgi()).start()
    try:
        with httpx.Client(timeout=10) as http:
            yield Jobber(box, server, http)
    finally:
        server.stop()


@pytest.fixture
def jobber() -> Iterator[Jobber]:
    with serve() as handle:
        yield handle


class Receiver:
    """A webhook endpoint on a thread: records each delivery, answers `statuses` in turn (after `delays`
    seconds, in turn), then 200 at once."""

    def __init__(self, statuses: tuple[int, ...] = (), delays: tuple[float, ...] = ()) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self._statuses = list(statuses)
        self._delays = list(delays)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                time.sleep(receiver._delays.pop(0) if receiver._delays else 0)
                self.send_response(receiver._statuses.pop(0) if receiver._statuses else 200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/jobber/webhooks"

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(body)["data"]["webHookEvent"] for _headers, body in self.received]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    yield rec
    rec.close()


def wait_until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def settled(jobber: Jobber) -> dict[str, Any]:
    """The webhook status once nothing is pending."""
    wait_until(lambda: jobber.admin("/_sandbox/webhooks")["pending"] == 0)
    return jobber.admin("/_sandbox/webhooks")


def seed_job(jobber: Jobber, number: int = 1001) -> dict[str, Any]:
    jobber.admin("/_sandbox/users", {"users": [
        {"first": "Sam", "last": "Ortiz", "email": "sam@bayside.example"},
        {"first": "Ana", "last": "Lee", "email": "ana@bayside.example", "timezone": "America/Denver"}]})
    jobber.admin("/_sandbox/products", {"products": [{"name": "WH-40", "category": "PRODUCT", "unitPrice": 12.5}]})
    return jobber.admin("/_sandbox/jobs", {
        "jobNumber": number, "title": "Replace water heater",
        "client": {"firstName": "Dana", "lastName": "Reyes", "email": "dana@example.com"},
        "property": {"address": {"street1": "12 Bay St", "city": "Oakland", "province": "CA", "postalCode": "94607",
                                 "country": "US"}},
        "visits": [{"title": f"Visit {n}", "startAt": f"2026-11-2{n}T16:00:00Z", "endAt": f"2026-11-2{n}T18:00:00Z",
                    "assignedUserEmails": ["sam@bayside.example"]} for n in (1, 2, 3)],
        "timeSheetEntries": [
            {"userEmail": "sam@bayside.example", "startAt": "2026-11-21T08:05:00-08:00",
             "endAt": "2026-11-21T10:35:00-08:00", "label": "General"},
            {"userEmail": "ana@bayside.example", "startAt": "2026-11-22T16:00:00Z", "endAt": None}],
        "lineItems": [{"name": "Water heater", "quantity": 2, "product": "WH-40"},
                      {"name": "Labour", "quantity": 1.5, "unitPrice": 95}],
        "expenses": [{"title": "Fittings", "total": 12.5, "date": "2026-11-21", "userEmail": "sam@bayside.example"}],
        "notes": [{"message": "Old tank hauled away", "userEmail": "ana@bayside.example"}],
    })


def test_authorization_code_flow_and_refresh_token_rotation(jobber: Jobber) -> None:
    authorize = f"{jobber.url}/api/oauth/authorize"
    wrong = jobber.http.get(authorize, params={"client_id": "other", "redirect_uri": CALLBACK})
    assert (wrong.status_code, wrong.json()) == (400, {"error": "invalid_client"})
    stateless = jobber.http.get(authorize, params={"response_type": "code", "client_id": CLIENT_ID,
                                                   "redirect_uri": CALLBACK})
    assert stateless.status_code == 302 and set(parse_qs(urlsplit(stateless.headers["location"]).query)) == {"code"}
    resp = jobber.http.get(authorize, params={"response_type": "code", "client_id": CLIENT_ID,
                                              "redirect_uri": CALLBACK, "state": "xyz"})
    assert resp.status_code == 302 and resp.headers["location"].startswith(CALLBACK + "?")
    query = parse_qs(urlsplit(resp.headers["location"]).query)
    code = query["code"][0]
    assert query["state"] == ["xyz"]

    assert jobber.http.post(f"{jobber.url}/api/oauth/token", data={
        "client_id": CLIENT_ID, "client_secret": "nope", "grant_type": "authorization_code", "code": code,
        "redirect_uri": CALLBACK}).json() == {"error": "invalid_client"}
    elsewhere = jobber.token(grant_type="authorization_code", code=code, redirect_uri="http://evil.example/cb")
    assert elsewhere.status_code == 400 and elsewhere.json()["error"] == "invalid_grant"
    assert "does not match the redirection URI" in elsewhere.json()["error_description"]
    granted = jobber.token(grant_type="authorization_code", code=code, redirect_uri=CALLBACK)
    assert granted.status_code == 200 and set(granted.json()) == {"access_token", "refresh_token"}  # no expires_in
    payload = granted.json()["access_token"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert abs(claims["exp"] - (time.time() + 3600)) < 60
    assert jobber.token(grant_type="authorization_code", code=code, redirect_uri=CALLBACK).status_code == 400

    first = granted.json()["refresh_token"]
    rotated = jobber.token(grant_type="refresh_token", refresh_token=first)
    assert rotated.status_code == 200 and rotated.json()["refresh_token"] != first
    assert rotated.json()["expires_at"].endswith(" UTC") and len(rotated.json()["expires_at"]) == 23
    reused = jobber.token(grant_type="refresh_token", refresh_token=first)
    assert (reused.status_code, reused.json()) == (401, {"error": "invalid_grant", "error_description":
                                                         "The provided refresh token is not valid."})
    assert jobber.token(grant_type="refresh_token", refresh_token=INITIAL_REFRESH).status_code == 401
    again = jobber.token(grant_type="refresh_token", refresh_token=rotated.json()["refresh_token"])
    assert again.status_code == 200
    assert jobber.gql("{ account { id name } }", token=again.json()["access_token"]).json()["data"]["account"][
        "id"] == encode_id("Account", 1)
    assert jobber.admin("/_sandbox/oauth") == {"refreshes": 2, "valid_refresh_token_count": 1}


def test_initial_refresh_token_is_valid_until_first_used() -> None:
    with serve() as jobber:
        first = jobber.token(grant_type="refresh_token", refresh_token=INITIAL_REFRESH)
        assert first.status_code == 200
        assert jobber.token(grant_type="refresh_token", refresh_token=INITIAL_REFRESH).status_code == 401


def test_graphql_refuses_bad_tokens_unknown_versions_and_bad_bodies(jobber: Jobber) -> None:
    endpoint = f"{jobber.url}/api/graphql"
    bare = jobber.http.post(endpoint, json={"query": "{ account { id } }"},
                            headers={"X-JOBBER-GRAPHQL-VERSION": VERSION})
    unauthorized = {"message": "Unauthorized", "errors": [{"message": "Invalid Token Error"}]}
    assert (bare.status_code, bare.json()) == (401, unauthorized)
    assert jobber.gql("{ account { id } }", token="not-a-token").status_code == 401
    missing = jobber.gql("{ account { id } }", version=None)
    assert (missing.status_code, missing.json()) == (404, {"message": "GraphQL API version '' does not exist"})
    assert jobber.gql("{ account { id } }", version="2019-01-01").json() == {
        "message": "GraphQL API version '2019-01-01' does not exist"}
    assert jobber.gql("{ account { id } }", version="2025-01-20").status_code == 200
    headers = {"Authorization": f"Bearer {jobber.access}", "X-JOBBER-GRAPHQL-VERSION": VERSION}
    assert jobber.http.post(endpoint, data={"query": "{ account { id } }"}, headers=headers).status_code == 415
    assert jobber.http.post(endpoint, json={"variables": {}}, headers=headers).status_code == 400
    invalid = jobber.gql("{ account { nope } }")
    assert invalid.status_code == 200
    assert invalid.json()["errors"][0]["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}
    assert invalid.json()["errors"][0]["locations"] == [{"line": 1, "column": 13}]
    assert jobber.gql("{ account { id ").json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"

    jobber.admin("/_sandbox/oauth/expire-access", {})
    expired = jobber.gql("{ account { id } }")
    assert (expired.status_code, expired.json()) == (401, unauthorized)


def test_job_query_returns_seeded_data_through_nested_connections_and_pages(jobber: Jobber) -> None:
    seeded = seed_job(jobber)
    assert len(seeded["visits"]) == 3 and seeded["id"].startswith("Z2lkOi8vSm9iYmVyL0pvYi8")
    resp = jobber.gql(JOB_QUERY, {"id": seeded["id"], "first": 2})
    assert resp.status_code == 200 and "errors" not in resp.json(), resp.text
    assert b'"unitPrice":12.5' in resp.content and b'"total":12.5' in resp.content  # money exact on the wire
    job = resp.json()["data"]["job"]
    assert (job["jobNumber"], job["jobStatus"], job["total"]) == (1001, "active", 167.5)
    assert job["client"] == {"name": "Dana Reyes", "firstName": "Dana", "isCompany": False,
                             "emails": [{"address": "dana@example.com", "primary": True}]}
    assert job["property"]["address"] == {"street1": "12 Bay St", "city": "Oakland"}
    visits = job["visits"]
    assert [v["title"] for v in visits["nodes"]] == ["Visit 1", "Visit 2"] and visits["totalCount"] == 3
    assert visits["nodes"][0]["assignedUsers"]["nodes"] == [{"email": {"raw": "sam@bayside.example"}}]
    assert visits["nodes"][0]["startAt"] == "2026-11-21T16:00:00Z"
    assert visits["pageInfo"]["hasNextPage"] and not visits["pageInfo"]["hasPreviousPage"]
    assert [(i["quantity"], i["unitPrice"], i["totalPrice"], (i["linkedProductOrService"] or {}).get("name"))
            for i in job["lineItems"]["nodes"]] == [(2.0, 12.5, 25.0, "WH-40"), (1.5, 95.0, 142.5, None)]
    entries = [e["node"] for e in job["timeSheetEntries"]["edges"]]
    assert [(e["finalDuration"], e["ticking"], e["user"]["name"]["full"]) for e in entries] == [
        (9000, False, "Sam Ortiz"), (0, True, "Ana Lee")]
    assert job["expenses"]["nodes"] == [{"title": "Fittings", "total": 12.5,
                                         "enteredBy": {"id": encode_id("User", 1)}, "linkedJob": {"jobNumber": 1001}}]
    assert job["notes"]["nodes"] == [{"__typename": "JobNote", "message": "Old tank hauled away",
                                      "createdBy": {"timezone": "America/Denver"}}]

    after = visits["pageInfo"]["endCursor"]
    second = jobber.gql(JOB_QUERY, {"id": seeded["id"], "first": 2, "after": after}).json()["data"]["job"]["visits"]
    assert [v["id"] for v in second["nodes"]] == [seeded["visits"][2]]
    assert not second["pageInfo"]["hasNextPage"] and second["pageInfo"]["hasPreviousPage"]

    owner = jobber.gql("{ user { id timezone name { full } } users(first: 5) { totalCount } }").json()["data"]
    assert owner == {"user": {"id": encode_id("User", 1), "timezone": "America/Los_Angeles",
                              "name": {"full": "Sam Ortiz"}}, "users": {"totalCount": 2}}
    lookups = jobber.gql("query($j: EncodedId!, $v: EncodedId!) { job(id: $j) { id } visit(id: $v) { job { id } } "
                         "other: job(id: $v) { id } }", {"j": encode_id("Job", 999), "v": seeded["visits"][0]})
    assert lookups.json()["data"] == {"job": None, "visit": {"job": {"id": seeded["id"]}}, "other": None}
    # seeding the same job number again answers the existing job
    assert jobber.admin("/_sandbox/jobs", {"jobNumber": 1001, "title": "dup", "client": {"firstName": "X"}}) == seeded
    assert len(jobber.admin("/_sandbox/state/visits")["results"]) == 3


def test_query_cost_requested_from_first_actual_from_nodes_returned(jobber: Jobber) -> None:
    seeded = seed_job(jobber)
    query = "query($id: EncodedId!, $n: Int) { job(id: $id) { id visits(first: $n) { nodes { id title } " \
            "pageInfo { hasNextPage endCursor } totalCount } } }"
    # job 1 + id 1 + visits (1 + n × (id + title) + hasNextPage + endCursor + totalCount)
    exact = jobber.gql(query, {"id": seeded["id"], "n": 2}).json()["extensions"]["cost"]
    assert (exact["requestedQueryCost"], exact["actualQueryCost"]) == (10, 10)
    wide = jobber.gql(query, {"id": seeded["id"], "n": 5}).json()["extensions"]["cost"]
    assert (wide["requestedQueryCost"], wide["actualQueryCost"]) == (16, 12)
    unbounded = jobber.gql(query.replace("(first: $n)", "").replace(", $n: Int", ""),
                           {"id": seeded["id"]}).json()["extensions"]["cost"]
    assert unbounded["requestedQueryCost"] == 2 + 1 + 100 * 2 + 3
    assert wide["throttleStatus"]["maximumAvailable"] == 10000 and wide["throttleStatus"]["restoreRate"] == 500
    introspection = jobber.gql("{ __schema { queryType { name } types { name } } }").json()
    assert introspection["data"]["__schema"]["queryType"] == {"name": "Query"}
    assert introspection["extensions"]["cost"]["actualQueryCost"] <= introspection["extensions"]["cost"][
        "requestedQueryCost"]
    nested = jobber.gql(JOB_QUERY, {"id": seeded["id"], "first": 3}).json()["extensions"]["cost"]
    assert nested["requestedQueryCost"] > nested["actualQueryCost"] > 0


def test_throttled_inside_http_200_then_the_bucket_restores(jobber: Jobber) -> None:
    seeded = seed_job(jobber)
    jobber.admin("/_sandbox/throttle", {"currentlyAvailable": 0, "restoreRate": 40})
    throttled = jobber.gql(JOB_QUERY, {"id": seeded["id"], "first": 3})
    assert throttled.status_code == 200
    body = throttled.json()
    assert "data" not in body
    assert body["errors"] == [{"message": "Throttled", "extensions": {
        "code": "THROTTLED", "documentation": "https://developer.getjobber.com/docs/using_jobbers_api/api_rate_limits"}}]
    cost = body["extensions"]["cost"]
    assert cost["actualQueryCost"] == 0 and cost["requestedQueryCost"] > cost["throttleStatus"]["currentlyAvailable"]
    assert cost["throttleStatus"]["restoreRate"] == 40

    small = "{ account { id name } }"  # costs 3: refills in well under a second at 40 points/s
    wait_until(lambda: jobber.gql(small).json().get("data") is not None, timeout=3)
    level = jobber.admin("/_sandbox/throttle")
    assert level["maximumAvailable"] == 10000 and 0 <= level["currentlyAvailable"] < 40
    jobber.admin("/_sandbox/throttle", {"currentlyAvailable": 10000, "restoreRate": 500})
    after = jobber.gql(small).json()["extensions"]["cost"]["throttleStatus"]
    assert after["currentlyAvailable"] >= 9990


def test_request_ceiling_answers_429_before_any_cost() -> None:
    with serve(request_limit=3, request_window_seconds=60.0) as jobber:
        token = jobber.access
        answers = [jobber.gql("{ account { id } }", token=token) for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert answers[-1].json() == {"message": "Too Many Requests"}
        assert jobber.token(grant_type="refresh_token", refresh_token="x").status_code == 401  # OAuth: no ceiling
        assert jobber.admin("/_sandbox/throttle")["currentlyAvailable"] >= 9990


def test_close_sends_signed_webhooks_and_every_second_one_twice(jobber: Jobber, receiver: Receiver) -> None:
    seeded = seed_job(jobber)
    jobber.admin("/_sandbox/webhooks", {"url": receiver.url, "redeliver_every": 2})
    closed = jobber.admin(f"/_sandbox/jobs/{seeded['id']}/close", {"completedAt": "2026-11-24T08:05:00-08:00"})
    assert closed["jobStatus"] == "requires_invoicing" and closed["completedAt"] == "2026-11-24T16:05:00Z"
    status = settled(jobber)
    assert status["sent"] == 6 and status["pending"] == 0
    assert [(d["topic"], d["itemId"]) for d in status["deliveries"] if d["redelivery"]] == [
        ("VISIT_COMPLETE", seeded["visits"][1]), ("JOB_CLOSED", seeded["id"])]
    for headers, body in receiver.received:
        assert headers["content-type"] == "application/json"
        assert headers["x-jobber-hmac-sha256"] == webhooks.signature(SECRET, body)
    events = receiver.events()
    assert [e["itemId"] for e in events] == [*seeded["visits"][:2], seeded["visits"][1], seeded["visits"][2],
                                             seeded["id"], seeded["id"]]
    assert receiver.received[1][1] == receiver.received[2][1]  # a duplicate is the same bytes
    assert {(e["appId"], e["accountId"]) for e in events} == {(CLIENT_ID, encode_id("Account", 1))}
    assert webhooks.parameters(receiver.received[-1][1])["topic"] == "JOB_CLOSED"

    data = jobber.gql("query($id: EncodedId!) { job(id: $id) { jobStatus completedAt visits { nodes { "
                      "visitStatus isComplete completedAt } } } }", {"id": seeded["id"]}).json()["data"]["job"]
    assert data["jobStatus"] == "requires_invoicing" and data["completedAt"] == "2026-11-24T16:05:00Z"
    assert {(v["visitStatus"], v["isComplete"]) for v in data["visits"]["nodes"]} == {("COMPLETED", True)}


def test_a_failed_delivery_is_retried_and_unsubscribed_topics_are_not_sent(jobber: Jobber) -> None:
    seeded = seed_job(jobber)
    flaky = Receiver(statuses=(500,))
    try:
        jobber.admin("/_sandbox/webhooks", {"url": flaky.url, "topics": ["JOB_CLOSED"]})
        jobber.admin(f"/_sandbox/jobs/{seeded['jobNumber']}/close", {"status": "archived"})
        status = settled(jobber)
        assert [(d["topic"], d["attempts"], d["status"], d["delivered"]) for d in status["deliveries"]] == [
            ("JOB_CLOSED", 2, 200, True)]
        assert len(flaky.received) == 2 and flaky.received[0][1] == flaky.received[1][1]
        sent = jobber.admin("/_sandbox/webhooks/send", {"topic": "CLIENT_UPDATE", "itemId": encode_id("Client", 1)})
        assert sent["enqueued"]
        assert settled(jobber)["sent"] == 2 and flaky.events()[-1]["topic"] == "CLIENT_UPDATE"
    finally:
        flaky.close()
    jobber.admin("/_sandbox/webhooks", {"url": None})
    jobber.admin(f"/_sandbox/jobs/{seeded['id']}/reopen", {})
    assert jobber.admin("/_sandbox/webhooks")["dropped"] == 1


def test_a_delivery_answered_too_slowly_is_sent_again(jobber: Jobber) -> None:
    slow = Receiver(delays=(0.6,))
    try:
        jobber.admin("/_sandbox/webhooks", {"url": slow.url, "timeout_seconds": 0.2})
        jobber.admin("/_sandbox/webhooks/send", {"topic": "JOB_UPDATE", "itemId": encode_id("Job", 5)})
        delivery = settled(jobber)["deliveries"][0]
        assert (delivery["attempts"], delivery["status"], delivery["delivered"]) == (2, 200, True)
        assert len(slow.received) == 2  # at least once: the slow receiver got it twice
    finally:
        slow.close()


def test_edits_emit_timesheet_webhooks_and_a_destroyed_entry_reads_null(jobber: Jobber, receiver: Receiver) -> None:
    seeded = seed_job(jobber)
    jobber.admin("/_sandbox/webhooks", {"url": receiver.url})
    kept, gone = seeded["timeSheetEntries"]
    edited = jobber.admin(f"/_sandbox/jobs/{seeded['id']}/edit", {
        "updateTimeSheetEntries": [{"id": kept, "endAt": "2026-11-21T11:05:00-08:00", "label": "Travel"}],
        "deleteTimeSheetEntries": [gone],
        "addTimeSheetEntries": [{"userEmail": "ana@bayside.example", "startAt": "2026-11-23T16:00:00Z",
                                 "endAt": "2026-11-23T17:00:00Z"}],
        "addNotes": [{"message": "Customer asked for a follow-up"}]})
    added = edited["added"]["TimeSheetEntry"][0]
    assert [(e["topic"], e["itemId"]) for e in edited["events"]] == [
        ("JOB_UPDATE", seeded["id"]), ("TIMESHEET_UPDATE", kept), ("TIMESHEET_DESTROY", gone),
        ("TIMESHEET_CREATE", added)]
    settled(jobber)
    assert [(e["topic"], e["itemId"]) for e in receiver.events()] == [
        (e["topic"], e["itemId"]) for e in edited["events"]]

    query = "query($a: EncodedId!, $b: EncodedId!) { a: timeSheetEntry(id: $a) { finalDuration label } " \
            "b: timeSheetEntry(id: $b) { id } }"
    assert jobber.gql(query, {"a": kept, "b": gone}).json()["data"] == {
        "a": {"finalDuration": 3 * 3600, "label": "Travel"}, "b": None}
    notes = jobber.gql("query($id: EncodedId!) { job(id: $id) { notes { totalCount } } }", {"id": seeded["id"]})
    assert notes.json()["data"]["job"]["notes"]["totalCount"] == 2

    jobber.admin(f"/_sandbox/jobs/{seeded['id']}/close", {})
    reopened = jobber.admin(f"/_sandbox/jobs/{seeded['id']}/reopen", {})
    assert reopened["jobStatus"] == "active" and reopened["events"] == [{"topic": "JOB_UPDATE",
                                                                         "itemId": seeded["id"]}]


def test_fault_knobs_hit_graphql_but_not_oauth_or_admin(jobber: Jobber) -> None:
    token = jobber.access
    jobber.admin("/_sandbox/faults", {"error_rate": 1.0})
    failed = jobber.gql("{ account { id } }", token=token)
    assert failed.status_code in (500, 503) and failed.json() == {"message": "sandbox injected server error"}
    assert jobber.token(grant_type="refresh_token", refresh_token=INITIAL_REFRESH).status_code == 401
    assert jobber.connect()["access_token"]  # OAuth is exempt
    assert jobber.admin("/_sandbox/throttle")["maximumAvailable"] == 10000
    jobber.admin("/_sandbox/faults", {"error_rate": 0.0, "burst": 1})
    assert jobber.gql("{ account { id } }", token=token).json() == {"message": "Too Many Requests"}
    assert jobber.gql("{ account { id } }", token=token).status_code == 200


def test_admin_refuses_unknown_users_products_and_jobs(jobber: Jobber) -> None:
    seed_job(jobber)
    base = {"title": "t", "client": {"firstName": "A", "lastName": "B"}}
    bad_user = jobber.http.post(f"{jobber.url}/_sandbox/jobs", json={**base, "timeSheetEntries": [
        {"userEmail": "who@nowhere.example", "startAt": "2026-11-21T08:00:00Z", "endAt": None}]})
    assert bad_user.status_code == 400 and "who@nowhere.example" in bad_user.json()["message"]
    bad_product = jobber.http.post(f"{jobber.url}/_sandbox/jobs", json={**base, "lineItems": [
        {"name": "x", "quantity": 1, "unitPrice": 1, "product": "Nope"}]})
    assert bad_product.status_code == 400 and "Nope" in bad_product.json()["message"]
    assert len(jobber.admin("/_sandbox/state/jobs")["results"]) == 1  # nothing half-written
    assert jobber.http.post(f"{jobber.url}/_sandbox/jobs/{encode_id('Job', 77)}/close", json={}).status_code == 404
    again = jobber.admin("/_sandbox/users", {"users": [{"first": "S", "last": "O", "email": "SAM@bayside.example"}]})
    assert again["users"][0]["id"] == encode_id("User", 1)
    second = jobber.admin("/_sandbox/jobs", {**base, "client": {"firstName": "Dana", "lastName": "Reyes",
                                                                "email": "dana@example.com"}, "property": None})
    assert second["jobNumber"] == 1002 and second["property"] is None
    assert len(jobber.admin("/_sandbox/state/clients")["results"]) == 1  # Dana reused; the refused jobs left none
