"""The asciinema source: discovery of .cast files, metadata of real recordings checked by
hand, typed-line reconstruction, and robustness against any bytes."""

from __future__ import annotations

import json
import os
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from termvault.fsutil import validate_id
from termvault.sources import source_class
from termvault.sources.asciinema import AsciinemaSource, TypedLines, is_shell_command
from termvault.sources.base import MAX_LINE_BYTES

from .support import MemoryFile, copy_corpus, corpus_ref, parse_and_render

SERVER_V2 = "asciinema__asciinema-server__test__fixtures__2__full.cast"
SERVER_V3 = "asciinema__asciinema-server__test__fixtures__3__full.cast"
WELCOME = "asciinema__asciinema-server__test__fixtures__welcome.cast"
MARKERS = "asciinema__asciinema-player__tests__assets__markers-input.cast"
RESIZING = "asciinema__asciinema-player__tests__assets__resizing.cast"
FISH_DEMO = "asciinema__asciinema__tests__casts__demo.cast"
ZSH_OSC7 = "cirocosta__asciinema-edit__fixture__test.cast"
AGENTGUARD = "0xAxiom__agentguard__demo.cast"


# ---------------------------------------------------------------------------------------
# Helpers (also used by the round-trip test)
# ---------------------------------------------------------------------------------------


def cast_layout(corpus: Path, root: Path) -> dict[Path, Path]:
    """Copy every corpus recording under ``root``, each repository's in its own folder
    (so discovery walks nested folders). Returns {copy: corpus file}."""
    return copy_corpus(corpus / "asciinema_cast", lambda src: root / src.name.split("__")[0] / src.name)


def source(user_home: Path, **kw) -> AsciinemaSource:
    return AsciinemaSource(home=user_home / ".multi-term", env={"HOME": str(user_home)}, **kw)


def parse_corpus(corpus: Path, name: str):
    src = AsciinemaSource(home=Path("unused"), env={"HOME": "/nonexistent"})
    return parse_and_render(src, corpus_ref(corpus, "asciinema_cast", name))


def cast(header: dict, *events) -> bytes:
    return "\n".join(json.dumps(x) for x in (header, *events)).encode() + b"\n"


# ---------------------------------------------------------------------------------------
# Discovery
# ---------------------------------------------------------------------------------------


def test_the_kind_is_registered_under_its_name():
    assert source_class("asciinema") is AsciinemaSource
    assert AsciinemaSource.default_mode == "copy"


def test_default_root_is_the_asciinema_data_folder_and_follows_xdg_data_home(user_home, tmp_path):
    assert source(user_home).roots == [user_home / ".local" / "share" / "asciinema"]
    moved = AsciinemaSource(home=tmp_path, env={"HOME": str(user_home), "XDG_DATA_HOME": str(tmp_path / "data")})
    assert moved.roots == [tmp_path / "data" / "asciinema"]


def test_every_corpus_recording_is_discovered_once_under_the_default_root(corpus, user_home):
    root = user_home / ".local" / "share" / "asciinema"
    placed = cast_layout(corpus, root)
    units = list(source(user_home).discover())
    assert len(units) == len(placed) == len(list((corpus / "asciinema_cast").iterdir()))
    assert {u.files[0].origin for u in units} == set(placed)
    for unit in units:
        assert unit.root == root
        assert len(unit.files) == 1
        assert (root / unit.files[0].relpath) == unit.files[0].origin
        assert validate_id(unit.session_id).startswith("asciinema-")
        assert unit.mtime == unit.files[0].mtime_ns / 1e9
    assert len({u.session_id for u in units}) == len(units)


def test_ids_are_stable_and_readable(corpus, user_home):
    root = user_home / ".local" / "share" / "asciinema"
    cast_layout(corpus, root)
    first = {u.files[0].relpath: u.session_id for u in source(user_home).discover()}
    second = {u.files[0].relpath: u.session_id for u in source(user_home).discover()}
    assert first == second
    assert first[f"asciinema/{WELCOME}"].startswith("asciinema-asciinema__asciinema-server__test__fixtures__welcome-")


