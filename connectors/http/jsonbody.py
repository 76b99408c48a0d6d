"""JSON that keeps money exact: Decimal out as a JSON number, numbers in as Decimal."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import simplejson


def dumps(obj: Any) -> str:
    return simplejson.dumps(obj, use_decimal=True, separators=(",", ":"))


def loads(text: str | bytes) -> Any:
    """Decode; nesting deeper than the decoder can follow is a malformed document (ValueError), like any other."""
    try:
        return simplejson.loads(text, use_decimal=True) if text else None
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


__all__ = ["Decimal", "dumps", "loads"]
