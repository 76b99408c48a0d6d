"""Jobber GraphQL API emulator: the subset fieldbridge reads (connectors/jobber/schema.graphql), served the way
Jobber serves it, so the connector can be tested against the behaviour it must survive.

Emulated (shapes follow developer.getjobber.com's documentation):
- OAuth 2.0, authorization-code grant only. `GET /api/oauth/authorize` consents at once and redirects to the
  callback with a single-use code (10 minutes, bound to its redirect_uri); `POST /api/oauth/token` (form-encoded,
  JSON accepted too) exchanges it, and refreshes with strict refresh-token ROTATION: only the newest refresh token
  works, a reused one is 401 "The provided refresh token is not valid." Access tokens look like JWTs (HS256 with the
  client secret) whose payload carries `exp`; the code exchange answers without `expires_in`, as Jobber documents,
  and the refresh answers with `expires_at` ("YYYY-MM-DD HH:MM:SS UTC").
- `POST /api/graphql`: the 2,500 requests / 5 minutes ceiling (HTTP 429; checked first, as Jobber's edge layer
  does, by the shared fault injector's RateWindow), bearer check (401 "Invalid Token Error"),
  `X-JOBBER-GRAPHQL-VERSION` (404 for an unknown version), JSON only (415), parse + validation against the schema
  (GRAPHQL_VALIDATION_FAILED), the query-cost leaky bucket (THROTTLED inside HTTP 200, nothing executed) and
  `extensions.cost` on every executed answer, Relay connections (`first` ≤ 100, `after`), EncodedId ids
  (`base64("gid://Jobber/<Type>/<n>")`), unknown ids resolving to null.
- Webhooks: `{"data":{"webHookEvent":{topic, appId, accountId, itemId, occurredAt}}}` signed with
  X-Jobber-Hmac-SHA256, sent in order from a daemon thread, retried after 0.5/1/2/4/8 s (at most 6 attempts),
  at least once (optionally every n-th delivery twice).
- `/_sandbox/*` admin API: seed users, products and jobs; close, reopen and edit jobs (these emit the webhooks);
  expire access tokens; read or drain the cost bucket; configure and inspect webhook deliveries.

Not emulated: mutations, connection arguments other than `first`/`after` (`last`, `before`, `offset`, filters,
sorting), the fields the schema subset leaves out, `extensions.versioning` warnings, scopes, several accounts or
apps, app disconnect and APP_CONNECT/APP_DISCONNECT webhooks, the pre-2024 non-rotating refresh mode, webhooks for
seeding (creating a job through the admin API sends nothing), form-encoded webhook bodies of old apps.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import queue
import secrets
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from graphql import (
    GraphQLError,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLSchema,
    build_schema,
    execute,
    parse,
    validate,
)
from graphql.utilities import get_operation_ast

from connectors.emulator import (
    ExactJSONResponse,
    FaultConfig,
    RateWindow,
    Sandbox,
    SandboxStore,
    build_sandbox,
    is_malformed,
    read_json,
)
from connectors.jobber import webhooks
from connectors.jobber.cost import FREE_FIELDS, PAGE_MAX, PAGED_FIELDS, SCHEMA_PATH, RequestedCost

#: dated API versions the sandbox answers (Jobber keeps a version at least 12 months)
SUPPORTED_VERSIONS = frozenset({"2025-01-20", "2025-04-16"})
VERSION_HEADER = "x-jobber-graphql-version"
CODE_TTL_SECONDS = 600
DEFAULT_TIMEZONE = "America/Los_Angeles"
ACCOUNT_NAME = "Sandbox Field Services"
THROTTLE_DOCS = "https://developer.getjobber.com/docs/using_jobbers_api/api_rate_limits"
UNAUTHORIZED = {"message": "Unauthorized", "errors": [{"message": "Invalid Token Error"}]}
#: object type → its SandboxStore collection (also the `<Type>` of its EncodedId)
COLLECTIONS = {"User": "users", "Client": "clients", "Property": "properties", "ProductOrService": "products",
               "Job": "jobs", "Visit": "visits", "TimeSheetEntry": "time_sheet_entries", "JobLineItem": "line_items",
               "Expense": "expenses", "JobNote": "notes"}
CATEGORIES = ("PRODUCT", "SERVICE")
CLOSED_STATUSES = ("requires_invoicing", "archived")


def error_body(status: int, message: str) -> dict[str, Any]:
    """Jobber's flat error shape, for the fault injector's 5xx answers."""
    return {"message": message}


def rate_limit_body(status: int, message: str) -> dict[str, Any]:
    """What Jobber's request ceiling (Rack::Attack) answers with HTTP 429."""
    return {"message": "Too Many Requests"}


# ---- ids and values ---------------------------------------------------------------------------------------------

def encode_id(kind: str, number: int) -> str:
    """An EncodedId: standard base64 (with padding) of Jobber's global id."""
    return base64.b64encode(f"gid://Jobber/{kind}/{number}".encode()).decode()


