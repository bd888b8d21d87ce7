"""The codex source: discovery of ~/.codex/sessions and archived_sessions (plain and
zstd-compressed rollouts), metadata of real rollouts checked by hand, the legacy format,
and robustness against any bytes."""

from __future__ import annotations

import json
import re
import shutil
import uuid
from pathlib import Path

import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from termvault.fsutil import validate_id
from termvault.sources import source_class
from termvault.sources.base import MAX_LINE_BYTES
from termvault.sources.codex import CodexSource

from .support import (
    MemoryFile,
    assert_prefix_metadata,
    json_records,
    parse_checked,
    parse_damaged,
    refs_of,
    small_corpus_files,
    utc,
)

REVIEW = "019b5669-8da8-7bc3-bed8-e1c1b805dad5"  # compressed in the fake tree
DASHBOARD = "01997ea4-a70d-7da3-8c20-c736db82a7c5"
PAPER = "019a5eb7-01fe-7ec2-983f-a7d864b9d4d9"
EXEC = "019e9625-802f-7e91-840a-cfe88d14117a"
SCHEMA = "019fc8be-3658-7ca3-9e29-000000000000"
LEGACY = "5e0f6a2c-1b7d-4c39-9a51-0d2b8e7f4a11"

# The legacy mid-2025 format, written by hand (the corpus has no such file): a bare header,
# state markers, and response items without envelope or timestamps.
LEGACY_ROLLOUT = (
    "\n".join(
        [
            '{"id":"5e0f6a2c-1b7d-4c39-9a51-0d2b8e7f4a11","timestamp":"2025-07-14T09:12:03.456Z","instructions":null,'
            '"git":{"commit_hash":"4b825dc642cb6eb9a060e54bf8d69288fbee4904","branch":"fix/flaky-io","repository_url":"git@example.org:me/legacy.git"}}',
            '{"record_type":"state"}',
            '{"type":"message","id":null,"role":"user","content":[{"type":"input_text","text":"<environment_context>\\n  <cwd>/home/me/legacy</cwd>\\n  <approval_policy>on-request</approval_policy>\\n</environment_context>"}]}',
            '{"type":"message","id":null,"role":"user","content":[{"type":"input_text","text":"Fix the flaky test in tests/test_io.py"}]}',
            '{"record_type":"state"}',
            '{"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":"Looking at the test"}],"encrypted_content":"gAAAA"}',
            '{"type":"function_call","id":"fc_1","name":"shell","arguments":"{\\"command\\":[\\"bash\\",\\"-lc\\",\\"pytest -q tests/test_io.py\\"]}","call_id":"call_1"}',
            '{"type":"function_call_output","call_id":"call_1","output":"{\\"output\\":\\"1 failed: race on tmp file\\",\\"metadata\\":{\\"exit_code\\":1}}"}',
            '{"type":"message","id":"msg_1","role":"assistant","content":[{"type":"output_text","text":"The test races on a temp file; fixed."}]}',
            '{"record_type":"state"}',
            '{"type":"message","id":null,"role":"user","content":[{"type":"input_text","text":"Thanks, now run the whole suite"}]}',
        ]
    )
    + "\n"
)


# ---------------------------------------------------------------------------------------
# Helpers (also used by the round-trip tests)
# ---------------------------------------------------------------------------------------


def rollout_name(data: bytes, fallback: str) -> tuple[str, str]:
    """(YYYY/MM/DD folder, rollout file name) for a corpus file: its own name when it is a
    rollout name, else one built from its session_meta (id and timestamp)."""
    match = re.search(r"rollout-(\d{4})-(\d{2})-(\d{2})T.*\.jsonl$", fallback)
    if match:
        return "/".join(match.groups()), match.group(0)
    meta = json.loads(data.split(b"\n", 1)[0])["payload"]
    day = meta["timestamp"][:10]
    stamp = meta["timestamp"][:19].replace(":", "-")
    return day.replace("-", "/"), f"rollout-{stamp}-{meta['id']}.jsonl"


