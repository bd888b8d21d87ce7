"""What the browser is asked to show: query text, scope and date range, and the search
that turns them into rows (the same call, with the same arguments, as ``termvault search``). No textual here: ``find_sessions`` runs in a worker thread and
the rest is plain data, so each rule can be tested on its own."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ..durations import parse_when
from ..errors import UsageError
from .formatting import shorten_folder

if TYPE_CHECKING:
    from ..ops.search import SearchResults
    from ..vault import Vault

ALL = "all"
FOLDER = "folder"
SOURCE_PREFIX = "source:"
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# The hits a query shows, best first: the default --limit of ``termvault search``, so the
# browser's list is the command's, hit for hit.
SEARCH_LIMIT = 50


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


def find_sessions(vault: Vault, flt: BrowserFilter, limit: int = 200) -> SearchResults:
    """What ``termvault search`` answers for the same question: the browser's text is
    the query (words, "phrases", prefix*, AND/OR/NOT, identifiers), its scope and date
    range the ``--dir``/``--source``/``--after``/``--before`` filters, and a query's hits
    are ranked and cut as the command ranks them (``SEARCH_LIMIT``, its default
    ``--limit``), each with its snippet. Without text: every session, newest first, at
    most ``limit``. ``total`` says how many match in all. Runs in a worker thread."""
    query = flt.text.strip()
    return vault.search(
        query or None,
        working_dir=flt.working_dir,
        source=flt.source,
        after=flt.after,
        before=flt.before,
        limit=SEARCH_LIMIT if query else limit,
    )


def count_label(shown: int, total: int, estimated: bool = False) -> str:
    """How many are listed: 12 sessions, or 50 of 212 when the list holds only the best
    of them (50 of about 212 when the search counted some at the rate of those checked)."""
    if shown < total:
        return f"{shown} of {'about ' if estimated else ''}{total}"
    return f"{total} session{'s' if total != 1 else ''}"
