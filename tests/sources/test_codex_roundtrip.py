"""Codex rollouts through the vault: plain and zstd-compressed rollouts and archived
sessions swept as copies, restored byte for byte (compressed ones as the raw .zst bytes),
and indexed with the metadata checked by hand in test_codex."""

from __future__ import annotations

import io

import pytest

from termvault.sources.codex import CodexSource

from .support import restore_every_unit, sha256, sweep_copies, utc
from .test_codex import DASHBOARD, LEGACY, REVIEW, codex_layout


@pytest.fixture
def swept(corpus, home, user_home):
    codex_home = user_home / ".codex"
    placed = codex_layout(corpus, codex_home)
    roots = [codex_home / "sessions", codex_home / "archived_sessions"]
    vault, report, units = sweep_copies(home, CodexSource(roots, home=home))
    yield vault, report, units, placed
    vault.close()


def test_every_rollout_is_archived_and_restored_byte_for_byte(swept, tmp_path):
    vault, report, units, placed = swept
    assert [(f.session_id, f.reason) for f in report.failed] == []
    assert sorted(e.session_id for e in report.archived) == sorted(units)
    restored = restore_every_unit(vault, units, tmp_path / "restored")
    assert restored.keys() == placed.keys()
    for origin, data in restored.items():
        assert sha256(data) == sha256(placed[origin]), origin
    for path, data in placed.items():
        assert path.read_bytes() == data  # copy mode: sources untouched


def test_a_compressed_rollout_is_archived_as_its_raw_bytes_and_indexed_from_its_content(swept):
    vault, _, units, placed = swept
    buf = io.BytesIO()
    vault.export(REVIEW, buf, fmt="raw")
    assert buf.getvalue() == placed[units[REVIEW].files[0].origin]
    assert buf.getvalue()[:4] == b"\x28\xb5\x2f\xfd"  # still a zstd frame
    entry = vault.get(REVIEW)
    assert entry.name.startswith("Review the code changes against the base branch 'main'.")
    assert entry.working_directory == "/home/relu/misc/local-voice-assistant-codex"
    assert entry.created_at == pytest.approx(utc("2025-12-25T16:48:36.776Z"))
    assert entry.meta["git_branch"] == "001-stt-api"
    assert entry.meta["extra"]["compressed"] is True


def test_the_index_holds_the_hand_checked_metadata(swept):
    vault, *_ = swept
    dash = vault.get(DASHBOARD)
    assert dash.source == "codex"
    assert dash.last_command == "so prefetching isn't slowing down data loading for the intial load?"
    assert dash.meta["model"] == "gpt-5-codex"
    assert dash.meta["tool_call_count"] == 16
    legacy = vault.get(LEGACY)
    assert (legacy.name, legacy.working_directory) == ("Fix the flaky test in tests/test_io.py", "/home/me/legacy")
    assert legacy.last_command == "Thanks, now run the whole suite"
    assert legacy.meta["extra"]["format"] == "legacy"
