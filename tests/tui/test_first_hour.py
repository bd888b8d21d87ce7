"""The browser as a newcomer meets it (issue 19, items 11-14): escape steps back, keys act
from the list and the preview and the footer always shows them, actions give feedback,
and the table reads well; plus any name shown as plain text, never as markup."""

from __future__ import annotations

import os

from textual.widgets import DataTable, Input

from termvault import SessionState, SessionStorage
from termvault.tui import create_app
from termvault.tui.dialogs import ConfirmRestoreScreen, RestoreConflictScreen
from termvault.tui.screens import PreviewScreen, SweepScreen

from .conftest import CLAUDE_ID, DAY, NATIVE, NOW, freeze_archive_details
from .helpers import Notifications, drive, settle, wait_until

SESSION_KEYS = {"r", "e", "p", "y", "o"}
LONG_NAME = "asciinema-asciinema-recording-of-the-release-build"
HOSTILE_NAME = "[/] [bold red]boom[/bold red] \x1b]52;c;SGVsbG8=\x07title\x1b[2J end"


def make_app(archiver, clock, **options):
    options.setdefault("cwd", "/home/dev/projects/api")
    return create_app(archiver=archiver, now=clock, **options)


def footer_keys(app) -> set[str]:
    """The keys the footer shows now (bound, shown and enabled)."""
    return {key for key, active in app.screen.active_bindings.items() if active.binding.show and active.enabled}


def add_archived(archiver, home, session_id: str, name: str, days_ago: float) -> None:
    """Archive one more native session through the real sweep."""
    when = NOW - days_ago * DAY
    state = SessionState(
        session_id,
        name=name,
        working_directory="/home/dev/rec",
        created_at=when - 60,
        modified_at=when,
        command_count=1,
        last_command="asciinema rec",
        output_snapshot="recorded\n" * 5,
    )
    storage = SessionStorage(home, enable_auto_archive=False)
    path = storage.save_session(state)
    storage.close()
    os.utime(path, (when, when))
    archiver.auto_archive_old_sessions()


# -- 11: escape steps back, q quits -------------------------------------------------------
def test_enter_in_the_search_then_escape_twice_keeps_the_browser_open(archiver, clock):
    app = make_app(archiver, clock)
    notes = Notifications()

    async def scenario(pilot):
        await pilot.press("slash", *"deploy", "enter")
        await wait_until(pilot, lambda: [e.session_id for e in app.browser.entries] == ["deploy-staging"], "the hit")
        await pilot.press("escape", "escape")
        await settle(pilot)
        assert app.is_running and len(app.browser.entries) == 6

    drive(app, scenario, notes=notes)
    assert "Press q to quit." in notes.of("information")


# -- 12: focus and keys -------------------------------------------------------------------
def test_tab_from_the_search_box_goes_to_the_list_not_the_dates(archiver, clock):
    app = make_app(archiver, clock)

    async def scenario(pilot):
        await pilot.press("slash", "tab")
        assert isinstance(app.focused, DataTable)
        await pilot.press("r")
        assert isinstance(app.screen, ConfirmRestoreScreen)  # r restores, it types nothing
        assert app.query_one("#dates", Input).value == ""
        await pilot.press("escape")

    drive(app, scenario)


def test_the_footer_shows_the_session_keys_on_the_list_the_preview_and_after_y_and_a(archiver, clock):
    app = make_app(archiver, clock)
    seen: dict[str, set[str]] = {}

    async def scenario(pilot):
        seen["list"] = footer_keys(app)
        app.preview.focus()
        await pilot.pause()
        seen["preview pane"] = footer_keys(app)
        await pilot.press("y")
        await pilot.pause()
        seen["after y"] = footer_keys(app)
        await pilot.press("a")
        await wait_until(
            pilot, lambda: isinstance(app.screen, SweepScreen) and not app.screen.loading_data, "the sweep"
        )
        await pilot.press("escape")
        await settle(pilot)
        seen["after a"] = footer_keys(app)
        app.browser.table.focus()
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, PreviewScreen)
        seen["full preview"] = footer_keys(app)

    drive(app, scenario, size=(80, 24))
    for where, keys in seen.items():
        assert SESSION_KEYS <= keys, (where, keys)
    for where in ("list", "preview pane", "after y", "after a"):
        assert {"slash", "question_mark", "q", "a"} <= seen[where], where