def codex_layout(corpus: Path, codex_home: Path) -> dict[Path, bytes]:
    """Lay every Codex corpus file out under ``codex_home/sessions/YYYY/MM/DD`` (one of them
    compressed with zstd as Codex does), plus the hand-written legacy rollout under
    ``archived_sessions``. Returns {path: bytes written}."""
    placed: dict[Path, bytes] = {}
    for src in sorted((corpus / "codex_rollout_jsonl").iterdir()):
        data = src.read_bytes()
        day, name = rollout_name(data, src.name.split("__")[-1])
        dest = codex_home / "sessions" / day / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        if REVIEW in name:
            dest = dest.with_name(name + ".zst")
            dest.write_bytes(zstandard.ZstdCompressor(level=3, write_checksum=True).compress(data))
        else:
            shutil.copyfile(src, dest)
        placed[dest] = dest.read_bytes()
    legacy = codex_home / "archived_sessions" / f"rollout-2025-07-14T11-12-03-{LEGACY}.jsonl"
    legacy.parent.mkdir(parents=True, exist_ok=True)
    legacy.write_text(LEGACY_ROLLOUT)
    placed[legacy] = legacy.read_bytes()
    return placed


@pytest.fixture
def codex_home(user_home) -> Path:
    return user_home / ".codex"


@pytest.fixture
def corpus_tree(corpus, codex_home):
    return codex_layout(corpus, codex_home)


@pytest.fixture
def source(home) -> CodexSource:
    return CodexSource(home=home)


@pytest.fixture
def units(corpus_tree, source):
    return {u.session_id: u for u in source.discover()}


# ---------------------------------------------------------------------------------------
# Roots and discovery
# ---------------------------------------------------------------------------------------


def test_the_registered_codex_kind_is_this_class():
    assert source_class("codex") is CodexSource
    assert (CodexSource.kind, CodexSource.default_mode) == ("codex", "copy")


def test_default_roots_are_sessions_and_archived_sessions(home, user_home):
    base = user_home / ".codex"
    assert CodexSource(home=home).roots == [base / "sessions", base / "archived_sessions"]


def test_codex_home_replaces_the_default_folder(home, tmp_path):
    env = {"HOME": str(tmp_path / "h"), "CODEX_HOME": str(tmp_path / "cx")}
    base = tmp_path / "cx"
    assert CodexSource(home=home, env=env).roots == [base / "sessions", base / "archived_sessions"]


def test_every_rollout_is_discovered_once_with_the_uuid_of_its_name(corpus_tree, source, codex_home):
    units = list(source.discover())
    assert sorted(f.origin for u in units for f in u.files) == sorted(corpus_tree)
    for unit in units:
        validate_id(unit.session_id)
        (f,) = unit.files
        assert unit.session_id in f.relpath
        assert unit.root / f.relpath == f.origin
        assert unit.root in (codex_home / "sessions", codex_home / "archived_sessions")
    assert len({u.session_id for u in units}) == len(units) == len(corpus_tree)


def test_discovery_hints_tell_the_file_time_and_compression(units):
    assert units[REVIEW].hints == {"file_time": "2025-12-26T01-48-36", "compressed": True}
    assert units[REVIEW].files[0].relpath == f"2025/12/26/rollout-2025-12-26T01-48-36-{REVIEW}.jsonl.zst"
    assert units[LEGACY].root.name == "archived_sessions"


def test_other_files_in_the_sessions_folder_are_ignored(codex_home, source):
    day = codex_home / "sessions" / "2025" / "10" / "01"
    day.mkdir(parents=True)
    (day / "notes.txt").write_text("x")
    (day / "rollout-2025-10-01T10-00-00-no-uuid-here.jsonl").write_text("{}\n")
    (unit,) = list(source.discover())
    assert unit.session_id.startswith("codex-")
    validate_id(unit.session_id)


