"""The agent-log source: one unit per non-empty pane log under <home>/logs, times from
leading timestamps, JSONL records with common field names, and robustness."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from termvault.fsutil import validate_id
from termvault.sources import source_class
from termvault.sources.agent_log import AgentLogSource, leading_time, prompt_command
from termvault.sources.base import MAX_LINE_BYTES

from .support import MemoryFile, copy_corpus, corpus_ref, jsonl, local, parse_and_render

HADOOP = "logpai__loghub__Hadoop__Hadoop_2k.log"
APACHE = "logpai__loghub__Apache__Apache_2k.log"
ZOOKEEPER = "logpai__loghub__Zookeeper__Zookeeper_2k.log"
HEALTH = "logpai__loghub__HealthApp__HealthApp_2k.log"
ANDROID = "logpai__loghub__Android__Android_2k.log"


# ---------------------------------------------------------------------------------------
# Helpers (also used by the round-trip test)
# ---------------------------------------------------------------------------------------


def logs_layout(corpus: Path, logs: Path) -> dict[Path, Path]:
    """Copy every terminal log of the corpus into ``logs`` (one pane each). {copy: corpus}"""
    logs.mkdir(parents=True, exist_ok=True)
    return copy_corpus(corpus / "terminal_logs", lambda src: logs / src.name)


def src(home: Path = Path("unused"), **kw) -> AgentLogSource:
    return AgentLogSource(home=home, **kw)


# ---------------------------------------------------------------------------------------
# Discovery
# ---------------------------------------------------------------------------------------


def test_the_kind_is_registered_under_its_name():
    assert source_class("agent-log") is AgentLogSource
    assert AgentLogSource.default_mode == "copy"


def test_the_default_root_is_the_logs_folder_of_the_termvault_home(home):
    assert src(home).roots == [home / "logs"]


def test_every_corpus_log_is_a_unit_and_empty_or_other_files_are_not(corpus, home):
    logs = home / "logs"
    placed = logs_layout(corpus, logs)
    (logs / "idle-pane.log").write_bytes(b"")
    (logs / "notes.md").write_text("not a log")
    (logs / "agents" / "claude").mkdir(parents=True)
    (logs / "agents" / "claude" / "pane-3.jsonl").write_bytes(jsonl({"role": "user", "text": "hi"}))
    (logs / "agents" / "codex.txt").write_text("$ make\n")
    units = list(src(home).discover())
    assert {u.files[0].origin for u in units} == set(placed) | {
        logs / "agents" / "claude" / "pane-3.jsonl",
        logs / "agents" / "codex.txt",
    }
    for unit in units:
        assert unit.root == logs and len(unit.files) == 1
        assert logs / unit.files[0].relpath == unit.files[0].origin
        assert validate_id(unit.session_id).startswith("agent-log-")
    assert len({u.session_id for u in units}) == len(units)
    hadoop = next(u for u in units if u.files[0].relpath == HADOOP)
    assert hadoop.session_id.startswith("agent-log-logpai__loghub__Hadoop__Hadoop_2k-")


def test_an_empty_log_becomes_a_unit_once_it_has_content(home):
    logs = home / "logs"
    logs.mkdir(parents=True)
    (logs / "pane.log").write_bytes(b"")
    assert list(src(home).discover()) == []
    (logs / "pane.log").write_text("started\n")
    assert [u.files[0].relpath for u in src(home).discover()] == ["pane.log"]


def test_symbolic_links_are_not_followed(home, tmp_path):
    logs = home / "logs"
    logs.mkdir(parents=True)
    (tmp_path / "secret.log").write_text("secret\n")
    os.symlink(tmp_path / "secret.log", logs / "link.log")
    os.symlink(tmp_path, logs / "folder")
    assert list(src(home).discover()) == []


# ---------------------------------------------------------------------------------------
# Plain-text logs of the corpus, checked by hand
# ---------------------------------------------------------------------------------------


def parse_corpus(corpus: Path, name: str):
    return parse_and_render(src(), corpus_ref(corpus, "terminal_logs", name))


def test_iso_timestamps_with_milliseconds_give_the_times(corpus):
    info, messages = parse_corpus(corpus, HADOOP)
    assert info.created_at == local("2015-10-18 18:01:47.978")  # first line
    assert info.last_activity_at == local("2015-10-18 18:10:55.202")  # last line
    assert info.name == "logpai__loghub__Hadoop__Hadoop_2k"
    assert (info.message_count, info.parse_warnings, info.last_command) == (2000, 0, None)
    assert "Created MRAppMaster for application appattempt_1445144423722_0020_000001" in info.text
    assert len(messages) == 10 and all(m.role == "output" for m in messages)
    assert messages[0].timestamp == local("2015-10-18 18:01:47.978")


def test_the_latest_timestamp_wins_when_lines_are_out_of_order(corpus):
    info, _ = parse_corpus(corpus, ZOOKEEPER)
    assert info.created_at == local("2015-07-29 17:41:44.747")
    assert info.last_activity_at == local("2015-08-25 11:26:28.145")  # not the last line's


def test_bracketed_ctime_and_compact_timestamps_are_recognised(corpus):
    apache, _ = parse_corpus(corpus, APACHE)
    assert apache.created_at == local("2005-12-04 04:47:44") and apache.last_activity_at == local("2005-12-05 19:15:57")
    health, _ = parse_corpus(corpus, HEALTH)
    assert health.created_at == local("2017-12-23 22:15:29.606")
    assert health.last_activity_at == local("2017-12-24 01:02:35.789")  # written 20171224-1:2:35:789


def test_timestamps_without_a_year_give_no_time(corpus):
    info, _ = parse_corpus(corpus, ANDROID)
    assert info.created_at is None and info.last_activity_at is None
    assert info.message_count == 2000


def test_every_corpus_log_parses_without_warnings(corpus):
    for path in sorted((corpus / "terminal_logs").iterdir()):
        info, messages = parse_corpus(corpus, path.name)
        assert info.parse_warnings == 0 and info.message_count == 2000 and messages, path.name
        assert "\r" not in info.text


# ---------------------------------------------------------------------------------------
# Timestamps, prompts and JSONL records
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line, expected",
    [
        ("2024-05-01T10:00:00Z started", "2024-05-01T10:00:00+00:00"),
        ("2024-05-01T12:00:00+02:00 started", "2024-05-01T10:00:00+00:00"),
        ("[2024-05-01 10:00:00] started", "2024-05-01 10:00:00"),
        ("2024/05/01 10:00:00.250 started", "2024-05-01 10:00:00.250"),
        ("[Wed May 01 10:00:00 2024] started", "2024-05-01 10:00:00"),
        ("20240501-10:00:00:123|x", "2024-05-01 10:00:00.123"),
    ],
)
def test_leading_timestamps_with_a_full_date_are_read(line, expected):
    assert leading_time(line) == local(expected)


def test_unix_times_and_lines_without_a_date_are_told_apart():
    assert leading_time("1714557600 tick") == 1714557600.0
    assert leading_time("1714557600.5] tick") == 1714557600.5
    undated = ("Jun 14 15:16:01 combo sshd", "03-17 16:13:38.811 D x", "081109 203615 148 INFO", "hello")
    for line in (*undated, "2024-13-01 10:00:00"):
        assert leading_time(line) is None, line


def test_shell_prompts_are_recognised():
    assert prompt_command("$ make test") == "make test"
    assert prompt_command("me@host:~/src/app$ git status") == "git status"
    assert prompt_command("(venv) me@box:~/p$ pytest -q") == "pytest -q"
    assert prompt_command("❯ cargo build") == "cargo build"
    assert prompt_command("➜  app git:(main) ✗ npm test") == "npm test"
    assert prompt_command("INFO starting $ nothing") is None
    assert prompt_command("$ ") is None


def test_plain_text_panes_report_the_last_command_typed_at_a_prompt_without_escapes():
    data = (
        b"\x1b[32mme@host\x1b[0m:~/app$ make build\r\n"
        b"compiling \x1b[1mmain.c\x1b[0m\r\n"
        b"2024-05-01 10:00:05 done\n"
        b"\x1b]0;title\x07me@host:~/app$ make test\n"
        b"ok\n"
    )
    info = src().parse([MemoryFile("pane-1.log", data)])
    assert (info.first_prompt, info.last_command) == ("make build", "make test")
    assert "compiling main.c" in info.text and "\x1b" not in info.text
    assert info.created_at == info.last_activity_at == local("2024-05-01 10:00:05")
    assert info.name == "pane-1"


def test_jsonl_records_use_common_field_names():
    data = (
        jsonl(
            {
                "ts": "2024-05-01T10:00:00Z",
                "role": "user",
                "text": "fix the login bug",
                "cwd": "/srv/app",
                "model": "m-1",
            },
            {"time": 1714557660, "type": "assistant", "content": [{"type": "text", "text": "Looking at auth.py"}]},
            {"timestamp": 1714557670000, "type": "tool_call", "message": "grep -n login auth.py"},
            {
                "timestamp": "2024-05-01T10:02:00Z",
                "message": {"role": "user", "content": "now add a test"},
                "branch": "fix",
            },
        )
        + b"not json\n[1, 2]\n"
    )
    info = src().parse([MemoryFile("claude-1.jsonl", data)])
    assert info.first_prompt == "fix the login bug" and info.last_command == "now add a test"
    assert info.created_at == 1714557600 and info.last_activity_at == 1714557720
    assert (info.working_directory, info.model, info.git_branch) == ("/srv/app", "m-1", "fix")
    assert (info.message_count, info.tool_call_count, info.parse_warnings) == (4, 1, 2)
    assert "Looking at auth.py" in info.text and "grep -n login auth.py" in info.text
    messages = list(src().messages([MemoryFile("claude-1.jsonl", data)]))
    assert [m.role for m in messages] == ["user", "assistant", "tool", "user"]


def test_json_lines_inside_a_plain_log_are_records_and_other_lines_output():
    data = b'starting\n{"role": "user", "text": "deploy"}\n{broken json\n'
    info = src().parse([MemoryFile("pane.log", data)])
    assert info.last_command == "deploy" and info.parse_warnings == 0 and info.message_count == 3
    assert [m.role for m in src().messages([MemoryFile("pane.log", data)])] == ["output", "user", "output"]


# ---------------------------------------------------------------------------------------
# Robustness
# ---------------------------------------------------------------------------------------


def test_an_overlong_line_is_skipped_with_a_warning():
    data = b"before\n" + b"x" * (MAX_LINE_BYTES + 1) + b"\nafter\n"
    info = src().parse([MemoryFile("pane.log", data)])
    assert info.parse_warnings == 1 and info.text == "before\nafter"


def test_non_utf8_bytes_are_replaced_not_fatal():
    info = src().parse([MemoryFile("pane.log", b"caf\xe9 \xff\xfe ok\n")])
    assert info.text == "caf\ufffd \ufffd\ufffd ok" and info.parse_warnings == 0


def test_an_empty_unit_gives_empty_metadata():
    assert src().parse([]).name == ""
    assert list(src().messages([])) == []


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=2000), st.sampled_from(["pane.log", "pane.jsonl", "pane.txt"]))
def test_any_bytes_parse_and_render_without_raising(data, name):
    info, _ = parse_and_render(src(), MemoryFile(name, data))
    assert info.parse_warnings >= 0


_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda c: (
        st.lists(c, max_size=3) | st.dictionaries(st.sampled_from(["role", "text", "content", "type"]), c, max_size=3)
    ),
    max_leaves=4,
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(["ts", "time", "timestamp", "role", "type", "text", "content", "message", "cwd", "model"]),
            _VALUES,
            max_size=4,
        ),
        max_size=8,
    )
)
def test_structured_garbage_records_never_raise(records):
    info, _ = parse_and_render(src(), MemoryFile("pane.jsonl", jsonl(*records)))
    assert info.message_count == len(records)


def test_impossible_record_times_are_ignored():
    data = b'{"ts": Infinity, "role": "user", "text": "a"}\n{"ts": 1e308, "text": "b"}\n{"ts": -5, "text": "c"}\n'
    info = src().parse([MemoryFile("pane.jsonl", data)])
    assert (info.created_at, info.last_activity_at, info.message_count) == (None, None, 3)


def test_a_record_nested_too_deep_to_walk_is_skipped_and_the_rest_read():
    nested = "[" * 600 + '"x"' + "]" * 600
    data = ('{"role": "user", "content": %s}\n{"role": "user", "text": "after"}\n' % nested).encode()
    info = src().parse([MemoryFile("pane.jsonl", data)])
    assert info.parse_warnings == 1 and info.last_command == "after"


def test_lone_surrogates_in_records_do_not_reach_the_metadata():
    data = b'{"role": "user", "text": "go \\ud800", "cwd": "/w\\udfff", "model": "\\ud801"}\n'
    info = src().parse([MemoryFile("pane.jsonl", data)])
    json.dumps(info.metadata(), ensure_ascii=False).encode("utf-8")
    info.text.encode("utf-8")
    assert (info.last_command, info.working_directory) == ("go ?", "/w?")


def test_a_plain_log_is_marked_plain_output_and_a_log_with_records_is_not(home):
    # The sweep reads a plain-output log once (its parser's text is what is searched);
    # a log holding JSON records may be a conversation, so its messages are read.
    plain = MemoryFile("pane.log", b"2024-01-02 10:00:00 $ make\nbuild failed\n")
    records = MemoryFile(
        "agent.jsonl",
        jsonl({"role": "user", "content": "fix the flaky test"}, {"role": "assistant", "content": "done"}),
    )
    assert src(home).parse([plain]).plain_output is True
    assert src(home).parse([records]).plain_output is False
