"""``termvault browse``: the full-screen archive browser built around ArchiveBrowser.

``create_app`` is the one factory the CLI (through ``run_browser``) and the tests use.
Everything that reads or writes the vault runs in a thread worker and reports back with
a message from ``messages.py``; the UI thread only draws.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from textual import on, work
from textual.app import App, ComposeResult, SuspendNotSupported
from textual.binding import Binding, BindingType
from textual.containers import Container
from textual.events import Resize
from textual.widgets import DataTable, Footer

from ..errors import TermvaultError
from ..fsutil import atomic_writer
from ..index import ArchiveEntry
from .filters import ALL
from .find import jump_of
from .formatting import display_text
from .messages import ActionDone, ActionFailed, BrowserClosed, SelectionChanged
from .preview import PreviewCache, PreviewPane, same_version
from .screens import ExportScreen, HelpScreen, PreviewScreen, StatsScreen, SweepScreen
from .widget import ArchiveBrowser

log = logging.getLogger(__name__)

WIDE = 120  # from this many columns the preview sits beside the table
# Act on the selection (or the home): offered on the list and on the full preview, not
# behind the stats, the help or a dialog.
SESSION_ACTIONS = {"restore", "export", "pin", "copy_id", "pager", "sweep", "stats"}
LIST_ACTIONS = {"search", "find", "cycle_scope", "dates", "back"}


class BrowserApp(App):
    """Browse, search, preview, restore, export, pin and sweep the sessions of one home."""

    TITLE = "termvault"
    CSS = """
    #main { layout: vertical; height: 1fr; }
    #main ArchiveBrowser { height: 1fr; }
    #main #preview {
        height: 9;
        border-top: solid $primary;
    }
    #main.-wide { layout: horizontal; }
    #main.-wide ArchiveBrowser { width: 3fr; height: 1fr; }
    #main.-wide #preview {
        width: 2fr;
        height: 1fr;
        border-top: none;
        border-left: solid $primary;
    }
    """

    # One set of keys, bound here so the footer shows the same ones wherever the focus
    # is (the list, the preview beside it); the widget's own bindings stand down.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "restore", "Restore"),
        Binding("e", "export", "Export"),
        Binding("p", "pin", "Pin"),
        Binding("y", "copy_id", "Copy id"),
        Binding("o", "pager", "Pager"),
        Binding("slash", "search", "Search"),
        Binding("ctrl+f", "find", "Find", show=False),
        Binding("a", "sweep", "Sweep"),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
        Binding("escape", "back", "Back", show=False),
        Binding("s", "stats", "Stats", show=False),
        Binding("f,ctrl+r", "cycle_scope", "Filter", show=False),
        Binding("d", "dates", "Dates", show=False),
    ]

    def __init__(
        self,
        archiver: Any,
        *,
        now: Callable[[], float] = time.time,
        cwd: str | None = None,
        debounce: float = 0.2,
        preview_delay: float = 0.1,
        close_archiver: bool = False,
    ) -> None:
        super().__init__()
        self.archiver = archiver
        self.vault = archiver.vault
        self.now = now
        self.cwd = cwd if cwd is not None else os.getcwd()
        self.debounce = debounce
        self.preview_delay = preview_delay
        self.preview_cache = PreviewCache()
        self._close_archiver = close_archiver

    # -- layout ---------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Container(id="main"):
            yield ArchiveBrowser(
                self.archiver,
                filters=True,
                cwd=self.cwd,
                now=self.now,
                debounce=self.debounce,
                confirm_restore=True,
                close_on_escape=False,
                app_keys=True,
            )
            yield PreviewPane(self.vault, cache=self.preview_cache, delay=self.preview_delay, id="preview")
        yield Footer(show_command_palette=False, compact=True)  # compact: every key fits in 80 columns

    def on_mount(self) -> None:
        self._layout_for(self.size.width)

    def on_resize(self, event: Resize) -> None:
        self._layout_for(event.size.width)

    def _layout_for(self, width: int) -> None:
        self.query_one("#main").set_class(width >= WIDE, "-wide")

    @property
    def browser(self) -> ArchiveBrowser:
        return self.query_one(ArchiveBrowser)

    @property
    def preview(self) -> PreviewPane:
        return self.query_one("#preview", PreviewPane)

    @property
    def idle(self) -> bool:
        """True once nothing asked for is still loading (tests wait on this)."""
        busy = any(not w.is_finished for w in self.workers)
        screen_busy = getattr(self.screen, "loading_data", False)
        if busy or screen_busy or self.browser.busy or self.preview.busy:
            return False
        # The selection reaches the preview by message: idle only once it has arrived.
        selected, previewed = self.browser.selected_entry, self.preview.entry
        if selected is None or previewed is None:
            return selected is previewed
        return same_version(selected, previewed)

    # -- events from the browser ----------------------------------------------------------
    def on_selection_changed(self, message: SelectionChanged) -> None:
        # A search hit's preview opens at its match, highlighted.
        empty = ""
        if message.entry is None and not self.browser.entries:
            f = self.browser.filter
            if f.text.strip() or f.scope != ALL or f.after is not None or f.before is not None:
                empty = "No session matches this search and filter."
            else:
                empty = (
                    "No sessions are archived yet: press a to sweep (it archives what termvault finds; "
                    "`termvault sources` lists where it looks)."
                )
        self.preview.show(message.entry, jump=jump_of(message.hit), empty=empty)

    def on_browser_closed(self, message: BrowserClosed) -> None:
        self.exit()

    @on(DataTable.RowSelected, "#sessions")
    def _open_preview(self, event: DataTable.RowSelected) -> None:
        entry = self.browser.selected_entry
        if entry is not None:
            jump = jump_of(self.browser.hits.get(entry.session_id))
            self.push_screen(PreviewScreen(self.vault, entry, cache=self.preview_cache, jump=jump))

    def _selected(self) -> ArchiveEntry | None:
        entry = self.browser.selected_entry
        if entry is None:
            self.notify("Select a session first.", severity="warning")
        return entry

    # -- actions --------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Session actions act on the browser's selection: offered on the list and on its
        # full preview, not behind the stats, help or a dialog.
        stack = self.screen_stack
        if action in SESSION_ACTIONS:
            return bool(stack) and (isinstance(stack[-1], PreviewScreen) or len(stack) == 1)
        if action in LIST_ACTIONS:
            return len(stack) == 1
        return True

    def action_restore(self) -> None:
        if isinstance(self.screen, PreviewScreen):
            self.pop_screen()
        self.browser.action_restore()

    def action_search(self) -> None:
        self.browser.action_focus_search()

    def action_find(self) -> None:
        self.preview.action_find()  # find in the session previewed beside the list

    def action_cycle_scope(self) -> None:
        self.browser.action_cycle_scope()

    def action_dates(self) -> None:
        self.browser.action_focus_dates()

    async def action_back(self) -> None:  # App.action_back is a coroutine too
        self.browser.step_back()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_stats(self) -> None:
        self.push_screen(StatsScreen(self.vault))

    def action_sweep(self) -> None:
        # The list and the status line show the sweep's result as soon as it is known.
        self.push_screen(
            SweepScreen(self.vault, on_finished=lambda _: self.browser.reload()), lambda _: self.browser.reload()
        )

    def action_copy_id(self) -> None:
        entry = self._selected()
        if entry is not None:
            self.copy_to_clipboard(entry.session_id)
            self.notify(f"Copied {entry.session_id}", markup=False)

    def action_export(self) -> None:
        entry = self._selected()
        if entry is None:
            return

        def chosen(choice: tuple[str, str] | None) -> None:
            if choice is not None:
                self._export(entry, *choice)

        self.push_screen(ExportScreen(entry, self.cwd), chosen)

    @work(thread=True, group="termvault-export")
    def _export(self, entry: ArchiveEntry, fmt: str, path_text: str) -> None:
        target = Path(os.path.expanduser(path_text))
        if not target.is_absolute():
            target = Path(self.cwd) / target
        try:
            if target.exists():
                raise TermvaultError(f"{target} already exists; choose another file name.")
            # Sessions hold secrets: the export is private (0600) and appears under its
            # name only once complete and durable.
            with atomic_writer(target, prefix=".termvault-export-", private_dir=False) as out:
                self.vault.export(entry.session_id, out, fmt=fmt, version=entry.version)
        except (TermvaultError, OSError) as exc:
            self.post_message(ActionFailed("export", str(exc)))
            return
        except Exception as exc:  # rendering a hostile session must not end the app
            log.exception("cannot export %s", entry.session_id)
            self.post_message(ActionFailed("export", f"{type(exc).__name__}: {exc}"))
            return
        name = display_text(entry.name or entry.session_id, 60)
        self.post_message(
            ActionDone("export", f"Exported {name} to {display_text(target)}", entry.session_id, str(target))
        )

    def action_pin(self) -> None:
        entry = self._selected()
        if entry is not None:
            self._pin(entry, not entry.pinned)

    @work(thread=True, group="termvault-pin")
    def _pin(self, entry: ArchiveEntry, pinned: bool) -> None:
        try:
            updated = self.vault.pin(entry.session_id, pinned)
        except (TermvaultError, OSError) as exc:
            self.post_message(ActionFailed("pin", str(exc)))
            return
        verb = "Pinned" if pinned else "Unpinned"
        name = display_text(entry.name or entry.session_id, 60)
        self.post_message(ActionDone("pin", f"{verb} {name}", entry.session_id, updated))

    def action_pager(self) -> None:
        entry = self._selected()
        if entry is not None:
            self._prepare_pager(entry)

    @work(thread=True, group="termvault-pager")
    def _prepare_pager(self, entry: ArchiveEntry) -> None:
        tmp: str | None = None
        try:
            fd, tmp = tempfile.mkstemp(prefix="termvault-", suffix=".txt")  # private: 0600
            with os.fdopen(fd, "wb") as out:
                self.vault.export(entry.session_id, out, fmt="text", version=entry.version)
        except Exception as exc:  # shown, never lost; a hostile session must not end the app
            if not isinstance(exc, (TermvaultError, OSError)):
                log.exception("cannot render %s for the pager", entry.session_id)
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
            self.post_message(ActionFailed("pager", str(exc) or type(exc).__name__))
            return
        self.post_message(ActionDone("pager", "", entry.session_id, tmp))

    def _run_pager(self, path: str) -> None:
        command = shlex.split(os.environ.get("PAGER") or "less -R") + [path]
        try:
            with self.suspend():
                subprocess.run(command, check=False)
        except SuspendNotSupported:
            self.notify("This terminal cannot hand the screen to a pager.", severity="error")
        except OSError as exc:
            self.notify(
                display_text(f"Cannot run the pager {command[0]!r}: {exc}"),
                title="Pager",
                severity="error",
                markup=False,
            )
        finally:
            with contextlib.suppress(OSError):
                os.unlink(path)

    # -- results of the actions' workers --------------------------------------------------
    def on_action_done(self, message: ActionDone) -> None:
        if message.action == "pager":
            self._run_pager(message.payload)
            return
        if message.action == "pin" and isinstance(message.payload, ArchiveEntry):
            self.browser.update_entry(message.payload)
        self.notify(message.text, title=message.action.capitalize(), markup=False)

    def on_action_failed(self, message: ActionFailed) -> None:
        self.notify(
            display_text(message.error),
            title=f"{message.action.capitalize()} failed",
            severity="error",
            timeout=10,
            markup=False,
        )

    def on_unmount(self) -> None:
        if self._close_archiver:
            self.archiver.close()


def create_app(
    home: Path | str | None = None,
    config_file: Path | str | None = None,
    *,
    archiver: Any = None,
    now: Callable[[], float] = time.time,
    cwd: str | None = None,
    debounce: float = 0.2,
    preview_delay: float = 0.1,
) -> BrowserApp:
    """The browser app for ``home`` (TERMVAULT_HOME or ~/.multi-term by default), or for
    an open ``archiver``. The app closes an archiver it opened itself when it exits."""
    owns = archiver is None
    if archiver is None:
        from ..compat.archiver import SessionArchiver
        from ..config import Config

        config = Config.load(home, config_file)
        archiver = SessionArchiver(config.home, archive_days=config.archive_days, config_file=config_file)
    return BrowserApp(archiver, now=now, cwd=cwd, debounce=debounce, preview_delay=preview_delay, close_archiver=owns)


def run_browser(home: Path | str | None = None, config_file: Path | str | None = None) -> None:
    """Run ``termvault browse`` until the user quits."""
    create_app(home, config_file).run()
