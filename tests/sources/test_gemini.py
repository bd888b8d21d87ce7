"""The gemini source: discovery and grouping of a ~/.gemini/tmp tree, replay of the JSONL
log ($set, $rewindTo, upserts), the streaming reader of the .json form, metadata of the
corpus files checked by hand, and robustness against any bytes."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from termvault.fsutil import validate_id
from termvault.sources import source_class
from termvault.sources.base import MAX_LINE_BYTES
from termvault.sources.gemini import MAX_MESSAGE_BYTES, GeminiSource, _ObjectStream, _Stop

from .support import MemoryFile, copy_corpus, jsonl, parse_and_render, refs_of, utc

HASH = "205016864bd110904e9ad8314192344ab398d043e779da15bedbb9ee9be00da2"
JSONL_NAME = "session-2026-04-29T21-39-gemini_s.jsonl"
LARGE_NAME = "session-2025-12-16T23-47-b4f17607.json"
TOOLS_NAME = "session-2024-01-01T10-00-9f3a1c2e.json"


# ---------------------------------------------------------------------------------------
# Helpers (also used by the round-trip test)
# ---------------------------------------------------------------------------------------


def gemini_layout(corpus: Path, tmp: Path) -> dict[Path, Path]:
    """Copy the corpus files into a fake ``~/.gemini/tmp`` tree as Gemini CLI names them:
    the .jsonl log in a slug project with a ``.project_root`` marker, the two .json
    records in a hash-named project. Returns {copy: corpus file}."""
    folder = corpus / "gemini_cli_json"
    where = {
        "jazzyalex__agent-sessions__Resources__Fixtures__stage0__agents__gemini__jsonl_v040.jsonl": tmp
        / "myproj"
        / "chats"
        / JSONL_NAME,
        "jazzyalex__agent-sessions__Resources__Fixtures__stage0__agents__gemini__large.json": tmp
        / HASH
        / "chats"
        / LARGE_NAME,
        "kenn-io__agentsview__internal__parser__testdata__gemini__tool_calls_with_results.json": tmp
        / HASH
        / "chats"
        / TOOLS_NAME,
    }
    placed = copy_corpus(folder, lambda src: where[src.name])  # a corpus file with no place fails here
    (tmp / "myproj" / ".project_root").write_text("/home/me/myproj")
    assert len(placed) == len(where)
    return placed


def src(user_home: Path | None = None, **kw) -> GeminiSource:
    env = {"HOME": str(user_home)} if user_home else {"HOME": "/nonexistent"}
    return GeminiSource(home=Path("unused"), env=env, **kw)


def parse_log(*records, name="chats/session-2026-01-01T00-00-abcdef12.jsonl"):
    return parse_and_render(src(), MemoryFile(name, jsonl(*records)))


HEADER = {
    "sessionId": "s-1",
    "projectHash": "p",
    "startTime": "2026-01-01T00:00:00Z",
    "lastUpdated": "2026-01-01T00:00:00Z",
}


def user(mid: str, text: str, ts: str = "2026-01-01T00:00:01Z") -> dict:
    return {"id": mid, "timestamp": ts, "type": "user", "content": [{"text": text}]}


def reply(mid: str, text: str, ts: str = "2026-01-01T00:00:02Z", **extra) -> dict:
    return {"id": mid, "timestamp": ts, "type": "gemini", "content": text, "model": "gemini-x", **extra}


# ---------------------------------------------------------------------------------------
# Discovery
# ---------------------------------------------------------------------------------------


def test_the_kind_is_registered_under_its_name():
    assert source_class("gemini") is GeminiSource
    assert GeminiSource.default_mode == "copy"


def test_default_root_is_the_tmp_folder_of_the_gemini_dir(user_home, tmp_path):
    assert src(user_home).roots == [user_home / ".gemini" / "tmp"]
    cli_home = GeminiSource(home=tmp_path, env={"HOME": str(user_home), "GEMINI_CLI_HOME": str(tmp_path / "alt")})
    assert cli_home.roots == [tmp_path / "alt" / ".gemini" / "tmp"]
    gemini_dir = GeminiSource(home=tmp_path, env={"HOME": str(user_home), "GEMINI_DIR": "~/elsewhere"})
    assert gemini_dir.roots == [user_home / "elsewhere" / "tmp"]


def test_every_corpus_file_is_discovered_as_one_unit_with_the_main_log_first(corpus, user_home):
    tmp = user_home / ".gemini" / "tmp"
    placed = gemini_layout(corpus, tmp)
    units = list(src(user_home).discover())
    assert len(units) == len(placed)
    assert {u.files[0].origin for u in units} == set(placed)
    for unit in units:
        assert unit.root == tmp
        assert validate_id(unit.session_id).startswith("gemini-")
        assert all(tmp / f.relpath == f.origin for f in unit.files)
    assert len({u.session_id for u in units}) == len(units)
    slug = next(u for u in units if u.files[0].origin.name == JSONL_NAME)
    assert [f.relpath for f in slug.files] == [f"myproj/chats/{JSONL_NAME}", "myproj/.project_root"]
    assert slug.session_id.startswith("gemini-2026-04-29T21-39-gemini_s-")
    assert slug.hints["project_dir"] == str(tmp / "myproj")


def test_a_migrated_json_and_its_jsonl_are_one_unit_with_a_stable_id(user_home):
    chats = user_home / ".gemini" / "tmp" / "p" / "chats"
    chats.mkdir(parents=True)
    (chats / "session-2026-01-01T00-00-abcdef12.json").write_bytes(json.dumps({**HEADER, "messages": []}).encode())
    before = [u.session_id for u in src(user_home).discover()]
    (chats / "session-2026-01-01T00-00-abcdef12.jsonl").write_bytes(jsonl(HEADER, user("u1", "continued")))
    units = list(src(user_home).discover())
    assert [u.session_id for u in units] == before
    assert [f.relpath for f in units[0].files] == [
        "p/chats/session-2026-01-01T00-00-abcdef12.jsonl",
        "p/chats/session-2026-01-01T00-00-abcdef12.json",
    ]
    assert src().parse(refs_of(units[0])).first_prompt == "continued"


def test_subagent_logs_join_their_parent_and_orphans_become_units(user_home):
    chats = user_home / ".gemini" / "tmp" / "p" / "chats"
    (chats / "abcdef12-3456-7890-abcd-ef1234567890").mkdir(parents=True)
    (chats / "99999999-0000-0000-0000-000000000000").mkdir()
    (chats / "session-2026-01-01T00-00-abcdef12.jsonl").write_bytes(jsonl(HEADER, user("u1", "parent task")))
    agent = jsonl(
        {**HEADER, "sessionId": "a-1", "kind": "subagent"},
        reply("r1", "", toolCalls=[{"id": "t", "name": "glob", "args": {"pattern": "*.py"}}]),
    )
    (chats / "abcdef12-3456-7890-abcd-ef1234567890" / "agent-1.jsonl").write_bytes(agent)
    (chats / "99999999-0000-0000-0000-000000000000" / "agent-2.jsonl").write_bytes(agent)
    units = sorted(src(user_home).discover(), key=lambda u: len(u.files))
    assert [len(u.files) for u in units] == [1, 2]
    orphan, parent = units
    assert orphan.session_id.startswith("gemini-agents-99999999")
    assert parent.files[0].relpath == "p/chats/session-2026-01-01T00-00-abcdef12.jsonl"
    info = src().parse(refs_of(parent))
    assert info.first_prompt == "parent task"
    assert info.tool_call_count == 1 and info.extra["subagents"] == 1
    assert "glob" in info.text
    messages = list(src().messages(refs_of(parent)))
    assert [(m.role, m.depth) for m in messages] == [("user", 0), ("subagent", 1), ("tool", 1)]
    assert messages[2].agent == messages[1].name


def test_other_files_of_the_gemini_tree_are_not_units(user_home):
    tmp = user_home / ".gemini" / "tmp" / "p"
    tmp.mkdir(parents=True)
    (tmp / "logs.json").write_text("[]")
    (tmp / "checkpoint-x.json").write_text("{}")
    assert list(src(user_home).discover()) == []


# ---------------------------------------------------------------------------------------
# Metadata of the corpus files, checked by hand
# ---------------------------------------------------------------------------------------


@pytest.fixture
def corpus_units(corpus, user_home):
    gemini_layout(corpus, user_home / ".gemini" / "tmp")
    return {u.files[0].origin.name: u for u in src(user_home).discover()}


def test_jsonl_log_metadata(corpus_units):
    info = src().parse(refs_of(corpus_units[JSONL_NAME]))
    assert info.name == info.first_prompt == info.last_command == "Say hello and list files."
    assert info.working_directory == "/home/me/myproj"  # from .project_root
    assert info.created_at == utc("2026-04-29T21:39:22.319Z")
    assert info.last_activity_at == utc("2026-04-29T21:39:45.996Z")
    assert info.model == "gemini-3-flash-preview"
    assert (info.message_count, info.tool_call_count, info.parse_warnings) == (3, 1, 0)
    assert info.extra["session_id"] == "gemini_stage0_jsonl" and info.extra["kind"] == "main"
    for piece in ("run_shell_command", "ls -F", "AgentSessions/", "Hello! I listed the files."):
        assert piece in info.text


def test_json_record_metadata(corpus_units):
    info = src().parse(refs_of(corpus_units[LARGE_NAME]))
    assert info.first_prompt == "Run a command" and info.last_command == "Step 1"
    assert info.created_at == utc("2025-12-16T23:47:00Z")
    assert info.last_activity_at == utc("2025-12-16T23:48:00Z")  # lastUpdated is the latest
    assert info.model == "gemini-3-flash-preview"
    # user x2, gemini/model x4; the "info" notice is not a turn
    assert (info.message_count, info.tool_call_count, info.parse_warnings) == (6, 2, 0)
    assert info.extra["session_id"] == "session-2025-12-16T23-47-b4f17607"
    assert info.working_directory == ""
    assert "ls /non-existent-directory" in info.text and "Captured multiline output." in info.text


def test_tool_results_are_searchable(corpus_units):
    info = src().parse(refs_of(corpus_units[TOOLS_NAME]))
    assert info.name == "Read the planning doc"
    assert info.model == "gemini-2.5-pro"
    assert (info.message_count, info.tool_call_count) == (2, 2)
    assert info.created_at == utc("2024-01-01T10:00:00Z") and info.last_activity_at == utc("2024-01-01T10:00:05Z")
    assert "# Agentstrove -- One-Pager" in info.text and "ls -la" in info.text


def test_messages_show_turns_then_tool_calls_and_results(corpus_units):
    messages = list(src().messages(refs_of(corpus_units[TOOLS_NAME])))
    assert [(m.role, m.name) for m in messages] == [
        ("user", None),
        ("thinking", "gemini-2.5-pro"),
        ("assistant", "gemini-2.5-pro"),
        ("tool", "read_file"),
        ("tool_result", "read_file"),
        ("tool", "run_command"),
        ("tool_result", "run_command"),
    ]
    assert messages[1].text == "**Planning**\nI need to read the planning document."
    assert messages[5].text == "ls -la" and messages[5].extra["input"] == {"command": "ls -la"}


# ---------------------------------------------------------------------------------------
# Replaying the JSONL log
# ---------------------------------------------------------------------------------------


def test_rewind_drops_the_target_and_everything_after_it():
    info, messages = parse_log(
        HEADER, user("a", "first"), reply("b", "answer"), user("c", "second"), {"$rewindTo": "b"}, user("d", "third")
    )
    assert [m.text for m in messages] == ["first", "third"]
    assert info.last_command == "third" and info.message_count == 2


def test_rewind_to_an_unknown_id_clears_the_conversation():
    _, messages = parse_log(HEADER, user("a", "first"), {"$rewindTo": "zzz"}, user("b", "after"))
    assert [m.text for m in messages] == ["after"]


def test_a_rewritten_message_keeps_its_place():
    _, messages = parse_log(HEADER, reply("a", "draft"), user("b", "next"), reply("a", "final answer"))
    assert [m.text for m in messages] == ["final answer", "next"]


def test_set_merges_metadata_and_summary_names_the_session():
    info, _ = parse_log(
        HEADER,
        user("a", "hello"),
        {"$set": {"summary": "Fix the build", "directories": ["/src/app"], "lastUpdated": "2026-01-01T01:00:00Z"}},
    )
    assert info.name == "Fix the build"
    assert info.working_directory == "/src/app"
    assert info.last_activity_at == utc("2026-01-01T01:00:00Z")


def test_set_messages_replaces_the_conversation_but_keeps_the_old_text_searchable():
    info, messages = parse_log(
        HEADER,
        user("a", "original question about webhooks"),
        reply("b", "long answer"),
        {"$set": {"messages": [user("s", "summary of the chat")]}},
        reply("c", "continued"),
    )
    assert [m.text for m in messages] == ["summary of the chat", "continued"]
    assert "webhooks" in info.text and info.message_count == 2


def test_unknown_records_and_bad_lines_are_counted():
    data = jsonl(HEADER, {"what": 1}, [1, 2], user("a", "ok")) + b"{broken\n\xff\xfe\n"
    ref = MemoryFile("chats/session-x.jsonl", data)
    info = src().parse([ref])
    assert info.parse_warnings == 4 and info.first_prompt == "ok"


def test_a_header_without_messages_falls_back_to_the_file_name():
    info, messages = parse_log(HEADER)
    assert info.name == "session-2026-01-01T00-00-abcdef12" and messages == []
    assert info.created_at == utc("2026-01-01T00:00:00Z")


# ---------------------------------------------------------------------------------------
# The streaming reader of the .json form
# ---------------------------------------------------------------------------------------


def _events(raw: bytes, chunk: int, cap: int = 1 << 20) -> dict:
    out: dict = {"messages": []}
    for event in _ObjectStream(io.BytesIO(raw), cap, chunk).events():
        if event[0] == "message":
            out["messages"].append(json.loads(event[1]))
        else:
            out[event[1]] = json.loads(event[2])
    return out


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(alphabet='ab"\\/{}[],: \n\té'),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3),
    max_leaves=12,
)


@settings(max_examples=80, deadline=None)
@given(
    st.dictionaries(st.text(max_size=6).filter(lambda k: k != "messages"), _JSON, max_size=4),
    st.lists(st.dictionaries(st.text(max_size=4), _JSON, max_size=3), max_size=4),
    st.sampled_from([None, 1, 2]),
    st.integers(1, 9),
)
def test_the_streaming_reader_yields_exactly_what_json_loads_sees(meta, messages, indent, chunk):
    doc = {**meta, "messages": messages}
    raw = json.dumps(doc, indent=indent).encode()
    assert _events(raw, chunk) == doc


def test_an_oversized_message_is_skipped_and_the_rest_read():
    raw = json.dumps({"messages": [{"id": "big", "content": "x" * 5000}, {"id": "small"}], "after": 1}).encode()
    events = list(_ObjectStream(io.BytesIO(raw), 1000, 64).events())
    assert events[0] == ("message", None)
    assert json.loads(events[1][1]) == {"id": "small"} and events[2] == ("meta", "after", b"1")


def test_a_truncated_document_stops_the_reader():
    raw = json.dumps({"sessionId": "s", "messages": [{"id": "a"}, {"id": "b", "content": "cut here"}]}).encode()
    reader = _ObjectStream(io.BytesIO(raw[:-15]), 1000, 8)
    seen = []
    with pytest.raises(_Stop):
        for event in reader.events():
            seen.append(event)
    assert seen[:2] == [("meta", "sessionId", b'"s"'), ("message", b'{"id": "a"}')]


def test_a_truncated_json_record_keeps_what_was_read():
    messages = [user("a", "first question"), reply("b", "an answer that is cut")]
    raw = json.dumps({**HEADER, "messages": messages}, indent=2)
    info = src().parse([MemoryFile("chats/session-x.json", raw.encode()[:-60])])
    assert info.first_prompt == "first question" and info.parse_warnings == 1


def test_a_json_file_over_the_cap_is_not_parsed(tmp_path):
    raw = json.dumps({**HEADER, "messages": [user("a", "hello")]}, indent=2).encode()
    capped = src(options={"max_json_bytes": 10})
    info = capped.parse([MemoryFile("chats/session-2026-x.json", raw)])
    assert info.parse_warnings == 1 and info.first_prompt is None and info.name == "session-2026-x"
    # The JSONL form is streamed line by line and has no cap.
    log = MemoryFile("chats/session-y.jsonl", jsonl(HEADER, user("a", "hello")))
    assert capped.parse([log]).first_prompt == "hello"


def test_a_single_message_over_the_message_cap_is_skipped_with_a_warning():
    big = (
        b'{"sessionId": "s", "projectHash": "p", "messages": [{"id": "a", "type": "user", "content": "'
        + (b"y" * (MAX_MESSAGE_BYTES + 1))
        + b'"}, {"id": "b", "type": "user", "content": "small"}]}'
    )
    info = src().parse([MemoryFile("chats/session-x.json", b"{\n" + big[1:])])
    assert info.parse_warnings == 1 and info.first_prompt == "small"


# ---------------------------------------------------------------------------------------
# Robustness
# ---------------------------------------------------------------------------------------


def test_an_overlong_jsonl_line_is_skipped_with_a_warning():
    overlong = b'{"id": "x", "content": "' + b"z" * (MAX_LINE_BYTES + 5) + b'"}\n'
    data = jsonl(HEADER) + overlong + jsonl(user("a", "after"))
    info = src().parse([MemoryFile("chats/session-x.jsonl", data)])
    assert info.parse_warnings == 1 and info.first_prompt == "after"


def test_deep_nesting_does_not_raise():
    deep = b"[" * 100000 + b"]" * 100000
    for name, data in (("a.jsonl", deep + b"\n"), ("a.json", b'{"messages": [' + deep + b"]}")):
        info = src().parse([MemoryFile("chats/session-" + name, data)])
        assert info.parse_warnings >= 1


def test_an_empty_unit_or_empty_file_gives_empty_metadata():
    assert src().parse([]).message_count == 0
    info = src().parse([MemoryFile("chats/session-x.json", b"")])
    assert (info.message_count, info.parse_warnings) == (0, 0)


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=2000), st.sampled_from(["chats/session-x.json", "chats/session-x.jsonl"]))
def test_any_bytes_parse_and_render_without_raising(data, name):
    info, _ = parse_and_render(src(), MemoryFile(name, data))
    assert info.parse_warnings >= 0


_RECORDS = st.one_of(
    st.fixed_dictionaries(
        {
            "id": st.text(max_size=3),
            "type": st.sampled_from(["user", "gemini", "info", 3, None]),
            "content": _JSON,
            "toolCalls": _JSON,
        }
    ),
    st.fixed_dictionaries({"$rewindTo": st.text(max_size=3)}),
    st.fixed_dictionaries({"$set": st.dictionaries(st.sampled_from(["messages", "summary", "directories"]), _JSON)}),
    _JSON,
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_RECORDS, max_size=20), st.sampled_from(["chats/session-x.json", "chats/session-x.jsonl"]))
def test_structured_garbage_never_raises(records, name):
    data = jsonl(*records) if name.endswith("l") else json.dumps({"messages": records}).encode()
    info, _ = parse_and_render(src(), MemoryFile(name, data))
    assert info.message_count >= 0


def test_impossible_times_are_ignored():
    info, _ = parse_log(
        {**HEADER, "startTime": 1e308, "lastUpdated": "9999999-01-01"},
        {"id": "a", "type": "user", "content": "x", "timestamp": 1e300},
    )
    assert (info.created_at, info.last_activity_at) == (None, None)


def test_a_replay_past_its_memory_budget_keeps_only_the_start_of_new_messages():
    from termvault.sources.gemini import SHORT_CAP, _Replay

    replay = _Replay(cap=1000, budget=1500)
    for mid in "abc":
        replay.record(user(mid, mid * 1000))
    assert [len(t.text) for t in replay.turns.values()] == [1000, 1000, SHORT_CAP]
    replay.record({"$rewindTo": "b"})  # frees what b and c held
    replay.record(user("d", "d" * 1000))
    assert [len(t.text) for t in replay.turns.values()] == [1000, 1000]
    assert replay.kept == 2000


@pytest.mark.parametrize("name", ["chats/session-x.jsonl", "chats/session-x.json"])
def test_a_message_nested_too_deep_to_walk_is_skipped_and_the_rest_read(name):
    nested = json.loads("[" * 600 + '"x"' + "]" * 600)  # parses, but is deeper than text extraction walks
    records = [HEADER, {"id": "a", "type": "user", "content": nested}, user("b", "after")]
    data = jsonl(*records) if name.endswith("l") else json.dumps({**HEADER, "messages": records[1:]}).encode()
    info = src().parse([MemoryFile(name, data)])
    assert info.parse_warnings == 1 and info.first_prompt == "after"


def test_lone_surrogates_in_records_do_not_reach_the_metadata():
    info, _ = parse_log({**HEADER, "summary": "\ud800 title", "directories": ["/x\udfff"]}, user("a", "hi \ud83d"))
    json.dumps(info.metadata(), ensure_ascii=False).encode("utf-8")
    info.text.encode("utf-8")
    assert info.name == "? title" and info.first_prompt == "hi ?"
