"""Wave Terminal: each terminal pane's scrollback, from Wave's own databases.

Wave keeps a block's raw PTY output in the FileStore (``<data>/db/filestore.db``) as the
circular file ``term`` (2 MiB window: only the latest output survives) and the block,
tab and workspace objects in ``<data>/db/waveterm.db``. One unit is one block's ``term``.

Copy mode only (Wave is never changed). Each version holds the window as it was, and
records the logical offset of its first byte (``extra.window_start``) and the file's
logical size; exports stitch the versions into one continuous history, reporting a gap
where output scrolled out between two sweeps. Sweep often (``termvault daemon
--interval 10m``) to keep everything a busy pane prints.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any, ClassVar

from ..errors import DataError
from ..model import FileRef, SessionInfo, SessionUnit
from ..streams import Reader, SpooledRef, new_spool
from .base import Message, RestoreRequest, Source
from .filestore import FileStore, Objects, connect, read_objects
from .panes import Store, base_info, block_info, discover_each, make_unit, safe_names, terminal_info, terminal_messages

log = logging.getLogger(__name__)

TERM = "term"
CHUNK = 1024 * 1024


class WaveSource(Source):
    kind = "wave"
    description = "Wave Terminal panes' scrollback (its filestore.db), copied and stitched"
    # A busy pane's window scrolls: take it whenever it changed, not only once it is quiet.
    settle_seconds: ClassVar[float | None] = 0.0
    windowed: ClassVar[bool] = True
    conversational: ClassVar[bool] = False  # scrollback: the parser's text is searched

    def default_roots(self) -> list[Path]:
        env, home = self.env, self.home_path()
        found: list[Path] = []
        legacy = Path(env["WAVETERM_HOME"]) if env.get("WAVETERM_HOME") else home / ".waveterm"
        if (legacy / "wave.lock").exists():
            found.append(legacy)
        if env.get("WAVETERM_DATA_HOME"):
            found.append(Path(env["WAVETERM_DATA_HOME"]))
        for name in ("waveterm", "waveterm-dev"):
            if env.get("XDG_DATA_HOME"):
                found.append(Path(env["XDG_DATA_HOME"]) / name)
            if sys.platform == "darwin":
                found.append(home / "Library" / "Application Support" / name)
            elif os.name == "nt":
                base = Path(env.get("LOCALAPPDATA") or home / "AppData" / "Local")
                found.append(base / name / "Data")
            else:
                found.append(home / ".local" / "share" / name)
        return list(dict.fromkeys(found))

    def detected(self) -> bool:
        return any((r / "db" / "filestore.db").is_file() for r in self.roots)

    def stores(self) -> list[Store]:
        return [
            Store(r, r / "db" / "filestore.db", r / "db" / "waveterm.db")
            for r in self.roots
            if (r / "db" / "filestore.db").is_file()
        ]

    def discover(self) -> Iterator[SessionUnit]:
        return discover_each(self.stores(), self._discover)

    def _discover(self, store: Store, seen: set[str]) -> Iterator[SessionUnit]:
        fs = FileStore(store.filestore, "Wave", wrap_parts=True)
        rows = fs.files()
        objects = read_objects(store.objects, "Wave") if store.objects else Objects()
        jobs = _job_ids(store.objects)
        for row in rows:
            if row.name != TERM or row.zoneid in jobs or row.size <= 0 or not safe_names(row.zoneid, row.name):
                continue
            session_id = f"wave-{row.zoneid}"
            if session_id in seen:
                continue
            seen.add(session_id)
            hints = block_info(objects, row.zoneid, f"Wave pane {row.zoneid[:8]}")
            unit = make_unit(self.kind, session_id, store, fs, row, self.home / ".tmp", hints)
            unit.hints["stamp"] = unit.mtime
            yield unit

    def parse(self, files: Sequence[FileRef]) -> SessionInfo:
        return terminal_info(SessionInfo(), files)

    def parse_unit(self, files: Sequence[FileRef], unit: SessionUnit) -> SessionInfo:
        return terminal_info(base_info(unit), files)

    def messages(self, files: Sequence[FileRef]) -> Iterator[Message]:
        yield from terminal_messages(files)

    def restore_in_place(self, request: RestoreRequest) -> tuple[list[str], list[str]] | None:
        raise DataError(
            f"{request.session_id} is a Wave pane's scrollback, which lives inside Wave's database "
            "and is never written back; restore it under a folder of your choice with --to DIR, "
            "or export it (termvault export ID --file history)."
        )

    def stitch(self, versions: Sequence[tuple[int, dict[str, Any], Sequence[FileRef]]], spool_dir: Path) -> FileRef:
        return stitch(versions, spool_dir)


def _job_ids(db: Path | None) -> set[str]:
    """Durable-shell job zones: their output is also in the attached block's ``term``."""
    if db is None or not db.is_file():
        return set()
    conn = connect(db, "Wave")
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "db_job" not in tables:
            return set()
        return {str(r[0]) for r in conn.execute("SELECT oid FROM db_job")}
    except sqlite3.Error:  # an unreadable job table only means no job filtering
        return set()
    finally:
        conn.close()


class HistoryRef(SpooledRef):
    """The stitched history of a windowed file (a FileRef), with the ``gaps`` found:
    (offset in this history, lost from, lost to) in the file's logical offsets."""

    def __init__(self, spool: IO[bytes], size: int, gaps: list[tuple[int, int, int]]):
        super().__init__("history", size, spool)
        self.gaps = gaps


def stitch(versions: Sequence[tuple[int, dict[str, Any], Sequence[FileRef]]], spool_dir: Path | None) -> HistoryRef:
    """One continuous history from successive windows of one file.

    Each version holds the bytes ``[window_start, logical_size)`` of the file (as its
    manifest's ``extra`` says). A window that starts after the end of what is stitched so
    far leaves a gap, recorded; a file that was recreated (another ``createdts``, or a
    smaller logical size) starts a new stretch after what came before.
    """
    spool = new_spool(spool_dir)  # owned by the HistoryRef returned
    gaps: list[tuple[int, int, int]] = []
    written = 0
    end: int | None = None
    created: Any = None
    for _version, meta, refs in sorted(versions, key=lambda v: v[0]):
        if not refs:
            continue
        extra = given if isinstance(given := meta.get("extra"), dict) else {}
        ref = refs[0]
        start = _int(extra.get("window_start"), 0)
        logical = _int(extra.get("logical_size"), start + ref.size)
        restarted = end is None or extra.get("createdts") != created or logical < end
        skip = 0
        if restarted:
            if start > 0:
                gaps.append((written, 0, start))
        else:
            assert end is not None  # a first version is always "restarted"
            if start > end:
                gaps.append((written, end, start))
            else:
                skip = end - start
        with ref.open() as fh:
            _discard(fh, skip)
            while chunk := fh.read(CHUNK):
                spool.write(chunk)
                written += len(chunk)
        end, created = max(logical, start + skip), extra.get("createdts")
    for _at, lost_from, lost_to in gaps:
        log.warning(
            "%d bytes of output (offsets %d-%d) scrolled out of the window before a sweep saw "
            "them; sweep more often to keep them",
            lost_to - lost_from,
            lost_from,
            lost_to,
        )
    return HistoryRef(spool, written, gaps)


def _discard(fh: Reader, n: int) -> None:
    while n > 0:
        got = fh.read(min(n, CHUNK))
        if not got:
            return
        n -= len(got)


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else default


__all__ = ["WaveSource", "stitch", "HistoryRef"]
