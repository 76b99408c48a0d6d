"""Every sandbox answers garbage the way its vendor would: a 4xx in the vendor's error shape, never a 5xx.

Run by tests/test_sandbox_fuzz.py in a process of its own (see there why); `uv run pytest tests/fuzz_sandboxes.py`
runs it directly.

Each sandbox's routes are read from its FastAPI app, so a new route is fuzzed without touching this file
(the `/_sandbox/*` admin routes and the docs are left out). Hypothesis drives every route, authenticated
so the request reaches the handler, with garbage path parameters (unicode, quotes, backslashes, `%`
sequences, very long strings), query strings in and out of the vendor's grammar (SOQL, QuickBooks
queries, Xero `where` and `If-Modified-Since`, date ranges, paging), content types, and bodies: bytes,
JSON of the wrong shape, deep nesting, huge numbers, and valid requests with parts swapped for garbage.
Unauthenticated requests must get 401/403. Faults are off and the rate limits out of reach, so any 5xx
is a sandbox bug.

Requests go in-process, through the same ASGI stack (fault injector included) that SandboxServer serves;
`test_in_process_answers_match_the_server` checks the two answer alike.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote
from xml.etree import ElementTree

import httpx
import pytest
import simplejson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from connectors import signing
from connectors.bamboohr import sandbox as bamboo_sandbox
from connectors.emulator import FaultConfig, Sandbox, SandboxServer
from connectors.gusto import sandbox as gusto_sandbox
from connectors.http import jsonbody
from connectors.hubspot import sandbox as hubspot_sandbox
from connectors.quickbooks import sandbox as qbo_sandbox
from connectors.salesforce import sandbox as sf_sandbox
from connectors.webhook import sandbox as webhook_sandbox
from connectors.xero import sandbox as xero_sandbox

FUZZ = settings(max_examples=25, deadline=None, database=None, derandomize=True,
                suppress_health_check=list(HealthCheck))
UNAUTH = settings(FUZZ, max_examples=8)
HIGH = 10**9  # every rate limit out of reach: a 429 would stop requests short of the handler

# ---- garbage ------------------------------------------------------------------------------------------
NASTY = ["", " ", "'", '"', "\\", "\\'", "''", "%", "%%", "%00", "%zz", "%2F", "%252F", "%C3%28", "..", "/", "?",
         "#", "&", "=", ";", "+", "null", "None", "true", "-1", "0", "1.5", "1e999", "NaN", "sNaN", "Infinity",
         "-Infinity", "99999999999999999999999999", "²", "٣", "😀", "\u202e", "é", "\x00", "\n", "\t",
         "' OR '1'='1", "<x/>", "{}", "[]", "${x}", "%s%n", "2026-02-30", "0000-00-00", "9999-12-31T23:59:59Z"]
GARBAGE = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=40),
    st.text(alphabet="'\"\\%/?#&=+;:,.<>{}[]()*!$@^`|~ \x00\té😀²", max_size=40),
    st.builds(lambda c, n: c * n, st.sampled_from(["a", "%", "'", "\\", "é", "😀", "9", "("]), st.integers(256, 3000)),
    st.integers().map(str),
    st.floats().map(str),
)
RAW_SEGMENT = st.lists(st.sampled_from(["%", "%2", "%25", "%2F", "%2f", "%00", "%ff", "%C3%A9", "%E2%82", "%zz",
                                        "%5C", "%27", "a", "Z", "0", "-", "_", "~", "'", "!", "*", "(", ")"]),
                       min_size=1, max_size=12).map("".join)
HEADER_TEXT = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60)  # httpx sends ASCII
CONTENT_TYPES = st.one_of(st.sampled_from([
    None, "application/json", "application/json; charset=utf-8", "application/json; charset=latin-1", "text/plain",
    "application/text", "application/x-www-form-urlencoded", "multipart/form-data; boundary=zz", "application/xml",
    "*/*", ""]), HEADER_TEXT)
RAW_NUMBERS = ["1e999", "-1e999", "1E-999", "NaN", "Infinity", "-Infinity", "-0", "1e40", "0.1e-5",
               "123456789012345678901234567890.123456789", "99999999999999999999999999999999999999"]


@dataclass(frozen=True)
class Raw:
    """JSON text spliced in as it is: numbers no encoder writes, deep nesting."""

    text: str


DEEP = st.integers(600, 4000).flatmap(lambda n: st.sampled_from(["[" * n + "]" * n, '{"a":' * n + "1" + "}" * n]))
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**30), 10**30) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20) | st.sampled_from(NASTY) | st.sampled_from(RAW_NUMBERS).map(Raw) | DEEP.map(Raw),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12)
_RAW = re.compile("\"\ue000(.*?)\ue001\"", re.DOTALL)


def encode(value: Any) -> bytes:
    def prep(v: Any) -> Any:
        if isinstance(v, Raw):
            return f"\ue000{v.text}\ue001"
        if isinstance(v, dict):
            return {k: prep(x) for k, x in v.items()}
        return [prep(x) for x in v] if isinstance(v, list) else v

    text = simplejson.dumps(prep(value), use_decimal=True, ensure_ascii=False)
    return _RAW.sub(lambda m: m.group(1), text).encode()


def weighted(good: st.SearchStrategy, bad: st.SearchStrategy, n_good: int = 4) -> st.SearchStrategy:
    return st.one_of(*[good] * n_good, bad)


def mutate(template: Any) -> st.SearchStrategy:
    """A valid request body with parts dropped, added or swapped for garbage (mostly close to valid)."""
    if isinstance(template, dict):
        parts = {k: mutate(v) for k, v in template.items()}
        full = st.fixed_dictionaries(parts)
        extra = st.dictionaries(st.text(max_size=12) | st.sampled_from(list(template) or ["x"]), JSON_VALUES,
                                max_size=2)
        inner = st.one_of(full, full, full, st.fixed_dictionaries({}, optional=parts),
                          st.tuples(full, extra).map(lambda p: {**p[0], **p[1]}))
    elif isinstance(template, list) and template:
        inner = st.one_of(st.lists(st.one_of([mutate(t) for t in template]), min_size=1, max_size=3),
                          st.just([]), st.lists(JSON_VALUES, max_size=3))
    else:
        inner = st.just(template)
    return weighted(inner, JSON_VALUES, 6)


# ---- vendors ------------------------------------------------------------------------------------------
@dataclass
class Ctx:
    """What a vendor's setup leaves behind: auth headers, ids worth hitting, body templates."""

    headers: dict[str, str]
    known: dict[str, list[str]] = field(default_factory=dict)  # path parameter -> values that exist
    templates: dict[tuple[str, str], list[tuple[dict[str, str], Any]]] = field(default_factory=dict)
    forms: dict[str, dict[str, st.SearchStrategy]] = field(default_factory=dict)  # OAuth form endpoints
    sign: Callable[[bytes], dict[str, str]] | None = None  # per-body auth (webhook signatures)


