"""Client-side rate budget per vendor and tenant: in the process, or shared by every process through a store.

A vendor's quota belongs to the tenant, not to a worker: with N workers each holding its own bucket the vendor
sees N times its limit. A `BudgetStore` (fieldbridge's PostgreSQL in production, `models/rate_budget.py`)
keeps the bucket and the 429 pause where every worker sees them; the embedded default keeps them in memory.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Protocol

log = logging.getLogger("fieldbridge.http")


class BudgetStore(Protocol):
    def take(self, key: str, rate: int, per_seconds: float, capacity: int) -> float:
        """Take one request's token from a bucket refilled at `rate/per_seconds` up to `capacity`: 0 if it may
        go now, else the seconds to wait before asking again."""
        ...

    def pause(self, key: str, seconds: float) -> None:
        """Nobody sends on `key` for `seconds` (a vendor's 429 with Retry-After)."""
        ...


@dataclass
class RateBudget:
    """A token bucket (`rate` requests per `per_seconds`, bursts of at most `burst`) plus a concurrency cap.

    Vendors count requests in sliding windows; a bucket lets through at most `burst + rate` requests in any
    window of `per_seconds`. The default burst (a twentieth of the rate) keeps that under the vendor's limit
    when the rate is set at 95 % of it, so a steady stream never meets a 429 — a burst the size of the rate would
    double the first window. A 429 pauses the whole budget for `Retry-After`, so sibling threads back off
    together instead of each burning a request to discover the same limit.
    """

    rate: int
    per_seconds: float
    max_concurrent: int = 10  # per process: connections are a process's own resource
    key: str = ""
    store: BudgetStore | None = None
    burst: int = 0  # 0: a twentieth of the rate (at least 1)
    _tokens: float = field(init=False)
    _updated: float = field(init=False, default_factory=time.monotonic)
    _paused_until: float = field(init=False, default=0.0)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)
    _slots: threading.BoundedSemaphore = field(init=False)
    _quota: tuple[int, int, int, str] | None = field(init=False, default=None)  # used, limit, reserve, who
    _quota_at: float = field(init=False, default=0.0)
    quota_recheck_seconds: float = 900.0  # a spent quota is believed this long, then one request asks again

    def __post_init__(self) -> None:
        self.burst = self.burst or max(1, self.rate // 20)
        self._tokens = float(self.burst)
        self._slots = threading.BoundedSemaphore(self.max_concurrent)

    def _wait_time(self) -> float:
        now = time.monotonic()
        if now < self._paused_until:
            return self._paused_until - now
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate / self.per_seconds)
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
            wait = self._shared_wait() if self.store is not None else None
            if wait is None:
                with self._lock:
                    wait = self._wait_time()
            if wait <= 0:
                break
            time.sleep(min(wait, 1.0))
        self._slots.acquire()

    def _shared_wait(self) -> float | None:
        """The store's answer, or None (use the local bucket) when the store cannot be reached: the
        database being briefly away must not stop every vendor call; the vendor's 429 stays the backstop."""
        with self._lock:
            now = time.monotonic()
            if now < self._paused_until:  # this process already knows: no need to ask
                return self._paused_until - now
        try:
            assert self.store is not None
            return self.store.take(self.key, self.rate, self.per_seconds, self.burst)
        except Exception as exc:
            log.warning("shared rate budget %s unavailable (%s): using this process's budget", self.key,
                        type(exc).__name__)
            return None

    def release(self) -> None:
        self._slots.release()

    def pause(self, seconds: float) -> None:
        with self._lock:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)
        if self.store is not None:  # every other worker holds too
            try:
                self.store.pause(self.key, seconds)
            except Exception as exc:
                log.warning("could not share a %.1f s pause on %s (%s)", seconds, self.key, type(exc).__name__)


BUDGET_SHARE = 0.95  # of a vendor's quota: the rest absorbs the burst, clock skew and jitter on the way


