"""JSON that keeps money exact: Decimal out as a JSON number, numbers in as Decimal."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import simplejson


def dumps(obj: Any) -> str:
    return simplejson.dumps(obj, use_decimal=True, separators=(",", ":"))


def loads(text: str | bytes) -> Any:
    return simplejson.loads(text, use_decimal=True) if text else None


__all__ = ["Decimal", "dumps", "loads"]
