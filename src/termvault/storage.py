"""``SessionStorage``: saving and loading native sessions in ``history/``, with automatic
archiving of old ones, as the multi-terminal app's API."""

from __future__ import annotations

import contextlib
import logging
import os
import re
from pathlib import Path

from .archiver import SessionArchiver
from .config import Config
from .errors import DataError
from .fsutil import atomic_write_bytes, ensure_private_dir, validate_id
from .state import SessionState

log = logging.getLogger(__name__)
_NAME = re.compile(r"^(\d+(?:\.\d+)?)_(.+)\.json$")


class SessionStorage:
    """Native session files ``history/{int(modified_at)}_{session_id}.json``.

    With ``enable_auto_archive`` the archiver's background sweeper is started (one per
    home, whatever the number of instances or processes)."""

    def __init__(self, storage_dir: Path | str | None = None, enable_auto_archive: bool = True):
        cfg = Config.load(storage_dir)
        self.storage_dir = cfg.home
        self.history_dir = cfg.history_dir
        ensure_private_dir(self.history_dir)
        self._config = cfg
        self._archiver: SessionArchiver | None = None
        self.enable_auto_archive = enable_auto_archive
        if enable_auto_archive:
            self.get_archiver().start_background_archiving(cfg.interval_hours)

    def get_archiver(self) -> SessionArchiver:
        if self._archiver is None:
            self._archiver = SessionArchiver(self.storage_dir, archive_days=self._config.archive_days)
        return self._archiver

    def archive_old_sessions(self, days: int | None = None) -> dict:
        """Archive sessions inactive for ``days`` (default: the configured threshold)."""
        archiver = self.get_archiver()
        # Passed through, not set on the archiver: its background sweeper reads that.
        return archiver._sweep(archiver.archive_days if days is None else days)

    def _files_of(self, session_id: str) -> list[Path]:
        validate_id(session_id)
        out = []
        for entry in os.scandir(self.history_dir):
            m = _NAME.match(entry.name)
            if m and m.group(2) == session_id:
                out.append(Path(entry.path))
        return sorted(out)

    def save_session(self, state: SessionState) -> Path:
        """Write atomically as the newest file of the session, then drop older files of
        the same session (a crash in between leaves the newest readable)."""
        validate_id(state.session_id)
        target = self.history_dir / state.history_filename
        atomic_write_bytes(target, state.to_json())
        for old in self._files_of(state.session_id):
            if old != target:
                with contextlib.suppress(FileNotFoundError):
                    old.unlink()
        return target

    def load_session(self, session_id: str) -> SessionState | None:
        """The newest saved state of ``session_id``, or None. A malformed file raises
        DataError naming it."""
        files = self._files_of(session_id)
        if not files:
            return None
        newest = max(files, key=lambda p: float(_NAME.match(p.name).group(1)))
        return SessionState.from_json(newest.read_bytes(), str(newest))

    def list_sessions(self) -> list[SessionState]:
        out = []
        for entry in sorted(os.scandir(self.history_dir), key=lambda e: e.name):
            if _NAME.match(entry.name):
                try:
                    out.append(SessionState.from_json(Path(entry.path).read_bytes(), entry.path))
                except (DataError, OSError) as exc:
                    log.warning("skipping %s: %s", entry.name, exc)
        return out

    def delete_session(self, session_id: str) -> bool:
        files = self._files_of(session_id)
        for f in files:
            f.unlink(missing_ok=True)
        return bool(files)

    def close(self) -> None:
        if self._archiver is not None:
            self._archiver.close()
