"""The browser searches as ``termvault search`` does (same sessions, same order, "N of M"),
opens a hit's preview at its match, and finds text within the session previewed."""

from __future__ import annotations

import json
import os
import time

import pytest
from textual.widgets import Input, Static

from termvault.tui import create_app
from termvault.tui.find import Jump, Rows, find_pattern, hit_terms, jump_of
from termvault.tui.preview import LIT_AROUND, PreviewPane
from termvault.tui.screens import PreviewScreen

from ..cli.support import invoke
from .conftest import CLAUDE_ID, DAY, NOW
from .helpers import drive, settle, wait_until

LONG_ID = "7a1d5c3e-2b4f-4e6a-9c8d-0f1e2d3c4b5a"
DEEP_WORD = "zephyrine"  # once, in a tool output two thirds of the way down the session
STEPS = 40


def long_transcript() -> str:
    """A Claude Code session of ``STEPS`` prompts, each answered by a Bash call whose
    output is 30 lines; step 28's output holds ``DEEP_WORD``; every step says "checkpoint"."""
    base = {"sessionId": LONG_ID, "cwd": "/home/dev/projects/pipeline", "version": "1.0.0"}
    t0 = NOW - 2 * DAY
    records = []
    for n in range(STEPS):
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0 + 60 * n))
        lines = [f"stage {n}.{k}: ok" for k in range(30)]
        if n == 28:
            lines[17] = f"stage {n}.17: {DEEP_WORD} checksum mismatch in shard 5"
        call = {"type": "tool_use", "id": f"t{n}", "name": "Bash", "input": {"command": f"./run-stage {n}"}}
        result = {"type": "tool_result", "tool_use_id": f"t{n}", "content": "\n".join(lines)}
        records += [
            {**base, "type": "user", "uuid": f"u{n}", "timestamp": at, "message": {"role": "user", "content": f"run stage {n}"}},
            {
                **base,
                "type": "assistant",
                "uuid": f"a{n}",
                "timestamp": at,
                "message": {"id": f"m{n}", "role": "assistant", "model": "claude-sonnet-4", "content": [
                    {"type": "text", "text": f"Running stage {n}, then a checkpoint."}, call,
                ]},
            },
            {**base, "type": "user", "uuid": f"r{n}", "timestamp": at, "message": {"role": "user", "content": [result]}},
        ]  # fmt: skip
    return "".join(json.dumps(r) + "\n" for r in records)


@pytest.fixture
def long_archive(archiver, user_home):
    """The browser tests' archive plus the long session, archived by a real sweep."""
    project = user_home / ".claude" / "projects" / "-home-dev-projects-pipeline"
    project.mkdir(parents=True)
    path = project / f"{LONG_ID}.jsonl"
    path.write_text(long_transcript(), encoding="utf-8")
    os.utime(path, (NOW - DAY, NOW - DAY))
    report = archiver.vault.sweep(kinds=["claude-code"])
    assert [e.session_id for e in report.archived] == [LONG_ID], report.to_dict()
    return archiver


def shown(app) -> list[str]:
    return [e.session_id for e in app.browser.entries]


def cli_ids(query: str) -> list[str]:
    result = invoke("search", query, "--json")
    return [hit["session_id"] for hit in json.loads(result.output or "[]")]


async def search_for(pilot, query: str) -> None:
    await pilot.press("slash", "ctrl+u", *query, "enter")
    await settle(pilot)


def visible(pane: PreviewPane, row: int) -> bool:
    return pane.scroll_y <= row < pane.scroll_y + pane.scrollable_content_region.height


def test_the_browser_lists_what_termvault_search_prints_for_the_same_words(long_archive, clock):
    app = create_app(archiver=long_archive, now=clock, cwd="/home/dev")
    # A word in two sessions (ranked), a phrase, and an identifier deep in a tool output.
    queries = {"release": 2, '"form resets"': 1, "stage": 1, DEEP_WORD: 1}

    async def scenario(pilot):
        assert str(app.query_one("#count", Static).render()) == "7 sessions"
        for query, count in queries.items():
            await search_for(pilot, query)
            assert shown(app) == cli_ids(query), query
            assert len(shown(app)) == count, query
            label = "1 session" if count == 1 else f"{count} sessions"
            assert str(app.query_one("#count", Static).render()) == label

    drive(app, scenario)


