"""Jobber as a field-service source: GraphQL reads over the shared HTTP layer.

One query reads the first page of everything a closed job needs (visits, line items, time sheet entries,
expenses, notes, client, property); a connection with more pages is read on with `after` cursors. Users are
read once and cached (every job names them only by id), which keeps each job's query cost low.

Rate limits as Jobber documents them: the per-account request ceiling (2,500 per 5 minutes, HTTP 429) is a
request budget; the query-cost leaky bucket reported on every answer (`extensions.cost.throttleStatus`) feeds
a cost bucket, so a query waits until Jobber can pay for it instead of being throttled; a `THROTTLED` error
(inside an HTTP 200) is retried after that wait. OAuth2 with refresh-token rotation, the new refresh token
persisted before the new access token is used (connectors/http/auth.py).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import SecretStr

from connectors.contract import (
    ErrorRule,
    FailureType,
    PriceBook,
    ResponseAction,
    SourceItem,
    SourceJob,
    TokenStore,
)
from connectors.contract.errors import ConfigError, DataError, VendorError
from connectors.http import HttpClient, OAuth2RefreshToken, RetryPolicy, budget_for, quota
from connectors.http.ratelimit import CostAwareBudget, QueryCostBucket
from connectors.jobber import mapping
from connectors.jobber.cost import requested_cost
from connectors.jobber.settings import JobberSettings

log = logging.getLogger("fieldbridge.jobber")

REQUEST_LIMIT = 2500  # requests per app and account …
REQUEST_WINDOW_SECONDS = 300.0  # … per 5 minutes (HTTP 429 beyond)
USERS_TTL_SECONDS = 600.0
MAX_NODES = 5000  # of one connection of one job: beyond, the paging is broken, not the job big
ASSIGNED_USERS_PAGE = 10  # users per visit read with the job (more are not read: docs/jobber.md)

ERRORS = {
    "THROTTLED": ErrorRule(ResponseAction.RATE_LIMITED, FailureType.TRANSIENT,
                           message="query cost throttled: waiting for the bucket to restore"),
    "GRAPHQL_VALIDATION_FAILED": ErrorRule(ResponseAction.FAIL, FailureType.CONFIG,
                                           message="Jobber refused the query: check FIELDBRIDGE_JOBBER_API_VERSION"),
    404: ErrorRule(ResponseAction.FAIL, FailureType.CONFIG,
                   message="unknown GraphQL API version: set FIELDBRIDGE_JOBBER_API_VERSION to a supported one"),
}


def describe(status: int, body: Any, headers: Any) -> VendorError | None:
    """GraphQL errors come inside an HTTP 200; Jobber's other errors are a flat `{"message": …}`."""
    if isinstance(body, dict) and body.get("errors"):
        errors = [e for e in body["errors"] if isinstance(e, dict)]
        codes = tuple(str(c) for e in errors if (c := (e.get("extensions") or {}).get("code")))
        words = "; ".join(str(e.get("message", "")) for e in errors)[:500]
        return VendorError(words or "GraphQL error", codes)
    if status >= 400 and isinstance(body, dict) and body.get("message"):
        return VendorError(str(body["message"])[:500])
    return None


_PAGE = "pageInfo { hasNextPage endCursor }"
_CONNECTIONS = {
    "visits": "id title startAt endAt completedAt isComplete "
              f"assignedUsers(first: {ASSIGNED_USERS_PAGE}) {{ nodes {{ id }} }}",
    "lineItems": "id name description quantity unitPrice taxable category linkedProductOrService { id name category }",
    "timeSheetEntries": "id startAt endAt ticking label note user { id }",
    "expenses": "id title description total date enteredBy { id }",
    "notes": "... on JobNote { id message createdAt createdBy { ... on User { id } } }",
}
_JOB_FIELDS = ("id jobNumber title instructions jobStatus completedAt updatedAt jobberWebUri "
               "client { id name firstName lastName companyName isCompany emails { address primary } "
               "phones { number primary } billingAddress { street1 street2 city province postalCode country } } "
               "property { id address { street1 street2 city province postalCode country } }")


def _job_query() -> str:
    conns = " ".join(f"{name}(first: $first) {{ nodes {{ {fields} }} {_PAGE} }}"
                     for name, fields in _CONNECTIONS.items())
    return (f"query FieldbridgeJob($id: EncodedId!, $first: Int!) {{ owner: user {{ id timezone }} "
            f"job(id: $id) {{ {_JOB_FIELDS} {conns} }} }}")


