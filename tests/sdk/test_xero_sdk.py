"""The Xero sandbox driven by xero-python, Xero's official SDK: token refresh with rotation, connections,
contacts created and found by `where` (Contains, StartsWith, Guid, names with quotes and backslashes),
search terms and IDs, invoices created with an Idempotency-Key, read, updated, emailed, paid, filtered by
number, status, contact, date and If-Modified-Since, paged, and the errors the SDK raises."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

xero_python = pytest.importorskip("xero_python")

from xero_python.accounting import (  # noqa: E402
    AccountingApi,
    Contact,
    Contacts,
    Invoice,
    Invoices,
    LineAmountTypes,
    LineItem,
    Payment,
    Payments,
    RequestEmpty,
)
from xero_python.api_client import ApiClient, Configuration  # noqa: E402
from xero_python.api_client.oauth2 import OAuth2Token, TokenApi  # noqa: E402
from xero_python.exceptions import (  # noqa: E402
    AccountingBadRequestException,
    HTTPStatusException,
    NotFoundException,
)
from xero_python.identity import IdentityApi  # noqa: E402

from connectors.emulator import SandboxServer  # noqa: E402
from connectors.xero import sandbox as xero_sandbox  # noqa: E402

CLIENT_ID, SECRET, REFRESH = "xero-sdk-client", "xero-sdk-secret", "xero-rt-sdk"
TENANT = "0b1c2d3e-0000-4000-8000-00000000cafe"
SCOPES = ["offline_access", "accounting.transactions", "accounting.contacts"]


@dataclass
class Xero:
    url: str
    api: AccountingApi
    client: ApiClient
    tokens: dict[str, Any]


@pytest.fixture
def xero(monkeypatch: pytest.MonkeyPatch) -> Iterator[Xero]:
    server = SandboxServer(xero_sandbox.create_app(CLIENT_ID, SECRET, REFRESH, TENANT).asgi()).start()
    monkeypatch.setattr(TokenApi, "refresh_token_url", f"{server.url}/connect/token")  # identity.xero.com
    tokens: dict[str, Any] = {"access_token": "expired", "refresh_token": REFRESH, "scope": SCOPES,
                              "expires_in": 0, "token_type": "Bearer", "expires_at": time.time() - 1}
    client = ApiClient(Configuration(oauth2_token=OAuth2Token(client_id=CLIENT_ID, client_secret=SECRET)),
                       oauth2_token_getter=lambda: dict(tokens), oauth2_token_saver=tokens.update, pool_threads=1)
    try:
        yield Xero(server.url, AccountingApi(client, base_url=f"{server.url}/api.xro/2.0"), client, tokens)
    finally:
        server.stop()


def _contact(xero: Xero, name: str, number: str, email: str = "ap@example.com") -> Contact:
    made = xero.api.create_contacts(TENANT, Contacts(contacts=[Contact(name=name, contact_number=number,
                                                                          email_address=email)]))
    return made.contacts[0]


def _invoice(contact: Contact, number: str, hours: str = "1.50", day: date = date(2026, 11, 24)) -> Invoice:
    return Invoice(type="ACCREC", contact=Contact(contact_id=contact.contact_id), invoice_number=number, date=day,
                   due_date=day + timedelta(days=30), status="AUTHORISED", line_amount_types=LineAmountTypes.EXCLUSIVE,
                   line_items=[LineItem(description="Labour", quantity=float(hours), unit_amount=95.0,
                                        account_code="200", tax_type="OUTPUT")])


def test_the_sdk_refreshes_rotates_and_finds_its_tenant(xero: Xero) -> None:
    connections = IdentityApi(xero.client, base_url=xero.url).get_connections()
    assert [c.tenant_id for c in connections] == [TENANT]
    assert xero.tokens["refresh_token"] != REFRESH  # rotated and saved through the SDK's token saver
    first = xero.tokens["access_token"]
    xero.tokens["expires_at"] = time.time() - 1
    xero.api.get_contacts(TENANT)
    assert xero.tokens["access_token"] != first


def test_contacts_are_found_by_where_search_term_and_ids(xero: Xero) -> None:
    smith = _contact(xero, "Smith and Sons", "C001")
    quote = _contact(xero, 'O"Brien \\ Co', "C002")
    _contact(xero, "Bayside Apartments", "C003")
    api = xero.api

    def names(**query: Any) -> list[str]:
        return sorted(c.name for c in api.get_contacts(TENANT, **query).contacts)

    assert names(where='ContactNumber=="C001"') == ["Smith and Sons"]
    assert names(where='Name=="O\\"Brien \\\\ Co"') == ['O"Brien \\ Co']
    assert names(where='Name.Contains("a")') == ["Bayside Apartments", "Smith and Sons"]
    assert names(where='Name.StartsWith("Smith") AND ContactStatus=="ACTIVE"') == ["Smith and Sons"]
    assert names(where='Name.ToLower()=="smith and sons" OR ContactNumber=="C003"') == \
        ["Bayside Apartments", "Smith and Sons"]
    assert names(where=f'ContactID==Guid("{smith.contact_id.upper()}")') == ["Smith and Sons"]
    assert names(search_term="bayside") == ["Bayside Apartments"]
    assert names(i_ds=[smith.contact_id, quote.contact_id]) == ['O"Brien \\ Co', "Smith and Sons"]
    assert [c.name for c in api.get_contacts(TENANT, order="Name DESC").contacts] == \
        ["Smith and Sons", 'O"Brien \\ Co', "Bayside Apartments"]
    assert api.get_contact(TENANT, smith.contact_id).contacts[0].contact_number == "C001"
    with pytest.raises(AccountingBadRequestException) as bad:
        api.get_contacts(TENANT, where='Name.Contains("x"')
    assert b"where" in bad.value.body


def test_an_invoice_is_created_once_per_idempotency_key_then_updated_emailed_and_paid(xero: Xero) -> None:
    api = xero.api
    contact = _contact(xero, "Smith and Sons", "C001", "billing@smith.example")
    made = api.create_invoices(TENANT, Invoices(invoices=[_invoice(contact, "J1001")]), idempotency_key="fb-J1001")
    again = api.create_invoices(TENANT, Invoices(invoices=[_invoice(contact, "J1001")]), idempotency_key="fb-J1001")
    invoice = made.invoices[0]
    assert again.invoices[0].invoice_id == invoice.invoice_id  # the retry is answered from the first call
    assert Decimal(str(invoice.total)) == Decimal("154.97")  # 142.50 + 8.75 % tax, to the cent
    assert invoice.date == date(2026, 11, 24)

    revised = api.update_invoice(TENANT, invoice.invoice_id, Invoices(invoices=[Invoice(reference="PO-77")]),
                                 idempotency_key="fb-J1001-revise")
    assert revised.invoices[0].reference == "PO-77"

    api.email_invoice(TENANT, invoice.invoice_id, RequestEmpty(), idempotency_key="fb-J1001-email")
    api.email_invoice(TENANT, invoice.invoice_id, RequestEmpty(), idempotency_key="fb-J1001-email")
    outbox = httpx.get(f"{xero.url}/_sandbox/state/outbox").json()["results"]
    assert len(outbox) == 1 and outbox[0]["to"] == "billing@smith.example"
    assert api.get_invoice(TENANT, invoice.invoice_id).invoices[0].sent_to_contact is True

    api.create_payments(TENANT, Payments(payments=[Payment(invoice=Invoice(invoice_id=invoice.invoice_id),
                                                           account=_bank(), amount=54.97, date=date(2026, 11, 25))]))
    paid = api.get_invoice(TENANT, invoice.invoice_id).invoices[0]
    assert Decimal(str(paid.amount_due)) == Decimal("100.00") and Decimal(str(paid.amount_paid)) == Decimal("54.97")


def _bank() -> Any:
    from xero_python.accounting import Account
    return Account(code="090")


def test_invoices_are_filtered_by_number_status_contact_date_and_modification(xero: Xero) -> None:
    api = xero.api
    smith = _contact(xero, "Smith and Sons", "C001")
    other = _contact(xero, "Bayside Apartments", "C002")
    for n in range(1, 6):
        api.create_invoices(TENANT, Invoices(invoices=[_invoice(smith if n % 2 else other, f"J{n}",
                                                                day=date(2026, 11, 20 + n))]))

    def numbers(**query: Any) -> list[str]:
        return sorted(i.invoice_number for i in api.get_invoices(TENANT, **query).invoices)

    assert numbers(invoice_numbers=["J2", "J4"]) == ["J2", "J4"]
    assert numbers(statuses=["AUTHORISED"]) == ["J1", "J2", "J3", "J4", "J5"]
    assert numbers(where=f'Contact.ContactID==Guid("{other.contact_id}")') == ["J2", "J4"]
    assert numbers(contact_i_ds=[other.contact_id]) == ["J2", "J4"]
    assert numbers(where="Date>=DateTime(2026, 11, 24) AND Type==\"ACCREC\"") == ["J4", "J5"]
    assert numbers(where="AmountDue>150 AND AmountDue<155") == ["J1", "J2", "J3", "J4", "J5"]
    assert numbers(if_modified_since=datetime.now(UTC) + timedelta(hours=1)) == []
    assert numbers(if_modified_since=datetime.now(UTC) - timedelta(hours=1)) == ["J1", "J2", "J3", "J4", "J5"]
    assert numbers(page=2, page_size=2, order="InvoiceNumber DESC") == ["J2", "J3"]
    assert numbers(page=3, page_size=2, order="InvoiceNumber DESC") == ["J1"]


def test_the_sdk_sees_xero_errors(xero: Xero) -> None:
    api = xero.api
    contact = _contact(xero, "Smith and Sons", "C001")
    with pytest.raises(AccountingBadRequestException) as duplicate:
        _contact(xero, "smith and sons", "C009")
    assert b"already assigned" in duplicate.value.body
    bad = _invoice(contact, "J9")
    bad.line_items[0].account_code = "999"
    with pytest.raises(AccountingBadRequestException) as invalid:
        api.create_invoices(TENANT, Invoices(invoices=[bad]))
    assert b"Account code '999'" in invalid.value.body
    with pytest.raises(NotFoundException):
        api.get_invoice(TENANT, "00000000-0000-0000-0000-000000000000")

    # (a POST: for GET and PUT, urllib3 under the SDK honours Retry-After itself and would sleep out the day)
    httpx.post(f"{xero.url}/_sandbox/day-usage", json={"used": 5000}).raise_for_status()
    with pytest.raises(HTTPStatusException) as limited:
        api.update_or_create_invoices(TENANT, Invoices(invoices=[_invoice(contact, "J10")]))
    assert limited.value.status == 429
    assert limited.value.headers["X-Rate-Limit-Problem"] == "day" and limited.value.headers["Retry-After"]
