"""The parsers' fast paths give exactly what reading a line (or an event) at a time gives.

Lines are read by block (``line_blocks``), escape sequences stripped by regex between
controls, agent-log blocks of plain text decoded and cleaned whole, leading times converted
once per second, consecutive asciinema output events stripped as one chunk, and text
collected by batch: each is checked against the line-at-a-time code it replaced (kept in
``reference``) on random input with escape sequences, carriage returns, backspaces,
invalid UTF-8, JSON records and overlong lines.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import os
import time
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from termvault import ansi
from termvault.sources import agent_log, asciinema, base
from termvault.sources import lines as lines_module
from termvault.sources.agent_log import AgentLogSource, _Clock, _Reader, prompt_command
from termvault.sources.asciinema import AsciinemaSource
from termvault.sources.base import TextCollector, line_blocks, line_runs

from . import reference
from .support import MemoryFile

# -- lines ------------------------------------------------------------------------------

_BYTES = st.lists(
    st.one_of(
        st.sampled_from([b"\n", b"\r\n", b"\r", b"", b" ", b"{", b'{"a": 1}\n', b"\xff", b"\xe2\x82", b"\x1b["]),
        st.binary(max_size=40),
        st.integers(1, 120).map(lambda n: b"x" * n),
    ),
    max_size=40,
).map(b"".join)


@settings(max_examples=300, deadline=None)
@given(_BYTES, st.integers(1, 60), st.integers(1, 70))
def test_line_blocks_give_the_lines_readline_gives(data, max_line, block):
    ref = MemoryFile("f.log", data)
    lines = list(enumerate(itertools.chain.from_iterable(line_blocks(ref, max_line, block)), 1))
    assert lines == list(reference.iter_lines(ref, max_line))


_SPACES = st.lists(st.sampled_from([b"\n", b" ", b"\t", b"\r", b"\x0b", b"\x0c", b"\x1c", b"a", b"{}"]), max_size=60)


@settings(max_examples=300, deadline=None)
@given(st.one_of(_BYTES, _SPACES.map(b"".join)), st.integers(1, 60), st.integers(1, 70))
@example(b"x" * 10 + b"\n" + b"y" * 20 + b"\n" + b"z" * 9, 10, 64)  # a line as long as the limit, newline aside
def test_nonblank_lines_are_the_lines_the_regex_finds(data, max_line, chunk):
    ref = MemoryFile("f.jsonl", data)
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(lines_module, "_CHUNK", chunk)
        lines = list(lines_module.iter_nonblank_lines(ref, max_line))
    assert lines == list(reference.iter_nonblank_lines(ref, max_line, chunk))


# -- escape sequences -------------------------------------------------------------------

_PIECES = st.sampled_from(
    [
        "a", "b", " ", "é", "€", "\t", "\n", "\r", "\r\n", "\b", "\x07", "\x00", "\x0f", "\x7f",
        "\x9b", "\x9c", "\x9d", "\x90", "\x98", "\x9e", "\x9f", "\x85", "\x1b", "\x1b[", "\x1b[1;31m", "\x1b[0m", "\x1b[?2004h",
        "\x1b[38;2;1;2;3m", "\x1b]0;title\x07", "\x1b]7;file://h/home/me\x1b\\", "\x1b]", "\x1bP", "\x1b(B",
        "\x1b(", "\x1b#8", "\x1b7", "\x1bO", "\x1bOA", "\x1bN", "\x1b\\", ";", "[", "]", "m", "2", "?",
    ]
)  # fmt: skip
_TEXT = st.lists(_PIECES, max_size=60).map("".join)
_CHUNKS = st.lists(_TEXT, max_size=8)


@settings(max_examples=400, deadline=None)
@given(_CHUNKS, st.booleans())
def test_stripper_gives_what_the_token_scan_gives(chunks, report):
    fast_osc: list[str] = []
    slow_osc: list[str] = []
    fast = ansi.AnsiStripper(fast_osc.append if report else None)
    slow = reference.Stripper(slow_osc.append if report else None)
    for chunk in chunks:
        assert fast.feed(chunk) == slow.feed(chunk)
        assert fast.idle == (slow._state == 0)
    assert fast_osc == slow_osc


@settings(max_examples=300, deadline=None)
@given(_TEXT)
def test_plain_is_the_control_search(text):
    assert ansi.plain(text) == (ansi.CONTROLS.search(text) is None)


@settings(max_examples=300, deadline=None)
@given(_CHUNKS, st.integers(1, 40))
def test_terminal_lines_give_what_they_gave(chunks, max_pending):
    fast = ansi.TerminalLines(max_pending=max_pending)
    slow = reference.TerminalLines(max_pending=max_pending)
    for chunk in chunks:
        assert fast.feed(chunk) == slow.feed(chunk)
    assert fast.flush() == slow.flush()


# -- text collection --------------------------------------------------------------------

_LINES = st.lists(
    st.one_of(st.sampled_from(["", "x", "y" * 199, "z" * 200, "w" * 300]), st.text(max_size=30)), max_size=30
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_LINES, max_size=6), st.integers(0, 2000))
def test_add_lines_is_add_for_each_line(batches, cap):
    batched, single = TextCollector(cap), TextCollector(cap)
    for lines in batches:
        batched.add_lines(list(lines))
        for line in lines:
            single.add(line)
        assert (batched.parts, batched.size, batched._seen) == (single.parts, single.size, single._seen)


# -- leading times ----------------------------------------------------------------------


@contextlib.contextmanager
def zone_with_dst():
    """A local time zone with daylight saving time, so naive times are not all UTC."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "Europe/Berlin"
    time.tzset()
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = saved
        time.tzset()


