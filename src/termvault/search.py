"""Searching the vault: metadata filters, full text (bm25, recency as tie-break),
identifier substrings, and snippets cut from the archives of the hits shown."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import UsageError
from .index import LATEST_LIVE, ArchiveEntry, ArchiveIndex

if TYPE_CHECKING:
    from .vault import Vault

_OPERATORS = {"AND", "OR", "NOT"}
_TOKEN = re.compile(r'"[^"]*"|\(|\)|[^\s()"]+')
_WORD = re.compile(r"\w+", re.UNICODE)
_IDENTISH = re.compile(r"[/._:-]|[a-z][A-Z]")


@dataclass
class SearchHit:
    entry: ArchiveEntry
    score: float | None = None  # bm25 (lower is better); None for metadata-only matches
    snippet: str | None = None
    highlights: list[tuple[int, int]] = field(default_factory=list)  # spans in snippet
    matched: str = "metadata"  # "text", "identifier" or "metadata"

    def to_dict(self) -> dict[str, Any]:
        e = self.entry
        return {
            "session_id": e.session_id, "version": e.version, "source": e.source, "name": e.name,
            "working_directory": e.working_directory, "last_command": e.last_command,
            "created_at": e.created_at, "last_activity_at": e.last_activity_at,
            "archived_at": e.archived_at, "size_bytes": e.size_bytes,
            "original_size_bytes": e.original_size_bytes, "pinned": e.pinned, "status": e.status,
            "score": self.score, "matched": self.matched, "snippet": self.snippet,
        }


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
        out.append('"' + " ".join(words) + '"' + ("*" if prefix else ""))
        expect_operand = False
    while out and (out[-1] in _OPERATORS or out[-1] == "("):
        if out.pop() == "(":
            depth -= 1
    out.extend(")" * depth)
    return " ".join(out), terms


def search(
    vault: Vault,
    query: str | None = None,
    *,
    name: str | None = None,
    working_dir: str | None = None,
    source: str | None = None,
    after: float | None = None,
    before: float | None = None,
    pinned: bool | None = None,
    limit: int = 50,
    snippets: bool = True,
    date_field: str = "last_activity_at",
) -> list[SearchHit]:
    """Newest version of each matching session.

    Without ``query``: metadata filters only, newest activity first. With ``query``:
    full-text match (bm25, then recency) plus identifier substrings, ANDed with the
    filters. Dates filter ``date_field`` (last_activity_at or archived_at).
    """
    if limit <= 0:
        raise UsageError("The result limit must be a positive number.")
    if date_field not in ("last_activity_at", "archived_at"):
        raise UsageError(f"Cannot filter dates on {date_field!r}.")
    index = vault.index
    where, params = ArchiveIndex.filter_sql(
        name, working_dir, after, before, source, pinned, date_column=date_field, alias="s"
    )
    latest = LATEST_LIVE
    if not query or not query.strip():
        # With a substring filter, walking the activity index costs a random row read per
        # session (a second at 100,000); a sequential scan then a sort is ~10x faster.
        # Without one, the index gives the newest rows at once.
        order = "+s.last_activity_at" if (name or working_dir) else "s.last_activity_at"
        rows = index.query(
            f"SELECT s.* FROM sessions s WHERE {where} AND {latest} "
            f"ORDER BY {order} DESC, s.id DESC LIMIT ?",
            [*params, limit],
        )
        return [SearchHit(ArchiveIndex.entry_from_row(r)) for r in rows]

    fts, terms = to_fts_query(query)
    hits: list[SearchHit] = []
    seen: set[int] = set()
    if fts:
        rows = index.query(
            f"SELECT s.*, bm25(fts_text) AS score FROM fts_text JOIN sessions s ON s.id = fts_text.rowid "
            f"WHERE fts_text MATCH ? AND {where} AND {latest} "
            "ORDER BY score, s.last_activity_at DESC LIMIT ?",
            [fts, *params, limit],
        )
        for r in rows:
            seen.add(r["id"])
            hits.append(SearchHit(ArchiveIndex.entry_from_row(r), r["score"], matched="text"))
    needle = re.sub(r"[\x00-\x1f\x7f]", "", query).strip().strip('"')
    if len(hits) < limit and len(needle) >= 3 and " " not in needle and (_IDENTISH.search(needle) or not hits):
        from .fulltext import trigram_query

        trigram = trigram_query(needle)
        rows = [] if trigram is None else index.query(
            f"SELECT s.* FROM fts_ident JOIN sessions s ON s.id = fts_ident.rowid "
            f"WHERE fts_ident MATCH ? AND {where} AND {latest} "
            "ORDER BY s.last_activity_at DESC LIMIT ?",
            [trigram, *params, limit],
        )
        for r in rows:
            if r["id"] not in seen and len(hits) < limit:
                seen.add(r["id"])
                hits.append(SearchHit(ArchiveIndex.entry_from_row(r), None, matched="identifier"))
        if needle not in terms:
            terms.append(needle)
    if snippets:
        for hit in hits:
            _add_snippet(vault, hit, terms)
        # Identifier hits come from trigrams without positions: keep those whose text
        # really holds the substring (the snippet read just checked it).
        hits = [h for h in hits if h.matched != "identifier" or h.highlights or h.snippet is None]
    return hits


def _add_snippet(vault: Vault, hit: SearchHit, terms: list[str], width: int = 160) -> None:
    """Cut a snippet around the first matched term from the archived text (redacted)."""
    from .redact import redact

    try:
        text = redact(vault.searchable_text(hit.entry))
    except Exception:  # a missing or corrupt archive still shows the hit, without snippet
        return
    snippet, spans = make_snippet(text, terms, width)
    hit.snippet, hit.highlights = snippet, spans


def make_snippet(text: str, terms: list[str], width: int = 160) -> tuple[str, list[tuple[int, int]]]:
    """A one-line window of ``text`` around the first term found, and the spans of every
    term occurrence inside it (case-insensitive; prefix terms match word starts)."""
    if not terms:
        return text[:width].replace("\n", " "), []
    pattern = re.compile("|".join(re.escape(t) for t in sorted(set(terms), key=len, reverse=True)), re.IGNORECASE)
    m = pattern.search(text)
    if not m:
        return text[:width].replace("\n", " "), []
    start = max(0, m.start() - width // 3)
    end = min(len(text), start + width)
    window = text[start:end]
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(text) else ""
    window = re.sub(r"\s", " ", window)
    snippet = prefix + window + suffix
    spans = [(x.start() + len(prefix), x.end() + len(prefix)) for x in pattern.finditer(window)]
    return snippet, spans


def parse_when(value: str, now: float | None = None) -> float:
    """``2024-05-01``, ``2024-05-01T10:00``, or an age in the duration grammar of
    ``termvault.durations`` (``12h``, ``7d``, ``3w``, ``2mo``, ``1y``: that long ago), as
    UNIX seconds. Dates without a zone are local time."""
    from datetime import datetime

    from .durations import GRAMMAR, looks_like_duration, parse_duration

    now = time.time() if now is None else now
    s = value.strip()
    if looks_like_duration(s):
        return now - parse_duration(s)
    try:
        dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"{value!r} is not a date: use an ISO date such as 2024-05-01 or an age, {GRAMMAR}."
        ) from None
    return dt.timestamp()
