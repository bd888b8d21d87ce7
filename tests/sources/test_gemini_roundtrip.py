"""Gemini CLI sessions through the vault: swept in copy mode, restored and exported byte
for byte, with the metadata of hand-checked sessions in the index."""

from __future__ import annotations

import io

import pytest

from termvault.sources.gemini import GeminiSource

from .support import utc
from .test_gemini import JSONL_NAME, LARGE_NAME, gemini_layout

vault_module = pytest.importorskip("termvault.vault")


def test_every_session_round_trips_byte_for_byte_with_its_metadata(corpus, home, user_home, tmp_path):
    root = user_home / ".gemini" / "tmp"
    placed = gemini_layout(corpus, root)
    units = list(GeminiSource([root], home=home, env={"HOME": str(user_home)}).discover())
    ids = {u.files[0].origin.name: u.session_id for u in units}
    v = vault_module.Vault(home, sources={"gemini": {"roots": [str(root)], "mode": "copy"}}, settle_seconds=0)
    try:
        report = v.sweep(kinds=["gemini"], older_than=0)
        assert report.failed == []
        assert {e.session_id for e in report.archived} == {u.session_id for u in units}
        for unit in units:
            v.restore(unit.session_id, to=tmp_path / unit.session_id)
            for f in unit.files:
                assert (tmp_path / unit.session_id / f.relpath).read_bytes() == f.origin.read_bytes(), f.relpath
            buf = io.BytesIO()
            v.export(unit.session_id, buf, fmt="raw")
            assert buf.getvalue() == placed[unit.files[0].origin].read_bytes()  # the log, not the marker

        log = v.get(ids[JSONL_NAME])
        assert (log.name, log.source, log.file_count) == ("Say hello and list files.", "gemini", 2)
        assert log.working_directory == "/home/me/myproj"
        assert log.last_command == "Say hello and list files."
        assert log.created_at == utc("2026-04-29T21:39:22.319Z")
        assert log.last_activity_at == utc("2026-04-29T21:39:45.996Z")
        assert log.meta["model"] == "gemini-3-flash-preview" and log.meta["tool_call_count"] == 1

        record = v.get(ids[LARGE_NAME])
        assert record.name == "Run a command" and record.last_command == "Step 1"
        assert record.meta["extra"]["session_id"] == "session-2025-12-16T23-47-b4f17607"
    finally:
        v.close()


def test_an_archived_session_exports_as_readable_markdown(corpus, home, user_home):
    pytest.importorskip("termvault.render")
    root = user_home / ".gemini" / "tmp"
    gemini_layout(corpus, root)
    sid = next(
        u.session_id
        for u in GeminiSource([root], home=home, env={"HOME": str(user_home)}).discover()
        if u.files[0].origin.name == LARGE_NAME
    )
    v = vault_module.Vault(home, sources={"gemini": {"roots": [str(root)], "mode": "copy"}}, settle_seconds=0)
    try:
        v.sweep(kinds=["gemini"], older_than=0)
        text = io.BytesIO()
        v.export(sid, text, fmt="markdown")
        rendered = text.getvalue().decode()
        assert "Run a command" in rendered and "ls /non-existent-directory" in rendered
    finally:
        v.close()
