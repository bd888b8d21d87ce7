"""Reading (and, for AgentMux's move mode, carefully changing) the SQLite FileStore and
object store that Wave Terminal and AgentMux keep their panes' output in.

Both apps store a file as a row of ``db_wave_file`` (zone, name, logical ``size``,
``createdts``/``modts`` in unix ms, JSON ``opts`` and ``meta``) and its bytes as 64 KiB
parts in ``db_file_data``. ``size`` only grows; a circular file keeps the window
``[size - maxsize, size)``, Wave storing byte ``o`` in part ``(o // 64Ki) % parts``,
AgentMux in part ``o // 64Ki``.

Another program owns these databases while they are read, so every connection here is
read-only (``mode=ro``, never ``immutable``) with a busy timeout, and each file is read
inside one short read transaction into a private spool, so its parts and its size come
from the same committed state. Failures become ``DataError`` sentences that name the
database: locked, written by a newer version, or damaged.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ..errors import DataError

log = logging.getLogger(__name__)

PART_SIZE = 64 * 1024
BUSY_TIMEOUT = 5.0
SPOOL_IN_MEMORY = 4 * 1024 * 1024
# user_version of AgentMux's filestore.db this code knows (Wave leaves it at 0 and
# records golang-migrate's version in schema_migrations instead).
AGENTMUX_FILESTORE_VERSION = 1
WAVE_FILESTORE_MIGRATION = 1
LINE_COLUMNS = ("gen", "lines", "lines_size", "lines_tail", "lines_modts")


# -- errors ---------------------------------------------------------------------------------
def explain(exc: sqlite3.Error, db: Path, app: str) -> DataError:
    """A sentence for ``exc`` raised while using ``db``."""
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return DataError(
            f"{app}'s database {db} stayed locked by another program for more than "
            f"{BUSY_TIMEOUT:.0f} seconds; the next sweep will try again."
        )
    if "not a database" in text or "malformed" in text or "corrupt" in text or "disk i/o" in text:
        return DataError(f"{app}'s database {db} is damaged ({exc}); termvault left it untouched.")
    if "unable to open" in text or "readonly" in text or "read-only" in text:
        return DataError(f"{app}'s database {db} could not be opened ({exc}).")
    return DataError(f"{app}'s database {db} could not be read ({exc}).")


# -- connections ----------------------------------------------------------------------------
@contextmanager
def writing(db: Path, app: str) -> Iterator[sqlite3.Connection]:
    """A write connection to ``db`` for one explicit transaction: a SQLite error becomes a
    sentence, a transaction left open is rolled back, the connection is closed."""
    conn = connect(db, app, write=True)
    try:
        yield conn
    except sqlite3.Error as exc:
        raise explain(exc, db, app) from exc
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        conn.close()


def connect(db: Path, app: str, write: bool = False) -> sqlite3.Connection:
    """A connection to ``db`` in autocommit mode (transactions are explicit): read-only
    unless ``write``; never creates the file."""
    uri = Path(os.path.abspath(db)).as_uri() + ("?mode=rw" if write else "?mode=ro")
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
    except sqlite3.Error as exc:
        raise explain(exc, db, app) from exc
    return conn


@dataclass(frozen=True)
class Schema:
    """What ``inspect`` learned of a FileStore: which app generation wrote it."""

    line_columns: bool  # AgentMux's newer line-count epoch columns are present
    wave_types: bool  # Wave's migration-typed columns (varchar/bigint/json)


def inspect(conn: sqlite3.Connection, db: Path, app: str) -> Schema:
    """Check that ``db`` is a FileStore this code can read; DataError otherwise."""
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not {"db_wave_file", "db_file_data"} <= tables:
            raise DataError(f"{db} is not a {app} FileStore (it has no db_wave_file/db_file_data tables).")
        user_version = conn.execute("PRAGMA user_version").fetchone()[0]
        if user_version > AGENTMUX_FILESTORE_VERSION:
            raise DataError(
                f"{app}'s database {db} has schema version {user_version}, newer than termvault "
                f"knows ({AGENTMUX_FILESTORE_VERSION}); upgrade termvault to read it."
            )
        if "schema_migrations" in tables:
            row = conn.execute("SELECT version, dirty FROM schema_migrations LIMIT 1").fetchone()
            if row is not None and int(row[0]) > WAVE_FILESTORE_MIGRATION:
                raise DataError(
                    f"{app}'s database {db} is at migration {row[0]}, newer than termvault knows "
                    f"({WAVE_FILESTORE_MIGRATION}); upgrade termvault to read it."
                )
        cols = {r[1]: (r[2] or "").lower() for r in conn.execute("PRAGMA table_info(db_wave_file)")}
    except sqlite3.Error as exc:
        raise explain(exc, db, app) from exc
    missing = {"zoneid", "name", "size", "createdts", "modts", "opts", "meta"} - set(cols)
    if missing:
        raise DataError(f"{db} is not a FileStore termvault can read (no column {', '.join(sorted(missing))}).")
    return Schema(
        line_columns=all(c in cols for c in LINE_COLUMNS),
        wave_types=cols.get("size") == "bigint",
    )


# -- files ----------------------------------------------------------------------------------
def _json_obj(text: Any) -> dict[str, Any]:
    if isinstance(text, (bytes, bytearray)):
        text = text.decode("utf-8", "replace")
    if not isinstance(text, str) or not text:
        return {}
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class FileRow:
    """One ``db_wave_file`` row."""

    zoneid: str
    name: str
    size: int
    createdts: int
    modts: int
    opts: dict[str, Any] = field(default_factory=dict, compare=False)
    meta: dict[str, Any] = field(default_factory=dict, compare=False)
    gen: str | None = None
    lines: int | None = None  # the counted epoch, only when it is valid

    @property
    def maxsize(self) -> int:
        """The circular window size, rounded up to whole parts (0 = not circular)."""
        if not self.opts.get("circular"):
            return 0
        try:
            m = int(self.opts.get("maxsize") or 0)
        except (TypeError, ValueError, OverflowError):
            return 0
        return -(-m // PART_SIZE) * PART_SIZE if m > 0 else 0

    def window_start(self, size: int | None = None) -> int:
        end = self.size if size is None else size
        return max(0, end - self.maxsize) if self.maxsize else 0


_ROW_SQL = "SELECT zoneid, name, size, createdts, modts, opts, meta{extra} FROM db_wave_file"


def _row(r: tuple, schema: Schema) -> FileRow:
    gen = lines = None
    if schema.line_columns:
        gen = r[7] if isinstance(r[7], str) else None
        lines_val, lines_size, lines_modts = r[8], r[9], r[10]
        if lines_val is not None and lines_size == r[2] and lines_modts == r[4]:
            lines = int(lines_val)
    return FileRow(
        str(r[0]),
        str(r[1]),
        int(r[2] or 0),
        int(r[3] or 0),
        int(r[4] or 0),
        _json_obj(r[5]),
        _json_obj(r[6]),
        gen,
        lines,
    )


def _row_sql(schema: Schema) -> str:
    extra = ", gen, lines, lines_size, lines_tail, lines_modts" if schema.line_columns else ""
    return _ROW_SQL.format(extra=extra)


class FileStore:
    """A FileStore database, opened read-only on demand (one connection per call, so
    nothing is held between a sweep's steps)."""

    def __init__(self, db: Path, app: str, wrap_parts: bool):
        self.db = db
        self.app = app
        self.wrap_parts = wrap_parts  # Wave: circular parts wrap; AgentMux: they do not

    def _open(self) -> tuple[sqlite3.Connection, Schema]:
        conn = connect(self.db, self.app)
        try:
            return conn, inspect(conn, self.db, self.app)
        except BaseException:
            conn.close()
            raise

    def files(self) -> list[FileRow]:
        """Every file row (metadata only)."""
        conn, schema = self._open()
        try:
            rows = []
            for r in conn.execute(_row_sql(schema) + " ORDER BY zoneid, name"):
                try:
                    rows.append(_row(r, schema))
                except (TypeError, ValueError, OverflowError) as exc:
                    # SQLite keeps any type in any column: one damaged row is skipped, not the store.
                    log.warning("%s's database %s: file %r/%r skipped, a value is damaged (%s).",
                                self.app, self.db, r[0], r[1], exc)  # fmt: skip
            return rows
        except sqlite3.Error as exc:
            raise explain(exc, self.db, self.app) from exc
        finally:
            conn.close()

    def snapshot(
        self, zoneid: str, name: str, size: int, createdts: int, gen: str | None, spool_dir: Path | None = None
    ) -> IO[bytes]:
        """The bytes of the window of ``zoneid/name`` that ended at logical ``size`` (as
        discovered), read in one read transaction into a private spool positioned at 0.

        The file may have grown since: its bytes up to ``size`` are unchanged (appends only
        add), so they are read as they were. DataError if the file was deleted, recreated,
        rewritten (newer AgentMux's generation), shrank, or (circular) wrapped past the
        start of that window.
        """
        where = f"{self.app} file {zoneid}/{name} in {self.db}"
        conn, schema = self._open()
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY, dir=_spool_dir(spool_dir))  # noqa: SIM115 (returned to the caller)
        try:
            conn.execute("BEGIN")
            r = conn.execute(_row_sql(schema) + " WHERE zoneid = ? AND name = ?", (zoneid, name)).fetchone()
            if r is None:
                raise DataError(f"The {where} was deleted after it was found; the next sweep will see.")
            row = _row(r, schema)
            if row.createdts != createdts or row.size < size or (gen and row.gen and gen != row.gen):
                raise DataError(f"The {where} was replaced after it was found; the next sweep will archive it.")
            start = row.window_start(size)
            if row.window_start() > start:
                raise DataError(
                    f"The {where} wrapped past the window found moments ago; the next sweep will archive it."
                )
            for chunk in self._chunks(conn, row, start, size, where):
                spool.write(chunk)
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            spool.close()
            raise explain(exc, self.db, self.app) from exc
        except BaseException:
            spool.close()
            raise
        finally:
            conn.close()
        spool.seek(0)
        return spool

    def _chunks(self, conn: sqlite3.Connection, row: FileRow, start: int, end: int, where: str) -> Iterator[bytes]:
        nparts = row.maxsize // PART_SIZE if (row.maxsize and self.wrap_parts) else 0
        offset = start
        while offset < end:
            logical = offset // PART_SIZE
            partidx = logical % nparts if nparts else logical
            got = conn.execute(
                "SELECT data FROM db_file_data WHERE zoneid = ? AND name = ? AND partidx = ?",
                (row.zoneid, row.name, partidx),
            ).fetchone()
            lo = offset - logical * PART_SIZE
            hi = min(PART_SIZE, end - logical * PART_SIZE)
            value = got[0] if got is not None else None
            if value is not None and not isinstance(value, (bytes, str)):
                # bytes(n) of an integer would be n zero bytes: a damaged part is never expanded.
                raise DataError(f"The {where} is damaged: part {partidx} holds a {type(value).__name__}, not bytes.")
            data = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else (value or b"")
            if len(data) < hi:
                raise DataError(
                    f"The {where} is damaged: part {partidx} holds {len(data)} bytes where {hi} are needed."
                )
            yield data[lo:hi]
            offset = logical * PART_SIZE + hi


