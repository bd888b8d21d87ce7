"""Full-text index: SQLite FTS5, contentless, so the archive stays the only copy of the
content and the index stays small.

Two tables, both keyed by ``sessions.id`` and holding only the newest version of a session:

- ``fts_text`` (unicode61 tokenizer, diacritics folded): words, phrases, prefixes,
  AND/OR/NOT, ranked with bm25.
- ``fts_ident`` (trigram tokenizer, no positions) over the identifier-like tokens of the
  text only (``getUserById``, ``src/app/api``, ``snake_case``), deduplicated: substring
  search where word search would miss, at a fraction of the size of a trigram index of
  everything.

Contentless tables cannot return text, so snippets are cut from the text re-derived from
the archive of each hit shown. Deleting from a contentless table needs the exact indexed
text: it is re-derived from the archive and checked against ``sessions.text_sha256``
first; when it cannot be (a missing archive), the stale rows stay invisible (searches join
``sessions``) until ``reindex``.
"""

from __future__ import annotations

import hashlib
import logging
import re
import sqlite3
from typing import TYPE_CHECKING

from ..redact import redact
from .rows import entry_from_row

if TYPE_CHECKING:
    from ..model import ArchiveEntry
    from .db import Database

Prepared = tuple[str, str, str]  # (indexed body: redacted text + CJK grams, identifiers, its sha256)

log = logging.getLogger(__name__)

# Regexes that look for the special characters directly backtrack quadratically over long
# runs of plain words, so candidates are found by splitting first.
_TOKEN = re.compile(r"[\w./:~-]{3,}")
_SPECIAL = re.compile(r"[/_.:~-]|[a-z][A-Z]")
_NOT_IDENT = re.compile(r"[0-9a-fA-F-]+|[\d:.,TZ+/~-]+")  # hex, uuids, numbers, dates, times
MAX_IDENTS = 20000
# Longer "identifiers" are base64 blobs, minified code or hashes: nobody searches a
# substring of them, and their trigrams would dominate the index.
MAX_IDENT_LENGTH = 128
MAX_CHUNK_LENGTH = 512  # a longer run without white space is a blob, not prose or code
_BLOB = re.compile(rf"(?<!\S)\S{{{MAX_CHUNK_LENGTH},}}")  # anchored: no retries mid-run


# Chinese and Japanese (Han, kana) and Korean (Hangul) are written without spaces, so the
# word tokenizer makes a whole run one token and a word inside it could not be found. Each
# distinct run is also indexed as its characters and its overlapping character pairs: a
# one-character term is a character, a longer one the phrase of its pairs. (U+30FB, the
# katakana middle dot, is punctuation to the tokenizer and ends a run.)
_CJK = re.compile(
    "[\u3040-\u309f\u30a0-\u30fa\u30fc-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f]+"
)


def has_cjk(text: str) -> bool:
    return _CJK.search(text) is not None


def cjk_grams(text: str) -> str:
    """For each distinct CJK run of ``text``: a line of its characters, then a line of
    its overlapping pairs (``最新版`` gives ``最 新 版`` and ``最新 新版``)."""
    lines: list[str] = []
    for run in dict.fromkeys(_CJK.findall(text)):
        lines.append(" ".join(run))
        if len(run) > 1:
            lines.append(" ".join(run[i : i + 2] for i in range(len(run) - 1)))
    return "\n".join(lines)


def cjk_query(word: str) -> str:
    """The FTS5 expression finding ``word`` (a run of word characters holding CJK) through
    the character and pair tokens of ``cjk_grams``. A word mixing scripts (``python教程``)
    matches as written or as its CJK phrases and other parts, wherever spaces fell."""

    def phrase(run: str) -> str:
        grams = run if len(run) == 1 else " ".join(run[i : i + 2] for i in range(len(run) - 1))
        return '"' + grams + '"'

    runs = _CJK.findall(word)
    if _CJK.fullmatch(word):
        return phrase(word)
    others = [p for p in _CJK.split(word) if p]
    parts = [phrase(r) for r in runs] + ['"' + p.replace('"', '""') + '"' for p in others]
    return '("' + word.replace('"', '""') + '" OR (' + " AND ".join(parts) + "))"


def create_tables(db: sqlite3.Connection) -> None:
    db.execute("CREATE VIRTUAL TABLE fts_text USING fts5(body, content='', tokenize='unicode61 remove_diacritics 2')")
    # detail=none keeps no positions: a substring query is an AND of its trigrams, whose
    # rare false positives are dropped when the hit's text is read for its snippet. It is
    # about a ninth of the size of the positional table.
    db.execute("CREATE VIRTUAL TABLE fts_ident USING fts5(body, content='', tokenize='trigram', detail='none')")


