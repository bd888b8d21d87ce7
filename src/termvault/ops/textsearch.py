"""The search forms beyond words: substrings of words, regular expressions and
typo-tolerant (fuzzy) terms, each narrowed through the full-text index where it can and
confirmed in the index's frames."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from re import _constants as sre_constants  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]

from ..errors import UsageError
from ..index import fulltext
from ..index.query import (
    MAX_EXPANSION,
    Leaf,
    Match,
    Node,
    TextSearch,
    Tree,
    all_text_rows,
    entries,
    leaves,
    matching_names,
    substring_leaf,
)
from ..model import ArchiveEntry
from ..redact import redact
from .hits import SearchHit, SearchResults, cut_snippet, make_snippet

log = logging.getLogger(__name__)
REGEX_SECONDS = 10.0  # a regex scanning every frame stops after this, saying so
MIN_LITERAL = 3  # a literal part of a regex this long narrows the candidates through FTS5
FUZZY_NAME_SCORE = 85


def substring(ts: TextSearch, needle: str) -> dict[int, Match]:
    leaf = substring_leaf(ts.index, needle)
    if leaf is None:
        return {}
    found = ts.run(leaf)
    allowed = ts.allowed(found)
    return {r: m for r, m in found.items() if r in allowed}


def expand_fuzzy(ts: TextSearch, tree: Tree | None) -> None:
    """Each word of ``tree`` also matches the index's words a small edit away (one for
    words of 4 to 7 letters, two from 8): ``pytst`` finds ``pytest``. A phrase becomes
    its words near each other in no checked order (the words themselves differ)."""
    from rapidfuzz import process  # (imported when asked for: 18 ms)
    from rapidfuzz.distance import Levenshtein

    words = [leaf for leaf in leaves(tree) if not leaf.prefix and not any(fulltext.has_cjk(t) for t in leaf.tokens)]
    if not words:
        return
    vocabulary = ts.vocabulary()
    for leaf in words:
        for token in leaf.tokens:
            word = token.lower()
            k = 0 if len(word) < 4 else 1 if len(word) < 8 else 2
            close = process.extract(word, vocabulary, scorer=Levenshtein.distance, score_cutoff=k, limit=MAX_EXPANSION)
            leaf.alternatives.append(list(dict.fromkeys([word, *(c[0] for c in close)])))
        leaf.tokens, leaf.check = [], None


def fuzzy_names(ts: TextSearch, query: str) -> list[int]:
    from rapidfuzz import fuzz

    wanted = query.strip().lower()
    return matching_names(ts.index, ts.flt, lambda n: fuzz.partial_ratio(wanted, n.lower()) >= FUZZY_NAME_SCORE)


def compile_regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except (re.error, RecursionError, OverflowError) as exc:
        raise UsageError(f"--regex: {pattern!r} is not a valid regular expression ({exc}).") from exc


def literals(pattern: str) -> list[str]:
    """The literal runs every match of ``pattern`` holds (top level, outside groups,
    alternatives and optional parts), ``MIN_LITERAL`` characters or longer."""
    try:
        parsed = sre_parse.parse(pattern)
    except Exception:
        return []
    if any(op is sre_constants.BRANCH for op, _ in parsed):
        return []
    runs: list[str] = []
    cur: list[str] = []
    for op, av in parsed:
        if op is sre_constants.LITERAL:
            cur.append(chr(av))
            continue
        runs.append("".join(cur))
        cur = []
    runs.append("".join(cur))
    return [r for r in runs if len(r.strip()) >= MIN_LITERAL and re.search(r"\w", r)]


def regex_search(
    ts: TextSearch, pattern: str, limit: int, snippets: bool, text_of: Callable[[ArchiveEntry], str] | None = None
) -> SearchResults:
    """Sessions whose text (or name) ``pattern`` matches, newest activity first. Its
    literal parts narrow the candidates through the index; without one every frame in
    the role streams asked for is scanned, for at most ``REGEX_SECONDS``. A literal the
    index leaves out (a random-looking token) is looked for in the archives themselves,
    through ``text_of``."""
    rx = compile_regex(pattern)
    lits = literals(pattern)
    if text_of is not None and any(fulltext.clean(lit) != lit for lit in lits):
        return _archive_scan(ts, rx, limit, snippets, text_of)
    parts = [leaf for lit in lits if (leaf := substring_leaf(ts.index, lit)) is not None]
    if parts:
        for leaf in parts:
            leaf.check = None  # the regex itself decides, over the whole session
        tree: Tree = parts[0] if len(parts) == 1 else Node("AND", list[Tree | Leaf](parts))
        rows = sorted(ts.allowed(ts.run(tree)), key=lambda r: -ts.activity.get(r, 0.0))
    else:
        rows = all_text_rows(ts.index, ts.flt)
        ts.allowed(rows)  # (their activity, for the order)
    found: dict[int, tuple[int, re.Match[str]]] = {}
    deadline = time.monotonic() + REGEX_SECONDS
    complete = True
    current, done = None, False
    for row, chunk, text in ts.chunks_of(rows):
        if time.monotonic() > deadline:
            complete = False
            break
        if row == current and done:
            continue
        current, done = row, False
        m = rx.search(text)
        if m is not None:
            found[row], done = (chunk, m), True
    if not complete:
        _stopped(rx)
    names = [r for r in matching_names(ts.index, ts.flt, lambda n: rx.search(n) is not None) if r not in found]
    order = sorted(found, key=lambda r: -ts.activity.get(r, 0.0)) + names
    shown = order[:limit]
    rows_of = entries(ts.index, shown)
    hits = []
    for r in shown:
        hit = SearchHit(rows_of[r], matched="regex" if r in found else "name")
        if snippets and r in found:
            chunk, m = found[r]
            cut_snippet(ts, hit, chunk, [], [], match=m)
        hits.append(hit)
    return SearchResults(hits, len(order))


def _stopped(rx: re.Pattern[str]) -> None:
    log.warning(
        "the regular expression %r scanned for %.0f s and stopped: the results are incomplete; "
        "add a literal word to it (or a filter) to narrow it",
        rx.pattern,
        REGEX_SECONDS,
    )


def _archive_scan(
    ts: TextSearch, rx: re.Pattern[str], limit: int, snippets: bool, text_of: Callable[[ArchiveEntry], str]
) -> SearchResults:
    """``rx`` over the text re-derived from the archives (newest activity first, for at
    most ``REGEX_SECONDS``): for what the index leaves out. Snippets are redacted."""
    rows = all_text_rows(ts.index, ts.flt)
    found = entries(ts.index, rows)
    deadline = time.monotonic() + REGEX_SECONDS
    hits = []
    for r in rows:
        if time.monotonic() > deadline:
            _stopped(rx)
            break
        try:
            text = text_of(found[r])
        except Exception:  # a missing or unreadable archive: not a match
            continue
        m = rx.search(text)
        if m is None:
            continue
        hit = SearchHit(found[r], matched="regex")
        if snippets:
            start = max(0, m.start() - 2000)
            window = redact(text[start : m.end() + 2000])
            hit.snippet, hit.highlights = make_snippet(window, [m.group()] if m.group() else [])
        hits.append(hit)
    return SearchResults(hits[:limit], len(hits))
