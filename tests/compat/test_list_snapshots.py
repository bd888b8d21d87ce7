"""The app's ``output_snapshot`` is a list of lines: the preview, ``show`` and every export
render it as those lines; and nothing any parser accepted (generated native sessions,
every source's sample files) crashes the preview or an export."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest
from claude_multi_terminal.persistence.session_state import SessionState
from claude_multi_terminal.persistence.storage import SessionStorage
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from termvault import SessionArchiver, Vault
from termvault.index import ArchiveEntry
from termvault.render import render
from termvault.sources import source_class
from termvault.streams import DiskFile
from termvault.tui.preview import render_session

from ..sources.support import MemoryFile

DAY = 86400.0
LINES = ["$ make test", "\x1b[32m12 passed\x1b[0m in 0.4s", "", "done: ['not a repr']"]
RENDERED = ("text", "markdown", "jsonl")


@pytest.fixture
def archived(home) -> Vault:
    storage = SessionStorage(home, enable_auto_archive=False)
    s = SessionState(
        "lst1",
        "list snapshot",
        "/home/me/p",
        time.time() - 41 * DAY,
        time.time() - 40 * DAY,
        1,
        "make test",
        None,
        LINES,
        False,
    )
    storage.save_session_to_history(s)
    SessionArchiver(home, archive_days=30).auto_archive_old_sessions()
    return Vault(home)


def exported(vault: Vault, fmt: str) -> str:
    out = io.BytesIO()
    vault.export("lst1", out, fmt)
    return out.getvalue().decode("utf-8")


def test_text_and_markdown_exports_show_the_snapshot_lines_not_a_python_list(archived):
    for fmt in ("text", "markdown"):
        text = exported(archived, fmt)
        assert "$ make test\n" in text and "12 passed" in text and " in 0.4s\n" in text, fmt
        assert "['$ make test'" not in text and "'\\x1b" not in text, fmt
        # One line of output per snapshot line, in order.
        assert text.index("$ make test") < text.index("12 passed") < text.index("done: ['not a repr']")


def test_the_jsonl_export_carries_the_snapshot_as_one_text_of_lines(archived):
    records = [json.loads(line) for line in exported(archived, "jsonl").splitlines() if line.strip()]
    outputs = [r["text"] for r in records if r["role"] == "output"]
    assert outputs and outputs[0].split("\n")[0] == "$ make test"
    assert "12 passed" in outputs[0]


def test_the_raw_export_is_the_app_s_file_byte_for_byte(archived, home):
    raw = exported(archived, "raw")
    assert json.loads(raw)["output_snapshot"] == LINES


def test_the_preview_shows_the_snapshot_lines(archived):
    entry = archived.get("lst1")
    plain = render_session(entry, archived.messages("lst1")).plain
    assert "$ make test\n12 passed in 0.4s\n\ndone: ['not a repr']" in plain


def test_the_index_text_finds_a_word_of_the_snapshot_and_not_the_list_syntax(archived):
    hits = archived.search("passed")
    assert [h.entry.session_id for h in hits] == ["lst1"]
    snippet = hits[0].snippet or ""
    assert "$ make test 12 passed in 0.4s" in snippet  # the lines, escape codes gone
    assert "['$" not in snippet and "\x1b" not in snippet


def test_show_prints_an_app_session(archived):
    from ..cli.support import invoke

    result = invoke("show", "lst1")
    assert result.exit_code == 0 and "list snapshot" in result.output and "make test" in result.output


# -- nothing a parser accepted crashes the preview or an export --------------------------


def entry_for(info, kind: str) -> ArchiveEntry:
    return ArchiveEntry(
        "x1",
        info.name or "x1",
        time.time(),
        info.last_activity_at or 0.0,
        "2024/01/1_x1.tar.zst",
        1,
        1,
        info.working_directory or "",
        info.last_command,
        source=kind,
        meta=info.metadata(),
    )


def preview_and_export(kind: str, refs) -> None:
    src = source_class(kind)(None, home=Path("/nonexistent-home"))
    info = src.parse(refs)
    turns = list(src.messages(refs))
    assert all(isinstance(t.text, str) for t in turns)
    assert isinstance(render_session(entry_for(info, kind), turns).plain, str)
    for fmt in RENDERED:
        assert isinstance("".join(render(turns, fmt, header={"session_id": "x1"})), str)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=12,
)
snapshot = st.one_of(st.lists(st.text(), max_size=30), st.text(), json_values)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snapshot=snapshot, name=json_values, command=json_values, modified=json_values)
def test_generated_native_sessions_preview_and_export_without_error(snapshot, name, command, modified):
    doc = {
        "session_id": "gen1",
        "name": name,
        "working_directory": "/w",
        "created_at": 1.0,
        "modified_at": modified,
        "command_count": 1,
        "last_command": command,
        "conversation_file": None,
        "output_snapshot": snapshot,
        "is_active": False,
    }
    data = json.dumps(doc).encode()
    preview_and_export("native", [MemoryFile("1_gen1.json", data)])


@settings(max_examples=60, deadline=None)
@given(lines=st.lists(st.text(), max_size=40))
def test_a_list_snapshot_round_trips_through_the_session_state(lines):
    s = SessionState("rt1", "n", "/w", 1.0, 2.0, output_snapshot=lines)
    assert SessionState.from_json(s.to_app_json()).output_snapshot == lines
    assert s.output_text == "\n".join(lines)


CORPUS_KINDS = {
    "aider_history_md": "aider",
    "asciinema_cast": "asciinema",
    "claude_code_jsonl": "claude-code",
    "codex_rollout_jsonl": "codex",
    "gemini_cli_json": "gemini",
    "terminal_logs": "agent-log",
}


@pytest.mark.parametrize("folder", sorted(CORPUS_KINDS))
def test_every_sample_file_of_every_source_previews_and_exports(corpus, folder):
    files = sorted(p for p in (corpus / folder).iterdir() if p.is_file())
    assert files
    for path in files:
        preview_and_export(CORPUS_KINDS[folder], [DiskFile(path.name, path.stat().st_size, path)])