def quota(limit: int, window_seconds: float) -> dict[str, float]:
    """`budget_for` arguments for a vendor quota of `limit` requests per `window_seconds`."""
    return {"rate": max(1, int(limit * BUDGET_SHARE)), "per_seconds": window_seconds}


_budgets: dict[str, RateBudget] = {}
_registry_lock = threading.Lock()
_store: BudgetStore | None = None


def use_budget_store(store: BudgetStore | None) -> None:
    """Share every budget of this process (those made already and those to come) through `store`."""
    global _store
    with _registry_lock:
        _store = store
        for budget in _budgets.values():
            budget.store = store


def budget_for(key: str, rate: int, per_seconds: float, max_concurrent: int = 10, burst: int = 0) -> RateBudget:
    """The budget for `key` (e.g. `quickbooks:<realm>`), created on first use: this process's, and every
    process's when a store is in use."""
    with _registry_lock:
        if key not in _budgets:
            _budgets[key] = RateBudget(rate, per_seconds, max_concurrent, key=key, store=_store, burst=burst)
        return _budgets[key]


@dataclass
class QueryCostBucket:
    """A GraphQL vendor's query-cost leaky bucket (Jobber: 10,000 points, 500 restored a second), as the vendor
    reports it on every answer. A query is sent only when the bucket, restored since the last report, can pay
    its expected cost: the connector waits a few seconds instead of being throttled. The vendor's report is the
    truth, so every process that talks to the tenant corrects its estimate from each answer it gets."""

    maximum: float = 10_000.0
    restore_rate: float = 500.0  # points a second
    _known: bool = field(init=False, default=False)  # nothing is known before the first answer
    _available: float = field(init=False, default=0.0)  # may go below zero: points promised to queries in flight
    _updated: float = field(init=False, default_factory=time.monotonic)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)
    waited_seconds: float = field(init=False, default=0.0)  # time actually slept (benchmarks and tests read it)

    def report(self, maximum: float, available: float, restore_rate: float) -> None:
        with self._lock:
            self.maximum, self.restore_rate = float(maximum), max(float(restore_rate), 1e-6)
            self._available, self._updated, self._known = float(available), time.monotonic(), True

    def _restored(self, now: float) -> float:
        return min(self.maximum, self._available + (now - self._updated) * self.restore_rate)

    def take(self, cost: float) -> float:
        """Spend `cost` now if the bucket can pay it (0.0), else the seconds to wait before asking again. One
        step under the lock, so threads sharing the bucket never promise the same points twice. A cost above
        the maximum can never be paid: it goes at once and the vendor says so."""
        with self._lock:
            if not self._known or cost > self.maximum:
                return 0.0
            now = time.monotonic()
            available = self._restored(now)
            if available < cost:
                return (cost - available) / self.restore_rate
            self._available, self._updated = available - cost, now
            return 0.0

    def acquire(self, cost: float) -> None:
        while (wait := self.take(cost)) > 0:
            log.info("query-cost budget: waiting %.1f s for %.0f points", wait, cost)
            slept = min(wait, 5.0)
            time.sleep(slept)
            with self._lock:
                self.waited_seconds += slept


class CostAwareBudget:
    """A request budget plus a query-cost bucket, for `HttpClient`: every attempt (retries too) first waits for
    the points the caller expects this thread's query to cost (`expect`), then for a request slot."""

    def __init__(self, requests: RateBudget, cost: QueryCostBucket) -> None:
        self.requests = requests
        self.cost = cost
        self._expected = threading.local()

    def expect(self, cost: float) -> None:
        self._expected.cost = cost

    def acquire(self) -> None:
        self.cost.acquire(getattr(self._expected, "cost", 0.0))
        self.requests.acquire()

    def release(self) -> None:
        self.requests.release()

    def pause(self, seconds: float) -> None:
        self.requests.pause(seconds)
