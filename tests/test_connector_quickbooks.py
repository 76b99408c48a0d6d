"""QuickBooks Online connector over the wire against the QBO sandbox: OAuth rotation, requestid replay,
SyncToken locking, Faults, retries and query paging."""

from __future__ import annotations

import base64
import itertools
import json
import stat
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from connectors.contract import (
    Accounting,
    BillingCustomer,
    ConfigError,
    ConflictError,
    DataError,
    FailureType,
    InvoiceDraft,
    InvoiceLine,
    RateLimitedError,
    ResponseAction,
    TransientError,
    is_retryable,
)
from connectors.emulator import FaultConfig, SandboxServer
from connectors.http import (
    FileTokenStore,
    HttpClient,
    RetryPolicy,
)
from connectors.quickbooks import mapping
from connectors.quickbooks import sandbox as qbo_sandbox
from connectors.quickbooks.client import QuickBooksAccounting
from connectors.quickbooks.errors import ERRORS, classify, describe
from models.settings import FieldbridgeSettings
from tests.sandbox_handles import SandboxHandle, seed_failing_first

CLIENT_ID = "test-client"
CLIENT_SECRET = "test-secret-xyz"
INITIAL_RT = "RT1-test-initial-refresh"
POLICY = RetryPolicy(max_attempts=4, base_seconds=0.01, cap_seconds=0.05)
_realms = itertools.count(1)




@dataclass
class QboSandbox(SandboxHandle):
    realm: str
    token_dir: Path
    clients: list[QuickBooksAccounting] = field(default_factory=list)

    @property
    def token_url(self) -> str:
        return f"{self.url}/oauth2/v1/tokens/bearer"

    def client(self, token_file: str = "qbo.json", initial: str | None = INITIAL_RT,
               policy: RetryPolicy = POLICY) -> QuickBooksAccounting:
        acc = QuickBooksAccounting(
            self.url, self.realm, token_url=self.token_url, client_id=CLIENT_ID,
            client_secret=SecretStr(CLIENT_SECRET), token_store=FileTokenStore(self.token_dir / token_file),
            initial_refresh_token=SecretStr(initial) if initial else None, policy=policy,
        )
        self.clients.append(acc)
        return acc

    def tokens(self, token_file: str = "qbo.json") -> dict[str, Any]:
        return json.loads((self.token_dir / token_file).read_text())

    def refresh_directly(self, refresh_token: str) -> httpx.Response:
        basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        return httpx.post(self.token_url, headers={"Authorization": f"Basic {basic}"},
                          data={"grant_type": "refresh_token", "refresh_token": refresh_token})



@pytest.fixture
def make_qbo(tmp_path: Path) -> Iterator[Callable[..., QboSandbox]]:
    started: list[QboSandbox] = []

    def make(faults: FaultConfig | None = None) -> QboSandbox:
        realm = f"93414531{next(_realms):08d}"  # a fresh rate budget per test
        sandbox = qbo_sandbox.create_app(CLIENT_ID, CLIENT_SECRET, INITIAL_RT, realm, faults or FaultConfig())
        env = QboSandbox(sandbox, SandboxServer(sandbox.asgi()).start(), realm, tmp_path / "tokens")
        started.append(env)
        return env

    yield make
    for env in started:
        for acc in env.clients:
            acc.close()
        threading.Thread(target=env.server.stop, daemon=True).start()


@pytest.fixture
def qbo(make_qbo: Callable[..., QboSandbox]) -> QboSandbox:
    return make_qbo()


CUSTOMER = BillingCustomer("C042", "O'Brien's Bakery", "books@obriens.example", "12 Harbor Way", "Oakland", "CA",
                           "94607")