_TIMES = st.builds(
    lambda shape, y, mo, d, h, mi, s, frac, zone, rest: shape.format(
        y=y, mo=mo, d=d, h=h, mi=mi, s=s, frac=frac, zone=zone, rest=rest
    ),
    st.sampled_from(
        [
            "{y:04d}-{mo:02d}-{d:02d} {h:02d}:{mi:02d}:{s:02d}{frac}{zone}{rest}",
            "[{y:04d}/{mo:02d}/{d:02d}T{h:02d}:{mi:02d}:{s:02d}{frac}{zone}]{rest}",
            "{y:04d}{mo:02d}{d:02d}-{h}:{mi}:{s}{frac}{rest}",
            "{y:04d}{mo:02d}{d:02d}T{h:02d}{mi:02d}{s:02d}{rest}",
            "[Sun Mar {d} {h:02d}:{mi:02d}:{s:02d}{frac} {y:04d}]{rest}",
            "Mon Oct {d:2d} {h:02d}:{mi:02d}:{s:02d} {y:04d}{rest}",
            "17{mo:02d}{d:02d}{h:02d}{mi:02d}{frac} {rest}",
            "{y:04d}{mo:02d}{d:02d}{h:02d}{rest}",
        ]
    ),
    st.sampled_from([1, 1969, 1970, 2024, 2025, 9999]),
    st.integers(0, 13),
    st.integers(0, 32),
    st.sampled_from([0, 1, 2, 3, 23, 24]),
    st.sampled_from([0, 30, 59, 60]),
    st.sampled_from([0, 59, 60]),
    st.sampled_from(["", ".5", ",123", ".000001", ".123456789", ":7"]),
    st.sampled_from(["", "Z", "+02:00", "-0530", " +01:00", "+14:00"]),
    st.sampled_from(["", " INFO x", ":1", "5", "]"]),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_TIMES, min_size=1, max_size=6))
def test_clock_gives_the_times_datetime_gives(lines):
    clock = _Clock()  # one clock for all: its cache must not change a result
    with zone_with_dst():
        for line in lines * 2:
            assert clock.leading_time(line) == reference.leading_time(line), line


@zone_with_dst()
def test_clock_around_a_daylight_saving_change():
    clock = _Clock()
    for line in ["2024-03-31 02:30:00.25 x", "2024-10-27 02:30:00,5 x", "2024-10-27 02:30:00 x", "2024-03-31 02:30:00"]:
        assert clock.leading_time(line) == reference.leading_time(line)


# -- agent logs -------------------------------------------------------------------------

