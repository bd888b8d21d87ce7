"""What the ``agentmux`` and ``wave`` sources share: one unit per FileStore file, named
and dated from the object store, and PTY output turned into clean text."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..ansi import TerminalLines, normalize_newlines, osc7_path, strip_ansi
from ..errors import TermvaultError
from ..model import FileRef, SessionInfo, SessionUnit, UnitFile
from .base import TOOL_OUTPUT_CAP, Message, TextCollector, decode_text, parse_time
from .filestore import FileRow, FileStore, Objects, SnapshotReader

log = logging.getLogger(__name__)

# Zone ids come from another program's database: only plain names become paths.
_SAFE_ZONE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_:.@-]{0,199}$")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_:.-]{0,199}$")
OUTPUT_CHUNK = 256 * 1024


@dataclass(frozen=True)
class Store:
    """One app data folder's databases."""

    root: Path  # the configured/default root it was found under
    filestore: Path
    objects: Path | None  # None: a store without blocks (AgentMux's global transcripts)


def safe_names(zoneid: str, name: str) -> bool:
    return bool(_SAFE_ZONE.match(zoneid) and ".." not in zoneid and _SAFE_NAME.match(name) and ".." not in name)


def origin_of(store: Path, zoneid: str, name: str) -> Path:
    """The name a FileStore file is recorded under: ``<filestore.db>/<zone>/<name>``."""
    return store / zoneid / name


def split_origin(origin: str) -> tuple[Path, str, str] | None:
    """(filestore.db path, zone, name) of an ``origin_of`` name, or None."""
    p = Path(origin)
    if len(p.parts) < 3 or not p.is_absolute():
        return None
    db, zoneid, name = p.parent.parent, p.parent.name, p.name
    return (db, zoneid, name) if safe_names(zoneid, name) else None


def make_unit(
    kind: str, session_id: str, store: Store, fs: FileStore, row: FileRow, spool_dir: Path, hints: dict[str, Any]
) -> SessionUnit:
    """A unit of one FileStore file: its window as discovered, read on demand."""
    start = row.window_start()
    uf = UnitFile(
        origin=origin_of(store.filestore, row.zoneid, row.name),
        relpath=f"{row.zoneid}/{row.name}",
        size=row.size - start,
        mtime_ns=row.modts * 1_000_000,
        reader=SnapshotReader(fs, row, spool_dir),
    )
    hints = dict(hints)
    hints.update(
        zoneid=row.zoneid,
        file=row.name,
        window_start=start,
        logical_size=row.size,
        createdts=row.createdts,
        modts=row.modts,
        gen=row.gen,
        line_count_db=row.lines,
        filestore=str(store.filestore),
    )
    return SessionUnit(kind, session_id, store.root, [uf], mtime=row.modts / 1000.0, hints=hints)


def _plain(value: Any) -> Any:
    """A string from another app's database without escape sequences or controls."""
    return (
        strip_ansi(value).replace("\r", "").replace("\n", " ").replace("\t", " ") if isinstance(value, str) else value
    )


def block_info(objects: Objects, block_id: str, fallback: str) -> dict[str, Any]:
    """Name, folder, command and activity times of a block, from the object store (its
    strings cleaned of escape sequences and control characters)."""
    info = _block_info(objects, block_id, fallback)
    return {k: _plain(v) for k, v in info.items()}


def _block_info(objects: Objects, block_id: str, fallback: str) -> dict[str, Any]:
    meta = objects.block_meta(block_id)
    tab = objects.tab_of(block_id)
    tab_name = objects.tab_names.get(tab or "", "")
    workspace = objects.workspace_of_tab.get(tab or "", "")
    title = next((meta[k] for k in ("frame:title", "display:name") if isinstance(meta.get(k), str) and meta[k]), "")
    agent = meta.get("agentId") if isinstance(meta.get("agentId"), str) else ""
    name = title or tab_name or agent or fallback
    cmd = meta.get("cmd") if isinstance(meta.get("cmd"), str) else None
    args = meta.get("cmd:args")
    if cmd and isinstance(args, list) and all(isinstance(a, str) for a in args):
        cmd = " ".join([cmd, *args])
    return {
        "name": name,
        "tab": tab_name,
        "workspace": workspace,
        "agent_id": agent or None,
        "view": meta.get("view") if isinstance(meta.get("view"), str) else None,
        "controller": meta.get("controller") if isinstance(meta.get("controller"), str) else None,
        "cwd": meta.get("cmd:cwd") if isinstance(meta.get("cmd:cwd"), str) else "",
        "cmd": cmd,
        "connection": meta.get("connection") if isinstance(meta.get("connection"), str) else None,
        "start": parse_time(meta.get("session:start_ts_ms")),
        "last": parse_time(meta.get("session:last_activity_ms")),
        "line_count": meta.get("session:line_count") if isinstance(meta.get("session:line_count"), int) else None,
        "archived_at": meta.get("session:archived_at"),
    }


