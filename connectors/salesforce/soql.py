"""The SOQL subset the Salesforce sandbox answers, parsed properly (a name with `and` or a quote in it is
just a string):

    SELECT field, … FROM Object [WHERE expr] [ORDER BY field [ASC|DESC], …] [LIMIT n] [OFFSET n]
    expr := cond | expr AND expr | expr OR expr | NOT cond | ( expr )
    cond := field (= | != | <> | < | <= | > | >=) value | field [NOT] IN (value, …) | field LIKE 'pat%'
    value := 'string' (\\' and \\\\ escapes) | number | true | false | null | 2026-11-24 | 2026-11-24T08:00:00Z
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from connectors.contract.times import parse_instant


class SoqlError(ValueError):
    """MALFORMED_QUERY: the message says where."""


@dataclass(frozen=True)
class Soql:
    fields: tuple[str, ...]
    sobject: str
    where: Any  # a predicate tree: ("and"|"or", left, right) | ("not", x) | ("cmp", field, op, value)
    order_by: tuple[tuple[str, bool], ...]
    limit: int | None
    offset: int


_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<datetime>\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))?)
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punct>[(),])
  | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
""", re.VERBOSE)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str, int]] = []
        pos = 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None:
                raise SoqlError(f"unexpected token: '{text[pos]}' at column {pos + 1}")
            if m.lastgroup != "ws":
                self.tokens.append((m.lastgroup or "", m.group(), pos))
            pos = m.end()
        self.pos = 0

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def fail(self, what: str) -> SoqlError:
        token = self.peek()
        where = f"'{token[1]}' at column {token[2] + 1}" if token else "end of query"
        return SoqlError(f"unexpected token: {where}: {what}")

    def word(self, *words: str) -> str | None:
        token = self.peek()
        if token and token[0] == "word" and token[1].upper() in words:
            self.pos += 1
            return token[1].upper()
        return None

    def need(self, *words: str) -> str:
        found = self.word(*words)
        if found is None:
            raise self.fail(f"expected {' '.join(words)}")
        return found

    def punct(self, char: str) -> bool:
        token = self.peek()
        if token and token[:2] == ("punct", char):
            self.pos += 1
            return True
        return False

    def name(self) -> str:
        token = self.peek()
        if not token or token[0] != "word":
            raise self.fail("expected a field or object name")
        self.pos += 1
        return token[1]

    def number(self) -> int:
        token = self.peek()
        if not token or token[0] != "number" or "." in token[1]:
            raise self.fail("expected a whole number")
        self.pos += 1
        return int(token[1])

    def value(self) -> Any:
        token = self.peek()
        if token is None:
            raise self.fail("expected a value")
        self.pos += 1
        kind, raw, _ = token
        if kind == "string":
            return re.sub(r"\\(.)", r"\1", raw[1:-1])
        if kind == "number":
            return Decimal(raw)
        if kind == "datetime":
            return DateTimeLiteral(raw)
        if kind == "word" and raw.lower() in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[raw.lower()]
        self.pos -= 1
        raise self.fail("expected a value")

    def expr(self) -> Any:
        left = self.term()
        while self.word("OR"):
            left = ("or", left, self.term())
        return left

    def term(self) -> Any:
        left = self.factor()
        while self.word("AND"):
            left = ("and", left, self.factor())
        return left

    def factor(self) -> Any:
        if self.word("NOT"):
            return ("not", self.factor())
        if self.punct("("):
            inner = self.expr()
            if not self.punct(")"):
                raise self.fail("expected ')'")
            return inner
        field = self.name()
        negate = bool(self.word("NOT"))
        if self.word("IN"):
            if not self.punct("("):
                raise self.fail("expected '(' after IN")
            values = [self.value()]
            while self.punct(","):
                values.append(self.value())
            if not self.punct(")"):
                raise self.fail("expected ')'")
            node: Any = ("cmp", field, "in", values)
            return ("not", node) if negate else node
        if negate:
            raise self.fail("expected IN after NOT")
        if self.word("LIKE"):
            return ("cmp", field, "like", self.value())
        token = self.peek()
        if not token or token[0] != "op":
            raise self.fail("expected an operator")
        self.pos += 1
        return ("cmp", field, "!=" if token[1] == "<>" else token[1], self.value())


