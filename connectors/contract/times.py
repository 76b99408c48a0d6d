"""Vendor timestamps: ISO 8601 with an offset, written `Z`, `+00:00` or `+0000` depending on the vendor."""

from __future__ import annotations

import re
from datetime import datetime

_COMPACT_OFFSET = re.compile(r"[+-]\d{4}$")


def parse_instant(value: object) -> datetime | None:
    """The instant an ISO 8601 date-time with an offset names; None for anything else (a date alone, a
    timestamp without offset, text), so callers can fall back to comparing or keeping text."""
    if not isinstance(value, str) or len(value) < 19 or value[10:11] not in ("T", "t"):
        return None
    text = value.upper().replace("Z", "+00:00")
    if _COMPACT_OFFSET.search(text):
        text = f"{text[:-2]}:{text[-2:]}"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None