def _draft(doc_number: str = "J1001", labour_item: str = "LABOUR", part_item: str = "PUMP-200") -> InvoiceDraft:
    lines = (
        InvoiceLine("labour", "Field labour", labour_item, Decimal("1.5"), Decimal("95.00"), Decimal("142.50"), False),
        InvoiceLine("part", "Drain pump", part_item, Decimal("3"), Decimal("19.99"), Decimal("59.97"), True),
    )
    return InvoiceDraft(job_id=doc_number, doc_number=doc_number, txn_date=date(2026, 3, 2), currency="USD",
                        customer=CUSTOMER, lines=lines, tax=Decimal("5.25"), total=Decimal("207.72"),
                        memo="Dishwasher not draining")


@dataclass
class Books:
    customer_id: str
    item_ids: dict[str, str]


def _setup_books(acc: QuickBooksAccounting) -> Books:
    customer = acc.create_customer(CUSTOMER, "quickbooks:customer:C042#1")
    labour = acc.create_item("LABOUR", "Field labour", Decimal("95.00"), "quickbooks:item:LABOUR#1")
    pump = acc.create_item("PUMP-200", "Drain pump", Decimal("19.99"), "quickbooks:item:PUMP-200#1")
    return Books(customer.id, {"LABOUR": labour.id, "PUMP-200": pump.id})


# --------------------------------------------------------------------------------------------
# happy path
# --------------------------------------------------------------------------------------------


def test_customer_items_and_invoice_with_exact_money(qbo: QboSandbox) -> None:
    acc = qbo.client()
    assert isinstance(acc, Accounting)
    assert acc.find_customer(CUSTOMER) is None
    books = _setup_books(acc)
    assert acc.find_customer(CUSTOMER).id == books.customer_id  # an apostrophe survives query escaping
    assert acc.find_item("PUMP-200").id == books.item_ids["PUMP-200"]
    assert acc.find_invoice("J1001") is None

    invoice = acc.create_invoice(_draft(), books.customer_id, books.item_ids, "quickbooks:invoice:J1001")
    assert invoice.number == "J1001" and invoice.version == "0"
    assert invoice.total == Decimal("207.72") and str(invoice.total) == "207.72"
    [stored] = qbo.state("Invoice")
    assert stored["Id"] == invoice.id and stored["CustomerRef"] == {"value": books.customer_id}
    assert [str(line["Amount"]) for line in stored["Line"]] == ["142.50", "59.97", "202.47"]
    assert stored["Line"][0]["SalesItemLineDetail"]["TaxCodeRef"] == {"value": "NON"}
    assert stored["Line"][1]["SalesItemLineDetail"]["TaxCodeRef"] == {"value": "TAX"}

    found = acc.find_invoice("J1001")
    assert found == invoice and found.total == Decimal("207.72")


def test_update_invoice_bumps_the_sync_token(qbo: QboSandbox) -> None:
    acc = qbo.client()
    books = _setup_books(acc)
    invoice = acc.create_invoice(_draft(), books.customer_id, books.item_ids, "inv:J1001")
    updated = acc.update_invoice(invoice, {"PrivateNote": "Paid by card"}, "inv:J1001:memo")
    assert (updated.id, updated.version) == (invoice.id, "1")
    assert qbo.state("Invoice")[0]["PrivateNote"] == "Paid by card"


# --------------------------------------------------------------------------------------------
# data errors
# --------------------------------------------------------------------------------------------


def test_invoice_with_unknown_item_is_a_data_error_naming_the_item_without_retry(qbo: QboSandbox) -> None:
    acc = qbo.client()
    books = _setup_books(acc)
    before = qbo.stats()["requests"]
    with pytest.raises(DataError) as err:
        acc.create_invoice(_draft(), books.customer_id, {**books.item_ids, "PUMP-200": "999"}, "inv:J1001")
    assert err.value.status == 400 and err.value.vendor_code == "2500"
    assert "Line 2: Invalid Reference Id : Item 999" in str(err.value)
    assert not is_retryable(err.value)
    assert qbo.stats()["requests"] == before + 1
    assert qbo.state("Invoice") == []


