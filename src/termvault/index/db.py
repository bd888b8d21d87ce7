"""The index database: opening SQLite (WAL, busy timeout, private files), numbered
migrations recorded in ``schema_migrations``, transactions and the error policy.

Only the ``index`` package talks SQL; everything else calls ``ArchiveIndex`` methods.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import DataError
from ..fsutil import FILE_MODE, ensure_private_dir
from ..model import ArchiveEntry
from . import textindex
from .rows import entry_from_row, redact_entry, stored_meta

log = logging.getLogger(__name__)


def run_script(db: sqlite3.Connection, script: str) -> None:
    """Execute several statements inside the current transaction (``executescript``
    would commit it)."""
    buf = ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            db.execute(buf)
            buf = ""
    if buf.strip():
        db.execute(buf)


def _m1_sessions(db: sqlite3.Connection) -> None:
    run_script(
        db,
        """
        CREATE TABLE sessions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            session_id TEXT NOT NULL,
            version INTEGER NOT NULL,
            source TEXT NOT NULL,
            mode TEXT NOT NULL DEFAULT 'move',
            name TEXT NOT NULL DEFAULT '',
            name_fold TEXT NOT NULL DEFAULT '',
            working_directory TEXT NOT NULL DEFAULT '',
            last_command TEXT,
            created_at REAL,
            last_activity_at REAL NOT NULL,
            archived_at REAL NOT NULL,
            original_size INTEGER NOT NULL,
            archive_size INTEGER NOT NULL,
            archive_path TEXT NOT NULL UNIQUE,
            archive_sha256 TEXT,
            content_sha256 TEXT,
            file_count INTEGER NOT NULL DEFAULT 1,
            pinned INTEGER NOT NULL DEFAULT 0,
            status TEXT NOT NULL DEFAULT 'archived',
            fingerprint TEXT,
            source_removed INTEGER NOT NULL DEFAULT 0,
            meta TEXT NOT NULL DEFAULT '{}',
            text_sha256 TEXT,
            UNIQUE (session_id, version)
        );
        CREATE INDEX sessions_archived_at ON sessions (archived_at);
        CREATE INDEX sessions_last_activity ON sessions (last_activity_at);
        CREATE INDEX sessions_source ON sessions (source, last_activity_at);
        CREATE INDEX sessions_status ON sessions (status);
        CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        """,
    )


def _m2_latest_view(db: sqlite3.Connection) -> None:
    # The newest version of each session: what searches and listings show.
    run_script(
        db,
        """
        CREATE INDEX sessions_id_version ON sessions (session_id, version DESC);
        CREATE VIEW latest AS
            SELECT s.* FROM sessions s
            WHERE s.version = (SELECT MAX(version) FROM sessions t WHERE t.session_id = s.session_id);
        """,
    )


def _m3_fulltext(db: sqlite3.Connection) -> None:
    # The first full-text tables (words, and trigrams of identifiers), replaced in 7.
    db.execute("CREATE VIRTUAL TABLE fts_text USING fts5(body, content='', tokenize='unicode61 remove_diacritics 2')")
    db.execute("CREATE VIRTUAL TABLE fts_ident USING fts5(body, content='', tokenize='trigram', detail='none')")


def _m4_remote_tier(db: sqlite3.Connection) -> None:
    # The remote tier: the object's key once uploaded, when a full read-back last matched,
    # and whether the local copy is here (0 once evicted).
    run_script(
        db,
        """
        ALTER TABLE sessions ADD COLUMN remote_key TEXT;
        ALTER TABLE sessions ADD COLUMN remote_verified_at REAL;
        ALTER TABLE sessions ADD COLUMN local_present INTEGER NOT NULL DEFAULT 1;
        """,
    )


# The newest version of a session that was not pruned (alias ``s``).
LATEST_LIVE = (
    "s.status != 'deleted' AND s.version = (SELECT MAX(t.version) FROM sessions t "
    "WHERE t.session_id = s.session_id AND t.status != 'deleted')"
)


def _m5_tombstones(db: sqlite3.Connection) -> None:
    # Pruned versions stay as rows with status 'deleted' (so an unchanged copy-mode source
    # is not archived again only to be pruned again); "latest" is the newest live version.
    run_script(
        db,
        f"""
        DROP VIEW latest;
        CREATE VIEW latest AS SELECT s.* FROM sessions s WHERE {LATEST_LIVE};
        """,
    )


def _m6_redacted_metadata(db: sqlite3.Connection) -> None:
    # Rows written before metadata was redacted are rewritten the way insert() stores them
    # now. secure_delete zeroes the bytes the old values leave in free space.
    previous = db.execute("PRAGMA secure_delete").fetchone()[0]
    db.execute("PRAGMA secure_delete = ON")
    rows = db.execute("SELECT id, name, working_directory, last_command, meta FROM sessions").fetchall()
    for row_id, name, folder, command, meta in rows:
        e = ArchiveEntry(
            session_id="", name=name, archived_at=0, original_timestamp=0, archive_path="", size_bytes=0,
            original_size_bytes=0, working_directory=folder, last_command=command, meta=json.loads(meta or "{}"),
        )  # fmt: skip
        redact_entry(e)
        new_meta = json.dumps(e.meta, ensure_ascii=False, sort_keys=True)
        if (e.name, e.working_directory, e.last_command, new_meta) != (name, folder, command, meta):
            db.execute(
                "UPDATE sessions SET name = ?, name_fold = ?, working_directory = ?, last_command = ?, meta = ? "
                "WHERE id = ?",
                (e.name, (e.name or "").casefold(), e.working_directory, e.last_command, new_meta, row_id),
            )
    db.execute(f"PRAGMA secure_delete = {int(previous)}")


def _m7_text_frames(db: sqlite3.Connection) -> None:
    # The text kept as compressed frames by role stream, one FTS5 row (no positions) per
    # chunk (see ``textindex``). The old tables go: their text cannot be moved over (it
    # was never stored), so `termvault reindex` indexes the sessions' text again.
    had_text = db.execute("SELECT 1 FROM sessions WHERE text_sha256 IS NOT NULL LIMIT 1").fetchone() is not None
    db.execute("DROP TABLE fts_ident")
    db.execute("DROP TABLE fts_text")
    db.execute("UPDATE sessions SET text_sha256 = NULL")
    textindex.create_tables(db)
    if had_text:
        db.execute("INSERT OR REPLACE INTO settings (key, value) VALUES ('text_needs_reindex', '1')")
        log.warning(
            "The full-text index changed format: run `termvault reindex` to make the sessions archived so far "
            "searchable again (new sessions are indexed as they are archived)."
        )


def _m8_lean_rows(db: sqlite3.Connection) -> None:
    # Rows keep their metadata without what their columns and the defaults already say
    # (``rows.LEAN``), and the index on (session_id, version DESC) goes: the UNIQUE
    # constraint's own index serves the same lookups, read backwards.
    db.execute("DROP INDEX IF EXISTS sessions_id_version")
    cur = db.cursor()
    cur.row_factory = sqlite3.Row
    for row in cur.execute("SELECT * FROM sessions").fetchall():
        entry = entry_from_row(row)
        entry.meta = json.loads(row["meta"] or "{}")  # as written before: no marker to read
        lean = stored_meta(entry)
        if lean != row["meta"]:
            db.execute("UPDATE sessions SET meta = ? WHERE id = ?", (lean, row["id"]))


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    _m1_sessions,
    _m2_latest_view,
    _m3_fulltext,
    _m4_remote_tier,
    _m5_tombstones,
    _m6_redacted_metadata,
    _m7_text_frames,
    _m8_lean_rows,
]


def is_corruption(exc: BaseException | None) -> bool:
    # "file is not a database", "database disk image is malformed" and the like raise the
    # base class itself; its subclasses mean locked, misused or constraint failures.
    return type(exc) is sqlite3.DatabaseError


def _readable(conn: sqlite3.Connection, index_file: Path) -> sqlite3.Connection:
    """``conn`` (read-only) if it can read; else, in a folder nobody may write (a WAL
    index needs its shared-memory file), the file opened as immutable: nothing can
    write it meanwhile, since the folder refuses the write-ahead log."""
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError:
        if os.access(index_file.parent, os.W_OK):
            raise
        conn.close()
    return sqlite3.connect(
        f"file:{index_file}?immutable=1", uri=True, timeout=30.0, isolation_level=None, check_same_thread=False
    )


class Database:
    """One SQLite connection guarded by a lock: WAL, a busy timeout, migrations applied on
    open, write transactions with ``transaction()`` and reads with ``query()``."""

    def __init__(self, index_file: Path | str, readonly: bool = False):
        self.index_file = Path(index_file)
        self.readonly = readonly
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None

    @property
    def db(self) -> sqlite3.Connection:
        """The connection, opened (and the schema migrated) on first use, so a home whose
        index is damaged still opens: every use then raises the same DataError until
        ``reindex`` replaces the file. After ``close()`` the next use opens it again."""
        with self._lock:
            if self._conn is None:
                self._conn = self._open()
            return self._conn

    def _open(self) -> sqlite3.Connection:
        readonly = self.readonly
        conn: sqlite3.Connection | None
        if readonly and not self.index_file.exists():
            # Reading a home that has no index yet: an empty one, in memory, written nowhere.
            conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            self._migrate(conn)
            return conn
        if not readonly:
            ensure_private_dir(self.index_file.parent)
        new = not self.index_file.exists()
        conn = None
        try:
            uri = f"file:{self.index_file}?mode=ro" if readonly else str(self.index_file)
            conn = sqlite3.connect(uri, uri=readonly, timeout=30.0, isolation_level=None, check_same_thread=False)
            if readonly:
                conn = _readable(conn, self.index_file)
            if new and not readonly:
                self.index_file.chmod(FILE_MODE)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA busy_timeout = 30000")
            if new and not readonly:
                # Set before the first table: free pages (FTS5 merges leave many) can then
                # be given back without a VACUUM (``ArchiveIndex.settle``).
                conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
            if not readonly:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            if not readonly:
                self._migrate(conn)
        except sqlite3.DatabaseError as exc:
            if conn is not None:
                conn.close()
            raise self.failure(exc) from exc
        self._private_sidecars()
        return conn

    def unreadable(self, exc: Exception) -> DataError:
        return DataError(
            f"The index {self.index_file} is unreadable ({exc}); run `termvault reindex` "
            "to rebuild it from the archives."
        )

    def failure(self, exc: sqlite3.DatabaseError) -> DataError:
        """The DataError to raise for a SQLite error: a damaged file asks for a reindex;
        anything else (a full disk, an I/O error) must not, the file being sound."""
        if is_corruption(exc):
            return self.unreadable(exc)
        return DataError(
            f"The index {self.index_file} could not be read or written ({exc}); check that its "
            "disk has free space and the home is writable."
        )

    def _private_sidecars(self) -> None:
        for suffix in ("-wal", "-shm"):
            p = Path(str(self.index_file) + suffix)
            with contextlib.suppress(OSError):
                if p.exists() and (p.stat().st_mode & 0o777) != FILE_MODE:
                    p.chmod(FILE_MODE)

    def _migrate(self, conn: sqlite3.Connection) -> None:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
        )
        done = {r[0] for r in conn.execute("SELECT id FROM schema_migrations")}
        for number, fn in enumerate(MIGRATIONS, start=1):
            if number in done:
                continue
            conn.execute("BEGIN IMMEDIATE")
            try:
                fn(conn)
                conn.execute(
                    "INSERT INTO schema_migrations (id, name, applied_at) VALUES (?, ?, ?)",
                    (number, fn.__name__, time.time()),
                )
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @property
    def in_transaction(self) -> bool:
        """Whether a transaction is open (``transaction()`` would join it)."""
        return self.db.in_transaction

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT), rolled back on error.
        Nested calls join the outer transaction."""
        with self._lock:
            if self.db.in_transaction:
                yield
                return
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException as exc:
                self._rollback()
                if isinstance(exc, sqlite3.DatabaseError) and (
                    is_corruption(exc) or isinstance(exc, sqlite3.OperationalError)
                ):
                    raise self.failure(exc) from exc
                raise
            try:
                self.db.execute("COMMIT")
            except sqlite3.DatabaseError as exc:  # a full disk shows up here, in the WAL
                self._rollback()
                raise self.failure(exc) from exc
        self._private_sidecars()

    def _rollback(self) -> None:
        # SQLite rolls back by itself on some errors (a full disk, corruption), and a
        # ROLLBACK can fail for the reason the transaction did: the first error is the one
        # worth reporting.
        if self.db.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self.db.execute("ROLLBACK")

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                return self.db.execute(sql, tuple(params)).fetchall()
            except sqlite3.DatabaseError as exc:
                if is_corruption(exc):
                    raise self.unreadable(exc) from exc
                raise

    def execute(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Cursor:
        """A statement inside the current transaction (the caller holds ``transaction()``)."""
        return self.db.execute(sql, tuple(params))

    def free_pages(self) -> None:
        """Give the free pages back to the file system (a file created with incremental
        auto-vacuum), outside any transaction. (``executescript`` steps the pragma to its
        end; ``execute`` would free a single page.)"""
        with self._lock:
            if self.db.in_transaction:
                return
            try:
                self.db.executescript("PRAGMA incremental_vacuum;")
            except sqlite3.DatabaseError as exc:
                raise self.failure(exc) from exc

    def quick_check(self) -> list[str]:
        return [r[0] for r in self.query("PRAGMA quick_check")]

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
