"""`termvault browse`, driven through the keyboard with a Pilot on a real archive."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input

from termvault import SessionState, SessionStorage
from termvault.tui import create_app
from termvault.tui.dialogs import ConfirmRestoreScreen, RestoreConflictScreen
from termvault.tui.messages import BrowserClosed
from termvault.tui.screens import (
    ExportScreen,
    HelpScreen,
    PreviewScreen,
    StatsScreen,
    SweepScreen,
)

from .conftest import CLAUDE_ID, DAY, NATIVE, NOW
from .helpers import Notifications, drive, settle, wait_until

ORDER = ["api-debug", CLAUDE_ID, "deploy-staging", "notes-weekly", "release-21", "db-migrate"]


def history_file(home: Path, state: SessionState) -> Path:
    return home / "history" / f"{int(state.modified_at)}_{state.session_id}.json"


def native(session_id: str) -> SessionState:
    return next(s for s in NATIVE if s.session_id == session_id)


def shown(app) -> list[str]:
    return [e.session_id for e in app.browser.entries]


def make_app(archiver, clock, **options):
    options.setdefault("cwd", "/home/dev/projects/api")
    return create_app(archiver=archiver, now=clock, **options)


def test_the_list_starts_with_every_session_newest_first(archiver, clock):
    app = make_app(archiver, clock)

    async def scenario(pilot):
        assert shown(app) == ORDER
        table = app.query_one("#sessions", DataTable)
        assert [str(c) for c in table.get_row_at(0)[:3]] == ["api debugging", "native", "4d ago"]

    drive(app, scenario)


def test_typing_a_query_filters_the_rows_as_you_type(archiver, clock):
    app = make_app(archiver, clock)

    async def scenario(pilot):
        await pilot.press("slash", *"preventDefault")
        await wait_until(pilot, lambda: shown(app) == [CLAUDE_ID], "the full-text match")
        await pilot.press("ctrl+u", *"KeyErr")
        await wait_until(pilot, lambda: shown(app) == ["api-debug"], "the full-text match")
        await pilot.press("ctrl+u")
        await wait_until(pilot, lambda: shown(app) == ORDER, "the whole list again")

    drive(app, scenario)


def test_enter_in_the_search_box_searches_at_once_and_returns_to_the_list(archiver, clock):
    app = make_app(archiver, clock, debounce=3600)  # typing alone would never search

    async def scenario(pilot):
        await pilot.press("slash", *"deploy")
        await pilot.pause()
        assert shown(app) == ORDER and app.browser.busy  # still waiting for the pause in typing
        await pilot.press("enter")
        await wait_until(pilot, lambda: shown(app) == ["deploy-staging"], "the search on Enter")
        assert isinstance(app.focused, DataTable)

    drive(app, scenario)


def test_r_restores_the_session_under_the_moved_cursor_byte_for_byte(archiver, clock, home):
    app = make_app(archiver, clock)
    target = history_file(home, native("deploy-staging"))
    assert not any((home / "history").iterdir())

    async def scenario(pilot):
        await pilot.press("down", "down")
        assert app.browser.selected_entry.session_id == "deploy-staging"
        await pilot.press("r")
        assert isinstance(app.screen, ConfirmRestoreScreen) and not target.exists()  # asks first
        await pilot.press("enter")
        await wait_until(pilot, target.exists, "the restored file")
        await settle(pilot)

    drive(app, scenario)
    assert target.read_bytes() == native("deploy-staging").to_json()
    assert [p.name for p in (home / "history").iterdir()] == [target.name]


def test_a_restore_conflict_offers_beside_and_replace_and_cancel_keeps_the_file(archiver, clock, home):
    app = make_app(archiver, clock)
    target = history_file(home, native("deploy-staging"))
    edited = '{"session_id": "deploy-staging", "name": "edited since"}'
    target.write_text(edited)
    notes = Notifications()

    async def scenario(pilot):
        await pilot.press("down", "down", "r", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, RestoreConflictScreen), "the conflict dialog")
        text = str(app.screen.query_one(".dialog-text").render())
        assert "differs from the archived copy" in text and "--force" not in text
        assert "Restore beside" in text and "Replace" in text
        await pilot.press("escape")
        await settle(pilot)

    drive(app, scenario, notes=notes)
    assert target.read_text() == edited
    assert notes.of("error") == []


def test_replace_on_a_conflict_restores_and_keeps_the_current_file_aside(archiver, clock, home):
    app = make_app(archiver, clock)
    target = history_file(home, native("deploy-staging"))
    edited = '{"session_id": "deploy-staging", "name": "edited since"}'
    target.write_text(edited)

    async def scenario(pilot):
        await pilot.press("down", "down", "r", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, RestoreConflictScreen), "the conflict dialog")
        await pilot.press("k")
        await wait_until(pilot, lambda: target.read_bytes() == native("deploy-staging").to_json(), "the restore")
        await settle(pilot)

    drive(app, scenario)
    kept = [p for p in (home / "history").iterdir() if ".termvault-old-" in p.name]
    assert len(kept) == 1 and kept[0].read_text() == edited


def test_restore_beside_on_a_conflict_leaves_the_current_file_and_writes_a_new_folder(archiver, clock, home):
    app = make_app(archiver, clock)
    target = history_file(home, native("deploy-staging"))
    edited = '{"session_id": "deploy-staging", "name": "edited since"}'
    target.write_text(edited)

    async def scenario(pilot):
        await pilot.press("down", "down", "r", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, RestoreConflictScreen), "the conflict dialog")
        await pilot.press("b")
        await wait_until(pilot, lambda: list(home.glob("history-restored-*")), "the folder beside")
        await settle(pilot)

    drive(app, scenario)
    assert target.read_text() == edited
    (beside,) = home.glob("history-restored-*")
    assert (beside / target.name).read_bytes() == native("deploy-staging").to_json()


def test_escape_steps_back_from_the_search_to_the_list_and_never_quits(archiver, clock):
    app = make_app(archiver, clock)
    closed: list[BrowserClosed] = []
    notes = Notifications()

    def hook(message):
        notes(message)
        if isinstance(message, BrowserClosed):
            closed.append(message)

    async def main():
        async with app.run_test(size=(80, 24), message_hook=hook) as pilot:
            await settle(pilot)
            await pilot.press("slash", *"deploy")
            assert isinstance(app.focused, Input) and app.focused.id == "search"
            await pilot.press("escape")
            assert isinstance(app.focused, DataTable)
            await pilot.press("escape")  # clears the search: back to every session
            await wait_until(pilot, lambda: shown(app) == ORDER, "the full list")
            assert app.browser.search_input.value == ""
            await pilot.press("escape")  # nothing left to step back from: says how to quit
            await pilot.pause()
            assert not closed and app.is_running
            assert "Press q to quit." in notes.of("information")
            await pilot.press("q")
            await pilot.pause()
            assert app.return_code == 0

    import asyncio

    asyncio.run(main())


def test_the_filter_key_cycles_this_folder_and_each_source(archiver, clock):
    app = make_app(archiver, clock)

    async def scenario(pilot):
        await pilot.press("f")
        await wait_until(pilot, lambda: shown(app) == ["api-debug", "deploy-staging"], "this folder")
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: shown(app) == [CLAUDE_ID], "claude-code only")
        await pilot.press("f")
        await wait_until(pilot, lambda: CLAUDE_ID not in shown(app) and len(shown(app)) == 5, "native only")
        await pilot.press("f")
        await wait_until(pilot, lambda: shown(app) == ORDER, "all sessions again")
        assert "all sessions" in str(app.query_one("#scope").render())

    drive(app, scenario)


def test_a_date_range_limits_the_rows_and_a_bad_one_is_flagged_and_no_longer_applied(archiver, clock):
    app = make_app(archiver, clock)
    notes = Notifications()

    async def scenario(pilot):
        await pilot.press("d", *"2024-01-01..2024-02-20", "enter")
        await wait_until(pilot, lambda: shown(app) == ["notes-weekly", "release-21"], "the range")
        dates = app.query_one("#dates", Input)
        await pilot.press("d", "ctrl+u", *"7d", "enter")
        await wait_until(pilot, lambda: shown(app) == ["api-debug", CLAUDE_ID], "the last 7 days")
        await pilot.press("d", "ctrl+u", *"soon", "enter")
        await wait_until(pilot, lambda: notes.of("error"), "the error")
        assert dates.has_class("-invalid") and dates.value == "soon"
        # The field no longer says 7d, so 7d no longer filters: every session, and the
        # filter line says the dates are not applied.
        await wait_until(pilot, lambda: shown(app) == ORDER, "every session")
        assert "dates: invalid, not applied" in str(app.query_one("#scope").render())
        assert "Showing all dates" in notes.of("error")[0]

    drive(app, scenario, notes=notes)
    assert "'soon' is not a date" in notes.of("error")[0]


def test_the_preview_shows_roles_and_folds_tool_calls_until_unfolded(archiver, clock):
    app = make_app(archiver, clock)

    async def scenario(pilot):
        await pilot.press("down")
        await settle(pilot)
        text = app.preview.body.render().plain
        assert "▌ You" in text and "Why does the login form reset" in text
        assert "▌ Assistant (claude-sonnet-4)" in text
        assert "▸ Read  src/login.tsx" in text and '"file_path"' not in text  # the call for people
        assert "(+3 lines)" in text and "const onSubmit" not in text
        await pilot.press("enter")
        assert isinstance(app.screen, PreviewScreen)
        await settle(pilot)
        await pilot.press("t")
        full = app.screen.query_one("PreviewPane").body.render().plain
        assert "const onSubmit = (e) => save(e.target);" in full
        await pilot.press("escape")
        assert not isinstance(app.screen, PreviewScreen)

    drive(app, scenario)


def test_the_preview_of_a_terminal_session_is_plain_text(archiver, clock):
    app = make_app(archiver, clock)

    async def scenario(pilot):
        text = app.preview.body.render().plain
        assert "$ pytest -x tests/test_auth.py" in text
        assert "FAILED tests/test_auth.py::test_token_refresh - KeyError: 'exp'" in text
        assert "\x1b" not in text and "[31m" not in text

    drive(app, scenario)


def test_p_pins_and_unpins_the_selected_session(archiver, clock):
    app = make_app(archiver, clock)

    async def scenario(pilot):
        await pilot.press("down", "p")
        await wait_until(pilot, lambda: app.browser.entries[1].pinned, "the pin")
        assert archiver.vault.get(CLAUDE_ID).pinned
        assert app.query_one("#sessions", DataTable).get_row_at(1)[0].plain.startswith("* ")
        await pilot.press("p")
        await wait_until(pilot, lambda: not app.browser.entries[1].pinned, "the unpin")
        assert not archiver.vault.get(CLAUDE_ID).pinned

    drive(app, scenario)


def test_y_copies_the_full_session_id(archiver, clock):
    app = make_app(archiver, clock)

    async def scenario(pilot):
        await pilot.press("down", "y")
        assert app.clipboard == CLAUDE_ID

    drive(app, scenario)


def test_export_writes_the_raw_session_byte_for_byte_to_the_chosen_file(archiver, clock, tmp_path):
    app = make_app(archiver, clock, cwd=str(tmp_path))
    target = tmp_path / "deploy.json"

    async def scenario(pilot):
        await pilot.press("down", "down", "e")
        screen = app.screen
        assert isinstance(screen, ExportScreen)
        assert screen.query_one("#export-path", Input).value == str(tmp_path / "deploy-staging.md")
        screen.query_one("#format-raw").value = True
        await pilot.pause()
        assert screen.query_one("#export-path", Input).value == str(tmp_path / "deploy-staging.raw")
        screen.query_one("#export-path", Input).value = str(target)
        await pilot.click("#export-ok")
        await wait_until(pilot, target.exists, "the export")
        await settle(pilot)

    drive(app, scenario)
    assert target.read_bytes() == native("deploy-staging").to_json()
    assert target.stat().st_mode & 0o777 == 0o600


def test_export_refuses_to_overwrite_an_existing_file(archiver, clock, tmp_path):
    app = make_app(archiver, clock, cwd=str(tmp_path))
    target = tmp_path / "taken.md"
    target.write_text("mine")
    notes = Notifications()

    async def scenario(pilot):
        await pilot.press("e")
        app.screen.query_one("#export-path", Input).value = "taken.md"
        await pilot.press("enter")
        await wait_until(pilot, lambda: notes.of("error"), "the refusal")

    drive(app, scenario, notes=notes)
    assert "already exists" in notes.of("error")[0]
    assert target.read_text() == "mine"


def test_export_as_markdown_renders_the_conversation(archiver, clock, tmp_path):
    pytest.importorskip("termvault.render")
    app = make_app(archiver, clock, cwd=str(tmp_path))

    async def scenario(pilot):
        await pilot.press("down", "e", "enter")
        await wait_until(pilot, (tmp_path / f"{CLAUDE_ID}.md").exists, "the export")
        await settle(pilot)

    drive(app, scenario)
    assert "preventDefault" in (tmp_path / f"{CLAUDE_ID}.md").read_text()


def test_the_sweep_action_archives_what_is_due_and_reports_progress(archiver, clock, home):
    state = SessionState(
        "late-one",
        name="late session",
        working_directory="/tmp/w",
        created_at=NOW - 30 * DAY,
        modified_at=NOW - 30 * DAY,
        output_snapshot="make\n" * 50,
    )
    path = SessionStorage(home, enable_auto_archive=False).save_session(state)
    os.utime(path, (state.modified_at, state.modified_at))
    app = make_app(archiver, clock)

    async def scenario(pilot):
        await pilot.press("a")
        screen = app.screen
        assert isinstance(screen, SweepScreen)
        await wait_until(pilot, lambda: not screen.loading_data, "the sweep")
        assert [e.session_id for e in screen.report.archived] == ["late-one"]
        bar = screen.query_one("#sweep-bar")
        assert bar.total == 1 and bar.progress == 1
        await pilot.press("escape")
        await wait_until(pilot, lambda: "late-one" in shown(app), "the refreshed list")

    drive(app, scenario)
    assert not path.exists()


def test_stats_screen_shows_space_saved_per_source_and_month(archiver, clock):
    app = make_app(archiver, clock)

    async def scenario(pilot):
        await pilot.press("s")
        assert isinstance(app.screen, StatsScreen)
        await settle(pilot)
        text = app.screen.query_one("#stats-text").render().plain
        for expected in (
            "Space saved per source",
            "claude-code",
            "native",
            "5 sessions",
            "Space saved per month",
            "2024-03",
            "2024-02",
            "2024-01",
            "2023-12",
        ):
            assert expected in text
        assert "█" in text
        await pilot.press("escape")
        assert not isinstance(app.screen, StatsScreen)

    drive(app, scenario)


def test_question_mark_lists_the_keys(archiver, clock):
    app = make_app(archiver, clock)

    async def scenario(pilot):
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = app.screen.query_one("Static").render().plain
        for key, what in (("r", "restore"), ("/", "search"), ("e", "export"), ("p", "pin"), ("s", "statistics")):
            assert f"  {key} " in text and what in text
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)

    drive(app, scenario)


def test_the_pager_is_refused_politely_where_the_screen_cannot_be_handed_over(archiver, clock):
    pytest.importorskip("termvault.render")
    app = make_app(archiver, clock)
    notes = Notifications()

    async def scenario(pilot):
        await pilot.press("o")
        await wait_until(pilot, lambda: notes.of("error"), "the refusal")

    drive(app, scenario, notes=notes)
    assert "cannot hand the screen to a pager" in notes.of("error")[0]


def test_create_app_opens_the_home_with_its_config_file(archiver, clock, home, tmp_path):
    config = tmp_path / "other.toml"
    config.write_text("archive_days = 3\n")
    app = create_app(home, config, now=clock, cwd="/")

    async def scenario(pilot):
        assert shown(app) == ORDER
        assert str(app.query_one("#stats").render()).endswith("archive after 3 days")

    drive(app, scenario)