def test_duplicate_doc_number_is_a_data_error(qbo: QboSandbox) -> None:
    acc = qbo.client()
    books = _setup_books(acc)
    acc.create_invoice(_draft(), books.customer_id, books.item_ids, "inv:J1001")
    with pytest.raises(DataError) as err:
        acc.create_invoice(_draft(), books.customer_id, books.item_ids, "inv:J1001:other-key")
    assert "DocNumber=J1001" in str(err.value) and err.value.vendor_code == "6140"
    assert len(qbo.state("Invoice")) == 1


def test_stale_sync_token_on_update_is_a_conflict(qbo: QboSandbox) -> None:
    acc = qbo.client()
    books = _setup_books(acc)
    invoice = acc.create_invoice(_draft(), books.customer_id, books.item_ids, "inv:J1001")
    acc.update_invoice(invoice, {"PrivateNote": "first edit"}, "inv:J1001:edit-1")
    with pytest.raises(ConflictError) as err:
        acc.update_invoice(invoice, {"PrivateNote": "second edit"}, "inv:J1001:edit-2")  # still SyncToken 0
    assert err.value.vendor_code == "5010" and "Stale Object Error" in str(err.value)
    assert not is_retryable(err.value)
    [stored] = qbo.state("Invoice")
    assert (stored["PrivateNote"], stored["SyncToken"]) == ("first edit", "1")


# --------------------------------------------------------------------------------------------
# Faults inside a 200
# --------------------------------------------------------------------------------------------


def _fault(kind: str, code: str) -> dict[str, Any]:
    return {"Fault": {"Error": [{"Message": "Duplicate Name Exists Error", "Detail": "The name supplied already "
                                 "exists. : LABOUR", "code": code}], "type": kind}, "time": "2026-03-02T10:00:00"}


@pytest.mark.parametrize(
    ("kind", "code", "action", "failure"),
    [
        ("ValidationFault", "6240", ResponseAction.FAIL, FailureType.DATA),
        ("SystemFault", "10000", ResponseAction.RETRY, FailureType.TRANSIENT),
        ("AUTHENTICATION", "3200", ResponseAction.REFRESH_TOKEN_THEN_RETRY, FailureType.CONFIG),
        ("AUTHORIZATION", "3100", ResponseAction.FAIL, FailureType.CONFIG),
        ("SERVICE", "3001", ResponseAction.RATE_LIMITED, FailureType.TRANSIENT),
    ],
)
def test_fault_inside_a_200_body_is_classified_as_an_error(
    kind: str, code: str, action: ResponseAction, failure: FailureType
) -> None:
    body = _fault(kind, code)
    resolution = classify(200, body)
    assert (resolution.action, resolution.failure_type, resolution.message, resolution.vendor_code) == (
        action, failure, "Duplicate Name Exists Error: The name supplied already exists. : LABOUR", code
    )


def test_a_stale_sync_token_is_a_conflict_by_the_error_table() -> None:
    """QuickBooks' 5010 is in its plugin's error table, not in the core: it resolves to ConflictError."""
    resolution = classify(400, _fault("ValidationFault", "5010"))
    assert resolution.error is ConflictError and resolution.failure_type is FailureType.DATA


def test_plain_200_is_a_success() -> None:
    assert classify(200, {"Invoice": {"Id": "130"}}).action is ResponseAction.SUCCESS


def test_client_raises_for_a_fault_in_a_200_instead_of_returning_it() -> None:
    """A vendor stand-in (httpx transport) answering 200 + Fault: the client must not report success."""
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=_fault("ValidationFault", "6240")))
    with HttpClient("quickbooks", "https://qbo.example", describe=describe, errors=ERRORS,
                    transport=transport) as http, \
            pytest.raises(DataError) as err:
        http.request("POST", "/v3/company/1/item", params={"requestid": "r-1"}, json={"Name": "LABOUR"},
                     idempotent=True)
    assert err.value.status == 200 and err.value.vendor_code == "6240"
    assert "Duplicate Name Exists Error" in str(err.value)
    assert http.calls["POST /v3/company/1/item"] == 1


# --------------------------------------------------------------------------------------------
# OAuth2: refresh on 401 with rotation persisted
# --------------------------------------------------------------------------------------------