def parse(text: str) -> Soql:
    """The query, or SoqlError saying what does not parse (a query nested past Python's stack included)."""
    try:
        return _parse(text)
    except RecursionError:
        raise SoqlError("the query nests too deeply") from None


def _parse(text: str) -> Soql:
    p = _Parser(text)
    p.need("SELECT")
    fields = [p.name()]
    while p.punct(","):
        fields.append(p.name())
    p.need("FROM")
    sobject = p.name()
    where = p.expr() if p.word("WHERE") else None
    order: list[tuple[str, bool]] = []
    limit: int | None = None
    offset = 0
    while p.peek() is not None:
        clause = p.need("ORDER", "LIMIT", "OFFSET")
        if clause == "ORDER":
            p.need("BY")
            while True:
                name = p.name()
                descending = p.word("ASC", "DESC") == "DESC"
                if p.word("NULLS"):
                    p.need("FIRST", "LAST")
                order.append((name, descending))
                if not p.punct(","):
                    break
        elif clause == "LIMIT":
            limit = p.number()
        else:
            offset = p.number()
    return Soql(tuple(fields), sobject, where, tuple(order), limit, offset)


def _get(record: dict[str, Any], path: str) -> Any:
    node: Any = record
    for part in path.split("."):
        if not isinstance(node, dict):
            return None
        node = next((v for k, v in node.items() if k.lower() == part.lower()), None)
    return node


class DateTimeLiteral(str):
    """A date or dateTime literal: compared with a record's field as an instant, not as text."""

    def instant(self) -> datetime | None:
        return parse_instant(str(self))


def _compare(actual: Any, op: str, expected: Any) -> bool:
    if op == "in":
        return any(_compare(actual, "=", v) for v in expected)
    if op == "like":
        if actual is None or not isinstance(expected, str):
            return False
        regex = "^" + ".*".join(re.escape(p).replace("_", ".") for p in expected.split("%")) + "$"
        return re.match(regex, str(actual), re.IGNORECASE | re.DOTALL) is not None
    if expected is None:
        return (actual is None) == (op == "=")
    if actual is None:
        return op == "!="
    if isinstance(expected, DateTimeLiteral) and expected.instant() is not None:
        left: Any = parse_instant(actual)
        if left is None:
            return False
        expected = expected.instant()
    elif isinstance(expected, bool):
        left = bool(actual)
    elif isinstance(expected, Decimal):
        try:
            left = Decimal(str(actual))
        except ArithmeticError:
            return False
    else:
        left, expected = str(actual).lower(), str(expected).lower()  # string compares ignore case, as SOQL's do
    try:
        return {"=": left == expected, "!=": left != expected, "<": left < expected, "<=": left <= expected,
                ">": left > expected, ">=": left >= expected}[op]
    except TypeError:
        return False


def holds(node: Any, record: dict[str, Any]) -> bool:
    if node is None:
        return True
    kind = node[0]
    if kind == "and":
        return holds(node[1], record) and holds(node[2], record)
    if kind == "or":
        return holds(node[1], record) or holds(node[2], record)
    if kind == "not":
        return not holds(node[1], record)
    return _compare(_get(record, node[1]), node[2], node[3])


def run(query: Soql, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    hits = [r for r in records if holds(query.where, r)]
    for name, descending in reversed(query.order_by):
        hits.sort(key=lambda r, n=name: (_get(r, n) is None, str(_get(r, n) or "")), reverse=descending)
    hits = hits[query.offset:]
    if query.limit is not None:
        hits = hits[: query.limit]
    return [{f: _get(r, f) for f in query.fields} for r in hits]