def test_r_on_the_preview_beside_the_list_asks_to_restore_that_session(archiver, clock):
    app = make_app(archiver, clock)

    async def scenario(pilot):
        await pilot.press("down")
        app.preview.focus()
        await pilot.press("r")
        assert isinstance(app.screen, ConfirmRestoreScreen)
        assert app.screen.entry.session_id == CLAUDE_ID
        await pilot.press("escape")

    drive(app, scenario, size=(140, 40))


# -- 13: feedback -------------------------------------------------------------------------
def test_a_sweep_updates_the_status_bar_and_the_list(archiver, clock, home):
    app = make_app(archiver, clock)
    when = NOW - 40 * DAY
    state = SessionState(
        "late-one",
        name="late one",
        working_directory="/home/dev",
        created_at=when,
        modified_at=when,
        output_snapshot="x\n",
    )
    storage = SessionStorage(home, enable_auto_archive=False)
    os.utime(storage.save_session(state), (when, when))
    storage.close()

    def status() -> str:
        return str(app.query_one("#stats").render())

    async def scenario(pilot):
        assert status().startswith("6 sessions")
        await pilot.press("a")
        await wait_until(
            pilot, lambda: isinstance(app.screen, SweepScreen) and not app.screen.loading_data, "the sweep"
        )
        await wait_until(pilot, lambda: status().startswith("7 sessions"), "the status bar")
        await pilot.press("escape")
        await settle(pilot)
        assert "late-one" in [e.session_id for e in app.browser.entries]

    drive(app, scenario)


def test_r_asks_first_and_cancelling_writes_nothing(archiver, clock, home):
    app = make_app(archiver, clock)

    async def scenario(pilot):
        await pilot.press("r")
        assert isinstance(app.screen, ConfirmRestoreScreen)
        text = str(app.screen.query_one(".dialog-text").render())
        assert "api debugging" in text and "history" in text
        await pilot.press("escape")
        await settle(pilot)

    drive(app, scenario)
    assert not any((home / "history").iterdir())


# -- 14: layout ---------------------------------------------------------------------------
def test_names_have_room_a_source_column_and_saved_is_never_negative(archiver, clock, home):
    add_archived(archiver, home, "rec-1", LONG_NAME, 2)
    freeze_archive_details(archiver)
    with archiver.index.transaction():  # an archive larger than what it holds
        db = archiver.index.db  # tests set up rows directly
        db.execute("UPDATE sessions SET archive_size = original_size + 300 WHERE session_id = 'rec-1'")
    app = make_app(archiver, clock)

    async def scenario(pilot):
        table = app.query_one("#sessions", DataTable)
        headers = [str(c.label) for c in table.ordered_columns]
        assert headers[:2] == ["Name", "Source"]
        row = {h: str(v) for h, v in zip(headers, table.get_row("rec-1"))}
        assert row["Name"].startswith(LONG_NAME[:28])  # not cut at about 18 characters
        assert row["Source"] == "native"
        assert row["Saved"] == "none"
        assert all("KB" not in str(v) and "MB" not in str(v) for v in row.values())

    drive(app, scenario, size=(80, 24))


def test_the_date_field_reads_as_a_hint_not_as_a_filter(archiver, clock):
    app = make_app(archiver, clock)

    async def scenario(pilot):
        dates = app.query_one("#dates", Input)
        assert dates.value == ""
        assert dates.placeholder.startswith("any date")
        assert "press d" in dates.placeholder

    drive(app, scenario)


# -- names are plain text ----------------------------------------------------------------
def test_a_name_with_markup_and_control_sequences_is_shown_as_plain_text(archiver, clock, home):
    add_archived(archiver, home, "hostile-1", HOSTILE_NAME, 1)
    app = make_app(archiver, clock)
    notes = Notifications()

    async def scenario(pilot):
        table = app.query_one("#sessions", DataTable)
        name = table.get_row("hostile-1")[0].plain
        assert name.startswith("[/] [bold red]boom[/bold")
        assert "\x1b" not in name and "\x07" not in name
        await pilot.press("r")  # the dialog names it too
        assert "[/] [bold red]boom" in str(app.screen.query_one(".dialog-text").render())
        await pilot.press("escape")
        await pilot.press("p")
        await wait_until(pilot, lambda: notes.of("information"), "the pin notification")

    drive(app, scenario, notes=notes)
    assert any("[/] [bold red]boom" in n for n in notes.of("information"))


