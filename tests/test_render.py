"""Specification of readable exports: text, Markdown and JSON Lines renderings."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import time
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from termvault.errors import UsageError
from termvault.render import CHUNK_CHARS, FORMATS, RENDERED_FORMATS, render
from termvault.sources.base import Message
from termvault.streams import DiskFile

T0 = 1714564800.0  # 2024-05-01 12:00:00 UTC
SECRET = "sk-ant-api03-" + "Xy7Kp2Lm9QrT4vWz" * 6
AWS_ID = "AKIA" + "IOSFODNN7EXAMPLE"


@pytest.fixture(autouse=True)
def _utc(utc_local_time):
    """Golden strings do not depend on the host's zone."""


def conversation() -> list[Message]:
    return [
        Message("user", "Why does login fail?\nIt says 401.", T0),
        Message("assistant", "Let me look at the config.", T0 + 5, name="claude-sonnet"),
        Message("tool", '{"command": "cat .env"}', T0 + 6, name="Bash"),
        Message("tool_result", "DB_PASSWORD=hunter2\nDEBUG=1\n", T0 + 7, name="Bash"),
        Message("assistant", "The password is set; the token expired.", T0 + 9, name="claude-sonnet"),
        Message("assistant", "Run `make login` again.", T0 + 9, name="claude-sonnet"),
        Message("marker", "Fixed the login", T0 + 10, name="summary"),
        Message("output", "$ make login\nok\n", T0 + 11),
    ]


HEADER = {
    "name": "Login bug",
    "source": "claude-code",
    "working_directory": "/home/me/app",
    "created_at": T0,
    "last_activity_at": T0 + 11,
}


def rendered(messages, fmt: str, header=None, **kw) -> str:
    return "".join(render(messages, fmt, header, **kw))


# ---------------------------------------------------------------------------------------
# Golden renderings of a small conversation
# ---------------------------------------------------------------------------------------

GOLDEN_TEXT = """\
Session: Login bug
Source: claude-code
Folder: /home/me/app
Started: 2024-05-01 12:00:00
Last activity: 2024-05-01 12:00:11

[2024-05-01 12:00:00] USER:
    Why does login fail?
    It says 401.

[2024-05-01 12:00:05] ASSISTANT:
    Let me look at the config.

    → tool Bash: cat .env
      DB_PASSWORD=[REDACTED:password]
      DEBUG=1

[2024-05-01 12:00:09] ASSISTANT:
    The password is set; the token expired.

    Run `make login` again.

[2024-05-01 12:00:10] ── summary: Fixed the login

$ make login
ok
"""

GOLDEN_MARKDOWN = """\
# Login bug

- **Source:** claude-code
- **Folder:** /home/me/app
- **Started:** 2024-05-01 12:00:00
- **Last activity:** 2024-05-01 12:00:11

## User (2024-05-01 12:00:00)

Why does login fail?
It says 401.

## Assistant (2024-05-01 12:00:05)

Let me look at the config.

<details><summary>tool Bash: cat .env</summary>

```sh
cat .env
```

</details>

```
DB_PASSWORD=[REDACTED:password]
DEBUG=1
```

## Assistant (2024-05-01 12:00:09)

The password is set; the token expired.

Run `make login` again.

> **summary** (2024-05-01 12:00:10): Fixed the login

## Output (2024-05-01 12:00:11)

```
$ make login
ok
```
"""

GOLDEN_JSONL = [
    {"role": "user", "text": "Why does login fail?\nIt says 401.", "timestamp": "2024-05-01T12:00:00Z", "name": None},
    {
        "role": "assistant",
        "text": "Let me look at the config.",
        "timestamp": "2024-05-01T12:00:05Z",
        "name": "claude-sonnet",
    },
    {"role": "tool", "text": '{"command": "cat .env"}', "timestamp": "2024-05-01T12:00:06Z", "name": "Bash"},
    {
        "role": "tool_result",
        "text": "DB_PASSWORD=[REDACTED:password]\nDEBUG=1\n",
        "timestamp": "2024-05-01T12:00:07Z",
        "name": "Bash",
    },
    {
        "role": "assistant",
        "text": "The password is set; the token expired.",
        "timestamp": "2024-05-01T12:00:09Z",
        "name": "claude-sonnet",
    },
    {
        "role": "assistant",
        "text": "Run `make login` again.",
        "timestamp": "2024-05-01T12:00:09Z",
        "name": "claude-sonnet",
    },
    {"role": "marker", "text": "Fixed the login", "timestamp": "2024-05-01T12:00:10Z", "name": "summary"},
    {"role": "output", "text": "$ make login\nok\n", "timestamp": "2024-05-01T12:00:11Z", "name": None},
]


