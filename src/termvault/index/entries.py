"""``ArchiveIndex``: one row per archived session version, and every statement on them.

It keeps the seed's API (``add_entry``, ``remove_entry``, ``get_entry``, ``search``,
``get_stats``) and adds what the operations need, each as a method named for what it asks
or changes: no other module writes SQL against the index's tables. The index is derived
data: ``termvault reindex`` rebuilds it from ``archive/`` alone.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from ..errors import AmbiguousIdError, NotFoundError, TermvaultError
from ..fsutil import validate_id, validate_relpath
from ..model import ArchiveEntry
from . import fulltext, textindex, totals
from .db import LATEST_LIVE, Database
from .rows import COLUMNS, FOREIGN_PREFIX, REMOTE_COLUMNS, entry_from_row, filter_sql, redact_entry, row_values
from .totals import MB

log = logging.getLogger(__name__)
FOLDER_MARKS = "archive_folder_marks"  # settings key (see ArchiveIndex.folder_marks)


class ArchiveIndex(Database):
    """Searchable index of archived sessions, backed by SQLite. Thread-safe."""

    entry_from_row = staticmethod(entry_from_row)
    filter_sql = staticmethod(filter_sql)

    def _entries(self, sql: str, params: Iterable[Any] = ()) -> list[ArchiveEntry]:
        return [entry_from_row(r) for r in self.query(sql, params)]

    # -- writing rows -------------------------------------------------------------------
    def insert(self, entry: ArchiveEntry) -> int:
        """Insert one version row (inside the caller's transaction if any); returns its rowid.

        Every row enters here (sweep, reindex, remote rebuild, legacy import, ``add_entry``),
        so this is where metadata is cleaned: the entry's name, folder, last command and
        every string in its meta are stored redacted and without terminal control
        sequences, and ``entry`` is updated to match what is stored."""
        redact_entry(entry)
        sql = f"INSERT INTO sessions ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
        with self.transaction():
            cur = self.execute(sql, row_values(entry))
            entry.row_id = cur.lastrowid
            return int(cur.lastrowid or 0)

    def insert_unique(self, entry: ArchiveEntry) -> bool:
        """Insert a rebuilt row; False (nothing inserted) when its session version or its
        archive path is already indexed."""
        with self.transaction():
            self.execute("SAVEPOINT one_row")
            try:
                self.insert(entry)
            except sqlite3.IntegrityError:
                self.execute("ROLLBACK TO one_row")
                self.execute("RELEASE one_row")
                return False
            self.execute("RELEASE one_row")
        return True

    def clear(self) -> None:
        """Delete every row and its text (a reindex, inside its transaction)."""
        with self.transaction():
            self.execute("DELETE FROM sessions")
            textindex.clear(self)
            self._forget_folder_marks()

    # The archive folders a catch-up found whole (ops.consistency), {"YYYY/MM": [mtime_ns,
    # inode]}. Forgotten whenever rows are deleted other than by pruning their files.
    def folder_marks(self) -> dict[str, list[int]]:
        try:
            marks = json.loads(self.get_setting(FOLDER_MARKS) or "{}")
        except ValueError:
            return {}
        return marks if isinstance(marks, dict) else {}

    def set_folder_marks(self, marks: Mapping[str, list[int]]) -> None:
        self.set_setting(FOLDER_MARKS, json.dumps(dict(marks), sort_keys=True))

    def _forget_folder_marks(self) -> None:
        self.execute("DELETE FROM settings WHERE key = ?", (FOLDER_MARKS,))

    def set_fingerprint(self, row_id: int | None, fingerprint: str) -> None:
        with self.transaction():
            self.execute("UPDATE sessions SET fingerprint = ? WHERE id = ?", (fingerprint, row_id))

    def mark_source_removed(self, row_id: int | None) -> None:
        with self.transaction():
            self.execute("UPDATE sessions SET source_removed = 1 WHERE id = ?", (row_id,))

    def set_status(self, archive_path: str, status: str) -> None:
        with self.transaction():
            self.execute("UPDATE sessions SET status = ? WHERE archive_path = ?", (status, archive_path))

    def clear_remote_verification(self, archive_path: str) -> None:
        """The bucket's copy of this version is gone or damaged: it is verified no more."""
        with self.transaction():
            self.execute("UPDATE sessions SET remote_verified_at = NULL WHERE archive_path = ?", (archive_path,))

    def tombstone(self, row_id: int | None) -> None:
        """Mark a pruned version 'deleted' (its row stays: see migration 5)."""
        with self.transaction():
            self.execute("UPDATE sessions SET status = 'deleted' WHERE id = ?", (row_id,))

    def set_pinned(self, session_id: str, pinned: bool) -> None:
        with self.transaction():
            self.execute("UPDATE sessions SET pinned = ? WHERE session_id = ?", (int(pinned), session_id))

    def set_remote(self, row_id: int | None, **values: Any) -> None:
        """Update the remote tier's columns of one row."""
        unknown = set(values) - REMOTE_COLUMNS
        if unknown:
            raise ValueError(f"not a remote column: {', '.join(sorted(unknown))}")
        cols = ", ".join(f"{k} = ?" for k in values)
        with self.transaction():
            self.execute(f"UPDATE sessions SET {cols} WHERE id = ?", (*values.values(), row_id))

    # -- the seed API -------------------------------------------------------------------
    @property
    def entries(self) -> Mapping[str, ArchiveEntry]:
        """The app's ``entries`` dict, read-only: session id -> newest live version,
        read from the index when used (``values()`` and ``items()`` in one query).
        Change the index through ``add_entry`` / ``remove_entry``."""
        return EntriesView(self)

    def latest_entries(self) -> list[ArchiveEntry]:
        return self._entries("SELECT * FROM latest s ORDER BY id")

    def latest_ids(self) -> list[str]:
        return [r[0] for r in self.query("SELECT session_id FROM latest s ORDER BY id")]

    def count_latest(self) -> int:
        return int(self.query("SELECT COUNT(*) FROM latest s")[0][0])

    def add_entry(self, entry: ArchiveEntry) -> bool:
        """Add (or replace, same session id and version) an entry. True on success; False
        (logged) for an id or archive path that would leave its folder: never stored."""
        try:
            validate_id(entry.session_id)
            validate_relpath(entry.archive_path)
        except TermvaultError as exc:
            log.error("not indexing %r: %s", entry.session_id, exc)
            return False
        try:
            with self.transaction():
                where = "(session_id = ? AND version = ?) OR archive_path = ?"
                params = (entry.session_id, entry.version, entry.archive_path)
                self._drop_text_where(where, params)
                self.execute(f"DELETE FROM sessions WHERE {where}", params)
                self._forget_folder_marks()
                self.insert(entry)
            return True
        except sqlite3.Error:
            return False

    def remove_entry(self, session_id: str) -> bool:
        """Remove every version of ``session_id`` from the index (files are untouched).
        False if there was none."""
        with self.transaction():
            self._drop_text_where("session_id = ?", (session_id,))
            self._forget_folder_marks()
            return self.execute("DELETE FROM sessions WHERE session_id = ?", (session_id,)).rowcount > 0

    def _drop_text_where(self, where: str, params: tuple[Any, ...]) -> None:
        for (row_id,) in self.execute(
            f"SELECT id FROM sessions WHERE ({where}) AND text_sha256 IS NOT NULL", params
        ).fetchall():
            textindex.remove(self, row_id)

    def resolve(self, session_id: str, version: int | None = None) -> ArchiveEntry:
        """The entry of ``session_id`` (or a unique prefix of it), newest version unless
        ``version``. NotFoundError / AmbiguousIdError otherwise."""
        if not session_id:
            raise NotFoundError("No session id was given.")
        entry = self.get_entry(session_id, version)
        if entry is None:
            matches = self.find_prefix(session_id)
            if len(matches) > 1:
                raise AmbiguousIdError(session_id, matches, total=self.count_prefix(session_id))
            if matches:
                entry = self.get_entry(matches[0], version)
        if entry is None:
            which = f" version {version}" if version is not None else ""
            raise NotFoundError(f"No archived session{which} matches {session_id!r}.")
        return entry

    def get_entry(self, session_id: str, version: int | None = None) -> ArchiveEntry | None:
        """The newest version of ``session_id`` (or the given version), or None."""
        if version is None:
            rows = self._entries(
                "SELECT * FROM sessions WHERE session_id = ? AND status != 'deleted' ORDER BY version DESC LIMIT 1",
                (session_id,),
            )
        else:
            rows = self._entries("SELECT * FROM sessions WHERE session_id = ? AND version = ?", (session_id, version))
        return rows[0] if rows else None

    def search(
        self,
        name: str | None = None,
        working_dir: str | None = None,
        after_date: float | None = None,
        before_date: float | None = None,
        limit: int = 50,
        *,
        source: str | None = None,
        pinned: bool | None = None,
        order: str = "archived_at",
    ) -> list[ArchiveEntry]:
        """Newest version of each matching session, newest first (by ``order``).

        ``name``: case-insensitive substring; ``working_dir``: substring; dates compare with
        ``archived_at`` (inclusive). Filters are ANDed, as in the seed.
        """
        where, params = filter_sql(name, working_dir, after_date, before_date, source, pinned)
        if order not in ("archived_at", "last_activity_at"):
            raise ValueError(f"cannot order by {order!r}")
        # A substring filter scans sequentially (a random row read per session otherwise).
        sort = f"+{order}" if (name or working_dir) else order
        return self._entries(
            f"SELECT * FROM latest WHERE {where} ORDER BY {sort} DESC, id DESC LIMIT ?", [*params, int(limit)]
        )

    def get_stats(self) -> dict[str, Any]:
        """``total_sessions`` (distinct sessions), ``total_size_mb`` (archives on disk, all
        versions), ``space_saved_mb`` (original minus archived), ``oldest_archive`` /
        ``newest_archive`` (archived_at), plus ``total_versions`` and byte totals."""
        keys = ("total_sessions", "total_size_mb", "space_saved_mb", "oldest_archive", "newest_archive",
                "total_versions", "archive_bytes", "original_bytes")  # fmt: skip
        full = self.stats()
        return {k: full[k] for k in keys}

    def stats(self) -> dict[str, Any]:
        """Totals (the seed's keys), per source and per month, pins and the activity range
        (``index.totals``, which ``termvault stats`` also runs on a bare connection)."""
        return totals.stats(self.query)

    # -- reading rows -------------------------------------------------------------------
    def versions(self, session_id: str) -> list[ArchiveEntry]:
        return self._entries("SELECT * FROM sessions WHERE session_id = ? ORDER BY version", (session_id,))

    def all_rows(self) -> list[ArchiveEntry]:
        return self._entries("SELECT * FROM sessions ORDER BY id")

    def row(self, row_id: int | None) -> ArchiveEntry | None:
        rows = self._entries("SELECT * FROM sessions WHERE id = ?", (row_id,))
        return rows[0] if rows else None

    def newest_versions(self) -> list[ArchiveEntry]:
        """The newest version row of each session (pruned or not): what full text holds."""
        return self._entries(
            "SELECT * FROM sessions s WHERE version = (SELECT MAX(version) FROM sessions t "
            "WHERE t.session_id = s.session_id) ORDER BY id"
        )

    def by_path(self, archive_path: str) -> ArchiveEntry | None:
        rows = self._entries("SELECT * FROM sessions WHERE archive_path = ?", (archive_path,))
        return rows[0] if rows else None

    def next_version(self, session_id: str) -> int:
        """One past the highest version ever indexed for ``session_id`` (pruned included)."""
        rows = self.query("SELECT MAX(version) FROM sessions WHERE session_id = ?", (session_id,))
        return int(rows[0][0] or 0) + 1

    def newest_of(self, session_ids: Iterable[str]) -> dict[str, tuple[ArchiveEntry | None, int]]:
        """For each of ``session_ids``: its newest live version (``get_entry``) and its
        ``next_version``, in a few queries for all of them instead of two per session."""
        ids = list(dict.fromkeys(session_ids))
        out: dict[str, tuple[ArchiveEntry | None, int]] = dict.fromkeys(ids, (None, 1))
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ", ".join("?" * len(chunk))
            tops = self.query(
                f"SELECT session_id, MAX(version) FROM sessions WHERE session_id IN ({marks}) GROUP BY 1", chunk
            )
            live = self._entries(
                f"SELECT * FROM sessions s WHERE session_id IN ({marks}) AND status != 'deleted' AND version = "
                "(SELECT MAX(version) FROM sessions t WHERE t.session_id = s.session_id AND t.status != 'deleted')",
                chunk,
            )
            newest = {e.session_id: e for e in live}
            for sid, top in tops:
                out[sid] = (newest.get(sid), int(top or 0) + 1)
        return out

    @contextmanager
    def unit_of_batch(self) -> Iterator[None]:
        """Inside a batch's transaction: the writes of one unit, undone alone (a savepoint)
        if they raise, the rest of the batch kept."""
        with self.transaction():
            self.execute("SAVEPOINT unit")
            try:
                yield
            except BaseException:
                self.execute("ROLLBACK TO unit")
                self.execute("RELEASE unit")
                raise
            self.execute("RELEASE unit")

    def is_empty(self) -> bool:
        return not self.query("SELECT 1 FROM sessions LIMIT 1")

    def archive_paths(self) -> set[str]:
        return {r[0] for r in self.query("SELECT archive_path FROM sessions")}

    def archive_paths_in(self, folder: str) -> set[str]:
        """The archive paths directly or deeper under ``folder`` (a range of the unique
        index on ``archive_path``: "/" sorts right before "0")."""
        return {
            r[0]
            for r in self.query(
                "SELECT archive_path FROM sessions WHERE archive_path >= ? AND archive_path < ?",
                (f"{folder}/", f"{folder}0"),
            )
        }

    def deleted_paths(self) -> list[str]:
        """Archive paths of pruned versions (whose files a killed prune may have left)."""
        return [r[0] for r in self.query("SELECT archive_path FROM sessions WHERE status = 'deleted'")]

    def unremoved_moves(self) -> list[ArchiveEntry]:
        """Move-mode versions whose sources were not all removed yet."""
        return self._entries(
            "SELECT * FROM sessions WHERE mode = 'move' AND source_removed = 0 AND status = 'archived'"
        )

    def prunable(self, local_only: bool = False) -> list[ArchiveEntry]:
        """Versions a storage cap may free, oldest last activity first."""
        extra = " AND local_present = 1" if local_only else ""
        return self._entries(
            f"SELECT * FROM sessions WHERE status IN ('archived', 'legacy', 'corrupt'){extra} "
            "ORDER BY last_activity_at ASC, version ASC, id ASC"
        )

    def text_sha256(self, row_id: int | None) -> str | None:
        rows = self.query("SELECT text_sha256 FROM sessions WHERE id = ?", (row_id,))
        return rows[0][0] if rows else None

    def has_text(self, row_id: int | None) -> bool:
        return self.text_sha256(row_id) is not None

    def find_prefix(self, prefix: str, limit: int = 11) -> list[str]:
        """Distinct session ids starting with ``prefix`` (for git-like short ids). A range
        on the (session_id, version) index: no scan, however large the vault."""
        rows = self.query(
            "SELECT DISTINCT session_id FROM sessions WHERE session_id >= ? AND session_id < ? "
            "ORDER BY session_id LIMIT ?",
            (prefix, prefix + "\U0010ffff", limit),
        )
        return [r[0] for r in rows if r[0].startswith(prefix)]

    def count_prefix(self, prefix: str) -> int:
        rows = self.query(
            "SELECT COUNT(DISTINCT session_id) FROM sessions WHERE session_id >= ? AND session_id < ?",
            (prefix, prefix + "\U0010ffff"),
        )
        return int(rows[0][0])

    def latest_by_session(self, source: str | None = None) -> dict[str, sqlite3.Row]:
        sql = (
            "SELECT session_id, version, fingerprint, content_sha256, status FROM sessions s "
            "WHERE version = (SELECT MAX(version) FROM sessions t WHERE t.session_id = s.session_id)"
        )
        params: list[Any] = []
        if source:
            sql += " AND source = ?"
            params.append(source)
        return {r["session_id"]: r for r in self.query(sql, params)}

    def get_setting(self, key: str) -> str | None:
        rows = self.query("SELECT value FROM settings WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def set_setting(self, key: str, value: str) -> None:
        with self.transaction():
            self.execute("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", (key, value))

    # -- full text ----------------------------------------------------------------------
    def add_text(self, entry: ArchiveEntry, prepared: fulltext.Prepared) -> list[ArchiveEntry]:
        """Index ``prepared`` (from ``fulltext.prepare``) for ``entry``, inside the caller's
        transaction, and take the text of the session's older versions out (read from
        their own frames). Returns those older versions."""
        return textindex.add(self, entry, prepared)

    def remove_text(self, row_id: int | None) -> None:
        """Take a version's text out (it is being pruned), inside the caller's transaction."""
        textindex.remove(self, row_id)

    def settle(self) -> None:
        """Merge the full-text segments and give free pages back: the end of a sweep or a
        batch of writes calls it, outside any transaction."""
        textindex.settle(self)

    def has_text_tables(self) -> bool:
        """False for an index written before migration 7 and opened read-only (a read
        does not migrate): full-text search then needs ``termvault reindex`` first."""
        return bool(self.query("SELECT 1 FROM sqlite_schema WHERE name = 'text_chunks'"))

    def rows_with_text(self, roles: list[str] | None = None, tool: str | None = None) -> list[int]:
        """Rows holding text in the given role streams / of the given tool."""
        where, params = textindex.chunk_filter("c", roles, tool)
        return [r[0] for r in self.query(f"SELECT DISTINCT c.session_row FROM text_chunks c WHERE 1{where}", params)]

    def text_chunks(self, row_id: int | None) -> list[tuple[str, str, int, str]]:
        """(role, tool, first turn, text) of each chunk of a version's indexed text."""
        rows = self.query(
            "SELECT role, tool, turn, frame FROM text_chunks WHERE session_row = ? ORDER BY id", (row_id,)
        )
        return [(r[0], r[1], r[2], fulltext.decompress(r[3])) for r in rows]

    # -- the remote tier ----------------------------------------------------------------
    def remote_key(self, row_id: int | None) -> str | None:
        rows = self.query("SELECT remote_key FROM sessions WHERE id = ?", (row_id,))
        return rows[0][0] if rows else None

    def remote_state(self, row_id: int | None) -> sqlite3.Row | None:
        rows = self.query(
            "SELECT remote_key, remote_verified_at, local_present, archive_sha256 FROM sessions WHERE id = ?",
            (row_id,),
        )
        return rows[0] if rows else None

    def remote_only_ids(self) -> set[int]:
        """Rows whose archive lives in the remote, so a missing local copy is expected."""
        return {
            r[0]
            for r in self.query(
                "SELECT id FROM sessions WHERE remote_key IS NOT NULL "
                "AND (remote_verified_at IS NOT NULL OR local_present = 0)"
            )
        }

    def evicted(self) -> list[ArchiveEntry]:
        """Versions whose local copy was evicted after a verified upload (this machine's)."""
        return self._entries(
            "SELECT * FROM sessions WHERE remote_key IS NOT NULL AND local_present = 0 "
            "AND status != 'deleted' AND archive_path NOT LIKE ? ORDER BY id",
            (f"{FOREIGN_PREFIX}%",),
        )

    def remote_pending(self) -> list[ArchiveEntry]:
        """This machine's archived versions not yet remote-verified, oldest first."""
        return self._entries(
            "SELECT * FROM sessions WHERE status = 'archived' AND remote_verified_at IS NULL "
            "AND archive_path NOT LIKE ? ORDER BY last_activity_at, version, id",
            (f"{FOREIGN_PREFIX}%",),
        )

    def remote_only(self) -> list[ArchiveEntry]:
        """Versions whose local copy is absent (evicted, or another machine's)."""
        return self._entries("SELECT * FROM sessions WHERE remote_key IS NOT NULL AND local_present = 0 ORDER BY id")

    def remote_prior(self) -> dict[str, sqlite3.Row]:
        """What each archive path's row knew of the remote (kept across a rebuild)."""
        return {
            r["archive_path"]: r
            for r in self.query("SELECT archive_path, archive_sha256, remote_key, remote_verified_at FROM sessions")
        }

    def remote_counts(self) -> dict[str, int]:
        foreign = f"{FOREIGN_PREFIX}%"
        own = "status = 'archived' AND archive_path NOT LIKE ?"
        q = self.query
        return {
            "versions": q(f"SELECT COUNT(*) FROM sessions WHERE {own}", (foreign,))[0][0],
            "verified": q(f"SELECT COUNT(*) FROM sessions WHERE {own} AND remote_verified_at IS NOT NULL", (foreign,))[
                0
            ][0],
            "evicted": q(f"SELECT COUNT(*) FROM sessions WHERE {own} AND local_present = 0", (foreign,))[0][0],
            "other_hosts_versions": q("SELECT COUNT(*) FROM sessions WHERE archive_path LIKE ?", (foreign,))[0][0],
            "local_bytes": q(
                "SELECT COALESCE(SUM(archive_size), 0) FROM sessions WHERE local_present = 1 AND status != 'deleted'"
            )[0][0],
            "remote_bytes": q("SELECT COALESCE(SUM(archive_size), 0) FROM sessions WHERE remote_key IS NOT NULL")[0][0],
        }

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group writes into one transaction (an alias that reads better at call sites)."""
        with self.transaction():
            yield


class EntriesView(Mapping[str, ArchiveEntry]):
    """A read-only ``{session_id: ArchiveEntry}`` view of an index's newest live versions."""

    def __init__(self, index: ArchiveIndex):
        self._index = index

    def __getitem__(self, session_id: str) -> ArchiveEntry:
        entry = self._index.get_entry(session_id) if isinstance(session_id, str) else None
        if entry is None:
            raise KeyError(session_id)
        return entry

    def __iter__(self) -> Iterator[str]:
        return iter(self._index.latest_ids())

    def __len__(self) -> int:
        return self._index.count_latest()

    def values(self):  # type: ignore[override]  # one query instead of one per key
        return self._index.latest_entries()

    def items(self):  # type: ignore[override]  # a list, in one query, like values()
        return [(e.session_id, e) for e in self._index.latest_entries()]


__all__ = ["LATEST_LIVE", "MB", "ArchiveEntry", "ArchiveIndex", "entry_from_row", "filter_sql"]