def test_plain_and_compressed_copies_of_a_rollout_are_one_unit_read_from_the_plain_one(corpus, codex_home, source):
    src = next((corpus / "codex_rollout_jsonl").glob(f"*{DASHBOARD}.jsonl"))
    day = codex_home / "sessions" / "2025" / "09" / "24"
    day.mkdir(parents=True)
    name = f"rollout-2025-09-24T20-12-23-{DASHBOARD}.jsonl"
    shutil.copyfile(src, day / name)
    # A stale compressed copy holding only the first line must not win.
    (day / (name + ".zst")).write_bytes(zstandard.ZstdCompressor().compress(src.read_bytes().split(b"\n")[0] + b"\n"))
    (unit,) = list(source.discover())
    assert [f.relpath for f in unit.files] == [f"2025/09/24/{name}", f"2025/09/24/{name}.zst"]
    info = source.parse(refs_of(unit))
    assert info.extra["copies"] == 2
    assert info.tool_call_count == 16


def test_the_same_rollout_in_both_roots_gets_two_distinct_ids(codex_home, source):
    sid = str(uuid.UUID(int=7))
    for sub in ("sessions/2025/01/01", "archived_sessions"):
        (codex_home / sub).mkdir(parents=True)
        (codex_home / sub / f"rollout-2025-01-01T00-00-00-{sid}.jsonl").write_text(LEGACY_ROLLOUT)
    ids = [u.session_id for u in source.discover()]
    assert ids[0] == sid and ids[1].startswith(sid + "-") and len(set(ids)) == 2


def test_discovery_does_not_follow_symbolic_links(codex_home, source, tmp_path):
    (tmp_path / "elsewhere").mkdir()
    target = tmp_path / "elsewhere" / f"rollout-2025-01-01T00-00-00-{uuid.UUID(int=1)}.jsonl"
    target.write_text(LEGACY_ROLLOUT)
    (codex_home / "sessions").mkdir(parents=True)
    (codex_home / "sessions" / target.name).symlink_to(target)
    (codex_home / "sessions" / "2025").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    assert list(source.discover()) == []


# ---------------------------------------------------------------------------------------
# Metadata of real rollouts, checked by hand against the files
# ---------------------------------------------------------------------------------------


def test_metadata_of_a_compressed_review_rollout(units, source):
    info = source.parse(refs_of(units[REVIEW]))
    assert info.name.startswith("Review the code changes against the base branch 'main'.")
    assert info.first_prompt == info.last_command
    assert info.working_directory == "/home/relu/misc/local-voice-assistant-codex"
    assert info.git_branch == "001-stt-api"
    assert info.model == "gpt-5.1-codex-max"
    assert info.created_at == pytest.approx(utc("2025-12-25T16:48:36.776Z"))  # session_meta's own time
    assert info.last_activity_at == pytest.approx(utc("2025-12-25T16:49:20.251Z"))
    assert (info.message_count, info.tool_call_count, info.parse_warnings) == (2, 4, 0)
    assert info.extra["cli_version"] == "0.77.0"
    assert info.extra["source"] == "subagent"
    assert info.extra["compressed"] is True


def test_editor_context_is_stripped_from_vscode_prompts(units, source):
    info = source.parse(refs_of(units[DASHBOARD]))
    assert info.first_prompt.startswith("When I load the dashboard, I see 4 queries.")
    assert info.last_command == "so prefetching isn't slowing down data loading for the intial load?"
    assert info.name.startswith("When I load the dashboard")
    assert info.git_branch == "feat/dashboard-refactor"
    assert info.model == "gpt-5-codex"
    assert info.extra["originator"] == "codex_vscode"
    assert (info.message_count, info.tool_call_count) == (2 + 2, 16)
    assert info.created_at == pytest.approx(utc("2025-09-25T02:12:23.949Z"))
    assert info.last_activity_at == pytest.approx(utc("2025-09-25T02:16:32.870Z"))
    assert "data:image/png" not in info.text