def test_401_refreshes_once_and_persists_the_rotated_refresh_token(qbo: QboSandbox) -> None:
    acc = qbo.client()
    assert acc.find_invoice("J1001") is None  # first call: no access token yet → initial refresh
    assert acc.auth.refresh_count == 1
    first = qbo.tokens()
    assert first["refresh_token"] != INITIAL_RT
    assert stat.S_IMODE((qbo.token_dir / "qbo.json").stat().st_mode) == 0o600

    qbo.admin("/_sandbox/expire-access-tokens", {})
    requests_before = qbo.stats()["requests"]
    assert acc.find_invoice("J1001") is None  # 401 → refresh → replay
    assert acc.auth.refresh_count == 2
    assert qbo.stats()["requests"] == requests_before + 2
    second = qbo.tokens()
    assert second["refresh_token"] not in (first["refresh_token"], INITIAL_RT)  # rotated, and on disk
    assert second["access_token"] != first["access_token"]
    assert second["expires_at"] > time.time() + 3000

    for dead in (INITIAL_RT, first["refresh_token"]):  # the vendor rejects every used refresh token
        resp = qbo.refresh_directly(dead)
        assert (resp.status_code, resp.json()) == (400, {"error": "invalid_grant"})

    other = qbo.client()  # e.g. the next process: same token file, stale initial token in its settings
    assert other.find_invoice("J1001") is None
    assert other.auth.refresh_count == 0  # the persisted access token was used as is
    assert qbo.tokens() == second

    qbo.admin("/_sandbox/expire-access-tokens", {})
    assert other.find_invoice("J1001") is None  # and the persisted refresh token is the live one
    assert other.auth.refresh_count == 1


def test_a_401_on_a_write_is_replayed_after_refresh_and_writes_once(qbo: QboSandbox) -> None:
    acc = qbo.client()
    books = _setup_books(acc)
    qbo.admin("/_sandbox/expire-access-tokens", {})
    invoice = acc.create_invoice(_draft(), books.customer_id, books.item_ids, "inv:J1001")
    assert [i["Id"] for i in qbo.state("Invoice")] == [invoice.id]
    assert acc.auth.refresh_count == 2


def test_concurrent_401s_across_clients_sharing_a_token_file_refresh_only_once(qbo: QboSandbox) -> None:
    a, b = qbo.client(), qbo.client()
    a.find_invoice("J0")
    qbo.admin("/_sandbox/expire-access-tokens", {})
    gate = threading.Barrier(2)
    errors: list[BaseException] = []

    def work(acc: QuickBooksAccounting) -> None:
        try:
            gate.wait(2)
            acc.find_invoice("J1001")
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(acc,)) for acc in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert errors == []
    assert a.auth.refresh_count + b.auth.refresh_count == 2  # the initial one plus exactly one rotation
    resp = qbo.refresh_directly(qbo.tokens()["refresh_token"])
    assert resp.status_code == 200  # the file holds the token the vendor considers live


def test_rejected_refresh_token_is_a_config_error_before_any_api_call(qbo: QboSandbox) -> None:
    qbo.client().find_invoice("J0")  # rotates INITIAL_RT away
    stale = qbo.client(token_file="fresh-install.json")  # no token file, only the dead initial token
    with pytest.raises(ConfigError) as err:
        stale.find_invoice("J1001")
    assert "invalid_grant" in str(err.value) and "reconnect" in str(err.value)
    assert INITIAL_RT not in str(err.value)
    assert not is_retryable(err.value)
    assert qbo.stats()["requests"] == 1  # only the first client's query reached the API


def test_missing_refresh_token_is_a_config_error(qbo: QboSandbox) -> None:
    acc = qbo.client(initial=None)
    with pytest.raises(ConfigError, match="no refresh token configured"):
        acc.find_invoice("J1001")
    assert qbo.stats()["requests"] == 0


# --------------------------------------------------------------------------------------------
# 429
# --------------------------------------------------------------------------------------------


