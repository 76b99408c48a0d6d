"""Backoff: exponential with full jitter, but a vendor's `Retry-After` always wins."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_seconds: float = 0.2
    cap_seconds: float = 30.0
    max_retry_after_seconds: float = 120.0  # longer waits are the Prefect task's job, not the client's

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before attempt number `attempt + 1` (attempt counts from 1)."""
        if retry_after is not None:
            return min(retry_after, self.max_retry_after_seconds) + random.uniform(0, 0.05)
        ceiling = min(self.cap_seconds, self.base_seconds * (2 ** (attempt - 1)))
        return random.uniform(ceiling / 2, ceiling)
