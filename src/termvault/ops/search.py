"""Searching the vault: metadata filters, full text (bm25, recency as tie-break),
identifier substrings, and snippets cut from the text of the hits shown."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..ansi import printable
from ..errors import UsageError
from ..index import ArchiveIndex
from ..index.query import Filters, count_matches, identifier_matches, listing, text_matches, to_fts_query
from ..model import ArchiveEntry
from ..redact import redact

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
        }  # fmt: skip


class SearchResults(list[SearchHit]):
    """The hits shown (a list, best first) and ``total``: how many sessions match in all,
    for "50 of 212"."""

    def __init__(self, hits: list[SearchHit], total: int):
        super().__init__(hits)
        self.total = max(total, len(hits))


def search(
    index: ArchiveIndex,
    text_of: Callable[[ArchiveEntry], str],
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
) -> SearchResults:
    """Newest version of each matching session.

    Without ``query``: metadata filters only, newest activity first. With ``query``:
    full-text match (bm25, then recency) plus identifier substrings, ANDed with the
    filters. Dates filter ``date_field`` (last_activity_at or archived_at). ``text_of``
    gives a hit's searchable text, for its snippet.
    """
    if limit <= 0:
        raise UsageError("The result limit must be a positive number.")
    if date_field not in ("last_activity_at", "archived_at"):
        raise UsageError(f"Cannot filter dates on {date_field!r}.")
    flt = Filters(
        date_field,
        name=name,
        working_dir=working_dir,
        after_date=after,
        before_date=before,
        source=source,
        pinned=pinned,
    )
    if not query or not query.strip():
        shown = [SearchHit(e) for e in listing(index, flt, limit)]
        return SearchResults(shown, len(shown) if len(shown) < limit else count_matches(index, flt))

    fts, terms = to_fts_query(query)
    hits: list[SearchHit] = []
    seen: set[int | None] = set()
    if fts:
        for entry, score in text_matches(index, fts, flt, limit):
            seen.add(entry.row_id)
            hits.append(SearchHit(entry, score, matched="text"))
    needle = re.sub(r"[\x00-\x1f\x7f]", "", query).strip().strip('"')
    by_ident = len(needle) >= 3 and " " not in needle and (_IDENTISH.search(needle) or not hits)
    if len(hits) < limit and by_ident:
        for entry in identifier_matches(index, needle, flt, limit):
            if entry.row_id not in seen and len(hits) < limit:
                seen.add(entry.row_id)
                hits.append(SearchHit(entry, None, matched="identifier"))
        if needle not in terms:
            terms.append(needle)
    if snippets:
        for hit in hits:
            _add_snippet(text_of, hit, terms)
        # Identifier hits come from trigrams without positions: keep those whose text
        # really holds the substring (the snippet read just checked it).
        hits = [h for h in hits if h.matched != "identifier" or h.highlights or h.snippet is None]
    if len(seen) < limit:  # every candidate was looked at: the hits are all there are
        return SearchResults(hits, len(hits))
    total = count_matches(index, flt, fts or None, needle if by_ident else None)
    return SearchResults(hits, total - (len(seen) - len(hits)))


def _add_snippet(text_of: Callable[[ArchiveEntry], str], hit: SearchHit, terms: list[str], width: int = 160) -> None:
    """Cut a snippet around the first matched term from the archived text (redacted)."""
    try:
        text = redact(text_of(hit.entry))
    except Exception:  # a missing or corrupt archive still shows the hit, without snippet
        return
    hit.snippet, hit.highlights = make_snippet(text, terms, width)


def make_snippet(text: str, terms: list[str], width: int = 160) -> tuple[str, list[tuple[int, int]]]:
    """A one-line window of ``text`` around the first term found, and the spans of every
    term occurrence inside it (case-insensitive; prefix terms match word starts). The
    window holds no control sequence (the spans are of the cleaned window)."""
    if not terms:
        return text[:width].replace("\n", " "), []
    pattern = re.compile("|".join(re.escape(t) for t in sorted(set(terms), key=len, reverse=True)), re.IGNORECASE)
    m = pattern.search(text)
    if not m:
        return text[:width].replace("\n", " "), []
    start = max(0, m.start() - width // 3)
    end = min(len(text), start + width)
    window = re.sub(r"\s", " ", printable(text[start:end], one_line=True))
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(text) else ""
    spans = [(x.start() + len(prefix), x.end() + len(prefix)) for x in pattern.finditer(window)]
    return prefix + window + suffix, spans
