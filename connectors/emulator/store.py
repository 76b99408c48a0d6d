"""Sandbox state: JSON documents by collection and id in SQLite (memory or a file that survives restarts)."""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from connectors.http import jsonbody

_JSON_PATH = re.compile(r"\$(\.[A-Za-z_][A-Za-z0-9_]*)+")


class SandboxStore:
    """A tiny document store. Each `put` is committed before the handler answers."""

    def __init__(self, path: Path | str = ":memory:") -> None:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS doc (coll TEXT, id TEXT, seq INTEGER, body TEXT, PRIMARY KEY (coll, id))"
        )
        self._db.execute("CREATE TABLE IF NOT EXISTS counter (name TEXT PRIMARY KEY, value INTEGER)")
        self._lock = threading.RLock()
        self._indexed: set[str] = set()

    def next_id(self, name: str, start: int = 1) -> int:
        with self._lock:
            row = self._db.execute("SELECT value FROM counter WHERE name = ?", (name,)).fetchone()
            value = (row[0] + 1) if row else start
            self._db.execute("INSERT OR REPLACE INTO counter VALUES (?, ?)", (name, value))
            return value

    def put(self, coll: str, doc_id: str, body: dict[str, Any]) -> None:
        with self._lock:
            row = self._db.execute("SELECT seq FROM doc WHERE coll = ? AND id = ?", (coll, doc_id)).fetchone()
            seq = row[0] if row else self.next_id(f"seq:{coll}")
            self._db.execute(
                "INSERT OR REPLACE INTO doc VALUES (?, ?, ?, ?)", (coll, doc_id, seq, jsonbody.dumps(body))
            )

    def get(self, coll: str, doc_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT body FROM doc WHERE coll = ? AND id = ?", (coll, doc_id)).fetchone()
        return jsonbody.loads(row[0]) if row else None

    def delete(self, coll: str, doc_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM doc WHERE coll = ? AND id = ?", (coll, doc_id))

    def all(self, coll: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT body FROM doc WHERE coll = ? ORDER BY seq", (coll,)).fetchall()
        return [jsonbody.loads(r[0]) for r in rows]

    def ids(self, coll: str) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT id FROM doc WHERE coll = ? ORDER BY seq", (coll,))]

    def find(self, coll: str, pred: Callable[[dict[str, Any]], bool]) -> Iterator[dict[str, Any]]:
        return (d for d in self.all(coll) if pred(d))

    def find_by(self, coll: str, path: str, value: Any) -> list[dict[str, Any]]:
        """Documents whose JSON `path` (`$.properties.fieldbridge_job_id`) equals `value`, through an expression
        index made on first use: a unique-value lookup stays fast with 10,000s of records (bulk benchmarks),
        where a scan per create made a batch of creates quadratic."""
        if not _JSON_PATH.fullmatch(path):
            raise ValueError(f"not a simple JSON path: {path!r}")
        with self._lock:
            if path not in self._indexed:
                name = "ix_" + re.sub(r"[^a-z0-9]+", "_", path.lower()).strip("_")
                self._db.execute(f"CREATE INDEX IF NOT EXISTS {name} ON doc(coll, json_extract(body, '{path}'))")
                self._indexed.add(path)
            rows = self._db.execute(f"SELECT body FROM doc WHERE coll = ? AND json_extract(body, '{path}') = ? "
                                    "ORDER BY seq", (coll, value)).fetchall()
        return [jsonbody.loads(r[0]) for r in rows]

    def count(self, coll: str) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM doc WHERE coll = ?", (coll,)).fetchone()[0]

    def reset(self, keep: Iterator[str] | list[str] = ()) -> None:
        """Forget every record and id counter, except the collections in `keep` (issued OAuth tokens, say)."""
        kept = list(keep)
        with self._lock:
            marks = ",".join("?" * len(kept))
            self._db.execute(f"DELETE FROM doc WHERE coll NOT IN ({marks})" if kept else "DELETE FROM doc", kept)
            self._db.execute("DELETE FROM counter WHERE name NOT LIKE 'seq:%'" if kept else "DELETE FROM counter")
