"""Builders shared by the core tests: native sessions with a given age, on real disk."""

from __future__ import annotations

import os
import time
from pathlib import Path

from termvault import SessionState
from termvault.storage import SessionStorage

DAY = 86400.0


def make_native(home: Path, session_id: str, age_days: float, now: float | None = None, **fields) -> Path:
    """Save a native session last modified ``age_days`` ago (file mtime too); return its path."""
    now = time.time() if now is None else now
    modified = now - age_days * DAY
    state = SessionState(
        session_id=session_id,
        name=fields.pop("name", f"session {session_id}"),
        working_directory=fields.pop("working_directory", f"/home/me/{session_id}"),
        created_at=fields.pop("created_at", modified - 3600),
        modified_at=modified,
        command_count=fields.pop("command_count", 3),
        last_command=fields.pop("last_command", "make test"),
        output_snapshot=fields.pop("output_snapshot", f"output of {session_id}\n" * 20),
        **fields,
    )
    path = SessionStorage(home, enable_auto_archive=False).save_session(state)
    os.utime(path, (modified, modified))
    return path


def tree_bytes(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
