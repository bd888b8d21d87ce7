"""The preview: one session rendered readably, loaded in a worker thread.

Conversation turns show their role; tool calls and their results are folded to one line
each unless unfolded; terminal output is shown as plain text with escape sequences
removed. Styles use the theme's variables, so the preview follows light and dark themes.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence

from textual import work
from textual.containers import VerticalScroll
from textual.content import Content
from textual.timer import Timer
from textual.widgets import Static

from ..ansi import normalize_newlines, strip_ansi
from ..conversation import describe_tool
from ..errors import TermvaultError
from ..index import ArchiveEntry
from ..sources.base import Message as Turn
from .formatting import display_text, human_size, local_datetime, shorten_folder, truncate
from .messages import PreviewFailed, PreviewLoaded

log = logging.getLogger(__name__)

MAX_PREVIEW_CHARS = 400_000  # beyond this the pager shows the rest
FOLDED_WIDTH = 100
_ROLE_TITLES = {"user": "You", "assistant": "Assistant", "system": "System"}
_FOLDED = ("tool", "tool_result", "thinking", "meta", "subagent")


def render_header(entry: ArchiveEntry) -> Content:
    pin = "  (pinned)" if entry.pinned else ""
    lines: list[Content | str | tuple[str, str]] = [
        (display_text(entry.name or entry.session_id), "bold $primary"),
        (pin, "$warning"),
        "\n",
        (display_text(f"{entry.session_id} · {entry.source} · version {entry.version}"), "$text-muted"),
        "\n",
    ]
    if entry.working_directory:
        lines += [("folder    ", "$text-muted"), shorten_folder(display_text(entry.working_directory), 200), "\n"]
    lines += [
        ("activity  ", "$text-muted"),
        local_datetime(entry.last_activity_at),
        ("   size ", "$text-muted"),
        f"{human_size(entry.original_size_bytes)} → {human_size(entry.size_bytes)}",
        "\n",
    ]
    if entry.last_command:
        lines += [("last      ", "$text-muted"), display_text(entry.last_command, 200), "\n"]
    return Content.assemble(*lines)


def _clean(text: str) -> str:
    return normalize_newlines(strip_ansi(text)).rstrip("\n")


def _first_line(text: str) -> tuple[str, int]:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return (lines[0].strip() if lines else ""), max(0, len(lines) - 1)


def render_turn(turn: Turn, fold_tools: bool = True) -> Content:
    """One turn as styled content (ending with a newline). Turns of a sub-agent run are
    indented under its opening line; thinking, tool calls and results fold to one line
    each unless unfolded; agent scaffolding always folds to one line."""
    depth = min(getattr(turn, "depth", 0) or 0, 6)
    pad = "│ " * depth
    text = _clean(turn.text or "")
    if pad:
        text = "\n".join(pad + line for line in text.split("\n"))
    when = f"  {local_datetime(turn.timestamp)[11:]}" if turn.timestamp else ""
    role = turn.role
    if role in _ROLE_TITLES:
        title = _ROLE_TITLES[role] if not (role == "user" and depth) else "Task"
        if role == "assistant" and turn.name:
            title += f" ({turn.name})"
        if role == "system" and turn.name:
            title += f" ({turn.name})"
        style = {"user": "bold $accent", "assistant": "bold $primary", "system": "bold $text-muted"}[role]
        body_style = "$text-muted" if role == "system" else ""
        return Content.assemble(pad, ("▌ " + title, style), (when, "$text-muted"), "\n", (text, body_style), "\n\n")
    if role == "subagent":
        label = truncate(_clean(turn.name or "sub-agent"), FOLDED_WIDTH)
        return Content.assemble(
            "│ " * max(0, depth - 1), ("┌ sub-agent " + label, "bold $secondary"), (when, "$text-muted"), "\n"
        )
    if role in ("tool", "tool_result", "thinking", "meta"):
        label = turn.name or "tool"
        if role == "tool":
            view = describe_tool(turn.name, (turn.extra or {}).get("input"), turn.text or "")
            head = (pad + "  ▸ " + label + "  ", "bold $secondary")
            summary, body = _clean(view.summary), _clean(view.body)
            if pad:
                body = "\n".join(pad + line for line in body.split("\n"))
        elif role == "tool_result":
            failed = bool((turn.extra or {}).get("error"))
            head = (
                pad + "    ↳ " + (f"{label} " if turn.name else "") + ("error  " if failed else "result  "),
                "$error" if failed else "$text-muted",
            )
            summary, body = _first_line(_clean(turn.text or ""))[0], text
        elif role == "thinking":
            head = (pad + "  ✻ thinking  ", "italic $text-muted")
            summary, body = _first_line(_clean(turn.text or ""))[0], text
        else:
            head = (pad + "  ⋯ " + (turn.name or "scaffolding") + "  ", "$text-muted")
            summary, body = _first_line(_clean(turn.text or ""))[0], text
        if fold_tools or role == "meta":
            more = _first_line(body)[1] if role != "tool" else max(0, len(body.splitlines()) - 1)
            tail = f"  (+{more} lines)" if more else ""
            style = "$text-muted" if role in ("thinking", "meta") else ""
            return Content.assemble(head, (truncate(summary, FOLDED_WIDTH), style), (tail, "$text-muted"), "\n")
        return Content.assemble(head, "\n", (body, "" if role == "tool" else "$text-muted"), "\n")
    if role == "input":
        return Content.assemble(pad, ("$ ", "bold $accent"), (text, "bold"), "\n")
    if role == "marker":
        return Content.assemble(pad, ("── " + truncate(text, FOLDED_WIDTH) + " ──", "italic $secondary"), "\n")
    # output and anything unknown: the terminal's text as it was
    return Content.assemble(text, "\n")


def render_session(entry: ArchiveEntry, turns: Sequence[Turn], fold_tools: bool = True) -> Content:
    """The whole preview: a header, then the turns, cut at MAX_PREVIEW_CHARS."""
    parts: list[Content | str | tuple[str, str]] = [render_header(entry), "\n"]
    size = 0
    previous = ""
    for n, turn in enumerate(turns):
        if previous in _FOLDED and turn.role not in _FOLDED:
            parts.append("\n")  # a run of folded tool lines ends with a gap, like a turn
        previous = turn.role
        piece = render_turn(turn, fold_tools)
        size += len(piece.plain)
        parts.append(piece)
        if size > MAX_PREVIEW_CHARS:
            parts.append(
                (f"… {len(turns) - n - 1} more turns: press o to read it all in the pager\n", "italic $warning")
            )
            break
    if not turns:
        parts.append(("(this session has nothing to show)", "italic $text-muted"))
    return Content.assemble(*parts)


class PreviewCache:
    """The turns of the last few sessions previewed, keyed by (session id, version)."""

    def __init__(self, size: int = 8):
        self._items: OrderedDict[tuple[str, int], list[Turn]] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, entry: ArchiveEntry) -> list[Turn] | None:
        with self._lock:
            key = (entry.session_id, entry.version)
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            return None

    def put(self, entry: ArchiveEntry, turns: list[Turn]) -> None:
        with self._lock:
            self._items[(entry.session_id, entry.version)] = turns
            while len(self._items) > self._size:
                self._items.popitem(last=False)


class PreviewPane(VerticalScroll):
    """A scrollable preview of one session. ``show(entry)`` loads it in a worker thread
    (the last few are cached); ``busy`` is True until what was asked for is shown."""

    DEFAULT_CSS = """
    PreviewPane {
        background: $surface;
        padding: 0 1;
        scrollbar-size-vertical: 1;
    }
    PreviewPane > #preview-body { width: 1fr; }
    """

    def __init__(
        self,
        vault,
        *,
        cache: PreviewCache | None = None,
        delay: float = 0.1,
        fold_tools: bool = True,
        id: str | None = None,
        classes: str | None = None,
    ):
        super().__init__(id=id, classes=classes)
        self.vault = vault
        self.cache = cache or PreviewCache()
        self.delay = delay
        self.fold_tools = fold_tools
        self.entry: ArchiveEntry | None = None
        self.turns: list[Turn] | None = None
        self._wanted: ArchiveEntry | None = None
        self._timer: Timer | None = None
        self.can_focus = True

    def compose(self):
        yield Static(Content.styled("Select a session to preview it.", "italic $text-muted"), id="preview-body")

    @property
    def body(self) -> Static:
        return self.query_one("#preview-body", Static)

    @property
    def busy(self) -> bool:
        return self._wanted is not None

    def show(self, entry: ArchiveEntry | None, immediate: bool = False) -> None:
        """Preview ``entry`` (None clears). Rapid calls (a cursor moving) load only the last."""
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if entry is None:
            self._wanted = None
            self.entry, self.turns = None, None
            self.body.update(Content.styled("No session selected.", "italic $text-muted"))
            return
        if self.entry is not None and self.turns is not None and same_version(self.entry, entry):
            self._wanted = None
            return
        self._wanted = entry
        cached = self.cache.get(entry)
        if cached is not None:
            self._display(entry, cached)
            return
        self.body.update(Content.assemble(render_header(entry), "\n", ("Loading…", "italic $text-muted")))
        if immediate or self.delay <= 0:
            self._load(entry)
        else:
            self._timer = self.set_timer(self.delay, lambda: self._load(entry))

    def set_fold(self, fold_tools: bool) -> None:
        self.fold_tools = fold_tools
        if self.entry is not None and self.turns is not None:
            self.body.update(render_session(self.entry, self.turns, self.fold_tools))

    @work(thread=True, exclusive=True, group="termvault-preview")
    def _load(self, entry: ArchiveEntry) -> None:
        try:
            turns = self.vault.messages(entry.session_id, entry.version)
        except (TermvaultError, OSError) as exc:
            self.post_message(PreviewFailed(entry.session_id, str(exc)))
            return
        except Exception as exc:  # a parser choking on a hostile file must not end the app
            log.exception("cannot preview %s", entry.session_id)
            self.post_message(PreviewFailed(entry.session_id, f"{type(exc).__name__}: {exc}"))
            return
        self.cache.put(entry, turns)
        self.post_message(PreviewLoaded(entry.session_id, entry, turns))

    def on_preview_loaded(self, message: PreviewLoaded) -> None:
        message.stop()
        if self._wanted is not None and same_version(self._wanted, message.entry):
            self._display(message.entry, message.turns)

    def on_preview_failed(self, message: PreviewFailed) -> None:
        message.stop()
        if self._wanted is not None and self._wanted.session_id == message.session_id:
            entry = self._wanted
            self._wanted = None
            self.entry, self.turns = entry, None
            self.body.update(
                Content.assemble(render_header(entry), "\n", ("Cannot show this session: " + message.error, "$error"))
            )
            self.notify(message.error, title="Preview failed", severity="error")

    def _display(self, entry: ArchiveEntry, turns: list[Turn]) -> None:
        self._wanted = None
        self.entry, self.turns = entry, turns
        self.body.update(render_session(entry, turns, self.fold_tools))
        self.scroll_home(animate=False)


def same_version(a: ArchiveEntry, b: ArchiveEntry) -> bool:
    """Same session version, shown the same way (the pin shows in the header)."""
    return a.session_id == b.session_id and a.version == b.version and a.pinned == b.pinned
