"""``ArchiveBrowser``: the archive browser widget, mountable in any Textual app.

    browser = ArchiveBrowser(archiver=SessionArchiver(home), on_restore=resume)

A search box (searched as you type, through the same call and arguments as ``termvault
search``: the same sessions, ranked alike, "50 of 212" beside it), a table of archived
sessions (name, source, last activity, size, space saved; folder and id when there is
room), a stats line and Restore / Refresh / Close buttons. Keys: ``r`` restores the
session under the cursor, ``/`` focuses the search, ``escape`` leaves the search box, and
otherwise closes the browser (or, with ``close_on_escape=False``, clears the search).

Every vault call runs in a thread worker; results come back as messages. When a file in
the way differs from the archived copy, the widget asks (in a dialog, never a flag):
restore beside it, or replace it keeping the current file aside. A restore that fails is
shown as an error notification. ``on_restore(state)`` is called on the UI thread after a
native session was restored in place, with the SessionState ``restore_session`` returned.
Every value shown (names, folders) is plain text: no markup, no control sequences.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.coordinate import Coordinate
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Button, DataTable, Input, Static

from ..errors import ConflictError, DataError, TermvaultError
from ..index import ArchiveEntry
from ..ops.search import SearchHit
from .dialogs import (
    BESIDE,
    REPLACE,
    ConfirmRestoreScreen,
    RestoreConflictScreen,
    beside_folder,
)
from .filters import (
    BrowserFilter,
    count_label,
    find_sessions,
    next_scope,
    parse_range,
    scope_label,
)
from .formatting import (
    days_label,
    display_text,
    human_size,
    relative_time,
    saved_size,
    short_id,
    shorten_folder,
)
from .messages import (
    BrowserClosed,
    RestoreConflict,
    RestoreFailed,
    SearchFailed,
    SelectionChanged,
    SessionRestored,
    SessionsLoaded,
    StatsLoaded,
)

if TYPE_CHECKING:
    from ..compat.archiver import SessionArchiver
    from ..state import SessionState

COLUMNS = ("Name", "Source", "Folder", "Activity", "Size", "Saved", "Id")
NARROW_COLUMNS = ("Name", "Source", "Activity", "Size", "Saved")  # below FOLDER_FROM cells
FOLDER_FROM = 110
DATES_PLACEHOLDER = "any date · press d to limit (7d, 2024-01-01..2024-02-01)"
_SEARCH_ERRORS = (TermvaultError, OSError, sqlite3.Error)


class ArchiveBrowser(Widget):
    """Browse, search and restore archived sessions. See the module docstring."""

    Closed = BrowserClosed
    Restored = SessionRestored
    SelectionChanged = SelectionChanged

    DEFAULT_CSS = """
    ArchiveBrowser {
        layout: vertical;
        height: 1fr;
        background: $surface;
    }
    ArchiveBrowser #search-row, ArchiveBrowser #filter-row { height: 1; }
    ArchiveBrowser #search { width: 1fr; }
    ArchiveBrowser #count { width: auto; padding: 0 1; color: $text-muted; }
    ArchiveBrowser #scope {
        width: auto;
        padding: 0 1;
        color: $text-accent;
        background: $boost;
    }
    ArchiveBrowser #dates { width: 1fr; margin-left: 1; }
    ArchiveBrowser #dates.-invalid { color: $text-error; }
    ArchiveBrowser #sessions { height: 1fr; }
    ArchiveBrowser #stats {
        height: 1;
        padding: 0 1;
        color: $text-muted;
        background: $panel;
    }
    ArchiveBrowser #buttons { height: 1; align-horizontal: right; }
    ArchiveBrowser #buttons Button { margin-left: 1; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "restore", "Restore"),
        Binding("slash", "focus_search", "Search"),
        Binding("escape", "close", "Close"),
        Binding("ctrl+r,f", "cycle_scope", "Filter"),
        Binding("d", "focus_dates", "Dates", show=False),
        Binding("f5", "refresh", "Refresh", show=False),
    ]

    def __init__(
        self,
        archiver: SessionArchiver,
        on_restore: Callable[[SessionState], None] | None = None,
        *,
        filters: bool = False,
        cwd: str | None = None,
        now: Callable[[], float] = time.time,
        debounce: float = 0.2,
        limit: int = 200,
        confirm_restore: bool = False,
        close_on_escape: bool = True,
        app_keys: bool = False,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        """``archiver`` is a termvault.SessionArchiver (its ``.vault`` is used for
        everything but the restore itself). ``filters`` shows the scope and date-range
        bar; ``now`` (a clock) and ``cwd`` exist so tests can freeze them.
        ``confirm_restore`` asks before restoring; ``close_on_escape=False`` makes escape
        step back (search box, then search text) instead of closing; ``app_keys`` hands
        the widget's keys to a host app that binds the same actions itself (so its footer
        shows one stable set of keys whatever has the focus)."""
        super().__init__(name=name, id=id, classes=classes)
        self.archiver = archiver
        self.vault = archiver.vault
        self.on_restore = on_restore
        self.show_filters = filters
        self.confirm_restore = confirm_restore
        self.close_on_escape = close_on_escape
        self.app_keys = app_keys
        self.now = now
        self.debounce = debounce
        self.limit = limit
        self.filter = BrowserFilter(cwd=cwd if cwd is not None else os.getcwd())
        self.entries: list[ArchiveEntry] = []
        self.hits: dict[str, SearchHit] = {}  # a query's hits by session id
        self.total = 0  # sessions matching in all; the list shows the best of them
        self.stats: dict[str, Any] = {}
        self.source_kinds: list[str] = []
        self._generation = 0
        self._shown_generation = 0
        self._timer: Timer | None = None
        self._restoring: set[str] = set()
        self._stats_pending = False
        self._last_selected: str | None = None
        self._widths = _column_widths(80)
        self._columns: tuple[str, ...] = ()

    # -- layout ---------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Horizontal(id="search-row"):
            yield Input(placeholder="Search the sessions' text, as termvault search  (/)", id="search", compact=True)
            yield Static("", id="count")
        if self.show_filters:
            with Horizontal(id="filter-row"):
                yield Static(self._scope_text(), id="scope")
                dates = Input(placeholder=DATES_PLACEHOLDER, id="dates", compact=True)
                dates.can_focus = False  # reached with d, not by tabbing past the search box
                yield dates
        table: DataTable = DataTable(id="sessions", cursor_type="row", zebra_stripes=True)
        yield table
        yield Static("Loading…", id="stats")
        with Horizontal(id="buttons"):
            yield Button("Restore", id="restore", variant="primary", compact=True)
            yield Button("Refresh", id="refresh", compact=True)
            yield Button("Close", id="close", compact=True)

    def on_mount(self) -> None:
        self._set_columns(_columns_for(self.size.width))
        self.table.focus()
        self.reload()

    @property
    def table(self) -> DataTable:
        return self.query_one("#sessions", DataTable)

    @property
    def search_input(self) -> Input:
        return self.query_one("#search", Input)

    # -- state a caller may read ----------------------------------------------------------
    @property
    def busy(self) -> bool:
        """True while a search, the stats or a restore are still on their way."""
        return self._shown_generation != self._generation or self._stats_pending or bool(self._restoring)

    @property
    def selected_entry(self) -> ArchiveEntry | None:
        """The session in the row under the cursor (None when the table is empty)."""
        table = self.table
        if not self.entries or table.row_count == 0:
            return None
        row = table.cursor_row
        if row < 0 or row >= table.row_count:
            return None
        key = table.coordinate_to_cell_key(Coordinate(row, 0)).row_key.value
        return next((e for e in self.entries if e.session_id == key), None)

    # -- loading --------------------------------------------------------------------------
    def reload(self) -> None:
        """Search again now (with the current filter) and refresh the stats line."""
        self._request_search(immediate=True)
        self._stats_pending = True
        self._load_stats()

    def set_filter(self, flt: BrowserFilter, immediate: bool = False) -> None:
        self.filter = flt
        self._request_search(immediate)

    def _request_search(self, immediate: bool = False) -> None:
        self._generation += 1
        generation = self._generation
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if immediate or self.debounce <= 0:
            self._search(generation, self.filter)
        else:
            flt = self.filter
            self._timer = self.set_timer(self.debounce, lambda: self._search(generation, flt))

    @work(thread=True, group="termvault-search")
    def _search(self, generation: int, flt: BrowserFilter) -> None:
        try:
            found = find_sessions(self.vault, flt, self.limit)
        except _SEARCH_ERRORS as exc:
            self.post_message(SearchFailed(generation, str(exc)))
            return
        self.post_message(SessionsLoaded(generation, list(found), found.total, found.estimated))

    @work(thread=True, group="termvault-stats")
    def _load_stats(self) -> None:
        try:
            stats = self.archiver.get_archive_stats()
            stats["sources"] = sorted(self.vault.stats()["per_source"])
        except _SEARCH_ERRORS as exc:
            stats = {"error": str(exc)}
        self.post_message(StatsLoaded(stats))

    def on_sessions_loaded(self, message: SessionsLoaded) -> None:
        message.stop()
        if message.generation != self._generation:
            return  # an older search finished after a newer one was asked for
        self._shown_generation = message.generation
        self.hits = {h.entry.session_id: h for h in message.hits if h.matched != "metadata"}
        self.total = message.total
        label = count_label(len(message.hits), message.total, message.estimated)
        self.query_one("#count", Static).update(label)
        self._fill([h.entry for h in message.hits])

    def on_search_failed(self, message: SearchFailed) -> None:
        message.stop()
        if message.generation != self._generation:
            return
        self._shown_generation = message.generation
        # The error repeats the query as typed: text, never markup.
        self.notify(display_text(message.error), title="Search failed", severity="error", markup=False)

    def on_stats_loaded(self, message: StatsLoaded) -> None:
        message.stop()
        self._stats_pending = False
        self.stats = message.stats
        stats_line = self.query_one("#stats", Static)
        if "error" in message.stats:
            stats_line.update(Text(f"Stats unavailable: {display_text(message.stats['error'])}"))
            return
        self.source_kinds = list(message.stats.get("sources", []))
        s = message.stats
        saved = s.get("original_bytes", 0) - s.get("archive_bytes", 0)
        sessions = s.get("total_sessions", 0)
        stats_line.update(
            Text(
                f"{sessions} session{'s' if sessions != 1 else ''} · {human_size(s.get('archive_bytes', 0))} archived · "
                f"{saved_size(saved)} saved · archive after {days_label(s.get('archive_days_threshold'))}"
            )
        )

    def _set_columns(self, columns: tuple[str, ...]) -> None:
        if columns != self._columns:
            self._columns = columns
            self.table.clear(columns=True)
            self.table.add_columns(*columns)

    def _fill(self, entries: list[ArchiveEntry]) -> None:
        table = self.table
        previous = self.selected_entry
        keep = previous.session_id if previous else self._last_selected
        self.entries = entries
        self._widths = _column_widths(self.size.width)
        self._set_columns(_columns_for(self.size.width))
        table.clear()
        now = self.now()
        for e in entries:
            table.add_row(*self._cells(e, now), key=e.session_id)
        row = next((i for i, e in enumerate(entries) if e.session_id == keep), 0)
        if entries:
            table.move_cursor(row=row, animate=False)
        self._announce_selection(force=True)

    def _cells(self, e: ArchiveEntry, now: float) -> tuple[Text, ...]:
        # Text objects: a name holding "[/x]" is shown as typed, never parsed as markup.
        name_w, folder_w, id_w = self._widths
        values = {
            "Name": display_text(("* " if e.pinned else "") + (e.name or e.session_id), name_w),
            "Source": display_text(e.source),
            "Folder": shorten_folder(display_text(e.working_directory or ""), folder_w),
            "Activity": relative_time(e.last_activity_at, now),
            "Size": human_size(e.original_size_bytes),
            "Saved": saved_size(e.space_saved_bytes),
            "Id": short_id(display_text(e.session_id), id_w),
        }
        right = {"Size", "Saved"}
        return tuple(Text(values[c], justify="right" if c in right else "left") for c in self._columns)

    def on_resize(self) -> None:
        if self.entries and (
            _column_widths(self.size.width) != self._widths or _columns_for(self.size.width) != self._columns
        ):
            self._fill(self.entries)

    def update_entry(self, entry: ArchiveEntry) -> None:
        """Replace one row's session (e.g. after pin/unpin) without searching again."""
        for i, e in enumerate(self.entries):
            if e.session_id == entry.session_id:
                self.entries[i] = entry
                name = self._cells(entry, self.now())[0]
                self.table.update_cell(entry.session_id, self.table.ordered_columns[0].key, name)
                self._announce_selection(force=True)
                return

    @on(DataTable.RowHighlighted, "#sessions")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._announce_selection()

    def _announce_selection(self, force: bool = False) -> None:
        entry = self.selected_entry
        sid = entry.session_id if entry else None
        if force or sid != self._last_selected:
            self._last_selected = sid if sid is not None else self._last_selected
            self.post_message(SelectionChanged(entry, self.hits.get(sid) if sid else None))

    # -- search box and filters -----------------------------------------------------------
    @on(Input.Changed, "#search")
    def _search_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.filter = self.filter.with_text(event.value)
        self._request_search()

    @on(Input.Submitted, "#search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.filter = self.filter.with_text(event.value)
        self._request_search(immediate=True)
        self.table.focus()

    @on(Input.Submitted, "#dates")
    def _dates_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        dates = event.input
        try:
            after, before = parse_range(event.value, self.now())
        except TermvaultError as exc:
            # Flagged, and no longer applied: the list must not keep an older range that
            # the field no longer shows.
            dates.add_class("-invalid")
            self.notify(
                f"{exc} Showing all dates until it is fixed.", title="Date range", severity="error", markup=False
            )
            self.set_filter(replace(self.filter, after=None, before=None), immediate=True)
            self.query_one("#scope", Static).update(self._scope_text())
            return
        dates.remove_class("-invalid")
        self.set_filter(replace(self.filter, after=after, before=before), immediate=True)
        self.query_one("#scope", Static).update(self._scope_text())
        self.table.focus()

    @on(Input.Blurred, "#dates")
    def _dates_left(self, event: Input.Blurred) -> None:
        event.input.can_focus = False

    def action_focus_search(self) -> None:
        self.search_input.focus()

    def action_focus_dates(self) -> None:
        if self.show_filters:
            dates = self.query_one("#dates", Input)
            dates.can_focus = True
            dates.focus()

    def action_cycle_scope(self) -> None:
        if not self.show_filters:
            return
        self.filter = replace(self.filter, scope=next_scope(self.filter.scope, self.source_kinds))
        self.query_one("#scope", Static).update(self._scope_text())
        self._request_search(immediate=True)

    def _scope_text(self) -> Text:
        label = f"Filter: {display_text(scope_label(self.filter.scope, self.filter.cwd, 24))}"
        if (
            self.show_filters
            and self.is_mounted
            and self.query("#dates")
            and self.query_one("#dates", Input).has_class("-invalid")
        ):
            label += " · dates: invalid, not applied"
        return Text(label)

    def action_refresh(self) -> None:
        self.reload()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.app_keys and action in ("restore", "focus_search", "cycle_scope", "focus_dates", "close"):
            return False  # the host app binds these keys itself
        if action in ("cycle_scope", "focus_dates"):
            return self.show_filters
        return True

    # -- restore --------------------------------------------------------------------------
    def action_restore(self) -> None:
        entry = self.selected_entry
        if entry is None:
            self.notify("There is no session to restore here.", severity="warning")
            return
        if entry.session_id in self._restoring:
            return
        if not self.confirm_restore:
            self.start_restore(entry)
            return
        destination = self._destination(entry)

        def answered(yes: bool | None) -> None:
            if yes:
                self.start_restore(entry)

        self.app.push_screen(ConfirmRestoreScreen(entry, destination), answered)

    def _destination(self, entry: ArchiveEntry) -> str:
        try:
            return self.vault.manifest(entry.session_id, entry.version).root
        except (TermvaultError, OSError):
            return ""

    def start_restore(self, entry: ArchiveEntry, how: str = "") -> None:
        """Restore ``entry`` now: in place (``""``), ``BESIDE`` the file in the way, or
        ``REPLACE`` it (kept aside). A conflict in place asks which of the two."""
        self._restoring.add(entry.session_id)
        self.notify(f"Restoring {display_text(entry.name or entry.session_id, 60)}…", markup=False)
        self._restore(entry, how)

    @work(thread=True, group="termvault-restore")
    def _restore(self, entry: ArchiveEntry, how: str) -> None:
        try:
            if how == BESIDE:
                root = self.vault.manifest(entry.session_id, entry.version).root
                result = self.vault.restore(entry.session_id, entry.version, to=beside_folder(root, self.now()))
            else:
                result = self.vault.restore(entry.session_id, entry.version, force=how == REPLACE)
            state = None
            if entry.source == "native" and how != BESIDE:
                # The files are back (verified); the archiver reads the state from the
                # archive and leaves the identical file on disk alone.
                state = self.archiver.restore_session(entry.session_id)
                if state is None:
                    raise DataError(f"The archived state of {entry.session_id} could not be read back.")
        except ConflictError as exc:
            self.post_message(RestoreConflict(entry, str(exc)))
            return
        except (TermvaultError, OSError) as exc:
            self.post_message(RestoreFailed(entry.session_id, str(exc)))
            return
        self.post_message(SessionRestored(entry, result, state))

    def on_restore_conflict(self, message: RestoreConflict) -> None:
        message.stop()
        entry = message.entry
        self._restoring.discard(entry.session_id)
        # The message names a --force flag the browser does not have: offer the choice.
        problem = message.error.split("; use --force", 1)[0] + "."

        def chosen(how: str | None) -> None:
            if how in (BESIDE, REPLACE):
                self.start_restore(entry, how)

        root = self._destination(entry) or self.filter.cwd
        self.app.push_screen(RestoreConflictScreen(entry, problem, beside_folder(root, self.now())), chosen)

    def on_restore_failed(self, message: RestoreFailed) -> None:
        message.stop()
        self._restoring.discard(message.session_id)
        self.notify(message.error, title="Restore failed", severity="error", timeout=10, markup=False)

    def on_session_restored(self, message: SessionRestored) -> None:
        # Runs before the message bubbles on to the host app.
        self._restoring.discard(message.entry.session_id)
        result = message.result
        restored, same = len(result.restored), len(result.unchanged)
        detail = f"{restored} file{'s' if restored != 1 else ''} written" + (f", {same} already there" if same else "")
        if result.set_aside:
            detail += f"; the current file kept as {display_text(Path(result.set_aside[0][1]).name)}"
        where = ""
        if result.restored:
            where = f" to {shorten_folder(display_text(str(Path(result.restored[0]).parent)), 60)}"
        name = display_text(message.entry.name or message.entry.session_id, 60)
        self.notify(f"Restored {name}{where} ({detail}).", title="Restored", markup=False)
        if self.on_restore is not None and message.state is not None:
            self.on_restore(message.state)

    # -- buttons and closing --------------------------------------------------------------
    @on(Button.Pressed, "#restore")
    def _restore_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_restore()

    @on(Button.Pressed, "#refresh")
    def _refresh_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.reload()

    @on(Button.Pressed, "#close")
    def _close_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.close()

    def action_close(self) -> None:
        focused = self.screen.focused
        if isinstance(focused, Input) and focused in self.query(Input):
            self.table.focus()  # first escape leaves the search box, the next one closes
            return
        if self.close_on_escape:
            self.close()
        else:
            self.step_back()

    def step_back(self) -> None:
        """Escape without closing: leave a text box, else clear the search, else say how
        to quit (the list itself is as far back as escape goes)."""
        focused = self.screen.focused
        if isinstance(focused, Input) and focused in self.query(Input):
            self.table.focus()
        elif self.search_input.value:
            self.search_input.value = ""
            self.filter = self.filter.with_text("")
            self._request_search(immediate=True)
            self.table.focus()
        else:
            self.notify("Press q to quit.", timeout=3)

    def close(self) -> None:
        """Post BrowserClosed, then remove the widget from its parent."""
        self.post_message(BrowserClosed(self))
        self.call_after_refresh(self.remove)


def _columns_for(width: int) -> tuple[str, ...]:
    """Name, source, activity, size and saved always; folder and id once there is room
    for them without squeezing the names (the preview shows both anyway)."""
    return COLUMNS if (width or 80) >= FOLDER_FROM else NARROW_COLUMNS


def _column_widths(width: int) -> tuple[int, int, int]:
    """(name, folder, id) widths that let the columns fit ``width`` cells: the fixed
    columns take what they need; the name gets the rest, or shares it with the folder."""
    width = width or 80
    columns = _columns_for(width)
    id_w = 36 if width >= 170 else 8
    fixed = 11 + 10 + 9 + 9 + 2 * len(columns) + 2  # source, activity, size, saved, padding, scrollbar
    if "Id" in columns:
        fixed += id_w
    rest = max(24, width - fixed)
    if "Folder" not in columns:
        return rest, 0, id_w
    name_w = rest * 11 // 20
    return name_w, rest - name_w, id_w