def test_429_waits_for_retry_after_then_succeeds(qbo: QboSandbox) -> None:
    acc = qbo.client()
    books = _setup_books(acc)
    qbo.faults(retry_after_seconds=0.3, burst=1)
    started = time.monotonic()
    invoice = acc.create_invoice(_draft(), books.customer_id, books.item_ids, "inv:J1001")
    elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 1.5
    assert [i["Id"] for i in qbo.state("Invoice")] == [invoice.id]
    assert qbo.stats()["429"] == 1


def test_429_beyond_the_retry_budget_raises_rate_limited(qbo: QboSandbox) -> None:
    acc = qbo.client(policy=RetryPolicy(max_attempts=2, base_seconds=0.01))
    acc.find_invoice("J0")
    qbo.faults(retry_after_seconds=0.05, burst=5)
    with pytest.raises(RateLimitedError) as err:
        acc.find_invoice("J1001")
    assert err.value.vendor_code == "3001" and err.value.retry_after == pytest.approx(0.05)
    assert "ThrottleExceeded" in str(err.value)


# --------------------------------------------------------------------------------------------
# 5xx, lost answers and requestid replay
# --------------------------------------------------------------------------------------------


def test_5xx_on_post_with_requestid_is_retried_and_creates_one_invoice(make_qbo: Callable[..., QboSandbox]) -> None:
    env = make_qbo(FaultConfig(seed=seed_failing_first(2)))
    acc = env.client()
    books = _setup_books(acc)
    env.faults(error_rate=0.5)
    invoice = acc.create_invoice(_draft(), books.customer_id, books.item_ids, "inv:J1001")
    env.faults(error_rate=0.0)
    assert [i["Id"] for i in env.state("Invoice")] == [invoice.id]
    assert env.stats()["errors"] == 2
    assert acc.http.calls[f"POST /v3/company/{env.realm}/invoice"] == 3


def test_5xx_on_every_query_gives_up_with_a_transient_error(qbo: QboSandbox) -> None:
    acc = qbo.client()
    qbo.faults(error_rate=1.0)
    with pytest.raises(TransientError) as err:
        acc.find_invoice("J1001")
    assert err.value.vendor_code == "10000" and is_retryable(err.value)
    assert qbo.stats()["requests"] == POLICY.max_attempts


def test_dropped_answer_to_invoice_create_is_replayed_by_requestid(qbo: QboSandbox) -> None:
    acc = qbo.client()
    books = _setup_books(acc)
    qbo.faults(drop_first_write=True)
    invoice = acc.create_invoice(_draft(), books.customer_id, books.item_ids, "inv:J1001")
    assert qbo.stats()["dropped"] == 1
    assert acc.http.calls[f"POST /v3/company/{qbo.realm}/invoice"] == 2
    [stored] = qbo.state("Invoice")  # committed once, the replay returned the original
    assert stored["Id"] == invoice.id and invoice.total == Decimal("207.72")


def test_same_requestid_returns_the_original_invoice_without_writing_again(qbo: QboSandbox) -> None:
    acc = qbo.client()
    books = _setup_books(acc)
    first = acc.create_invoice(_draft(), books.customer_id, books.item_ids, "inv:J1001")
    again = acc.create_invoice(_draft(), books.customer_id, books.item_ids, "inv:J1001")
    assert again == first and again.raw["MetaData"] == first.raw["MetaData"]
    assert len(qbo.state("Invoice")) == 1
    assert mapping.request_id("inv:J1001") == mapping.request_id("inv:J1001") != mapping.request_id("inv:J1002")


# --------------------------------------------------------------------------------------------
# query paging
# --------------------------------------------------------------------------------------------


def test_query_follows_startposition_pages(qbo: QboSandbox) -> None:
    qbo.admin("/_sandbox/seed/Item", {"id_field": "Id", "docs": [
        {"Id": str(1000 + n), "Name": f"SKU-{n:04d}", "Type": "Service", "SyncToken": "0", "Active": True}
        for n in range(1005)
    ]})
    acc = qbo.client()
    rows = acc.query("select * from Item")
    assert [r["Id"] for r in rows] == [str(1000 + n) for n in range(1005)]
    assert acc.http.calls[f"GET /v3/company/{qbo.realm}/query"] == 2