_LOG_LINES = st.lists(
    st.one_of(
        _TEXT,
        _TIMES,
        st.sampled_from(
            [
                "",
                "   ",
                "$ make test",
                "me@host:~/x$ ls -la",
                '{"role": "user", "content": "fix it", "ts": 1714557600}',
                '{"type": "tool_call", "text": "ls", "cwd": "/w"}',
                '{"message": {"role": "assistant", "content": [{"text": "hi"}]}}',
                "{not json",
                "[1, 2]",
                "  {}",
                "x" * 300,
            ]
        ),
        st.binary(max_size=12).map(lambda b: b.decode("latin-1")),
    ),
    max_size=40,
)


def _log_bytes(lines: list[str], ending: str, bad: bool) -> bytes:
    data = ending.join(lines).encode("utf-8", "surrogatepass")
    return data.replace(b"\xc3\xbf", b"\xff") if bad else data


def _old_parse(ref, max_line_chars: int) -> dict:
    """The fields of ``AgentLogSource.parse`` from the line-at-a-time reader, as the
    parser computed them line by line."""
    text = TextCollector()
    fields = {"message_count": 0, "tool_call_count": 0, "first_prompt": None, "last_command": None}
    first = latest = None
    warnings = "0"
    for when, role, body, is_record in reference.agent_log_lines(ref, max_line_chars):
        if role == "warnings":
            warnings = body
            continue
        if when is not None:
            first = when if first is None else min(first, when)
            latest = when if latest is None else max(latest, when)
        fields["message_count"] += 1
        if role in agent_log._TOOL_ROLES:
            fields["tool_call_count"] += 1
            text.add(body, agent_log.TOOL_OUTPUT_CAP)
            continue
        text.add(body)
        command = body.strip() if is_record and role in agent_log._USER_ROLES else None
        if not is_record:
            command = prompt_command(body)
        if command:
            fields["first_prompt"] = fields["first_prompt"] or command[:2000]
            fields["last_command"] = command[:2000]
    return {**fields, "created_at": first, "last_activity_at": latest, "warnings": int(warnings), "text": text.text()}


@settings(max_examples=300, deadline=None)
@given(
    _LOG_LINES,
    st.sampled_from(["\n", "\r\n"]),
    st.booleans(),
    st.sampled_from(["pane.log", "pane.jsonl"]),
    st.sampled_from([64 * 1024, 7]),
    st.sampled_from([256 * 1024, 16]),
)
def test_agent_log_reads_what_it_read_line_by_line(lines, ending, bad, name, max_chars, block):
    with pytest.MonkeyPatch.context() as monkeypatch, zone_with_dst():
        _agent_log_same(monkeypatch, lines, ending, bad, name, max_chars, block)


def _agent_log_same(monkeypatch, lines, ending, bad, name, max_chars, block):
    monkeypatch.setattr(agent_log, "MAX_LINE_CHARS", max_chars)
    monkeypatch.setattr(agent_log, "_LINE_BYTES", max_chars * 4)
    monkeypatch.setattr(agent_log, "line_runs", functools.partial(line_runs, block=block))
    ref = MemoryFile(name, _log_bytes(lines, ending, bad))
    reader = _Reader(ref)
    got = [*reader, (None, "warnings", str(reader.warnings), False)]
    assert got == list(reference.agent_log_lines(ref, max_chars))

    info = AgentLogSource([], home=Path("home")).parse([ref])
    old = _old_parse(ref, max_chars)
    assert info.message_count == old["message_count"]
    assert info.tool_call_count == old["tool_call_count"]
    assert info.first_prompt == old["first_prompt"]
    assert info.last_command == old["last_command"]
    assert (info.created_at, info.last_activity_at) == (old["created_at"], old["last_activity_at"])
    assert info.parse_warnings == old["warnings"]
    assert info.text == old["text"]


# -- asciinema --------------------------------------------------------------------------

_EVENTS = st.lists(
    st.tuples(st.sampled_from(["o", "o", "o", "o", "i", "m", "r", "x", "q"]), _TEXT),
    max_size=40,
)


def _cast(events: list[tuple[str, str]]) -> bytes:
    header = {"version": 2, "width": 80, "height": 24, "command": "bash"}
    lines = [json.dumps(header)] + [json.dumps([i * 0.5, code, data]) for i, (code, data) in enumerate(events)]
    return "\n".join(lines).encode()