def test_configured_roots_replace_the_default_and_overlapping_roots_do_not_duplicate(user_home, tmp_path):
    rec = tmp_path / "casts" / "sub" / "a.cast"
    rec.parent.mkdir(parents=True)
    rec.write_bytes(cast({"version": 2, "width": 80, "height": 24}, [0.1, "o", "hi"]))
    (tmp_path / "casts" / "notes.txt").write_text("not a recording")
    units = list(source(user_home, roots=[tmp_path / "casts", tmp_path / "casts" / "sub"]).discover())
    assert [(u.root, u.files[0].relpath) for u in units] == [(tmp_path / "casts", "sub/a.cast")]


def test_symbolic_links_are_not_followed(user_home, tmp_path):
    root = user_home / ".local" / "share" / "asciinema"
    root.mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.cast").write_bytes(cast({"version": 2}))
    os.symlink(outside / "secret.cast", root / "link.cast")
    os.symlink(outside, root / "linked-folder")
    assert list(source(user_home).discover()) == []


# ---------------------------------------------------------------------------------------
# Metadata of real recordings, checked by hand
# ---------------------------------------------------------------------------------------


def test_v2_header_gives_title_times_size_and_command(corpus):
    info, _ = parse_corpus(corpus, SERVER_V2)
    assert info.name == "bashing :)"
    assert info.created_at == 1506410422
    # No header duration: the last event (8.456789 s) ends the recording.
    assert abs(info.last_activity_at - (1506410422 + 8.456789)) < 1e-6
    assert info.last_command == "/bin/bash -l"  # only an empty Enter was typed
    assert info.extra["cols"] == 96 and info.extra["rows"] == 26
    assert info.extra["term_type"] == "screen-256color"
    assert info.extra["resizes"] == 1 and info.extra["idle_time_limit"] == 2.5
    assert info.message_count == 5 and info.parse_warnings == 0
    assert "foo bar" in info.text and "baz qux" in info.text and "żółć jaźń" in info.text


def test_v3_event_times_are_intervals_and_term_object_gives_the_size(corpus):
    info, _ = parse_corpus(corpus, SERVER_V3)
    assert info.extra["version"] == 3
    assert info.created_at == 1744302022
    assert abs(info.extra["duration"] - (1.234567 + 1.0 + 4.678987 + 1.0 + 2.456789)) < 1e-6
    assert abs(info.last_activity_at - (1744302022 + 10.370343)) < 1e-6
    assert (info.extra["cols"], info.extra["rows"], info.extra["term_type"]) == (96, 26, "xterm-ghostty")
    assert info.extra["shell"] == "/usr/bin/fish"


def test_header_duration_wins_and_a_missing_timestamp_gives_no_times(corpus):
    info, _ = parse_corpus(corpus, WELCOME)
    assert info.name == "Welcome to asciinema!"
    assert info.extra["duration"] == 128.978812
    assert info.created_at is None and info.last_activity_at is None
    assert info.last_command == 'PS1="> " bash'


def test_markers_become_marker_messages_and_typed_input_the_last_command(corpus):
    info, messages = parse_corpus(corpus, MARKERS)
    assert [m.text for m in messages if m.role == "marker"] == ["first", "second"]
    assert [m.text for m in messages if m.role == "input"] == ["a"]
    assert info.last_command == "a" and info.extra["markers"] == 2
    assert info.name == MARKERS[: -len(".cast")]  # no title or command: the file name
    assert [m.role for m in messages][:4] == ["output", "marker", "output", "input"]


def test_lines_typed_at_a_shell_prompt_are_reconstructed(corpus):
    info, messages = parse_corpus(corpus, FISH_DEMO)
    # Input events: v, i, m, Enter ... then ':' 'q' Enter inside vim (a terminal reply
    # "ESC[2;2R ESC[>0;95;0c" between them is not typing).
    assert info.first_prompt == "vim"
    assert info.last_command == ":q"
    assert [m.text for m in messages if m.role == "input"] == ["vim", ":q"]


def test_working_directory_comes_from_osc_7(corpus):
    info, _ = parse_corpus(corpus, ZSH_OSC7)
    assert info.working_directory == "/Users/cirocosta/Development/go/src/github.com/cirocosta/asciinema-edit"