def decode_id(value: Any) -> tuple[str, int] | None:
    """(type, number) of an EncodedId, None for anything else (Jobber answers null for ids it cannot find)."""
    if not isinstance(value, str):
        return None
    try:
        text = base64.b64decode(value + "=" * (-len(value) % 4), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    prefix, _, rest = text.partition("gid://Jobber/")
    kind, _, number = rest.partition("/")
    if prefix or not kind or not number.isdigit():
        return None
    return kind, int(number)


ACCOUNT_ID = encode_id("Account", 1)


class SeedError(ValueError):
    """An admin document the sandbox cannot apply (unknown user, bad date): answered 400 with its message."""


class UnknownItem(LookupError):
    """An admin call names an object the account does not have: answered 404."""


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _now() -> str:
    return _utc(datetime.now(UTC))


def _when(value: Any, name: str) -> str:
    """An ISO 8601 date-time (or date) as stored and served: UTC, seconds, 'Z'; naive values are read as UTC."""
    if not isinstance(value, str):
        raise SeedError(f"{name} must be an ISO 8601 date-time, got {value!r}")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise SeedError(f"{name} must be an ISO 8601 date-time, got {value!r}") from None
    return _utc(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def _when_or_none(value: Any, name: str) -> str | None:
    return None if value is None else _when(value, name)


def _seconds(start: str, end: str) -> int:
    return int((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds())


def _decimal(value: Any, name: str) -> Decimal:
    """Money and quantities stay Decimal in the store, so 12.5 goes out as 12.5."""
    if isinstance(value, bool):
        raise SeedError(f"{name} must be a number, got {value!r}")
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise SeedError(f"{name} must be a number, got {value!r}") from None
    if not number.is_finite():
        raise SeedError(f"{name} must be a finite number, got {value!r}")
    return number


def _text(spec: dict[str, Any], key: str, name: str) -> str:
    value = spec.get(key)
    if not isinstance(value, str) or not value.strip():
        raise SeedError(f"{name}.{key} is required (a non-empty string)")
    return value


def _optional_text(spec: dict[str, Any], key: str, name: str) -> str | None:
    value = spec.get(key)
    if value is not None and not isinstance(value, str):
        raise SeedError(f"{name}.{key} must be a string")
    return value


def _objects(value: Any, name: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise SeedError(f"{name} must be a list of objects")
    return value


def _strings(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SeedError(f"{name} must be a list of strings")
    return value


# ---- records ----------------------------------------------------------------------------------------------------

class Records:
    """The account's objects in the SandboxStore: one collection per type (COLLECTIONS), keyed by EncodedId,
    children pointing at their job by `job`, so `/_sandbox/state/<collection>` shows exactly what is served."""

    def __init__(self, store: SandboxStore) -> None:
        self.store = store

    def new_id(self, kind: str) -> str:
        return encode_id(kind, self.store.next_id(f"gid:{kind}"))

    def save(self, kind: str, doc: dict[str, Any]) -> dict[str, Any]:
        self.store.put(COLLECTIONS[kind], doc["id"], doc)
        return doc

    def get(self, kind: str, object_id: Any) -> dict[str, Any] | None:
        """The object of that type, or None (a wrong type's id, a malformed id, an unknown one)."""
        decoded = decode_id(object_id)
        if decoded is None or decoded[0] != kind:
            return None
        return self.store.get(COLLECTIONS[kind], encode_id(*decoded))

    def all(self, kind: str) -> list[dict[str, Any]]:
        return self.store.all(COLLECTIONS[kind])

    def children(self, kind: str, key: str, parent_id: str) -> list[dict[str, Any]]:
        return self.store.find_by(COLLECTIONS[kind], f"$.{key}", parent_id)

    def delete(self, kind: str, object_id: str) -> None:
        self.store.delete(COLLECTIONS[kind], object_id)

    def user_by_email(self, email: str) -> dict[str, Any] | None:
        wanted = email.strip().lower()
        return next(self.store.find("users", lambda u: u["email"].lower() == wanted), None)

    def user_id(self, email: Any, name: str) -> str:
        user = self.user_by_email(email) if isinstance(email, str) else None
        if user is None:
            raise SeedError(f"{name}: no user with email {email!r} (add it with POST /_sandbox/users)")
        return user["id"]

    def product(self, product_name: str) -> dict[str, Any] | None:
        return next(self.store.find("products", lambda p: p["name"] == product_name), None)

    def job_by_number(self, number: int) -> dict[str, Any] | None:
        return next(iter(self.store.find_by("jobs", "$.jobNumber", number)), None)

    def next_job_number(self) -> int:
        return max((j["jobNumber"] for j in self.store.all("jobs")), default=0) + 1

    def add_child(self, kind: str, job_id: str, partial: dict[str, Any]) -> dict[str, Any]:
        """A planned child (visit, entry, line item…) saved under the job, with its id and timestamps."""
        now = _now()
        return self.save(kind, {"id": self.new_id(kind), "job": job_id, "createdAt": now, "updatedAt": now,
                                **partial})

    def upsert_user(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Idempotent by email (case-insensitive): seeding twice gives the same user."""
        email = _text(spec, "email", "users[]")
        existing = self.user_by_email(email)
        if existing is not None:
            return existing
        timezone = _optional_text(spec, "timezone", "users[]") or DEFAULT_TIMEZONE
        return self.save("User", {"id": self.new_id("User"), "first": spec.get("first") or "",
                                  "last": spec.get("last") or "", "email": email, "timezone": timezone,
                                  "createdAt": _now()})

    def upsert_product(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Idempotent by name."""
        product_name = _text(spec, "name", "products[]")
        existing = self.product(product_name)
        if existing is not None:
            return existing
        category = spec.get("category") or "SERVICE"
        if category not in CATEGORIES:
            raise SeedError(f"products[].category must be PRODUCT or SERVICE, got {category!r}")
        return self.save("ProductOrService", {"id": self.new_id("ProductOrService"), "name": product_name,
                                              "category": category,
                                              "unitPrice": _decimal(spec.get("unitPrice", 0), "unitPrice")})

    def client_for(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Idempotent by (firstName, lastName, companyName, email): the same customer on several jobs."""
        key = tuple(spec.get(k) or "" for k in ("firstName", "lastName", "companyName", "email"))
        existing = next(self.store.find("clients", lambda c: tuple(
            c.get(k) or "" for k in ("firstName", "lastName", "companyName", "email")) == key), None)
        if existing is not None:
            return existing
        return self.save("Client", {"id": self.new_id("Client"), "firstName": key[0], "lastName": key[1],
                                    "companyName": spec.get("companyName") or None, "email": spec.get("email"),
                                    "phone": spec.get("phone"), "billingAddress": spec.get("billingAddress"),
                                    "createdAt": _now()})

    def property_for(self, client_id: str, spec: dict[str, Any] | None) -> dict[str, Any] | None:
        """A client's property at an address, reused when the client already has one there."""
        if spec is None:
            return None
        address = spec.get("address") or {}
        existing = next((p for p in self.children("Property", "client", client_id) if p["address"] == address),
                        None)
        if existing is not None:
            return existing
        return self.save("Property", {"id": self.new_id("Property"), "client": client_id, "address": address})


def _check_client(spec: Any) -> dict[str, Any]:
    if not isinstance(spec, dict):
        raise SeedError("client is required: {firstName, lastName, companyName?, email?, phone?, billingAddress?}")
    for key in ("firstName", "lastName", "companyName", "email", "phone"):
        _optional_text(spec, key, "client")
    if not (spec.get("firstName") or spec.get("lastName") or spec.get("companyName")):
        raise SeedError("client needs a firstName/lastName or a companyName")
    if spec.get("billingAddress") is not None and not isinstance(spec["billingAddress"], dict):
        raise SeedError("client.billingAddress must be an object")
    return spec


def _check_property(spec: Any) -> dict[str, Any] | None:
    if spec is None:
        return None
    if not isinstance(spec, dict) or not isinstance(spec.get("address"), dict):
        raise SeedError("property must be {\"address\": {street1, city, province, postalCode, country}} or null")
    return spec


# ---- planning children (validated before anything is written) --------------------------------------------------

def _visit_status(start: str | None) -> str:
    if start is None:
        return "UNSCHEDULED"
    return "UPCOMING" if start > _now() else "ACTIVE"


def plan_visit(records: Records, spec: dict[str, Any]) -> dict[str, Any]:
    start = _when_or_none(spec.get("startAt"), "visits[].startAt")
    end = _when_or_none(spec.get("endAt"), "visits[].endAt")
    users = [records.user_id(e, "visits[].assignedUserEmails")
             for e in _strings(spec.get("assignedUserEmails"), "visits[].assignedUserEmails")]
    return {"title": _optional_text(spec, "title", "visits[]"), "startAt": start, "endAt": end,
            "completedAt": None, "isComplete": False, "visitStatus": _visit_status(start), "assignedUsers": users}


def plan_entry(records: Records, spec: dict[str, Any]) -> dict[str, Any]:
    start = _when(spec.get("startAt"), "timeSheetEntries[].startAt")
    end = _when_or_none(spec.get("endAt"), "timeSheetEntries[].endAt")
    if end is not None and end < start:
        raise SeedError(f"timeSheetEntries[]: endAt {end} is before startAt {start}")
    return {"user": records.user_id(spec.get("userEmail"), "timeSheetEntries[].userEmail"), "startAt": start,
            "endAt": end, "label": _optional_text(spec, "label", "timeSheetEntries[]"),
            "note": _optional_text(spec, "note", "timeSheetEntries[]"), "approved": bool(spec.get("approved"))}


def plan_line_item(records: Records, spec: dict[str, Any]) -> dict[str, Any]:
    product_name = spec.get("product")
    product = records.product(product_name) if isinstance(product_name, str) else None
    if product_name is not None and product is None:
        raise SeedError(f"lineItems[].product: no product or service named {product_name!r} "
                        "(add it with POST /_sandbox/products)")
    category = spec.get("category") or (product["category"] if product else "SERVICE")
    if category not in CATEGORIES:
        raise SeedError(f"lineItems[].category must be PRODUCT or SERVICE, got {category!r}")
    price = spec.get("unitPrice", product["unitPrice"] if product else None)
    return {"name": _text(spec, "name", "lineItems[]"), "description": spec.get("description") or "",
            "quantity": _decimal(spec.get("quantity", 1), "lineItems[].quantity"),
            "unitPrice": _decimal(price, "lineItems[].unitPrice"), "taxable": bool(spec.get("taxable", True)),
            "category": category, "product": product["id"] if product else None}


def plan_expense(records: Records, spec: dict[str, Any]) -> dict[str, Any]:
    email = spec.get("userEmail")
    return {"title": _text(spec, "title", "expenses[]"), "description": _optional_text(spec, "description",
                                                                                       "expenses[]"),
            "total": _decimal(spec.get("total"), "expenses[].total"), "date": _when(spec.get("date"),
                                                                                    "expenses[].date"),
            "enteredBy": records.user_id(email, "expenses[].userEmail") if email is not None else None}


def plan_note(records: Records, spec: dict[str, Any]) -> dict[str, Any]:
    email = spec.get("userEmail")
    created = _when(spec["createdAt"], "notes[].createdAt") if spec.get("createdAt") else _now()
    return {"message": _text(spec, "message", "notes[]"), "createdAt": created,
            "createdBy": records.user_id(email, "notes[].userEmail") if email is not None else None}


PLANNERS: dict[str, tuple[str, Callable[[Records, dict[str, Any]], dict[str, Any]]]] = {
    "visits": ("Visit", plan_visit), "timeSheetEntries": ("TimeSheetEntry", plan_entry),
    "lineItems": ("JobLineItem", plan_line_item), "expenses": ("Expense", plan_expense),
    "notes": ("JobNote", plan_note),
}


# ---- webhooks ---------------------------------------------------------------------------------------------------

def event_body(topic: str, app_id: str, item_id: str, occurred_at: str) -> str:
    """The exact text Jobber posts (the signature covers these bytes)."""
    event = {"topic": topic, "appId": app_id, "accountId": ACCOUNT_ID, "itemId": item_id, "occurredAt": occurred_at}
    return json.dumps({"data": {"webHookEvent": event}}, separators=(",", ":"))


DEFAULT_WEBHOOKS = {"url": None, "topics": list(webhooks.TOPICS), "redeliver_every": 0, "timeout_seconds": 1.0}


class WebhookSender:
    """Jobber's webhook delivery, from a daemon thread so an admin call answers at once: deliveries go out in
    order; a non-2xx answer or a timeout is retried after RETRY_DELAYS (at most 6 attempts); with
    `redeliver_every` n, every n-th delivery is sent a second time after it succeeded (Jobber delivers at least
    once, and receivers must deduplicate). Deliveries live in the store (`webhook_deliveries`), so a restart with a
    state file resumes the pending ones."""

    RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0)

    def __init__(self, store: SandboxStore, client_id: str, client_secret: str) -> None:
        self._store = store
        self._client_id = client_id
        self._secret = client_secret
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._successes = 0
        for doc in self._store.all("webhook_deliveries"):
            if not doc["delivered"] and not doc["failed"]:
                self._enqueue(doc["id"])

    def config(self) -> dict[str, Any]:
        return {**DEFAULT_WEBHOOKS, **(self._store.get("webhook_config", "config") or {})}

    def configure(self, body: dict[str, Any]) -> dict[str, Any]:
        url = body.get("url")
        if url is not None and (not isinstance(url, str) or not url.startswith(("http://", "https://"))):
            raise SeedError("url must be an http(s) URL or null")
        every = body.get("redeliver_every", 0)
        timeout = body.get("timeout_seconds", DEFAULT_WEBHOOKS["timeout_seconds"])
        if isinstance(every, bool) or not isinstance(every, int) or every < 0:
            raise SeedError("redeliver_every must be a whole number ≥ 0")
        if _decimal(timeout, "timeout_seconds") <= 0:
            raise SeedError("timeout_seconds must be > 0")
        topics = _strings(body.get("topics", list(webhooks.TOPICS)), "topics")
        self._store.put("webhook_config", "config", {"url": url, "topics": topics, "redeliver_every": every,
                                                     "timeout_seconds": float(timeout)})
        return self.status()

    def emit(self, topic: str, item_id: str, *, any_topic: bool = False) -> str | None:
        """Queue one event; None when it is not sent (topic not subscribed, or no URL: counted as dropped)."""
        cfg = self.config()
        if not any_topic and topic not in cfg["topics"]:
            return None
        if not cfg["url"]:
            dropped = (self._store.get("webhook_config", "dropped") or {"count": 0})["count"]
            self._store.put("webhook_config", "dropped", {"count": dropped + 1})
            return None
        doc = self._new_delivery(topic, item_id, cfg)
        self._enqueue(doc["id"])
        return doc["id"]

    def _new_delivery(self, topic: str, item_id: str, cfg: dict[str, Any]) -> dict[str, Any]:
        doc = {"id": str(self._store.next_id("webhook_delivery")), "topic": topic, "itemId": item_id,
               "body": event_body(topic, self._client_id, item_id, _now()), "url": cfg["url"],
               "timeout_seconds": float(cfg["timeout_seconds"]), "attempts": 0, "status": None,
               "delivered": False, "failed": False, "redelivery": False}
        self._store.put("webhook_deliveries", doc["id"], doc)
        return doc

    def status(self) -> dict[str, Any]:
        docs = self._store.all("webhook_deliveries")
        cfg = self.config()
        public = ("id", "topic", "itemId", "attempts", "status", "delivered", "redelivery", "failed", "answer_ms")
        return {"url": cfg["url"], "topics": cfg["topics"], "redeliver_every": cfg["redeliver_every"],
                "timeout_seconds": cfg["timeout_seconds"],
                "pending": sum(1 for d in docs if not d["delivered"] and not d["failed"]),
                "sent": sum(1 for d in docs if d["delivered"]), "failed": sum(1 for d in docs if d["failed"]),
                "dropped": (self._store.get("webhook_config", "dropped") or {"count": 0})["count"],
                "deliveries": [{k: d.get(k) for k in public} for d in docs]}

    def stop(self) -> None:
        """Let the thread finish (the app's shutdown); a delivery waiting for its retry gives up waiting."""
        self._stop.set()
        self._queue.put(None)

    def _enqueue(self, delivery_id: str) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, daemon=True, name="jobber-webhooks")
                self._thread.start()
        self._queue.put(delivery_id)

    def _run(self) -> None:
        with httpx.Client(follow_redirects=False) as client:
            while not self._stop.is_set():
                delivery_id = self._queue.get()
                if delivery_id is None:
                    return
                self._deliver(client, delivery_id)

    def _deliver(self, client: httpx.Client, delivery_id: str) -> None:
        for delay in (0.0, *self.RETRY_DELAYS):
            if delay and self._stop.wait(delay):
                return
            doc = self._store.get("webhook_deliveries", delivery_id)
            if doc is None:  # the sandbox was reset meanwhile
                return
            sent = time.monotonic()
            doc["status"] = self._post(client, doc)
            doc["answer_ms"] = round((time.monotonic() - sent) * 1000, 1)  # Jobber wants an answer within 1 s
            doc["attempts"] += 1
            doc["delivered"] = doc["status"] is not None and 200 <= doc["status"] < 300
            self._store.put("webhook_deliveries", delivery_id, doc)
            if doc["delivered"]:
                self._after_success(client, doc)
                return
        doc["failed"] = True
        self._store.put("webhook_deliveries", delivery_id, doc)

    def _after_success(self, client: httpx.Client, doc: dict[str, Any]) -> None:
        """Every n-th successful first delivery is sent again at once: the duplicate a receiver must absorb."""
        if doc["redelivery"]:
            return
        self._successes += 1
        every = self.config()["redeliver_every"]
        if not every or self._successes % every:
            return
        copy = {**doc, "id": str(self._store.next_id("webhook_delivery")), "attempts": 0, "status": None,
                "delivered": False, "redelivery": True}
        self._store.put("webhook_deliveries", copy["id"], copy)
        self._deliver(client, copy["id"])

    def _post(self, client: httpx.Client, doc: dict[str, Any]) -> int | None:
        body = doc["body"].encode()
        headers = {"Content-Type": "application/json",
                   "X-Jobber-Hmac-SHA256": webhooks.signature(self._secret, body)}
        try:
            return client.post(doc["url"], content=body, headers=headers,
                               timeout=float(doc["timeout_seconds"])).status_code
        except httpx.HTTPError:
            return None


# ---- admin operations on jobs ------------------------------------------------------------------------------------

class JobAdmin:
    """What happens to a job in Jobber's UI, done through the admin API: create (idempotent by job number),
    close, reopen, edit; each change emits the webhooks Jobber would send."""

    def __init__(self, records: Records, sender: WebhookSender) -> None:
        self.records = records
        self.sender = sender

    def find(self, job_ref: str) -> dict[str, Any]:
        """A job by EncodedId or by job number."""
        job = self.records.job_by_number(int(job_ref)) if job_ref.isdigit() else self.records.get("Job", job_ref)
        if job is None:
            raise UnknownItem(f"no job {job_ref!r}")
        return job

    def summary(self, job: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"id": job["id"], "jobNumber": job["jobNumber"]}
        for key, (kind, _plan) in PLANNERS.items():
            out[key] = [c["id"] for c in self.records.children(kind, "job", job["id"])]
        return {**out, "client": job["client"], "property": job["property"], "jobStatus": job["jobStatus"]}

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        number = body.get("jobNumber")
        if number is not None:
            if isinstance(number, bool) or not isinstance(number, int) or number < 1:
                raise SeedError("jobNumber must be a positive whole number")
            existing = self.records.job_by_number(number)
            if existing is not None:
                return self.summary(existing)
        client_spec, property_spec = _check_client(body.get("client")), _check_property(body.get("property"))
        for key in ("title", "instructions"):
            _optional_text(body, key, "job")
        plans = {key: [plan(self.records, s) for s in _objects(body.get(key), key)]
                 for key, (_kind, plan) in PLANNERS.items()}
        client = self.records.client_for(client_spec)
        place = self.records.property_for(client["id"], property_spec)
        job = self.records.save("Job", self._job_doc(body, number, client["id"], place, plans["visits"]))
        for key, (kind, _plan) in PLANNERS.items():
            for partial in plans[key]:
                self.records.add_child(kind, job["id"], partial)
        return self.summary(job)

    def _job_doc(self, body: dict[str, Any], number: int | None, client_id: str, place: dict[str, Any] | None,
                 visits: list[dict[str, Any]]) -> dict[str, Any]:
        starts = [v["startAt"] for v in visits if v["startAt"]]
        ends = [v["endAt"] for v in visits if v["endAt"]]
        now = _now()
        return {"id": self.records.new_id("Job"), "jobNumber": number or self.records.next_job_number(),
                "title": _optional_text(body, "title", "job"),
                "instructions": _optional_text(body, "instructions", "job"), "jobStatus": "active",
                "client": client_id, "property": place["id"] if place else None, "createdAt": now,
                "updatedAt": now, "startAt": min(starts, default=None), "endAt": max(ends, default=None),
                "completedAt": None}

    def close(self, job_ref: str, body: dict[str, Any]) -> dict[str, Any]:
        """Every visit completed, the job closed: VISIT_COMPLETE per visit, then JOB_CLOSED."""
        job = self.find(job_ref)
        completed = _when(body["completedAt"], "completedAt") if body.get("completedAt") else _now()
        status = body.get("status") or "requires_invoicing"
        if status not in CLOSED_STATUSES:
            raise SeedError(f"status must be one of {', '.join(CLOSED_STATUSES)}, got {status!r}")
        events = []
        for visit in self.records.children("Visit", "job", job["id"]):
            visit.update(visitStatus="COMPLETED", isComplete=True, completedAt=completed, updatedAt=_now())
            self.records.save("Visit", visit)
            events.append(("VISIT_COMPLETE", visit["id"]))
        job.update(completedAt=completed, jobStatus=status, updatedAt=_now())
        self.records.save("Job", job)
        events.append(("JOB_CLOSED", job["id"]))
        return {**self.summary(job), "completedAt": completed, "events": self._emit(events)}

    def reopen(self, job_ref: str) -> dict[str, Any]:
        job = self.find(job_ref)
        job.update(jobStatus="active", completedAt=None, updatedAt=_now())
        self.records.save("Job", job)
        return {**self.summary(job), "events": self._emit([("JOB_UPDATE", job["id"])])}

    def edit(self, job_ref: str, body: dict[str, Any]) -> dict[str, Any]:
        """Apply an edit made in Jobber's UI; validated whole before anything changes. Emits JOB_UPDATE, then
        TIMESHEET_UPDATE / TIMESHEET_DESTROY / TIMESHEET_CREATE per entry touched (EXPENSE_CREATE per expense)."""
        job = self.find(job_ref)
        entries = {e["id"]: e for e in self.records.children("TimeSheetEntry", "job", job["id"])}
        updates = [self._updated_entry(entries, s) for s in _objects(body.get("updateTimeSheetEntries"),
                                                                       "updateTimeSheetEntries")]
        deletes = [self._own_entry(entries, i) for i in _strings(body.get("deleteTimeSheetEntries"),
                                                                  "deleteTimeSheetEntries")]
        added = {key: [plan(self.records, s) for s in _objects(body.get(name), name)]
                 for name, key, plan in (("addNotes", "JobNote", plan_note),
                                         ("addTimeSheetEntries", "TimeSheetEntry", plan_entry),
                                         ("addLineItems", "JobLineItem", plan_line_item),
                                         ("addExpenses", "Expense", plan_expense))}
        for entry in updates:
            self.records.save("TimeSheetEntry", entry)
        for entry_id in deletes:
            self.records.delete("TimeSheetEntry", entry_id)
        created = {kind: [self.records.add_child(kind, job["id"], p)["id"] for p in partials]
                   for kind, partials in added.items()}
        events = self._edit_events(job, updates, deletes, created)
        return {**self.summary(job), "added": created, "updated": [e["id"] for e in updates], "deleted": deletes,
                "events": events}

    def _edit_events(self, job: dict[str, Any], updates: list[dict[str, Any]], deletes: list[str],
                     created: dict[str, list[str]]) -> list[dict[str, str]]:
        if not (updates or deletes or any(created.values())):
            return []
        job["updatedAt"] = _now()
        self.records.save("Job", job)
        events = [("JOB_UPDATE", job["id"])]
        events += [("TIMESHEET_UPDATE", e["id"]) for e in updates]
        events += [("TIMESHEET_DESTROY", i) for i in deletes]
        events += [("TIMESHEET_CREATE", i) for i in created["TimeSheetEntry"]]
        events += [("EXPENSE_CREATE", i) for i in created["Expense"]]
        return self._emit(events)

    @staticmethod
    def _own_entry(entries: dict[str, dict[str, Any]], entry_id: Any) -> str:
        if entry_id not in entries:
            raise SeedError(f"time sheet entry {entry_id!r} is not on this job")
        return entry_id

    def _updated_entry(self, entries: dict[str, dict[str, Any]], spec: dict[str, Any]) -> dict[str, Any]:
        entry = dict(entries[self._own_entry(entries, spec.get("id"))])
        if "startAt" in spec:
            entry["startAt"] = _when(spec["startAt"], "updateTimeSheetEntries[].startAt")
        if "endAt" in spec:
            entry["endAt"] = _when_or_none(spec["endAt"], "updateTimeSheetEntries[].endAt")
        for key in ("label", "note"):
            if key in spec:
                entry[key] = _optional_text(spec, key, "updateTimeSheetEntries[]")
        if entry["endAt"] is not None and entry["endAt"] < entry["startAt"]:
            raise SeedError(f"time sheet entry {entry['id']}: endAt is before startAt")
        entry["updatedAt"] = _now()
        return entry

    def _emit(self, events: list[tuple[str, str]]) -> list[dict[str, str]]:
        for topic, item_id in events:
            self.sender.emit(topic, item_id)
        return [{"topic": topic, "itemId": item_id} for topic, item_id in events]


# ---- OAuth ------------------------------------------------------------------------------------------------------

def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _jwt(payload: dict[str, Any], secret: str) -> str:
    """A JWT-shaped access token (HS256 with the client secret): clients read `exp` from it, as Jobber's own
    template does; the sandbox itself only looks tokens up in the store."""
    head = _b64url(json.dumps({"typ": "JWT", "alg": "HS256"}, separators=(",", ":")).encode())
    body = _b64url(json.dumps(payload, separators=(",", ":")).encode())
    signed = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64url(signed)}"


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit(parts._replace(query=query))


def _same(given: Any, expected: str) -> bool:
    return isinstance(given, str) and hmac.compare_digest(given.encode(), expected.encode())


INVALID_CODE = {"error": "invalid_grant",
                "error_description": "The provided authorization grant is invalid, expired, revoked, does not match "
                                     "the redirection URI used in the authorization request, or was issued to "
                                     "another client."}
INVALID_REFRESH = {"error": "invalid_grant", "error_description": "The provided refresh token is not valid."}


class Tokens:
    """Codes, refresh tokens (rotation: only the newest is valid) and access tokens, all in the store:
    `oauth/refresh`, `oauth_codes/<code>`, `oauth_access/<token>`."""

    def __init__(self, store: SandboxStore, client_id: str, client_secret: str, initial_refresh_token: str | None,
                 access_token_ttl: int) -> None:
        self._store = store
        self.client_id = client_id
        self._secret = client_secret
        self._ttl = access_token_ttl
        if store.get("oauth", "refresh") is None:
            store.put("oauth", "refresh", {"valid": [initial_refresh_token] if initial_refresh_token else [],
                                           "refreshes": 0})

    def client_ok(self, form: dict[str, Any]) -> bool:
        return _same(form.get("client_id"), self.client_id) and _same(form.get("client_secret"), self._secret)

    def issue_code(self, redirect_uri: str) -> str:
        code = secrets.token_hex(16)
        self._store.put("oauth_codes", code, {"redirect_uri": redirect_uri,
                                              "expires_at": time.time() + CODE_TTL_SECONDS})
        return code

    def exchange_code(self, form: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        code = form.get("code")
        grant = self._store.get("oauth_codes", code) if isinstance(code, str) and code else None
        if grant is None or grant["expires_at"] < time.time() or grant["redirect_uri"] != form.get("redirect_uri"):
            return 400, INVALID_CODE
        self._store.delete("oauth_codes", code)
        access, refresh, _expires = self._issue()
        return 200, {"access_token": access, "refresh_token": refresh}

    def refresh(self, form: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        state = self._store.get("oauth", "refresh") or {"valid": [], "refreshes": 0}
        given = form.get("refresh_token")
        if not any(_same(given, valid) for valid in state["valid"]):
            return 401, INVALID_REFRESH
        access, refresh, expires = self._issue()
        self._count_refresh()
        stamp = datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        return 200, {"access_token": access, "refresh_token": refresh, "expires_at": stamp}

    def _issue(self) -> tuple[str, str, int]:
        """A new access token and a new refresh token, which becomes the only valid one."""
        now = int(time.time())
        expires = now + self._ttl
        access = _jwt({"client_id": self.client_id, "account_id": ACCOUNT_ID, "iat": now, "exp": expires,
                       "jti": secrets.token_hex(8)}, self._secret)
        refresh = secrets.token_hex(16)
        state = self._store.get("oauth", "refresh") or {"refreshes": 0}
        self._store.put("oauth", "refresh", {**state, "valid": [refresh]})
        self._store.put("oauth_access", access, {"expires_at": expires})
        return access, refresh, expires

    def _count_refresh(self) -> None:
        state = self._store.get("oauth", "refresh") or {"valid": []}
        self._store.put("oauth", "refresh", {**state, "refreshes": int(state.get("refreshes", 0)) + 1})

    def authenticated(self, header: str | None) -> bool:
        if not header or not header.startswith("Bearer "):
            return False
        grant = self._store.get("oauth_access", header.removeprefix("Bearer ").strip())
        return grant is not None and grant["expires_at"] > time.time()

    def expire_all(self) -> int:
        tokens = self._store.ids("oauth_access")
        for token in tokens:
            self._store.put("oauth_access", token, {"expires_at": 0})
        return len(tokens)

    def summary(self) -> dict[str, Any]:
        state = self._store.get("oauth", "refresh") or {"valid": [], "refreshes": 0}
        return {"refreshes": state.get("refreshes", 0), "valid_refresh_token_count": len(state["valid"])}


# ---- query cost -------------------------------------------------------------------------------------------------

class CostBucket:
    """Jobber's per-account leaky bucket of query-cost points: `currentlyAvailable` refills continuously at
    `restoreRate` points a second up to `maximumAvailable`; a query asking for more than is available is
    throttled, an executed one spends its actual cost."""

    def __init__(self, maximum: int, restore_rate: int) -> None:
        self.maximum = float(maximum)
        self.restore_rate = float(restore_rate)
        self._available = float(maximum)
        self._at = time.monotonic()
        self.lock = threading.Lock()
        self.throttled = 0  # queries answered THROTTLED (the admin API shows it)

    def available(self) -> float:
        now = time.monotonic()
        self._available = min(self.maximum, self._available + (now - self._at) * self.restore_rate)
        self._at = now
        return self._available

    def spend(self, points: int) -> None:
        self._available = max(0.0, self.available() - points)

    def set(self, body: dict[str, Any]) -> None:
        self.available()
        for key, attr in (("maximumAvailable", "maximum"), ("restoreRate", "restore_rate"),
                          ("currentlyAvailable", "_available")):
            if key in body:
                value = _decimal(body[key], key)
                if value < 0:
                    raise SeedError(f"{key} must be ≥ 0")
                setattr(self, attr, float(value))
        self._available = min(self._available, self.maximum)

    def status(self) -> dict[str, int]:
        return {"maximumAvailable": int(self.maximum), "currentlyAvailable": int(self.available()),
                "restoreRate": int(self.restore_rate), "throttled": self.throttled}


class ActualCost:
    """`actualQueryCost`: the same formula with the nodes actually returned, counted while executing (a
    graphql-core middleware sees every field resolved): 1 per resolved field except the free ones. An element of
    a plain list (not a connection's `nodes`/`edges`) counts only for the first element, as the requested cost
    counts it once — so the actual cost never exceeds the requested one."""

    def __init__(self) -> None:
        self.cost = 0
        self._paged: set[tuple[str | int, ...]] = set()

    def resolve(self, next_: Callable[..., Any], root: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
        path = tuple(info.path.as_list())
        if info.field_name in PAGED_FIELDS and info.parent_type.name.endswith("Connection"):
            self._paged.add(path)
        if info.field_name not in FREE_FIELDS and self._counted(path):
            self.cost += 1
        return next_(root, info, **args)

    def _counted(self, path: tuple[str | int, ...]) -> bool:
        return all(not isinstance(key, int) or key == 0 or path[:i] in self._paged for i, key in enumerate(path))


# ---- GraphQL resolvers ------------------------------------------------------------------------------------------

@dataclass
class Context:
    records: Records


def _cursor(index: int) -> str:
    """An opaque cursor, as graphql-ruby makes them: base64 (URL-safe, unpadded) of the 1-based position."""
    return _b64url(str(index + 1).encode())


def _cursor_index(cursor: str) -> int:
    try:
        return int(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise GraphQLError(f"Invalid cursor: {cursor!r}") from None


def page(items: list[dict[str, Any]], first: int | None = None, after: str | None = None) -> dict[str, Any]:
    """One Relay connection page: `first` (default and maximum 100) items after the `after` cursor."""
    size = PAGE_MAX if first is None else max(0, min(first, PAGE_MAX))
    start = _cursor_index(after) if after else 0
    chunk = items[start:start + size]
    edges = [{"cursor": _cursor(start + i), "node": node} for i, node in enumerate(chunk)]
    return {"nodes": chunk, "edges": edges, "totalCount": len(items),
            "pageInfo": {"hasNextPage": start + len(chunk) < len(items), "hasPreviousPage": start > 0,
                         "startCursor": edges[0]["cursor"] if edges else None,
                         "endCursor": edges[-1]["cursor"] if edges else None}}


def _records(info: GraphQLResolveInfo) -> Records:
    return info.context.records


def _by_id(kind: str) -> Callable[..., Any]:
    def resolve(_root: Any, info: GraphQLResolveInfo, id: Any) -> dict[str, Any] | None:
        return _records(info).get(kind, id)

    return resolve


def _all(kind: str) -> Callable[..., Any]:
    def resolve(_root: Any, info: GraphQLResolveInfo, first: int | None = None, after: str | None = None) -> Any:
        return page(_records(info).all(kind), first, after)

    return resolve


def _ref(kind: str, key: str, typename: str | None = None) -> Callable[..., Any]:
    """The object a stored id points at (a union member gets its `__typename`)."""
    def resolve(obj: dict[str, Any], info: GraphQLResolveInfo) -> dict[str, Any] | None:
        target = _records(info).get(kind, obj.get(key)) if obj.get(key) else None
        return {**target, "__typename": typename} if target and typename else target

    return resolve


def _children(kind: str, typename: str | None = None) -> Callable[..., Any]:
    """A connection over the objects whose `job` is this one."""
    def resolve(obj: dict[str, Any], info: GraphQLResolveInfo, first: int | None = None,
                after: str | None = None) -> dict[str, Any]:
        items = _records(info).children(kind, "job", obj["id"])
        if typename:
            items = [{**item, "__typename": typename} for item in items]
        return page(items, first, after)

    return resolve


def _money(key: str) -> Callable[..., Any]:
    def resolve(obj: dict[str, Any], _info: GraphQLResolveInfo) -> float | None:
        return None if obj.get(key) is None else float(obj[key])

    return resolve


def _line_total(obj: dict[str, Any]) -> Decimal:
    return Decimal(str(obj["quantity"])) * Decimal(str(obj["unitPrice"]))


def _job_total(obj: dict[str, Any], info: GraphQLResolveInfo) -> float:
    return float(sum((_line_total(i) for i in _records(info).children("JobLineItem", "job", obj["id"])),
                     Decimal(0)))


def _assigned_users(obj: dict[str, Any], info: GraphQLResolveInfo, first: int | None = None,
                    after: str | None = None) -> dict[str, Any]:
    users = [_records(info).get("User", user_id) for user_id in obj.get("assignedUsers") or []]
    return page([u for u in users if u is not None], first, after)


def _owner(_root: Any, info: GraphQLResolveInfo, id: Any = None) -> dict[str, Any] | None:
    """`user` without an id is the current user: here the account owner, the first user seeded."""
    if id is not None:
        return _records(info).get("User", id)
    return next(iter(_records(info).all("User")), None)


def _client_name(obj: dict[str, Any], _info: GraphQLResolveInfo) -> str:
    person = f"{obj.get('firstName') or ''} {obj.get('lastName') or ''}".strip()
    return obj.get("companyName") or person


def _client_emails(obj: dict[str, Any], _info: GraphQLResolveInfo) -> list[dict[str, Any]]:
    return [{"address": obj["email"], "description": "MAIN", "primary": True}] if obj.get("email") else []


def _client_phones(obj: dict[str, Any], _info: GraphQLResolveInfo) -> list[dict[str, Any]]:
    return [{"number": obj["phone"], "description": "MAIN", "primary": True}] if obj.get("phone") else []


def _final_duration(obj: dict[str, Any], _info: GraphQLResolveInfo) -> int:
    """Seconds between start and end; 0 while the timer is ticking (Jobber's documented behaviour)."""
    return _seconds(obj["startAt"], obj["endAt"]) if obj.get("endAt") else 0


RESOLVERS: dict[str, dict[str, Callable[..., Any]]] = {
    "Query": {"job": _by_id("Job"), "visit": _by_id("Visit"), "timeSheetEntry": _by_id("TimeSheetEntry"),
              "expense": _by_id("Expense"), "user": _owner, "users": _all("User"), "jobs": _all("Job"),
              "account": lambda _root, _info: {"id": ACCOUNT_ID, "name": ACCOUNT_NAME}},
    "Job": {"client": _ref("Client", "client"), "property": _ref("Property", "property"),
            "visits": _children("Visit"), "lineItems": _children("JobLineItem"),
            "timeSheetEntries": _children("TimeSheetEntry"), "expenses": _children("Expense"),
            "notes": _children("JobNote", typename="JobNote"), "total": _job_total,
            "jobberWebUri": lambda obj, _i: f"https://secure.getjobber.com/work_orders/{obj['jobNumber']}"},
    "Visit": {"assignedUsers": _assigned_users, "job": _ref("Job", "job")},
    "User": {"name": lambda obj, _i: {"first": obj["first"], "last": obj["last"],
                                      "full": f"{obj['first']} {obj['last']}".strip()},
             "email": lambda obj, _i: {"raw": obj["email"], "isValid": "@" in obj["email"]}},
    "TimeSheetEntry": {"user": _ref("User", "user"), "job": _ref("Job", "job"), "finalDuration": _final_duration,
                       "ticking": lambda obj, _i: obj.get("endAt") is None},
    "ProductOrService": {"defaultUnitCost": _money("unitPrice")},
    "JobLineItem": {"quantity": _money("quantity"), "unitPrice": _money("unitPrice"),
                    "totalPrice": lambda obj, _i: float(_line_total(obj)),
                    "linkedProductOrService": _ref("ProductOrService", "product")},
    "Expense": {"total": _money("total"), "enteredBy": _ref("User", "enteredBy"), "linkedJob": _ref("Job", "job")},
    "JobNote": {"createdBy": _ref("User", "createdBy", typename="User")},
    "Client": {"name": _client_name, "isCompany": lambda obj, _i: bool(obj.get("companyName")),
               "emails": _client_emails, "phones": _client_phones},
    "Property": {"client": _ref("Client", "client")},
}


def load_schema() -> GraphQLSchema:
    """connectors/jobber/schema.graphql with the sandbox's resolvers attached (a KeyError names a resolver for a
    field the SDL no longer has)."""
    schema = build_schema(SCHEMA_PATH.read_text())
    for type_name, fields in RESOLVERS.items():
        graphql_type = schema.get_type(type_name)
        assert isinstance(graphql_type, GraphQLObjectType), type_name
        for field_name, resolver in fields.items():
            graphql_type.fields[field_name].resolve = resolver
    return schema


SCHEMA = load_schema()


class GraphQLEngine:
    """Parse, validate, cost, throttle, execute: the part of `/api/graphql` after the HTTP checks."""

    def __init__(self, records: Records, bucket: CostBucket) -> None:
        self.records = records
        self.bucket = bucket

    def run(self, query: str, variables: dict[str, Any], operation_name: str | None) -> dict[str, Any]:
        try:
            document = parse(query)
        except GraphQLError as exc:
            return {"errors": [_validation_error(exc)]}
        problems = validate(SCHEMA, document)
        if problems:
            return {"errors": [_validation_error(e) for e in problems]}
        operation = get_operation_ast(document, operation_name)
        requested = RequestedCost(SCHEMA, document, operation, variables).total(operation) if operation else 0
        with self.bucket.lock:
            if requested > self.bucket.available():
                self.bucket.throttled += 1
                return {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED",
                                                                           "documentation": THROTTLE_DOCS}}],
                        "extensions": self._cost(requested, 0)}
            counter = ActualCost()
            result = execute(SCHEMA, document, context_value=Context(self.records), variable_values=variables,
                             operation_name=operation_name, middleware=[counter])
            assert not hasattr(result, "__await__"), "the sandbox's resolvers are synchronous"
            self.bucket.spend(counter.cost)
            answer: dict[str, Any] = {"data": result.data}
            if result.errors:
                answer["errors"] = [e.formatted for e in result.errors]
            answer["extensions"] = self._cost(requested, counter.cost)
        return answer

    def _cost(self, requested: int, actual: int) -> dict[str, Any]:
        return {"cost": {"requestedQueryCost": requested, "actualQueryCost": actual,
                         "throttleStatus": self.bucket.status()}}


def _validation_error(error: GraphQLError) -> dict[str, Any]:
    return {**error.formatted, "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}}


def graphql_request(raw: bytes) -> tuple[str, dict[str, Any], str | None] | str:
    """(query, variables, operationName) of a request body, or why it is not one (answered 400)."""
    try:
        body = json.loads(raw) if raw else None
    except (ValueError, RecursionError):
        return "the body is not JSON"
    if not isinstance(body, dict) or not isinstance(body.get("query"), str) or not body["query"].strip():
        return "expected {\"query\": string, \"variables\"?: object, \"operationName\"?: string}"
    variables, operation_name = body.get("variables") or {}, body.get("operationName")
    if not isinstance(variables, dict):
        return "variables must be an object"
    if operation_name is not None and not isinstance(operation_name, str):
        return "operationName must be a string"
    return body["query"], variables, operation_name


# ---- HTTP -------------------------------------------------------------------------------------------------------

def _json(body: Any, status: int = 200) -> ExactJSONResponse:
    return ExactJSONResponse(body, status_code=status)


async def _form(request: Request) -> dict[str, Any]:
    """The token request's parameters: form-encoded as Jobber documents, JSON as some clients send."""
    raw = await request.body()
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            body = json.loads(raw)
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}
    try:
        return {k: v[0] for k, v in parse_qs(raw.decode()).items()}
    except UnicodeDecodeError:
        return {}


async def _admin_body(request: Request) -> dict[str, Any]:
    body = await read_json(request)
    if body is None:
        return {}
    if is_malformed(body) or not isinstance(body, dict):
        raise SeedError("the body must be a JSON object")
    return body


async def _admin(request: Request, action: Callable[[dict[str, Any]], Any]) -> ExactJSONResponse:
    """Run an admin action on the request body: bad input is 400, an unknown object 404."""
    try:
        return _json(action(await _admin_body(request)))
    except SeedError as exc:
        return _json({"message": str(exc)}, 400)
    except UnknownItem as exc:
        return _json({"message": str(exc.args[0])}, 404)


def add_oauth_routes(app: FastAPI, tokens: Tokens) -> None:
    @app.get("/api/oauth/authorize")
    async def authorize(request: Request) -> Response:
        """The sandbox's account admin consents at once: straight back to the callback with a code."""
        params = request.query_params
        if not _same(params.get("client_id"), tokens.client_id):
            return _json({"error": "invalid_client"}, 400)
        if params.get("response_type", "code") != "code":
            return _json({"error": "unsupported_response_type"}, 400)
        redirect_uri = params.get("redirect_uri")
        if not redirect_uri:
            return _json({"error": "invalid_request", "error_description": "redirect_uri is required"}, 400)
        query = {"code": tokens.issue_code(redirect_uri)}
        if params.get("state"):
            query["state"] = params["state"]
        return RedirectResponse(_with_query(redirect_uri, query), status_code=302)

    @app.post("/api/oauth/token")
    async def token(request: Request) -> ExactJSONResponse:
        form = await _form(request)
        if not tokens.client_ok(form):
            return _json({"error": "invalid_client"}, 401)
        grant = form.get("grant_type")
        if grant == "authorization_code":
            status, body = tokens.exchange_code(form)
        elif grant == "refresh_token":
            status, body = tokens.refresh(form)
        else:
            status, body = 400, {"error": "unsupported_grant_type"}
        return _json(body, status)


def add_graphql_route(app: FastAPI, tokens: Tokens, engine: GraphQLEngine) -> None:
    @app.post("/api/graphql")
    async def graphql_endpoint(request: Request) -> ExactJSONResponse:
        if not tokens.authenticated(request.headers.get("authorization")):
            return _json(UNAUTHORIZED, 401)
        version = request.headers.get(VERSION_HEADER, "")
        if version not in SUPPORTED_VERSIONS:
            return _json({"message": f"GraphQL API version '{version}' does not exist"}, 404)
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type != "application/json":
            return _json({"message": "Unsupported Media Type: send Content-Type: application/json"}, 415)
        parsed = graphql_request(await request.body())
        if isinstance(parsed, str):
            return _json({"message": parsed}, 400)
        return _json(engine.run(*parsed))


def add_admin_routes(app: FastAPI, records: Records, jobs: JobAdmin, tokens: Tokens, sender: WebhookSender,
                     bucket: CostBucket) -> None:
    @app.post("/_sandbox/users")
    async def seed_users(request: Request) -> ExactJSONResponse:
        return await _admin(request, lambda body: {"users": [
            {"id": u["id"], "email": u["email"]}
            for u in (records.upsert_user(s) for s in _objects(body.get("users"), "users"))]})

    @app.post("/_sandbox/products")
    async def seed_products(request: Request) -> ExactJSONResponse:
        return await _admin(request, lambda body: {"products": [
            {"id": p["id"], "name": p["name"]}
            for p in (records.upsert_product(s) for s in _objects(body.get("products"), "products"))]})

    @app.post("/_sandbox/jobs")
    async def seed_job(request: Request) -> ExactJSONResponse:
        return await _admin(request, jobs.create)

    @app.post("/_sandbox/jobs/{job_id}/close")
    async def close_job(job_id: str, request: Request) -> ExactJSONResponse:
        return await _admin(request, lambda body: jobs.close(job_id, body))

    @app.post("/_sandbox/jobs/{job_id}/reopen")
    async def reopen_job(job_id: str, request: Request) -> ExactJSONResponse:
        return await _admin(request, lambda _body: jobs.reopen(job_id))

    @app.post("/_sandbox/jobs/{job_id}/edit")
    async def edit_job(job_id: str, request: Request) -> ExactJSONResponse:
        return await _admin(request, lambda body: jobs.edit(job_id, body))

    @app.post("/_sandbox/oauth/expire-access")
    async def expire_access() -> ExactJSONResponse:
        return _json({"expired": tokens.expire_all()})

    @app.get("/_sandbox/oauth")
    async def oauth_state() -> ExactJSONResponse:
        return _json(tokens.summary())

    @app.post("/_sandbox/throttle")
    async def set_throttle(request: Request) -> ExactJSONResponse:
        def apply(body: dict[str, Any]) -> dict[str, int]:
            with bucket.lock:
                bucket.set(body)
                return bucket.status()

        return await _admin(request, apply)

    @app.get("/_sandbox/throttle")
    async def get_throttle() -> ExactJSONResponse:
        with bucket.lock:
            return _json(bucket.status())

    @app.post("/_sandbox/webhooks")
    async def configure_webhooks(request: Request) -> ExactJSONResponse:
        return await _admin(request, sender.configure)

    @app.get("/_sandbox/webhooks")
    async def webhook_status() -> ExactJSONResponse:
        return _json(sender.status())

    @app.post("/_sandbox/webhooks/send")
    async def send_webhook(request: Request) -> ExactJSONResponse:
        def send(body: dict[str, Any]) -> dict[str, Any]:
            delivery = sender.emit(_text(body, "topic", "webhook"), _text(body, "itemId", "webhook"),
                                   any_topic=True)
            return {"enqueued": delivery is not None, "id": delivery}

        return await _admin(request, send)


def create_app(
    client_id: str,
    client_secret: str,
    initial_refresh_token: str | None,
    faults: FaultConfig,
    state_path: Path | None,
    *,
    request_limit: int = 2500,
    request_window_seconds: float = 300.0,
    access_token_ttl: int = 3600,
    maximum_available: int = 10000,
    restore_rate: int = 500,
) -> Sandbox:
    """Build the Jobber emulator. The fault knobs apply to `/api/graphql` only (OAuth and `/_sandbox` are exempt);
    `request_limit` per `request_window_seconds` is Jobber's per-account request ceiling."""
    store = SandboxStore(state_path or ":memory:")
    records = Records(store)
    tokens = Tokens(store, client_id, client_secret, initial_refresh_token, access_token_ttl)
    sender = WebhookSender(store, client_id, client_secret)
    bucket = CostBucket(maximum_available, restore_rate)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            sender.stop()

    app = FastAPI(title="Jobber sandbox", lifespan=lifespan)
    add_oauth_routes(app, tokens)
    add_graphql_route(app, tokens, GraphQLEngine(records, bucket))
    add_admin_routes(app, records, JobAdmin(records, sender), tokens, sender, bucket)
    box = build_sandbox("jobber", app, store, faults, error_body,
                        rate_window=RateWindow(request_limit, request_window_seconds),
                        rate_limit_body=rate_limit_body, exempt=("/api/oauth",))
    box.extra.update(webhooks=sender, bucket=bucket)
    return box