def test_text_rendering_of_a_small_conversation():
    assert rendered(conversation(), "text", HEADER) == GOLDEN_TEXT


def test_markdown_rendering_of_a_small_conversation():
    assert rendered(conversation(), "markdown", HEADER) == GOLDEN_MARKDOWN


def test_jsonl_rendering_has_one_object_per_message_and_ignores_the_header():
    out = rendered(conversation(), "jsonl", HEADER)
    lines = out.splitlines(keepends=True)
    assert all(line.endswith("}\n") for line in lines)
    assert [json.loads(line) for line in lines] == GOLDEN_JSONL
    assert lines[0] == (
        '{"role": "user", "text": "Why does login fail?\\nIt says 401.", '
        '"timestamp": "2024-05-01T12:00:00Z", "name": null}\n'
    )


def test_jsonl_timestamps_are_utc_with_milliseconds_only_when_fractional():
    out = rendered([Message("user", "a", T0 + 0.25), Message("user", "b", None)], "jsonl")
    assert [json.loads(line)["timestamp"] for line in out.splitlines()] == ["2024-05-01T12:00:00.250Z", None]


def test_turn_times_are_shown_in_local_time():
    os.environ["TZ"] = "JST-9"  # POSIX form: needs no time zone database
    time.tzset()
    assert rendered([Message("user", "hi", T0)], "text") == "[2024-05-01 21:00:00] USER:\n    hi\n"
    assert json.loads(rendered([Message("user", "hi", T0)], "jsonl"))["timestamp"] == "2024-05-01T12:00:00Z"


def test_without_a_header_text_starts_with_the_first_turn_and_markdown_with_a_default_title():
    messages = [Message("user", "hi", None)]
    assert rendered(messages, "text") == "USER:\n    hi\n"
    assert rendered(messages, "markdown") == "# Session\n\n## User\n\nhi\n"


def test_markdown_header_values_with_markdown_characters_are_code_spans():
    out = rendered([], "markdown", {"name": "t", "working_directory": "/home/me/my_app"})
    assert "- **Folder:** `/home/me/my_app`" in out


# ---------------------------------------------------------------------------------------
# Redaction
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", RENDERED_FORMATS)
def test_every_rendered_format_redacts_secrets_in_every_role(fmt):
    messages = [
        Message(role, f"key {SECRET} here", T0, name="Bash")
        for role in ("user", "assistant", "system", "tool", "tool_result", "output", "input", "marker")
    ]
    out = rendered(messages, fmt, {"name": f"session with {SECRET}"})
    assert SECRET[:20] not in out
    # Every role shows its text redacted (a tool call's may show twice: summary and body).
    assert out.count("[REDACTED:anthropic-key]") >= len(messages) + (fmt != "jsonl")


@pytest.mark.parametrize("fmt", RENDERED_FORMATS)
def test_redaction_can_be_turned_off(fmt):
    out = rendered([Message("user", f"key {SECRET}", T0)], fmt, redact_secrets=False)
    assert SECRET in out
    assert "[REDACTED" not in out


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_a_secret_cut_by_the_tool_result_truncation_is_still_hidden(fmt):
    # The key id starts just before the 4000-character cut: cutting first and redacting
    # after would leave "AKIAIOS", which no longer looks like a key.
    text = "x" * 3992 + " " + AWS_ID + "\nmore\n"
    out = rendered([Message("tool_result", text, T0)], fmt)
    assert "AKIAIO" not in out
    assert "(… 2 more lines)" in out


# ---------------------------------------------------------------------------------------
# Tool calls and results
# ---------------------------------------------------------------------------------------


def test_tool_call_is_one_line_with_the_first_200_characters():
    call = Message("tool", "line one\n" + "a" * 500, T0, name="Write")
    line = rendered([call], "text")
    assert line.count("\n") == 1
    assert line.startswith("    → tool Write: line one aaa")
    assert line.endswith("…\n")
    assert len(line.split(": ", 1)[1].rstrip("\n")) == 200