def test_searchable_text_has_no_escape_sequences(corpus):
    info, messages = parse_corpus(corpus, AGENTGUARD)
    assert info.name == "AgentGuard Demo"
    assert info.last_command == "npx tsx examples/video-demo.ts --fast"  # not a shell: what was run
    assert "SCENE 4: Compromised LLM Tries to Drain Wallet" in info.text
    assert "\x1b" not in info.text and all("\x1b" not in m.text for m in messages)


def test_resizes_and_exit_status_are_reported(corpus):
    info, messages = parse_corpus(corpus, RESIZING)
    assert info.extra["resizes"] == 2 and info.extra["exit_status"] == "0"
    assert abs(info.extra["duration"] - 2.1) < 1e-9
    assert [m.text for m in messages if m.role == "system"] == [
        "terminal resized to 100x30",
        "terminal resized to 50x10",
        "exit status 0",
    ]


def test_every_corpus_recording_parses_without_warnings(corpus):
    for path in sorted((corpus / "asciinema_cast").iterdir()):
        info, messages = parse_corpus(corpus, path.name)
        assert info.parse_warnings == 0, path.name
        assert info.message_count > 0 and messages, path.name
        assert "\x1b" not in info.text, path.name


# ---------------------------------------------------------------------------------------
# Typed lines and shells
# ---------------------------------------------------------------------------------------


def test_typed_lines_apply_backspace_ctrl_w_ctrl_u_and_ctrl_c():
    typed = TypedLines()
    assert typed.feed("lss\x7f -la\r") == ["ls -la"]
    assert typed.feed("git commit\x17status\r") == ["git status"]
    assert typed.feed("rm -rf /\x15echo ok\r") == ["echo ok"]
    assert typed.feed("sleep 100\x03") == []
    assert typed.feed("\x1b[Amake\x1bOB test\n") == ["make test"]
    assert (typed.first, typed.last, typed.lines) == ("ls -la", "make test", 4)


def test_shell_commands_are_recognised():
    assert is_shell_command("/bin/bash -l")
    assert is_shell_command('PS1="> " bash')
    assert is_shell_command("zsh")
    assert not is_shell_command("npx tsx demo.ts")
    assert not is_shell_command("vim 'unbalanced")
    assert not is_shell_command(None)


def test_input_typed_into_a_program_does_not_replace_the_recorded_command():
    data = cast({"version": 2, "command": "htop"}, [0.1, "i", "q\r"])
    info = AsciinemaSource(home=Path("unused")).parse([MemoryFile("x.cast", data)])
    assert info.last_command == "htop" and info.first_prompt == "q"


# ---------------------------------------------------------------------------------------
# Robustness
# ---------------------------------------------------------------------------------------


def test_malformed_and_unknown_events_are_counted_not_fatal():
    data = (
        cast(
            {"version": 2, "title": "t"},
            [0.1, "o", "ok\r\n"],
            [0.2, "z", "unknown code"],
            ["later", "o", "bad time"],
            [0.3, "o"],
            {"not": "an event"},
            [-1, "o", "negative"],
        )
        + b'[0.4, "o", "trunc'
    )
    info = AsciinemaSource(home=Path("unused")).parse([MemoryFile("x.cast", data)])
    # The unknown code counts as a warning but still as an event.
    assert info.parse_warnings == 6
    assert info.message_count == 2
    assert "ok" in info.text


def test_a_file_without_header_is_read_as_v2_events_with_one_warning():
    data = b'[0.5, "o", "hello"]\n[1.5, "o", " world"]\n'
    info = AsciinemaSource(home=Path("unused")).parse([MemoryFile("x.cast", data)])
    assert info.parse_warnings == 1 and info.message_count == 2
    assert info.text == "hello world" and info.extra["duration"] == 1.5


def test_v1_recordings_count_one_warning_and_keep_their_header_fields():
    data = json.dumps({"version": 1, "width": 80, "height": 24, "title": "old", "stdout": [[0.1, "x"]]}).encode()
    info = AsciinemaSource(home=Path("unused")).parse([MemoryFile("x.cast", data)])
    assert info.parse_warnings == 1 and info.name == "old" and info.message_count == 0