def test_a_prompt_template_gives_a_title_from_its_user_input(units, source):
    info = source.parse(refs_of(units[PAPER]))
    assert info.name.startswith("This Constitution establishes shared principles")
    assert info.first_prompt.startswith("## User Input")
    assert info.working_directory == "/home/rlan/projects/paper2md"
    assert info.git_branch == "master"
    assert info.tool_call_count == 27 + 4  # function calls and apply_patch custom calls
    assert info.extra["cli_version"] == "0.55.0"


def test_preambles_are_not_prompts(units, source):
    info = source.parse(refs_of(units[EXEC]))
    assert (info.first_prompt, info.last_command, info.name) == ("[REDACTED_PROMPT]",) * 3
    assert info.message_count == 2
    assert info.model == "gpt-5.5"
    assert info.extra["originator"] == "codex_exec"
    assert info.working_directory == "/tmp/agent-history-real-agent/codex/workspace"


def test_the_first_session_meta_and_the_thread_name_win(units, source):
    info = source.parse(refs_of(units[SCHEMA]))
    assert info.working_directory == "/tmp/repo"  # later session_meta lines are parents'
    assert info.first_prompt == "List the files"
    assert info.name == "[trimmed for fixture]"  # from thread_name_updated
    assert info.extra["cli_version"] == "0.146.0"
    assert info.parse_warnings == 0


def test_legacy_rollouts_are_understood(units, source):
    info = source.parse(refs_of(units[LEGACY]))
    assert info.name == "Fix the flaky test in tests/test_io.py"
    assert info.last_command == "Thanks, now run the whole suite"
    assert info.working_directory == "/home/me/legacy"  # from <environment_context>
    assert info.git_branch == "fix/flaky-io"
    assert info.created_at == info.last_activity_at == pytest.approx(utc("2025-07-14T09:12:03.456Z"))
    assert (info.message_count, info.tool_call_count, info.parse_warnings) == (3, 1, 0)
    assert info.extra["format"] == "legacy"
    assert "pytest -q tests/test_io.py" in info.text and "race on tmp file" in info.text


def test_messages_of_a_legacy_rollout(units, source):
    messages = list(source.messages(refs_of(units[LEGACY])))
    assert [(m.role, m.name) for m in messages] == [
        ("meta", "environment context"),
        ("user", None),
        ("thinking", None),
        ("tool", "shell"),
        ("tool_result", None),
        ("assistant", None),
        ("user", None),
    ]
    call, result = messages[3], messages[4]
    assert call.extra["input"]["command"] == ["bash", "-lc", "pytest -q tests/test_io.py"]
    assert call.extra["call_id"] == result.extra["call_id"] == "call_1"
    # The output Codex wraps in {"output", "metadata"} is shown unwrapped, and failed.
    assert result.text == "1 failed: race on tmp file" and result.extra["error"] is True
    assert messages[2].text == "Looking at the test"


def test_messages_of_a_compressed_rollout_are_read_through_decompression(units, source):
    msgs = list(source.messages(refs_of(units[REVIEW])))
    assert [m.role for m in msgs if m.role in ("user", "assistant")][-2:] == ["user", "assistant"]
    assert sum(m.role == "tool" for m in msgs) == 4


# ---------------------------------------------------------------------------------------
# Robustness
# ---------------------------------------------------------------------------------------


def parse_bytes(data: bytes, relpath: str = "2025/01/01/rollout-x.jsonl"):
    return parse_checked(CodexSource(home=Path("unused"), env={"HOME": "/nonexistent"}), MemoryFile(relpath, data))


def test_an_empty_rollout_parses_to_empty_metadata():
    info, msgs = parse_bytes(b"")
    assert (info.name, info.message_count, info.parse_warnings, info.created_at) == ("", 0, 0, None)
    assert msgs == []