def test_the_plugin_builds_the_client_from_its_own_settings(qbo: QboSandbox, tmp_path: Path) -> None:
    from connectors.quickbooks import plugin
    from connectors.quickbooks.settings import QuickBooksSettings
    from tasks.runtime import connect

    core = FieldbridgeSettings(home=tmp_path / "home", database_url=f"sqlite:///{tmp_path / 'fb.db'}",
                               http_max_attempts=2)
    acc = connect(plugin, QuickBooksSettings(base_url=qbo.url, realm_id=qbo.realm, client_id=CLIENT_ID,
                                             client_secret=SecretStr(CLIENT_SECRET),
                                             refresh_token=SecretStr(INITIAL_RT)), core=core)
    qbo.clients.append(acc)
    assert acc.http.policy.max_attempts == 2
    assert acc.auth.token_url == f"{qbo.url}/oauth2/v1/tokens/bearer"  # derived from the base URL
    assert acc.find_invoice("nope") is None  # a real call: the token refresh went through the database store


# --------------------------------------------------------------------------------------------
# batch: per-item Faults arrive inside a 200
# --------------------------------------------------------------------------------------------


def test_batch_reports_each_items_fault_from_inside_a_200(qbo: QboSandbox) -> None:
    acc = qbo.client()
    books = _setup_books(acc)
    good = mapping.invoice_body(_draft("J-B1"), books.customer_id, books.item_ids)
    bad = mapping.invoice_body(_draft("J-B2"), "999999", books.item_ids)  # unknown customer
    results = acc.batch([{"operation": "create", "Invoice": good}, {"operation": "create", "Invoice": bad},
                         {"Query": "select * from Invoice where DocNumber = 'J-B1'"}], "batch-req-1")
    assert results[0]["Invoice"]["DocNumber"] == "J-B1"
    assert isinstance(results[1], DataError) and "Customer 999999" in str(results[1])
    assert results[2]["QueryResponse"]["Invoice"][0]["DocNumber"] == "J-B1"
    assert [i["DocNumber"] for i in qbo.state("Invoice")] == ["J-B1"]


def test_batch_replay_with_the_same_requestid_writes_nothing_new(qbo: QboSandbox) -> None:
    acc = qbo.client()
    books = _setup_books(acc)
    op = {"operation": "create", "Invoice": mapping.invoice_body(_draft("J-R1"), books.customer_id, books.item_ids)}
    first = acc.batch([op], "same-request")
    second = acc.batch([op], "same-request")
    assert first == second and len(qbo.state("Invoice")) == 1


def test_find_invoices_looks_many_up_in_batches_of_30(qbo: QboSandbox) -> None:
    acc = qbo.client()
    books = _setup_books(acc)
    for n in range(3):
        acc.create_invoice(_draft(f"J-F{n}"), books.customer_id, books.item_ids, f"quickbooks:invoice:J-F{n}")
    wanted = [f"J-F{n}" for n in range(3)] + [f"J-MISSING{n}" for n in range(31)]
    acc.http.calls.clear()
    found = acc.find_invoices(wanted)
    assert {d for d, r in found.items() if r is not None} == {"J-F0", "J-F1", "J-F2"}
    assert sum(acc.http.calls.values()) == 2  # 34 lookups, two batch requests


def test_a_namesake_customer_is_never_adopted(qbo: QboSandbox) -> None:
    acc = qbo.client()
    acc.create_customer(CUSTOMER, "quickbooks:customer:C042#1")
    namesake = BillingCustomer("C777", CUSTOMER.display_name, "other@x.example", None, None, None, None)
    assert acc.find_customer(CUSTOMER) is not None
    with pytest.raises(DataError, match="not linked to C777"):
        acc.find_customer(namesake)
    with pytest.raises(DataError, match=r"already has a customer named .* that is not C777"):
        acc.create_customer(namesake, "quickbooks:customer:C777#1")