@dataclass
class Vendor:
    name: str
    build: Callable[[], Sandbox]
    setup: Callable[[httpx.Client], Ctx]
    shape: Callable[[httpx.Response, Any], bool]  # is this 4xx body the vendor's error shape?
    public: tuple[str, ...] = ()  # paths served without the API credentials (OAuth, discovery)
    query: dict[str, st.SearchStrategy] = field(default_factory=dict)  # grammar-aware query values
    headers: dict[str, st.SearchStrategy] = field(default_factory=dict)  # optional headers the vendor reads
    body_text: st.SearchStrategy | None = None  # text bodies in the vendor's grammar (QuickBooks query)


def _ok(resp: httpx.Response) -> Any:
    assert resp.status_code < 300, resp.text
    return jsonbody.loads(resp.content) if resp.content else None


def _oauth_error(body: Any) -> bool:
    return isinstance(body, dict) and isinstance(body.get("error"), str)


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# HubSpot --------------------------------------------------------------------------------------------------
HS_TOKEN = "pat-fuzz-hubspot"
TICKET = {"subject": "Fuzz", "hs_pipeline": "0", "hs_pipeline_stage": "1", "fieldbridge_job_id": "J-FUZZ"}


def _hubspot_setup(c: httpx.Client) -> Ctx:
    h = {"Authorization": f"Bearer {HS_TOKEN}"}
    ticket = _ok(c.post("/crm/v3/objects/tickets", headers=h, json={"properties": TICKET}))["id"]
    assoc = [{"to": {"id": ticket}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 228}]}]
    note = _ok(c.post("/crm/v3/objects/notes", headers=h, json={"properties": {
        "hs_timestamp": "2026-03-02T10:00:00Z", "hs_note_body": "n", "fieldbridge_note_key": "k"},
        "associations": assoc}))["id"]
    search = {"filterGroups": [{"filters": [{"propertyName": "subject", "operator": "EQ", "value": "Fuzz",
                                             "values": ["a", 1], "highValue": "z"}]}],
              "sorts": [{"propertyName": "subject", "direction": "DESCENDING"}], "properties": ["subject"],
              "limit": 10, "after": 0}
    return Ctx(h, {"object_type": ["tickets", "notes"], "to_type": ["tickets", "notes"], "object_id": [ticket, note],
                   "to_id": [ticket, note]}, {
        ("POST", "/crm/v3/objects/{object_type}"): [
            ({"object_type": "tickets"}, {"properties": {**TICKET, "fieldbridge_job_id": "J-2"}}),
            ({"object_type": "notes"}, {"properties": {"hs_timestamp": "2026-03-02T10:00:00Z"},
                                        "associations": assoc})],
        ("POST", "/crm/v3/objects/{object_type}/search"): [({}, search)],
        ("PATCH", "/crm/v3/objects/{object_type}/{object_id}"): [({}, {"properties": {"hs_pipeline_stage": "4"}})],
        ("PUT", "/crm/v4/objects/{object_type}/{object_id}/associations/{to_type}/{to_id}"): [
            ({}, [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 228}])],
    })


def _hubspot_shape(resp: httpx.Response, body: Any) -> bool:
    return isinstance(body, dict) and body.get("status") == "error" and isinstance(body.get("message"), str) \
        and isinstance(body.get("category") or body.get("errorType"), str)


# Salesforce -------------------------------------------------------------------------------------------
SF_ID, SF_SECRET, SF_RT = "sf-fuzz", "sf-fuzz-secret", "5Aep-fuzz"
_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
SF_PUBLIC_KEY = _KEY.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo).decode()
JWT_PART = st.one_of(JSON_VALUES.map(lambda v: _b64url(encode(v))), st.binary(max_size=24).map(_b64url), GARBAGE,
                     st.just(_b64url(b'{"alg":"RS256"}')),
                     st.fixed_dictionaries({"iss": st.sampled_from([SF_ID, "x"]), "exp": JSON_VALUES | st.integers()},
                                           optional={"aud": JSON_VALUES}).map(lambda v: _b64url(encode(v))))
SOQL = st.lists(st.sampled_from([
    "SELECT", "Id", "Subject", "Status", "FSM_Job_Id__c", "CommentBody", "ParentId", "IsClosed", "CreatedDate",
    "Foo__c", "FROM", "Case", "CaseComment", "Account", "WHERE", "AND", "OR", "NOT", "IN", "LIKE", "ORDER BY",
    "ASC", "DESC", "NULLS", "FIRST", "LIMIT", "OFFSET", "=", "!=", "<>", "<", ">=", "(", ")", ",", "'J-FUZZ'", "'",
    "'%'", "'\\''", "'\\\\'", "''", "null", "true", "1", "-1", "1.5", "99999999999999999999", "2026-11-24",
    "2026-13-45T99:99:99Z", "2026-11-24T08:00:00Z", "COUNT()", "*", ";", "\\", "%", "😀"]), max_size=20).map(" ".join)
SOQL_Q = st.one_of(SOQL, SOQL.map(lambda s: "SELECT Id, Subject FROM Case " + s), GARBAGE,
                   st.integers(1, 3000).map(lambda n: "SELECT Id FROM Case WHERE " + "(" * n + "Id = '1'" + ")" * n),
                   st.integers(1, 3000).map(lambda n: "SELECT Id FROM Case WHERE " + "NOT " * n + "Id = '1'"),
                   st.sampled_from(["SELECT Subject FROM Case WHERE Subject < 5",
                                    "SELECT Id FROM Case ORDER BY Subject DESC NULLS LAST LIMIT 1 OFFSET 1"]))


