"""How QuickBooks Online says what went wrong: `Fault` bodies (sometimes inside a 200), error codes and
fault types, mapped to actions and kinds on top of the shared defaults."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.contract import (
    ConflictError,
    ErrorResolution,
    ErrorRule,
    FailureType,
    ResponseAction,
    VendorError,
)
from connectors.http.classify import resolve


def describe(status: int, body: Any, headers: Mapping[str, str] | None = None) -> VendorError | None:
    """QuickBooks reports errors as `Fault` bodies, sometimes inside a 200: never trust the status alone.
    Codes, most specific first: the error code (`5010`), then the fault type (`type:ValidationFault`)."""
    fault = body.get("Fault") if isinstance(body, dict) else None
    if fault is None:
        return None
    first = (fault.get("Error") or [{}])[0]
    message = f"{first.get('Message', '')}: {first.get('Detail', '')}".strip(": ")
    codes = tuple(c for c in (str(first.get("code", "")), f"type:{fault.get('type', '')}") if c and c != "type:")
    return VendorError(message, codes)


#: QuickBooks' error table (the defaults cover statuses; these are its codes and fault types)
ERRORS: dict[int | str, ErrorRule] = {
    "type:AUTHENTICATION": ErrorRule(ResponseAction.REFRESH_TOKEN_THEN_RETRY, FailureType.CONFIG),
    "3001": ErrorRule(ResponseAction.RATE_LIMITED, FailureType.TRANSIENT),  # ThrottleExceeded
    "type:AUTHORIZATION": ErrorRule(ResponseAction.FAIL, FailureType.CONFIG),
    "type:SystemFault": ErrorRule(ResponseAction.RETRY, FailureType.TRANSIENT),
    "5010": ErrorRule(ResponseAction.FAIL, FailureType.DATA, ConflictError),  # stale SyncToken
    "type:ValidationFault": ErrorRule(ResponseAction.FAIL, FailureType.DATA),
}


def classify(status: int, body: Any) -> ErrorResolution:
    return resolve(status, body, describe, ERRORS)  # batch items carry no headers of their own


