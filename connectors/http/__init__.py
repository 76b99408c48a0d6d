"""The shared HTTP layer: one client, auth schemes, rate budgets, retries, classified errors."""

from connectors.http.auth import BearerToken, FileTokenStore, OAuth2RefreshToken, TokenSet
from connectors.http.client import HttpClient
from connectors.http.errors import (
    ConfigError,
    ConflictError,
    ConnectorError,
    DataError,
    ErrorResolution,
    FailureType,
    RateLimitedError,
    ResponseAction,
    TransientError,
    UnknownOutcomeError,
    is_retryable,
)
from connectors.http.pagination import CursorPaginator, PageNumberPaginator
from connectors.http.ratelimit import RateBudget, budget_for
from connectors.http.retry import RetryPolicy

__all__ = [
    "BearerToken",
    "ConfigError",
    "ConflictError",
    "ConnectorError",
    "CursorPaginator",
    "DataError",
    "ErrorResolution",
    "FailureType",
    "FileTokenStore",
    "HttpClient",
    "OAuth2RefreshToken",
    "PageNumberPaginator",
    "RateBudget",
    "RateLimitedError",
    "ResponseAction",
    "RetryPolicy",
    "TokenSet",
    "TransientError",
    "UnknownOutcomeError",
    "budget_for",
    "is_retryable",
]