def _more_operation(connection: str) -> str:
    """One operation name per connection: each has its own cost, which the budget learns by name."""
    return f"FieldbridgeJob{connection[0].upper()}{connection[1:]}"


def _more_query(connection: str) -> str:
    return (f"query {_more_operation(connection)}($id: EncodedId!, $first: Int!, $after: String) {{ job(id: $id) {{ "
            f"{connection}(first: $first, after: $after) {{ nodes {{ {_CONNECTIONS[connection]} }} {_PAGE} }} }} }}")


_USERS_QUERY = ("query FieldbridgeUsers($first: Int!, $after: String) { users(first: $first, after: $after) { "
                "nodes { id name { full } email { raw } timezone } " + _PAGE + " } }")
_LOCATE = {
    "VISIT": "query FieldbridgeVisitJob($id: EncodedId!) { visit(id: $id) { id job { id } } }",
    "TIMESHEET": "query FieldbridgeEntryJob($id: EncodedId!) { timeSheetEntry(id: $id) { id job { id } } }",
    "EXPENSE": "query FieldbridgeExpenseJob($id: EncodedId!) { expense(id: $id) { id linkedJob { id } } }",
}
_CLOSED_TOPICS = {"JOB_CLOSED", "JOB_UPDATE", "VISIT_COMPLETE", "VISIT_UPDATE", "TIMESHEET_CREATE",
                  "TIMESHEET_UPDATE", "TIMESHEET_DESTROY", "EXPENSE_CREATE", "EXPENSE_UPDATE", "EXPENSE_DESTROY"}

_buckets: dict[str, QueryCostBucket] = {}
_buckets_lock = threading.Lock()


def _cost_bucket(key: str) -> QueryCostBucket:
    with _buckets_lock:
        return _buckets.setdefault(key, QueryCostBucket())


