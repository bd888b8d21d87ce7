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
    exact = exact_terms(query)
    if snippets:
        for hit in hits:
            _add_snippet(text_of, hit, exact + terms, exact)
        # Identifier hits come from trigrams without positions: keep those whose text
        # really holds the substring (the snippet read just checked it).
        hits = [h for h in hits if h.matched != "identifier" or h.highlights or h.snippet is None]
        if exact:
            # A term as written (a phrase, ``Next.js``) ranks above hits holding only its
            # parts (``js`` of ``package.json``); bm25 order is kept otherwise.
            hits.sort(key=lambda h: not _holds_exact(h, exact))
    if len(seen) < limit:  # every candidate was looked at: the hits are all there are
        return SearchResults(hits, len(hits))
    total = count_matches(index, flt, fts or None, needle if by_ident else None)
    return SearchResults(hits, total - (len(seen) - len(hits)))


def _add_snippet(
    text_of: Callable[[ArchiveEntry], str], hit: SearchHit, terms: list[str], prefer: list[str], width: int = 160
) -> None:
    """Cut a snippet around the first matched term from the archived text, redacting only
    the stretch around it (a session's text is up to 4 MiB; redacting it whole for every
    hit shown made a search's cost grow with the sessions' sizes)."""
    try:
        text = _around_match(text_of(hit.entry), prefer, terms)
    except Exception:  # a missing or corrupt archive still shows the hit, without snippet
        return
    hit.snippet, hit.highlights = make_snippet(redact(text), terms, width, prefer)


SNIPPET_SCOPE = 32 * 1024  # characters around the first match that are redacted and cut


def _around_match(text: str, *needle_sets: list[str]) -> str:
    """The ``SNIPPET_SCOPE`` characters of ``text`` centred on the first match of the
    first needle set that matches (case-insensitive; the terms to show as written come
    first, as ``make_snippet`` prefers them), or its start: wide enough that a secret near
    the match is recognised whole before the snippet is cut from it."""
    m = None
    for needles in needle_sets:
        wanted = sorted({n for n in needles if n}, key=len, reverse=True)
        if wanted and (m := re.search("|".join(re.escape(n) for n in wanted), text, re.IGNORECASE)):
            break
    start = 0 if m is None else max(0, m.start() - SNIPPET_SCOPE // 2)
    return text[start : start + SNIPPET_SCOPE]


_QUOTED = re.compile(r'"([^"]*)"')
_WORDS = re.compile(r"\w+")


def exact_terms(query: str) -> list[str]:
    """The parts of ``query`` to show as written: its quoted phrases of two or more words
    and its dotted or path-like tokens (``Next.js``, ``src/app/api``), longest first."""
    found = [" ".join(_WORDS.findall(p)) for p in _QUOTED.findall(query)]
    found = [p for p in found if " " in p]
    for tok in _QUOTED.sub(" ", query).split():
        tok = tok.strip("()*")
        if len(_WORDS.findall(tok)) > 1 and _IDENTISH.search(tok):
            found.append(tok)
    return sorted(dict.fromkeys(found), key=len, reverse=True)


def _term_pattern(term: str) -> str:
    # A phrase's words may be separated by any run of non-word characters, as the
    # tokenizer saw them; a term as written is matched exactly.
    if " " in term:
        return r"\W+".join(re.escape(w) for w in term.split())
    return re.escape(term)


def _holds_exact(hit: SearchHit, exact: list[str]) -> bool:
    snippet = hit.snippet or ""
    return any(re.search(_term_pattern(t), snippet, re.IGNORECASE) for t in exact)


def make_snippet(
    text: str, terms: list[str], width: int = 160, prefer: list[str] | tuple[str, ...] = ()
) -> tuple[str, list[tuple[int, int]]]:
    """A one-line window of ``text`` around the first ``prefer`` term found (a phrase or a
    term as written, before its words), else the first term found, and the spans of every
    term occurrence inside it (case-insensitive; a phrase's words may be apart by
    punctuation and white space). The window holds no control sequence (the spans are of
    the cleaned window)."""
    if not terms:
        return text[:width].replace("\n", " "), []
    ordered = list(dict.fromkeys(terms))
    pattern = re.compile("|".join(_term_pattern(t) for t in sorted(ordered, key=len, reverse=True)), re.IGNORECASE)
    m = None
    for term in prefer:
        m = re.search(_term_pattern(term), text, re.IGNORECASE)
        if m:
            break
    m = m or pattern.search(text)
    if not m:
        return text[:width].replace("\n", " "), []
    start = max(0, m.start() - width // 3)
    end = min(len(text), start + width)
    window = re.sub(r"\s", " ", printable(text[start:end], one_line=True))
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(text) else ""
    spans = [(x.start() + len(prefix), x.end() + len(prefix)) for x in pattern.finditer(window)]
    return prefix + window + suffix, spans