@settings(max_examples=300, deadline=None)
@given(_EVENTS, st.sampled_from([4, 30, 64 * 1024]), st.sampled_from([10, 60, 300, 4 * 1024 * 1024]))
@example([("o", "abcdef"), ("i", "x"), ("o", "ghi"), ("o", "jkl")], 8, 4 * 1024 * 1024)  # the pending part grows
@example([("o", "ab\ncd\n"), ("o", "\x1b]7;file://h/x"), ("o", "\x07")], 64 * 1024, 11)  # the text fills
def test_asciinema_output_runs_give_the_lines_of_one_event_at_a_time(events, max_pending, text_cap):
    with pytest.MonkeyPatch.context() as monkeypatch:
        _asciinema_same(monkeypatch, events, max_pending, text_cap)


def _asciinema_same(monkeypatch, events, max_pending, text_cap):
    monkeypatch.setattr(asciinema, "TextCollector", functools.partial(TextCollector, text_cap))
    monkeypatch.setattr(asciinema, "TerminalLines", functools.partial(reference.TerminalLines, max_pending=max_pending))
    ref = MemoryFile("demo.cast", _cast(events))
    source = AsciinemaSource([], home=Path("home"))
    one_at_a_time = source.parse([ref])  # the former lines, each event fed alone
    monkeypatch.setattr(asciinema, "TerminalLines", functools.partial(ansi.TerminalLines, max_pending=max_pending))
    assert source.parse([ref]) == one_at_a_time


_EVENT_LINES = st.lists(
    st.builds(
        lambda t, code, data: f"[{t}, {code}, {data}]",
        st.sampled_from(["0.5", "1", "0", "-0.0", "-1.5", "1e308", "1e309", "NaN", "Infinity", "true", '"1"', "2.25"]),
        st.sampled_from(['"o"', '"i"', '"m"', "1", "null"]),
        st.sampled_from(['"x\\r\\n"', '"\\u001b[1m"', "1", "[1, 2]", "{}", "null", '"\\ud800"']),
    )
    | st.sampled_from(["# comment", "", "[1, 2]", "{}", "not json", '[1e400, "o", "x"]']),
    max_size=20,
)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(['{"version": 2}', '{"version": 3}', '{"version": 1}', '[0.5, "o", "x"]']),
    _EVENT_LINES,
    st.sampled_from([128 * 1024, 7]),
)
def test_cast_events_are_the_events_read_one_at_a_time(header, lines, block):
    ref = MemoryFile("x.cast", "\n".join([header, *lines]).encode())
    fast, slow = asciinema._Cast(), asciinema._Cast()
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(asciinema, "line_runs", functools.partial(line_runs, block=block))
        events = list(asciinema._read(ref, fast))
    assert events == list(reference.cast_events(ref, slow))
    assert (fast.header, fast.version, fast.warnings) == (slow.header, slow.version, slow.warnings)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [b"# aider chat started at 2024-05-01 10:00:00", b"#### hi", b"> Model: x", b"ok\r", b"\xff", "é".encode()]
        )
        | st.binary(max_size=10),
        max_size=30,
    ),
    st.sampled_from([b"\n", b"\r\n", b"\r\r\n"]),
    st.sampled_from([128 * 1024, 5]),
)
def test_aider_lines_are_the_lines_decoded_one_at_a_time(lines, ending, block):
    from termvault.sources import aider

    ref = MemoryFile(".aider.chat.history.md", ending.join(lines))
    fast, slow = [0], [0]
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(aider, "line_runs", functools.partial(line_runs, block=block))
        got = list(aider._lines(ref, fast))
    assert got == list(reference.aider_lines(ref, slow))
    assert fast == slow


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        _TIMES,
        st.sampled_from(
            ["", " ", "2024-05-01T10:00:00Z", "2024-05-01T10:00:00.5+02:00", " 2024-05-01 ", "0001-01-01T00:00:00Z"]
        ),
        st.sampled_from(
            ["9999-12-31T23:59:59-23:59", "2024-05-01Z", "Z", "2024-13-01T00:00:00", "1979-12-31T23:59:59Z"]
        ),
        st.text(max_size=30),
    )
)
def test_parse_time_reads_strings_as_it_did(value):
    with zone_with_dst():
        assert base.parse_time(value) == reference.parse_time(value)
