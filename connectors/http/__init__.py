"""The shared HTTP layer: one client, auth schemes, rate budgets, retries, classified errors.

Error kinds and records are the vendor-neutral contract (`connectors.contract`), not this layer's.
"""

from connectors.http.auth import BearerToken, FileTokenStore, OAuth2RefreshToken
from connectors.http.client import HttpClient
from connectors.http.pagination import CursorPaginator, PageNumberPaginator
from connectors.http.ratelimit import RateBudget, budget_for, quota
from connectors.http.retry import RetryPolicy

__all__ = [
    "BearerToken",
    "CursorPaginator",
    "FileTokenStore",
    "HttpClient",
    "OAuth2RefreshToken",
    "PageNumberPaginator",
    "RateBudget",
    "RetryPolicy",
    "budget_for",
    "quota",
]
