"""Search statements: metadata listings and full-text matches over the newest live
version of every session.

A query (words, "phrases", ``prefix*``, AND/OR/NOT, parentheses) is parsed into a tree
whose leaves are FTS5 expressions over chunks (``textindex``); a session matches a leaf
when one of its chunks does, and the tree is evaluated over sessions, so the words of
``deploy AND postgres`` may sit in different chunks of a session. A leaf that FTS5 without
positions cannot decide alone (a phrase, a CJK word, a term as written, a substring) is
checked in the frames of its candidate chunks, best first, one frame per session that
holds it.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import Any

from ..model import ArchiveEntry
from . import framecache, fulltext, textindex
from .db import LATEST_LIVE, Database, is_corruption
from .framecache import FrameCache
from .rows import entry_from_row, filter_sql

_OPERATORS = {"AND", "OR", "NOT"}
_TOKEN = re.compile(r'"[^"]*"|\(|\)|[^\s()"]+')
_WORD = re.compile(r"[^\W_]+")  # a token as the tokenizer cuts them (``_`` separates)
MAX_EXPANSION = 300  # vocabulary terms a substring or fuzzy term may stand for
MAX_CHECKS = 200  # frames one leaf reads at least to check a phrase, a CJK word, a substring
HEAD_BYTES = 16 * 1024  # of a frame folded alone, for a term's count or a snippet's first match
LOAD_BATCH = 32  # sessions whose first candidate frames are read from the table at once


class Check:
    """What a chunk's text must hold for a leaf FTS5 cannot decide alone, searched in
    the lower-cased text: a pattern that starts with a literal (so the regex engine skips
    ahead to it), the word boundary before it checked by hand."""

    def __init__(self, pattern: str, word_start: bool = False):
        self.pattern = re.compile(pattern)
        self.word_start = word_start
        # The pattern over the frame's bytes with ASCII letters lower-cased, when the
        # pattern's letters have no case outside ASCII: it matches wherever the pattern
        # matches the text (a non-ASCII character is a non-word byte there, so it may
        # match more), so a frame it does not match is passed over before it is decoded
        # and lower-cased (most candidates: FTS5 knows the words, not their order).
        self.folded = folded_pattern(pattern)

    def holds(self, raw: bytes, folded: bytes, lower: Callable[[], str]) -> bool:
        return self.at(raw, folded, lower) is not None

    def at(self, raw: bytes, folded: bytes, lower: Callable[[], str]) -> int | None:
        """Where a frame's text (``raw`` bytes, ``folded`` with ASCII letters lower-cased,
        ``lower``: its lower-cased text) matches: the byte offset in ``raw`` of the first
        match found in the bytes, -1 for a match found in the text, None for none. Most
        candidates are told by the bytes alone; a match there is confirmed in the text
        around it (a character either side), and only when that does not confirm it is
        the whole text decoded."""
        if self.folded is None:
            return -1 if self.found(lower()) else None
        m = self.folded.search(folded)
        if m is None:
            return None
        a, b = char_start(raw, m.start() - 1), char_start(raw, m.end() + 1)
        piece = raw[a:b].decode("utf-8", "replace").lower()
        for x in self.pattern.finditer(piece):
            if (x.start() == 0 and a > 0) or (x.end() == len(piece) and b < len(raw)):
                continue  # its boundary is outside the piece
            if not self.word_start or x.start() == 0 or not piece[x.start() - 1].isalnum():
                return m.start()
        return -1 if self.found(lower()) else None

    def found(self, lower: str) -> bool:
        for m in self.pattern.finditer(lower):
            if not self.word_start or m.start() == 0 or not lower[m.start() - 1].isalnum():
                return True
        return False

    def search(self, text: str) -> bool:
        return self.found(text.lower())


def char_start(raw: bytes, i: int) -> int:
    """``i`` (clamped to ``raw``) moved back to the start of the UTF-8 character it is in."""
    i = min(max(0, i), len(raw))
    while 0 < i < len(raw) and raw[i] & 0xC0 == 0x80:
        i -= 1
    return i


@lru_cache(maxsize=256)
def folded_pattern(pattern: str) -> re.Pattern[bytes] | None:
    """``pattern`` (for lower-cased text) over UTF-8 bytes with ASCII letters lower-cased
    (``bytes.lower``: no decoding), when none of its letters has a case outside ASCII. It
    matches where ``pattern`` matches the text, and may match more: a non-ASCII character
    is non-word bytes to it."""
    if all(c.isascii() or c.lower() == c.upper() for c in pattern):
        return re.compile(pattern.encode("utf-8"))
    return None


@dataclass
class Leaf:
    """One term of a query: the FTS5 tokens a chunk must hold, and the pattern its text
    must match when the tokens alone do not decide (a phrase, CJK, a term as written)."""

    tokens: list[str]
    prefix: bool = False
    check: Check | None = None
    alternatives: list[list[str]] = field(default_factory=list)  # substring / fuzzy expansions

    def fts(self) -> str | None:
        def q(t: str) -> str:
            return '"' + t.replace('"', '""') + '"'

        parts = [q(t) for t in self.tokens]
        if self.prefix and parts:
            parts[-1] += "*"
        for alts in self.alternatives:
            if not alts:
                return None
            parts.append("(" + " OR ".join(q(a) for a in alts) + ")")
        return " AND ".join(parts) or None


@dataclass
class Node:
    op: str  # AND, OR, NOT (left NOT right)
    children: list[Node | Leaf]


Tree = Node | Leaf


def phrase_check(words: list[str]) -> Check:
    """Words in order, apart only by non-word characters (as the tokenizer saw them)."""
    return Check(r"[\W_]+".join(re.escape(w.lower()) for w in words) + r"(?![^\W_])", word_start=True)


def _leaf(tok: str) -> tuple[Leaf | None, list[str]]:
    quoted = tok.startswith('"')
    prefix = tok.endswith("*") and not quoted
    text = tok[1:-1] if quoted else tok.rstrip("*")
    words = _WORD.findall(text)
    if not words:
        return None, []
    if any(fulltext.has_cjk(w) for w in words):
        tokens = [t for w in words for t in (fulltext.cjk_terms(w) if fulltext.has_cjk(w) else [w])]
        if len(tokens) == 1:  # a character or a pair: a token of its own, nothing to check
            return Leaf(tokens), words
        return Leaf(
            list(dict.fromkeys(tokens)),
            check=Check(r"[\W_]*".join(re.escape(w.lower()) for w in words)),
        ), words
    if len(words) == 1:
        return Leaf(words, prefix), words
    check = phrase_check(words) if not prefix else None
    return Leaf(words, prefix, check), words


def parse(query: str) -> tuple[Tree | None, list[str]]:
    """The query's tree and the plain terms it holds (``parse_full`` without its flag)."""
    tree, terms, _ = parse_full(query)
    return tree, terms