def test_tool_result_is_cut_after_twenty_lines_with_a_note():
    result = Message("tool_result", "\n".join(f"row {i}" for i in range(25)) + "\n", T0)
    out = rendered([result], "text")
    assert out.splitlines() == [f"      row {i}" for i in range(20)] + ["      (… 5 more lines)"]


def test_tool_result_of_one_long_line_notes_the_characters_left_out():
    out = rendered([Message("tool_result", "z" * 10000, T0)], "text")
    assert out == "      " + "z" * 4000 + "\n      (… 6000 more characters)\n"


def test_tool_results_are_cut_in_markdown_too():
    result = Message("tool_result", "\n".join(str(i) for i in range(30)), T0)
    out = rendered([result], "markdown")
    assert out.endswith("```\n" + "\n".join(str(i) for i in range(20)) + "\n```\n\n(… 10 more lines)\n")


def test_markdown_tool_name_is_escaped_inside_the_summary_tag():
    out = rendered([Message("tool", "x", T0, name="<b>&")], "markdown")
    assert "<details><summary>tool &lt;b&gt;&amp;: x</summary>" in out


# ---------------------------------------------------------------------------------------
# Fences and terminal output
# ---------------------------------------------------------------------------------------


def test_markdown_fence_is_longer_than_any_backtick_run_inside():
    out = rendered([Message("output", "a\n```\nb\n`````\n", T0)], "markdown")
    assert "\n``````\na\n```\nb\n`````\n``````\n" in out


def test_markdown_tool_call_fence_is_longer_than_backticks_in_the_input():
    out = rendered([Message("tool", 'write("````")', T0, name="Edit")], "markdown")
    assert '\n`````\nwrite("````")\n`````\n' in out


def test_text_shows_terminal_output_without_escapes_and_consecutive_outputs_together():
    chunks = [
        Message("user", "run it", T0),
        Message("output", "\x1b[31mred\x1b[0m\nfirst", T0 + 1),
        Message("output", "second\n", T0 + 2),
    ]
    assert rendered(chunks, "text") == "[2024-05-01 12:00:00] USER:\n    run it\n\nred\nfirst\nsecond\n"


def test_markdown_removes_escape_sequences_and_control_characters():
    out = rendered([Message("output", "\x1b[31mred\x1b[0m\x07 done\r\n", T0)], "markdown")
    assert "```\nred done\n```" in out
    assert "\x1b" not in out and "\x07" not in out


# ---------------------------------------------------------------------------------------
# Robustness and streaming
# ---------------------------------------------------------------------------------------

ODD_MESSAGES = [
    Message("user", None, None),  # type: ignore[arg-type]
    Message("assistant", 12345, "not a time"),  # type: ignore[arg-type]
    Message("tool", b"bytes \xff text", float("nan"), name="X"),  # type: ignore[arg-type]
    Message("tool_result", "", 1e30),
    Message("output", "lone \ud800 surrogate and \x00\x1b[2J controls", -5),
    Message("", "empty role", T0),
    Message("marker", "", T0, name=None),
    SimpleNamespace(role=None, text="not a Message at all"),
    SimpleNamespace(),
]


@pytest.mark.parametrize("fmt", RENDERED_FORMATS)
def test_odd_messages_never_raise_and_give_writable_text(fmt):
    out = rendered(ODD_MESSAGES, fmt, {"name": None, "created_at": "garbage", "extra": {"a": 1}})
    out.encode("utf-8")  # no lone surrogate survives
    assert "not a Message at all" in out
    if fmt == "jsonl":
        records = [json.loads(line) for line in out.splitlines()]
        assert len(records) == len(ODD_MESSAGES)
        assert records[1]["text"] == "12345" and records[1]["timestamp"] is None


def test_unknown_or_raw_format_is_refused_at_once():
    with pytest.raises(UsageError):
        render([], "pdf")
    with pytest.raises(UsageError, match="raw"):
        render([], "raw")
    with pytest.raises(UsageError, match="detail"):
        render([], "markdown", detail="some")
    assert FORMATS == ("raw", "jsonl", "text", "markdown", "html")


def endless_conversation() -> Iterator[Message]:
    for i in itertools.count():
        yield Message("user" if i % 2 else "assistant", f"turn {i}", T0 + i)


