"""The QuickBooks Online sandbox driven by python-quickbooks and Intuit's OAuth client (intuit-oauth): token
refresh found through OpenID discovery, customers and items created and found again by name (names with
`and`, quotes and backslashes included), invoices created under a requestid, read, sparse-updated, sent,
paid, counted and queried (the SDK sends queries by POST as application/text), batch, and the Fault bodies
the SDK maps to its exception classes."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

quickbooks = pytest.importorskip("quickbooks")

from intuitlib.client import AuthClient  # noqa: E402
from quickbooks import QuickBooks  # noqa: E402
from quickbooks.batch import batch_create  # noqa: E402
from quickbooks.exceptions import (  # noqa: E402
    AuthorizationException,
    ObjectNotFoundException,
    QuickbooksException,
    ValidationException,
)
from quickbooks.objects.base import LinkedTxn  # noqa: E402
from quickbooks.objects.customer import Customer  # noqa: E402
from quickbooks.objects.detailline import SalesItemLine, SalesItemLineDetail  # noqa: E402
from quickbooks.objects.invoice import Invoice  # noqa: E402
from quickbooks.objects.item import Item  # noqa: E402
from quickbooks.objects.payment import Payment, PaymentLine  # noqa: E402

from connectors.emulator import SandboxServer  # noqa: E402
from connectors.quickbooks import sandbox as quickbooks_sandbox  # noqa: E402

CLIENT_ID, SECRET, REFRESH, REALM = "qbo-sdk-client", "qbo-sdk-secret", "RT1-sdk", "9341453100000001"


@pytest.fixture
def qb(monkeypatch: pytest.MonkeyPatch) -> Iterator[QuickBooks]:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # oauthlib's switch for plain-HTTP loopback servers
    server = SandboxServer(quickbooks_sandbox.create_app(CLIENT_ID, SECRET, REFRESH, REALM).asgi()).start()
    try:
        yield _client(server.url)
    finally:
        server.stop()


def _client(url: str, refresh_token: str = REFRESH) -> QuickBooks:
    class SandboxQuickBooks(QuickBooks):
        """The SDK's two base URLs are class attributes; pointing them at the sandbox is the only change."""
        sandbox_api_url_v3 = api_url_v3 = url + "/v3"

    discovery = f"{url}/.well-known/openid_configuration"
    auth = AuthClient(CLIENT_ID, SECRET, "http://localhost/callback", environment=discovery)
    return SandboxQuickBooks(auth_client=auth, refresh_token=refresh_token, company_id=REALM, minorversion=75,
                             use_decimal=True)


def _customer(qb: QuickBooks, name: str) -> Customer:
    customer = Customer()
    customer.DisplayName = name
    customer.PrimaryEmailAddr = {"Address": "ap@example.com"}
    return customer.save(qb=qb)


def _item(qb: QuickBooks, name: str = "Labour") -> Item:
    item = Item()
    item.Name = name
    item.Type = "Service"
    item.IncomeAccountRef = {"value": "79", "name": "Sales of Product Income"}
    return item.save(qb=qb)


def _invoice(customer: Customer, item: Item, doc_number: str, hours: str = "1.50", rate: str = "95.00") -> Invoice:
    detail = SalesItemLineDetail()
    detail.ItemRef = item.to_ref()
    detail.Qty = Decimal(hours)
    detail.UnitPrice = Decimal(rate)
    line = SalesItemLine()
    line.Amount = (Decimal(hours) * Decimal(rate)).quantize(Decimal("0.01"))
    line.Description = "Labour"
    line.SalesItemLineDetail = detail
    invoice = Invoice()
    invoice.DocNumber = doc_number
    invoice.CustomerRef = customer.to_ref()
    invoice.Line = [line]
    invoice.BillEmail = {"Address": "ap@example.com"}
    return invoice


def test_the_sdk_refreshes_its_token_through_discovery_and_rotation(qb: QuickBooks) -> None:
    assert qb.auth_client.access_token and qb.refresh_token != REFRESH  # rotated on first use
    assert qb.auth_client.token_endpoint.endswith("/oauth2/v1/tokens/bearer")
    url = qb.api_url.removesuffix("/v3")
    with pytest.raises(Exception, match="invalid_grant"):
        _client(url, refresh_token=REFRESH)  # the used refresh token is dead
    again = _client(url, refresh_token=qb.refresh_token)
    assert again.refresh_token != qb.refresh_token


