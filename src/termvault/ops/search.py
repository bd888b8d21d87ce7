"""Searching the vault: metadata filters, full text (bm25, then recency), substrings,
regular expressions and typo-tolerant terms, by role stream and tool, with snippets cut
from the index's own compressed frames (no archive is read at query time)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from ..errors import DataError, UsageError
from ..index import ArchiveIndex
from ..index.query import (
    HEAD_BYTES,
    Filters,
    Match,
    TextSearch,
    count_listing,
    entries,
    folded_pattern,
    leaves,
    listing,
    parse_full,
)
from ..model import ArchiveEntry
from . import textsearch
from .hits import SearchHit, SearchResults, any_term, cut_snippet, exact_terms, make_snippet

SEARCH_ROLES = ("user", "assistant", "tool")
RANK_WINDOW = 50  # best sessions re-ranked by how often their chunk holds the terms


def roles_of(role: list[str] | str | None) -> list[str] | None:
    """``--role`` values (repeated or comma-separated) checked: user, assistant, tool."""
    if not role:
        return None
    items = [role] if isinstance(role, str) else list(role)
    out = [r.strip().lower() for item in items for r in item.split(",") if r.strip()]
    bad = [r for r in out if r not in SEARCH_ROLES]
    if bad:
        raise UsageError(f"Unknown role {bad[0]!r}: choose from {', '.join(SEARCH_ROLES)}.")
    return list(dict.fromkeys(out)) or None


def search(
    index: ArchiveIndex,
    text_of: Callable[[ArchiveEntry], str] | None = None,
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
    role: list[str] | str | None = None,
    tool: str | None = None,
    regex: bool = False,
    fuzzy: bool = False,
) -> SearchResults:
    """Newest version of each matching session.

    Without ``query``: metadata filters only, newest activity first (with ``role`` or
    ``tool``: the sessions holding text of those). With ``query``: full-text match (the
    terms' inverse chunk frequencies and their counts in the best chunk, then recency; a
    term as written first), or substrings of words when that finds nothing, ANDed with
    the filters; ``regex``: ``query`` is a Python regular expression over the text and
    names; ``fuzzy``: each word also matches words a small edit away, and names loosely.
    ``role`` keeps text of those speakers only (user, assistant, tool), ``tool`` the
    calls and results of that tool. Dates filter ``date_field``. Snippets come from the
    index's frames; ``text_of`` (a version's text from its archive) serves only a regex
    holding a token the index leaves out.
    """
    if limit <= 0:
        raise UsageError("The result limit must be a positive number.")
    if date_field not in ("last_activity_at", "archived_at"):
        raise UsageError(f"Cannot filter dates on {date_field!r}.")
    flt = Filters(
        date_field, name=name, working_dir=working_dir, after_date=after, before_date=before, source=source,
        pinned=pinned,
    )  # fmt: skip
    roles = roles_of(role)
    tool = tool.strip() if tool and tool.strip() else None
    text = bool(query and query.strip())
    if (text or roles or tool) and not index.has_text_tables():
        raise DataError(
            f"The index {index.index_file} predates this version's full-text format: run "
            "`termvault reindex` once to upgrade it and make the archived sessions searchable."
        )
    if not query or not query.strip():
        if roles or tool:
            return _holding(index, flt, roles, tool, limit)
        shown = [SearchHit(e) for e in listing(index, flt, limit)]
        return SearchResults(shown, len(shown) if len(shown) < limit else count_listing(index, flt))
    ts = TextSearch(index, flt, roles, tool)
    ts.need = limit
    if regex:
        return textsearch.regex_search(ts, query, limit, snippets, text_of)
    tree, terms, dangling_not = parse_full(query)
    if dangling_not:
        raise UsageError(
            f"NOT in {query!r} has no word before it to take its term from: `deploy NOT docker` finds "
            "sessions with deploy and without docker; a search for sessions without a word alone is not supported."
        )
    name_rows: list[int] = []
    if fuzzy:
        textsearch.expand_fuzzy(ts, tree)
        terms += [w for leaf in leaves(tree) for alts in leaf.alternatives for w in alts if w not in terms]
        name_rows = textsearch.fuzzy_names(ts, query)
    found = ts.run(tree) if tree is not None else {}
    allowed = ts.allowed(found)
    found = {r: m for r, m in found.items() if r in allowed}
    extra: dict[int, tuple[Match, str]] = {}
    needle = re.sub(r"[\x00-\x1f\x7f]", "", query).strip().strip('"')
    # A substring of a word (``UserById`` in ``getUserById``) when the words found nothing:
    # it reads the whole vocabulary, so only then.
    if len(needle) >= 3 and " " not in needle and not found:
        sub = textsearch.substring(ts, needle)
        extra.update({r: (m, "identifier") for r, m in sub.items() if r not in found})
        if needle not in terms:
            terms.append(needle)
    for r in name_rows:
        if r not in found and r not in extra:
            extra[r] = (Match(0.0, -1), "name")
    exact = exact_terms(query)
    order = _ranked(ts, found, terms, exact)
    picked = order[:limit] + sorted(extra, key=lambda r: -ts.activity.get(r, 0.0))[: max(0, limit - len(order))]
    rows = entries(index, picked)
    hits: list[SearchHit] = []
    for r in picked:
        m, how = (found[r], "text") if r in found else extra[r]
        hit = SearchHit(rows[r], m.score if how != "name" else None, matched=how)
        if snippets and m.chunk >= 0:
            cut_snippet(ts, hit, m.chunk, exact + terms, exact)
        hits.append(hit)
    return SearchResults(hits, len(found) + len(extra) + ts.estimate, estimated=ts.estimate > 0)


def _ranked(ts: TextSearch, found: dict[int, Match], terms: list[str], exact: list[str]) -> list[int]:
    """Rows best first: bm25 summed over the terms (then recency); among the best
    ``RANK_WINDOW``, a term as written first, then weighed by how often the best chunk
    holds the terms (the index keeps no positions, so bm25 alone cannot count them)."""
    order = sorted(found, key=lambda r: (found[r].score, -ts.activity.get(r, 0.0)))
    window, rest = order[:RANK_WINDOW], order[RANK_WINDOW:]
    if not window or not terms:
        return order
    # Counted in the frames' ASCII-folded bytes (no decoding, no regex scan), in their
    # first HEAD_BYTES (``bytes.count`` reads about 1 GB/s: 60-110 us for a whole 64K
    # frame, as much as decompressing it): an approximate count is enough for a weight.
    # A term as written or a phrase is counted through its words.
    needles = [t.lower().encode("utf-8") for t in dict.fromkeys(terms) if t and t not in exact]
    needles = needles or [t.lower().encode("utf-8") for t in dict.fromkeys(terms) if t]
    written = _written(ts, exact)
    ts.load(found[r].chunk for r in window)

    def key(r: int) -> tuple[bool, float, float]:
        head = ts.folded_head(found[r].chunk)
        occurrences = max(1, sum(head.count(n, 0, HEAD_BYTES) for n in needles))
        as_written = written is not None and written(found[r].chunk)
        return (not as_written, found[r].score * (1 + math.log(occurrences)), -ts.activity.get(r, 0.0))

    return sorted(window, key=key) + rest


def _written(ts: TextSearch, exact: list[str]) -> Callable[[int], bool] | None:
    """Whether a chunk holds one of ``exact`` as written (in its ASCII-folded bytes when
    it can: no decoding)."""
    if not exact:
        return None
    pattern = any_term(exact, folded=True)
    folded = folded_pattern(pattern.pattern)
    if folded is not None:
        # (where a phrase check found its match, the term as written is usually there)
        return lambda chunk: (
            (ts.found_at.get(chunk, -1) >= 0 and folded.match(ts.folded(chunk), ts.found_at[chunk]) is not None)
            or folded.search(ts.folded(chunk)) is not None
        )
    return lambda chunk: pattern.search(ts.lower(chunk)) is not None


def _holding(index: ArchiveIndex, flt: Filters, roles: list[str] | None, tool: str | None, limit: int) -> SearchResults:
    ts = TextSearch(index, flt, roles, tool)
    rows = ts.allowed(index.rows_with_text(roles, tool))
    order = sorted(rows, key=lambda r: -ts.activity.get(r, 0.0))
    found = entries(index, order[:limit])
    return SearchResults([SearchHit(found[r]) for r in order[:limit]], len(rows))


__all__ = ["SearchHit", "SearchResults", "cut_snippet", "exact_terms", "make_snippet", "roles_of", "search"]