def base_info(unit: SessionUnit) -> SessionInfo:
    """The store's metadata of a unit (first and last activity fall back to the file's
    createdts and modts)."""
    h = unit.hints
    info = SessionInfo(
        name=str(h.get("name") or unit.session_id),
        working_directory=str(h.get("cwd") or ""),
        last_command=h.get("cmd"),
        created_at=h.get("start") or parse_time(h.get("createdts")),
        last_activity_at=h.get("last") or parse_time(h.get("modts")),
    )
    info.extra = {
        k: h[k]
        for k in (
            "zoneid",
            "file",
            "window_start",
            "logical_size",
            "createdts",
            "modts",
            "tab",
            "workspace",
            "agent_id",
            "view",
            "controller",
            "connection",
        )
        if h.get(k) not in (None, "")
    }
    return info


class LineCounter:
    """Counts non-empty lines (as AgentMux's export counts them) over chunks of bytes."""

    def __init__(self) -> None:
        self.lines = 0
        self.size = 0
        self._pending = False  # the current line holds a non-blank character

    def feed(self, chunk: bytes) -> None:
        self.size += len(chunk)
        for i, piece in enumerate(chunk.split(b"\n")):
            if i > 0:
                self.lines += self._pending
                self._pending = False
            if piece.strip():
                self._pending = True

    def total(self) -> int:
        return self.lines + self._pending


def count_lines(ref: FileRef) -> tuple[int, int]:
    """(non-empty lines, bytes) of a file."""
    counter = LineCounter()
    with ref.open() as fh:
        while chunk := fh.read(1024 * 1024):
            counter.feed(chunk)
    return counter.total(), counter.size


def terminal_info(info: SessionInfo, files: Sequence[FileRef]) -> SessionInfo:
    """Searchable text (and the last folder an OSC 7 announced) of PTY output."""
    text = TextCollector()
    cwd: list[str] = []

    def on_osc(payload: str) -> None:
        path = osc7_path(payload)
        if path:
            cwd.append(path)

    counter = LineCounter()
    for ref in files:
        lines = TerminalLines(on_osc)
        with ref.open() as fh:
            while chunk := fh.read(OUTPUT_CHUNK):
                counter.feed(chunk)
                for line in lines.feed(decode_text(chunk)):
                    text.add(line, TOOL_OUTPUT_CAP)
        for line in lines.flush():
            text.add(line, TOOL_OUTPUT_CAP)
    info.text = text.text()
    info.extra["line_count"] = info.extra.get("line_count", 0) + counter.total()
    if cwd and not info.working_directory:
        info.working_directory = cwd[-1]
    return info


def terminal_messages(files: Sequence[FileRef]) -> list[Message]:
    """PTY output as clean text messages (escapes removed, line endings normalised). A
    stitched history's gaps (``ref.gaps``: output offset, lost from, lost to) become
    markers where they happened."""
    out = []
    for ref in files:
        with ref.open() as fh:
            data = fh.read()
        at = 0
        for offset, lost_from, lost_to in [*getattr(ref, "gaps", ()), (len(data), 0, 0)]:
            text = normalize_newlines(strip_ansi(decode_text(data[at:offset])))
            if text.strip():
                out.append(Message("output", text, name=ref.relpath))
            if lost_to > lost_from:
                out.append(
                    Message(
                        "marker",
                        f"{lost_to - lost_from} bytes of output were lost here "
                        f"(offsets {lost_from}-{lost_to}): they scrolled out of the "
                        "window before a sweep saw them",
                        name="gap",
                    )
                )
            at = offset
    return out


def discover_each(
    stores: Iterable[Store], discover_one: Callable[[Store, set[str]], Iterator[SessionUnit]]
) -> Iterator[SessionUnit]:
    """Every store's units; one unreadable database must not hide the others (its
    sentence is logged, naming it)."""
    seen: set[str] = set()
    for store in stores:
        try:
            yield from discover_one(store, seen)
        except TermvaultError as exc:
            log.warning("%s", exc)
