"""QuickBooks Online's query language, parsed (not split on strings), for the sandbox.

    SELECT * | field, … FROM Entity [WHERE cond AND cond …] [ORDERBY | ORDER BY field [ASC|DESC], …]
    [STARTPOSITION n] [MAXRESULTS n]
    cond := field (= | < | > | <= | >= | !=) value | field IN (value, …) | field LIKE 'pattern%'

Strings are single-quoted; `\\'` is a quote and `\\\\` a backslash inside them (how QuickBooks and its SDKs
escape). Keywords are case-insensitive; field names may be dotted (`MetaData.LastUpdatedTime`). A
customer called "Smith and Sons" or "A\\B" is looked up exactly — the lookups that keep a retried
write exactly-once depend on that.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.contract.times import parse_instant


class QueryError(ValueError):
    """The query does not parse; the message says where (QuickBooks answers 400, code 4000)."""


@dataclass(frozen=True)
class Condition:
    field: str
    op: str  # = < > <= >= != in like
    value: Any  # str, Decimal, bool, or a list for IN


@dataclass(frozen=True)
class Query:
    entity: str
    fields: tuple[str, ...]  # () means *
    where: tuple[Condition, ...] = ()
    order_by: tuple[tuple[str, bool], ...] = ()  # (field, descending)
    start: int = 1
    max_results: int = 100
    count: bool = False  # SELECT COUNT(*)

    def matches(self, doc: dict[str, Any]) -> bool:
        return all(_holds(c, _get(doc, c.field)) for c in self.where)


_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punct>[(),*])
  | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
""", re.VERBOSE)
_KEYWORDS = {"select", "from", "where", "and", "orderby", "asc", "desc", "startposition", "maxresults", "in",
             "like", "count", "true", "false"}


@dataclass
class _Tokens:
    items: list[tuple[str, Any, int]]
    pos: int = 0
    text: str = field(default="")

    def peek(self) -> tuple[str, Any, int] | None:
        return self.items[self.pos] if self.pos < len(self.items) else None

    def take(self) -> tuple[str, Any, int]:
        token = self.peek()
        if token is None:
            raise QueryError(f"QueryParserError: Encountered <EOF> at the end of \"{self.text}\"")
        self.pos += 1
        return token

    def keyword(self, *words: str) -> str | None:
        token = self.peek()
        if token is not None and token[0] == "word" and token[1].lower() in words:
            self.pos += 1
            return token[1].lower()
        return None

    def expect_keyword(self, word: str) -> None:
        if self.keyword(word) is None:
            self._fail(f"expected {word.upper()}")

    def expect_punct(self, char: str) -> None:
        kind, value, _ = self.take()
        if (kind, value) != ("punct", char):
            self._fail(f"expected '{char}'")

    def _fail(self, what: str) -> None:
        token = self.peek() if self.pos < len(self.items) else None
        where = f"\"{token[1]}\" at character {token[2] + 1}" if token else "<EOF>"
        raise QueryError(f"QueryParserError: Encountered {where}: {what}")


def _tokenize(text: str) -> _Tokens:
    items: list[tuple[str, Any, int]] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise QueryError(f"QueryParserError: Encountered \"{text[pos]}\" at character {pos + 1}")
        kind = m.lastgroup
        raw = m.group()
        if kind == "string":
            items.append(("string", re.sub(r"\\(.)", r"\1", raw[1:-1]), pos))
        elif kind != "ws":
            items.append((kind, raw, pos))
        pos = m.end()
    return _Tokens(items, text=text)


def parse(text: str) -> Query:
    tokens = _tokenize(text)
    tokens.expect_keyword("select")
    fields: list[str] = []
    count = False
    if tokens.keyword("count"):
        tokens.expect_punct("(")
        tokens.expect_punct("*")
        tokens.expect_punct(")")
        count = True
    elif (tokens.peek() or ("", "", 0))[:2] == ("punct", "*"):
        tokens.take()
    else:
        fields.append(_field(tokens))
        while (tokens.peek() or ("", "", 0))[:2] == ("punct", ","):
            tokens.take()
            fields.append(_field(tokens))
    tokens.expect_keyword("from")
    entity = _field(tokens)
    where: list[Condition] = []
    if tokens.keyword("where"):
        where.append(_condition(tokens))
        while tokens.keyword("and"):
            where.append(_condition(tokens))
    order: list[tuple[str, bool]] = []
    start, max_results = 1, 100
    while tokens.peek() is not None:
        word = tokens.keyword("orderby", "order", "startposition", "maxresults")
        if word == "order":  # `ORDER BY` is accepted as well as the documented `ORDERBY` (SDKs send both)
            tokens.expect_keyword("by")
            word = "orderby"
        if word == "orderby":
            order.append(_order(tokens))
            while (tokens.peek() or ("", "", 0))[:2] == ("punct", ","):
                tokens.take()
                order.append(_order(tokens))
        elif word == "startposition":
            start = _positive(tokens)
        elif word == "maxresults":
            max_results = min(_positive(tokens), 1000)
        else:
            tokens._fail("expected ORDERBY, STARTPOSITION or MAXRESULTS")
    return Query(entity, tuple(fields), tuple(where), tuple(order), start, max_results, count)