def _sf_setup(c: httpx.Client) -> Ctx:
    grant = _ok(c.post("/services/oauth2/token", data={"grant_type": "refresh_token", "client_id": SF_ID,
                                                       "client_secret": SF_SECRET, "refresh_token": SF_RT}))
    h = {"Authorization": f"Bearer {grant['access_token']}"}
    base = "/services/data/v60.0/sobjects"
    case = _ok(c.post(f"{base}/Case", headers=h, json={"Subject": "Fuzz", "FSM_Job_Id__c": "J-FUZZ"}))["id"]
    comment = _ok(c.post(f"{base}/CaseComment", headers=h, json={"ParentId": case, "CommentBody": "c"}))["id"]
    case_t = {"Subject": "s", "Status": "Working", "Origin": "Web", "FSM_Job_Id__c": "J-2", "Description": "d"}
    comment_t = {"ParentId": case, "CommentBody": "c", "IsPublished": True}
    by_type = [({"sobject": "Case"}, case_t), ({"sobject": "CaseComment"}, comment_t)]
    upsert = [({}, {k: v for k, v in case_t.items() if k != "FSM_Job_Id__c"})]
    collection = {"allOrNone": False, "records": [{"attributes": {"type": "Case"}, **case_t},
                                                  {"attributes": {"type": "CaseComment"}, **comment_t}]}
    templates = {("POST", p): by_type for p in ("/services/data/v{version}/sobjects/{sobject}",
                                                 "/services/data/v{version}/sobjects/{sobject}/")}
    templates.update({
        ("PATCH", "/services/data/v{version}/sobjects/{sobject}/{record_id}"): by_type,
        ("PATCH", "/services/data/v{version}/sobjects/{sobject}/{field}/{value}"): upsert,
        ("POST", "/services/data/v{version}/composite/sobjects"): [({}, collection)],
        ("PATCH", "/services/data/v{version}/composite/sobjects/{sobject}/{field}"): [({}, {
            "allOrNone": True, "records": [{"attributes": {"type": "Case"}, **case_t}]})],
    })
    form = {"grant_type": weighted(st.sampled_from(["refresh_token", "urn:ietf:params:oauth:grant-type:jwt-bearer"]),
                                   GARBAGE),
            "client_id": weighted(st.just(SF_ID), GARBAGE), "client_secret": weighted(st.just(SF_SECRET), GARBAGE),
            "refresh_token": GARBAGE,
            "assertion": weighted(st.tuples(JWT_PART, JWT_PART, JWT_PART).map(".".join), GARBAGE, 3)}
    return Ctx(h, {"version": ["60.0"], "sobject": ["Case", "CaseComment"], "record_id": [case, comment],
                   "field": ["FSM_Job_Id__c", "Id"], "value": ["J-FUZZ", case], "cursor": ["01g0-0"]},
               templates, {"/services/oauth2/token": form})


def _sf_shape(resp: httpx.Response, body: Any) -> bool:
    if resp.request.url.path.startswith("/services/oauth2/"):
        return _oauth_error(body)
    return isinstance(body, list) and bool(body) and all(
        isinstance(e, dict) and isinstance(e.get("message"), str) and isinstance(e.get("errorCode"), str)
        for e in body)


# QuickBooks -------------------------------------------------------------------------------------------
QB_ID, QB_SECRET, QB_RT, REALM = "qb-fuzz", "qb-fuzz-secret", "RT1-fuzz", "9341450000000001"
QB_BASIC = "Basic " + base64.b64encode(f"{QB_ID}:{QB_SECRET}".encode()).decode()
QBO_QUERY = st.lists(st.sampled_from([
    "SELECT", "select", "*", "COUNT(*)", "count", "(", ")", "Id", "DocNumber", "DisplayName", "MetaData.CreateTime",
    "TotalAmt", "FROM", "Invoice", "Customer", "Item", "Payment", "Bill", "WHERE", "AND", "OR", "IN", "LIKE", "=",
    "<", ">=", "!=", "<>", "'J1'", "'%'", "'Smith and Sons'", "'A\\\\B'", "'\\''", "'", "''", "true", "-1", "0", "1.5",
    "99999999999999999999", "ORDERBY", "ASC", "DESC", "STARTPOSITION", "MAXRESULTS", ",", ";", "\\", "%", "😀"]),
    max_size=20).map(" ".join)
QBO_Q = st.one_of(QBO_QUERY, QBO_QUERY.map(lambda s: "SELECT * FROM Invoice " + s), GARBAGE, st.sampled_from([
    "SELECT * FROM Invoice WHERE TotalAmt > 'x' ORDERBY DocNumber DESC STARTPOSITION 99999999999999 MAXRESULTS 1",
    "SELECT COUNT(*) FROM Customer WHERE DisplayName LIKE '%a%'"]))


