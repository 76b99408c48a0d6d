"""fieldbridge's home holds the database, OAuth tokens and signing secrets: owner-only, from the first byte."""

from __future__ import annotations

import os
from pathlib import Path


def private_dir(path: Path) -> Path:
    """`path` as a directory only its owner can enter (0700), created if missing, tightened if wider."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = path.stat()
    if st.st_mode & 0o077 and st.st_uid == os.getuid():
        path.chmod(0o700)
    return path


_prepared: set[Path] = set()


def private_file(path: Path) -> Path:
    """`path` as a file only its owner can read or write (0600), created empty if missing (before anything
    writes to it, so no secret is ever readable by others), tightened if wider. Checked once per process and
    path: the database URL is resolved on every `get_engine()`."""
    if path in _prepared and path.exists():
        return path
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.close(fd)
    st = path.stat()
    if st.st_mode & 0o077 and st.st_uid == os.getuid():
        path.chmod(0o600)
    _prepared.add(path)
    return path
