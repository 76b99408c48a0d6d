"""The default decision table from HTTP status to action; vendors refine it with their error bodies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from connectors.http.errors import ErrorResolution, FailureType, ResponseAction

Classifier = Callable[[httpx.Response, object], ErrorResolution | None]

_BY_STATUS: dict[int, ErrorResolution] = {
    401: ErrorResolution(ResponseAction.REFRESH_TOKEN_THEN_RETRY, FailureType.CONFIG, "not authenticated"),
    403: ErrorResolution(ResponseAction.FAIL, FailureType.CONFIG, "forbidden: check scopes and permissions"),
    404: ErrorResolution(ResponseAction.FAIL, FailureType.DATA, "not found"),
    408: ErrorResolution(ResponseAction.RETRY, FailureType.TRANSIENT, "request timeout"),
    409: ErrorResolution(ResponseAction.FAIL, FailureType.DATA, "conflict"),
    429: ErrorResolution(ResponseAction.RATE_LIMITED, FailureType.TRANSIENT, "rate limited"),
}


def default_resolution(response: httpx.Response) -> ErrorResolution:
    """Status-code defaults: 2xx success, 5xx retry, other 4xx fail as data errors."""
    status = response.status_code
    if status < 300:
        return ErrorResolution(ResponseAction.SUCCESS)
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:
        return ErrorResolution(ResponseAction.RETRY, FailureType.TRANSIENT, f"server error {status}")
    return ErrorResolution(ResponseAction.FAIL, FailureType.DATA, f"rejected with HTTP {status}")


def error_body_classifier(
    describe: Callable[[dict[str, Any]], tuple[str, str | None] | None],
) -> Callable[[httpx.Response, Any], ErrorResolution | None]:
    """A vendor classifier from a function that reads (message, category) out of its error body.

    The decision stays the shared table (429 rate limited, 409 conflict, other 4xx data errors); only
    the words come from the vendor, so errors read like the vendor's own.
    """

    def classify(response: httpx.Response, body: Any) -> ErrorResolution | None:
        described = describe(body) if response.status_code >= 400 and isinstance(body, dict) else None
        if described is None:
            return None
        message, category = described
        status = response.status_code
        if status == 429:
            return ErrorResolution(ResponseAction.RATE_LIMITED, FailureType.TRANSIENT, message, category)
        if status == 409:
            return ErrorResolution(ResponseAction.FAIL, FailureType.DATA, message, "CONFLICT")
        if status in (400, 404, 422):
            return ErrorResolution(ResponseAction.FAIL, FailureType.DATA, message, category)
        return None

    return classify


def retry_after_seconds(response: httpx.Response) -> float | None:
    """Parse `Retry-After` (seconds form) if the vendor sent one."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