def test_customers_are_found_by_name_however_they_are_spelled(qb: QuickBooks) -> None:
    names = ["Smith and Sons", "O'Brien Heating", "Back\\slash Ltd", "Ünïcode & Co"]
    made = {name: _customer(qb, name).Id for name in names}
    for name in names[:2] + names[3:]:
        found = Customer.filter(DisplayName=name, qb=qb)
        assert [c.Id for c in found] == [made[name]], name
    escaped = names[2].replace("\\", "\\\\")
    assert [c.Id for c in Customer.where(f"DisplayName = '{escaped}'", qb=qb)] == [made[names[2]]]
    assert [c.Id for c in Customer.where("DisplayName LIKE 'Smith%'", qb=qb)] == [made["Smith and Sons"]]
    assert {c.Id for c in Customer.choose(["Smith and Sons", "O'Brien Heating"], field="DisplayName", qb=qb)} == \
        {made["Smith and Sons"], made["O'Brien Heating"]}
    assert Customer.count(qb=qb) == 4
    assert [c.DisplayName for c in Customer.all(order_by="DisplayName", max_results=2, qb=qb)] == \
        ["Back\\slash Ltd", "O'Brien Heating"]
    with pytest.raises(QuickbooksException) as duplicate:  # 6000-range codes map to the base class in the SDK
        _customer(qb, "Smith and Sons")
    assert duplicate.value.error_code == 6240


def test_an_invoice_is_created_once_under_a_requestid_then_read_updated_and_sent(qb: QuickBooks) -> None:
    customer, item = _customer(qb, "Smith and Sons"), _item(qb)
    first = _invoice(customer, item, "J1001").save(qb=qb, request_id="fb-J1001-create")
    replay = _invoice(customer, item, "J1001").save(qb=qb, request_id="fb-J1001-create")
    assert replay.Id == first.Id  # a retried create with the same requestid is answered, not repeated
    assert Invoice.count("DocNumber = 'J1001'", qb=qb) == 1
    assert Decimal(str(first.TotalAmt)) == Decimal("142.50")

    read = Invoice.get(first.Id, qb=qb)
    assert read.DocNumber == "J1001" and read.SyncToken == first.SyncToken
    read.PrivateNote = "revised by fieldbridge"
    read.sparse = True
    updated = read.save(qb=qb, request_id="fb-J1001-revise")
    assert updated.PrivateNote == "revised by fieldbridge" and int(updated.SyncToken) == int(first.SyncToken) + 1

    sent = updated.send(qb=qb, send_to="billing@smith.example")
    assert sent["Invoice"]["EmailStatus"] == "EmailSent"
    assert sent["Invoice"]["BillEmail"]["Address"] == "billing@smith.example"

    queried = Invoice.query("SELECT * FROM Invoice WHERE DocNumber = 'J1001'", qb=qb)
    assert [i.Id for i in queried] == [first.Id] and queried[0].EmailStatus == "EmailSent"


def test_payments_lower_the_balance(qb: QuickBooks) -> None:
    customer, item = _customer(qb, "Smith and Sons"), _item(qb)
    invoice = _invoice(customer, item, "J2001").save(qb=qb)
    linked = LinkedTxn()
    linked.TxnId, linked.TxnType = invoice.Id, "Invoice"
    line = PaymentLine()
    line.Amount = Decimal("100.00")
    line.LinkedTxn = [linked]
    payment = Payment()
    payment.TotalAmt = Decimal("100.00")
    payment.CustomerRef = customer.to_ref()
    payment.Line = [line]
    payment.save(qb=qb)
    assert Decimal(str(Invoice.get(invoice.Id, qb=qb).Balance)) == Decimal("42.50")


def test_batch_creates_many_with_faults_per_item(qb: QuickBooks) -> None:
    customers = []
    for name in ["Alpha", "Beta", "Alpha"]:
        c = Customer()
        c.DisplayName = name
        customers.append(c)
    result = batch_create(customers, qb=qb)
    assert sorted(c.DisplayName for c in result.successes) == ["Alpha", "Beta"]
    assert len(result.faults) == 1 and result.faults[0].Error[0].code == "6240"


def test_the_sdk_sees_quickbooks_faults(qb: QuickBooks) -> None:
    customer, item = _customer(qb, "Smith and Sons"), _item(qb)
    _invoice(customer, item, "J3001").save(qb=qb)
    with pytest.raises(QuickbooksException) as duplicate_number:
        _invoice(customer, item, "J3001").save(qb=qb)
    assert duplicate_number.value.error_code == 6140
    with pytest.raises(QuickbooksException) as wrong_total:
        bad = _invoice(customer, item, "J3002")
        bad.Line[0].Amount = Decimal("1.00")
        bad.save(qb=qb)
    assert wrong_total.value.error_code == 6070
    with pytest.raises(ObjectNotFoundException):
        Invoice.get("999999", qb=qb)
    with pytest.raises(ValidationException) as parse_error:
        Invoice.query("SELECT * FROM Invoice WHERE", qb=qb)
    assert parse_error.value.error_code == 4000

    httpx.post(qb.api_url.removesuffix("/v3") + "/_sandbox/expire-access-tokens").raise_for_status()
    with pytest.raises(AuthorizationException) as expired:
        Customer.all(qb=qb)
    assert expired.value.error_code == 401 and '"code":"3200"' in expired.value.detail.replace(" ", "")