def test_corrupt_compressed_data_counts_a_warning_and_keeps_what_was_read():
    good = LEGACY_ROLLOUT.encode()
    frame = zstandard.ZstdCompressor().compress(good)
    info, _ = parse_bytes(frame[:-8] + b"\x00" * 8, relpath="rollout-x.jsonl.zst")
    assert info.parse_warnings >= 1
    garbage, _ = parse_bytes(b"not zstd at all", relpath="rollout-x.jsonl.zst")
    assert garbage.parse_warnings == 1 and garbage.message_count == 0


def test_bad_lines_are_counted_and_the_rest_is_read():
    lines = LEGACY_ROLLOUT.encode().split(b"\n")
    lines[5:5] = [
        b"{not json",
        b"\xff\xfe\x00 binary",
        b"[" * 50_000,
        b'{"type":"session_meta","payload":"not an object"}',
        b'{"type":"a_kind_from_the_future","payload":{}}',
        b'{"mystery":1}',
    ]
    info, _ = parse_bytes(b"\n".join(lines)[:-3])  # and a truncated last line
    assert info.parse_warnings == 7
    assert info.first_prompt == "Fix the flaky test in tests/test_io.py"
    assert info.tool_call_count == 1


def test_an_overlong_line_is_skipped_and_counted():
    lines = LEGACY_ROLLOUT.encode().split(b"\n")
    lines.insert(4, b'{"type":"message","role":"user","content":"' + b"a" * (MAX_LINE_BYTES + 10) + b'"}')
    info, _ = parse_bytes(b"\n".join(lines))
    assert info.parse_warnings == 1
    assert info.last_command == "Thanks, now run the whole suite"


def corpus_files(corpus: Path) -> list[bytes]:
    return [*small_corpus_files(corpus / "codex_rollout_jsonl", "*.jsonl", 400_000), LEGACY_ROLLOUT.encode()]


_records = json_records(
    fields=[
        "type",
        "payload",
        "role",
        "content",
        "text",
        "message",
        "timestamp",
        "id",
        "cwd",
        "git",
        "branch",
        "model",
        "name",
        "arguments",
        "output",
        "record_type",
        "thread_name",
    ],
    words=[
        "session_meta",
        "response_item",
        "event_msg",
        "turn_context",
        "message",
        "user",
        "user_message",
        "function_call",
        "input_text",
    ],
)


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=4096), st.booleans())
def test_random_bytes_never_raise(data, compressed):
    info, _ = parse_bytes(data, relpath="rollout-x.jsonl.zst" if compressed else "rollout-x.jsonl")
    assert info.parse_warnings >= 0 and info.message_count >= 0


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pick=st.integers(min_value=0), fraction=st.floats(min_value=0, max_value=1), compressed=st.booleans())
def test_a_truncated_rollout_gives_a_prefix_of_its_metadata(corpus, pick, fraction, compressed):
    files = corpus_files(corpus)
    data = files[pick % len(files)]
    full, _ = parse_bytes(data)
    cut_data = data[: int(len(data) * fraction)]
    if compressed:  # a complete frame of a truncated file, as an interrupted compression
        cut_data = zstandard.ZstdCompressor().compress(cut_data)
    cut, _ = parse_bytes(cut_data, relpath="rollout-x.jsonl.zst" if compressed else "rollout-x.jsonl")
    assert_prefix_metadata(cut, full)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pick=st.integers(min_value=0), data=st.data())
def test_random_line_mutations_never_raise_and_cost_at_most_a_warning_each(corpus, pick, data):
    files = corpus_files(corpus)
    base, info, mutated = parse_damaged(parse_bytes, files[pick % len(files)], data, _records)
    assert info.parse_warnings <= base.parse_warnings + mutated
    assert info.message_count <= base.message_count + mutated
