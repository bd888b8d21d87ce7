"""AgentMux: agent panes' output and shell panes' scrollback, from AgentMux's databases.

AgentMux (a port of Wave Terminal) keeps each block's output in the FileStore
``<data>/db/filestore.db`` and its blocks, tabs and workspaces in ``<data>/db/objects.db``.
An agent block's ``output`` is NDJSON of the agent CLI's stream records (Claude
stream-json and AgentMux's own input and status lines); a shell block's ``term`` is raw
PTY bytes. The global transcript store (``<shared>/agents/transcripts/filestore.db``)
holds agent zones (``agent:<def>:current``) without blocks. One unit is one such file.

Copy mode by default. ``mode = "move"`` does what AgentMux's own archiver does, after
termvault's archive is verified and indexed: a gzip companion at
``<termvault home>/companions/agentmux/`` (AgentMux's restore reads the path it is given
in ``session:archive_path``), the three ``session:archived_*`` block meta keys, and the
FileStore entry deleted, only if unchanged since it was read. Only agent blocks'
``output`` is moved, as AgentMux does; other files are copied.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from ..errors import ConflictError, DataError
from ..fsutil import atomic_writer, ensure_private_dir
from ..model import FileRef, SessionInfo, SessionUnit
from . import filestore as fst
from .base import (
    TOOL_OUTPUT_CAP,
    Message,
    RestoreRequest,
    Source,
    TextCollector,
    content_text,
    first_line,
    read_jsonl,
    str_or_none,
)
from .panes import (
    Store,
    base_info,
    block_info,
    count_lines,
    discover_each,
    make_unit,
    safe_names,
    split_origin,
    terminal_info,
    terminal_messages,
)

log = logging.getLogger(__name__)

OUTPUT, TERM = "output", "term"
ARCHIVED_AT, ARCHIVED_BYTES, ARCHIVE_PATH = "session:archived_at", "session:archived_bytes", "session:archive_path"
MESSAGE_CAP = 64 * 1024
SMALL_FILE = 4096  # a file this small without a line count is looked at for blank-only content


class AgentMuxSource(Source):
    kind = "agentmux"
    description = "AgentMux agent output and shell scrollback (its filestore.db)"
    move_archive_days: ClassVar[float | None] = 7.0  # AgentMux's own archiver threshold

    # -- where ------------------------------------------------------------------------------
    def default_roots(self) -> list[Path]:
        env, home = self.env, self.home_path()
        found = [Path(env[v]) for v in ("AGENTMUX_DATA_DIR", "AGENTMUX_DATA_HOME") if env.get(v)]
        launcher = Path(env["AGENTMUX_HOME_OVERRIDE"]) if env.get("AGENTMUX_HOME_OVERRIDE") else home / ".agentmux"
        found.append(launcher)
        if env.get("AGENTMUX_SHARED_DIR"):
            found.append(Path(env["AGENTMUX_SHARED_DIR"]))
        return list(dict.fromkeys(found))

    def detected(self) -> bool:
        return bool(self.stores())

    def stores(self) -> list[Store]:
        """Every data folder under the roots: a root's own ``db/``, the launcher's
        ``channels/*/versions/*/data`` (newest first) and ``dev/*/data``, and the global
        transcript store."""
        out: list[Store] = []
        for root in self.roots:
            datas = [root]
            versions = [v / "data" for c in _dirs(root / "channels") for v in _dirs(c / "versions")]
            versions.sort(key=lambda d: _mtime(d / "db" / "filestore.db"), reverse=True)
            datas += versions + [d / "data" for d in _dirs(root / "dev")]
            for data in datas:
                db = data / "db" / "filestore.db"
                if db.is_file():
                    out.append(Store(root, db, data / "db" / "objects.db"))
            for shared in (root / "shared" / "agents" / "transcripts", root / "agents" / "transcripts"):
                if (shared / "filestore.db").is_file():
                    out.append(Store(root, shared / "filestore.db", None))
        unique: dict[Path, Store] = {}
        for s in out:
            unique.setdefault(Path(os.path.abspath(s.filestore)), s)
        return list(unique.values())

    # -- discovery ----------------------------------------------------------------------------
    def discover(self) -> Iterator[SessionUnit]:
        return discover_each(self.stores(), self._discover)

    def _discover(self, store: Store, seen: set[str]) -> Iterator[SessionUnit]:
        fs = fst.FileStore(store.filestore, "AgentMux", wrap_parts=False)
        rows = fs.files()
        objects = fst.read_objects(store.objects, "AgentMux") if store.objects else fst.Objects()
        for row in rows:
            if row.name not in (OUTPUT, TERM) or row.size <= 0 or not safe_names(row.zoneid, row.name):
                continue
            is_block = row.zoneid in objects.blocks
            if not is_block and not row.zoneid.startswith("agent:") and store.objects is not None:
                continue  # a zone of something else (a job, a cache)
            session_id = f"agentmux-{row.zoneid.replace(':', '-')}-{row.name}"
            if session_id in seen:
                continue
            if row.name == OUTPUT and self._no_lines(fs, row):
                continue  # as AgentMux: an agent that printed nothing is not archived
            seen.add(session_id)
            if is_block:
                hints = block_info(objects, row.zoneid, f"AgentMux pane {row.zoneid[:8]}")
            else:
                agent = row.zoneid.split(":")[1] if row.zoneid.count(":") >= 2 else row.zoneid
                hints = {"name": agent, "agent_id": agent}
            hints["block"] = is_block
            unit = make_unit(self.kind, session_id, store, fs, row, self.home / ".tmp", hints)
            unit.hints["stamp"] = hints.get("last") or unit.mtime
            yield unit

    def _no_lines(self, fs: fst.FileStore, row: fst.FileRow) -> bool:
        if row.lines is not None:
            return row.lines == 0
        if row.size > SMALL_FILE:
            return False
        try:
            with fs.snapshot(row.zoneid, row.name, row.size, row.createdts, row.gen) as fh:
                return not fh.read().strip()
        except DataError:
            return False  # let the sweep meet (and report) whatever is wrong

    # -- reading ------------------------------------------------------------------------------
    def parse(self, files: Sequence[FileRef]) -> SessionInfo:
        return self._parse(SessionInfo(), files)

    def parse_unit(self, files: Sequence[FileRef], unit: SessionUnit) -> SessionInfo:
        return self._parse(base_info(unit), files)

    def _parse(self, info: SessionInfo, files: Sequence[FileRef]) -> SessionInfo:
        terms = [f for f in files if not _is_output(f)]
        outputs = [f for f in files if _is_output(f)]
        if terms:
            terminal_info(info, terms)
        if not outputs:
            return info
        text = TextCollector()
        if info.text:
            text.add(info.text)
        warnings = [0]
        for ref in outputs:
            for rec in read_jsonl(ref, warnings):
                try:
                    for m in record_messages(rec):
                        if m.role == "user":
                            info.message_count += 1
                            info.first_prompt = info.first_prompt or first_line(m.text, 500)
                        elif m.role == "assistant":
                            info.message_count += 1
                        elif m.role == "tool":
                            info.tool_call_count += 1
                            text.add(m.name)
                        text.add(m.text, TOOL_OUTPUT_CAP if m.role == "tool_result" else None)
                    if rec.get("type") == "system" and rec.get("subtype") == "init":
                        info.model = info.model or str_or_none(rec.get("model"))
                        info.working_directory = info.working_directory or str_or_none(rec.get("cwd")) or ""
                    elif rec.get("type") == "assistant" and isinstance(rec.get("message"), dict):
                        info.model = info.model or str_or_none(rec["message"].get("model"))
                except (RecursionError, TypeError, ValueError, AttributeError):
                    warnings[0] += 1
            lines, size = count_lines(ref)
            info.extra["line_count"] = info.extra.get("line_count", 0) + lines
        info.parse_warnings += warnings[0]
        info.text = text.text()
        if not info.name or info.name == info.extra.get("zoneid"):
            info.name = first_line(info.first_prompt, 80) or info.name
        return info

    def messages(self, files: Sequence[FileRef]) -> Iterator[Message]:
        for ref in files:
            if not _is_output(ref):
                yield from terminal_messages([ref])
                continue
            for rec in read_jsonl(ref, [0]):
                try:
                    yield from record_messages(rec)
                except (RecursionError, TypeError, ValueError, AttributeError):
                    continue

    # -- move mode ----------------------------------------------------------------------------
    def companion_dir(self) -> Path:
        return self.home / "companions" / "agentmux"

    def remove_archived(self, unit: SessionUnit, shas: Mapping[str, str], fault: Callable[[str], None]) -> int | None:
        """AgentMux's archive step, made safe: a verified gzip companion, then, holding the
        FileStore's write lock so nothing can append meanwhile, the block's meta keys
        (committed first) and the FileStore entry deleted (committed second), only if the
        file still has the size, modts and createdts it had when it was read. A crash
        between the two commits leaves the file and the meta (nothing lost; the next sweep
        finishes the delete). Returns the bytes removed (0 when the file is kept)."""
        h = unit.hints
        f = unit.files[0]
        if not (h.get("block") and h.get("view") == "agent" and h.get("file") == OUTPUT):
            return 0  # AgentMux archives agent blocks' output only; the rest stays copied
        zoneid, db, objects_db = str(h["zoneid"]), Path(h["filestore"]), Path(h["filestore"]).parent / "objects.db"
        fault("agentmux-companion")
        companion = self._write_companion(unit, shas[f.relpath], h)
        with fst.writing(db, "AgentMux") as fs:
            fs.execute("BEGIN IMMEDIATE")
            if not fst.row_matches(fs, zoneid, OUTPUT, int(h["logical_size"]), int(h["modts"]), int(h["createdts"])):
                fs.execute("ROLLBACK")
                log.info("%s changed after it was read; kept for the next sweep", f.origin)
                _unlink(companion)
                return 0
            fault("agentmux-meta")
            changes = {ARCHIVED_AT: int(time.time() * 1000), ARCHIVED_BYTES: f.size, ARCHIVE_PATH: str(companion)}
            if not _update_meta(objects_db, zoneid, changes):
                fs.execute("ROLLBACK")
                _unlink(companion)
                return 0
            fault("agentmux-delete")
            fst.delete_file(fs, zoneid, OUTPUT)
            fs.execute("COMMIT")
        return f.size

    def _write_companion(self, unit: SessionUnit, sha256: str, h: Mapping[str, Any]) -> Path:
        """``<home>/companions/agentmux/<block>.jsonl.gz`` holding exactly the archived
        bytes: written to a temporary name, fsynced, read back and checked, renamed."""
        folder = ensure_private_dir(self.companion_dir())
        target = folder / f"{h['zoneid']}.jsonl.gz"
        digest = hashlib.sha256()
        with atomic_writer(target, readable=True) as raw:
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz, unit.files[0].open() as src:
                while chunk := src.read(1024 * 1024):
                    digest.update(chunk)
                    gz.write(chunk)
            raw.flush()
            if digest.hexdigest() != sha256 or _gz_sha256(Path(raw.name)) != sha256:
                raise DataError(f"The AgentMux companion of {unit.session_id} did not read back as archived.")
        return target

    # -- restore ------------------------------------------------------------------------------
    def restore_in_place(self, request: RestoreRequest) -> tuple[list[str], list[str]] | None:
        """Write the archived files back into AgentMux's FileStore in 64 KiB parts (a new
        file, as AgentMux's restore makes) and clear the block's archive meta keys. A file
        that exists there already is left alone when identical and refused otherwise."""
        known = {Path(os.path.abspath(s.filestore)) for s in self.stores()}
        targets = {}
        for f in request.files:
            where = split_origin(f.origin)
            if where is None or Path(os.path.abspath(where[0])) not in known:
                raise DataError(
                    f"{request.session_id} came from {f.origin}, which is not a FileStore termvault finds "
                    "for AgentMux now; restore it under a folder of your choice with --to DIR."
                )
            targets[f.path] = (f, where)
        restored: list[str] = []
        unchanged: list[str] = []
        spools: dict[str, Any] = {}

        def keep(path: str, fh) -> None:
            if path not in targets:
                return
            spool = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024, dir=self._spool_dir())  # noqa: SIM115 (returned to the caller)
            digest = hashlib.sha256()
            while chunk := fh.read(1024 * 1024):
                digest.update(chunk)
                spool.write(chunk)
            if digest.hexdigest() != targets[path][0].sha256:
                raise DataError(f"{path} of {request.session_id} did not match its hash while restoring.")
            spools[path] = spool

        try:
            request.stream(keep)
            for path, (f, (db, zoneid, name)) in targets.items():
                spool = spools[path]
                spool.seek(0)
                if _write_back(db, zoneid, name, spool, f.sha256, request.session_id):
                    restored.append(f.origin)
                else:
                    unchanged.append(f.origin)
                objects_db = db.parent / "objects.db"
                if name == OUTPUT and objects_db.is_file():
                    _update_meta(
                        objects_db,
                        zoneid,
                        {ARCHIVED_AT: None, ARCHIVED_BYTES: None, ARCHIVE_PATH: None},
                        only_if_set=True,
                    )
        finally:
            for spool in spools.values():
                spool.close()
        return restored, unchanged

    def _spool_dir(self) -> str | None:
        tmp = self.home / ".tmp"
        return str(tmp) if tmp.is_dir() else None


# -- stream records -----------------------------------------------------------------------------
def record_messages(rec: dict[str, Any]) -> Iterator[Message]:
    """The conversation turns of one agent stream record (Claude stream-json and the
    lines AgentMux adds); control and partial-stream records give none."""
    kind = rec.get("type")
    msg = rec.get("message")
    if kind == "assistant" and isinstance(msg, dict):
        model = str_or_none(msg.get("model"))
        content = msg.get("content")
        if isinstance(content, str):
            yield Message("assistant", content[:MESSAGE_CAP], name=model)
            return
        for block in content if isinstance(content, list) else []:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "text" and isinstance(block.get("text"), str):
                yield Message("assistant", block["text"][:MESSAGE_CAP], name=model)
            elif block.get("type") == "tool_use":
                yield Message(
                    "tool",
                    content_text({"input": block.get("input")}, MESSAGE_CAP),
                    name=str_or_none(block.get("name")) or "tool",
                )
            elif block.get("type") == "thinking" and isinstance(block.get("thinking"), str):
                yield Message("system", block["thinking"][:MESSAGE_CAP], name="thinking")
    elif kind == "user" and isinstance(msg, dict):
        content = msg.get("content")
        if isinstance(content, str):
            if content.strip():
                yield Message("user", content[:MESSAGE_CAP])
            return
        for block in content if isinstance(content, list) else []:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "tool_result":
                yield Message("tool_result", content_text(block.get("content"), MESSAGE_CAP)[:MESSAGE_CAP])
            elif block.get("type") == "text" and isinstance(block.get("text"), str) and block["text"].strip():
                yield Message("user", block["text"][:MESSAGE_CAP])
    elif kind == "result":
        result = str_or_none(rec.get("result"))
        cost = rec.get("total_cost_usd")
        label = f"result ({rec.get('subtype')})" if str_or_none(rec.get("subtype")) else "result"
        if isinstance(cost, (int, float)) and not isinstance(cost, bool):
            label += f", ${cost:.4f}"
        yield Message("marker", result[:MESSAGE_CAP] if result else label, name=label)
    elif kind == "system":
        if rec.get("subtype") == "init":
            model = str_or_none(rec.get("model"))
            cwd = str_or_none(rec.get("cwd"))
            yield Message(
                "marker",
                " ".join(filter(None, ["session started", model and f"model {model}", cwd and f"in {cwd}"])),
                name="init",
            )
        else:
            text = str_or_none(rec.get("message")) or str_or_none(rec.get("content")) or str_or_none(rec.get("text"))
            if text:
                yield Message("system", text[:MESSAGE_CAP], name=str_or_none(rec.get("subtype")))
    elif kind in ("error", "status", "agentmux"):
        text = str_or_none(rec.get("message")) or str_or_none(rec.get("error")) or str_or_none(rec.get("text"))
        if text:
            yield Message("system", text[:MESSAGE_CAP], name=str(kind))


# -- helpers ------------------------------------------------------------------------------------
def _is_output(ref: FileRef) -> bool:
    return ref.relpath.rsplit("/", 1)[-1] == OUTPUT


def _dirs(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.is_dir() and not p.is_symlink())
    except OSError:
        return []


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def _gz_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with gzip.open(path, "rb") as fh:
        while chunk := fh.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _update_meta(objects_db: Path, block_id: str, changes: dict[str, Any], only_if_set: bool = False) -> bool:
    """Merge ``changes`` into a block's meta in one write transaction of ``objects_db``."""
    conn = fst.connect(objects_db, "AgentMux", write=True)
    try:
        conn.execute("BEGIN IMMEDIATE")
        if only_if_set:
            row = conn.execute("SELECT data FROM db_block WHERE oid = ?", (block_id,)).fetchone()
            meta = (json.loads(row[0]) or {}).get("meta") if row else None
            if not isinstance(meta, dict) or not any(k in meta for k in changes):
                conn.execute("ROLLBACK")
                return False
        done = fst.merge_block_meta(conn, block_id, changes)
        conn.execute("COMMIT" if done else "ROLLBACK")
        return done
    except (sqlite3.Error, ValueError) as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error):
            raise fst.explain(exc, objects_db, "AgentMux") from exc
        raise DataError(f"AgentMux's block {block_id} in {objects_db} holds unreadable JSON.") from exc
    finally:
        conn.close()


def _write_back(db: Path, zoneid: str, name: str, data, sha256: str, session_id: str) -> bool:
    """Create ``zoneid/name`` in ``db`` from ``data`` in one write transaction. False when
    an identical file is there already; ConflictError when a different one is."""
    with fst.writing(db, "AgentMux") as conn:
        schema = fst.inspect(conn, db, "AgentMux")
        conn.execute("BEGIN IMMEDIATE")
        existing = conn.execute(
            "SELECT size FROM db_wave_file WHERE zoneid = ? AND name = ?", (zoneid, name)
        ).fetchone()
        if existing is not None:
            digest = hashlib.sha256()
            for (part,) in conn.execute(
                "SELECT data FROM db_file_data WHERE zoneid = ? AND name = ? ORDER BY partidx", (zoneid, name)
            ):
                digest.update(part if isinstance(part, bytes) else str(part).encode())  # never bytes(int)
            conn.execute("ROLLBACK")
            if digest.hexdigest() == sha256:
                return False
            raise ConflictError(
                f"AgentMux already has a different {name} for {zoneid} in {db}; termvault will not "
                f"overwrite it. Restore {session_id} under a folder of your choice with --to DIR."
            )
        fst.write_new_file(conn, schema, zoneid, name, data, int(time.time() * 1000))
        conn.execute("COMMIT")
        return True


__all__ = ["AgentMuxSource", "record_messages"]
