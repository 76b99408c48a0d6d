"""Client-side rate budget per vendor and tenant, shared by every client in the process."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field


@dataclass
class RateBudget:
    """A token bucket (`rate` requests per `per_seconds`) plus a concurrency cap.

    A 429 pauses the whole budget for `Retry-After`, so sibling threads back off together
    instead of each burning a request to discover the same limit.
    """

    rate: int
    per_seconds: float
    max_concurrent: int = 10
    _tokens: float = field(init=False)
    _updated: float = field(init=False, default_factory=time.monotonic)
    _paused_until: float = field(init=False, default=0.0)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)
    _slots: threading.BoundedSemaphore = field(init=False)
    _quota: tuple[int, int, int, str] | None = field(init=False, default=None)  # used, limit, reserve, who
    _quota_at: float = field(init=False, default=0.0)
    quota_recheck_seconds: float = 900.0  # a spent quota is believed this long, then one request asks again

    def __post_init__(self) -> None:
        self._tokens = float(self.rate)
        self._slots = threading.BoundedSemaphore(self.max_concurrent)

    def _wait_time(self) -> float:
        now = time.monotonic()
        if now < self._paused_until:
            return self._paused_until - now
        self._tokens = min(self.rate, self._tokens + (now - self._updated) * self.rate / self.per_seconds)
        self._updated = now
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) * self.per_seconds / self.rate

    def set_quota(self, used: int, limit: int, reserve: int, system: str) -> None:
        """A vendor's long-period quota as it reports it (Salesforce `Sforce-Limit-Info: api-usage=18/15000`)."""
        with self._lock:
            self._quota = (used, limit, reserve, system)
            self._quota_at = time.monotonic()

    def acquire(self) -> None:
        """Block until a request may be sent, then hold one concurrency slot. A long-period quota used up
        to its reserve stops at once: waiting seconds cannot bring back a daily allowance."""
        quota = self._quota
        if quota is not None and time.monotonic() - self._quota_at > self.quota_recheck_seconds:
            quota = None  # the window rolls (Salesforce counts the last 24 h): let a request see the usage now
        if quota is not None and quota[1] - quota[0] <= quota[2]:
            from connectors.contract.errors import QuotaExhausted

            used, limit, reserve, system = quota
            raise QuotaExhausted(system, f"daily API quota at {used}/{limit} (keeping {reserve} in reserve): "
                                 f"nothing more is sent; asking again in {self.quota_recheck_seconds / 60:.0f} min")
        while True:
            with self._lock:
                wait = self._wait_time()
            if wait <= 0:
                break
            time.sleep(min(wait, 1.0))
        self._slots.acquire()

    def release(self) -> None:
        self._slots.release()

    def pause(self, seconds: float) -> None:
        with self._lock:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)


_budgets: dict[str, RateBudget] = {}
_registry_lock = threading.Lock()


def budget_for(key: str, rate: int, per_seconds: float, max_concurrent: int = 10) -> RateBudget:
    """The process-wide budget for `key` (e.g. `quickbooks:<realm>`), created on first use."""
    with _registry_lock:
        if key not in _budgets:
            _budgets[key] = RateBudget(rate, per_seconds, max_concurrent)
        return _budgets[key]
