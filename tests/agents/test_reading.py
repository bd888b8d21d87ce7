"""The reader behind the MCP tools, in process: turns, pages and cleaning."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from termvault import Vault
from termvault.agents import reading
from termvault.agents.reading import SessionReader, _page, clean, split_turns
from termvault.errors import UsageError
from termvault.sources.base import Message

from ..sources.test_claude_code import assistant, user
from ..test_redact import ANTHROPIC

SID = "4d5e6f70-8192-4a3b-9c4d-5e6f708192a3"


def _home_with_a_long_session(home, user_home, monkeypatch, prompts: int = 40):
    monkeypatch.setenv("TERMVAULT_SETTLE_SECONDS", "0")
    folder = user_home / ".claude" / "projects" / "-home-dev-shop"
    folder.mkdir(parents=True)
    lines = []
    for n in range(prompts):
        ts = f"2025-03-01T10:{n:02d}:00Z"
        lines.append(user(f"prompt number {n}: explain step {n}", ts=ts, cwd="/home/dev/shop"))
        lines.append(
            assistant(
                [{"type": "text", "text": f"Step {n} explained.\n" + "detail line\n" * 30}],
                ts=ts,
                mid=f"m{n}",
                cwd="/home/dev/shop",
            )
        )
    (folder / f"{SID}.jsonl").write_text("\n".join(lines) + "\n")
    vault = Vault(home)
    vault.sweep(older_than=0, kinds=["claude-code"])
    return vault


def test_turns_start_at_each_user_prompt_and_turn_zero_holds_what_comes_before():
    messages = [
        Message("system", "s"),
        Message("user", "a"),
        Message("assistant", "b"),
        Message("tool", "c"),
        Message("user", "d"),
    ]

    turns = split_turns(messages)

    assert [[m.text for m in t] for t in turns] == [["s"], ["a", "b", "c"], ["d"]]
    assert split_turns([Message("user", "a")])[0] == []


@given(st.lists(st.text(alphabet="ab\n", max_size=50), max_size=20), st.integers(min_value=2, max_value=60))
def test_pages_are_bounded_and_join_up_to_the_whole_document(pieces, size):
    whole = "".join(pieces)
    out, offset = [], 0
    while True:
        text, more = _page(iter(pieces), offset, size)
        assert len(text) <= size
        out.append(text)
        offset += len(text)
        if not more:
            break
        assert text  # progress on every page

    assert "".join(out) == whole


def test_clean_removes_escape_sequences_and_controls_and_redacts():
    assert clean(f"\x1b[31mkey={ANTHROPIC}\x1b[0m\x07 ok\r\n") == "key=[REDACTED:anthropic-key] ok\n"
    assert clean(None) == ""


def test_a_session_too_large_to_keep_reads_the_same_pages(home, user_home, monkeypatch):
    vault = _home_with_a_long_session(home, user_home, monkeypatch)
    with vault:
        kept = SessionReader(vault)
        pages_kept = _all_pages(kept)
        monkeypatch.setattr(reading, "DOC_CACHE_CHARS", 1000)
        streamed = SessionReader(vault)
        pages_streamed = _all_pages(streamed)

    assert len(pages_kept) > 3
    assert pages_kept == pages_streamed
    assert streamed._document is None  # really took the streaming path


def _all_pages(reader: SessionReader) -> list[str]:
    pages, cursor = [], None
    while True:
        page = reader.read(SID, detail="conversation", max_chars=4000, cursor=cursor)
        pages.append(page["markdown"])
        cursor = page["next_cursor"]
        if cursor is None:
            return pages


def test_a_long_outline_keeps_its_first_and_last_prompts(home, user_home, monkeypatch):
    vault = _home_with_a_long_session(home, user_home, monkeypatch, prompts=130)
    with vault:
        shown = SessionReader(vault).show(SID)

    assert shown["turns"] == 130 and shown["prompts_omitted"] == 30
    turns = [p["turn"] for p in shown["prompts"]]
    assert turns == list(range(1, 51)) + list(range(81, 131))
    assert shown["prompts"][-1]["prompt"] == "prompt number 129: explain step 129"


@pytest.mark.parametrize("folder", ["shop", "../..", "."])
def test_a_relative_project_folder_is_refused_not_taken_from_the_server_s_own_folder(
    home, user_home, monkeypatch, tmp_path, folder
):
    # The server's working folder is wherever the agent started it: "../.." resolved
    # against it listed the sessions of "/" (every session) as "recent in this project".
    vault = _home_with_a_long_session(home, user_home, monkeypatch, prompts=1)
    monkeypatch.chdir(tmp_path)
    with vault, pytest.raises(UsageError, match="absolute path"):
        SessionReader(vault).recent(folder)


def test_the_reader_and_resume_import_no_ui_framework_and_no_mcp_sdk():
    code = (
        "import json, sys\n"
        "import termvault.agents.reading, termvault.agents.resume\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'click', 'rich', 'mcp'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