def _field(tokens: _Tokens) -> str:
    kind, value, _ = tokens.take()
    if kind != "word" or value.lower() in _KEYWORDS:
        tokens.pos -= 1
        tokens._fail("expected a name")
    return value


def _positive(tokens: _Tokens) -> int:
    kind, value, _ = tokens.take()
    if kind != "number" or "." in value or int(value) < 1:
        tokens.pos -= 1
        tokens._fail("expected a positive whole number")
    return int(value)


def _order(tokens: _Tokens) -> tuple[str, bool]:
    name = _field(tokens)
    direction = tokens.keyword("asc", "desc")
    return name, direction == "desc"


def _value(tokens: _Tokens) -> Any:
    kind, value, _ = tokens.take()
    if kind == "string":
        return value
    if kind == "number":
        return Decimal(value)
    if kind == "word" and value.lower() in ("true", "false"):
        return value.lower() == "true"
    tokens.pos -= 1
    tokens._fail("expected a value: 'text', a number, true or false")
    raise AssertionError


def _condition(tokens: _Tokens) -> Condition:
    name = _field(tokens)
    if tokens.keyword("in"):
        tokens.expect_punct("(")
        values = [_value(tokens)]
        while (tokens.peek() or ("", "", 0))[:2] == ("punct", ","):
            tokens.take()
            values.append(_value(tokens))
        tokens.expect_punct(")")
        return Condition(name, "in", values)
    if tokens.keyword("like"):
        pattern = _value(tokens)
        if not isinstance(pattern, str):
            tokens._fail("LIKE takes a quoted pattern")
        return Condition(name, "like", pattern)
    kind, op, _ = tokens.take()
    if kind != "op":
        tokens.pos -= 1
        tokens._fail("expected an operator")
    return Condition(name, "!=" if op == "<>" else op, _value(tokens))


def _get(doc: dict[str, Any], path: str) -> Any:
    node: Any = doc
    for part in path.split("."):
        if not isinstance(node, dict):
            return None
        node = next((v for k, v in node.items() if k.lower() == part.lower()), None)
    return node


def _comparable(left: Any, right: Any) -> tuple[Any, Any]:
    if isinstance(right, Decimal):
        try:
            return Decimal(str(left)), right
        except (InvalidOperation, ValueError):
            return str(left), str(right)
    if isinstance(right, bool):
        return bool(left) if isinstance(left, bool) else str(left).lower() == "true", right
    moments = parse_instant(left), parse_instant(right)
    if None not in moments:  # dateTime values compare as instants, whatever offset each is written in
        return moments
    return ("" if left is None else str(left)), right



def _holds(c: Condition, actual: Any) -> bool:
    if c.op == "in":
        return any(_holds(Condition(c.field, "=", v), actual) for v in c.value)
    if c.op == "like":
        regex = "^" + ".*".join(re.escape(part) for part in c.value.split("%")) + "$"
        return actual is not None and re.match(regex, str(actual), re.IGNORECASE | re.DOTALL) is not None
    left, right = _comparable(actual, c.value)
    try:
        return {"=": left == right, "!=": left != right, "<": left < right, ">": left > right,
                "<=": left <= right, ">=": left >= right}[c.op]
    except TypeError:
        return False


def run(query: Query, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Filter, order and page `rows` as QuickBooks would."""
    hits = [r for r in rows if query.matches(r)]
    for name, descending in reversed(query.order_by):
        hits.sort(key=lambda r, n=name: (str(_get(r, n)) if _get(r, n) is not None else ""), reverse=descending)
    page = hits[query.start - 1: query.start - 1 + query.max_results]
    if query.fields:
        keep = {f.lower() for f in query.fields} | {"id"}
        page = [{k: v for k, v in r.items() if k.lower() in keep} for r in page]
    return page