def parse_full(query: str) -> tuple[Tree | None, list[str], bool]:
    """The query's tree, the plain terms it holds, and whether a NOT in it had nothing
    before it to take its term from (``NOT docker``, ``a OR NOT b``: the term is then
    searched for, not left out). Anything a user types parses: odd tokens
    (``src/app/api``, ``C++``) are phrases of their words, stray operators and parentheses
    are dropped."""
    toks = _TOKEN.findall(query)
    pos = 0
    terms: list[str] = []
    dangling = False

    def peek() -> str | None:
        return toks[pos] if pos < len(toks) else None

    def primary() -> Tree | None:
        nonlocal pos, dangling
        negated = False  # a NOT skipped here had nothing before it
        while pos < len(toks):
            tok = toks[pos]
            pos += 1
            negated |= tok == "NOT"
            if tok == "(":
                inner = expr()
                if peek() == ")":
                    pos += 1
                if inner is not None:
                    return inner
                continue
            if tok == ")" or tok in _OPERATORS:
                continue
            leaf, words = _leaf(tok)
            if leaf is not None:
                terms.extend(words)
                dangling |= negated
                return leaf
        return None

    def unary() -> Tree | None:
        nonlocal pos
        left = primary()
        while peek() == "NOT":
            pos += 1
            right = primary()
            if right is not None:
                left = Node("NOT", [left, right]) if left is not None else None
        return left

    def conj() -> Tree | None:
        nonlocal pos, dangling
        items = [unary()]
        while (tok := peek()) is not None and tok not in (")", "OR"):
            pos += tok in ("AND", "NOT")
            if tok == "NOT":  # "a NOT b", "a AND NOT b": b must not be there
                right = unary()
                if items[-1] is not None and right is not None:
                    items[-1] = Node("NOT", [items[-1], right])
                elif items[-1] is None:
                    items[-1] = right  # nothing to take it from: the term itself
                    dangling |= right is not None
            elif tok != "AND":
                items.append(unary())
        kept = [i for i in items if i is not None]
        return None if not kept else kept[0] if len(kept) == 1 else Node("AND", kept)

    def expr() -> Tree | None:
        nonlocal pos
        items = [conj()]
        while peek() == "OR":
            pos += 1
            items.append(conj())
        kept = [i for i in items if i is not None]
        return None if not kept else kept[0] if len(kept) == 1 else Node("OR", kept)

    tree = None
    while pos < len(toks):  # a stray ")" ends expr(): go on after it, ANDed
        part = expr()
        if part is not None:
            tree = part if tree is None else Node("AND", [tree, part])
        if peek() == ")":
            pos += 1
    return tree, terms, dangling


