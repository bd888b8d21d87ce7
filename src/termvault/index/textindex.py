"""The full-text tables: ``text_chunks`` (a session's text as compressed frames, by role
stream) and ``fts_text`` (contentless FTS5, ``detail=none``, one row per chunk, rowid =
chunk id). See ``fulltext`` for what a chunk holds.

``detail=none`` keeps no positions (about a third of a positional table): a phrase, a
CJK word or a term as written is found as the AND of its tokens, then checked in the
chunk's frame. Only the newest version of a session is searchable; its predecessor's
chunks are deleted from FTS5 with the bodies derived from their own frames, so nothing is
read from the archives, at indexing or at query time.
"""

from __future__ import annotations

import bisect
import logging
import sqlite3
import weakref
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from . import fulltext
from .rows import entry_from_row

if TYPE_CHECKING:
    from ..model import ArchiveEntry
    from .db import Database

log = logging.getLogger(__name__)

# settle(): give free pages back to the file system once they are this share of the file.
FREE_SHARE = 0.1
# settle(): merge FTS5's segments into one ('optimize') once the chunks written and
# deleted since the last merge are this share of all chunks. A merge rewrites the whole
# full-text index (10 ms per 4.6 MB of index file here): a sweep that added a few chunks
# to a large index leaves them to FTS5's own automerge, which merges segments as they
# pile up, at a cost in proportion to what was written.
OPTIMIZE_SHARE = 0.1
# Chunks written and deleted per index object since its last merge (a process that
# starts anew counts from 0: automerge keeps the segments few meanwhile).
_CHURN: weakref.WeakKeyDictionary[Database, int] = weakref.WeakKeyDictionary()


def _churned(index: Database, n: int) -> None:
    if n:
        _CHURN[index] = _CHURN.get(index, 0) + n


def create_tables(db: sqlite3.Connection) -> None:
    db.execute(
        # AUTOINCREMENT: a chunk id is never reused, so FTS5 rows a damaged frame kept from
        # being deleted (see ``remove``) stay without a chunk, invisible to every search.
        "CREATE TABLE text_chunks (id INTEGER PRIMARY KEY AUTOINCREMENT, session_row INTEGER NOT NULL, "
        "role TEXT NOT NULL, tool TEXT NOT NULL DEFAULT '', turn INTEGER NOT NULL DEFAULT 0, frame BLOB NOT NULL)"
    )
    db.execute("CREATE INDEX text_chunks_session ON text_chunks (session_row)")
    db.execute(
        "CREATE VIRTUAL TABLE fts_text USING fts5(body, content='', "
        "tokenize='unicode61 remove_diacritics 2', detail='none')"
    )
    db.execute("CREATE VIRTUAL TABLE fts_terms USING fts5vocab(fts_text, row)")


def add(index: Database, entry: ArchiveEntry, prepared: fulltext.Prepared) -> list[ArchiveEntry]:
    """Index ``prepared`` for ``entry`` (inside the caller's transaction) and take the text
    of the session's older versions out. Returns those older versions.

    A chunk of the new text that an older version already holds (same stream, first turn
    and frame: frames are compressed deterministically, so the same frame is the same
    text) is handed over to the new version as it is: its FTS5 row stays. Chunks are cut
    from the start of each role stream, so for a session that only grew, only each
    stream's last chunk and the new ones are written, and only the replaced ones are
    deleted (their FTS5 bodies derived from their frames)."""
    previous = index.execute(
        "SELECT * FROM sessions WHERE session_id = ? AND version < ? AND text_sha256 IS NOT NULL",
        (entry.session_id, entry.version),
    ).fetchall()
    old = [entry_from_row(r) for r in previous]
    rows = [e.row_id for e in old]
    if index.execute("SELECT 1 FROM text_chunks WHERE session_row = ? LIMIT 1", (entry.row_id,)).fetchone():
        rows.append(entry.row_id)  # indexed again (a reindex of one row): no duplicates
    wanted: dict[tuple[str, str, int, bytes], list[int]] = {}
    sizes = set()
    for i, chunk in enumerate(prepared.chunks):
        wanted.setdefault((chunk.role, chunk.tool, chunk.turn, chunk.frame), []).append(i)
        sizes.add((chunk.role, chunk.tool, chunk.turn, len(chunk.frame)))
    kept: dict[int, int] = {}  # new chunk's place -> the old chunk id it reuses
    for row_id in rows:
        # Only a frame of the same stream, turn and length can be the same: only those
        # are read (a length is in the row's header, the frame may be pages away).
        for chunk_id, role, tool, turn, size in index.execute(
            "SELECT id, role, tool, turn, length(frame) FROM text_chunks WHERE session_row = ? ORDER BY id", (row_id,)
        ).fetchall():
            if (role, tool, turn, size) not in sizes:
                continue
            frame = index.execute("SELECT frame FROM text_chunks WHERE id = ?", (chunk_id,)).fetchone()[0]
            places = wanted.get((role, tool, turn, bytes(frame)))
            if places:
                kept[places.pop(0)] = chunk_id
        if kept:
            index.execute(
                f"UPDATE text_chunks SET session_row = ? WHERE session_row = ? AND id IN ({','.join('?' * len(kept))})",
                (entry.row_id, row_id, *kept.values()),
            )
        if row_id != entry.row_id:
            remove(index, row_id)
        else:
            _remove_chunks(index, row_id, exclude=set(kept.values()))
    _churned(index, len(prepared.chunks) - len(kept))
    for i, chunk in enumerate(prepared.chunks):
        if i in kept:
            continue
        cur = index.execute(
            "INSERT INTO text_chunks (session_row, role, tool, turn, frame) VALUES (?, ?, ?, ?, ?)",
            (entry.row_id, chunk.role, chunk.tool, chunk.turn, chunk.frame),
        )
        index.execute("INSERT INTO fts_text (rowid, body) VALUES (?, ?)", (cur.lastrowid, chunk.body))
    index.execute("UPDATE sessions SET text_sha256 = ? WHERE id = ?", (prepared.digest or "-", entry.row_id))
    return old


