"""Claude Code sessions through the vault: swept as copies, restored byte for byte, and
indexed with the metadata checked by hand in test_claude_code."""

from __future__ import annotations

import io

import pytest

from termvault.sources.claude_code import ClaudeCodeSource

from .support import restore_every_unit, sha256, sweep_copies, utc
from .test_claude_code import CHLOE, ORPHAN_FOLDER, TEAM, TODO, claude_layout


@pytest.fixture
def swept(corpus, home, user_home):
    root = user_home / ".claude" / "projects"
    placed = claude_layout(corpus, root)
    vault, report, units = sweep_copies(home, ClaudeCodeSource([root], home=home))
    yield vault, report, units, placed
    vault.close()


def test_every_session_is_archived_and_restored_byte_for_byte(swept, tmp_path):
    vault, report, units, placed = swept
    assert [(f.session_id, f.reason) for f in report.failed] == []
    assert sorted(e.session_id for e in report.archived) == sorted(units)
    restored = restore_every_unit(vault, units, tmp_path / "restored")
    assert restored.keys() == placed.keys()
    for origin, data in restored.items():
        assert sha256(data) == sha256(origin.read_bytes()), origin
    for sid, unit in units.items():
        assert vault.get(sid).file_count == len(unit.files)


def test_copy_mode_leaves_the_transcripts_in_place(swept):
    _, _, _, placed = swept
    for copy, original in placed.items():
        assert copy.read_bytes() == original.read_bytes()


def test_a_second_sweep_of_unchanged_sessions_archives_nothing(swept):
    vault, _, _, _ = swept
    again = vault.sweep(kinds=["claude-code"], older_than=0)
    assert again.archived == [] and again.failed == []


def test_the_index_holds_the_hand_checked_metadata(swept):
    vault, *_ = swept
    chloe = vault.get(CHLOE)
    assert (chloe.name, chloe.source, chloe.file_count) == ("Set up dotfiles configuration", "claude-code", 1)
    assert chloe.working_directory == "/Users/chloe/c/slay"
    assert chloe.last_command == "So I can't have an entire .claude/ directory for this project? It has to be global?"
    assert chloe.created_at == pytest.approx(utc("2026-05-03T00:20:03.895Z"))
    assert chloe.last_activity_at == pytest.approx(utc("2026-05-03T00:20:52.017Z"))
    assert chloe.meta["model"] == "claude-sonnet-4-6"
    assert chloe.meta["message_count"] == 4

    team = vault.get(TEAM)
    assert (team.name, team.last_command, team.file_count) == ("Create a team with 4 teammates TO", "proceed", 3)
    assert team.meta["extra"]["subagent_types"] == ["fix-engineer"]

    todo = vault.get(TODO)
    assert todo.name == "/orchestrator create TODO app by Next.js"
    assert vault.get(ORPHAN_FOLDER).file_count == 1


def test_raw_export_gives_the_transcript_bytes(swept):
    vault, _, units, _ = swept
    buf = io.BytesIO()
    vault.export(CHLOE, buf, fmt="raw")
    assert buf.getvalue() == units[CHLOE].files[0].origin.read_bytes()
