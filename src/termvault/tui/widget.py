"""``ArchiveBrowser``: the archive browser widget, mountable in any Textual app.

    browser = ArchiveBrowser(archiver=SessionArchiver(home), on_restore=resume)

A search box (name, folder or full text, searched as you type), a table of archived
sessions (name, folder, last activity, size, space saved, id), a stats line and Restore /
Refresh / Close buttons. Keys: ``r`` restores the session under the cursor, ``/`` focuses
the search, ``escape`` leaves the search box, and otherwise closes the browser.

Every vault call runs in a thread worker; results come back as messages. A restore that
fails is shown as an error notification. ``on_restore(state)`` is called on the UI thread
after a native session was restored, with the SessionState ``restore_session`` returned.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.coordinate import Coordinate
from textual.widget import Widget
from textual.widgets import Button, DataTable, Input, Static

from ..errors import DataError, TermvaultError
from ..index import ArchiveEntry
from .filters import (
    BrowserFilter,
    find_sessions,
    next_scope,
    parse_range,
    scope_label,
)
from .formatting import human_size, relative_time, short_id, shorten_folder, truncate
from .messages import (
    BrowserClosed,
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

COLUMNS = ("Name", "Folder", "Activity", "Size", "Saved", "Id")
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
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        """``archiver`` is a termvault.SessionArchiver (its ``.vault`` is used for
        everything but the restore itself). ``filters`` shows the scope and date-range
        bar; ``now`` (a clock) and ``cwd`` exist so tests can freeze them."""
        super().__init__(name=name, id=id, classes=classes)
        self.archiver = archiver
        self.vault = archiver.vault
        self.on_restore = on_restore
        self.show_filters = filters
        self.now = now
        self.debounce = debounce
        self.limit = limit
        self.filter = BrowserFilter(cwd=cwd if cwd is not None else os.getcwd())
        self.entries: list[ArchiveEntry] = []
        self.stats: dict[str, Any] = {}
        self.source_kinds: list[str] = []
        self._generation = 0
        self._shown_generation = 0
        self._timer = None
        self._restoring: set[str] = set()
        self._stats_pending = False
        self._last_selected: str | None = None
        self._widths = _column_widths(80)

    # -- layout ---------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Horizontal(id="search-row"):
            yield Input(placeholder="Search names, folders and text  (/)", id="search", compact=True)
        if self.show_filters:
            with Horizontal(id="filter-row"):
                yield Static(self._scope_text(), id="scope")
                yield Input(placeholder="Dates: 7d, 2024-01-01..2024-02-01  (d)", id="dates", compact=True)
        table: DataTable = DataTable(id="sessions", cursor_type="row", zebra_stripes=True)
        yield table
        yield Static("Loading…", id="stats")
        with Horizontal(id="buttons"):
            yield Button("Restore", id="restore", variant="primary", compact=True)
            yield Button("Refresh", id="refresh", compact=True)
            yield Button("Close", id="close", compact=True)

    def on_mount(self) -> None:
        self.table.add_columns(*COLUMNS)
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
            entries = find_sessions(self.vault, flt, self.limit)
        except _SEARCH_ERRORS as exc:
            self.post_message(SearchFailed(generation, str(exc)))
            return
        self.post_message(SessionsLoaded(generation, entries))

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
        self._fill(message.entries)

    def on_search_failed(self, message: SearchFailed) -> None:
        message.stop()
        if message.generation != self._generation:
            return
        self._shown_generation = message.generation
        self.notify(message.error, title="Search failed", severity="error")

    def on_stats_loaded(self, message: StatsLoaded) -> None:
        message.stop()
        self._stats_pending = False
        self.stats = message.stats
        stats_line = self.query_one("#stats", Static)
        if "error" in message.stats:
            stats_line.update(f"Stats unavailable: {message.stats['error']}")
            return
        self.source_kinds = list(message.stats.get("sources", []))
        s = message.stats
        saved = s.get("original_bytes", 0) - s.get("archive_bytes", 0)
        sessions = s.get("total_sessions", 0)
        stats_line.update(
            f"{sessions} session{'s' if sessions != 1 else ''} · {human_size(s.get('archive_bytes', 0))} archived · "
            f"{human_size(saved)} saved · archive after {_days(s.get('archive_days_threshold'))}"
        )

    def _fill(self, entries: list[ArchiveEntry]) -> None:
        table = self.table
        previous = self.selected_entry
        keep = previous.session_id if previous else self._last_selected
        self.entries = entries
        self._widths = _column_widths(self.size.width)
        table.clear()
        now = self.now()
        for e in entries:
            table.add_row(*self._cells(e, now), key=e.session_id)
        row = next((i for i, e in enumerate(entries) if e.session_id == keep), 0)
        if entries:
            table.move_cursor(row=row, animate=False)
        self._announce_selection(force=True)

    def _cells(self, e: ArchiveEntry, now: float) -> tuple[str, ...]:
        name_w, folder_w, id_w = self._widths
        return (
            truncate(("* " if e.pinned else "") + (e.name or e.session_id), name_w),
            shorten_folder(e.working_directory or "", folder_w),
            relative_time(e.last_activity_at, now),
            human_size(e.original_size_bytes),
            human_size(e.space_saved_bytes),
            short_id(e.session_id, id_w),
        )

    def on_resize(self) -> None:
        if self.entries and _column_widths(self.size.width) != self._widths:
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
            self.post_message(SelectionChanged(entry))

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
            dates.add_class("-invalid")
            self.notify(str(exc), title="Date range", severity="error")
            return
        dates.remove_class("-invalid")
        self.set_filter(replace(self.filter, after=after, before=before), immediate=True)
        self.table.focus()

    def action_focus_search(self) -> None:
        self.search_input.focus()

    def action_focus_dates(self) -> None:
        if self.show_filters:
            self.query_one("#dates", Input).focus()

    def action_cycle_scope(self) -> None:
        if not self.show_filters:
            return
        self.filter = replace(self.filter, scope=next_scope(self.filter.scope, self.source_kinds))
        self.query_one("#scope", Static).update(self._scope_text())
        self._request_search(immediate=True)

    def _scope_text(self) -> str:
        return f"Filter: {scope_label(self.filter.scope, self.filter.cwd, 24)}"

    def action_refresh(self) -> None:
        self.reload()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
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
        self._restoring.add(entry.session_id)
        self.notify(f"Restoring {entry.name or entry.session_id}…")
        self._restore(entry)

    @work(thread=True, group="termvault-restore")
    def _restore(self, entry: ArchiveEntry) -> None:
        try:
            result = self.vault.restore(entry.session_id, entry.version)
            state = None
            if entry.source == "native":
                # The files are back (verified); the archiver reads the state from the
                # archive and leaves the identical file on disk alone.
                state = self.archiver.restore_session(entry.session_id)
                if state is None:
                    raise DataError(f"The archived state of {entry.session_id} could not be read back.")
        except (TermvaultError, OSError) as exc:
            self.post_message(RestoreFailed(entry.session_id, str(exc)))
            return
        self.post_message(SessionRestored(entry, result, state))

    def on_restore_failed(self, message: RestoreFailed) -> None:
        message.stop()
        self._restoring.discard(message.session_id)
        self.notify(message.error, title="Restore failed", severity="error", timeout=10)

    def on_session_restored(self, message: SessionRestored) -> None:
        # Runs before the message bubbles on to the host app.
        self._restoring.discard(message.entry.session_id)
        restored = len(message.result.restored)
        same = len(message.result.unchanged)
        detail = f"{restored} file{'s' if restored != 1 else ''} written" + (f", {same} already there" if same else "")
        self.notify(f"Restored {message.entry.name or message.entry.session_id} ({detail}).", title="Restored")
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
        self.close()

    def close(self) -> None:
        """Post BrowserClosed, then remove the widget from its parent."""
        self.post_message(BrowserClosed(self))
        self.call_after_refresh(self.remove)


def _column_widths(width: int) -> tuple[int, int, int]:
    """(name, folder, id) widths that let the six columns fit ``width`` cells: the fixed
    columns take what they need and name and folder share the rest."""
    width = width or 80
    id_w = 36 if width >= 150 else 8
    fixed = 10 + 8 + 8 + id_w + 2 * len(COLUMNS) + 2  # cells, cell padding, scrollbar
    rest = max(24, width - fixed)
    name_w = rest * 11 // 20
    return name_w, rest - name_w, id_w


def _days(value: Any) -> str:
    if value is None:
        return "-"
    v = float(value)
    return f"{v:g} day{'s' if v != 1 else ''}"
