"""ArchiveBrowser embedded in a minimal host app, as the multi-terminal app uses it."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import DataTable, Input, Label

from termvault import SessionState
from termvault.tui import ArchiveBrowser
from termvault.tui.dialogs import RestoreConflictScreen
from termvault.tui.messages import BrowserClosed, SessionRestored

from .conftest import CLAUDE_ID, NATIVE
from .helpers import Notifications, drive, settle, wait_until


class Host(App):
    """A host that knows nothing about termvault but the widget and its callback."""

    def __init__(self, archiver) -> None:
        super().__init__()
        self.archiver = archiver
        self.resumed: list[SessionState] = []
        self.closed: list[BrowserClosed] = []
        self.restored: list[SessionRestored] = []

    def compose(self) -> ComposeResult:
        yield Label("my terminal app")
        yield ArchiveBrowser(archiver=self.archiver, on_restore=self.resumed.append)

    def on_browser_closed(self, message: BrowserClosed) -> None:
        self.closed.append(message)

    def on_session_restored(self, message: SessionRestored) -> None:
        self.restored.append(message)


def browser(app: App) -> ArchiveBrowser:
    return app.query_one(ArchiveBrowser)


def test_the_embedded_browser_restores_the_row_under_the_cursor_and_calls_on_restore(archiver, home):
    app = Host(archiver)
    notes = Notifications()
    state = next(s for s in NATIVE if s.session_id == "deploy-staging")
    target = home / "history" / state.history_filename

    async def scenario(pilot):
        assert [e.session_id for e in browser(app).entries][:3] == ["api-debug", CLAUDE_ID, "deploy-staging"]
        await pilot.press("down", "down", "r")
        await wait_until(pilot, lambda: app.resumed, "on_restore")
        await settle(pilot)

    drive(app, scenario, notes=notes)
    assert [s.session_id for s in app.resumed] == ["deploy-staging"]
    assert app.resumed[0] == state
    assert target.read_bytes() == state.to_json()
    assert [m.entry.session_id for m in app.restored] == ["deploy-staging"]
    assert notes.of("error") == []


def test_restoring_another_tool_s_session_puts_its_files_back_without_calling_on_restore(archiver, user_home):
    app = Host(archiver)
    transcript = next((user_home / ".claude" / "projects").rglob(f"{CLAUDE_ID}.jsonl"))
    original = transcript.read_bytes()
    transcript.unlink()

    async def scenario(pilot):
        await pilot.press("down", "r")
        await wait_until(pilot, lambda: app.restored, "the restore")

    drive(app, scenario)
    assert transcript.read_bytes() == original
    assert app.resumed == []


def test_a_failed_restore_is_a_notification_not_a_callback(archiver, home):
    app = Host(archiver)
    notes = Notifications()
    entry = archiver.vault.get(NATIVE[0].session_id)
    archiver.vault.archive_file(entry).unlink()  # its archive is gone: nothing to restore from

    async def scenario(pilot):
        await pilot.press("r")
        await wait_until(pilot, lambda: notes.of("error"), "the error")

    drive(app, scenario, notes=notes)
    assert NATIVE[0].session_id in notes.of("error")[0] or "archive" in notes.of("error")[0]
    assert app.resumed == [] and app.restored == []


def test_a_conflict_in_the_embedded_browser_offers_a_choice_not_a_flag(archiver, home):
    app = Host(archiver)
    state = NATIVE[0]
    target = home / "history" / state.history_filename
    target.write_text("changed by hand")

    async def scenario(pilot):
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, RestoreConflictScreen), "the choice")
        assert "--force" not in str(app.screen.query_one(".dialog-text").render())
        await pilot.click("#conflict-replace")
        await wait_until(pilot, lambda: app.resumed, "on_restore")
        await settle(pilot)

    drive(app, scenario)
    assert target.read_bytes() == state.to_json()
    assert [s.session_id for s in app.resumed] == [state.session_id]
    kept = [p for p in (home / "history").iterdir() if ".termvault-old-" in p.name]
    assert len(kept) == 1 and kept[0].read_text() == "changed by hand"


def test_the_embedded_search_finds_what_termvault_search_finds(archiver):
    app = Host(archiver)

    async def scenario(pilot):
        await pilot.press("slash", *"preventDefault", "enter")
        await wait_until(
            pilot, lambda: [e.session_id for e in browser(app).entries] == [CLAUDE_ID], "the full-text match"
        )
        assert isinstance(app.focused, DataTable)
        await pilot.press("slash", "ctrl+u", *"database", "enter")
        await wait_until(
            pilot, lambda: [e.session_id for e in browser(app).entries] == ["db-migrate"], "the name match"
        )

    drive(app, scenario)


def test_the_embedded_browser_shows_its_stats_line(archiver):
    app = Host(archiver)

    async def scenario(pilot):
        line = str(app.query_one("#stats").render())
        assert line.startswith("6 sessions · ") and "saved" in line and "archive after 7 days" in line

    drive(app, scenario)


def test_escape_closes_the_embedded_browser_and_tells_the_host(archiver):
    app = Host(archiver)

    async def scenario(pilot):
        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press("escape")
        assert app.query(ArchiveBrowser) and not app.closed
        await pilot.press("escape")
        await wait_until(pilot, lambda: not app.query(ArchiveBrowser), "the browser to go")
        assert len(app.closed) == 1
        assert app.query_one(Label)  # the host is still there

    drive(app, scenario)


def test_the_close_button_closes_the_embedded_browser(archiver):
    app = Host(archiver)

    async def scenario(pilot):
        await pilot.click("#close")
        await wait_until(pilot, lambda: not app.query(ArchiveBrowser), "the browser to go")
        assert len(app.closed) == 1

    drive(app, scenario)
