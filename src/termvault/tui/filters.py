"""What the browser is asked to show: query text, scope and date range, and the search
that turns them into rows. No textual here: ``find_sessions`` runs in a worker thread and
the rest is plain data, so each rule can be tested on its own."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ..durations import parse_when
from ..errors import UsageError
from ..index import ArchiveEntry
from .formatting import shorten_folder

if TYPE_CHECKING:
    from ..vault import Vault

ALL = "all"
FOLDER = "folder"
SOURCE_PREFIX = "source:"
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PLAIN_WORD = re.compile(r"(?:^|\s)(\w+)$", re.UNICODE)
_IDENTISH = re.compile(r"[/._:-]|[a-z][A-Z]")
_OPERATORS = {"AND", "OR", "NOT"}


@dataclass(frozen=True)
class BrowserFilter:
    """The browser's question. ``scope`` is ``all``, ``folder`` (sessions whose folder is
    ``cwd`` or below it) or ``source:<kind>``; ``after``/``before`` bound last activity."""

    text: str = ""
    scope: str = ALL
    cwd: str = ""
    after: float | None = None
    before: float | None = None

    def with_text(self, text: str) -> BrowserFilter:
        return replace(self, text=text)

    @property
    def source(self) -> str | None:
        return self.scope[len(SOURCE_PREFIX) :] if self.scope.startswith(SOURCE_PREFIX) else None

    @property
    def working_dir(self) -> str | None:
        return self.cwd if self.scope == FOLDER and self.cwd else None


def scopes(kinds: list[str]) -> list[str]:
    """The cycle the filter key walks: all, this folder, then one per source kind."""
    return [ALL, FOLDER, *(SOURCE_PREFIX + k for k in sorted(kinds))]


def next_scope(current: str, kinds: list[str]) -> str:
    cycle = scopes(kinds)
    try:
        return cycle[(cycle.index(current) + 1) % len(cycle)]
    except ValueError:
        return ALL


def scope_label(scope: str, cwd: str, width: int = 30) -> str:
    if scope == FOLDER:
        return f"this folder ({shorten_folder(cwd, width)})"
    if scope.startswith(SOURCE_PREFIX):
        return f"source: {scope[len(SOURCE_PREFIX) :]}"
    return "all sessions"


def parse_range(text: str, now: float) -> tuple[float | None, float | None]:
    """``7d`` (the last 7 days), ``2024-01-01`` (since that day), ``2024-01-01..2024-02-01``
    (both days included), ``..2024-02-01`` or ``2024-01-01..``. Empty means no bound.
    UsageError, with a sentence a user can act on, for anything else."""
    s = text.strip()
    if not s:
        return None, None
    if ".." in s:
        start, _, end = s.partition("..")
        after = parse_when(start, now) if start.strip() else None
        before = _end_of(end.strip(), now) if end.strip() else None
    else:
        after, before = parse_when(s, now), None
    if after is not None and before is not None and after > before:
        raise UsageError(f"The date range {text.strip()!r} ends before it starts.")
    return after, before


def _end_of(value: str, now: float) -> float:
    # A bare day as the end of a range means "up to the end of that day".
    base = parse_when(value, now)
    return base + 86400 - 0.001 if _DATE_ONLY.match(value) else base


def typeahead_query(text: str) -> str:
    """The full-text query for what the user has typed so far: the last word becomes a
    prefix (``deplo`` finds ``deployment``) unless it is an operator, already a prefix,
    quoted, or identifier-like (those are matched as substrings by the search itself)."""
    stripped = text.rstrip()
    if stripped != text or not stripped:
        return stripped
    m = _PLAIN_WORD.search(stripped)
    if not m or m.group(1) in _OPERATORS or _IDENTISH.search(stripped.split()[-1]):
        return stripped
    return stripped + "*"


def find_sessions(vault: Vault, flt: BrowserFilter, limit: int = 200) -> list[ArchiveEntry]:
    """The newest version of every session matching ``flt``, at most ``limit``.

    An empty query lists sessions newest first. Otherwise a session matches when its name
    or its folder contains the query (case-insensitive for names), or when its text
    matches it as a full-text query; name and folder matches come first, newest first,
    then text matches by relevance. Reads the index only; runs in a worker thread.
    """
    common = {"source": flt.source, "after": flt.after, "before": flt.before, "limit": limit}
    query = flt.text.strip()
    if not query:
        return [h.entry for h in vault.search(None, working_dir=flt.working_dir, **common)]

    found: dict[str, ArchiveEntry] = {}

    def keep(entries) -> None:
        for e in entries:
            if len(found) >= limit:
                return
            if flt.working_dir and flt.working_dir not in (e.working_directory or ""):
                continue
            found.setdefault(e.session_id, e)

    by_meta = [h.entry for h in vault.search(None, name=query, working_dir=flt.working_dir, **common)]
    # The index filters one folder substring at a time; "this folder" is applied in keep().
    by_meta += [h.entry for h in vault.search(None, working_dir=query, **common)]
    by_meta.sort(key=lambda e: (e.last_activity_at or 0, e.row_id or 0), reverse=True)
    keep(by_meta)
    keep(h.entry for h in vault.search(typeahead_query(query), working_dir=flt.working_dir, snippets=False, **common))
    return list(found.values())
