"""Answers for an agent reading its own history: search, show, read (paged) and recent.

``SessionReader(vault)`` turns the vault's search results, entries and messages into
plain JSON-ready dicts. A caller may rely on:

- every string in an answer is redacted (``termvault.redact``) and free of escape
  sequences and control characters (newlines and tabs kept); archived bytes are never
  returned, only renderings;
- every answer is bounded: search and recent return at most ``MAX_LIMIT`` rows with
  one-line snippets, the outline at most ``OUTLINE_MAX`` prompts, a page of ``read`` at
  most ``MAX_PAGE_CHARS`` characters, so a long session never floods a context;
- turns are numbered the same way in ``show`` and ``read``: turn N is the N-th user
  prompt and everything after it up to the next prompt; turn 0 is whatever comes before
  the first prompt (system records, a summary), when there is any;
- errors are ``TermvaultError`` sentences naming the session or the bad argument.

The search is the vault's own (``Vault.search``) and the transcript is the vault's own
rendering (``Vault.messages`` through ``termvault.render``); nothing here re-implements
either.
"""

from __future__ import annotations

import itertools
import os
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..ansi import normalize_newlines, strip_ansi
from ..durations import parse_when
from ..errors import UsageError
from ..index.query import parse
from ..ops.search import make_snippet
from ..redact import redact
from ..render import render
from ..sources import available_kinds

if TYPE_CHECKING:
    from ..index import ArchiveEntry
    from ..vault import Vault

MAX_LIMIT = 50
OUTLINE_MAX = 100
PROMPT_CHARS = 160
SNIPPET_CHARS = 240
DEFAULT_PAGE_CHARS = 8000
MAX_PAGE_CHARS = 40000
# A rendered session up to this size is kept between pages, so paging costs one render;
# a larger one is rendered again up to each page asked for.
DOC_CACHE_CHARS = 4_000_000
# Detail levels of ``read``, from least to most: the prompts alone; prompts and replies;
# everything the rendering shows (tool calls, their results cut short, terminal output).
DETAILS: tuple[str, ...] = ("prompts", "conversation", "full")
_RENDER_DETAIL = {"full": "all"}
ROLES: tuple[str, ...] = ("user", "assistant", "tool")
_ROLE_MATCH = {"user": {"user"}, "assistant": {"assistant"}, "tool": {"tool", "tool_result"}}
# What is left after strip_ansi that still does not belong in a model's context.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_BARE_DATE = re.compile(r"^\s*\d{4}-\d{2}-\d{2}\s*$")


# ---------------------------------------------------------------------------------------
# Cleaning and small conversions
# ---------------------------------------------------------------------------------------


def clean(value: Any) -> str:
    """``value`` as text fit to hand to a model: escape sequences and controls removed
    (line breaks kept), secrets redacted."""
    if value is None:
        return ""
    text = normalize_newlines(strip_ansi(str(value)))
    return redact(_CONTROLS.sub("", text))