def _qbo_setup(c: httpx.Client) -> Ctx:
    grant = _ok(c.post("/oauth2/v1/tokens/bearer", headers={"Authorization": QB_BASIC},
                       data={"grant_type": "refresh_token", "refresh_token": QB_RT}))
    h = {"Authorization": f"Bearer {grant['access_token']}", "Accept": "application/json"}
    base = f"/v3/company/{REALM}"
    cust = _ok(c.post(f"{base}/customer", headers=h, json={"DisplayName": "Smith and Sons"}))["Customer"]["Id"]
    item = _ok(c.post(f"{base}/item", headers=h, json={"Name": "LABOUR"}))["Item"]["Id"]
    line = {"DetailType": "SalesItemLineDetail", "Amount": Raw("20.00"), "Description": "d",
            "SalesItemLineDetail": {"ItemRef": {"value": item}, "Qty": 2, "UnitPrice": Raw("10.00")}}
    invoice_t = {"CustomerRef": {"value": cust}, "Line": [line], "DocNumber": "J-FUZZ",
                 "BillEmail": {"Address": "ap@x.example"}, "TxnTaxDetail": {"TotalTax": Raw("1.50")}}
    inv = _ok(c.post(f"{base}/invoice", headers=h, content=encode(invoice_t)))["Invoice"]["Id"]
    update_t = {"Id": inv, "SyncToken": "0", "sparse": True, "Line": [line], "TxnTaxDetail": {"TotalTax": 1},
                "MetaData": {"CreateTime": "x"}, "PrivateNote": "p"}
    payment_t = {"TotalAmt": Raw("5.00"), "CustomerRef": {"value": cust},
                 "Line": [{"Amount": Raw("5.00"), "LinkedTxn": [{"TxnId": inv, "TxnType": "Invoice"}]}]}
    batch_t = {"BatchItemRequest": [
        {"bId": "1", "operation": "create", "Invoice": {**invoice_t, "DocNumber": "J-B"}},
        {"bId": "2", "operation": "update", "Invoice": update_t},
        {"bId": "3", "operation": "create", "Payment": payment_t},
        {"bId": "4", "operation": "create", "Customer": {"DisplayName": "B"}},
        {"bId": "5", "Query": "SELECT * FROM Invoice WHERE DocNumber = 'J-FUZZ'"}]}
    form = {"grant_type": weighted(st.just("refresh_token"), GARBAGE), "refresh_token": GARBAGE}
    return Ctx(h, {"realm": [REALM], "entity": ["invoice", "customer", "item", "payment", "query", "batch"],
                   "entity_id": [cust, item, inv], "invoice_id": [inv]}, {
        ("POST", "/v3/company/{realm}/{entity}"): [
            ({"entity": "invoice"}, {**invoice_t, "DocNumber": "J-2"}), ({"entity": "invoice"}, update_t),
            ({"entity": "payment"}, payment_t), ({"entity": "customer"}, {"DisplayName": "New"}),
            ({"entity": "item"}, {"Name": "PART"})],
        ("POST", "/v3/company/{realm}/batch"): [({}, batch_t)],
    }, {"/oauth2/v1/tokens/bearer": form})


def _qbo_shape(resp: httpx.Response, body: Any) -> bool:
    if resp.request.url.path.startswith("/oauth2/"):
        return _oauth_error(body)
    errors = body.get("Fault", {}).get("Error") if isinstance(body, dict) else None
    return isinstance(errors, list) and bool(errors) and all(
        isinstance(e, dict) and isinstance(e.get("Message"), str) and isinstance(e.get("code"), str) for e in errors)


# Xero -------------------------------------------------------------------------------------------------
XERO_ID, XERO_SECRET, XERO_RT, TENANT = "xero-fuzz", "xero-fuzz-secret", "xero-rt-fuzz", "fuzz-tenant"
WHERE = st.lists(st.sampled_from([
    "Name", "Status", "Contact.ContactID", "InvoiceNumber", "Total", "==", "!=", "=", '"Smith and Sons"',
    '"AUTHORISED"', '"a\\"b"', '"\\\\"', '"', "true", "false", "null", "1.5", "-1", "NaN", "AND", "OR", "&&",
    "||", "and", "NOT", "!", "(", ")", ".", ",", "\\", "😀", ">", "<=", "<>", "Reference", "Date", "UpdatedDateUTC",
    "Name.ToLower()", ".Contains(", '.StartsWith("S")', "ToUpper", 'Guid("53fd93c9")', "Guid(1)", "DateTime(",
    "DateTime(2026,3,2)", "DateTime(2026,2,30)", "DateTime(99999999999999999999,1,1)", "DateTime(1,1,1,0,0,0)"]),
    max_size=14).map(" ".join)
WHERE_Q = st.one_of(WHERE, GARBAGE, st.integers(1, 3000).flatmap(lambda n: st.sampled_from([
    "(" * n + 'Name=="x"' + ")" * n, "NOT " * n + 'Name=="x"', "!" * n + "true"])), st.sampled_from([
    'Reference > 1', 'Name > DateTime(2026,1,1)', 'Total >= 1.5 AND Status != "PAID"', 'Reference == 1']))
DATE_TEXT = [
    "2026-03-02", "2026-02-30", "2026-13-01", "0001-01-01", "9999-12-31", "2026-1-1", "20260302", "2026-W10-1",
    "2026-03-02T08:00:00", "2026-03-02T08:00:00Z", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00",
    "2026-03-02T25:00:00", "²⁰²⁶-03-02", "٢٠٢٦-٠٣-٠٢", "P1D", "today", "Tue, 15 Nov 1994 08:12:31 GMT", "1e9"]
DATES = st.one_of(st.sampled_from(DATE_TEXT), GARBAGE)


def _xero_setup(c: httpx.Client) -> Ctx:
    grant = _ok(c.post("/connect/token", data={"grant_type": "refresh_token", "refresh_token": XERO_RT,
                                               "client_id": XERO_ID, "client_secret": XERO_SECRET}))
    h = {"Authorization": f"Bearer {grant['access_token']}", "xero-tenant-id": TENANT}
    contact_t = {"Name": "Smith and Sons", "ContactNumber": "C001", "EmailAddress": "ap@x.example",
                 "Addresses": [{"AddressType": "POBOX", "City": "Oakland"}]}
    contact = _ok(c.put("/api.xro/2.0/Contacts", headers=h, json={"Contacts": [contact_t]}))["Contacts"][0]
    line = {"Description": "Labour", "Quantity": Raw("2"), "UnitAmount": Raw("10.00"), "LineAmount": Raw("20.00"),
            "AccountCode": "200", "TaxType": "OUTPUT", "TaxAmount": Raw("1.75")}
    invoice_t = {"Type": "ACCREC", "Contact": {"ContactID": contact["ContactID"]}, "LineItems": [line],
                 "Date": "2026-03-02", "DueDate": "2026-04-01", "Status": "AUTHORISED", "InvoiceNumber": "J-FUZZ",
                 "Reference": "r", "LineAmountTypes": "Exclusive", "CurrencyCode": "USD"}
    invoice = _ok(c.put("/api.xro/2.0/Invoices", headers=h, content=encode({"Invoices": [invoice_t]})))
    inv = invoice["Invoices"][0]["InvoiceID"]
    other = {**invoice_t, "InvoiceNumber": "J-2", "Status": "DRAFT"}
    payment = {"Payments": [{"Invoice": {"InvoiceID": inv}, "Account": {"Code": "090"}, "Amount": Raw("1.00"),
                             "Date": "2026-03-03"}]}
    return Ctx(h, {"contact_id": [contact["ContactID"], "C001"], "invoice_id": [inv, "J-FUZZ"]}, {
        **{(m, "/api.xro/2.0/Contacts"): [({}, {"Contacts": [{**contact_t, "Name": "New"}]})] for m in ("PUT", "POST")},
        **{(m, "/api.xro/2.0/Invoices"): [({}, {"Invoices": [other]})] for m in ("PUT", "POST")},
        ("POST", "/api.xro/2.0/Invoices/{invoice_id}"): [({}, {"Invoices": [{**invoice_t, "Reference": "x"}]})],
        ("PUT", "/api.xro/2.0/Payments"): [({}, payment)],
    }, {"/connect/token": {"grant_type": weighted(st.just("refresh_token"), GARBAGE), "refresh_token": GARBAGE,
                           "client_id": weighted(st.just(XERO_ID), GARBAGE),
                           "client_secret": weighted(st.just(XERO_SECRET), GARBAGE)}})