def leaves(tree: Tree | None) -> Iterable[Leaf]:
    if isinstance(tree, Leaf):
        yield tree
    elif tree is not None:
        for c in tree.children:
            yield from leaves(c)


def substring_leaf(index: Database, needle: str) -> Leaf | None:
    """A leaf for ``needle`` anywhere in a word (``UserById`` in ``getUserById``,
    ``app/api/rout``): its first word may end a token, its last start one, the rest are
    whole tokens; the frame then confirms the substring as typed."""
    words = [w.lower() for w in _WORD.findall(needle)]
    if not words or len(needle) < 3:
        return None
    first = textindex.vocabulary(index, contains=words[0])
    if len(words) == 1:
        leaf = Leaf([], alternatives=[first[:MAX_EXPANSION]])
    else:
        last = textindex.vocabulary(index, prefix=words[-1])
        leaf = Leaf(words[1:-1], alternatives=[first[:MAX_EXPANSION], last[:MAX_EXPANSION]])
    leaf.check = Check(re.escape(needle.lower()))
    return leaf


@dataclass(slots=True)
class Match:
    """A session's match: its score (bm25 summed over the query's terms, lower is
    better) and its best chunk (for the snippet)."""

    score: float
    chunk: int
    verified: bool = False


class TextSearch:
    """One full-text search: leaves run as FTS5 statements restricted to role streams
    and a tool, the tree evaluated over sessions, checks read frames (cached)."""

    def __init__(self, index: Database, flt: Filters, roles: list[str] | None = None, tool: str | None = None):
        self.index, self.flt, self.roles, self.tool = index, flt, roles, tool
        self.frames: dict[int, tuple[int, str, str, bytes]] = {}
        self._raw: dict[int, bytes] = {}
        self._folded: dict[int, bytes] = {}
        self._heads: dict[int, bytes] = {}  # the first HEAD_BYTES of a frame, folded
        self._texts: dict[int, str] = {}
        self._lower: dict[int, str] = {}
        self._allowed: dict[int, bool] = {}
        self.activity: dict[int, float] = {}
        self._chunks: int | None = None
        self._live: dict[int, float] | None = None  # every row it may show (no filter values)
        self.estimate = 0  # sessions counted, not checked, when a check ran out of budget
        self.found_at: dict[int, int] = {}  # chunk: byte offset of a checked leaf's match (-1: not known)
        self.need = 50  # sessions a checked leaf finds before it may estimate the rest (the page)
        self._cache: FrameCache | None = (
            textindex.kept(index, "frames", FrameCache) if framecache.FRAME_CACHE_BYTES else None
        )

    def raw(self, chunk: int) -> bytes:
        if chunk not in self._raw and not self._cached(chunk):
            if chunk not in self.frames:
                self.frames.update(textindex.frames(self.index, [chunk]))
            try:
                self._raw[chunk] = fulltext.decompress_bytes(self.frames[chunk][3]) if chunk in self.frames else b""
            except fulltext.FrameError:  # a damaged frame: no text (reindex rebuilds it)
                self._raw[chunk] = b""
            if self._cache is not None and chunk in self.frames:
                self._cache.put(chunk, self.frames[chunk][:3], self._raw[chunk])
        return self._raw[chunk]

    def folded(self, chunk: int) -> bytes:
        """The chunk's text as bytes, ASCII letters lower-cased (fast: no decoding)."""
        if chunk not in self._folded:
            self._folded[chunk] = self.raw(chunk).lower()
            if self._cache is not None:
                self._cache.put_folded(chunk, self._folded[chunk])
        return self._folded[chunk]

    def _cached(self, chunk: int) -> bool:
        """Whether the index's frame cache held the chunk (now in this search's maps)."""
        found = self._cache.get(chunk) if self._cache is not None else None
        if found is None:
            return False
        meta, raw, folded = found
        self.frames[chunk] = (*meta, b"")
        self._raw[chunk] = raw
        if folded is not None:
            self._folded[chunk] = folded
        return True

    def folded_head(self, chunk: int, size: int = HEAD_BYTES) -> bytes:
        """At least the first ``size`` bytes of ``folded(chunk)`` (only they are folded
        when the whole is not yet: a term's count, a snippet's first match)."""
        if chunk not in self._folded and chunk not in self._raw:
            self._cached(chunk)  # (the frame cache may hold it folded)
        whole = self._folded.get(chunk)
        if whole is not None:
            return whole
        head = self._heads.get(chunk)
        if head is None or len(head) < size:
            head = self._heads[chunk] = self.raw(chunk)[:size].lower()
        return head

    def text(self, chunk: int) -> str:
        if chunk not in self._texts:
            self._texts[chunk] = self.raw(chunk).decode("utf-8", "replace")
        return self._texts[chunk]

    def lower(self, chunk: int) -> str:
        if chunk not in self._lower:
            self._lower[chunk] = self.text(chunk).lower()
        return self._lower[chunk]

    def frame(self, chunk: int) -> tuple[int, str, str, bytes]:
        """(turn, role, tool, frame) of a chunk."""
        self.load([chunk])
        return self.frames.get(chunk, (0, "", "", b""))

    def load(self, chunks: Iterable[int]) -> None:
        missing = [c for c in chunks if c not in self.frames and not self._cached(c)]
        if missing:
            self.frames.update(textindex.frames(self.index, missing))

    def allowed(self, rows: Iterable[int]) -> set[int]:
        """The rows among ``rows`` that are the newest live version and pass the filters."""
        if self._live is None and not self.flt.params:  # (filters with values vary: asked each time)
            self._live = textindex.live_activity(self.index, self.flt.where, LATEST_LIVE) or {}
            if self._live:
                self.activity = self._live  # (read only)
        if self._live:
            live = self._live
            return {r for r in rows if r in live}
        todo = [r for r in rows if r not in self._allowed]
        if todo:
            found = self.index.query(
                "SELECT s.id, s.last_activity_at FROM sessions s WHERE s.id IN (SELECT value FROM json_each(?)) "
                f"AND {self.flt.where} AND {LATEST_LIVE}",
                [json.dumps(todo), *self.flt.params],
            )
            self.activity.update({r[0]: r[1] for r in found})
            self._allowed.update({r: r in self.activity for r in todo})
        return {r for r in rows if self._allowed[r]}

    def leaf(self, leaf: Leaf, within: set[int] | None, exact: bool = False) -> dict[int, Match]:
        fts = leaf.fts()
        if fts is None:
            return {}
        rows, ids = self.matching(fts)
        count = len(ids)
        # FTS5 without positions gives bm25 no term counts (it scores 0): a leaf weighs
        # its inverse chunk frequency, more for a session with several chunks holding it
        # (and ``search`` counts the terms in the best chunk of the best sessions).
        idf = math.log(1 + (self.chunk_count() - count + 0.5) / (count + 0.5))
        log = math.log
        if leaf.check is None:  # (counted in C: a common word matches thousands of chunks)
            counts = Counter(rows)
            first = dict(zip(reversed(rows), reversed(ids), strict=True))
            if within is not None:
                return {r: Match(-idf * (1 + log(k)), first[r]) for r, k in counts.items() if r in within}
            return {r: Match(-idf * (1 + log(k)), first[r]) for r, k in counts.items()}
        per: dict[int, list[int]] = {}
        for row, chunk in zip(rows, ids, strict=True):
            if within is None or row in within:
                per.setdefault(row, []).append(chunk)
        # Sessions in rank order (the most candidate chunks first, then the newest). The
        # frames are read until the page is full (``need`` sessions hold the leaf as
        # written) and at least MAX_CHECKS frames are read: a term as written that only
        # late candidates hold is still found. Past that the rest is counted at the rate
        # the checked sessions held it (``estimate``), so a common phrase costs a bounded
        # time. ``exact`` (the right side of NOT) checks every candidate.
        keep = self.allowed(per)
        activity = self.activity
        order = sorted(keep, key=lambda r: (-len(per[r]), -activity.get(r, 0.0)))
        out: dict[int, Match] = {}
        checked = 0
        for n, row in enumerate(order):
            if not exact and checked >= MAX_CHECKS and len(out) >= self.need:
                self.estimate += expected_holders(len(out), checked, [len(per[r]) for r in order[n:]])
                break
            if n % LOAD_BATCH == 0:  # the first candidate of the next sessions, in one read
                self.load(per[r][0] for r in order[n : n + LOAD_BATCH])
            chunks = per[row]
            for i, chunk in enumerate(chunks):
                if i == 1 and chunk not in self.frames:  # a first candidate did not hold it:
                    # the other candidates of this and the next sessions, in one read
                    self.load(c for r in order[n : n + LOAD_BATCH] for c in per[r][1:])
                checked += 1
                at = leaf.check.at(self.raw(chunk), self.folded(chunk), partial(self.lower, chunk))
                if at is not None:
                    out[row] = Match(-idf * (1 + log(len(chunks))), chunk, True)
                    self.found_at[chunk] = at
                    break
        return out

    def matching(self, fts: str) -> tuple[list[int], list[int]]:
        """The chunks FTS5 matches in the streams asked for, in id order: their session
        rows and their ids (two lists)."""
        if not self.roles and not self.tool:
            rows_of = textindex.chunk_rows(self.index)
            if rows_of is not None:
                chunk_ids = match_ids(self.index, fts)
                of = list(map(rows_of.get, chunk_ids))
                if None in of:  # an FTS5 row a damaged frame left behind (else: no None in it)
                    kept = [(r, c) for r, c in zip(of, chunk_ids, strict=True) if r is not None]
                    return [r for r, _ in kept], [c for _, c in kept]
                return of, chunk_ids  # type: ignore[return-value]
        streams = textindex.chunk_streams(self.index)
        if streams is None:
            where, params = textindex.chunk_filter("c", self.roles, self.tool)
            pairs = self.index.query(
                f"SELECT c.session_row, c.id FROM fts_text JOIN text_chunks c ON c.id = fts_text.rowid "
                f"WHERE fts_text MATCH ?{where} ORDER BY c.id",
                [fts, *params],
            )
            return [p[0] for p in pairs], [p[1] for p in pairs]
        tool = self.tool.lower() if self.tool else None
        rows: list[int] = []
        ids: list[int] = []
        for chunk in match_ids(self.index, fts):
            found = streams.get(chunk)  # (none: an FTS5 row a damaged frame left behind)
            if (
                found is not None
                and (not self.roles or found[1] in self.roles)
                and (tool is None or found[2].lower() == tool)
            ):
                rows.append(found[0])
                ids.append(chunk)
        return rows, ids

    def run(self, tree: Tree, within: set[int] | None = None, exact: bool = False) -> dict[int, Match]:
        if isinstance(tree, Leaf):
            return self.leaf(tree, within, exact)
        if tree.op == "AND":
            # Leaves FTS5 decides first: the ones checked in frames see fewer sessions.
            ordered = sorted(tree.children, key=lambda c: not (isinstance(c, Leaf) and c.check is None))
            acc: dict[int, Match] | None = None
            for child in ordered:
                got = self.run(child, within, exact)
                acc = got if acc is None else {r: _join(acc[r], got[r]) for r in acc if r in got}
                within = set(acc)
                if not acc:
                    break
            return acc or {}
        if tree.op == "OR":
            acc = {}
            for child in tree.children:
                for r, m in self.run(child, within, exact).items():
                    acc[r] = _join(acc[r], m) if r in acc else m
            return acc
        left = self.run(tree.children[0], within, exact)
        right = self.run(tree.children[1], set(left), exact=True) if left else {}
        return {r: m for r, m in left.items() if r not in right}

    def chunk_count(self) -> int:
        if self._chunks is None:
            self._chunks = textindex.chunk_total(self.index)
        return self._chunks

    def vocabulary(self) -> list[str]:
        return textindex.vocabulary(self.index)

    def chunks_of(self, rows: list[int]) -> Iterable[tuple[int, int, str]]:
        """(row, chunk, text) of every chunk of ``rows`` in the role streams and tool
        asked for, the rows in the order given, a batch of frames in memory at a time."""
        for i in range(0, len(rows), 200):
            part = rows[i : i + 200]
            rank = {r: n for n, r in enumerate(part)}
            pairs = sorted(textindex.session_chunks(self.index, part, self.roles, self.tool), key=lambda p: rank[p[0]])
            batch = textindex.frames(self.index, [c for _, c in pairs])
            for row, chunk in pairs:
                try:
                    text = fulltext.decompress(batch[chunk][3])
                except fulltext.FrameError:
                    continue
                yield row, chunk, text


