"""The SQLite index: one row per archived session version, searchable without
decompressing anything. ``ArchiveIndex`` keeps the seed's API (``add_entry``,
``remove_entry``, ``get_entry``, ``search``, ``get_stats``) and adds what the vault needs.

The database runs in WAL mode with a busy timeout, so readers never block the writer;
migrations are small numbered functions applied in order on open and recorded in
``schema_migrations``. The index is derived data: ``Vault.reindex`` rebuilds it from
``archive/`` alone.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from .errors import DataError
from .fsutil import FILE_MODE, ensure_private_dir

MB = 1024 * 1024


@dataclass
class ArchiveEntry:
    """One archived session version. The first nine fields are the seed's, same names and
    meaning (``archive_path`` relative to ``archive/``, sizes in bytes, times UNIX seconds)."""

    session_id: str
    name: str
    archived_at: float
    original_timestamp: float
    archive_path: str
    size_bytes: int
    original_size_bytes: int
    working_directory: str
    last_command: str | None = None
    version: int = 1
    source: str = "native"
    mode: str = "move"
    created_at: float | None = None
    last_activity_at: float | None = None
    archive_sha256: str | None = None
    content_sha256: str | None = None
    file_count: int = 1
    pinned: bool = False
    status: str = "archived"
    fingerprint: str | None = None
    source_removed: bool = False
    meta: dict[str, Any] = field(default_factory=dict)
    row_id: int | None = None

    def __post_init__(self) -> None:
        if self.last_activity_at is None:
            self.last_activity_at = self.original_timestamp

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ArchiveEntry:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @property
    def space_saved_bytes(self) -> int:
        return self.original_size_bytes - self.size_bytes


_COLUMNS = [
    "session_id", "version", "source", "mode", "name", "name_fold", "working_directory",
    "last_command", "created_at", "last_activity_at", "archived_at", "original_size",
    "archive_size", "archive_path", "archive_sha256", "content_sha256", "file_count",
    "pinned", "status", "fingerprint", "source_removed", "meta",
]


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
    run_script(db, 
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
        """
    )


def _m2_latest_view(db: sqlite3.Connection) -> None:
    # The newest version of each session: what searches and listings show.
    run_script(db, 
        """
        CREATE INDEX sessions_id_version ON sessions (session_id, version DESC);
        CREATE VIEW latest AS
            SELECT s.* FROM sessions s
            WHERE s.version = (SELECT MAX(version) FROM sessions t WHERE t.session_id = s.session_id);
        """
    )


def _m3_fulltext(db: sqlite3.Connection) -> None:
    from .fulltext import create_tables

    create_tables(db)


def _m4_remote_tier(db: sqlite3.Connection) -> None:
    # The remote tier (termvault.remote): the object's key once uploaded, when a full
    # read-back last matched, and whether the local copy is here (0 once evicted).
    run_script(db,
        """
        ALTER TABLE sessions ADD COLUMN remote_key TEXT;
        ALTER TABLE sessions ADD COLUMN remote_verified_at REAL;
        ALTER TABLE sessions ADD COLUMN local_present INTEGER NOT NULL DEFAULT 1;
        """
    )


def _m5_tombstones(db: sqlite3.Connection) -> None:
    # Pruned versions stay as rows with status 'deleted' (so an unchanged copy-mode source
    # is not archived again only to be pruned again); "latest" is the newest live version.
    run_script(db, f"""
        DROP VIEW latest;
        CREATE VIEW latest AS SELECT s.* FROM sessions s WHERE {LATEST_LIVE};
        """)


# The newest version of a session that was not pruned (alias ``s``).
LATEST_LIVE = (
    "s.status != 'deleted' AND s.version = (SELECT MAX(t.version) FROM sessions t "
    "WHERE t.session_id = s.session_id AND t.status != 'deleted')"
)

MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    _m1_sessions, _m2_latest_view, _m3_fulltext, _m4_remote_tier, _m5_tombstones,
]


def is_corruption(exc: BaseException | None) -> bool:
    # "file is not a database", "database disk image is malformed" and the like raise the
    # base class itself; its subclasses mean locked, misused or constraint failures.
    return type(exc) is sqlite3.DatabaseError


