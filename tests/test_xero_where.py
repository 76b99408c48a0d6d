"""Xero's `where` language as the sandbox parses it: precedence, parentheses, methods, typed comparisons,
and clear errors for filters that do not parse."""

from __future__ import annotations

from decimal import Decimal

import pytest

from connectors.xero.where import WhereError, parse

ROWS = [
    {"Name": "Smith and Sons", "Status": "AUTHORISED", "AmountDue": Decimal("154.97"), "IsCustomer": True,
     "Date": "/Date(1795478400000+0000)/", "Contact": {"ContactID": "AB12CD34-0000-4000-8000-000000000001"}},
    {"Name": 'O"Brien \\ Co', "Status": "DRAFT", "AmountDue": Decimal("0.00"), "IsCustomer": False,
     "Date": "/Date(1795305600000+0000)/", "Contact": {"ContactID": "ab12cd34-0000-4000-8000-000000000002"}},
]


def names(text: str) -> list[str]:
    predicate = parse(text)
    return [r["Name"] for r in ROWS if predicate(r)]


@pytest.mark.parametrize(("text", "expected"), [
    ('Name=="Smith and Sons"', ["Smith and Sons"]),
    ('Name = "O\\"Brien \\\\ Co"', ['O"Brien \\ Co']),
    ('Status=="DRAFT" OR Status=="AUTHORISED" AND AmountDue>100', ['Smith and Sons', 'O"Brien \\ Co']),
    ('(Status=="DRAFT" OR Status=="AUTHORISED") AND AmountDue>100', ["Smith and Sons"]),
    ('NOT (Status=="DRAFT")', ["Smith and Sons"]),
    ('!IsCustomer', ['O"Brien \\ Co']),
    ("IsCustomer==true", ["Smith and Sons"]),
    ('Name.Contains("and") && Name.StartsWith("Smith")', ["Smith and Sons"]),
    ('Name.ToUpper().EndsWith("CO")', ['O"Brien \\ Co']),
    ("AmountDue >= 154.97", ["Smith and Sons"]),
    ("Date < DateTime(2026, 11, 24)", ['O"Brien \\ Co']),
    ('Contact.ContactID == Guid("AB12CD34-0000-4000-8000-000000000002")', ['O"Brien \\ Co']),
    ("Missing == null", ["Smith and Sons", 'O"Brien \\ Co']),
])
def test_filters_select_the_right_rows(text: str, expected: list[str]) -> None:
    assert names(text) == expected


@pytest.mark.parametrize("text", [
    "", 'Name=="unterminated', 'Name.Contains("x"', "(Status==\"A\"", 'Name=="a" AND', "DateTime(2026, 13, 1) == Date",
    "Name == 'single'", "Status == == 1", 'Name.Contains(1)', 'Name.Contains("a").Foo',
])
def test_filters_that_do_not_parse_raise_a_clear_error(text: str) -> None:
    with pytest.raises(WhereError):
        parse(text)
