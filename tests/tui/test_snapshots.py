"""Pictures of the browser (pytest-textual-snapshot). Deterministic: fixed sessions, a
frozen clock and time zone, archive times and sizes pinned, every load awaited.
Regenerate with ``pytest tests/tui --snapshot-update`` and look at what changed."""

from __future__ import annotations

from termvault.tui import create_app

from .conftest import freeze_archive_details
from .helpers import settle


def browser_app(archiver, clock):
    freeze_archive_details(archiver)
    return create_app(archiver=archiver, now=clock, cwd="/home/dev/projects/api")


def then(*keys: str):
    """A run_before that presses ``keys`` and waits for everything they load."""

    async def run_before(pilot) -> None:
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)

    return run_before


def test_main_screen_at_80x24(snap_compare, archiver, clock):
    assert snap_compare(browser_app(archiver, clock), terminal_size=(80, 24), run_before=then())


def test_main_screen_with_the_preview_beside_the_list_at_140x40(snap_compare, archiver, clock):
    assert snap_compare(browser_app(archiver, clock), terminal_size=(140, 40), run_before=then("down"))


def test_full_preview_of_a_conversation_at_80x24(snap_compare, archiver, clock):
    assert snap_compare(browser_app(archiver, clock), terminal_size=(80, 24), run_before=then("down", "enter"))


def test_full_preview_finding_a_word_at_80x24(snap_compare, archiver, clock):
    # "2 of 6": every "form" highlighted, the second one current.
    keys = ("down", "enter", "slash", "f", "o", "r", "m", "enter")
    assert snap_compare(browser_app(archiver, clock), terminal_size=(80, 24), run_before=then(*keys))


def test_stats_screen_at_80x24(snap_compare, archiver, clock):
    assert snap_compare(browser_app(archiver, clock), terminal_size=(80, 24), run_before=then("s"))


def test_stats_screen_in_the_light_theme_at_120x36(snap_compare, archiver, clock):
    app = browser_app(archiver, clock)

    async def run_before(pilot) -> None:
        app.theme = "textual-light"
        await then("s")(pilot)

    assert snap_compare(app, terminal_size=(120, 36), run_before=run_before)


def test_help_screen_at_80x24(snap_compare, archiver, clock):
    assert snap_compare(browser_app(archiver, clock), terminal_size=(80, 24), run_before=then("question_mark"))
