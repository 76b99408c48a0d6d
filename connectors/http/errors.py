"""Errors as data: every vendor response maps to an action and a failure type (after Airbyte's scheme)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class FailureType(StrEnum):
    TRANSIENT = "transient"  # try again later; nothing is wrong with our data or setup
    CONFIG = "config"  # credentials, permissions, quotas, wrong ids: a human must fix settings
    DATA = "data"  # the vendor rejected this payload; retrying the same request cannot help


class ResponseAction(StrEnum):
    SUCCESS = "success"
    RETRY = "retry"
    RATE_LIMITED = "rate_limited"
    REFRESH_TOKEN_THEN_RETRY = "refresh_token_then_retry"
    FAIL = "fail"


@dataclass(frozen=True)
class ErrorResolution:
    action: ResponseAction
    failure_type: FailureType | None = None
    message: str = ""
    vendor_code: str | None = None


class ConnectorError(Exception):
    """Base class; carries the system and a classification callers can branch on."""

    failure_type: FailureType = FailureType.TRANSIENT

    def __init__(
        self,
        system: str,
        message: str,
        *,
        status: int | None = None,
        vendor_code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.system = system
        self.status = status
        self.vendor_code = vendor_code
        self.retry_after = retry_after
        detail = f" (HTTP {status}" + (f", code {vendor_code}" if vendor_code else "") + ")" if status else ""
        super().__init__(f"{system}: {message}{detail}")


class TransientError(ConnectorError):
    failure_type = FailureType.TRANSIENT


class RateLimitedError(TransientError):
    """The vendor said 429 more often than our retry budget allows."""


class UnknownOutcomeError(TransientError):
    """The request was sent but no answer came back: it may or may not have committed."""


class ConfigError(ConnectorError):
    failure_type = FailureType.CONFIG


class DataError(ConnectorError):
    failure_type = FailureType.DATA


class ConflictError(DataError):
    """Optimistic-lock or uniqueness conflict (stale SyncToken/version, duplicate unique value)."""


def is_retryable(exc: BaseException) -> bool:
    """Whether a Prefect task retry can help: only transient failures."""
    return isinstance(exc, ConnectorError) and exc.failure_type is FailureType.TRANSIENT


def error_for(system: str, resolution: ErrorResolution, status: int, retry_after: float | None) -> ConnectorError:
    """Build the exception a FAIL (or exhausted retry) resolution should raise."""
    msg = resolution.message or f"request failed with HTTP {status}"
    kw = {"status": status, "vendor_code": resolution.vendor_code, "retry_after": retry_after}
    if status == 409 or resolution.vendor_code in {"5010", "CONFLICT"}:
        return ConflictError(system, msg, **kw)
    cls = {
        FailureType.DATA: DataError,
        FailureType.CONFIG: ConfigError,
        FailureType.TRANSIENT: RateLimitedError if status == 429 else TransientError,
    }[resolution.failure_type or FailureType.TRANSIENT]
    return cls(system, msg, **kw)
