"""Keep secrets out of logs, artifacts and exception text."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_SECRET_NAME = re.compile(r"(token|secret|password|authorization|api[_-]?key|code|signature)", re.I)
MASK = "***"


def redact_url(url: str) -> str:
    """Mask query parameters whose names look like credentials."""
    parts = urlsplit(str(url))
    if not parts.query:
        return str(url)
    query = [(k, MASK if _SECRET_NAME.search(k) else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit(parts._replace(query=urlencode(query, safe="*/ '=")))


def redact(obj: Any) -> Any:
    """Deep-copy `obj` with values under secret-looking keys masked."""
    if isinstance(obj, dict):
        return {k: (MASK if _SECRET_NAME.search(str(k)) else redact(v)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [redact(v) for v in obj]
    return obj
