"""From a vendor's answer to an action and a failure type: the vendor's table first, then the defaults.

A plugin gives two things: `describe(status, body, headers)`, which reads its error into words and codes
(and may report an error inside a 2xx, as QuickBooks does), and an `ErrorTable` keyed by those codes or
by status. The defaults below cover every status; nothing vendor-specific lives here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import httpx

from connectors.contract.errors import (
    ConflictError,
    ErrorResolution,
    ErrorRule,
    FailureType,
    ResponseAction,
    VendorError,
)

#: (status, decoded body, response headers) → what the vendor says went wrong, or None for a success
Describe = Callable[[int, Any, Mapping[str, str]], VendorError | None]

DEFAULT_TABLE: Mapping[int, ErrorRule] = {
    401: ErrorRule(ResponseAction.REFRESH_TOKEN_THEN_RETRY, FailureType.CONFIG, message="not authenticated"),
    403: ErrorRule(ResponseAction.FAIL, FailureType.CONFIG, message="forbidden: check scopes and permissions"),
    404: ErrorRule(ResponseAction.FAIL, FailureType.DATA, message="not found"),
    408: ErrorRule(ResponseAction.RETRY, FailureType.TRANSIENT, message="request timeout"),
    409: ErrorRule(ResponseAction.FAIL, FailureType.DATA, ConflictError, message="conflict"),
    429: ErrorRule(ResponseAction.RATE_LIMITED, FailureType.TRANSIENT, message="rate limited"),
}


def resolve(status: int, body: Any, describe: Describe | None = None,
            table: Mapping[int | str, ErrorRule] | None = None,
            headers: Mapping[str, str] | None = None) -> ErrorResolution:
    """The resolution of one answer. Vendor codes are looked up before the status, the vendor's table
    before the defaults; a 2xx is a success unless `describe` finds an error in it."""
    said = describe(status, body, headers or {}) if describe is not None else None
    if said is None and status < 300:
        return ErrorResolution(ResponseAction.SUCCESS)
    codes = said.codes if said is not None else ()
    code = codes[0] if codes else None
    message = said.message if said is not None else ""
    for key in (*codes, status):
        rule = (table or {}).get(key)
        if rule is not None:
            return ErrorResolution(rule.action, rule.failure_type, message or rule.message, code, rule.error)
    rule = DEFAULT_TABLE.get(status)
    if rule is not None:
        return ErrorResolution(rule.action, rule.failure_type, message or rule.message, code, rule.error)
    if status >= 500:
        return ErrorResolution(ResponseAction.RETRY, FailureType.TRANSIENT, message or f"server error {status}", code)
    return ErrorResolution(ResponseAction.FAIL, FailureType.DATA, message or f"rejected with HTTP {status}", code)


def default_resolution(response: httpx.Response) -> ErrorResolution:
    """Status-code defaults alone: 2xx success, 5xx retry, other 4xx fail as data errors."""
    return resolve(response.status_code, None)


def retry_after_seconds(response: httpx.Response) -> float | None:
    """Parse `Retry-After` (seconds form) if the vendor sent one."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