def _spool_dir(preferred: Path | None) -> str | None:
    if preferred is not None and preferred.is_dir() and os.access(preferred, os.W_OK):
        return str(preferred)
    return None  # the system's temporary folder (the file is unlinked at once)


class SnapshotReader:
    """A FileRef-style opener: each call reads a fresh snapshot (one read transaction)."""

    def __init__(self, store: FileStore, row: FileRow, spool_dir: Path | None):
        self._store, self._row, self._spool_dir = store, row, spool_dir
        self._lock = threading.Lock()

    def __call__(self) -> IO[bytes]:
        r = self._row
        with self._lock:
            return self._store.snapshot(r.zoneid, r.name, r.size, r.createdts, r.gen, self._spool_dir)


# -- object store ---------------------------------------------------------------------------
@dataclass
class Objects:
    """Blocks, tabs and workspaces of an object store (``objects.db`` / ``waveterm.db``)."""

    blocks: dict[str, dict[str, Any]] = field(default_factory=dict)
    tab_names: dict[str, str] = field(default_factory=dict)
    workspace_of_tab: dict[str, str] = field(default_factory=dict)

    def block_meta(self, block_id: str) -> dict[str, Any]:
        meta = self.blocks.get(block_id, {}).get("meta")
        return meta if isinstance(meta, dict) else {}

    def tab_of(self, block_id: str) -> str | None:
        ref = self.blocks.get(block_id, {}).get("parentoref")
        if isinstance(ref, str) and ref.startswith("tab:"):
            return ref[4:]
        return None


