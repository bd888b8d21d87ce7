"""The preview: one session rendered readably, loaded in a worker thread.

Conversation turns show their role; tool calls and their results are folded to one line
each unless unfolded; terminal output is shown as plain text with escape sequences
removed. Styles use the theme's variables, so the preview follows light and dark themes.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Collection, Sequence
from typing import ClassVar

from textual import on, work
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content, Span
from textual.timer import Timer
from textual.widgets import Input, Static

from ..ansi import normalize_newlines, strip_ansi
from ..conversation import describe_tool
from ..errors import TermvaultError
from ..index import ArchiveEntry
from ..sources.base import Message as Turn
from .find import Jump, Rows, find_pattern, match_spans
from .formatting import display_text, human_size, local_datetime, shorten_folder, truncate
from .messages import PreviewFailed, PreviewLoaded

log = logging.getLogger(__name__)

MAX_PREVIEW_CHARS = 400_000  # beyond this the pager shows the rest
FOLDED_WIDTH = 100
LIT_AROUND = 1000  # matches highlighted before and after the current one
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


def render_session(
    entry: ArchiveEntry,
    turns: Sequence[Turn],
    fold_tools: bool = True,
    unfold: Collection[int] = (),
    starts: list[int] | None = None,
) -> Content:
    """The whole preview: a header, then the turns, cut at MAX_PREVIEW_CHARS. The turns
    numbered in ``unfold`` are shown whole even when tools are folded (they hold a match).
    ``starts``, when given, receives where each turn shown begins in the text."""
    header = render_header(entry)
    parts: list[Content | str | tuple[str, str]] = [header, "\n"]
    offset = len(header.plain) + 1
    size = 0
    previous = ""
    for n, turn in enumerate(turns):
        if previous in _FOLDED and turn.role not in _FOLDED:
            parts.append("\n")  # a run of folded tool lines ends with a gap, like a turn
            offset += 1
        previous = turn.role
        piece = render_turn(turn, fold_tools and n not in unfold)
        if starts is not None:
            starts.append(offset)
        room = MAX_PREVIEW_CHARS - size
        cut = len(piece.plain) > room
        if cut:  # one turn (a terminal's whole output) can be larger than the budget
            end = piece.plain.rfind("\n", 0, room)
            piece = piece[: end + 1 if end > 0 else room]
        offset += len(piece.plain)
        size += len(piece.plain)
        parts.append(piece)
        if cut or size > MAX_PREVIEW_CHARS:
            rest = (
                f"the rest of this turn and {len(turns) - n - 1} more turns"
                if cut
                else f"{len(turns) - n - 1} more turns"
            )
            parts.append((f"… {rest}: press o to read it all in the pager\n", "italic $warning"))
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
    (the last few are cached); ``busy`` is True until what was asked for is shown.

    ``show(entry, jump=jump_of(hit))`` opens at a search hit's match (the terms its
    snippet highlighted, in the turn the search found them in); ctrl+f opens the find bar: what is typed is highlighted everywhere as
    it is typed (the turns holding it unfolded), enter and n go to the next match, N to
    the one before, and the bar says "3 of 17"; escape closes it."""

    DEFAULT_CSS = """
    PreviewPane {
        background: $surface;
        padding: 0 1;
        scrollbar-size-vertical: 1;
    }
    PreviewPane > #preview-body { width: 1fr; }
    PreviewPane > #find-bar {
        dock: bottom;
        height: 1;
        display: none;
        background: $panel;
    }
    PreviewPane > #find-bar.-open { display: block; }
    PreviewPane #find-input { width: 1fr; }
    PreviewPane #find-count { width: auto; padding: 0 1; color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+f", "find", "Find", show=False),
        Binding("n", "find_next", "Next match", show=False),
        Binding("N", "find_previous", "Previous match", show=False),
        Binding("escape", "close_find", "Close find", show=False),
    ]
    MATCH_STYLE = "reverse"
    CURRENT_STYLE = "bold reverse $accent"

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
        self._terms: list[str] = []  # what is found: the find bar's text or a hit's terms
        self._turn: int | None = None  # the turn a search hit was found in
        self._plain_turns: list[str] | None = None  # each turn unfolded, to look in
        self._content: Content | None = None  # the session as rendered, before highlights
        self.matches: list[tuple[int, int]] = []  # spans in the rendered text
        self.current = 0
        self._rows: Rows | None = None

    def compose(self):
        yield Static(Content.styled("Select a session to preview it.", "italic $text-muted"), id="preview-body")
        with Horizontal(id="find-bar"):
            yield Input(placeholder="Find in this session", id="find-input", compact=True)
            yield Static("", id="find-count")

    @property
    def body(self) -> Static:
        return self.query_one("#preview-body", Static)

    @property
    def busy(self) -> bool:
        return self._wanted is not None

    def show(
        self, entry: ArchiveEntry | None, immediate: bool = False, jump: Jump | None = None, empty: str = ""
    ) -> None:
        """Preview ``entry`` (None clears, saying ``empty`` when given). Rapid calls (a cursor
        moving) load only the last. With ``jump`` (a search hit's), open at its turn's first
        match, every match lit."""
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if self.find_open:  # what the find bar looks for stays
            terms, turn = self._terms, None
        else:
            terms, turn = (list(jump.terms), jump.turn) if jump else ([], None)
        changed = (terms, turn) != (self._terms, self._turn)
        self._terms, self._turn = terms, turn
        if entry is None:
            self._wanted = None
            self.entry, self.turns = None, None
            self._content, self.matches = None, []
            self.body.update(Content.styled(empty or "No session selected.", "italic $text-muted"))
            return
        if self.entry is not None and self.turns is not None and same_version(self.entry, entry):
            self._wanted = None
            if changed:
                self._redraw(scroll=True)
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
        self._redraw(scroll=False)

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
            self._content, self.matches = None, []
            self.body.update(
                Content.assemble(
                    render_header(entry), "\n", ("Cannot show this session: " + display_text(message.error), "$error")
                )
            )
            self.notify(display_text(message.error), title="Preview failed", severity="error", markup=False)

    def _display(self, entry: ArchiveEntry, turns: list[Turn]) -> None:
        self._wanted = None
        self.entry, self.turns = entry, turns
        self._plain_turns = None
        self._redraw(scroll=True)

    # -- finding --------------------------------------------------------------------------
    def _redraw(self, scroll: bool) -> None:
        """Render the session with the turns holding a match unfolded and every match
        highlighted; ``scroll`` goes to the first match (or the top without one)."""
        if self.entry is None or self.turns is None:
            return
        pattern = find_pattern(self._terms)
        unfold: set[int] = set() if self._turn is None else {self._turn}
        if pattern is not None:
            if self._plain_turns is None:
                self._plain_turns = [render_turn(t, fold_tools=False).plain for t in self.turns]
            unfold |= {i for i, text in enumerate(self._plain_turns) if pattern.search(text)}
        starts: list[int] = []
        self._content = render_session(self.entry, self.turns, self.fold_tools, unfold, starts)
        self._rows = None
        self.matches = match_spans(self._content.plain, pattern) if pattern is not None else []
        # The turn the search found the hit in, when it says: its first match, else its top.
        turn_start = starts[self._turn] if self._turn is not None and self._turn < len(starts) else None
        if scroll or self.current >= len(self.matches):
            after = [n for n, (start, _) in enumerate(self.matches) if turn_start is not None and start >= turn_start]
            self.current = after[0] if after else 0
        self._highlight()
        if scroll and self.matches:
            self.call_after_refresh(self.scroll_to_match)
        elif scroll and turn_start is not None:
            self.call_after_refresh(self._scroll_to_offset, turn_start)
        elif scroll:
            self.scroll_home(animate=False)

    def _highlight(self) -> None:
        content = self._content
        if content is None:
            return
        # One new Content for all the matches lit (one stylize each copied every span
        # before it), and only the LIT_AROUND before and after the current one: a
        # one-letter find in a large preview has hundreds of thousands, and drawing a
        # span costs the same whether it is on screen or not.
        styles = (self.MATCH_STYLE, self.CURRENT_STYLE)
        first = max(0, self.current - LIT_AROUND)
        lit = self.matches[first : self.current + LIT_AROUND + 1]
        content = content.add_spans([Span(a, b, styles[first + n == self.current]) for n, (a, b) in enumerate(lit)])
        self.body.update(content)
        self.query_one("#find-count", Static).update(self.match_label)

    @property
    def match_label(self) -> str:
        """The find bar's count: 3 of 17, or no match (empty when nothing is looked for)."""
        if not self._terms:
            return ""
        return f"{self.current + 1} of {len(self.matches)}" if self.matches else "no match"

    def row_of(self, offset: int) -> int:
        """The row of the preview (from its top) where the character at ``offset`` is drawn."""
        assert self._content is not None
        if self._rows is None or self._rows.width != self.body.size.width:
            self._rows = Rows(self._content.plain, self.body.size.width)
        return self._rows.row_of(offset)

    def match_row(self, n: int | None = None) -> int | None:
        """The row where match ``n`` (the current one by default) is drawn, or None."""
        if not self.matches or self._content is None:
            return None
        return self.row_of(self.matches[self.current if n is None else n][0])

    def scroll_to_match(self) -> None:
        """Scroll so the current match sits a third of the way down the view."""
        if self.matches and self._content is not None:
            self._scroll_to_offset(self.matches[self.current][0])

    def _scroll_to_offset(self, offset: int) -> None:
        if self._content is not None:
            row = self.row_of(offset)
            self.scroll_to(y=max(0, row - self.scrollable_content_region.height // 3), animate=False)

    def find(self, text: str) -> None:
        """Look for ``text`` (as typed, case-insensitive) and go to its first match."""
        self._terms, self._turn = ([text] if text.strip() else []), None
        self._redraw(scroll=True)

    def step(self, by: int) -> None:
        """Go to the next (``by`` = 1) or previous (-1) match, round the end."""
        if self.matches:
            self.current = (self.current + by) % len(self.matches)
            self._highlight()
            self.scroll_to_match()

    @property
    def find_open(self) -> bool:
        return self.is_mounted and self.query_one("#find-bar").has_class("-open")

    def action_find(self) -> None:
        self.query_one("#find-bar").add_class("-open")
        self.query_one("#find-input", Input).focus()

    def action_find_next(self) -> None:
        self.step(1)

    def action_find_previous(self) -> None:
        self.step(-1)

    def action_close_find(self) -> None:
        """Close the find bar; the view stays where the last match put it."""
        self.query_one("#find-bar").remove_class("-open")
        box = self.query_one("#find-input", Input)
        with box.prevent(Input.Changed):
            box.value = ""
        self._terms, self._turn = [], None
        self._redraw(scroll=False)
        self.focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "close_find":
            return self.find_open  # otherwise escape goes back, as everywhere
        if action in ("find_next", "find_previous"):
            return bool(self.matches)
        return True

    @on(Input.Changed, "#find-input")
    def _find_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.find(event.value)

    @on(Input.Submitted, "#find-input")
    def _find_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.step(1)


def same_version(a: ArchiveEntry, b: ArchiveEntry) -> bool:
    """Same session version, shown the same way (the pin shows in the header)."""
    return a.session_id == b.session_id and a.version == b.version and a.pinned == b.pinned
