"""A native session renders the conversation its ``conversation_file`` holds, inline, and
its terminal snapshot whether stored as one string or as a list of lines."""

from __future__ import annotations

import io
import json
import shutil
import time

import pytest

from termvault.archiver import SessionArchiver
from termvault.render import render
from termvault.sources.base import Message

from .helpers import make_native
from .render_corpus import CODEX_AGENTS_MD, TODO


def exported(archiver: SessionArchiver, session_id: str, fmt: str) -> str:
    out = io.BytesIO()
    archiver.vault.export(session_id, out, fmt=fmt)
    return out.getvalue().decode("utf-8")


@pytest.mark.corpus
def test_a_native_sessions_claude_transcript_is_rendered_as_its_conversation(corpus, home, user_home):
    transcript = user_home / ".claude" / "projects" / "p" / "fe5e1c67.jsonl"
    transcript.parent.mkdir(parents=True)
    shutil.copyfile(corpus / "claude_code_jsonl" / f"{TODO}.jsonl", transcript)
    make_native(home, "withconv", age_days=40, conversation_file=str(transcript))
    archiver = SessionArchiver(home, archive_days=7)
    assert archiver.auto_archive_old_sessions()["archived_count"] == 1

    md = exported(archiver, "withconv", "markdown")
    assert "(conversation file" not in md
    assert "**conversation file**" in md and "fe5e1c67.jsonl" in md
    assert md.count("\n## User") >= 2 and "\n## Assistant" in md
    assert md.count("<details><summary>Sub-agent: #") == 5
    # The terminal's own last command and output follow the conversation.
    assert md.index("## Assistant") < md.index("output of withconv")
    html = exported(archiver, "withconv", "html")
    assert '<nav class="toc"' in html and html.count('<details class="subagent">') == 5


@pytest.mark.corpus
def test_a_native_sessions_codex_rollout_is_rendered_as_its_conversation(corpus, home, user_home):
    rollout = user_home / ".codex" / "sessions" / "rollout-2025-12-26T01-48-36-x.jsonl"
    rollout.parent.mkdir(parents=True)
    shutil.copyfile(corpus / "codex_rollout_jsonl" / f"{CODEX_AGENTS_MD}.jsonl", rollout)
    make_native(home, "withcodex", age_days=40, conversation_file=str(rollout))
    archiver = SessionArchiver(home, archive_days=7)
    assert archiver.auto_archive_old_sessions()["archived_count"] == 1
    md = exported(archiver, "withcodex", "markdown")
    assert "\n## User" in md and "<details><summary>Scaffolding (AGENTS.md)" in md


def test_a_terminal_snapshot_kept_as_a_list_of_lines_renders_as_lines(home):
    history = home / "history"
    history.mkdir(parents=True)
    old = time.time() - 40 * 86400
    state = {
        "session_id": "lines",
        "name": "lines",
        "created_at": old,
        "modified_at": old,
        "last_command": "ls",
        "output_snapshot": ["total 2", "a.txt", "b.txt"],
    }
    path = history / f"{int(old)}_lines.json"
    path.write_text(json.dumps(state), encoding="utf-8")
    from termvault.sources.native import NativeSource
    from termvault.streams import DiskFile

    messages = list(NativeSource(home=home).messages([DiskFile(path.name, path.stat().st_size, path)]))
    assert [(m.role, m.text) for m in messages] == [("input", "ls"), ("output", "total 2\na.txt\nb.txt")]


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_a_message_whose_text_is_a_list_of_lines_renders_one_line_each(fmt):
    doc = "".join(render([Message("output", ["first line", "second line"], 1714564800.0)], fmt))  # type: ignore[arg-type]
    assert "first line\nsecond line" in doc and "['first line'" not in doc


def test_a_history_file_without_times_keeps_its_file_names_time_not_the_archiving_time():
    # The app always writes modified_at and created_at, but a file written by hand or by an
    # older version may lack them: its last activity is then the time in its file name (as
    # the sweep decided it was due), and no creation time is made up; it used to be
    # "now", so `show` said it was created after its last activity.
    from pathlib import Path

    from termvault.sources.native import NativeSource

    from .sources.support import MemoryFile

    src = NativeSource(home=Path("unused"), env={"HOME": "/nonexistent"})
    info = src.parse([MemoryFile("1700000000_s1.json", json.dumps({"session_id": "s1", "name": "n"}).encode())])
    assert (info.name, info.last_activity_at, info.created_at) == ("n", 1700000000.0, None)
    full = {"session_id": "s1", "created_at": 1690000000.5, "modified_at": 1700000000.25}
    info = src.parse([MemoryFile("1700000000_s1.json", json.dumps(full).encode())])
    assert (info.last_activity_at, info.created_at) == (1700000000.25, 1690000000.5)


def test_a_typed_command_is_a_code_block_in_markdown_never_rendered_markup():
    # `*.py` would turn into emphasis and a tag into HTML a markdown viewer renders.
    typed = 'ls *.py && echo "<img src=x onerror=alert(1)>" # **not bold**'
    doc = "".join(render([Message("input", typed, 1714564800.0), Message("output", "a.py", 1714564801.0)], "markdown"))
    fence = doc.index("```sh\n" + typed + "\n```")
    assert doc.count(typed) == 1 and doc.rfind("## Input", 0, fence) >= 0
    assert "**not bold**" not in doc.replace(typed, "")
