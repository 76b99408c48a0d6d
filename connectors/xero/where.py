"""Xero's `where` filter language, parsed (not split on strings), for the sandbox.

    expr    := or
    or      := and ((OR | ||) and)*
    and     := unary ((AND | &&) unary)*
    unary   := (NOT | !) unary | '(' expr ')' | test
    test    := operand [(== | = | != | <> | > | >= | < | <=) operand]
    operand := path [.Contains(s) | .StartsWith(s) | .EndsWith(s) | .ToLower() | .ToUpper()]*
             | "string" | number | true | false | null | Guid("…") | DateTime(y, m, d[, h, mi, s])

Strings are double-quoted with backslash escapes (`\\"` is a quote), so a contact named `Smith and Sons`
or `O"Brien \\ Co` is found exactly. Field paths are dotted and case-insensitive (`Contact.ContactID`).
Dates stored as Xero's `/Date(ms+0000)/` compare with `DateTime(…)`; amounts compare as decimals.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any


class WhereError(ValueError):
    """The filter does not parse; Xero answers 400 ValidationException with the reason."""


_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<op>==|!=|<>|>=|<=|&&|\|\||=|>|<|!)
  | (?P<punct>[(),.])
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
""", re.VERBOSE)
_METHODS = {"contains", "startswith", "endswith", "tolower", "toupper"}
Row = dict[str, Any]
Expr = Callable[[Row], Any]


@dataclass
class _Parser:
    tokens: list[tuple[str, str]]
    pos: int = 0

    def peek(self, offset: int = 0) -> tuple[str, str] | None:
        i = self.pos + offset
        return self.tokens[i] if i < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise WhereError("the filter ends too early")
        self.pos += 1
        return token

    def accept(self, *values: str) -> str | None:
        token = self.peek()
        if token is not None and (token[1] in values or (token[0] == "word" and token[1].upper() in values)):
            self.pos += 1
            return token[1]
        return None

    def expect(self, value: str) -> None:
        if self.accept(value) is None:
            raise WhereError(f"expected '{value}' at {self._where()}")

    def _where(self) -> str:
        token = self.peek()
        return f"'{token[1]}'" if token else "the end"

    # grammar ---------------------------------------------------------------------------------------
    def parse_or(self) -> Expr:
        left = self.parse_and()
        while self.accept("OR", "||"):
            right, before = self.parse_and(), left
            left = lambda row, a=before, b=right: bool(a(row)) or bool(b(row))  # noqa: E731
        return left

    def parse_and(self) -> Expr:
        left = self.parse_unary()
        while self.accept("AND", "&&"):
            right, before = self.parse_unary(), left
            left = lambda row, a=before, b=right: bool(a(row)) and bool(b(row))  # noqa: E731
        return left

    def parse_unary(self) -> Expr:
        if self.accept("NOT", "!"):
            inner = self.parse_unary()
            return lambda row: not inner(row)
        if self.accept("("):
            inner = self.parse_or()
            self.expect(")")
            return inner
        return self.parse_test()

    def parse_test(self) -> Expr:
        left = self.parse_operand()
        op = self.accept("==", "=", "!=", "<>", ">", ">=", "<", "<=")
        if op is None:
            return left
        right = self.parse_operand()
        return lambda row: _compare(left(row), op, right(row))

    def parse_operand(self) -> Expr:
        kind, value = self.take()
        if kind == "string":
            text = re.sub(r"\\(.)", r"\1", value[1:-1])
            return lambda row: text
        if kind == "number":
            number = Decimal(value)
            return lambda row: number
        if kind != "word":
            raise WhereError(f"unexpected '{value}'")
        word = value.lower()
        if word in ("true", "false"):
            return lambda row: word == "true"
        if word == "null":
            return lambda row: None
        if word == "guid":
            self.expect("(")
            kind, raw = self.take()
            if kind != "string":
                raise WhereError("Guid() takes a quoted value")
            self.expect(")")
            guid = raw[1:-1].lower()
            return lambda row: guid
        if word == "datetime":
            moment = self._datetime()
            return lambda row: moment
        return self._path(value)

    def _datetime(self) -> datetime:
        self.expect("(")
        parts: list[int] = []
        while True:
            kind, value = self.take()
            if kind != "number" or "." in value:
                raise WhereError("DateTime() takes whole numbers: DateTime(year, month, day[, hour, minute, second])")
            parts.append(int(value))
            if self.accept(")"):
                break
            self.expect(",")
        if len(parts) not in (3, 6):
            raise WhereError("DateTime() takes 3 or 6 numbers")
        try:
            return datetime(*parts, tzinfo=UTC)  # type: ignore[arg-type, misc]
        except ValueError as exc:
            raise WhereError(f"DateTime(): {exc}") from None

    def _path(self, first: str) -> Expr:
        names = [first]
        calls: list[tuple[str, str | None]] = []
        while self.accept("."):
            kind, name = self.take()
            if kind != "word":
                raise WhereError(f"expected a field name after '.', got '{name}'")
            if name.lower() in _METHODS and self.accept("("):
                arg = None
                if name.lower() in ("contains", "startswith", "endswith"):
                    kind, raw = self.take()
                    if kind != "string":
                        raise WhereError(f"{name}() takes a quoted value")
                    arg = re.sub(r"\\(.)", r"\1", raw[1:-1])
                self.expect(")")
                calls.append((name.lower(), arg))
            elif calls:
                raise WhereError(f"unexpected '.{name}' after a method call")
            else:
                names.append(name)

        path = ".".join(names)

        def evaluate(row: Row) -> Any:
            value = field(row, path)
            for method, arg in calls:
                value = _call(method, "" if value is None else str(value), arg or "")
            return value

        return evaluate