def match_ids(index: Database, fts: str) -> list[int]:
    """The ids of the chunks FTS5 matches (plain tuples: no ``sqlite3.Row`` per id)."""
    with index._lock:
        cur = index.db.cursor()
        cur.row_factory = None
        try:
            return [r[0] for r in cur.execute("SELECT rowid FROM fts_text WHERE fts_text MATCH ?", (fts,))]
        except sqlite3.DatabaseError as exc:
            if is_corruption(exc):
                raise index.unreadable(exc) from exc
            raise
        finally:
            cur.close()


def expected_holders(held: int, checked: int, candidates: list[int]) -> int:
    """How many of the sessions not checked, with ``candidates`` chunks each, are expected
    to hold a leaf that ``held`` sessions held in ``checked`` chunks: a chunk holds it at
    the rate the checked chunks did (a session's chunks are checked until one holds it,
    so held/checked is that rate's estimate), a session of k candidates with
    1 - (1 - rate)^k. (The rate per session of those checked counted too many: they are
    the sessions with the most candidates.)"""
    rate = min(1.0, held / max(1, checked))
    return round(sum(1 - (1 - rate) ** k for k in candidates))


def _join(a: Match, b: Match) -> Match:
    best = a if (a.verified, -a.score) >= (b.verified, -b.score) else b
    return Match(a.score + b.score, best.chunk, a.verified or b.verified)


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


