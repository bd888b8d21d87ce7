"""``SessionArchiver``: the multi-terminal app's archiving API, same names and results,
built on the vault (zstd archives, SQLite index, crash-safe moves).

Where the app's archiver loses data or races, termvault's behaviour stands: an archive is
verified before its source goes, ``restore_session`` writes the session back to
``history/`` (the app's only decompressed it), a restored session counts as active from
its restore, and the background thread and a manual run never archive one session twice
(each sweep holds the home's write lock)."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import TermvaultError
from ..fsutil import validate_id
from ..index import ArchiveIndex
from ..lock import HomeLock
from ..model import SessionUnit
from ..sources.base import make_unit
from ..sources.native import MAX_NATIVE_BYTES
from ..streams import close_refs
from ..vault import Vault
from .state import SessionState

log = logging.getLogger(__name__)

# One background sweeper per home within a process; across processes the sweeper lock
# (``.sweeper.lock``) decides which process sweeps.
_SWEEPERS: dict[str, SessionArchiver] = {}
_SWEEPERS_LOCK = threading.Lock()


class SessionArchiver:
    """Archives native sessions (``history/*.json``) inactive for ``archive_days``."""

    def __init__(self, storage_dir: Path | str | None = None, archive_days: float = 30, **vault_options: Any):
        self.vault = Vault(storage_dir, archive_days=archive_days, **vault_options)
        self.storage_dir = self.vault.home
        self.archive_dir = self.vault.config.archive_dir
        self.history_dir = self.vault.config.history_dir
        self.archive_days = archive_days
        self._background_thread: threading.Thread | None = None
        self._stop_background = threading.Event()
        self._sweeper_lock: HomeLock | None = None

    @property
    def index(self) -> ArchiveIndex:
        return self.vault.index

    def _native(self):
        return self.vault.sources(["native"])[0]

    def archive_session(self, session_state: SessionState, history_file: Path | str) -> bool:
        """Archive one session file now, whatever its age. True on success (the file is
        then removed from history/); False, with the reason logged, otherwise."""
        history_file = Path(history_file)
        if os.path.realpath(history_file.parent) != os.path.realpath(self.history_dir):
            # Archiving moves: the file would be deleted from a folder that is not this home's.
            log.error("cannot archive %s: %s is not in %s", session_state.session_id, history_file, self.history_dir)
            return False
        cs = self._native()
        try:
            unit = next((u for u in cs.source.discover() if u.files[0].origin == history_file.absolute()), None)
            if unit is None:
                unit = _single_unit(session_state, history_file)
            if unit is None:
                log.error(
                    "cannot archive %s: %s is not a readable history file", session_state.session_id, history_file
                )
                return False
            with self.vault.writing("archiving a session"):
                self.vault.archive_unit(cs, unit)
            return True
        except (TermvaultError, OSError) as exc:
            log.error("failed to archive session %s: %s", session_state.session_id, exc)
            return False

    def restore_session(self, session_id: str) -> SessionState | None:
        """Write an archived session back to ``history/`` (byte-identical; an identical
        file already there is left alone) and return its state, or None if it is not
        archived or cannot be read. The archive keeps its copy. The session counts as
        active from now: sweeps leave it in ``history/`` until it has again been inactive
        for ``archive_days`` (see ``termvault.holds``). If a different file of the session
        is in the way, nothing is overwritten: the state is still returned and the
        conflict logged."""
        try:
            entry = self.vault.get(session_id)
            if entry.source != "native":
                log.warning("%s is a %s session, not a native one", session_id, entry.source)
                return None
            try:
                self.vault.restore(entry.session_id, entry.version)
            except TermvaultError as exc:
                log.warning("session %s not written back to history: %s", session_id, exc)
            refs = self.vault.spooled_files(entry)
            try:
                main = next(r for r in refs if not r.relpath.startswith("_conversation/"))
                if main.size > MAX_NATIVE_BYTES:
                    log.warning("session %s is %s bytes; restored to disk but not loaded", session_id, main.size)
                    return None
                with main.open() as fh:
                    return SessionState.from_json(fh.read(), f"archived session {session_id}")
            finally:
                close_refs(refs)
        except TermvaultError as exc:
            log.warning("cannot restore session %s: %s", session_id, exc)
            return None

    def auto_archive_old_sessions(self, progress_callback: Callable[[int, int], None] | None = None) -> dict[str, Any]:
        """Archive every native session older than ``archive_days``. Returns
        ``archived_count``, ``failed_count``, ``space_saved_mb`` (and the sweep details).
        ``progress_callback(current, total)`` is called once per session, failed included."""
        return self._sweep(self.archive_days, progress_callback)

    def _sweep(self, days: float, progress_callback=None, select=None) -> dict[str, Any]:
        callback = None
        if progress_callback is not None:

            def callback(p) -> None:
                # As the app's: a failing callback is logged and the run goes on (a raise
                # from a progress callback means "stop" to the sweep, which the app never asks).
                try:
                    progress_callback(p.done, p.total)
                except Exception:
                    log.exception("the archiving progress callback failed")

        try:
            report = self.vault.sweep(older_than=days, kinds=["native"], progress=callback, select=select)
        except TermvaultError as exc:
            log.error("auto-archive failed: %s", exc)
            return {"archived_count": 0, "failed_count": 0, "space_saved_mb": 0.0, "error": str(exc)}
        return report.to_dict()

    # -- background ---------------------------------------------------------------------
    def start_background_archiving(self, interval_hours: float = 24) -> bool:
        """Sweep now and then every ``interval_hours`` in a daemon thread. At most one
        sweeper runs per home: a second call (from any instance in this process) is a
        no-op returning False; across processes, only the holder of the sweeper lock
        sweeps, and the others keep trying at each interval."""
        key = str(self.storage_dir.resolve())
        with _SWEEPERS_LOCK:
            current = _SWEEPERS.get(key)
            if current is not None and current._background_thread and current._background_thread.is_alive():
                log.info("background archiving already runs for %s", key)
                return False
            self._stop_background.clear()
            self._sweeper_lock = HomeLock(self.storage_dir, name=".sweeper.lock")
            # The first run covers the files history/ holds now, as the app's does (it
            # lists them as its thread starts): a session saved after start-up waits for
            # the next run or a manual one, rather than racing it.
            at_start = _history_names(self.history_dir)
            thread = threading.Thread(
                target=self._background_loop,
                args=(interval_hours * 3600.0, at_start),
                daemon=True,
                name=f"termvault-sweeper:{key}",
            )
            self._background_thread = thread
            _SWEEPERS[key] = self
            thread.start()
            return True

    def _background_loop(self, interval: float, at_start: set[str] | None = None) -> None:
        holding = False
        first = at_start
        lock = self._sweeper_lock
        assert lock is not None, "the sweeper lock is made before the thread starts"
        try:
            while not self._stop_background.is_set():
                if not holding:
                    holding = lock.try_acquire("background sweeping")
                if holding:
                    try:
                        if first is not None and not first:
                            # history/ held nothing as the app started: nothing to sweep
                            # now, and no index is made meanwhile in a folder the app may
                            # be removing (its own test script does, once it is done).
                            first, result = None, {}
                        elif first is not None:
                            result = self._sweep(
                                self.archive_days, select=lambda u, names=first: u.files[0].origin.name in names
                            )
                            first = None
                        else:
                            result = self.auto_archive_old_sessions()
                        if result.get("archived_count"):
                            log.info(
                                "background archiving: %s sessions, %.2f MB saved",
                                result["archived_count"],
                                result["space_saved_mb"],
                            )
                    except Exception:  # keep sweeping at the next interval
                        log.exception("background archiving run failed")
                self._stop_background.wait(interval)
        finally:
            if holding:
                lock.release()

    def stop_background_archiving(self, timeout: float = 5.0) -> None:
        """Stop the sweeper thread; returns once it has stopped (within a second unless a
        sweep is running, which finishes its current session first)."""
        self._stop_background.set()
        thread = self._background_thread
        if thread and thread.is_alive():
            thread.join(timeout)
        with _SWEEPERS_LOCK:
            key = str(self.storage_dir.resolve())
            if _SWEEPERS.get(key) is self:
                del _SWEEPERS[key]

    @property
    def background_running(self) -> bool:
        return bool(self._background_thread and self._background_thread.is_alive())

    def get_archive_stats(self) -> dict[str, Any]:
        stats = self.index.get_stats()
        stats["archive_days_threshold"] = self.archive_days
        stats["archive_directory"] = str(self.archive_dir)
        return stats

    def close(self) -> None:
        self.stop_background_archiving()
        self.vault.close()


def _history_names(folder: Path) -> set[str]:
    try:
        return {e.name for e in os.scandir(folder) if e.name.endswith(".json")}
    except OSError:
        return set()


def _single_unit(state: SessionState, history_file: Path) -> SessionUnit | None:

    validate_id(state.session_id)
    path = history_file.absolute()
    if not path.is_file():
        return None
    return make_unit("native", state.session_id, path.parent, [path], stamp=state.modified_at)
