"""``SessionStorage``: the multi-terminal app's persistence API on a termvault home.

The app's files, names and results: ``workspace_state.json`` (``save_state`` /
``load_state``), ``workspaces.json`` (``save_workspaces`` / ``load_workspaces``), and
``history/{int(modified_at)}_{session_id}.json`` (``save_session_to_history``,
``load_session_history``, ``delete_session_from_history``, ``clear_old_history``), each
written to a temporary file, fsynced and renamed, the previous one kept as ``.bak``. Old
history goes to verified archives instead of being deleted.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..config import Config
from ..errors import DataError, InvalidIdError, TermvaultError
from ..fsutil import atomic_write_bytes, ensure_private_dir, validate_id
from .archiver import SessionArchiver
from .lazy_loader import LazyLoader
from .state import SessionState, WorkspaceData, WorkspaceState

log = logging.getLogger(__name__)
_NAME = re.compile(r"^(\d+(?:\.\d+)?)_(.+)\.json$")

# As in the app: lazy loading on unless asked otherwise.
LAZY_LOADING_ENABLED = True
_EMPTY_STATS = {"total_sessions": 0, "storage_size_mb": 0.0, "oldest_session": None, "newest_session": None}


def _saved_at(path: Path) -> float:
    """The save time in a state file's name (only names matching ``_NAME`` are listed)."""
    found = _NAME.match(path.name)
    if found is None:
        raise ValueError(f"{path} is not a saved session state.")
    return float(found.group(1))