def _xero_shape(resp: httpx.Response, body: Any) -> bool:
    if resp.request.url.path == "/connect/token":
        return _oauth_error(body)
    return isinstance(body, dict) and (
        (isinstance(body.get("Type"), str) and isinstance(body.get("Message"), str))  # ValidationException & co.
        or (isinstance(body.get("Title"), str) and body.get("Status") == resp.status_code))  # problem details


# Gusto ------------------------------------------------------------------------------------------------
GUSTO_TOKEN, COMPANY = "gusto-fuzz-token", "c0a8f5e2-0000-4000-8000-0000000f0zz1"
GUSTO_OAUTH = ("gusto-fuzz-client", "gusto-fuzz-secret", "gusto-rt-fuzz")


def _gusto_setup(c: httpx.Client) -> Ctx:
    _ok(c.post("/_sandbox/seed/employees", json={"id_field": "uuid", "docs": [
        {"uuid": "emp-ana", "first_name": "Ana", "last_name": "Ruiz", "company_uuid": COMPANY}]}))
    h = {"Authorization": f"Bearer {GUSTO_TOKEN}"}
    sheet_t = {"entity_uuid": "emp-ana", "entity_type": "Employee", "time_zone": "America/Los_Angeles",
               "shift_started_at": "2026-03-02T08:00:00-08:00", "shift_ended_at": "2026-03-02T17:00:00-08:00",
               "entries": [{"hours_worked": "8.000", "pay_classification": "Regular"},
                           {"hours_worked": Raw("0.5"), "pay_classification": "Overtime"}],
               "metadata": {"fieldbridge_key": "k"}}
    sheet = _ok(c.post(f"/v1/companies/{COMPANY}/time_tracking/time_sheets", headers=h, content=encode(sheet_t)))
    form = {"grant_type": weighted(st.just("refresh_token"), GARBAGE), "refresh_token": GARBAGE,
            "client_id": weighted(st.just(GUSTO_OAUTH[0]), GARBAGE),
            "client_secret": weighted(st.just(GUSTO_OAUTH[1]), GARBAGE)}
    return Ctx(h, {"company": [COMPANY], "sheet_uuid": [sheet["uuid"]], "employee_uuid": ["emp-ana"]}, {
        ("POST", "/v1/companies/{company}/time_tracking/time_sheets"): [({}, sheet_t)],
        ("PUT", "/v1/time_tracking/time_sheets/{sheet_uuid}"): [({}, {**sheet_t, "version": sheet["version"]})],
    }, {"/oauth/token": form})


def _gusto_shape(resp: httpx.Response, body: Any) -> bool:
    if resp.request.url.path.startswith("/oauth/"):
        return _oauth_error(body)
    errors = body.get("errors") if isinstance(body, dict) else None
    return isinstance(errors, list) and bool(errors) and all(
        isinstance(e, dict) and all(isinstance(e.get(k), str) for k in ("error_key", "category", "message"))
        for e in errors)


# BambooHR ---------------------------------------------------------------------------------------------
BAMBOO_KEY = "bamboo-fuzz-key"


def _bamboo_setup(c: httpx.Client) -> Ctx:
    _ok(c.post("/_sandbox/seed/employees", json={"docs": [
        {"id": 112, "firstName": "Ana", "lastName": "Ortiz", "workEmail": "ana@x.example"}]}))
    _ok(c.post("/_sandbox/time-off", json={"employeeId": 112, "start": "2026-03-02", "end": "2026-03-04"}))
    h = {"Authorization": "Basic " + base64.b64encode(f"{BAMBOO_KEY}:x".encode()).decode(),
         "Accept": "application/json"}
    entry = {"employeeId": 112, "date": "2026-03-02", "hours": Raw("8.00"), "note": "Regular"}
    first = _ok(c.post("/api/v1/time_tracking/hour_entries/store", headers=h,
                       content=encode({"hours": [entry]})))[0]
    return Ctx(h, {}, {
        ("POST", "/api/v1/time_tracking/hour_entries/store"): [({}, {"hours": [entry, {**entry, "id": first["id"]}]})],
        ("POST", "/api/v1/time_tracking/hour_entries/delete"): [({}, {"hourEntryIds": [first["id"], "999"]})],
    })


def _bamboo_shape(resp: httpx.Response, body: Any) -> bool:
    if not resp.content:  # outside time tracking BambooHR explains in a header, with an empty body
        return bool(resp.headers.get("X-BambooHR-Error-Message"))
    return isinstance(body, dict) and body.get("status") == resp.status_code and isinstance(body.get("title"), str) \
        and isinstance(body.get("detail"), str)


# webhook receiver -------------------------------------------------------------------------------------
HOOK_SECRET = "whsec_fuzz_receiver"


