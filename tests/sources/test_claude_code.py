"""The claude-code source: discovery and grouping of a ~/.claude/projects tree, metadata
of real transcripts checked by hand, and robustness against any bytes."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from termvault.fsutil import validate_id
from termvault.sources import source_class
from termvault.sources.base import MAX_LINE_BYTES
from termvault.sources.claude_code import ClaudeCodeSource

from .support import (
    MemoryFile,
    assert_prefix_metadata,
    copy_corpus,
    json_records,
    parse_checked,
    parse_damaged,
    refs_of,
    small_corpus_files,
    utc,
)

CHLOE = "2969822b-3c7d-47bd-8814-4bc86f67056a"
TEAM = "c8850e36-756d-40c3-964a-04ec6cfd7a25"
ORPHAN_FOLDER = "17fbecbf-929f-43c5-91a4-2a696361faa1"
DOCS = "0bb856ab-2d1b-4f7e-bfda-9e71030bfb66"
TODO = "fe5e1c67-53e7-4862-81ae-d0e013e3270b"
CLEARED = "06381696-0074-49f8-863e-6ad4fac507f9"


# ---------------------------------------------------------------------------------------
# Helpers (also used by the round-trip tests)
# ---------------------------------------------------------------------------------------


def claude_layout(corpus: Path, projects: Path) -> dict[Path, Path]:
    """Copy every Claude Code corpus file into a fake ``projects`` tree, where it was found
    (corpus names encode the original path with ``__`` for ``/``). Files that did not come
    from a projects folder go to a per-repository project. Returns {copy: corpus file}."""

    def dest_of(src: Path) -> Path:
        parts = src.name.split("__")
        if "projects" in parts[:-1]:
            return projects.joinpath(*parts[parts.index("projects") + 1 :])
        return projects / f"-fixtures-{parts[0]}-{parts[1]}" / parts[-1]

    return copy_corpus(corpus / "claude_code_jsonl", dest_of)


def record(**fields) -> str:
    return json.dumps(fields)


def user(text, ts="2025-03-01T10:00:00Z", **extra) -> str:
    return record(type="user", timestamp=ts, message={"role": "user", "content": text}, **extra)


def assistant(blocks, ts="2025-03-01T10:00:05Z", mid="m1", model="claude-sonnet-4-5", **extra) -> str:
    message = {"id": mid, "role": "assistant", "model": model, "content": blocks}
    return record(type="assistant", timestamp=ts, message=message, **extra)


@pytest.fixture
def projects(user_home) -> Path:
    path = user_home / ".claude" / "projects"
    path.mkdir(parents=True)
    return path


@pytest.fixture
def corpus_tree(corpus, projects):
    return claude_layout(corpus, projects)


@pytest.fixture
def source(home) -> ClaudeCodeSource:
    return ClaudeCodeSource(home=home)


@pytest.fixture
def units(corpus_tree, source):
    return {u.session_id: u for u in source.discover()}


# ---------------------------------------------------------------------------------------
# Roots and registration
# ---------------------------------------------------------------------------------------


def test_the_registered_claude_code_kind_is_this_class():
    assert source_class("claude-code") is ClaudeCodeSource
    assert ClaudeCodeSource.kind == "claude-code"
    assert ClaudeCodeSource.default_mode == "copy"


def test_default_root_is_the_projects_folder_under_home(home, user_home):
    assert ClaudeCodeSource(home=home).roots == [user_home / ".claude" / "projects"]


def test_claude_config_dir_replaces_the_default_root(home, tmp_path):
    env = {"HOME": str(tmp_path / "h"), "CLAUDE_CONFIG_DIR": str(tmp_path / "cfg")}
    assert ClaudeCodeSource(home=home, env=env).roots == [tmp_path / "cfg" / "projects"]


# ---------------------------------------------------------------------------------------
# Discovery
# ---------------------------------------------------------------------------------------


def test_every_corpus_file_is_discovered_in_exactly_one_unit(corpus_tree, source, projects):
    units = list(source.discover())
    seen = [f.origin for u in units for f in u.files]
    assert sorted(seen) == sorted(corpus_tree)
    for unit in units:
        assert unit.source == "claude-code"
        assert unit.root == projects
        validate_id(unit.session_id)
        for f in unit.files:
            assert projects / f.relpath == f.origin
            assert f.size == f.origin.stat().st_size
        assert unit.mtime == max(f.mtime_ns for f in unit.files) / 1e9
    assert len({u.session_id for u in units}) == len(units)


def test_a_session_unit_holds_its_subagent_transcripts_and_their_meta(units):
    rels = [f.relpath for f in units[TEAM].files]
    project = "-teamspace-studios-this-studio"
    assert rels == [
        f"{project}/{TEAM}.jsonl",
        f"{project}/{TEAM}/subagents/agent-a21da85a6149b64db.jsonl",
        f"{project}/{TEAM}/subagents/agent-a21da85a6149b64db.meta.json",
    ]
    assert units[TEAM].hints["project"] == project


def test_a_session_folder_without_its_transcript_is_still_a_unit(units):
    rels = [f.relpath for f in units[ORPHAN_FOLDER].files]
    assert rels == [f"-teamspace-studios-this-studio/{ORPHAN_FOLDER}/subagents/agent-acompact-5bfd067acc2eb843.jsonl"]


def test_tool_results_of_a_session_belong_to_its_unit(projects, source):
    sid = "11111111-2222-3333-4444-555555555555"
    proj = projects / "-home-me-proj"
    (proj / sid / "tool-results").mkdir(parents=True)
    (proj / f"{sid}.jsonl").write_text(user("hello") + "\n")
    (proj / sid / "tool-results" / "toolu_1.txt").write_text("big output")
    (units,) = list(source.discover())
    assert [f.relpath for f in units.files] == [
        f"-home-me-proj/{sid}.jsonl",
        f"-home-me-proj/{sid}/tool-results/toolu_1.txt",
    ]
    assert "big output" in source.parse(refs_of(units)).text


def test_an_unknown_transcript_inside_the_session_folder_is_not_merged_into_the_conversation(projects, source):
    sid = "11111111-2222-3333-4444-666666666666"
    proj = projects / "-home-me-proj"
    (proj / sid / "future-layout").mkdir(parents=True)
    (proj / f"{sid}.jsonl").write_text(user("the real prompt") + "\n")
    other = user("someone else's prompt", ts="2025-03-01T11:00:00Z")
    (proj / sid / "future-layout" / "x.jsonl").write_text(other + "\n")
    (unit,) = list(source.discover())
    assert len(unit.files) == 2
    info = source.parse(refs_of(unit))
    assert (info.first_prompt, info.last_command, info.message_count) == ("the real prompt", "the real prompt", 1)
    assert "someone else's prompt" in info.text
    assert info.last_activity_at == utc("2025-03-01T11:00:00Z")


def test_old_layout_agent_files_join_the_session_named_in_their_first_line(projects, source):
    sid = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
    proj = projects / "-home-me-proj"
    proj.mkdir()
    (proj / f"{sid}.jsonl").write_text(user("main prompt", sessionId=sid) + "\n")
    (proj / "agent-1a2b3c4d.jsonl").write_text(
        user("sub-agent task", sessionId=sid, isSidechain=True) + "\n" + user("later", sessionId="other") + "\n"
    )
    # A first line longer than the 64 KB read still yields a sessionId that comes early.
    long_first = json.dumps({"sessionId": sid, "type": "user", "pad": "x" * 100_000})
    (proj / "agent-long.jsonl").write_text(long_first + "\n")
    (proj / "agent-lost.jsonl").write_text(user("orphan", sessionId="ffffffff-0000-0000-0000-000000000000") + "\n")
    (proj / "agent-garbage.jsonl").write_bytes(b"\x00\xff not json\n")
    units = {u.session_id: [f.relpath for f in u.files] for u in source.discover()}
    assert units == {
        sid: [f"-home-me-proj/{sid}.jsonl", "-home-me-proj/agent-1a2b3c4d.jsonl", "-home-me-proj/agent-long.jsonl"],
        "agent-lost": ["-home-me-proj/agent-lost.jsonl"],
        "agent-garbage": ["-home-me-proj/agent-garbage.jsonl"],
    }


def test_the_same_session_id_in_two_projects_gets_two_distinct_stable_ids(projects, source):
    sid = "12345678-1234-1234-1234-123456789abc"
    for project in ("-a", "-b"):
        (projects / project).mkdir()
        (projects / project / f"{sid}.jsonl").write_text(user(project) + "\n")
    first = sorted(u.session_id for u in source.discover())
    second = sorted(u.session_id for u in source.discover())
    assert first == second
    assert len(set(first)) == 2 and sid in first
    for session_id in first:
        validate_id(session_id)


def test_file_names_that_are_not_safe_ids_get_a_derived_id(projects, source):
    (projects / "-p").mkdir()
    (projects / "-p" / "..weird.jsonl").write_text(user("x") + "\n")
    (unit,) = list(source.discover())
    assert unit.session_id.startswith("claude-code-")
    validate_id(unit.session_id)


def test_discovery_does_not_follow_symbolic_links(projects, source, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.jsonl").write_text(user("secret") + "\n")
    (projects / "-p").mkdir()
    (projects / "-p" / "linked.jsonl").symlink_to(outside / "secret.jsonl")
    (projects / "-linkdir").symlink_to(outside, target_is_directory=True)
    assert list(source.discover()) == []


_OPENED: list[str] | None = None


def _record_opens(event: str, args: tuple) -> None:
    if _OPENED is not None and event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        _OPENED.append(os.fsdecode(args[0]))


sys.addaudithook(_record_opens)


def test_discovery_opens_no_file_but_the_first_line_of_old_agent_files(corpus_tree, projects, source):
    global _OPENED
    sid = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
    (projects / "-old").mkdir()
    (projects / "-old" / f"{sid}.jsonl").write_text(user("x", sessionId=sid) + "\n")
    (projects / "-old" / "agent-1.jsonl").write_text(user("y", sessionId=sid) + "\n")
    _OPENED = []
    try:
        units = list(source.discover())
        opened = list(_OPENED)
    finally:
        _OPENED = None
    assert len(units) > len(corpus_tree) // 2
    assert opened == [str(projects / "-old" / "agent-1.jsonl")]


# ---------------------------------------------------------------------------------------
# Metadata of real transcripts, checked by hand against the files
# ---------------------------------------------------------------------------------------


def test_metadata_of_a_short_modern_session_with_an_ai_title(units, source):
    info = source.parse(refs_of(units[CHLOE]))
    assert info.name == "Set up dotfiles configuration"
    assert info.working_directory == "/Users/chloe/c/slay"
    assert info.git_branch == "main"
    assert info.model == "claude-sonnet-4-6"
    assert info.created_at == pytest.approx(utc("2026-05-03T00:20:03.895Z"))
    assert info.last_activity_at == pytest.approx(utc("2026-05-03T00:20:52.017Z"))
    assert info.first_prompt.startswith("Hi! This is my first time using cc.")
    assert info.last_command == "So I can't have an entire .claude/ directory for this project? It has to be global?"
    # Two prompts; each reply is split over a thinking and a text record of one message.
    assert (info.message_count, info.tool_call_count, info.parse_warnings) == (4, 0, 0)
    assert info.extra["version"] == "2.1.126"


def test_a_summary_of_one_of_its_own_messages_names_the_session(units, source):
    info = source.parse(refs_of(units[DOCS]))
    assert info.name == "Agent-browser installation and setup complete successfully"
    assert info.working_directory == "/home/aiscend/work/docs"
    assert info.git_branch is None  # recorded as ""
    assert info.first_prompt == "你是谁"
    assert info.last_command == "安装agent-browser.dev"
    assert info.model == "claude-sonnet-4-5-20250929"
    assert info.created_at == pytest.approx(utc("2026-01-21T11:56:29.179Z"))
    assert info.last_activity_at == pytest.approx(utc("2026-01-21T12:13:09.927Z"))
    assert (info.message_count, info.tool_call_count) == (5 + 9, 4)
    assert "agent-browser" in info.text


def test_summaries_of_earlier_conversations_do_not_name_a_session(units, source):
    todo = source.parse(refs_of(units[TODO]))
    assert todo.name == "/orchestrator create TODO app by Next.js"
    assert todo.first_prompt == "/orchestrator create TODO app by Next.js"
    assert todo.last_command == "Thanks! Please update CLAUDE.md for current changes"
    assert todo.working_directory == "/path/to/Demo"
    assert todo.last_activity_at == pytest.approx(utc("2025-09-03T01:02:03.665Z"))
    # Inline Task sub-agent turns (isSidechain) are counted apart from the conversation.
    assert (todo.message_count, todo.tool_call_count) == (2 + 9, 11)
    assert todo.extra["sidechain_message_count"] > 0
    five = source.parse(refs_of(units["full-session-five"]))
    assert five.name == "search the web for the claude code response types"


def test_a_custom_title_wins_over_ai_title_and_summary(units, source):
    info = source.parse(refs_of(units["small"]))
    assert info.name == "Stage0 small fixture"
    assert info.parse_warnings == 0  # every record type of the schema fixture is understood


def test_housekeeping_commands_and_their_output_are_not_prompts(units, source):
    info = source.parse(refs_of(units[CLEARED]))
    assert info.first_prompt.startswith("Let's explore scrolling, scroll to bottom")
    assert not info.name.startswith("/clear")


def test_subagent_files_add_text_and_counts_but_the_last_prompt_record_wins(units, source):
    info = source.parse(refs_of(units[TEAM]))
    assert info.name == "Create a team with 4 teammates TO"
    assert info.last_command == "proceed"
    assert info.extra["subagents"] == 1
    assert info.extra["subagent_types"] == ["fix-engineer"]
    assert "AlternativeGainHead" in info.text  # only in the sub-agent transcript


def test_a_folder_of_sidechains_alone_gets_metadata_from_them(units, source):
    info = source.parse(refs_of(units[ORPHAN_FOLDER]))
    assert info.first_prompt.startswith("I have a differentiable DSP system")
    assert info.message_count > 0 and info.tool_call_count > 0
    assert info.working_directory.startswith("/teamspace/studios/this_studio")


def test_malformed_records_of_the_edge_case_fixture_are_counted(units, source):
    info = source.parse(refs_of(units["edge_cases"]))
    # Lines 10 and 11 have unusable messages, 13/15/16 are not objects, 14 has no type.
    assert info.parse_warnings == 6
    assert info.name.startswith("Tested various edge cases")
    assert info.tool_call_count == 3


def test_messages_follow_the_transcript_and_name_tool_results(units, source):
    msgs = list(source.messages(refs_of(units["edge_cases"])))
    assert msgs[0].role == "user" and "**markdown**" in msgs[0].text
    assert msgs[1].role == "assistant" and msgs[1].name == "claude-3-sonnet-20240229"
    calls = [m for m in msgs if m.role == "tool"]
    results = [m for m in msgs if m.role == "tool_result"]
    assert calls[0].name == "FailingTool"
    assert results[0].name == "FailingTool" and "Command not found" in results[0].text
    commands = [m.text for m in msgs if m.role == "user" and m.text.startswith("/")]
    assert commands == ["/test-command --verbose --output /tmp/test.log"]


def test_a_subagent_transcript_is_nested_under_the_call_that_spawned_it(units, source):
    msgs = list(source.messages(refs_of(units[TEAM])))
    runs = [i for i, m in enumerate(msgs) if m.role == "subagent"]
    assert len(runs) == 1
    assert msgs[0].role == "user" and msgs[0].text.startswith("Create a team")
    start = runs[0]
    # Right after the Agent call that created the "fix-engineer" team member...
    call = msgs[start - 1]
    assert call.role == "tool" and call.name == "Agent" and call.extra["input"]["name"] == "fix-engineer"
    assert msgs[start].name.startswith("#1 fix-engineer")
    # ...its turns follow one level deeper, labelled, starting with the task it was given,
    # without the <teammate-message> wrapper.
    run = [m for m in msgs[start + 1 :] if m.depth == 1]
    assert run and all(m.agent == msgs[start].name for m in run)
    assert run[0].role == "user" and run[0].text.startswith("You are a fix implementation engineer")
    assert {m.role for m in run} >= {"assistant", "tool", "tool_result"}
    assert sum(m.depth == 1 for m in msgs) == len(run) + 1  # one contiguous run and its opening


# ---------------------------------------------------------------------------------------
# Robustness
# ---------------------------------------------------------------------------------------


def parse_bytes(data: bytes, relpath: str = "-p/s.jsonl"):
    return parse_checked(ClaudeCodeSource(home=Path("unused"), env={"HOME": "/nonexistent"}), MemoryFile(relpath, data))


def test_an_empty_file_parses_to_empty_metadata():
    info, msgs = parse_bytes(b"")
    assert (info.name, info.message_count, info.parse_warnings, info.created_at) == ("", 0, 0, None)
    assert msgs == []


def test_bad_lines_are_counted_and_the_rest_is_read():
    lines = [
        user("first prompt").encode(),
        b"{not json",
        b"\xff\xfe\x00 binary, not UTF-8",
        b"[" * 50_000,  # deeper than the JSON decoder can go
        b'{"type": "user", "message": {"role": "user", "content": "\\ud800 lone surrogate"}}',
        record(type="a-record-type-from-the-future").encode(),
        record(type="user", message="not a dict").encode(),
        assistant(
            [{"type": "text", "text": "reply"}, {"type": "tool_use", "name": "Bash", "input": {"command": "ls"}}]
        ).encode(),
        user("truncated last line", ts="2025-03-01T10:01:00Z").encode()[:-5],
    ]
    info, _ = parse_bytes(b"\n".join(lines))
    assert info.parse_warnings == 6
    assert info.first_prompt == "first prompt"
    assert info.last_command == "? lone surrogate"  # made encodable
    assert (info.message_count, info.tool_call_count) == (3, 1)
    assert info.model == "claude-sonnet-4-5"
    assert "Bash" in info.text and "reply" in info.text


def test_a_record_with_a_stray_invalid_utf8_byte_is_read_not_dropped():
    # One bad byte inside a prompt (a write cut inside a character, a pasted binary) lost
    # the whole record: its prompt, its text and the session's name with it.
    bad = user("deploy the caf\u00e9 service").encode().replace(b"\\u00e9", b"\xe9")
    info, msgs = parse_bytes(b"\n".join([bad, user("second", ts="2025-03-01T10:01:00Z").encode()]))
    assert info.first_prompt == "deploy the caf\ufffd service"
    assert "caf\ufffd service" in info.text and info.message_count == 2
    assert any("caf\ufffd service" in m.text for m in msgs)


def test_an_overlong_line_is_skipped_in_bounded_memory_and_counted():
    huge = b'{"x": "' + b"a" * (MAX_LINE_BYTES + 10) + b'"}'
    data = b"\n".join([user("before").encode(), huge, user("after").encode()])
    info, _ = parse_bytes(data)
    assert info.parse_warnings == 1
    assert (info.first_prompt, info.last_command) == ("before", "after")


def test_absurd_timestamps_are_ignored():
    data = "\n".join(
        [
            user("a", ts=1e300),
            user("b", ts="9999-12-31T23:59:59Z"),
            user("c", ts=-5),
            user("d", ts="2025-03-01T10:00:00Z"),
        ]
    ).encode()
    info, _ = parse_bytes(data)
    assert info.created_at == info.last_activity_at == utc("2025-03-01T10:00:00Z")


def corpus_files(corpus: Path) -> tuple[bytes, ...]:
    return small_corpus_files(corpus / "claude_code_jsonl", "*.jsonl", 300_000)


_records = json_records(
    fields=[
        "type",
        "message",
        "content",
        "role",
        "text",
        "uuid",
        "leafUuid",
        "summary",
        "timestamp",
        "cwd",
        "gitBranch",
        "isSidechain",
        "isMeta",
        "model",
        "id",
        "name",
        "input",
        "tool_use_id",
    ],
    words=["user", "assistant", "summary", "tool_use", "tool_result", "text", "custom-title"],
)


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=4096))
def test_random_bytes_never_raise(data):
    info, _ = parse_bytes(data)
    assert info.parse_warnings >= 0 and info.message_count >= 0


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pick=st.integers(min_value=0), fraction=st.floats(min_value=0, max_value=1))
def test_a_truncated_corpus_file_gives_a_prefix_of_its_metadata(corpus, pick, fraction):
    files = corpus_files(corpus)
    data = files[pick % len(files)]
    full, _ = parse_bytes(data)
    cut, _ = parse_bytes(data[: int(len(data) * fraction)])
    assert_prefix_metadata(cut, full)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pick=st.integers(min_value=0), data=st.data())
def test_random_line_mutations_never_raise_and_cost_at_most_a_warning_each(corpus, pick, data):
    files = corpus_files(corpus)
    base, info, mutated = parse_damaged(parse_bytes, files[pick % len(files)], data, _records)
    assert info.parse_warnings <= base.parse_warnings + mutated
    assert info.message_count <= base.message_count + 2 * mutated


# ---------------------------------------------------------------------------------------
# Summaries matched to this transcript, in memory bounded by a record, not the session
# ---------------------------------------------------------------------------------------


def _transcript(*records: dict) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def _prompt(uuid: str, text: str) -> dict:
    return {
        "type": "user",
        "uuid": uuid,
        "timestamp": "2026-01-01T00:00:00Z",
        "message": {"role": "user", "content": text},
    }


def test_a_summary_written_before_its_own_message_names_the_session():
    own = "11111111-1111-4111-8111-111111111111"
    data = _transcript({"type": "summary", "summary": "Own summary", "leafUuid": own}, _prompt(own, "first prompt"))
    info, _ = parse_bytes(data)
    assert info.name == "Own summary"


def test_a_summary_written_after_its_own_message_names_the_session():
    own = "22222222-2222-4222-8222-222222222222"
    data = _transcript(_prompt(own, "first prompt"), {"type": "summary", "summary": "Own summary", "leafUuid": own})
    info, _ = parse_bytes(data)
    assert info.name == "Own summary"


def test_a_summary_of_a_message_not_in_the_transcript_does_not_name_it_among_many_records():
    # 5,000 records of this transcript, a summary whose leaf is none of them: the first
    # prompt names the session whatever the summary's position.
    records = [_prompt(f"{i:08x}-0000-4000-8000-000000000000", f"prompt {i}") for i in range(5000)]
    other = {"type": "summary", "summary": "Another conversation", "leafUuid": "33333333-3333-4333-8333-333333333333"}
    for data in (_transcript(other, *records), _transcript(*records, other)):
        info, _ = parse_bytes(data)
        assert info.name == "prompt 0"


def test_the_uuids_remembered_for_summaries_take_fixed_memory_however_many_records():
    from termvault.sources.claude_code import OwnUuids

    seen = OwnUuids()
    leaf = "44444444-4444-4444-8444-444444444444"
    seen.want(leaf, [(leaf, "s")])
    for i in range(50_000):
        seen.add(f"{i:08x}-0000-4000-8000-000000000000")
    seen.add(leaf)
    assert leaf in seen
    assert "00000001-0000-4000-8000-000000000000" in seen  # seen before any summary asked
    assert sys.getsizeof(seen._bloom) < 1.1 * OwnUuids.BITS / 8
    assert len(seen._found) == 1  # only wanted leaves are kept as strings
    missing = sum(f"{i:08x}-ffff-4fff-8fff-ffffffffffff" in seen for i in range(20_000))
    assert missing < 20  # false "seen" answers stay rare (a few in ten million expected here)