def field(row: Row, path: str) -> Any:
    """A dotted, case-insensitive field of a document (`Contact.ContactID`); None where it is absent."""
    value: Any = row
    for name in path.split("."):
        value = next((v for k, v in value.items() if k.lower() == name.lower()), None) \
            if isinstance(value, dict) else None
    return value


def _call(method: str, text: str, arg: str) -> Any:
    if method == "contains":
        return arg in text
    if method == "startswith":
        return text.startswith(arg)
    if method == "endswith":
        return text.endswith(arg)
    return text.lower() if method == "tolower" else text.upper()


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        match = re.fullmatch(r"/Date\((-?\d+)(?:[+-]\d{4})?\)/", value)
        if match:
            return datetime.fromtimestamp(int(match.group(1)) / 1000, tz=UTC)
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _compare(left: Any, op: str, right: Any) -> bool:
    if isinstance(left, datetime) or isinstance(right, datetime):
        left, right = _as_datetime(left), _as_datetime(right)
    elif isinstance(left, Decimal) or isinstance(right, Decimal):
        try:
            left, right = Decimal(str(left)), Decimal(str(right))
        except InvalidOperation:
            return op in ("!=", "<>")
    elif isinstance(left, bool) or isinstance(right, bool):
        left, right = str(left).lower(), str(right).lower()
    elif left is not None and right is not None:
        left, right = str(left), str(right)
        if re.fullmatch(r"[0-9a-fA-F-]{36}", left) and re.fullmatch(r"[0-9a-fA-F-]{36}", right):
            left, right = left.lower(), right.lower()  # Guid("…") compares without case
    if op in ("==", "="):
        return left == right
    if op in ("!=", "<>"):
        return left != right
    if left is None or right is None:
        return False
    try:
        return {">": left > right, ">=": left >= right, "<": left < right, "<=": left <= right}[op]
    except TypeError:
        return False


def parse(text: str) -> Expr:
    """Compile a `where` filter into a predicate over a stored document; WhereError if it does not parse
    (a filter nested past Python's stack included)."""
    try:
        return _parse(text)
    except RecursionError:
        raise WhereError("the filter nests too deeply") from None


def _parse(text: str) -> Expr:
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise WhereError(f"unexpected character '{text[pos]}' at position {pos + 1}")
        if match.lastgroup != "ws":
            tokens.append((match.lastgroup or "", match.group()))
        pos = match.end()
    if not tokens:
        raise WhereError("the filter is empty")
    parser = _Parser(tokens)
    predicate = parser.parse_or()
    if parser.peek() is not None:
        raise WhereError(f"unexpected {parser._where()}")
    return predicate