def read_objects(db: Path, app: str) -> Objects:
    """The blocks, tab names and workspaces of ``db``; empty when it is absent. Read in one
    read transaction; DataError when it cannot be read."""
    out = Objects()
    if not db.is_file():
        return out
    conn = connect(db, app)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        conn.execute("BEGIN")
        if "db_block" in tables:
            for oid, data in conn.execute("SELECT oid, data FROM db_block"):
                obj = _json_obj(data)
                out.blocks[str(oid)] = obj
        if "db_tab" in tables:
            for oid, data in conn.execute("SELECT oid, data FROM db_tab"):
                name = _json_obj(data).get("name")
                if isinstance(name, str):
                    out.tab_names[str(oid)] = name
        if "db_workspace" in tables:
            for oid, data in conn.execute("SELECT oid, data FROM db_workspace"):
                obj = _json_obj(data)
                name = obj.get("name") if isinstance(obj.get("name"), str) else ""
                for tab in obj.get("tabids") or []:
                    if isinstance(tab, str):
                        out.workspace_of_tab[tab] = name or str(oid)
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        raise explain(exc, db, app) from exc
    finally:
        conn.close()
    return out


def merge_block_meta(conn: sqlite3.Connection, block_id: str, changes: dict[str, Any]) -> bool:
    """Merge ``changes`` into a block's meta as the apps' meta writer does (a None value
    removes the key) and bump its version; the caller holds a write transaction. False
    when the block does not exist."""
    row = conn.execute("SELECT version, data FROM db_block WHERE oid = ?", (block_id,)).fetchone()
    if row is None:
        return False
    obj = _json_obj(row[1])
    meta = found if isinstance(found := obj.get("meta"), dict) else {}
    for key, value in changes.items():
        if value is None:
            meta.pop(key, None)
        else:
            meta[key] = value
    obj["meta"] = meta
    version = int(row[0] or 0) + 1
    obj["version"] = version
    conn.execute(
        "UPDATE db_block SET version = ?, data = ? WHERE oid = ?",
        (version, json.dumps(obj, separators=(",", ":")), block_id),
    )
    return True


