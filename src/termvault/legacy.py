"""The older app's data: ``archive_index.json`` and ``archive/YYYY/MM/{ts}_{id}.json.gz``.

They are read and imported into the index (status ``legacy``) on first open, never
rewritten or deleted. A corrupt ``archive_index.json`` never wipes anything: the ``.json.gz``
files are then found by scanning ``archive/``. Restoring a legacy session writes the
decompressed bytes back to ``history/{int(modified_at)}_{id}.json``.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import math
import logging
import os
import time
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConflictError, DataError, TermvaultError
from .fsutil import atomic_write_bytes, validate_id, validate_relpath
from .index import ArchiveEntry
from .reports import RestoreResult
from .compat.state import SessionState

if TYPE_CHECKING:
    from .vault import Vault

log = logging.getLogger(__name__)
LEGACY_INDEX = "archive_index.json"
SETTING = "legacy_import_signature"
MAX_LEGACY_BYTES = 1024 * 1024 * 1024


def _signature(vault: Vault) -> str:
    """The legacy index's size and mtime ("none" when absent). Import runs on the first
    open of a home (a full scan for .json.gz files) and again only when this changes or
    when asked (``termvault import-legacy``), so opening a big home stays cheap."""
    idx = vault.home / LEGACY_INDEX
    try:
        st = idx.stat()
    except FileNotFoundError:
        return "none"
    return f"{st.st_size}:{st.st_mtime_ns}"


def _month_dirs(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return [m for y in sorted(root.iterdir()) if y.is_dir() and y.name.isdigit()
            for m in sorted(y.iterdir()) if m.is_dir()]


def _legacy_files(vault: Vault) -> list[str]:
    root = vault.config.archive_dir
    out = []
    for month in _month_dirs(root):
        for e in os.scandir(month):
            if e.name.endswith(".json.gz") and e.is_file(follow_symlinks=False):
                out.append(month.relative_to(root).as_posix() + "/" + e.name)
    return out


def needs_import(vault: Vault) -> bool:
    return vault.index.get_setting(SETTING) != _signature(vault)


def legacy_entries(vault: Vault) -> list[ArchiveEntry]:
    """Entries for every legacy archive: from archive_index.json where it describes the
    file, else from the decompressed session itself."""
    root = vault.config.archive_dir
    described: dict[str, dict[str, Any]] = {}
    idx = vault.home / LEGACY_INDEX
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
    for rel in sorted(_legacy_files(vault)):
        path = root / rel
        item = described.get(rel)
        try:
            validate_relpath(rel)
            try:
                entries.append(_entry(vault, rel, path, item))
            except (TermvaultError, ValueError, TypeError) as exc:
                if item is None:
                    raise
                # A bad description must not hide the archive: describe it from its content.
                log.warning("%s describes %s wrongly (%s); reading the archive itself", idx, rel, exc)
                entries.append(_entry(vault, rel, path, None))
        except TermvaultError as exc:
            log.warning("legacy archive %s skipped: %s", rel, exc)
    return entries


def _entry(vault: Vault, rel: str, path: Path, item: dict[str, Any] | None) -> ArchiveEntry:
    raw = _gunzip(path, vault.config.max_expand_bytes)
    state = None
    try:
        state = SessionState.from_json(raw, str(path))
    except DataError:
        if item is None:
            raise
    sid = validate_id((item or {}).get("session_id") or state.session_id)
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


def _gunzip(path: Path, limit: int = MAX_LEGACY_BYTES) -> bytes:
    """The decompressed bytes (the older app's sessions are small JSON documents), or a
    DataError past ``limit``: the configured ``max_expand_bytes``, at most 1 GiB."""
    limit = min(limit, MAX_LEGACY_BYTES)
    try:
        with gzip.open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"The legacy archive {path} is corrupt ({exc}).") from exc
    if len(data) > limit:
        raise DataError(
            f"The legacy archive {path} expands past {limit} bytes (max_expand_bytes); it is refused."
        )
    return data


def import_legacy(vault: Vault, force: bool = False) -> int:
    """Index the older app's archives not indexed yet (caller holds the lock). Returns
    how many were added. Legacy versions get version 0 so any newer archive wins."""
    if not force and not needs_import(vault):
        return 0
    known = {r[0] for r in vault.index.query("SELECT archive_path FROM sessions")}
    added = 0
    with vault.index.transaction():
        for entry in legacy_entries(vault):
            if entry.archive_path in known:
                continue
            if vault.index.get_entry(entry.session_id, 0) is not None:
                log.warning("legacy archive %s duplicates session %s; skipped", entry.archive_path, entry.session_id)
                continue
            vault.index.insert(entry)
            added += 1
    vault.index.set_setting(SETTING, _signature(vault))
    return added


def verify_legacy(vault: Vault, entry: ArchiveEntry) -> str | None:
    path = vault.archive_file(entry)
    try:
        if entry.archive_sha256 and hashlib.sha256(path.read_bytes()).hexdigest() != entry.archive_sha256:
            return "the legacy archive changed since it was imported"
        raw = _gunzip(path, vault.config.max_expand_bytes)
        if entry.content_sha256 and hashlib.sha256(raw).hexdigest() != entry.content_sha256:
            return "the legacy archive's content differs from the index"
    except (OSError, DataError) as exc:
        return str(exc)
    return None


class _BytesRef:
    def __init__(self, relpath: str, data: bytes):
        self.relpath, self.size, self._data = relpath, len(data), data

    def open(self):
        return io.BytesIO(self._data)


def legacy_refs(vault: Vault, entry: ArchiveEntry) -> list[_BytesRef]:
    raw = _gunzip(vault.archive_file(entry), vault.config.max_expand_bytes)
    return [_BytesRef(entry.meta.get("history_name") or f"{int(entry.original_timestamp)}_{entry.session_id}.json", raw)]


def legacy_manifest(vault: Vault, entry: ArchiveEntry):
    from .archive import Manifest, ManifestFile

    ref = legacy_refs(vault, entry)[0]
    return Manifest(
        session_id=entry.session_id, source="native", version=0, mode="move",
        root=str(vault.config.history_dir), archived_at=entry.archived_at, meta=dict(entry.meta),
        files=[ManifestFile(ref.relpath, str(vault.config.history_dir / ref.relpath), ref.size, 0,
                            hashlib.sha256(ref._data).hexdigest())],
    )


def restore_legacy(vault: Vault, entry: ArchiveEntry, to: Path | None, force: bool) -> RestoreResult:
    from .transfer import RESTORE_PREFIX, confined, journal_folder, set_aside

    ref = legacy_refs(vault, entry)[0]
    base = Path(os.path.abspath(to)) if to else vault.config.history_dir
    target = confined(base, base / ref.relpath)
    result = RestoreResult(entry.session_id, entry.version)
    if target.exists():
        if target.read_bytes() == ref._data:
            result.unchanged.append(str(target))
            return result
        if not force:
            raise ConflictError(f"{target} already exists and differs from the archived copy; use --force.")
        result.set_aside.append((str(target), str(set_aside(target, time.strftime("%Y%m%d-%H%M%S")))))
    journal_folder(vault, target.parent)  # a crash leaves a temporary file reconcile removes
    atomic_write_bytes(target, ref._data, prefix=RESTORE_PREFIX)
    result.restored.append(str(target))
    return result
