"""Every message the browser's widgets and screens exchange.

Worker threads never touch widgets: they post one of these and the handler, on the UI
thread, updates the screen. Messages marked ``bubble=False`` are private to the widget
that started the worker; the others are the public events a host app may handle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.message import Message

from ..index import ArchiveEntry
from ..ops.search import SearchHit
from ..reports import Progress, RestoreResult, SweepReport
from ..sources.base import Message as Turn
from ..state import SessionState

# -- public: posted by ArchiveBrowser, bubble to the host app ------------------------------


class BrowserClosed(Message):
    """The browser was closed (escape or the Close button); it removes itself after."""

    def __init__(self, browser: Any) -> None:
        super().__init__()
        self.browser = browser


class SelectionChanged(Message):
    """The row under the cursor changed; ``entry`` is None when the list is empty.
    ``hit`` is the row's full-text search hit (its snippet and highlights) when the list
    answers a query, for a preview to jump to."""

    def __init__(self, entry: ArchiveEntry | None, hit: SearchHit | None = None) -> None:
        super().__init__()
        self.entry = entry
        self.hit = hit


class SessionRestored(Message):
    """A restore finished; ``state`` is the native session's state (None for other
    kinds, whose files are back on disk but have no SessionState)."""

    def __init__(self, entry: ArchiveEntry, result: RestoreResult, state: SessionState | None) -> None:
        super().__init__()
        self.entry = entry
        self.result = result
        self.state = state


# -- private: worker results --------------------------------------------------------------


@dataclass
class SessionsLoaded(Message, bubble=False):
    generation: int
    hits: list[SearchHit]
    total: int  # how many match in all ("50 of 212")
    estimated: bool = False  # ``total`` is about that many


@dataclass
class SearchFailed(Message, bubble=False):
    generation: int
    error: str


@dataclass
class StatsLoaded(Message, bubble=False):
    stats: dict[str, Any]


@dataclass
class RestoreConflict(Message, bubble=False):
    """A file in the way differs from the archived copy; the widget asks what to do."""

    entry: ArchiveEntry
    error: str


@dataclass
class _SessionFailed(Message, bubble=False):
    """A worker's job on one session failed; ``error`` says why."""

    session_id: str
    error: str


class RestoreFailed(_SessionFailed, bubble=False):
    """Restoring the session failed."""


@dataclass
class PreviewLoaded(Message, bubble=False):
    session_id: str
    entry: ArchiveEntry
    turns: list[Turn]


class PreviewFailed(_SessionFailed, bubble=False):
    """Reading the session for the preview failed."""


@dataclass
class SweepProgressed(Message, bubble=False):
    progress: Progress


@dataclass
class SweepFinished(Message, bubble=False):
    report: SweepReport


@dataclass
class SweepFailed(Message, bubble=False):
    error: str


@dataclass
class ActionDone(Message, bubble=False):
    """An action (export, pin, ...) finished; ``text`` is what to tell the user."""

    action: str
    text: str
    session_id: str = ""
    payload: Any = None


@dataclass
class ActionFailed(Message, bubble=False):
    action: str
    error: str