class ArchiveIndex:
    """Searchable index of archived sessions, backed by SQLite.

    Thread-safe: one connection guarded by a lock. Writes happen in ``transaction()``.
    """

    def __init__(self, index_file: Path | str, readonly: bool = False, immutable: bool = False):
        self.index_file = Path(index_file)
        self._lock = threading.RLock()
        memory = str(index_file) == ":memory:"
        if not readonly and not memory:
            ensure_private_dir(self.index_file.parent)
        new = not self.index_file.exists() and not memory
        try:
            uri = f"file:{self.index_file}?mode=ro" + ("&immutable=1" if immutable else "") if readonly else str(self.index_file)
            self.db = sqlite3.connect(
                uri, uri=readonly, timeout=30.0, isolation_level=None, check_same_thread=False
            )
            if new and not readonly:
                self.index_file.chmod(FILE_MODE)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA busy_timeout = 30000")
            if not readonly:
                self.db.execute("PRAGMA journal_mode = WAL")
                self.db.execute("PRAGMA synchronous = FULL")
            self.db.execute("PRAGMA foreign_keys = ON")
            if not readonly:
                self._migrate()
        except sqlite3.DatabaseError as exc:
            raise self.failure(exc) from exc
        self._private_sidecars()

    @classmethod
    def open_for_reading(cls, index_file: Path | str) -> ArchiveIndex:
        """An index opened without writing anything anywhere: a file that does not exist
        yet reads as an empty index (in memory), and one whose folder is read-only (SQLite
        cannot create its shared-memory file there) is opened as immutable."""
        if not Path(index_file).exists():
            return cls(":memory:")
        index = cls(index_file, readonly=True)
        try:
            index.db.execute("SELECT 1 FROM sessions LIMIT 1").fetchall()
        except sqlite3.OperationalError:
            index.close()
            index = cls(index_file, readonly=True, immutable=True)
        return index

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

    # -- plumbing -----------------------------------------------------------------------
    def _private_sidecars(self) -> None:
        for suffix in ("-wal", "-shm"):
            p = Path(str(self.index_file) + suffix)
            try:
                if p.exists() and (p.stat().st_mode & 0o777) != FILE_MODE:
                    p.chmod(FILE_MODE)
            except OSError:
                pass

    def _migrate(self) -> None:
        with self._lock:
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
            )
            done = {r[0] for r in self.db.execute("SELECT id FROM schema_migrations")}
            for number, fn in enumerate(MIGRATIONS, start=1):
                if number in done:
                    continue
                with self.transaction():
                    fn(self.db)
                    self.db.execute(
                        "INSERT INTO schema_migrations (id, name, applied_at) VALUES (?, ?, ?)",
                        (number, fn.__name__, time.time()),
                    )

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT), rolled back on error."""
        with self._lock:
            if self.db.in_transaction:
                yield self.db
                return
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException as exc:
                self._rollback()
                if is_corruption(exc) or isinstance(exc, sqlite3.OperationalError):
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

    def close(self) -> None:
        with self._lock:
            self.db.close()

    # -- rows <-> entries ---------------------------------------------------------------
    @staticmethod
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
            meta=json.loads(row["meta"] or "{}"),
            row_id=row["id"],
        )

    @staticmethod
    def _values(e: ArchiveEntry) -> tuple:
        return (
            e.session_id, e.version, e.source, e.mode, e.name or "", (e.name or "").casefold(),
            e.working_directory or "", e.last_command, e.created_at,
            e.last_activity_at if e.last_activity_at is not None else e.original_timestamp,
            e.archived_at, e.original_size_bytes, e.size_bytes, e.archive_path, e.archive_sha256,
            e.content_sha256, e.file_count, int(e.pinned), e.status, e.fingerprint,
            int(e.source_removed), json.dumps(e.meta, ensure_ascii=False, sort_keys=True),
        )

    def insert(self, entry: ArchiveEntry) -> int:
        """Insert one version row (inside the caller's transaction if any); returns its rowid."""
        sql = f"INSERT INTO sessions ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
        with self.transaction() as db:
            cur = db.execute(sql, self._values(entry))
            entry.row_id = cur.lastrowid
            return cur.lastrowid

    # -- the seed API -------------------------------------------------------------------
    def add_entry(self, entry: ArchiveEntry) -> bool:
        """Add (or replace, same session id and version) an entry. True on success."""
        try:
            with self.transaction() as db:
                db.execute(
                    "DELETE FROM sessions WHERE (session_id = ? AND version = ?) OR archive_path = ?",
                    (entry.session_id, entry.version, entry.archive_path),
                )
                self.insert(entry)
            return True
        except sqlite3.Error:
            return False

    def remove_entry(self, session_id: str) -> bool:
        """Remove every version of ``session_id`` from the index (files are untouched).
        False if there was none."""
        with self.transaction() as db:
            return db.execute("DELETE FROM sessions WHERE session_id = ?", (session_id,)).rowcount > 0

    def get_entry(self, session_id: str, version: int | None = None) -> ArchiveEntry | None:
        """The newest version of ``session_id`` (or the given version), or None."""
        if version is None:
            rows = self.query(
                "SELECT * FROM sessions WHERE session_id = ? AND status != 'deleted' "
                "ORDER BY version DESC LIMIT 1", (session_id,),
            )
        else:
            rows = self.query(
                "SELECT * FROM sessions WHERE session_id = ? AND version = ?", (session_id, version)
            )
        return self.entry_from_row(rows[0]) if rows else None

    def versions(self, session_id: str) -> list[ArchiveEntry]:
        rows = self.query("SELECT * FROM sessions WHERE session_id = ? ORDER BY version", (session_id,))
        return [self.entry_from_row(r) for r in rows]

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
        where, params = self.filter_sql(name, working_dir, after_date, before_date, source, pinned)
        if order not in ("archived_at", "last_activity_at"):
            raise ValueError(f"cannot order by {order!r}")
        # A substring filter scans sequentially (see search.search); otherwise use the index.
        sort = f"+{order}" if (name or working_dir) else order
        sql = f"SELECT * FROM latest WHERE {where} ORDER BY {sort} DESC, id DESC LIMIT ?"
        return [self.entry_from_row(r) for r in self.query(sql, [*params, int(limit)])]

    @staticmethod
    def filter_sql(
        name=None, working_dir=None, after_date=None, before_date=None, source=None, pinned=None,
        date_column: str = "archived_at", alias: str = "",
    ) -> tuple[str, list[Any]]:
        p = f"{alias}." if alias else ""
        clauses, params = [f"{p}status != 'deleted'"], []
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

    def get_stats(self) -> dict[str, Any]:
        """``total_sessions`` (distinct sessions), ``total_size_mb`` (archives on disk, all
        versions), ``space_saved_mb`` (original minus archived), ``oldest_archive`` /
        ``newest_archive`` (archived_at), plus ``total_versions`` and byte totals."""
        row = self.query(
            """SELECT COUNT(DISTINCT session_id) AS sessions, COUNT(*) AS versions,
                      COALESCE(SUM(archive_size), 0) AS archived, COALESCE(SUM(original_size), 0) AS original,
                      MIN(archived_at) AS oldest, MAX(archived_at) AS newest
               FROM sessions WHERE status != 'deleted'"""
        )[0]
        return {
            "total_sessions": row["sessions"],
            "total_size_mb": round(row["archived"] / MB, 2),
            "space_saved_mb": round((row["original"] - row["archived"]) / MB, 2),
            "oldest_archive": row["oldest"],
            "newest_archive": row["newest"],
            "total_versions": row["versions"],
            "archive_bytes": row["archived"],
            "original_bytes": row["original"],
        }

    # -- vault helpers ------------------------------------------------------------------
    def get_setting(self, key: str) -> str | None:
        rows = self.query("SELECT value FROM settings WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def set_setting(self, key: str, value: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", (key, value))

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
        """How many distinct session ids start with ``prefix`` (same index range)."""
        rows = self.query(
            "SELECT COUNT(DISTINCT session_id) FROM sessions WHERE session_id >= ? AND session_id < ? "
            "AND substr(session_id, 1, ?) = ?",
            (prefix, prefix + "\U0010ffff", len(prefix), prefix),
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

    def all_rows(self) -> list[ArchiveEntry]:
        return [self.entry_from_row(r) for r in self.query("SELECT * FROM sessions ORDER BY id")]
