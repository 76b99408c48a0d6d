"""Errors as data (after Airbyte's scheme): every vendor answer maps to an action and a failure type.

The core keeps one default table keyed by HTTP status. A vendor plugin adds an `ErrorTable` keyed by
its own error codes (QuickBooks `5010`, Salesforce `REQUEST_LIMIT_EXCEEDED`, …) or by status, so no
vendor-specific `if` lives in the core: the HTTP layer looks the vendor's keys up first, then the
defaults.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from connectors.contract.redact import scrub


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
        # a vendor's error text may echo a credential: it never reaches a log, the ledger or a traceback
        super().__init__(scrub(f"{system}: {message}{detail}"))


class TransientError(ConnectorError):
    failure_type = FailureType.TRANSIENT


class RateLimitedError(TransientError):
    """The vendor said 429 more often than our retry budget allows."""


class UnknownOutcomeError(TransientError):
    """The request was sent but no answer came back: it may or may not have committed."""


class ConfigError(ConnectorError):
    failure_type = FailureType.CONFIG


class QuotaExhausted(ConfigError):
    """A daily (not per-second) quota is used up: retrying within minutes only burns more of it."""


class DataError(ConnectorError):
    failure_type = FailureType.DATA


class ConflictError(DataError):
    """Optimistic-lock or uniqueness conflict (stale SyncToken/version, duplicate unique value)."""


@dataclass(frozen=True)
class ErrorResolution:
    """What to do with one answer: the action, the failure type, the words, the vendor's code."""

    action: ResponseAction
    failure_type: FailureType | None = None
    message: str = ""
    vendor_code: str | None = None
    error: type[ConnectorError] | None = None  # a more specific exception than the failure type's


@dataclass(frozen=True)
class ErrorRule:
    """One row of an error table: an answer with this key resolves to this action and kind."""

    action: ResponseAction
    failure_type: FailureType | None = None
    error: type[ConnectorError] | None = None
    message: str = ""  # used when the vendor's body says nothing readable


#: keys: an HTTP status (int) or a vendor code / category (str) as the plugin's `describe` reports it
ErrorTable = Mapping[int | str, ErrorRule]


@dataclass(frozen=True)
class VendorError:
    """What a vendor's error body says: readable words and the codes to look up, most specific first."""

    message: str
    codes: tuple[str, ...] = ()


#: exception types outside the vendor layer that are transient too — a dropped database connection (PostgreSQL
#: restarted), the Prefect API unreachable for a moment. The layers that raise them register them
#: (`models/db.py`, `tasks/runtime.py`), so this module imports neither SQLAlchemy nor Prefect.
_TRANSIENT_CHECKS: list[Callable[[BaseException], bool]] = []


def register_transient(check: Callable[[BaseException], bool]) -> None:
    if check not in _TRANSIENT_CHECKS:
        _TRANSIENT_CHECKS.append(check)


def is_retryable(exc: BaseException) -> bool:
    """Whether trying again later can help: transient vendor failures, and the registered infrastructure
    failures (a database or API that went away); never data or configuration errors."""
    if isinstance(exc, ConnectorError):
        return exc.failure_type is FailureType.TRANSIENT
    return any(check(exc) for check in _TRANSIENT_CHECKS)


def error_for(system: str, resolution: ErrorResolution, status: int, retry_after: float | None) -> ConnectorError:
    """Build the exception a FAIL (or exhausted retry) resolution should raise."""
    msg = resolution.message or f"request failed with HTTP {status}"
    kw = {"status": status, "vendor_code": resolution.vendor_code, "retry_after": retry_after}
    if resolution.error is not None:
        return resolution.error(system, msg, **kw)
    cls = {
        FailureType.DATA: DataError,
        FailureType.CONFIG: ConfigError,
        FailureType.TRANSIENT: RateLimitedError if resolution.action is ResponseAction.RATE_LIMITED
        else TransientError,
    }[resolution.failure_type or FailureType.TRANSIENT]
    return cls(system, msg, **kw)
