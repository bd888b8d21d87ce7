"""The older app's archives: ``archive_index.json`` and ``archive/YYYY/MM/{ts}_{id}.json.gz``.

They are read (status ``legacy`` in the index), never rewritten or deleted. A corrupt
``archive_index.json`` never hides anything: the ``.json.gz`` files are then described from
their own content. A legacy archive reads as a one-file unit whose file belongs at
``history/{int(modified_at)}_{id}.json``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import math
import os
import zlib
from pathlib import Path
from typing import Any

from ..errors import DataError, TermvaultError
from ..fsutil import validate_id, validate_relpath
from ..model import ArchiveEntry
from ..state import SessionState
from .format import Manifest, ManifestFile

log = logging.getLogger(__name__)
LEGACY_INDEX = "archive_index.json"
MAX_LEGACY_BYTES = 1024 * 1024 * 1024


def signature(home: Path) -> str:
    """The legacy index's size and mtime ("none" when absent). Import runs on the first
    open of a home (a full scan for .json.gz files) and again only when this changes or
    when asked (``termvault import-legacy``), so opening a big home stays cheap."""
    try:
        st = (home / LEGACY_INDEX).stat()
    except FileNotFoundError:
        return "none"
    return f"{st.st_size}:{st.st_mtime_ns}"


def _month_dirs(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return [
        m for y in sorted(root.iterdir()) if y.is_dir() and y.name.isdigit() for m in sorted(y.iterdir()) if m.is_dir()
    ]


def legacy_files(archive_dir: Path) -> list[str]:
    out = []
    for month in _month_dirs(archive_dir):
        for e in os.scandir(month):
            if e.name.endswith(".json.gz") and e.is_file(follow_symlinks=False):
                out.append(month.relative_to(archive_dir).as_posix() + "/" + e.name)
    return out


def legacy_entries(home: Path, archive_dir: Path, max_expand: int) -> list[ArchiveEntry]:
    """Entries for every legacy archive: from archive_index.json where it describes the
    file, else from the decompressed session itself."""
    described: dict[str, dict[str, Any]] = {}
    idx = home / LEGACY_INDEX
    if idx.exists():
        try:
            data = json.loads(idx.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError("not an object")
            for sid, item in data.items():
                if isinstance(item, dict) and isinstance(item.get("archive_path"), str):
                    described[item["archive_path"]] = {**item, "session_id": sid}
        except (OSError, ValueError, UnicodeDecodeError, RecursionError) as exc:
            log.error("%s is unreadable (%s); importing the .json.gz files found on disk instead", idx, exc)
    entries = []
    for rel in sorted(legacy_files(archive_dir)):
        path = archive_dir / rel
        item = described.get(rel)
        try:
            validate_relpath(rel)
            try:
                entries.append(_entry(rel, path, item, max_expand))
            except (TermvaultError, ValueError, TypeError) as exc:
                if item is None:
                    raise
                # A bad description must not hide the archive: describe it from its content.
                log.warning("%s describes %s wrongly (%s); reading the archive itself", idx, rel, exc)
                entries.append(_entry(rel, path, None, max_expand))
        except TermvaultError as exc:
            log.warning("legacy archive %s skipped: %s", rel, exc)
    return entries


def _entry(rel: str, path: Path, item: dict[str, Any] | None, max_expand: int) -> ArchiveEntry:
    raw = gunzip(path, max_expand)
    state = None
    try:
        state = SessionState.from_json(raw, str(path))
    except DataError:
        if item is None:
            raise
    sid = validate_id((item or {}).get("session_id") or (state.session_id if state else None))
    st = path.stat()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    content = hashlib.sha256(raw).hexdigest()

    def pick(key: str, default: Any) -> Any:
        if item and item.get(key) is not None:
            return item[key]
        return default

    try:
        modified = float(pick("original_timestamp", state.modified_at if state else st.st_mtime))
        archived = float(pick("archived_at", st.st_mtime))
        if not (math.isfinite(modified) and math.isfinite(archived)) or modified < 0:
            raise ValueError("not a finite time")
    except (TypeError, ValueError) as exc:
        raise DataError(f"The legacy index entry for {rel} has an unusable time ({exc}).") from exc
    return ArchiveEntry(
        session_id=sid,
        name=str(pick("name", state.name if state else sid)),
        archived_at=archived,
        original_timestamp=modified,
        archive_path=rel,
        size_bytes=st.st_size,
        original_size_bytes=len(raw),
        working_directory=str(pick("working_directory", state.working_directory if state else "")),
        last_command=pick("last_command", state.last_command if state else None),
        version=0,
        source="native",
        mode="move",
        created_at=state.created_at if state else None,
        last_activity_at=modified,
        archive_sha256=digest,
        content_sha256=content,
        file_count=1,
        status="legacy",
        source_removed=True,
        meta={"legacy": True, "history_name": f"{int(modified)}_{sid}.json"},
    )


def gunzip(path: Path, limit: int = MAX_LEGACY_BYTES) -> bytes:
    """The decompressed bytes (the older app's sessions are small JSON documents), or a
    DataError past ``limit``: the configured ``max_expand_bytes``, at most 1 GiB."""
    limit = min(limit, MAX_LEGACY_BYTES)
    try:
        with gzip.open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"The legacy archive {path} is corrupt ({exc}).") from exc
    if len(data) > limit:
        raise DataError(f"The legacy archive {path} expands past {limit} bytes (max_expand_bytes); it is refused.")
    return data


def verify(path: Path, entry: ArchiveEntry, max_expand: int) -> str | None:
    """What is wrong with a legacy archive, or None."""
    try:
        if entry.archive_sha256 and hashlib.sha256(path.read_bytes()).hexdigest() != entry.archive_sha256:
            return "the legacy archive changed since it was imported"
        raw = gunzip(path, max_expand)
        if entry.content_sha256 and hashlib.sha256(raw).hexdigest() != entry.content_sha256:
            return "the legacy archive's content differs from the index"
    except (OSError, DataError) as exc:
        return str(exc)
    return None


def file_name(entry: ArchiveEntry) -> str:
    return str(entry.meta.get("history_name") or f"{int(entry.original_timestamp)}_{entry.session_id}.json")


def manifest(entry: ArchiveEntry, raw: bytes, history_dir: Path) -> Manifest:
    """A manifest describing a legacy archive as a one-file native unit."""
    name = file_name(entry)
    return Manifest(
        session_id=entry.session_id,
        source="native",
        version=0,
        mode="move",
        root=str(history_dir),
        archived_at=entry.archived_at,
        meta=dict(entry.meta),
        files=[ManifestFile(name, str(history_dir / name), len(raw), 0, hashlib.sha256(raw).hexdigest())],
    )