class JobberFieldService:
    """The FieldService role on Jobber's GraphQL API."""

    system = "jobber"

    def __init__(self, settings: JobberSettings, token_store: TokenStore, *, policy: RetryPolicy | None = None,
                 timeout: float = 20.0, transport: httpx.BaseTransport | None = None,
                 company_timezone: str = "America/Los_Angeles") -> None:
        self.settings = settings
        self.company_timezone = company_timezone
        self.auth = OAuth2RefreshToken(settings.token_url, settings.client_id, settings.client_secret or SecretStr(""),
                                       token_store,
                                       settings.refresh_token, transport, client_auth="body",
                                       default_expires_in=3600.0)
        key = f"jobber:{settings.client_id}:{settings.base_url}"
        self.cost = _cost_bucket(key)
        self.budget = CostAwareBudget(budget_for(key, **quota(settings.rate_limit or REQUEST_LIMIT,
                                                                  REQUEST_WINDOW_SECONDS)), self.cost)
        self.http = HttpClient("jobber", settings.base_url, auth=self.auth, budget=self.budget, policy=policy,
                               describe=describe, errors=ERRORS, timeout=timeout, transport=transport,
                               default_headers={"X-JOBBER-GRAPHQL-VERSION": settings.api_version},
                               observe=self._observe)
        self.points_requested = 0  # benchmarks: what the queries asked for …
        self.points_spent = 0  # … and what Jobber took from the bucket (the sustained rate's measure)
        self._users: dict[str, dict[str, Any]] = {}
        self._users_at = 0.0
        self._users_lock = threading.Lock()

    # --- plumbing -------------------------------------------------------------------------------------------

    def _observe(self, response: httpx.Response) -> None:
        """Feed Jobber's report of the bucket to the cost budget (every answer carries it, throttled ones too)."""
        if "json" not in response.headers.get("content-type", ""):
            return
        try:
            cost = (response.json().get("extensions") or {}).get("cost") or {}
        except (ValueError, AttributeError):
            return
        status = cost.get("throttleStatus") or {}
        if {"maximumAvailable", "currentlyAvailable", "restoreRate"} <= status.keys():
            self.cost.report(status["maximumAvailable"], status["currentlyAvailable"], status["restoreRate"])
        if isinstance(cost.get("actualQueryCost"), int | float):
            self.points_spent += cost["actualQueryCost"]
        if isinstance(cost.get("requestedQueryCost"), int | float):  # Jobber's count wins for a retry
            self.budget.expect(float(cost["requestedQueryCost"]))

    def query(self, operation: str, document: str, variables: dict[str, Any]) -> dict[str, Any]:
        """One GraphQL query (safe to repeat); its `data`."""
        # the query's cost by Jobber's formula, known before it is sent: it goes when the bucket can pay for it
        if self.settings.client_secret is None:
            raise ConfigError("jobber", "FIELDBRIDGE_JOBBER_CLIENT_SECRET is not set (the app's client secret)")
        cost = requested_cost(document, variables, operation)
        self.points_requested += cost  # benchmarks: query-cost points per job
        self.budget.expect(cost)
        _, body = self.http.request("POST", "/api/graphql", json={"query": document, "variables": variables,
                                                                 "operationName": operation}, idempotent=True)
        if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
            raise DataError("jobber", f"{operation}: the answer has no data")
        return body["data"]

    def record_url(self, kind: str, vendor_id: str) -> str | None:
        return None

    def close(self) -> None:
        self.http.close()

    # --- users ---------------------------------------------------------------------------------------------

    def users(self, refresh: bool = False) -> dict[str, dict[str, Any]]:
        """Every Jobber user by id (cached: jobs name their users by id only)."""
        with self._users_lock:
            if refresh or not self._users or time.monotonic() - self._users_at > USERS_TTL_SECONDS:
                found: dict[str, dict[str, Any]] = {}
                after: str | None = None
                while True:
                    page = self.query("FieldbridgeUsers", _USERS_QUERY,
                                      {"first": 100, "after": after})["users"]
                    found.update({u["id"]: u for u in page["nodes"]})
                    if not page["pageInfo"]["hasNextPage"]:
                        break
                    after = page["pageInfo"]["endCursor"]
                self._users, self._users_at = found, time.monotonic()
            return self._users

    # --- the FieldService role -----------------------------------------------------------------------------

    def locate(self, topic: str, item_id: str) -> SourceItem:
        if topic not in _CLOSED_TOPICS:
            return SourceItem(ignored=f"{topic} is not a topic fieldbridge acts on")
        kind = topic.split("_", 1)[0]
        if kind == "JOB":
            return SourceItem(job=item_id)
        if kind == "VISIT":
            visit = self.query("FieldbridgeVisitJob", _LOCATE["VISIT"], {"id": item_id})["visit"]
            return SourceItem(job=visit["job"]["id"]) if visit else SourceItem(ignored=f"visit {item_id} is gone")
        if kind == "TIMESHEET":
            entry = self.query("FieldbridgeEntryJob", _LOCATE["TIMESHEET"], {"id": item_id})["timeSheetEntry"]
            if entry is None:  # deleted: fieldbridge's copy of the entry says which job it was on
                return SourceItem(gone=("time_entry", mapping.canonical_id("TimeSheetEntry", item_id)))
            return SourceItem(job=entry["job"]["id"]) if entry.get("job") else SourceItem(
                ignored=f"time sheet entry {mapping.gid_label(item_id)} is not on a job")
        entry = self.query("FieldbridgeExpenseJob", _LOCATE["EXPENSE"], {"id": item_id})["expense"]
        if entry is None:
            return SourceItem(gone=("expense", mapping.canonical_id("Expense", item_id)))
        return SourceItem(job=entry["linkedJob"]["id"]) if entry.get("linkedJob") else SourceItem(
            ignored=f"expense {mapping.gid_label(item_id)} is not on a job")

    def fetch_job(self, vendor_job_id: str, price_book: PriceBook) -> SourceJob | None:
        page_size = self.settings.page_size
        read_at = datetime.now(UTC)
        data = self.query("FieldbridgeJob", _job_query(), {"id": vendor_job_id, "first": page_size})
        job = data["job"]
        if job is None:
            return None
        for name in _CONNECTIONS:
            conn = job[name]
            while conn["pageInfo"]["hasNextPage"]:
                cursor = conn["pageInfo"].get("endCursor")
                if not cursor or len(conn["nodes"]) > MAX_NODES:  # a page that does not move on would loop for ever
                    raise DataError("jobber", f"job {mapping.gid_label(vendor_job_id)}: {name} did not page on "
                                    f"after {len(conn['nodes'])} nodes (cursor {cursor!r})")
                more = self.query(_more_operation(name), _more_query(name),
                                  {"id": vendor_job_id, "first": page_size, "after": cursor})["job"][name]
                conn["nodes"].extend(more["nodes"])
                conn["pageInfo"] = more["pageInfo"]
        users = self.users()
        named = mapping.user_ids(job)
        if not named <= users.keys():  # a user added since the cache was filled
            users = self.users(refresh=True)
        owner_zone = (data.get("owner") or {}).get("timezone")
        mapped = mapping.map_job(job, users, self.settings, price_book, timezone=owner_zone or self.company_timezone)
        return dataclasses.replace(mapped, read_at=read_at)
