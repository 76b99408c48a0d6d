"""Vendor rate budgets shared by every worker process and host, in fieldbridge's PostgreSQL database.

Why PostgreSQL (and not Redis or Prefect's global concurrency limits): production already runs fieldbridge's
tables there, so nothing new has to be operated; one upsert per vendor request (about half a millisecond
on the same network) is small next to a vendor call; the bucket is refilled and compared with the
database's clock, so workers whose clocks disagree still share one budget; and a 429 pause is one column
every worker reads on its next request. Prefect's `rate_limit` would add an API round trip to the Prefect
server per vendor request and has no way to say "everyone stop for Retry-After seconds". The measured
figures are in docs/benchmarks.md.

One row per budget key (vendor + tenant + endpoint). A token bucket: `tokens` refill at `rate/per_seconds`
up to the budget's burst; each request takes one, or learns how long to wait.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Column, Float, text
from sqlalchemy.engine import Engine
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime


class RateBucket(SQLModel, table=True):
    __tablename__ = "rate_bucket"

    key: str = Field(primary_key=True)
    tokens: float = Field(sa_column=Column(Float, nullable=False))
    granted: bool = Field(sa_column=Column(Boolean, nullable=False))  # did the last request get a token
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    paused_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


_AVAILABLE = "least(:cap, b.tokens + extract(epoch from excluded.updated_at - b.updated_at) * :rate / :per)"
_PAUSED = "coalesce(b.paused_until > excluded.updated_at, false)"

_TAKE = text(f"""
WITH now AS (SELECT clock_timestamp() AS t)
INSERT INTO rate_bucket AS b (key, tokens, granted, updated_at, paused_until)
SELECT :key, :cap - 1, true, t, NULL FROM now
ON CONFLICT (key) DO UPDATE SET
    tokens = CASE WHEN {_PAUSED} THEN b.tokens
                  WHEN {_AVAILABLE} >= 1 THEN {_AVAILABLE} - 1
                  ELSE {_AVAILABLE} END,
    granted = NOT {_PAUSED} AND {_AVAILABLE} >= 1,
    updated_at = CASE WHEN {_PAUSED} THEN b.updated_at ELSE excluded.updated_at END
RETURNING granted, tokens,
          greatest(0, coalesce(extract(epoch from paused_until - clock_timestamp()), 0)) AS paused_for
""")

_PAUSE = text("""
INSERT INTO rate_bucket AS b (key, tokens, granted, updated_at, paused_until)
VALUES (:key, 0, false, clock_timestamp(), clock_timestamp() + make_interval(secs => :seconds))
ON CONFLICT (key) DO UPDATE SET
    paused_until = greatest(coalesce(b.paused_until, clock_timestamp()),
                            clock_timestamp() + make_interval(secs => :seconds))
""")


class DatabaseBudgetStore:
    """The `BudgetStore` of `connectors.http.ratelimit`, on PostgreSQL."""

    def __init__(self, engine: Engine) -> None:
        if engine.dialect.name != "postgresql":
            raise ValueError(f"shared rate budgets need PostgreSQL, not {engine.dialect.name}")
        self.engine = engine

    def take(self, key: str, rate: int, per_seconds: float, capacity: int) -> float:
        with self.engine.begin() as conn:
            row = conn.execute(_TAKE, {"key": key, "rate": float(rate), "per": float(per_seconds),
                                       "cap": float(capacity)}).one()
        if row.paused_for > 0:
            return float(row.paused_for)
        if row.granted:
            return 0.0
        return max(0.001, (1 - float(row.tokens)) * per_seconds / rate)

    def pause(self, key: str, seconds: float) -> None:
        with self.engine.begin() as conn:
            conn.execute(_PAUSE, {"key": key, "seconds": float(seconds)})
