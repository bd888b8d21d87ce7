"""Search statements: metadata listings, full-text matches (bm25, then recency) and
identifier substrings, each over the newest live version of every session."""

from __future__ import annotations

import re
from typing import Any

from ..model import ArchiveEntry
from .db import LATEST_LIVE, Database
from .fulltext import cjk_query, has_cjk, trigram_query
from .rows import entry_from_row, filter_sql

_OPERATORS = {"AND", "OR", "NOT"}
_TOKEN = re.compile(r'"[^"]*"|\(|\)|[^\s()"]+')
_WORD = re.compile(r"\w+", re.UNICODE)


def to_fts_query(query: str) -> tuple[str, list[str]]:
    """Translate a user query into an FTS5 expression and the plain terms it contains.

    Words and "quoted phrases" are kept, ``deplo*`` stays a prefix, AND/OR/NOT and
    parentheses are operators; anything else a user types (``src/app/api``, ``C++``,
    ``foo:bar``) is quoted so it can never be a syntax error.
    """
    out: list[str] = []
    terms: list[str] = []
    depth = 0
    expect_operand = True
    for tok in _TOKEN.findall(query):
        if tok in _OPERATORS:
            if not expect_operand:
                out.append(tok)
                expect_operand = True
            elif tok == "NOT" and out and out[-1] == "AND":
                out[-1] = "NOT"  # FTS5's NOT is binary: "a AND NOT b" is "a NOT b"
            continue
        if tok == "(":
            if not expect_operand:
                out.append("AND")  # FTS5 wants an explicit operator before a group
            out.append(tok)
            depth += 1
            expect_operand = True
            continue
        if tok == ")":
            if expect_operand and out and out[-1] == "(":
                out.pop()
                depth -= 1
                expect_operand = not out or out[-1] in _OPERATORS or out[-1] == "("
            elif not expect_operand and depth > 0:
                out.append(tok)
                depth -= 1
            continue
        quoted = tok.startswith('"')
        prefix = tok.endswith("*") and not quoted
        body = tok[1:-1] if quoted else tok.rstrip("*")
        words = _WORD.findall(body)
        if not words:
            continue
        terms.extend(words)
        if not expect_operand:
            out.append("AND")
        if any(has_cjk(w) for w in words):
            # CJK words are found through their character pairs, each on its own.
            parts = [cjk_query(w) if has_cjk(w) else '"' + w + '"' for w in words]
            out.append(parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")")
        else:
            out.append('"' + " ".join(words) + '"' + ("*" if prefix else ""))
        expect_operand = False
    while out and (out[-1] in _OPERATORS or out[-1] == "("):
        if out.pop() == "(":
            depth -= 1
    out.extend(")" * depth)
    return " ".join(out), terms


class Filters:
    """The metadata filters of one search, as a WHERE clause over ``sessions s``."""

    def __init__(self, date_field: str = "last_activity_at", **filters: Any):
        self.substring = bool(filters.get("name") or filters.get("working_dir"))
        self.where, self.params = filter_sql(**filters, date_column=date_field, alias="s")


def listing(index: Database, flt: Filters, limit: int) -> list[ArchiveEntry]:
    """Metadata filters only, newest activity first."""
    # With a substring filter, walking the activity index costs a random row read per
    # session (a second at 100,000); a sequential scan then a sort is ~10x faster.
    order = "+s.last_activity_at" if flt.substring else "s.last_activity_at"
    rows = index.query(
        f"SELECT s.* FROM sessions s WHERE {flt.where} AND {LATEST_LIVE} ORDER BY {order} DESC, s.id DESC LIMIT ?",
        [*flt.params, limit],
    )
    return [entry_from_row(r) for r in rows]


def text_matches(index: Database, fts: str, flt: Filters, limit: int) -> list[tuple[ArchiveEntry, float]]:
    """Sessions whose text matches the FTS5 expression ``fts``, best bm25 first."""
    rows = index.query(
        "SELECT s.*, bm25(fts_text) AS score FROM fts_text JOIN sessions s ON s.id = fts_text.rowid "
        f"WHERE fts_text MATCH ? AND {flt.where} AND {LATEST_LIVE} "
        "ORDER BY score, s.last_activity_at DESC LIMIT ?",
        [fts, *flt.params, limit],
    )
    return [(entry_from_row(r), r["score"]) for r in rows]


def identifier_matches(index: Database, needle: str, flt: Filters, limit: int) -> list[ArchiveEntry]:
    """Sessions whose identifiers hold every trigram of ``needle`` (candidates: the
    caller confirms the substring in the text)."""
    trigram = trigram_query(needle)
    if trigram is None:
        return []
    rows = index.query(
        "SELECT s.* FROM fts_ident JOIN sessions s ON s.id = fts_ident.rowid "
        f"WHERE fts_ident MATCH ? AND {flt.where} AND {LATEST_LIVE} "
        "ORDER BY s.last_activity_at DESC LIMIT ?",
        [trigram, *flt.params, limit],
    )
    return [entry_from_row(r) for r in rows]


def count_matches(index: Database, flt: Filters, fts: str | None = None, needle: str | None = None) -> int:
    """How many sessions match in all: the filters alone, or with the text expression
    ``fts`` and/or identifier substring ``needle`` (candidates, as ``identifier_matches``)."""
    found: list[str] = []
    params: list[Any] = []
    if fts:
        found.append("s.id IN (SELECT rowid FROM fts_text WHERE fts_text MATCH ?)")
        params.append(fts)
    trigram = trigram_query(needle) if needle else None
    if trigram:
        found.append("s.id IN (SELECT rowid FROM fts_ident WHERE fts_ident MATCH ?)")
        params.append(trigram)
    if (fts or needle) and not found:
        return 0
    where = f"({' OR '.join(found)}) AND " if found else ""
    rows = index.query(
        f"SELECT COUNT(*) FROM sessions s WHERE {where}{flt.where} AND {LATEST_LIVE}", [*params, *flt.params]
    )
    return int(rows[0][0])