# -- pictures at 80x24 and 140x40 ---------------------------------------------------------
def _snapshot_app(archiver, clock, home):
    add_archived(archiver, home, "rec-1", LONG_NAME, 2)
    add_archived(archiver, home, "hostile-1", HOSTILE_NAME, 1)
    freeze_archive_details(archiver)
    with archiver.index.transaction():
        db = archiver.index.db  # tests set up rows directly
        db.execute("UPDATE sessions SET archive_size = original_size + 300 WHERE session_id = 'rec-1'")
    return make_app(archiver, clock)


def _then(*keys: str, conflict_file=None):
    async def run_before(pilot) -> None:
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)
        if conflict_file is not None:
            await wait_until(pilot, lambda: isinstance(pilot.app.screen, RestoreConflictScreen), "the conflict")
            await settle(pilot)

    return run_before


def test_picture_of_the_list_with_a_long_and_a_hostile_name_at_80x24(snap_compare, archiver, clock, home):
    assert snap_compare(_snapshot_app(archiver, clock, home), terminal_size=(80, 24), run_before=_then())


def test_picture_of_the_list_with_a_long_and_a_hostile_name_at_140x40(snap_compare, archiver, clock, home):
    assert snap_compare(_snapshot_app(archiver, clock, home), terminal_size=(140, 40), run_before=_then())


def test_picture_of_the_restore_question_at_80x24(snap_compare, archiver, clock, home):
    assert snap_compare(_snapshot_app(archiver, clock, home), terminal_size=(80, 24), run_before=_then("r"))


def test_picture_of_the_restore_question_at_140x40(snap_compare, archiver, clock, home):
    assert snap_compare(_snapshot_app(archiver, clock, home), terminal_size=(140, 40), run_before=_then("r"))


def _conflict_app(archiver, clock, home):
    app = _snapshot_app(archiver, clock, home)
    state = NATIVE[0]  # api debugging, third row: a different file is in its way
    (home / "history" / state.history_filename).write_text("edited since")
    return app


def test_picture_of_a_restore_conflict_at_80x24(snap_compare, archiver, clock, home):
    app = _conflict_app(archiver, clock, home)
    assert snap_compare(app, terminal_size=(80, 24), run_before=_then("down", "down", "r", "enter", conflict_file=True))


def test_picture_of_a_restore_conflict_at_140x40(snap_compare, archiver, clock, home):
    app = _conflict_app(archiver, clock, home)
    assert snap_compare(
        app, terminal_size=(140, 40), run_before=_then("down", "down", "r", "enter", conflict_file=True)
    )


def test_an_empty_home_and_a_search_without_hits_say_so_in_the_preview(home, clock):
    # A new user's first `termvault browse` showed an empty list and "No session
    # selected." with no word on how sessions get there; a search matching nothing
    # looked the same.
    from termvault import SessionArchiver

    archiver = SessionArchiver(home)
    app = make_app(archiver, clock)
    seen: list[str] = []

    async def scenario(pilot):
        seen.append(str(app.preview.body.render()))
        await pilot.press("slash", *"zebra")
        await wait_until(pilot, lambda: app.browser.filter.text == "zebra" and app.idle, "the search")
        await settle(pilot)
        seen.append(str(app.preview.body.render()))

    try:
        drive(app, scenario)
    finally:
        archiver.close()
    assert "No sessions are archived yet" in seen[0] and "press a" in seen[0]
    assert "No session matches" in seen[1]


def test_an_error_naming_what_was_typed_shows_it_as_text_and_the_browser_stays(archiver, clock):
    # The search's error repeats the query; the toast read it as markup: `NOT [/bold]`
    # ended the browser (exit 1, MarkupError) and `[@click=app.quit]y[/]` made a link
    # that quits.
    app = make_app(archiver, clock)
    notes = Notifications()
    query = "NOT [/bold] [@click=app.quit]y[/]"

    async def scenario(pilot):
        await pilot.press("slash", *query)
        await wait_until(pilot, lambda: notes.of("error"), "the search's error")
        for _ in range(5):
            await pilot.pause()
        assert app.is_running

    drive(app, scenario, notes=notes)
    [error] = notes.of("error")
    assert query in error
    assert all(not n.markup for n in notes.items if n.severity == "error")
