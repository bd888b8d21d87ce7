"""Rows of the ``sessions`` table and ``ArchiveEntry`` records, both ways, and the
metadata filter every listing shares."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ..ansi import printable
from ..model import ArchiveEntry
from ..redact import redact, redact_data

COLUMNS = [
    "session_id", "version", "source", "mode", "name", "name_fold", "working_directory",
    "last_command", "created_at", "last_activity_at", "archived_at", "original_size",
    "archive_size", "archive_path", "archive_sha256", "content_sha256", "file_count",
    "pinned", "status", "fingerprint", "source_removed", "meta",
]  # fmt: skip
REMOTE_COLUMNS = {"remote_key", "remote_verified_at", "local_present", "archive_sha256"}

# A row's ``meta`` repeats five of its columns and mostly holds defaults: stored as is,
# it was a third of a small session's row. A *complete* meta (every key below present,
# the mirrored ones equal to their columns, as sources and manifests give it) is stored
# without them and with ``LEAN`` set; reading fills them back in, in the same order, so
# ``entry.meta`` is what was written. Any other meta is stored whole.
LEAN = "~"
MIRRORED = ("name", "working_directory", "last_command", "created_at", "last_activity_at")
DEFAULTS: dict[str, Any] = {
    "first_prompt": None, "git_branch": None, "model": None,
    "message_count": 0, "tool_call_count": 0, "parse_warnings": 0,
}  # fmt: skip
FOREIGN_PREFIX = "hosts/"  # other machines' units are cached at archive/hosts/<host>/...


def redact_entry(entry: ArchiveEntry) -> None:
    """Redact, in place, every text of ``entry`` that is stored in the index or listed,
    after removing terminal control sequences (an escape inside a key would hide it)."""
    entry.name = redact(printable(entry.name, one_line=True))
    entry.working_directory = redact(printable(entry.working_directory, one_line=True))
    entry.last_command = redact(printable(entry.last_command)) if entry.last_command else entry.last_command
    entry.meta = redact_data(_printable_data(entry.meta))


def _printable_data(value: Any) -> Any:
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {k: _printable_data(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_printable_data(v) for v in value]
    return value


def entry_from_row(row: sqlite3.Row) -> ArchiveEntry:
    return ArchiveEntry(
        session_id=row["session_id"],
        name=row["name"],
        archived_at=row["archived_at"],
        original_timestamp=row["last_activity_at"],
        archive_path=row["archive_path"],
        size_bytes=row["archive_size"],
        original_size_bytes=row["original_size"],
        working_directory=row["working_directory"],
        last_command=row["last_command"],
        version=row["version"],
        source=row["source"],
        mode=row["mode"],
        created_at=row["created_at"],
        last_activity_at=row["last_activity_at"],
        archive_sha256=row["archive_sha256"],
        content_sha256=row["content_sha256"],
        file_count=row["file_count"],
        pinned=bool(row["pinned"]),
        status=row["status"],
        fingerprint=row["fingerprint"],
        source_removed=bool(row["source_removed"]),
        meta=_full_meta(row),
        row_id=row["id"],
    )


def _mirrored(e: ArchiveEntry) -> tuple[Any, ...]:
    """The mirrored keys' values as the row's columns give them back."""
    activity = e.last_activity_at if e.last_activity_at is not None else e.original_timestamp
    return (e.name or "", e.working_directory or "", e.last_command, e.created_at, activity)


def _same(value: Any, column: Any) -> bool:
    # Exactly, and a time only as a float or None: a REAL column gives an int back as a float.
    # (SQLite also stores -0.0 as 0.0.)
    if isinstance(column, (int, float)) and not isinstance(column, float) or column == 0.0:
        return False
    return type(value) is type(column) and value == column


def _is_default(key: str, value: Any) -> bool:
    default = DEFAULTS[key]
    return value is None if default is None else (type(value) is type(default) and value == default)


def stored_meta(e: ArchiveEntry) -> str:
    """``e.meta`` as the ``meta`` column holds it (see ``LEAN``)."""
    meta: dict[str, Any] = e.meta
    if LEAN in meta:  # a key of its own by that name: kept whole, inside the marker
        meta = {LEAN: {"whole": meta}}
    elif all(k in meta for k in DEFAULTS) and all(
        k in meta and _same(meta[k], v) for k, v in zip(MIRRORED, _mirrored(e), strict=True)
    ):
        meta = {k: v for k, v in meta.items() if k not in MIRRORED and not (k in DEFAULTS and _is_default(k, v))}
        meta[LEAN] = 1
    return json.dumps(meta, ensure_ascii=False, sort_keys=True)


def _full_meta(row: sqlite3.Row) -> dict[str, Any]:
    meta: dict[str, Any] = json.loads(row["meta"] or "{}")
    mark = meta.get(LEAN)
    if isinstance(mark, dict) and len(meta) == 1 and isinstance(mark.get("whole"), dict):
        return dict(mark["whole"])
    if type(mark) is not int or mark != 1:
        return meta
    del meta[LEAN]
    columns = (row["name"], row["working_directory"], row["last_command"], row["created_at"], row["last_activity_at"])
    full = {**DEFAULTS, **meta, **dict(zip(MIRRORED, columns, strict=True))}
    return {k: full[k] for k in sorted(full)}  # in the order it was written (sort_keys)


def row_values(e: ArchiveEntry) -> tuple[Any, ...]:
    return (
        e.session_id, e.version, e.source, e.mode, e.name or "", (e.name or "").casefold(),
        e.working_directory or "", e.last_command, e.created_at,
        e.last_activity_at if e.last_activity_at is not None else e.original_timestamp,
        e.archived_at, e.original_size_bytes, e.size_bytes, e.archive_path, e.archive_sha256,
        e.content_sha256, e.file_count, int(e.pinned), e.status, e.fingerprint,
        int(e.source_removed), stored_meta(e),
    )  # fmt: skip


def filter_sql(
    name: str | None = None,
    working_dir: str | None = None,
    after_date: float | None = None,
    before_date: float | None = None,
    source: str | None = None,
    pinned: bool | None = None,
    date_column: str = "archived_at",
    alias: str = "",
) -> tuple[str, list[Any]]:
    """A WHERE clause (and its parameters) for the metadata filters, ANDed."""
    p = f"{alias}." if alias else ""
    clauses, params = [f"{p}status != 'deleted'"], []  # type: list[str], list[Any]
    if name:
        clauses.append(f"instr({p}name_fold, ?) > 0")
        params.append(name.casefold())
    if working_dir:
        clauses.append(f"instr({p}working_directory, ?) > 0")
        params.append(working_dir)
    if after_date is not None:
        clauses.append(f"{p}{date_column} >= ?")
        params.append(float(after_date))
    if before_date is not None:
        clauses.append(f"{p}{date_column} <= ?")
        params.append(float(before_date))
    if source:
        clauses.append(f"{p}source = ?")
        params.append(source)
    if pinned is not None:
        clauses.append(f"{p}pinned = ?")
        params.append(int(bool(pinned)))
    return " AND ".join(clauses), params