def remove(index: Database, row_id: int | None) -> None:
    """Take a row's text out (inside the caller's transaction), reading its frames."""
    _remove_chunks(index, row_id)
    index.execute("UPDATE sessions SET text_sha256 = NULL WHERE id = ?", (row_id,))


def _remove_chunks(index: Database, row_id: int | None, exclude: set[int] | frozenset[int] = frozenset()) -> None:
    """Delete a row's chunks but ``exclude`` from ``text_chunks`` and FTS5 (the bodies
    derived from their frames)."""
    rows = index.execute("SELECT id, frame FROM text_chunks WHERE session_row = ?", (row_id,)).fetchall()
    _churned(index, len(rows) - len(exclude))
    gone = []
    for chunk_id, frame in rows:
        if chunk_id in exclude:
            continue
        gone.append(chunk_id)
        try:
            text = fulltext.body(fulltext.decompress(frame))
        except fulltext.FrameError as exc:  # its FTS5 row stays, joined to no chunk: never found
            log.warning("the indexed text of row %s has a damaged frame (%s); left out", row_id, exc)
            continue
        index.execute("INSERT INTO fts_text (fts_text, rowid, body) VALUES ('delete', ?, ?)", (chunk_id, text))
    if not exclude:
        index.execute("DELETE FROM text_chunks WHERE session_row = ?", (row_id,))
        return
    for i in range(0, len(gone), 500):
        part = gone[i : i + 500]
        index.execute(f"DELETE FROM text_chunks WHERE id IN ({','.join('?' * len(part))})", part)


def clear(index: Database) -> None:
    """Empty the full-text tables (reindex rebuilds them)."""
    index.execute("INSERT INTO fts_text (fts_text) VALUES ('delete-all')")
    index.execute("DELETE FROM text_chunks")
    index.execute("UPDATE sessions SET text_sha256 = NULL")


def settle(index: Database) -> None:
    """After a sweep or a batch: merge the FTS5 segments into one ('optimize': smaller and
    faster to query) if what changed since the last merge is ``OPTIMIZE_SHARE`` of the
    chunks, then, in a file created with incremental auto-vacuum, give the free pages back
    once they are a tenth of it. Its own transaction."""
    churn = _CHURN.get(index, 0)
    if churn and churn >= OPTIMIZE_SHARE * index.query("SELECT COUNT(*) FROM text_chunks")[0][0]:
        with index.transaction():
            index.execute("INSERT INTO fts_text (fts_text) VALUES ('optimize')")
        _CHURN[index] = 0
    pages = index.query("PRAGMA page_count")[0][0]
    free = index.query("PRAGMA freelist_count")[0][0]
    if free and free >= FREE_SHARE * pages and index.query("PRAGMA auto_vacuum")[0][0] == 2:
        index.free_pages()


def frames(index: Database, chunk_ids: Iterable[int]) -> dict[int, tuple[int, str, str, bytes]]:
    """{chunk id: (turn, role, tool, frame)} of the given chunks."""
    ids = list(chunk_ids)
    out: dict[int, tuple[int, str, str, bytes]] = {}
    for i in range(0, len(ids), 500):
        part = ids[i : i + 500]
        rows = index.query(
            f"SELECT id, turn, role, tool, frame FROM text_chunks WHERE id IN ({','.join('?' * len(part))})", part
        )
        out.update({r[0]: (r[1], r[2], r[3], r[4]) for r in rows})
    return out


def session_chunks(
    index: Database, row_ids: Iterable[int], roles: list[str] | None = None, tool: str | None = None
) -> list[tuple[int, int]]:
    """(session row, chunk id) of every chunk of the given sessions, in the given role
    streams and tool (for a scan: a regex without a literal part)."""
    where, params = chunk_filter("c", roles, tool)
    ids = list(row_ids)
    out: list[tuple[int, int]] = []
    for i in range(0, len(ids), 500):
        part = ids[i : i + 500]
        out.extend(
            (r[0], r[1])
            for r in index.query(
                f"SELECT c.session_row, c.id FROM text_chunks c WHERE c.session_row IN ({','.join('?' * len(part))})"
                f"{where} ORDER BY c.session_row, c.id",
                [*part, *params],
            )
        )
    return out