class SessionStorage:
    """The app's storage: workspace state, named workspaces and session history in
    ``storage_dir`` (default: the termvault home, ``~/.multi-term``).

    With ``enable_auto_archive`` the archiver's background sweeper starts: one per home,
    whatever the number of instances or processes. (The app keeps one archiver for the
    whole process, bound to the first folder it saw, so a second storage folder was
    archived by the first one's archiver; here each home has its own, and a sweep holds
    the home's write lock, so the background thread and a manual ``archive_old_sessions``
    never archive the same session twice.)
    """

    def __init__(
        self,
        storage_dir: Path | str | None = None,
        lazy_loading: bool = LAZY_LOADING_ENABLED,
        enable_auto_archive: bool = True,
    ):
        cfg = Config.load(storage_dir)
        self.storage_dir = cfg.home
        self.state_file = self.storage_dir / "workspace_state.json"
        self.history_dir = cfg.history_dir
        self.workspaces_file = self.storage_dir / "workspaces.json"
        self.lazy_loading = lazy_loading
        self.enable_auto_archive = enable_auto_archive
        ensure_private_dir(self.storage_dir)
        ensure_private_dir(self.history_dir)
        self._config = cfg
        self._archiver: SessionArchiver | None = None
        self._lazy_loader = None
        if enable_auto_archive:
            self._get_or_open_archiver().start_background_archiving(cfg.interval_hours)

    # -- archiving ----------------------------------------------------------------------
    def _get_or_open_archiver(self) -> SessionArchiver:
        if self._archiver is None:
            self._archiver = SessionArchiver(self.storage_dir, archive_days=self._config.archive_days)
        return self._archiver

    def get_archiver(self) -> SessionArchiver | None:
        """The archiver of this home, or None when archiving is disabled (as in the app)."""
        return self._get_or_open_archiver() if self.enable_auto_archive else None

    def archive_old_sessions(self, days: int | None = None) -> dict:
        """Archive sessions inactive for ``days`` (default: the archiver's threshold).
        Returns ``archived_count``, ``failed_count``, ``space_saved_mb``; all zero when
        archiving is disabled. The threshold is passed to this one sweep, never set on the
        archiver (its background thread reads it)."""
        archiver = self.get_archiver()
        if archiver is None:
            log.warning("archiving is disabled for %s", self.storage_dir)
            return {"archived_count": 0, "failed_count": 0, "space_saved_mb": 0.0}
        return archiver._sweep(archiver.archive_days if days is None else days)

    # -- workspace state ----------------------------------------------------------------
    def save_state(self, workspace_state: WorkspaceState) -> bool:
        """Write ``workspace_state.json`` atomically (previous one kept as ``.bak``)."""
        return self._write_json_file(self.state_file, workspace_state.to_json(), "workspace state")

    def load_state(self) -> WorkspaceState | None:
        """The saved workspace, from the backup if the file is corrupt (a copy of the
        corrupt file is kept as ``corrupted_<time>_workspace_state.json``); None if there
        is none or neither can be read."""
        return self._read_json_file(self.state_file, WorkspaceState.from_json, "workspace state")

    def save_workspaces(self, workspaces: dict[int, WorkspaceData]) -> bool:
        """Write every named workspace to ``workspaces.json`` atomically (``.bak`` kept)."""
        try:
            text = json.dumps({str(k): w.to_dict() for k, w in workspaces.items()}, indent=2)
        except (TypeError, ValueError, AttributeError) as exc:
            log.error("cannot save workspaces: %s", exc)
            return False
        return self._write_json_file(self.workspaces_file, text, "workspaces")

    def load_workspaces(self) -> dict[int, WorkspaceData] | None:
        """Workspaces by id (invalid ones skipped with a warning), from the backup if the
        file is corrupt; None if there is none or neither can be read."""
        return self._read_json_file(self.workspaces_file, _parse_workspaces, "workspaces")

    def load_workspace_lazy(self, workspace_id: int) -> WorkspaceData | None:
        workspaces = self.load_workspaces()
        return workspaces.get(workspace_id) if workspaces else None

    def get_workspace_ids(self) -> list[int]:
        """Ids of the saved workspaces, without building them; [] on any error."""
        try:
            data = json.loads(self.workspaces_file.read_bytes())
            return [int(k) for k in data]
        except FileNotFoundError:
            return []
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            log.error("cannot list workspace ids in %s: %s", self.workspaces_file, exc)
            return []

    def get_lazy_loader(self):
        """The storage's ``LazyLoader`` (cache of 20 workspaces); None when lazy loading
        is off."""
        if not self.lazy_loading:
            log.warning("lazy loading is disabled for this storage")
            return None
        if self._lazy_loader is None:
            self._lazy_loader = LazyLoader(self, cache_size=20)
        return self._lazy_loader

    def _write_json_file(self, target: Path, text: str, what: str) -> bool:
        try:
            if target.exists():
                backup = target.with_suffix(".bak")
                atomic_write_bytes(backup, target.read_bytes())
            atomic_write_bytes(target, text.encode("utf-8"))
            return True
        except OSError as exc:
            log.error("failed to save %s to %s: %s", what, target, exc)
            return False

    def _read_json_file(self, path: Path, parse, what: str):
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            log.error("cannot read %s %s: %s", what, path, exc)
            return None
        try:
            return parse(text)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            log.error("%s %s is corrupt: %s", what, path, exc)
        backup = path.with_suffix(".bak")
        result = None
        with contextlib.suppress(OSError, ValueError, TypeError, KeyError, AttributeError, UnicodeDecodeError):
            if backup.exists():
                result = parse(backup.read_text(encoding="utf-8"))
                log.info("%s recovered from %s", what, backup)
        with contextlib.suppress(OSError):
            kept = path.with_name(f"corrupted_{int(time.time())}_{path.name}")
            shutil.copy2(path, kept)
            log.warning("corrupt %s kept as %s", what, kept)
        return result

    # -- history ------------------------------------------------------------------------
    def _history_files(self) -> list[Path]:
        try:
            names = [e.name for e in os.scandir(self.history_dir) if e.name.endswith(".json")]
        except FileNotFoundError:
            return []
        return [self.history_dir / n for n in names]

    def _files_of(self, session_id: str) -> list[Path]:
        validate_id(session_id)
        return sorted(p for p in self._history_files() if (m := _NAME.match(p.name)) and m.group(2) == session_id)

    def save_session_to_history(self, session_state: SessionState) -> bool:
        """Write the session as the app does (``json.dump(asdict(s), indent=2)``) to
        ``history/{int(modified_at)}_{session_id}.json``, atomically. False (logged) on
        error, an invalid session id included."""
        try:
            validate_id(session_state.session_id)
            target = self.history_dir / session_state.history_filename
            atomic_write_bytes(target, json.dumps(asdict(session_state), indent=2).encode("utf-8"))
            return True
        except (OSError, TermvaultError, TypeError, ValueError) as exc:
            log.error("failed to save session %s to history: %s", getattr(session_state, "session_id", "?"), exc)
            return False

    def load_session_history(self, limit: int = 50) -> list[SessionState]:
        """Up to ``limit`` sessions, newest file name first; unreadable files skipped."""
        out: list[SessionState] = []
        for path in sorted(self._history_files(), key=lambda p: p.name, reverse=True):
            if len(out) >= limit:
                break
            try:
                out.append(SessionState.from_json(path.read_bytes(), str(path)))
            except (DataError, OSError) as exc:
                log.warning("skipping history file %s: %s", path, exc)
        return out

    def delete_session_from_history(self, session_id: str) -> bool:
        """Delete every history file of ``session_id`` (what the app's user asked for:
        archived versions stay in the archive). True if one was deleted."""
        try:
            files = self._files_of(session_id)
        except InvalidIdError as exc:
            log.warning("not deleting %r: %s", session_id, exc)
            return False
        deleted = 0
        for path in files:
            try:
                path.unlink()
                deleted += 1
            except OSError as exc:
                log.error("failed to delete %s: %s", path, exc)
        return deleted > 0

    def clear_old_history(self, days: int = 30) -> int:
        """Take history files last written more than ``days`` ago out of ``history/`` and
        return how many, as the app does; but each is archived and verified first, never
        just deleted (the app's version deleted them). A file that cannot be archived
        stays and is not counted."""
        cutoff = time.time() - days * 86400
        old: set[str] = set()
        for path in self._history_files():
            with contextlib.suppress(OSError):
                if path.stat().st_mtime < cutoff:
                    old.add(os.path.abspath(path))
        if not old:
            return 0
        archiver = self._get_or_open_archiver()
        try:
            archiver.vault.sweep(
                older_than=0,
                kinds=["native"],
                prune=False,
                select=lambda unit: os.path.abspath(unit.files[0].origin) in old,
            )
        except TermvaultError as exc:
            log.error("could not archive old history: %s", exc)
        return sum(1 for p in old if not os.path.exists(p))

    def get_storage_stats(self) -> dict:
        """``total_sessions``, ``storage_size_mb``, ``oldest_session`` / ``newest_session``
        (file mtimes) of ``history/``. ``storage_size_mb`` is rounded to 2 decimals as in
        the app, except that a history holding anything is never reported as 0.0 MB (the
        app's rounding did that to any history under 5 KB, failing its own test script)."""
        sizes, times = [], []
        for path in self._history_files():
            with contextlib.suppress(OSError):
                st = path.stat()
                sizes.append(st.st_size)
                times.append(st.st_mtime)
        if not sizes:
            return dict(_EMPTY_STATS)
        return {
            "total_sessions": len(sizes),
            "storage_size_mb": max(round(sum(sizes) / (1024 * 1024), 2), 0.01 if sum(sizes) else 0.0),
            "oldest_session": min(times),
            "newest_session": max(times),
        }

    # -- termvault's own helpers --------------------------------------------------------
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
        newest = max(files, key=_saved_at)
        return SessionState.from_json(newest.read_bytes(), str(newest))

    def list_sessions(self) -> list[SessionState]:
        out = []
        for path in sorted(self._history_files(), key=lambda p: p.name):
            if _NAME.match(path.name):
                try:
                    out.append(SessionState.from_json(path.read_bytes(), str(path)))
                except (DataError, OSError) as exc:
                    log.warning("skipping %s: %s", path.name, exc)
        return out

    def delete_session(self, session_id: str) -> bool:
        files = self._files_of(session_id)
        for f in files:
            f.unlink(missing_ok=True)
        return bool(files)

    def close(self) -> None:
        if self._archiver is not None:
            self._archiver.close()


def _parse_workspaces(text: str) -> dict[int, WorkspaceData]:
    data: Any = json.loads(text)
    if not isinstance(data, dict):
        raise TypeError("workspaces file does not hold a JSON object")
    out: dict[int, WorkspaceData] = {}
    for key, value in data.items():
        try:
            out[int(key)] = WorkspaceData.from_dict(value)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("skipping invalid workspace %s: %s", key, exc)
    return out
