"""How Salesforce says what went wrong: `[{"message", "errorCode", "fields"}]` arrays, mapped to actions
and kinds on top of the shared defaults. A daily quota used up stops cleanly; a concurrency limit waits."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.contract import (
    ConflictError,
    ErrorRule,
    FailureType,
    QuotaExhausted,
    ResponseAction,
    VendorError,
)


def describe(status: int, body: Any, headers: Mapping[str, str] | None = None) -> VendorError | None:
    if status < 300 or not isinstance(body, list) or not body or not isinstance(body[0], dict):
        return None
    first = body[0]
    code = str(first.get("errorCode") or first.get("statusCode") or "")
    message = str(first.get("message", ""))
    fields = first.get("fields") or []
    if fields:
        message = f"{message} (fields: {', '.join(map(str, fields))})"
    codes = (f"{code}:TotalRequests",) if code == "REQUEST_LIMIT_EXCEEDED" and "TotalRequests" in message else ()
    return VendorError(message, (*codes, code) if code else codes)


ERRORS: dict[int | str, ErrorRule] = {
    # the org's daily allowance is gone: retrying in minutes only burns what little is left
    "REQUEST_LIMIT_EXCEEDED:TotalRequests": ErrorRule(ResponseAction.FAIL, FailureType.CONFIG, QuotaExhausted),
    # the concurrent long-request limit (same code, other message): wait and retry
    "REQUEST_LIMIT_EXCEEDED": ErrorRule(ResponseAction.RATE_LIMITED, FailureType.TRANSIENT),
    "INVALID_SESSION_ID": ErrorRule(ResponseAction.REFRESH_TOKEN_THEN_RETRY, FailureType.CONFIG),
    "DUPLICATE_VALUE": ErrorRule(ResponseAction.FAIL, FailureType.DATA, ConflictError),
    "UNABLE_TO_LOCK_ROW": ErrorRule(ResponseAction.RETRY, FailureType.TRANSIENT),
    "SERVER_UNAVAILABLE": ErrorRule(ResponseAction.RETRY, FailureType.TRANSIENT),
    "INVALID_FIELD": ErrorRule(ResponseAction.FAIL, FailureType.CONFIG),  # the org lacks a field we write
    "NOT_FOUND": ErrorRule(ResponseAction.FAIL, FailureType.DATA),
}