def chunk_filter(alias: str, roles: list[str] | None, tool: str | None) -> tuple[str, list[str]]:
    """`` AND ...`` restricting chunks to role streams and a tool's name (case-insensitive)."""
    sql, params = "", []
    if roles:
        sql += f" AND {alias}.role IN ({','.join('?' * len(roles))})"
        params.extend(roles)
    if tool:
        sql += f" AND {alias}.tool = ? COLLATE NOCASE"
        params.append(tool)
    return sql, params


# What is read once per index while it is unchanged (a browser searching as one types, a
# long-lived process): {index: {what: (its version, the value)}}, gone with the index.
_KEPT: weakref.WeakKeyDictionary[Database, dict[str, tuple[tuple[int, int], Any]]] = weakref.WeakKeyDictionary()
MAP_CHUNKS = 200_000  # chunks up to which their sessions and streams are kept in memory


def _kept(index: Database, what: str, read: Callable[[sqlite3.Connection], Any]) -> Any:
    with index._lock:
        key = (index.db.total_changes, index.db.execute("PRAGMA data_version").fetchone()[0])
        kept = _KEPT.setdefault(index, {})
        cached = kept.get(what)
        if cached is None or cached[0] != key:
            try:
                kept[what] = cached = (key, read(index.db))
            except sqlite3.DatabaseError as exc:
                if type(exc) is sqlite3.DatabaseError:  # a damaged file (``db.is_corruption``)
                    raise index.unreadable(exc) from exc
                raise
    return cached[1]


def kept(index: Database, what: str, read: Callable[[], Any]) -> Any:
    """A value of ``read()`` kept under ``what`` while the index is unchanged (a new one
    after any write, by this or another connection)."""
    return _kept(index, what, lambda db: read())


def chunk_streams(index: Database) -> dict[int, tuple[int, str, str]] | None:
    """{chunk id: (session row, role, tool)} of every chunk, kept while the index is
    unchanged (a match then reads FTS5 alone: a join to ``text_chunks`` per matching chunk
    cost 8x the match); None past ``MAP_CHUNKS`` chunks (the memory it would take)."""

    def read(db: sqlite3.Connection) -> dict[int, tuple[int, str, str]] | None:
        if db.execute("SELECT COUNT(*) FROM text_chunks").fetchone()[0] > MAP_CHUNKS:
            return None
        return {r[0]: (r[1], r[2], r[3]) for r in db.execute("SELECT id, session_row, role, tool FROM text_chunks")}

    result: dict[int, tuple[int, str, str]] | None = _kept(index, "chunks", read)
    return result


def chunk_rows(index: Database) -> dict[int, int] | None:
    """{chunk id: session row} of every chunk (``chunk_streams`` without the streams: a
    common word's chunks are mapped to their sessions in C), kept while the index is
    unchanged; None past ``MAP_CHUNKS`` chunks."""

    def read(db: sqlite3.Connection) -> dict[int, int] | None:
        streams = chunk_streams(index)
        return None if streams is None else {c: v[0] for c, v in streams.items()}

    result: dict[int, int] | None = _kept(index, "chunk rows", read)
    return result


def live_activity(index: Database, where: str, latest_live: str) -> dict[int, float] | None:
    """{row: last activity} of every session row passing ``where`` (no parameters) that
    is its session's newest live version, kept while the index is unchanged (a search
    then tells the rows it may show without a statement: the ``IN`` list of every
    matching session cost as much as the match); None past ``MAP_CHUNKS`` rows."""

    def read(db: sqlite3.Connection) -> dict[int, float] | None:
        if db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] > MAP_CHUNKS:
            return None
        rows = db.execute(f"SELECT s.id, s.last_activity_at FROM sessions s WHERE {where} AND {latest_live}")
        return {r[0]: r[1] for r in rows}

    result: dict[int, float] | None = _kept(index, f"live {where}", read)
    return result


def chunk_total(index: Database) -> int:
    """How many chunks the index holds (kept while it is unchanged)."""
    total: int = _kept(index, "chunk total", lambda db: db.execute("SELECT COUNT(*) FROM text_chunks").fetchone()[0])
    return total


def vocabulary(index: Database, contains: str | None = None, prefix: str | None = None) -> list[str]:
    """The index's terms (sorted): all, those holding the substring ``contains`` or those
    starting with ``prefix`` (both case-folded as the tokenizer folds). Reading them walks
    every term's document list (fts5vocab): kept while the index is unchanged."""
    terms: list[str] = _kept(index, "terms", lambda db: [r[0] for r in db.execute("SELECT term FROM fts_terms")])
    if prefix is not None:
        lo = bisect.bisect_left(terms, prefix)
        hi = bisect.bisect_left(terms, prefix + "\U0010ffff")
        return terms[lo:hi]
    if contains is not None:
        return [t for t in terms if contains in t]
    return terms