# -- writing (AgentMux move mode and restore only) ------------------------------------------
def row_matches(conn: sqlite3.Connection, zoneid: str, name: str, size: int, modts: int, createdts: int) -> bool:
    """Whether ``zoneid/name`` still has the discovered size, modts and createdts."""
    r = conn.execute(
        "SELECT size, modts, createdts FROM db_wave_file WHERE zoneid = ? AND name = ?", (zoneid, name)
    ).fetchone()
    return r is not None and (int(r[0]), int(r[1]), int(r[2])) == (size, modts, createdts)


def delete_file(conn: sqlite3.Connection, zoneid: str, name: str) -> None:
    conn.execute("DELETE FROM db_file_data WHERE zoneid = ? AND name = ?", (zoneid, name))
    conn.execute("DELETE FROM db_wave_file WHERE zoneid = ? AND name = ?", (zoneid, name))


def write_new_file(
    conn: sqlite3.Connection, schema: Schema, zoneid: str, name: str, data: IO[bytes], now_ms: int
) -> int:
    """Create ``zoneid/name`` with default opts and ``data`` in 64 KiB parts, as the apps'
    make-file plus append do; the caller holds a write transaction. Returns the size.

    The newer schema's line-count epoch is left unset (NULL), so AgentMux counts afresh
    instead of trusting a number termvault made up.
    """
    size = 0
    partidx = 0
    while chunk := data.read(PART_SIZE):
        conn.execute(
            "INSERT INTO db_file_data (zoneid, name, partidx, data) VALUES (?, ?, ?, ?)", (zoneid, name, partidx, chunk)
        )
        size += len(chunk)
        partidx += 1
    if schema.line_columns:
        conn.execute(
            "INSERT INTO db_wave_file (zoneid, name, size, createdts, modts, opts, meta, gen) "
            "VALUES (?, ?, ?, ?, ?, '{}', '{}', ?)",
            (zoneid, name, size, now_ms, now_ms, os.urandom(8).hex()),
        )
    else:
        conn.execute(
            "INSERT INTO db_wave_file (zoneid, name, size, createdts, modts, opts, meta) "
            "VALUES (?, ?, ?, ?, ?, '{}', '{}')",
            (zoneid, name, size, now_ms, now_ms),
        )
    return size