STREAMED_FORMATS = ("jsonl", "text", "markdown")  # HTML is built in memory: its contents list comes first


@pytest.mark.parametrize("fmt", STREAMED_FORMATS)
def test_rendering_is_lazy_over_the_message_stream(fmt):
    # An endless stream can only be rendered piece by piece.
    pieces = list(itertools.islice(render(endless_conversation(), fmt), 20))
    assert len(pieces) == 20


@pytest.mark.parametrize("fmt", STREAMED_FORMATS)
def test_a_huge_message_is_emitted_in_bounded_pieces(fmt):
    line = "0123456789 abcdefghij " * 4 + "\n"
    text = line * (4 * 1024 * 1024 // len(line))
    role = "output" if fmt != "text" else "user"
    pieces = list(render([Message(role, text, T0)], fmt))
    assert len(pieces) > 50
    assert max(len(p) for p in pieces) <= 2 * CHUNK_CHARS
    out = "".join(pieces)
    if fmt == "jsonl":
        assert json.loads(out)["text"] == text
    elif fmt == "text":
        assert out.count("\n    0123456789") == text.count("\n")
    else:
        assert text in out


def test_a_huge_single_line_is_indented_once():
    text = "y" * (3 * CHUNK_CHARS + 17)
    out = rendered([Message("user", text + "\nend", None)], "text")
    assert out == "USER:\n    " + text + "\n    end\n"


# ---------------------------------------------------------------------------------------
# Real sessions
# ---------------------------------------------------------------------------------------

CORPUS_KINDS = {
    "claude_code_jsonl": "claude-code",
    "codex_rollout_jsonl": "codex",
    "asciinema_cast": "asciinema",
    "aider_history_md": "aider",
    "gemini_cli_json": "gemini",
    "terminal_logs": "agent-log",
}


@pytest.mark.corpus
def test_real_sessions_render_in_every_format(corpus, tmp_path, home):
    from termvault.sources import source_class

    rendered_kinds = set()
    for folder, kind in CORPUS_KINDS.items():
        files = sorted((p for p in (corpus / folder).glob("*") if p.is_file()), key=lambda p: p.stat().st_size)
        if not files:
            continue
        source = source_class(kind)(roots=[tmp_path / folder], home=home)
        (tmp_path / folder).mkdir()
        for original in files[:3]:
            path = tmp_path / folder / original.name
            shutil.copyfile(original, path)
            messages = list(source.messages([DiskFile(path.name, path.stat().st_size, path)]))
            for fmt in RENDERED_FORMATS:
                out = rendered(messages, fmt, {"name": path.name, "source": kind})
                out.encode("utf-8")
                if fmt == "jsonl":
                    assert len([json.loads(line) for line in out.splitlines()]) == len(messages)
            rendered_kinds.add(kind)
    assert rendered_kinds == set(CORPUS_KINDS.values())


# ---------------------------------------------------------------------------------------
# HTML specifics (the page as a whole is specified in test_render_corpus/test_render_browser)
# ---------------------------------------------------------------------------------------


def test_html_renders_a_reply_as_markdown_with_its_headings_below_the_turns():
    out = rendered([Message("assistant", "# Plan\n\n- **one**\n- two\n\n```py\nx = 1\n```", T0)], "html")
    assert "<h3>Plan</h3>" in out and "<strong>one</strong>" in out
    assert '<code class="language-py">x = 1' in out


def test_html_shows_a_very_long_reply_as_plain_text_not_markdown():
    # Markdown parsing of some texts grows with the square of their length.
    out = rendered([Message("assistant", "[" * 60_000 + " **not bold**", T0)], "html")
    assert '<div class="plain">' in out and "**not bold**" in out and "<strong>" not in out


def test_html_cuts_a_huge_tool_result_with_a_note():
    result = Message("tool_result", "".join(f"row {i}\n" for i in range(1000)), T0, name="Bash")
    out = rendered([Message("tool", "ls", T0, name="Bash"), result], "html")
    assert "row 399\n" in out and "row 400\n" not in out
    assert "… 600 more lines" in out


def test_html_page_of_an_empty_session_says_so():
    out = rendered([], "html", {"name": "nothing"})
    assert "<title>nothing</title>" in out and "nothing to show" in out
