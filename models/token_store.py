"""OAuth tokens where every worker host sees them: one row per connection in fieldbridge's database.

Refresh tokens of QuickBooks, Xero and Salesforce rotate: the old one dies the moment the vendor
issues the new one. So a refresh is serialised across threads, processes and hosts — a row lock
(`SELECT … FOR UPDATE`) on PostgreSQL, a file lock beside the database on SQLite — and the new token set
is committed before it is used. A fresh worker on another host reads the newest token and keeps the
connection.
"""

from __future__ import annotations

import fcntl
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Column, Field, SQLModel, Text

from connectors.contract import TokenSet
from models.types import UTCDateTime


class OAuthToken(SQLModel, table=True):
    __tablename__ = "oauth_token"
    key: str = Field(primary_key=True)  # e.g. "quickbooks:9341453112345678"
    access_token: str = Field(default="", sa_column=Column(Text, nullable=False))
    refresh_token: str = Field(default="", sa_column=Column(Text, nullable=False))
    expires_at: float = 0.0
    extra: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    updated_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


_T = OAuthToken.__table__  # type: ignore[attr-defined]
_THREAD_LOCKS: dict[str, threading.RLock] = {}
_REGISTRY = threading.Lock()


class DatabaseTokenStore:
    """The TokenStore of one connection, backed by an `oauth_token` row."""

    def __init__(self, engine: Engine, key: str) -> None:
        self.engine = engine
        self.key = key
        self._held = threading.local()  # the connection holding the row lock, while inside locked()

    def load(self) -> TokenSet | None:
        conn: Connection | None = getattr(self._held, "conn", None)
        query = select(_T.c.access_token, _T.c.refresh_token, _T.c.expires_at, _T.c.extra).where(_T.c.key == self.key)
        if conn is not None:
            row = conn.execute(query).first()
        else:
            with self.engine.connect() as c:
                row = c.execute(query).first()
        if row is None or not row[1]:
            return None
        return TokenSet(row[0], row[1], float(row[2]), json.loads(row[3] or "{}"))

    def save(self, tokens: TokenSet) -> None:
        """Durable before it returns: committed (inside locked() on PostgreSQL, by the lock's transaction,
        which ends the lock — saving is the last step of a refresh)."""
        stmt = update(_T).where(_T.c.key == self.key).values(
            access_token=tokens.access_token, refresh_token=tokens.refresh_token, expires_at=tokens.expires_at,
            extra=json.dumps(tokens.extra), updated_at=datetime.now(UTC))
        conn: Connection | None = getattr(self._held, "conn", None)
        if conn is not None:
            conn.execute(stmt)
            conn.commit()
            return
        self._ensure_row()
        with self.engine.begin() as c:
            c.execute(stmt)

    def _ensure_row(self) -> None:
        with self.engine.connect() as c:
            try:
                c.execute(insert(_T).values(key=self.key, access_token="", refresh_token="", expires_at=0.0,
                                            extra="{}"))
                c.commit()
            except IntegrityError:
                c.rollback()

    @contextmanager
    def locked(self) -> Iterator[None]:
        """One refresher at a time for this connection, across threads, processes and hosts."""
        with _REGISTRY:
            thread_lock = _THREAD_LOCKS.setdefault(f"{self.engine.url}:{self.key}", threading.RLock())
        with thread_lock:
            if getattr(self._held, "conn", None) is not None:  # re-entered by the same thread
                yield
                return
            self._ensure_row()
            if self.engine.dialect.name == "postgresql":
                with self.engine.connect() as conn:
                    conn.execute(select(_T.c.key).where(_T.c.key == self.key).with_for_update())
                    self._held.conn = conn
                    try:
                        yield
                    finally:
                        self._held.conn = None
                        conn.rollback()
            else:
                with _file_lock(self.engine, self.key):
                    yield


@contextmanager
def _file_lock(engine: Engine, key: str) -> Iterator[None]:
    """SQLite: an exclusive flock on a file beside the database (one host by definition)."""
    db = engine.url.database
    folder = Path(db).resolve().parent if db and db != ":memory:" else Path(".")
    path = folder / f".oauth-{key.replace(':', '_').replace('/', '_')}.lock"
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
