"""What a search returns: hits with their snippets, cut from the index's frames."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from ..ansi import printable
from ..index.fulltext import MARK
from ..index.query import TextSearch, char_start, folded_pattern
from ..model import ArchiveEntry

IDENTISH = re.compile(r"[/._:-]|[a-z][A-Z]")
SNIPPET_WIDTH = 160  # characters a snippet shows, a third of them before the match
# Bytes either side of a match that are decoded to cut a snippet: enough for its
# characters in any script (up to 4 bytes each).
SNIPPET_BEFORE, SNIPPET_AFTER = 4 * (SNIPPET_WIDTH // 3 + 1), 4 * (SNIPPET_WIDTH + 1)


@dataclass
class SearchHit:
    entry: ArchiveEntry
    # Relevance, lower is better: the inverse chunk frequency of each term, summed (more
    # for a session whose chunks hold it often); None for metadata-only matches.
    score: float | None = None
    snippet: str | None = None
    highlights: list[tuple[int, int]] = field(default_factory=list)  # spans in snippet
    matched: str = "metadata"  # "text", "identifier", "regex", "name" or "metadata"
    # Where the snippet is: the index of the turn in the session's conversation (the
    # order of ``Vault.messages``) and the character offset of the match in that turn's
    # searchable text (redacted, controls out: near, not exactly, the shown text's).
    turn: int | None = None
    offset: int | None = None
    role: str | None = None  # the role stream it was found in: user, assistant, tool, other
    tool: str | None = None  # the tool, for a match in a tool's call or result

    def to_dict(self) -> dict[str, Any]:
        e = self.entry
        return {
            "session_id": e.session_id, "version": e.version, "source": e.source, "name": e.name,
            "working_directory": e.working_directory, "last_command": e.last_command,
            "created_at": e.created_at, "last_activity_at": e.last_activity_at,
            "archived_at": e.archived_at, "size_bytes": e.size_bytes,
            "original_size_bytes": e.original_size_bytes, "pinned": e.pinned, "status": e.status,
            "score": self.score, "matched": self.matched, "snippet": self.snippet,
            "turn": self.turn, "offset": self.offset, "role": self.role, "tool": self.tool,
        }  # fmt: skip


class SearchResults(list[SearchHit]):
    """The hits shown (a list, best first) and ``total``: how many sessions match in all,
    for "50 of 212" ("about 212" when ``estimated``)."""

    def __init__(self, hits: list[SearchHit], total: int, estimated: bool = False):
        super().__init__(hits)
        self.total = max(total, len(hits))
        # True when ``total`` counts some sessions at the rate of those checked (a very
        # common phrase: see ``index.query.MAX_CHECKS``), so it is about that many.
        self.estimated = estimated


def cut_snippet(
    ts: TextSearch, hit: SearchHit, chunk: int, terms: list[str], prefer: list[str], match: re.Match[str] | None = None
) -> None:
    """The snippet of ``hit`` from its chunk's frame, with where it is (turn, offset).
    Only the stretch around the match is decoded: the match is found in the frame's
    bytes (or known from the check that found the chunk), the turn marker before it too."""
    turn, role, tool, _ = ts.frames[chunk] if chunk in ts.frames else ts.frame(chunk)
    hit.role, hit.tool = role, tool or None
    if match is not None:  # (a regex over the decoded text)
        text = ts.text(chunk)
        at = len(text[: match.start()].encode("utf-8", "replace"))
    else:
        at = ts.found_at.get(chunk, -1)
        for needles in (prefer, terms):
            if at < 0:
                at = _first(ts, chunk, needles)
    raw = ts.raw(chunk)
    at = max(0, min(at, len(raw)))
    mark = raw.rfind(b"\x1e", 0, at + 1)
    m = MARK_BYTES.match(raw, mark) if mark >= 0 else None
    if m is not None:
        hit.turn, hit.offset = int(m.group(1)), _chars(raw[m.end() : at]) if at > m.end() else 0
    else:
        hit.turn, hit.offset = turn, _chars(raw[:at])
    # The stretch around the match, turn markers blanked (same length: spans stay put).
    start = char_start(raw, at - SNIPPET_BEFORE)
    end = char_start(raw, at + SNIPPET_AFTER)
    before = raw[start:at].decode("utf-8", "replace")
    window = before + raw[at:end].decode("utf-8", "replace")
    plain = MARK.sub(lambda x: " " * len(x.group()), window) if "\x1e" in window else window
    words = [match.group()] if match is not None and not terms else terms
    snippet, spans = make_snippet(plain, words, width=SNIPPET_WIDTH, prefer=prefer, at=len(before))
    if start > 0 and not snippet.startswith("…"):
        snippet, spans = "…" + snippet, [(a + 1, b + 1) for a, b in spans]
    if end < len(raw) and not snippet.endswith("…"):
        snippet += "…"
    hit.snippet, hit.highlights = snippet, spans


MARK_BYTES = re.compile(rb"\x1e(\d+)\x1f")


def _chars(data: bytes) -> int:
    """How many characters ``data`` (whole UTF-8 characters) decodes to."""
    return len(data) if data.isascii() else len(data.decode("utf-8", "replace"))


def _first(ts: TextSearch, chunk: int, needles: list[str]) -> int:
    """The byte offset in a chunk's frame of the first of ``needles`` (-1: none): found
    in its ASCII-folded bytes when it can (a scan of a lower-cased literal, no
    decoding; its first HEAD_BYTES first, folded alone), else in its text,
    case-insensitive."""
    wanted = [n for n in needles if n]
    if not wanted:
        return -1
    pattern = any_term(wanted, folded=True)
    folded = folded_pattern(pattern.pattern)
    if folded is None:
        m = any_term(wanted).search(ts.text(chunk))
        return -1 if m is None else len(ts.text(chunk)[: m.start()].encode("utf-8", "replace"))
    head = ts.folded_head(chunk)
    if all(_PLAIN.fullmatch(w) for w in wanted):  # words: found as literals (a scan that skips ahead)
        return _first_literal(ts, chunk, head, list(dict.fromkeys(w.lower().encode("utf-8") for w in wanted)))
    # (a match ending at the head's end may go on past it: looked for in the whole)
    hit = folded.search(head)
    if hit is None or (hit.end() >= len(head) - 1 and len(head) < len(ts.raw(chunk))):
        hit = folded.search(ts.folded(chunk))
    return -1 if hit is None else hit.start()


_PLAIN = re.compile(r"[^\W_]+")


def _first_literal(ts: TextSearch, chunk: int, head: bytes, literals: list[bytes]) -> int:
    """The first of ``literals`` in a chunk's folded bytes: in its folded head, then in
    stretches after it that double in size, each folded alone (the work grows with
    where the match is, not with the frame)."""
    raw = ts.raw(chunk)
    overlap = max(map(len, literals)) - 1
    data, base = head, 0
    while True:
        best = -1
        for lit in literals:
            i = data.find(lit, 0, len(data) if best < 0 else best + len(lit) - 1)
            if i >= 0:
                best = i
        if best >= 0:
            return base + best
        end = base + len(data)
        if end >= len(raw):
            return -1
        base = max(0, end - overlap)
        data = raw[base : base + 2 * len(data) + overlap].lower()


def any_term(terms: list[str], folded: bool = False) -> re.Pattern[str]:
    """Any of ``terms``, case-insensitive; ``folded``: for lower-cased text (faster)."""
    key = (tuple(terms), folded)
    found = _ANY.get(key)
    if found is None:
        wanted = tuple(sorted({t.lower() if folded else t for t in terms}, key=len, reverse=True))
        if len(_ANY) > 256:
            _ANY.clear()
        found = _ANY[key] = _any_term(wanted, folded)
    return found


_ANY: dict[tuple[tuple[str, ...], bool], re.Pattern[str]] = {}  # (the same terms for every hit of a search)


@lru_cache(maxsize=256)  # (the same terms for every hit of a search)
def _any_term(wanted: tuple[str, ...], folded: bool) -> re.Pattern[str]:
    return re.compile("|".join(_term_pattern(t) for t in wanted), 0 if folded else re.IGNORECASE)


_QUOTED = re.compile(r'"([^"]*)"')
_WORDS = re.compile(r"\w+")


def exact_terms(query: str) -> list[str]:
    """The parts of ``query`` to show as written: its quoted phrases of two or more words
    and its dotted or path-like tokens (``Next.js``, ``src/app/api``), longest first."""
    found = [" ".join(_WORDS.findall(p)) for p in _QUOTED.findall(query)]
    found = [p for p in found if " " in p]
    for tok in _QUOTED.sub(" ", query).split():
        tok = tok.strip("()*")
        if len(_WORDS.findall(tok)) > 1 and IDENTISH.search(tok):
            found.append(tok)
    return sorted(dict.fromkeys(found), key=len, reverse=True)


def _term_pattern(term: str) -> str:
    # A phrase's words may be separated by any run of non-word characters, as the
    # tokenizer saw them; a term as written is matched exactly. Both are whole words at
    # their ends ("the test" is not in "the tests", nor Next.js in next.json); a single
    # word is not (a prefix ``deplo*`` shows in "deploy").
    if " " in term:
        body = r"[\W_]+".join(re.escape(w) for w in term.split())
    elif len(_WORDS.findall(term)) > 1:
        body = re.escape(term)
    else:
        return re.escape(term)
    after = r"(?![^\W_])" if term[-1:].isalnum() else ""
    first = _WORDS.match(term)
    if first is None or not term[:1].isalnum():
        return body + after
    # The word boundary before it checked after its first word (a lookbehind), so the
    # pattern starts with a literal the regex engine scans for.
    word = re.escape(first.group())
    return word + rf"(?<![^\W_]{word})" + body[len(word) :] + after


# What ``printable`` would change beyond white space: controls (but tab and line feed),
# carriage returns and bidirectional overrides. The index's frames hold none (they were
# cleaned when indexed), so a snippet window is rarely passed through it.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_SPACE = re.compile(r"\s")


def _one_line(text: str) -> str:
    """``text`` printable, each white-space character a space."""
    return _SPACE.sub(" ", printable(text, one_line=True) if _UNSAFE.search(text) else text)


def make_snippet(
    text: str,
    terms: list[str],
    width: int = SNIPPET_WIDTH,
    prefer: list[str] | tuple[str, ...] = (),
    at: int | None = None,
) -> tuple[str, list[tuple[int, int]]]:
    """A one-line window of ``text`` around ``at`` or the first ``prefer`` term found (a
    phrase or a term as written, before its words), else the first term found, and the
    spans of every term occurrence inside it (case-insensitive; a phrase's words may be
    apart by punctuation and white space). The window holds no control sequence (the
    spans are of the cleaned window)."""
    if not terms:
        return printable(text[:width], one_line=True), []
    pattern = any_term(terms)
    start = None
    if at is not None:
        start = at
    else:
        for term in prefer:
            m = re.search(_term_pattern(term), text, re.IGNORECASE)
            if m:
                start = m.start()
                break
        if start is None:
            m = pattern.search(text)
            start = m.start() if m else None
    if start is None:
        return printable(text[:width], one_line=True), []
    begin = max(0, start - width // 3)
    end = min(len(text), begin + width)
    window = _one_line(text[begin:end])
    prefix = "…" if begin > 0 else ""
    suffix = "…" if end < len(text) else ""
    lower = window.lower()
    if len(lower) == len(window):  # (a lower-cased window: the pattern without IGNORECASE, faster)
        found = any_term(terms, folded=True).finditer(lower)
    else:
        found = pattern.finditer(window)
    spans = [(x.start() + len(prefix), x.end() + len(prefix)) for x in found]
    return prefix + window + suffix, spans