def _webhook_setup(c: httpx.Client) -> Ctx:
    event = {"id": "evt-1", "type": "job.closed", "occurred_at": "2026-03-02T10:00:00Z", "data": {"job_id": "J1"}}
    return Ctx({}, {}, {("POST", "/events"): [({}, event)]},
               sign=lambda raw: {signing.HEADER: signing.sign(raw, HOOK_SECRET)})


def _webhook_shape(resp: httpx.Response, body: Any) -> bool:
    return isinstance(body, dict) and isinstance(body.get("error"), str) and isinstance(body.get("message"), str)


RANGE = {"start": DATES, "end": DATES, "start_date": DATES, "end_date": DATES}
VENDORS = {v.name: v for v in [
    Vendor("hubspot", lambda: hubspot_sandbox.create_app(HS_TOKEN, FaultConfig(), ten_second_limit=HIGH),
           _hubspot_setup, _hubspot_shape,
           query={"idProperty": st.sampled_from(["hs_object_id", "fieldbridge_job_id", "subject"]),
                  "properties": st.sampled_from(["subject", "subject,hs_pipeline", ",,", ""]),
                  "limit": st.sampled_from(["0", "-1", "1000", "1.5", "abc", "99999999999999999999"]),
                  "after": st.sampled_from(["0", "1", "-1", "abc", "1e3", "99999999999999999999"])}),
    Vendor("salesforce", lambda: sf_sandbox.create_app(SF_ID, SF_SECRET, SF_RT, FaultConfig(),
                                                       jwt_public_key=SF_PUBLIC_KEY, daily_limit=HIGH),
           _sf_setup, _sf_shape, public=("/services/oauth2/token",),
           query={"q": SOQL_Q, "updateOnly": st.sampled_from(["true", "false", "TRUE", "1"])},
           headers={"Sforce-Query-Options": st.one_of(
               st.sampled_from(["batchSize=200", "batchSize=0", "batchSize=99999999999999999999", "batchSize=1e3"]),
               HEADER_TEXT)}),
    Vendor("quickbooks", lambda: qbo_sandbox.create_app(QB_ID, QB_SECRET, QB_RT, REALM, FaultConfig(),
                                                        per_minute_limit=HIGH),
           _qbo_setup, _qbo_shape, public=("/oauth2/v1/tokens/bearer", "/.well-known/openid_configuration"),
           query={"query": QBO_Q, "requestid": st.sampled_from(["r1", "r2", ""]) | GARBAGE,
                  "sendTo": st.sampled_from(["a@x.example", ""]) | GARBAGE},
           body_text=QBO_Q),
    Vendor("xero", lambda: xero_sandbox.create_app(XERO_ID, XERO_SECRET, XERO_RT, TENANT, FaultConfig(),
                                                   minute_limit=HIGH, day_limit=HIGH),
           _xero_setup, _xero_shape, public=("/connect/token",),
           query={"where": WHERE_Q, "page": st.sampled_from(["1", "0", "-1", "2", "abc", "1e3"]),
                  "pageSize": st.sampled_from(["1", "0", "-5", "1001", "x"]),
                  "order": st.sampled_from(["InvoiceNumber DESC", "Total", " ", "x y z"]),
                  "Statuses": st.sampled_from(["AUTHORISED", "DRAFT,PAID", '"', ","]),
                  "IDs": st.sampled_from([",", "x,y"]), "InvoiceNumbers": st.sampled_from(["J-FUZZ", '""'])},
           headers={"If-Modified-Since": st.one_of(st.sampled_from(
                        [d for d in DATE_TEXT if d.isascii()]), HEADER_TEXT),
                    "Idempotency-Key": st.one_of(st.sampled_from(["k1", "k2", "x" * 129]), HEADER_TEXT)}),
    Vendor("gusto", lambda: gusto_sandbox.create_app(GUSTO_TOKEN, COMPANY, FaultConfig(), per_minute_limit=HIGH,
                                                     oauth_client=GUSTO_OAUTH),
           _gusto_setup, _gusto_shape, public=("/oauth/token",),
           query={**RANGE, "page": st.sampled_from(["1", "0", "-1", "abc", "99999999999999999999"]),
                  "per": st.sampled_from(["1", "0", "-1", "101", "abc"]),
                  "entity_uuids": st.sampled_from(["emp-ana", ",", "emp-ana,x"])}),
    Vendor("bamboohr", lambda: bamboo_sandbox.create_app(BAMBOO_KEY, FaultConfig(), per_second_limit=HIGH),
           _bamboo_setup, _bamboo_shape,
           query={**RANGE, "employeeIds": st.sampled_from(["112", "112,abc", "²", "٣", ",,", "-1"]),
                  "status": st.sampled_from(["approved", "approved,denied", ","]), "employeeId": st.just("112")},
           headers={"Accept": st.sampled_from(["application/json", "application/xml", "*/*", "json", ""])}),
    Vendor("webhook", lambda: webhook_sandbox.create_app([HOOK_SECRET], FaultConfig()), _webhook_setup,
           _webhook_shape),
]}


def api_routes(app: Any) -> Iterator[tuple[Route, str]]:
    """Every vendor route the app serves: not the admin API, not the docs."""
    docs = {app.openapi_url, app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url}
    for route in app.routes:
        if isinstance(route, Route) and not route.path.startswith("/_sandbox") and route.path not in docs:
            for method in sorted(route.methods or ()):
                if method != "HEAD":
                    yield route, method


BOXES = {name: vendor.build() for name, vendor in VENDORS.items()}
ROUTES = [(name, method, route.path) for name, box in BOXES.items() for route, method in api_routes(box.app)]
ROUTE = {(name, method, route.path): route for name, box in BOXES.items() for route, method in api_routes(box.app)}


def test_every_vendor_route_is_fuzzed() -> None:
    """Guard the enumeration itself: each sandbox contributes its routes, none of the admin or docs ones."""
    for name in VENDORS:
        assert any(n == name for n, _, _ in ROUTES), name
    assert not [r for r in ROUTES if r[2].startswith("/_sandbox") or "openapi" in r[2] or "docs" in r[2]]
    assert len(ROUTES) >= 45, len(ROUTES)