def test_the_count_says_how_many_of_all_the_matches_are_shown(long_archive, clock, monkeypatch):
    monkeypatch.setattr("termvault.tui.filters.SEARCH_LIMIT", 2)
    app = create_app(archiver=long_archive, now=clock, cwd="/home/dev")

    async def scenario(pilot):
        await search_for(pilot, "dev")  # every session's folder is under /home/dev
        assert len(shown(app)) == 2
        assert str(app.query_one("#count", Static).render()) == f"2 of {app.browser.total}"
        assert app.browser.total >= 3

    drive(app, scenario)


def test_a_hit_opens_its_preview_at_the_match_deep_in_a_tool_output(long_archive, clock):
    app = create_app(archiver=long_archive, now=clock, cwd="/home/dev")

    async def scenario(pilot):
        await search_for(pilot, DEEP_WORD)
        assert shown(app) == [LONG_ID]
        pane = app.preview
        await wait_until(pilot, lambda: pane.matches and pane.scroll_y > 0, "the preview scrolled to the match")
        start, end = pane.matches[0]
        assert pane.body.visual is not None
        # The folded tool output holding the word is shown whole, the word highlighted,
        # and the row it is drawn on is in view, far below the first screen.
        text = pane._content.plain if pane._content else ""
        assert text[start:end].lower() == DEEP_WORD
        assert "checksum mismatch in shard 5" in text
        row = pane.match_row()
        assert row is not None and row > 3 * pane.scrollable_content_region.height
        assert visible(pane, row)
        # The same hit opened full screen opens at the same match.
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, PreviewScreen)
        full = app.screen.query_one(PreviewPane)
        await wait_until(pilot, lambda: full.matches and full.scroll_y > 0, "the full preview at the match")
        row = full.match_row()
        assert row is not None and visible(full, row)

    drive(app, scenario, size=(140, 40))


def test_a_hit_that_names_its_turn_opens_at_the_match_in_that_turn(long_archive, clock):
    # "checkpoint" is in every step's answer; the search said it found it in step 30's.
    app = create_app(archiver=long_archive, now=clock, cwd="/home/dev")

    async def scenario(pilot):
        await search_for(pilot, "shard")
        pane = app.preview
        turns = pane.turns or []
        turn = next(n for n, t in enumerate(turns) if "Running stage 30," in (t.text or ""))
        pane.show(pane.entry, jump=Jump(("checkpoint",), turn))
        await wait_until(pilot, lambda: pane.match_label == f"31 of {STEPS}", "the match in that turn")
        await pilot.pause()
        row = pane.match_row()
        assert row is not None and visible(pane, row) and pane.scroll_y > 0
        # A turn without the terms: the preview opens at the turn, unfolded.
        tool_result = turn + 2
        assert turns[tool_result].role == "tool_result"
        pane.show(pane.entry, jump=Jump((), tool_result))
        await pilot.pause()
        await pilot.pause()
        text = pane._content.plain if pane._content else ""
        assert "stage 30.29: ok" in text  # the folded output shown whole
        assert visible(pane, pane.row_of(text.index("stage 30.0: ok")))

    drive(app, scenario, size=(140, 40))


def test_find_in_the_session_counts_the_matches_and_moves_between_them(long_archive, clock):
    app = create_app(archiver=long_archive, now=clock, cwd="/home/dev")

    async def scenario(pilot):
        await search_for(pilot, "shard")
        assert shown(app) == [LONG_ID]
        await pilot.press("enter")
        await settle(pilot)
        pane = app.screen.query_one(PreviewPane)
        count = app.screen.query_one("#find-count", Static)
        await pilot.press("slash", *"checkpoint")
        assert isinstance(app.focused, Input)
        await wait_until(pilot, lambda: str(count.render()) == f"1 of {STEPS}", "the first of the matches")
        first = pane.match_row()
        await pilot.press("enter", "enter")  # next, next
        assert str(count.render()) == f"3 of {STEPS}"
        third = pane.match_row()
        assert first is not None and third is not None and third > first
        await pilot.pause()
        assert visible(pane, third)
        await pilot.press("shift+tab")  # out of the box, into the preview: n and N step
        assert app.focused is pane
        await pilot.press("N")
        assert str(count.render()) == f"2 of {STEPS}"
        await pilot.press("N", "N")
        assert str(count.render()) == f"{STEPS} of {STEPS}"  # round the start to the last
        await pilot.pause()
        assert visible(pane, pane.match_row() or -1)
        await pilot.press("n")
        assert str(count.render()) == f"1 of {STEPS}"
        # A word nowhere in the session says so; escape closes the bar, the next goes back.
        await pilot.press("ctrl+f", *"absentword")
        assert str(count.render()) == "no match" and not pane.matches
        await pilot.press("escape")
        assert not pane.find_open and isinstance(app.screen, PreviewScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, PreviewScreen)

    drive(app, scenario, size=(100, 30))


