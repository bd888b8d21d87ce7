"""The app's archive browser as the app embeds it: ``ArchiveBrowser(archiver,
on_restore=...)`` in a host app, driven with the keys the app documents (``r`` restore,
``/`` search, typing, ``escape``)."""

from __future__ import annotations

import time

from claude_multi_terminal.archiver import SessionArchiver
from claude_multi_terminal.persistence.session_state import SessionState
from claude_multi_terminal.persistence.storage import SessionStorage
from claude_multi_terminal.widgets.archive_browser import ArchiveBrowser
from textual.app import App, ComposeResult
from textual.widgets import Input, Label

from ..tui.helpers import drive, settle, wait_until

DAY = 86400.0


def app_sessions(home) -> list[SessionState]:
    storage = SessionStorage(home, enable_auto_archive=False)
    now = time.time()
    out = []
    for i, (sid, name) in enumerate([("aa11", "deploy api"), ("bb22", "write docs"), ("cc33", "deploy web")]):
        s = SessionState(
            sid,
            name,
            f"/home/me/{sid}",
            now - (40 + i) * DAY - 60,
            now - (40 + i) * DAY,
            2,
            "make",
            None,
            [f"{name} output {n}" for n in range(50)],
            False,
        )
        storage.save_session_to_history(s)
        out.append(s)
    return out


class Host(App):
    def __init__(self, archiver) -> None:
        super().__init__()
        self.archiver = archiver
        self.resumed: list[SessionState] = []

    def compose(self) -> ComposeResult:
        yield Label("multi-terminal")
        yield ArchiveBrowser(self.archiver, on_restore=self.resumed.append)


def test_r_slash_typing_and_escape_work_as_the_app_documents(home):
    sessions = app_sessions(home)
    archiver = SessionArchiver(home, archive_days=30)
    assert archiver.auto_archive_old_sessions()["archived_count"] == 3
    app = Host(archiver)
    seen: dict[str, object] = {}

    async def scenario(pilot):
        await settle(pilot)
        browser = app.query_one(ArchiveBrowser)
        seen["all"] = [e.session_id for e in browser.entries]
        await pilot.press("slash")
        seen["focused"] = isinstance(app.focused, Input)
        await pilot.press(*"docs")
        await wait_until(pilot, lambda: [e.session_id for e in browser.entries] == ["bb22"], "the search")
        await pilot.press("escape")  # leaves the search box
        seen["still_there"] = bool(app.query(ArchiveBrowser))
        await pilot.press("r")
        await wait_until(pilot, lambda: app.resumed, "on_restore")
        await settle(pilot)
        await pilot.press("escape")  # closes the browser
        await wait_until(pilot, lambda: not app.query(ArchiveBrowser), "the browser to close")

    drive(app, scenario)
    assert seen == {"all": ["aa11", "bb22", "cc33"], "focused": True, "still_there": True}
    assert app.resumed == [sessions[1]]
    assert isinstance(app.resumed[0].output_snapshot, list)
    path = home / "history" / sessions[1].history_filename
    assert path.exists()
    # Restored means active again: the next sweep leaves it where it is.
    assert archiver.auto_archive_old_sessions()["archived_count"] == 0 and path.exists()
    archiver.close()
