"""The CRM role over a folder of JSON files: one file per case, notes inside it, written atomically."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connectors.contract import CaseNote, CaseResolution, CaseSummary, DataError, VendorRecord


class CasebookCRM:
    system = "casebook"

    def __init__(self, folder: str, closed_status: str) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.closed_status = closed_status
        self._lock = threading.Lock()

    # -- the CRM role ---------------------------------------------------------------------------

    def open_case(self, job_id: str, subject: str, content: str) -> VendorRecord:
        with self._lock:
            case = self._read(job_id) or {"id": f"case-{job_id}", "job_id": job_id, "subject": subject,
                                          "content": content, "status": "open", "notes": {}}
            self._write(job_id, case)
        return self._record(case)

    def find_case(self, job_id: str) -> VendorRecord | None:
        case = self._read(job_id)
        return None if case is None else self._record(case)

    def resolve_case(self, case: CaseResolution) -> VendorRecord:
        """Idempotent by nature: setting the same resolution twice leaves the same file."""
        with self._lock:
            current = self._read(case.job_id)
            if current is None:
                raise DataError(self.system, f"no case for job {case.job_id}")
            current.update(status=self.closed_status, resolution=case.resolution,
                           closed_at=case.closed_at.isoformat())
            self._write(case.job_id, current)
        return self._record(current)

    def find_note(self, key: str, case_id: str | None = None) -> VendorRecord | None:
        for path in self.folder.glob("*.json"):
            note = json.loads(path.read_text())["notes"].get(key)
            if note is not None:
                return VendorRecord(id=key, raw=note)
        return None

    def add_note(self, case_id: str, note: CaseNote) -> VendorRecord:
        return self._put_note(case_id.removeprefix("case-"), note)

    def update_note(self, note_id: str, note: CaseNote) -> VendorRecord:
        for path in self.folder.glob("*.json"):
            if note_id in json.loads(path.read_text())["notes"]:
                return self._put_note(path.stem, note)
        raise DataError(self.system, f"note {note_id} not found")

    def list_cases(self, modified_since: datetime) -> Iterator[list[CaseSummary]]:
        """Reconciliation reads every case file changed since then (the file's mtime), one page."""
        page = []
        for path in sorted(self.folder.glob("*.json")):
            modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
            if modified >= modified_since:
                case = json.loads(path.read_text())
                page.append(CaseSummary(case["id"], case["job_id"], case["status"] == self.closed_status, modified))
        if page:
            yield page

    def record_url(self, kind: str, vendor_id: str) -> str | None:
        return (self.folder / f"{vendor_id.removeprefix('case-')}.json").resolve().as_uri() if kind == "ticket" \
            else None

    def close(self) -> None:
        pass

    # -- storage --------------------------------------------------------------------------------

    def _put_note(self, job_id: str, note: CaseNote) -> VendorRecord:
        with self._lock:
            case = self._read(job_id)
            if case is None:
                raise DataError(self.system, f"no case for job {job_id}")
            case["notes"][note.key] = {"body": note.body, "at": note.timestamp.isoformat()}
            self._write(job_id, case)
        return VendorRecord(id=note.key, raw=case["notes"][note.key])

    def _record(self, case: dict[str, Any]) -> VendorRecord:
        return VendorRecord(id=case["id"], status=case["status"], raw=case)

    def _read(self, job_id: str) -> dict[str, Any] | None:
        path = self.folder / f"{job_id}.json"
        return json.loads(path.read_text()) if path.exists() else None

    def _write(self, job_id: str, case: dict[str, Any]) -> None:
        tmp = self.folder / f".{job_id}.json.tmp"
        tmp.write_text(json.dumps(case, indent=2, sort_keys=True))
        os.replace(tmp, self.folder / f"{job_id}.json")