def identifiers(text: str) -> str:
    """The distinct identifier-like tokens of ``text`` (paths, camelCase, snake_case,
    dotted.names, kebab-case), one per line, in first-seen order."""
    out: dict[str, None] = {}
    # str.split and dict dedupe run in C; the regexes only see distinct candidate chunks.
    for chunk in dict.fromkeys(text.split()):
        if len(chunk) > MAX_CHUNK_LENGTH or not _SPECIAL.search(chunk):
            continue
        for tok in _TOKEN.findall(chunk):
            # "name:" is a plain word (already in the word index); ids, hashes, times and
            # version numbers are found as words too and would only bloat this table.
            tok = tok.strip(".-:/~")
            if 3 <= len(tok) <= MAX_IDENT_LENGTH and _SPECIAL.search(tok) and not _NOT_IDENT.fullmatch(tok):
                out[tok] = None
        if len(out) >= MAX_IDENTS:
            break
    return "\n".join(out)


def prepare(text: str) -> Prepared:
    """(redacted text with its CJK grams, identifiers, sha256 of that body): exactly what
    is indexed."""
    # Runs of 512+ characters without white space are blobs (base64 images, minified
    # code, encrypted reasoning): nobody searches them, and they dominate indexing time.
    clean = _BLOB.sub(" ", redact(text or ""))
    idents = identifiers(clean)
    grams = cjk_grams(clean)
    if grams:  # the hash covers exactly the indexed body, so a delete can be checked
        clean = clean + "\n" + grams
    return clean, idents, hashlib.sha256(clean.encode("utf-8", "replace")).hexdigest()


def add(index: Database, entry: ArchiveEntry, prepared: Prepared) -> list[tuple[ArchiveEntry, str | None]]:
    """Index ``prepared`` for ``entry`` (inside the caller's transaction). Only the newest
    version of a session is searchable: returns the older versions whose text is still
    indexed, with the sha256 it was indexed with, for the caller to ``remove``."""
    clean, idents, digest = prepared
    previous = index.execute(
        "SELECT * FROM sessions WHERE session_id = ? AND version < ? AND text_sha256 IS NOT NULL ORDER BY version DESC",
        (entry.session_id, entry.version),
    ).fetchall()
    index.execute("INSERT INTO fts_text (rowid, body) VALUES (?, ?)", (entry.row_id, clean))
    if idents:
        index.execute("INSERT INTO fts_ident (rowid, body) VALUES (?, ?)", (entry.row_id, idents))
    index.execute("UPDATE sessions SET text_sha256 = ? WHERE id = ?", (digest, entry.row_id))
    return [(entry_from_row(r), r["text_sha256"]) for r in previous]


def remove(index: Database, row_id: int | None, prepared: Prepared, expected_sha: str | None) -> bool:
    """Delete a row's entries given the prepared text it was indexed from. Refuses (False)
    if it does not hash to ``expected_sha``: a wrong delete corrupts FTS5."""
    clean, idents, digest = prepared
    if expected_sha is None or digest != expected_sha:
        return False
    index.execute("INSERT INTO fts_text (fts_text, rowid, body) VALUES ('delete', ?, ?)", (row_id, clean))
    if idents:
        index.execute("INSERT INTO fts_ident (fts_ident, rowid, body) VALUES ('delete', ?, ?)", (row_id, idents))
    index.execute("UPDATE sessions SET text_sha256 = NULL WHERE id = ?", (row_id,))
    return True


def clear(index: Database) -> None:
    """Empty both tables (reindex rebuilds them)."""
    index.execute("INSERT INTO fts_text (fts_text) VALUES ('delete-all')")
    index.execute("INSERT INTO fts_ident (fts_ident) VALUES ('delete-all')")
    index.execute("UPDATE sessions SET text_sha256 = NULL")


def trigram_query(needle: str) -> str | None:
    """An FTS5 query matching rows holding every trigram of ``needle`` (case-folded as
    the trigram tokenizer folds), or None if it is shorter than three characters."""
    folded = needle.lower()
    grams = sorted({folded[i : i + 3] for i in range(len(folded) - 2)})
    if not grams:
        return None
    return " AND ".join('"' + g.replace('"', '""') + '"' for g in grams)