# ---- in-process clients -------------------------------------------------------------------------------
class ServerPath:
    """Set `path` the way uvicorn does: percent-decoded ONCE from the raw path. Starlette's TestClient decodes
    httpx's already-decoded path a second time (`%2525` would reach the app as `%`), which is not what a
    sandbox on a socket sees."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("raw_path"):
            scope = {**scope, "path": unquote(scope["raw_path"].decode("latin-1"))}
        await self.app(scope, receive, send)


@dataclass
class Live:
    vendor: Vendor
    client: httpx.Client
    ctx: Ctx
    # not in the repr: a failing example prints its arguments, and these strategies' reprs grow without bound
    strategies: dict[tuple[str, str], st.SearchStrategy] = field(default_factory=dict, repr=False)
    bodies: dict[tuple[Any, ...], st.SearchStrategy] = field(default_factory=dict, repr=False)


@pytest.fixture(scope="module")
def live() -> Iterator[dict[str, Live]]:
    clients = {name: TestClient(ServerPath(box.asgi()), raise_server_exceptions=False)
               for name, box in BOXES.items()}
    for c in clients.values():
        c.__enter__()
    try:
        yield {name: Live(VENDORS[name], c, VENDORS[name].setup(c)) for name, c in clients.items()}
    finally:
        for c in clients.values():
            c.__exit__(None, None, None)


# ---- requests -----------------------------------------------------------------------------------------
@dataclass
class Req:
    method: str
    path: str
    query: list[tuple[str, str]] | str
    headers: dict[str, str]
    content: bytes | None
    params: dict[str, str]

    def send(self, client: httpx.Client) -> httpx.Response:
        if isinstance(self.query, str):
            return client.request(self.method, f"{self.path}?{self.query}", headers=self.headers, content=self.content)
        return client.request(self.method, self.path, params=self.query, headers=self.headers, content=self.content)

    def __str__(self) -> str:
        shown = (self.content or b"")[:300]
        return f"{self.method} {self.path[:300]} query={str(self.query)[:300]} headers={self.headers} body={shown!r}"


PARAM = re.compile(r"{(\w+)}")


def _path(fmt: str, known: dict[str, list[str]]) -> st.SearchStrategy:
    names = PARAM.findall(fmt)
    garbage = st.one_of(GARBAGE.map(lambda s: quote(s, safe="")), RAW_SEGMENT)
    parts = {n: weighted(st.sampled_from([quote(k, safe="") for k in known[n]]), garbage, 3) if known.get(n)
             else garbage for n in names}
    return st.fixed_dictionaries(parts).map(lambda p: (PARAM.sub(lambda m: p[m.group(1)], fmt),
                                                       {k: unquote(v) for k, v in p.items()}))


def _query(route: Route, vendor: Vendor) -> st.SearchStrategy:
    declared = [p.alias for p in getattr(getattr(route, "dependant", None), "query_params", [])]
    names = sorted(set(declared) | ({"q", "query"} & set(vendor.query)))
    value = {n: weighted(vendor.query[n], GARBAGE, 2) if n in vendor.query else GARBAGE for n in names}
    stray = st.tuples(st.text(max_size=10), GARBAGE)
    pair = st.sampled_from(names).flatmap(lambda n: st.tuples(st.just(n), value[n])) if names else stray
    return st.one_of(
        st.lists(pair, max_size=4),
        st.lists(stray | pair, max_size=4),
        st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=60),  # a raw query string, sent as it is
        RAW_SEGMENT.map(lambda s: s.replace("Z", "=").replace("a", "&")),
    )


def _body(live: Live, method: str, fmt: str, params: dict[str, str]) -> st.SearchStrategy:
    options: list[st.SearchStrategy] = [st.just(None), st.binary(max_size=200), JSON_VALUES.map(encode),
                                        DEEP.map(str.encode)]
    form = live.ctx.forms.get(fmt)
    if form is not None:
        fields = st.fixed_dictionaries({}, optional=form)
        forms = fields.map(lambda d: str(httpx.QueryParams(d)).encode())
        return st.one_of(forms, forms, forms, fields.map(encode), *options)  # form-encoded, or JSON (Gusto)
    if live.vendor.body_text is not None and fmt.endswith("/{entity}") and params.get("entity") == "query":
        text = live.vendor.body_text.map(str.encode)
        return st.one_of(text, text, *options)
    templates = live.ctx.templates.get((method, fmt), [])
    fitting = tuple(n for n, (cond, _) in enumerate(templates) if all(params.get(k) == v for k, v in cond.items())) \
        or tuple(range(len(templates)))
    key = (method, fmt, fitting)
    if key not in live.bodies:
        mutated = [mutate(templates[n][1]).map(encode) for n in fitting]
        live.bodies[key] = st.one_of(*mutated * 3, *options) if mutated else st.one_of(*options)
    return live.bodies[key]


def _request(live: Live, method: str, route: Route) -> st.SearchStrategy:
    vendor, ctx = live.vendor, live.ctx

    @st.composite
    def build(draw: st.DrawFn) -> Req:
        path, params = draw(_path(route.path, ctx.known))
        content = draw(_body(live, method, route.path, params))
        headers = dict(ctx.headers)
        content_type = draw(CONTENT_TYPES)
        if content_type is not None:
            headers["Content-Type"] = content_type
        for name, values in vendor.headers.items():
            if draw(st.booleans()):
                headers[name] = draw(values)
        if ctx.sign is not None:
            headers.update(ctx.sign(content or b""))
        if route.path in ctx.forms and vendor.name == "quickbooks":
            headers["Authorization"] = QB_BASIC
        query = draw(_query(route, vendor))
        assume(len(path) + len(quote(str(query))) < 50_000)  # httpx refuses URLs past 64 kB
        return Req(method, path, query, headers, content, params)

    return build()


BAD_AUTH = st.one_of(
    st.none(), HEADER_TEXT, HEADER_TEXT.map(lambda s: f"Bearer {s}"), HEADER_TEXT.map(lambda s: f"Basic {s}"),
    st.binary(max_size=30).map(lambda b: "Basic " + base64.b64encode(b).decode()),
    st.sampled_from(["Bearer", "Bearer ", "Basic", "Basic =", "Basic %%%", "bearer pat-fuzz-hubspot",
                     f"Bearer {HS_TOKEN} ", f"Basic {base64.b64encode(b'x:' + BAMBOO_KEY.encode()).decode()}"]))


def _unauthenticated(live: Live, method: str, route: Route) -> st.SearchStrategy:
    @st.composite
    def build(draw: st.DrawFn) -> Req:
        path, params = draw(_path(route.path, live.ctx.known))
        content = draw(st.one_of(st.just(None), JSON_VALUES.map(encode)))
        headers = {k: v for k, v in live.ctx.headers.items() if k.lower() != "authorization"}
        auth = draw(BAD_AUTH)
        if auth is not None:
            headers["Authorization"] = auth
        if live.ctx.sign is not None and draw(st.booleans()):
            headers[signing.HEADER] = draw(st.one_of(HEADER_TEXT, st.just(signing.sign(content or b"", "wrong"))))
        return Req(method, path, [], headers, content, params)

    return build()


# ---- checks -------------------------------------------------------------------------------------------
def _framework_miss(route: Route, resp: httpx.Response) -> bool:
    """A garbage parameter (`/`, `..`, `?`) took the request off this route and no route matched: that 404 is
    the web framework's, not a vendor handler's."""
    return resp.status_code in (404, 405) and resp.content.startswith(b'{"detail":') and \
        route.path_regex.match(resp.request.url.path) is None


def check(vendor: Vendor, route: Route, req: Req, resp: httpx.Response) -> None:
    assert resp.status_code < 500, f"{vendor.name} 5xx on {req}\n-> {resp.status_code} {resp.text[:800]}"
    kind = resp.headers.get("content-type", "")
    if resp.status_code >= 400:
        if _framework_miss(route, resp):
            return
        try:
            body = jsonbody.loads(resp.content) if resp.content else None
        except ValueError as exc:
            raise AssertionError(f"{vendor.name} answered {resp.status_code} with a body that is not JSON: "
                                 f"{resp.text[:300]!r}\nrequest: {req}") from exc
        assert vendor.shape(resp, body), (f"{vendor.name} {resp.status_code} is not in the vendor's error shape: "
                                          f"{resp.text[:500]}\nrequest: {req}")
    elif "json" in kind:
        jsonbody.loads(resp.content)
    elif "xml" in kind:
        ElementTree.fromstring(resp.content)


def _route(live: dict[str, Live], name: str, method: str, path: str) -> tuple[Live, Route, st.SearchStrategy]:
    box, route = live[name], ROUTE[(name, method, path)]
    key = (method, path)
    if key not in box.strategies:
        box.strategies[key] = _request(box, method, route)
    return box, route, box.strategies[key]


IDS = [f"{n}:{m}:{p}" for n, m, p in ROUTES]


@pytest.mark.parametrize(("name", "method", "path"), ROUTES, ids=IDS)
@FUZZ
@given(data=st.data())
def test_garbage_gets_the_vendors_4xx_never_a_5xx(live: dict[str, Live], name: str, method: str, path: str,
                                                  data: st.DataObject) -> None:
    box, route, strategy = _route(live, name, method, path)
    req = data.draw(strategy, label="request")
    check(box.vendor, route, req, req.send(box.client))


@pytest.mark.parametrize(("name", "method", "path"), ROUTES, ids=IDS)
@UNAUTH
@given(data=st.data())
def test_unauthenticated_gets_401_or_403_never_a_5xx(live: dict[str, Live], name: str, method: str, path: str,
                                                    data: st.DataObject) -> None:
    box, route = live[name], ROUTE[(name, method, path)]
    req = data.draw(_unauthenticated(box, method, route), label="request")
    resp = req.send(box.client)
    check(box.vendor, route, req, resp)
    if path not in box.vendor.public:
        assert resp.status_code in (401, 403), f"{name}: {resp.status_code} {resp.text[:300]}\nrequest: {req}"


# ---- the in-process stack is the served one ------------------------------------------------------------
def _probe(client: httpx.Client, ctx: Ctx, name: str) -> list[tuple[Any, ...]]:
    """The same handful of bad requests on every route: no credentials, broken JSON, JSON of the wrong
    type, and a `%25`-encoded path parameter (decoded once on a socket)."""
    answers = []
    for _, method, fmt in (r for r in ROUTES if r[0] == name):
        known = {n: quote((ctx.known.get(n) or ["x"])[0], safe="") for n in PARAM.findall(fmt)}
        odd = {n: "a%2525b" for n in known}
        for path, headers, content in (
                (PARAM.sub(lambda m, k=known: k[m.group(1)], fmt), {}, None),
                (PARAM.sub(lambda m, k=known: k[m.group(1)], fmt), ctx.headers, b'{"oops'),
                (PARAM.sub(lambda m, k=known: k[m.group(1)], fmt), ctx.headers, b"[]"),
                (PARAM.sub(lambda m, k=odd: k[m.group(1)], fmt), ctx.headers, b"{}")):
            signed = {**headers, **(ctx.sign(content or b"") if ctx.sign and headers is ctx.headers else {})}
            resp = client.request(method, path, headers={**signed, "Content-Type": "application/json"},
                                  content=content)
            body = jsonbody.loads(resp.content) if "json" in resp.headers.get("content-type", "") else resp.content
            volatile = {"correlationId", "Instance", "time", "DateTimeUTC", "Id"}
            answers.append((method, fmt, resp.status_code, sorted(set(body) - volatile) if isinstance(body, dict)
                            else type(body).__name__, resp.headers.get("x-bamboohr-error-message")))
    return answers


@pytest.mark.parametrize("name", list(VENDORS))
def test_in_process_answers_match_the_server(name: str) -> None:
    vendor = VENDORS[name]
    served = vendor.build()
    server = SandboxServer(served.asgi()).start()
    try:
        with httpx.Client(base_url=server.url) as over_socket, \
                TestClient(ServerPath(vendor.build().asgi()), raise_server_exceptions=False) as in_process:
            assert _probe(in_process, vendor.setup(in_process), name) == \
                _probe(over_socket, vendor.setup(over_socket), name)
    finally:
        server.stop()