def test_v3_comment_lines_are_ignored():
    data = b'{"version": 3, "term": {"cols": 10, "rows": 5}}\n# a comment\n[0.1, "o", "x"]\n'
    info = AsciinemaSource(home=Path("unused")).parse([MemoryFile("x.cast", data)])
    assert info.parse_warnings == 0 and info.message_count == 1


def test_invalid_utf8_inside_an_event_keeps_the_event():
    data = b'{"version": 2}\n[0.1, "o", "caf\xe9 ok"]\n'
    info = AsciinemaSource(home=Path("unused")).parse([MemoryFile("x.cast", data)])
    assert info.parse_warnings == 0 and "caf\ufffd ok" in info.text


def test_an_overlong_line_is_skipped_with_a_warning():
    data = b'{"version": 2}\n[0.1, "o", "' + b"A" * (MAX_LINE_BYTES + 10) + b'"]\n[0.2, "o", "after"]\n'
    info = AsciinemaSource(home=Path("unused")).parse([MemoryFile("x.cast", data)])
    assert info.parse_warnings == 1 and info.text == "after"


def test_an_empty_unit_gives_empty_metadata():
    src = AsciinemaSource(home=Path("unused"))
    assert src.parse([]).message_count == 0
    assert list(src.messages([])) == []


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_parse_and_render_without_raising(data):
    info, _ = parse_and_render(AsciinemaSource(home=Path("unused")), MemoryFile("x.cast", data))
    assert info.parse_warnings >= 0


_EVENTS = st.one_of(
    st.tuples(st.floats(0, 100), st.sampled_from("oimrx"), st.text(max_size=30)).map(list),
    st.lists(st.one_of(st.none(), st.integers(), st.text(max_size=5)), max_size=4),
    st.text(max_size=20),
    st.recursive(st.integers(), lambda c: st.lists(c, max_size=3), max_leaves=10),
)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from([2, 3, "x", None]), st.lists(_EVENTS, max_size=30))
def test_structured_garbage_never_raises_and_counts_warnings(version, events):
    data = cast({"version": version}, *events)
    info, _ = parse_and_render(AsciinemaSource(home=Path("unused")), MemoryFile("x.cast", data))
    # Every line is an event or a warning (an unknown code is both).
    assert info.message_count + info.parse_warnings >= len(events)


def test_impossible_header_times_are_ignored():
    data = cast({"version": 3, "timestamp": 1e308}, [1e308, "o", "x"], [1e308, "o", "overflows"])
    info = AsciinemaSource(home=Path("unused")).parse([MemoryFile("x.cast", data)])
    assert info.created_at is None and info.last_activity_at is None
    assert info.parse_warnings == 1 and info.extra["duration"] == 1e308


def test_title_and_command_stay_searchable_when_the_output_fills_the_text():
    events = ([0.1, "o", f"{n:06d}" + "x" * 1000 + "\r\n"] for n in range(5000))  # 5 MB of output
    data = cast({"version": 2, "title": "nightly build", "command": "make all"}, *events)
    info = AsciinemaSource(home=Path("unused")).parse([MemoryFile("x.cast", data)])
    assert info.text.startswith("nightly build\nmake all\n000000x")
    assert 4 * 1024 * 1024 - 2000 < len(info.text) <= 4 * 1024 * 1024


def test_lone_surrogates_in_the_recording_do_not_reach_the_metadata():
    data = (
        b'{"version": 2, "title": "t\\ud800", "tags": ["a\\udfff", 3]}\n'
        b'[0.1, "i", "ls\\ud801\\r"]\n[0.2, "o", "\\udc00out"]\n'
    )
    info = AsciinemaSource(home=Path("unused")).parse([MemoryFile("x.cast", data)])
    json.dumps(info.metadata(), ensure_ascii=False).encode("utf-8")
    info.text.encode("utf-8")
    assert (info.name, info.last_command, info.extra["tags"]) == ("t?", "ls?", ["a?"])
