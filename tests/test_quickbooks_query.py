"""The QuickBooks sandbox parses its query language: names with `and`, quotes or backslashes are found."""

from __future__ import annotations

from decimal import Decimal

import pytest

from connectors.quickbooks import mapping
from connectors.quickbooks.query import QueryError, parse, run

ROWS = [
    {"Id": "1", "DisplayName": "Smith and Sons", "Active": True, "Balance": Decimal("10.00")},
    {"Id": "2", "DisplayName": "O'Brien Co", "Active": True, "Balance": Decimal("0")},
    {"Id": "3", "DisplayName": "A\\B Repairs", "Active": False, "Balance": Decimal("5.50")},
    {"Id": "4", "DisplayName": "Smith", "Active": True, "Balance": Decimal("2"), "MetaData": {"CreateTime": "2026"}},
]


@pytest.mark.parametrize("name", ["Smith and Sons", "O'Brien Co", "A\\B Repairs", "Smith"])
def test_an_escaped_name_finds_exactly_its_row(name: str) -> None:
    query = parse(f"select * from Customer where DisplayName = '{mapping.escape(name)}'")
    assert [r["DisplayName"] for r in run(query, ROWS)] == [name]


def test_conditions_ordering_and_paging() -> None:
    q = parse("SELECT * FROM Customer WHERE Active = true AND Balance >= 2 ORDERBY DisplayName DESC "
              "STARTPOSITION 1 MAXRESULTS 5")
    assert [r["Id"] for r in run(q, ROWS)] == ["1", "4"]
    assert [r["Id"] for r in run(parse("select * from Customer where Id in ('2', '3')"), ROWS)] == ["2", "3"]
    assert [r["Id"] for r in run(parse("select * from Customer where DisplayName like 'Smith%'"), ROWS)] == ["1", "4"]
    assert [r["Id"] for r in run(parse("select * from Customer where MetaData.CreateTime = '2026'"), ROWS)] == ["4"]
    assert run(parse("select Id from Customer startposition 2 maxresults 1"), ROWS) == [{"Id": "2"}]
    assert parse("select count(*) from Invoice").count


@pytest.mark.parametrize("bad", ["", "select", "select * from", "select * from Customer where",
                                 "select * from Customer where DisplayName = 'unterminated",
                                 "select * from Customer where DisplayName ~ 'x'",
                                 "select * from Customer maxresults 0", "delete from Customer"])
def test_a_malformed_query_is_a_parse_error(bad: str) -> None:
    with pytest.raises(QueryError, match="QueryParserError"):
        parse(bad)