def test_find_beside_the_list_looks_in_the_session_previewed(long_archive, clock):
    app = create_app(archiver=long_archive, now=clock, cwd="/home/dev")

    async def scenario(pilot):
        await search_for(pilot, "preventDefault")
        assert shown(app) == [CLAUDE_ID]
        await pilot.press("ctrl+f", *"form")
        await settle(pilot)
        assert app.preview.find_open and app.preview.match_label == f"1 of {len(app.preview.matches)}"
        assert len(app.preview.matches) >= 3  # the prompt, the tool output and the answer

    drive(app, scenario, size=(140, 40))


def test_finding_one_letter_lights_every_match_in_one_pass(long_archive, clock, monkeypatch):
    # Each match was lit by its own Content.stylize, which copies every span before it:
    # "x" in the preview of a large build log (297,480 matches) took 206 s of CPU for one
    # key press, the browser frozen. Now one pass, and only the matches around the
    # current one are lit (drawing 297,480 spans alone took Textual 11 s).
    from textual.content import Content

    app = create_app(archiver=long_archive, now=clock, cwd="/home/dev")
    copies = []
    stylize = Content.stylize
    monkeypatch.setattr(Content, "stylize", lambda self, *a, **k: copies.append(1) or stylize(self, *a, **k))

    async def scenario(pilot):
        await search_for(pilot, "shard")
        await pilot.press("ctrl+f", "e")
        await settle(pilot)
        pane = app.preview
        lit = [
            (sp.start, sp.end) for sp in pane.body.visual.spans if sp.style in (pane.MATCH_STYLE, pane.CURRENT_STYLE)
        ]
        assert len(pane.matches) > 1000
        assert sorted(lit) == pane.matches[: LIT_AROUND + 1]  # from the current one on
        assert len(copies) < 50  # not one copy of the whole text's styles per match
        await pilot.press("enter")  # the next: what is lit moves with it
        await pilot.pause()
        lit = [
            (sp.start, sp.end) for sp in pane.body.visual.spans if sp.style in (pane.MATCH_STYLE, pane.CURRENT_STYLE)
        ]
        assert sorted(lit) == pane.matches[: LIT_AROUND + 2]

    drive(app, scenario, size=(100, 30))


# -- the rules underneath -----------------------------------------------------------------
def test_the_find_pattern_matches_as_written_across_line_breaks_ignoring_case():
    pattern = find_pattern(["form resets", "Next.js"])
    assert pattern is not None
    assert pattern.search("the FORM\n  resets") and pattern.search("a next.js app")
    assert not pattern.search("nextajs") and not pattern.search("formresets")
    assert find_pattern(["", "  "]) is None


def test_a_hits_terms_are_what_its_snippet_highlighted():
    from termvault.index import ArchiveEntry
    from termvault.ops.search import SearchHit

    entry = ArchiveEntry("x", "x", NOW, NOW, "x.tar.zst", 1, 1, "/")
    hit = SearchHit(entry, snippet="…the Form resets when the form…", highlights=[(5, 16), (26, 30)])
    assert hit_terms(hit) == ["Form resets", "form"]
    assert hit_terms(None) == [] and hit_terms(SearchHit(entry)) == []
    assert jump_of(hit) == Jump(("Form resets", "form"), getattr(hit, "turn", None))
    assert jump_of(None) is None and jump_of(SearchHit(entry)) is None


def test_rows_count_the_lines_a_wrapped_text_takes_before_a_character():
    text = "short\n" + "word " * 30 + "\nlast target"
    rows = Rows(text, 20)
    assert rows.row_of(0) == 0
    assert rows.row_of(text.index("last")) == 1 + 8  # 150 characters of 5-letter words: 8 rows
    assert rows.row_of(text.index("target")) == rows.row_of(text.index("last"))