def count_listing(index: Database, flt: Filters) -> int:
    rows = index.query(f"SELECT COUNT(*) FROM sessions s WHERE {flt.where} AND {LATEST_LIVE}", flt.params)
    return int(rows[0][0])


def entries(index: Database, rows: Iterable[int]) -> dict[int, ArchiveEntry]:
    """{row id: entry} of the given rows. The entries read are kept while the index is
    unchanged (a browser searching as one types shows the same sessions again); each
    call gets copies of its own."""
    wanted = list(rows)
    kept: dict[int, ArchiveEntry] = textindex.kept(index, "entries", dict)
    missing = [r for r in wanted if r not in kept]
    if missing:
        found = index.query(
            "SELECT s.* FROM sessions s WHERE s.id IN (SELECT value FROM json_each(?))", [json.dumps(missing)]
        )
        if len(kept) + len(found) > KEPT_ENTRIES:
            kept.clear()
        kept.update((r["id"], entry_from_row(r)) for r in found)
    return {r: _copy(kept[r]) for r in wanted if r in kept}


KEPT_ENTRIES = 10_000


def _copy(entry: ArchiveEntry) -> ArchiveEntry:
    out = object.__new__(ArchiveEntry)
    out.__dict__.update(entry.__dict__)
    out.meta = dict(entry.meta)
    return out


def matching_names(index: Database, flt: Filters, accept: Callable[[str], bool]) -> list[int]:
    """Rows (newest live, filtered) whose name ``accept`` takes (regex or fuzzy)."""
    rows = index.query(f"SELECT s.id, s.name FROM sessions s WHERE {flt.where} AND {LATEST_LIVE}", flt.params)
    return [r[0] for r in rows if r[1] and accept(r[1])]


def all_text_rows(index: Database, flt: Filters) -> list[int]:
    """Rows (newest live, filtered) that have text, newest activity first."""
    rows = index.query(
        f"SELECT s.id FROM sessions s WHERE s.text_sha256 IS NOT NULL AND {flt.where} AND {LATEST_LIVE} "
        "ORDER BY s.last_activity_at DESC",
        flt.params,
    )
    return [r[0] for r in rows]