def _one_line(value: Any, limit: int) -> str:
    text = " ".join(clean(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def iso(ts: float | None) -> str | None:
    """UNIX seconds as ISO-8601 UTC (``2025-03-01T10:00:05Z``), None when unknown."""
    if ts is None:
        return None
    try:
        return datetime.fromtimestamp(float(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError, TypeError):
        return None


def parse_date(value: str | None, end_of_day: bool = False) -> float | None:
    """An ISO date or an age (``7d``, ``3w``, ``2m``) as UNIX seconds; a bare date as an
    upper bound means the end of that day."""
    if value is None or not str(value).strip():
        return None
    ts = parse_when(str(value))
    if end_of_day and _BARE_DATE.match(str(value)):
        ts += 86400 - 0.001
    return ts


def _check_limit(limit: int, most: int = MAX_LIMIT) -> int:
    if not isinstance(limit, int) or limit < 1:
        raise UsageError("The limit must be a positive number.")
    return min(limit, most)


def summary(entry: ArchiveEntry) -> dict[str, Any]:
    """The identifying fields of one archived session."""
    meta = entry.meta or {}
    return {
        "id": entry.session_id,
        "name": _one_line(entry.name, 200),
        "source": entry.source,
        "folder": clean(entry.working_directory) or None,
        "started": iso(entry.created_at),
        "last_activity": iso(entry.last_activity_at),
        "version": entry.version,
        "first_prompt": _one_line(meta.get("first_prompt"), PROMPT_CHARS) or None,
    }


# ---------------------------------------------------------------------------------------
# Turns and rendering
# ---------------------------------------------------------------------------------------


def split_turns(messages: Sequence[Any]) -> list[list[Any]]:
    """Messages grouped into turns: index 0 holds what precedes the first user prompt
    (possibly nothing), index N the N-th prompt and what follows it."""
    turns: list[list[Any]] = [[]]
    for message in messages:
        if getattr(message, "role", None) == "user":
            turns.append([])
        turns[-1].append(message)
    return turns


def render_markdown(messages: Iterable[Any], header: dict[str, Any], detail: str) -> Iterator[str]:
    """The Markdown of ``messages`` at ``detail``, in pieces, redacted: the same renderer
    and detail levels as ``termvault export`` (``full`` is the renderer's ``all``)."""
    return render(messages, "markdown", header, redact_secrets=True, detail=_RENDER_DETAIL.get(detail, detail))


def _page(pieces: Iterable[str], offset: int, size: int) -> tuple[str, bool]:
    """Characters ``offset`` to about ``offset + size`` of the concatenated ``pieces``
    (ending at a line break when one is in the second half), and whether more follow.
    Reads no further than the page needs."""
    buf: list[str] = []
    seen = 0  # characters consumed before buf
    held = 0
    more = False
    for piece in pieces:
        if held >= size + 1:
            more = True
            break
        if seen + len(piece) <= offset:
            seen += len(piece)
            continue
        if seen < offset:
            piece = piece[offset - seen :]
            seen = offset
        buf.append(piece)
        held += len(piece)
    text = "".join(buf)
    if len(text) > size:
        more = True
        cut = text.rfind("\n", size // 2, size)
        text = text[: cut + 1] if cut >= 0 else text[:size]
    return text, more


def _cursor(version: int, offset: int) -> str:
    return f"{version}:{offset}"


def _parse_cursor(cursor: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d+):(\d+)\s*", str(cursor))
    if not m:
        raise UsageError(f"{cursor!r} is not a cursor from read_session; pass next_cursor back unchanged.")
    return int(m.group(1)), int(m.group(2))


# ---------------------------------------------------------------------------------------
# The reader
# ---------------------------------------------------------------------------------------


class SessionReader:
    """Read-only questions about a vault's sessions, answered as bounded, redacted dicts.
    Thread-safe (the vault is); keeps the messages of the last session read so paging
    through it does not decompress it again for every page."""

    def __init__(self, vault: Vault):
        self.vault = vault
        self._lock = threading.Lock()
        self._cached: tuple[str, int, list[Any]] | None = None
        self._document: tuple[tuple[Any, ...], str] | None = None

    # -- helpers --------------------------------------------------------------------------
    def _messages(self, entry: ArchiveEntry) -> list[Any]:
        key = (entry.session_id, entry.version)
        with self._lock:
            if self._cached and self._cached[:2] == key:
                return self._cached[2]
        messages = self.vault.messages(entry.session_id, entry.version)
        with self._lock:
            self._cached = (*key, messages)
        return messages

    def _page_of(self, key: tuple[Any, ...], pieces: Iterator[str], offset: int, size: int) -> tuple[str, bool]:
        """A page of the document ``pieces`` renders, keeping the whole document for the
        next page when it is small enough."""
        with self._lock:
            if self._document and self._document[0] == key:
                return _page([self._document[1]], offset, size)
        held: list[str] = []
        total = 0
        for piece in pieces:
            held.append(piece)
            total += len(piece)
            if total > DOC_CACHE_CHARS:
                return _page(itertools.chain(held, pieces), offset, size)
        document = "".join(held)
        with self._lock:
            self._document = (key, document)
        return _page([document], offset, size)

    def _check_source(self, source: str | None) -> str | None:
        if not source:
            return None
        kinds = available_kinds()
        if source not in kinds:
            raise UsageError(f"Unknown source {source!r}; choose one of {', '.join(kinds)}.")
        return source

    # -- tools ----------------------------------------------------------------------------
    def search(
        self,
        query: str | None = None,
        *,
        source: str | None = None,
        folder: str | None = None,
        name: str | None = None,
        after: str | None = None,
        before: str | None = None,
        role: str | None = None,
        limit: int = 10,
    ) -> dict[str, Any]:
        """Sessions matching ``query`` (words, "phrases", prefix*, AND/OR/NOT) and the
        filters, best match first (newest first without a query). With ``role``, only
        sessions where a message of that role holds every word of the query, with the
        snippet and turn taken from that message."""
        limit = _check_limit(limit)
        if role is not None and role not in ROLES:
            raise UsageError(f"Unknown role {role!r}; choose one of {', '.join(ROLES)}.")
        if role and not (query and query.strip()):
            raise UsageError("A role filter needs a query: the words to look for in that role's messages.")
        wanted = limit if role is None else min(limit * 3, 3 * MAX_LIMIT)
        hits = self.vault.search(
            query or None,
            name=name or None,
            working_dir=folder or None,
            source=self._check_source(source),
            after=parse_date(after),
            before=parse_date(before, end_of_day=True),
            limit=wanted,
        )
        results = []
        for hit in hits:
            row = summary(hit.entry)
            row["matched"] = hit.matched
            row["snippet"] = _one_line(hit.snippet, SNIPPET_CHARS) if hit.snippet else None
            if role is not None:
                found = self._find_in_role(hit.entry, query or "", role)
                if found is None:
                    continue
                row["turn"], row["snippet"] = found
            results.append(row)
            if len(results) >= limit:
                break
        return {"count": len(results), "results": results}

    def _find_in_role(self, entry: ArchiveEntry, query: str, role: str) -> tuple[int, str] | None:
        _, terms = parse(query)
        words = [t.casefold() for t in terms if t.strip()]
        if not words:
            return None
        roles = _ROLE_MATCH[role]
        for n, turn in enumerate(split_turns(self._messages(entry))):
            for message in turn:
                if getattr(message, "role", None) not in roles:
                    continue
                text = clean(getattr(message, "text", "") or "")
                folded = text.casefold()
                if all(w in folded for w in words):
                    snippet, _ = make_snippet(text, words, SNIPPET_CHARS)
                    return n, _one_line(snippet, SNIPPET_CHARS)
        return None

    def show(self, session_id: str, version: int | None = None) -> dict[str, Any]:
        """Metadata of one session and the outline of its prompts, by turn number."""
        vault = self.vault
        entry = vault.get(session_id, version)
        meta = entry.meta or {}
        out = summary(entry)
        out.update(
            archived=iso(entry.archived_at),
            versions=len(vault.index.versions(entry.session_id)),
            git_branch=_one_line(meta.get("git_branch"), 200) or None,
            model=_one_line(meta.get("model"), 200) or None,
            message_count=meta.get("message_count"),
            tool_call_count=meta.get("tool_call_count"),
            size_bytes=entry.original_size_bytes,
            pinned=bool(entry.pinned),
        )
        turns = split_turns(self._messages(entry))
        prompts = [
            {
                "turn": n,
                "time": iso(getattr(turn[0], "timestamp", None)),
                "prompt": _one_line(getattr(turn[0], "text", ""), PROMPT_CHARS),
            }
            for n, turn in enumerate(turns)
            if n
        ]
        out["turns"] = len(turns) - 1
        out["has_preamble"] = bool(turns[0])
        if len(prompts) > OUTLINE_MAX:
            # The start and the end of a long session say the most about it.
            half = OUTLINE_MAX // 2
            out["prompts_omitted"] = len(prompts) - OUTLINE_MAX
            prompts = prompts[:half] + prompts[-half:]
        out["prompts"] = prompts
        return out

    def read(
        self,
        session_id: str,
        *,
        first_turn: int | None = None,
        last_turn: int | None = None,
        detail: str = "conversation",
        cursor: str | None = None,
        max_chars: int = DEFAULT_PAGE_CHARS,
    ) -> dict[str, Any]:
        """One page of the session (or of turns ``first_turn``..``last_turn``) as
        Markdown at ``detail``. ``next_cursor`` fetches the next page; it pins the
        version read, so pages stay consistent if the session is archived again."""
        if detail not in DETAILS:
            raise UsageError(f"Unknown detail {detail!r}; choose one of {', '.join(DETAILS)}.")
        if not isinstance(max_chars, int) or max_chars < 500:
            raise UsageError("max_chars must be at least 500.")
        max_chars = min(max_chars, MAX_PAGE_CHARS)
        version, offset = _parse_cursor(cursor) if cursor else (None, 0)
        entry = self.vault.get(session_id, version)
        turns = split_turns(self._messages(entry))
        last = len(turns) - 1
        lo = 0 if first_turn is None else first_turn
        hi = last if last_turn is None else min(last_turn, last)
        if lo < 0 or lo > last:
            raise UsageError(f"{entry.session_id} has turns 0 to {last}; there is no turn {lo}.")
        if hi < lo:
            raise UsageError(f"last_turn ({hi}) comes before first_turn ({lo}).")
        chosen = [m for turn in turns[lo : hi + 1] for m in turn]
        header = {
            "name": entry.name,
            "session_id": entry.session_id,
            "source": entry.source,
            "working_directory": entry.working_directory,
            "created_at": entry.created_at,
            "last_activity_at": entry.last_activity_at,
        }
        key = (entry.session_id, entry.version, lo, hi, detail)
        text, more = self._page_of(key, render_markdown(chosen, header, detail), offset, max_chars)
        return {
            "id": entry.session_id,
            "version": entry.version,
            "first_turn": lo,
            "last_turn": hi,
            "total_turns": last,
            "detail": detail,
            "offset": offset,
            "markdown": _CONTROLS.sub("", text),
            "next_cursor": _cursor(entry.version, offset + len(text)) if more else None,
        }

    def recent(self, folder: str, *, source: str | None = None, limit: int = 10) -> dict[str, Any]:
        """The sessions recorded in ``folder`` or below it, newest activity first."""
        limit = _check_limit(limit, 100)
        if not folder or not str(folder).strip():
            raise UsageError("Give the project folder (an absolute path) to list its sessions.")
        given = os.path.expanduser(str(folder).strip())
        if not os.path.isabs(given):
            # Relative to what? The server's own folder is wherever the agent started it.
            raise UsageError(f"{clean(folder)!r} is not an absolute path; give the project folder as one.")
        base = os.path.normpath(given)
        # The index filters folders by substring; keep only the folder itself and below.
        hits = self.vault.search(
            None, working_dir=base, source=self._check_source(source), limit=min(limit * 10, 1000), snippets=False
        )
        prefix = base.rstrip("/") + "/"
        rows = [
            summary(h.entry)
            for h in hits
            if h.entry.working_directory == base or h.entry.working_directory.startswith(prefix)
        ]
        return {"folder": clean(base), "count": min(len(rows), limit), "results": rows[:limit]}

    def restore(self, session_id: str, version: int | None = None) -> dict[str, Any]:
        """Put the session's files back where its tool keeps them, verified; never over a
        different existing file (that is refused, nothing is written)."""
        result = self.vault.restore(session_id, version=version)
        return {
            "id": result.session_id,
            "version": result.version,
            "restored": [clean(p) for p in result.restored],
            "already_there": [clean(p) for p in result.unchanged],
        }


__all__ = ["DETAILS", "ROLES", "SessionReader", "clean", "render_markdown", "split_turns"]
