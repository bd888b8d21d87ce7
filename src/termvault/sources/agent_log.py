"""Output logs of an agent multiplexer: one file per agent pane.

Files named ``*.log``, ``*.txt`` or ``*.jsonl`` under the roots (default
``<termvault home>/logs``) are one unit each; empty files are skipped until they hold
something. Ids are ``agent-log-<file stem>-<hash of the path>``.

A line that is a JSON object is a record: its time is the first of ``timestamp``, ``ts``,
``time`` (ISO-8601 or UNIX seconds/milliseconds), its role the first of ``role``, ``type``
(or ``message.role``), its text the first of ``text``, ``content``, ``message`` (strings,
content-block lists or ``{"role", "content"}`` objects); ``cwd``/``working_directory``,
``model`` and ``git_branch``/``branch`` are picked up when present. In a ``.jsonl`` file
any other line counts as a parse warning. Every other line is terminal output: escape
sequences are removed, and a leading timestamp gives its time when it carries a full
date (ISO-8601 ``2024-05-01 10:00:00[,123]``, ``2024/05/01 10:00:00``, bracketed
``[Sun Dec 04 04:47:44 2005]``, ``20171223-22:15:29``, or a leading 10-digit UNIX time);
formats without a year (syslog, logcat) are not trusted and give no time, so the facade
falls back to the file's mtime. Naive times are read in the local time zone.

Metadata: name is the file name without its extension; first_prompt / last_command are
the first / last user (or ``input``/``command``) record, or for plain text the first /
last line that looks like a shell prompt with a command (``$ make test``,
``me@host:~/x$ ls``, ``❯ git status``); message_count counts records and output lines;
tool_call_count counts records whose role or type names a tool call.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path, PurePosixPath
from typing import Any

from ..ansi import AnsiStripper, plain
from ..model import FileRef, SessionInfo, SessionUnit
from .base import (
    TOOL_OUTPUT_CAP,
    Candidate,
    Message,
    Source,
    TextCollector,
    clean_info,
    content_text,
    decode_text,
    first_line,
    line_runs,
    loads,
    parse_time,
    split_run,
    unique_units,
    unit_id,
    walk,
)

_LOG_FILE = re.compile(r"\.(log|txt|jsonl)$", re.IGNORECASE)
_USER_ROLES = {"user", "human", "input", "command", "prompt"}
_TOOL_ROLES = {"tool", "tool_use", "tool_call", "function_call", "toolcall"}
_TIME_KEYS = ("timestamp", "ts", "time")
_TEXT_KEYS = ("text", "content", "message")
MESSAGE_LINES = 200  # plain-text lines per rendered output message
MAX_LINE_CHARS = 64 * 1024
_LINE_BYTES = MAX_LINE_CHARS * 4  # bytes of a line that are decoded (the rest is cut)

_MONTHS = {
    m: i for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1)
}
_ISO = re.compile(
    r"^\[?(\d{4})[-/](\d{2})[-/](\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?"
    r"\s?(Z|[+-]\d{2}:?\d{2})?(?![\d:])"
)
_COMPACT = re.compile(
    r"^\[?(\d{4})(\d{2})(\d{2})[-T ](?:(\d{1,2}):(\d{1,2}):(\d{1,2})|(\d{2})(\d{2})(\d{2}))(?:[.,:](\d{1,9}))?(?!\d)"
)
_CTIME = re.compile(
    r"^\[?(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))? (\d{4})\]?"
)
_EPOCH = re.compile(r"^\[?(\d{10})(?:\.(\d{1,9}))?(?=[\]\s])")
_PROMPT = re.compile(
    r"^(?:\([^)]{1,40}\) )?"  # a virtualenv or similar prefix
    r"(?:[\w.-]+@[\w.-]+[: ][^$#%>❯]{0,200}[$#%] |\$ |% |❯ |➜ +\S+ +(?:git:\([^)]*\) (?:✗ )?)?)"
    r"(?P<cmd>\S.*)$"
)


def leading_time(line: str) -> float | None:
    """UNIX seconds of a timestamp at the start of ``line`` with a full date, else None."""
    return _Clock().leading_time(line)


# Every timestamp ``leading_time`` reads starts so, and the three starts exclude each
# other: a line is passed over with one match instead of four, and a match tells which
# format may follow (after "YYYY-" only ISO can, after 8 digits compact then epoch).
_MAYBE_TIME = re.compile(
    r"\[?(?:(?P<iso>\d{4}[-/]\d{2}[-/])|(?P<ctime>(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) )|(?P<digits>\d{8}))"
)
_EPOCH_DT = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)


class _Clock:
    """``leading_time`` for the lines of one file: the seconds of each date and time read
    (without the fraction) are kept, so a log with many lines per second converts each
    second once. The result is the float ``datetime.timestamp()`` gives: whole local
    seconds plus ``micro / 1e6`` for a naive time, whole microseconds / 10**6 for one with
    a zone."""

    MAX_KEPT = 4096

    def __init__(self) -> None:
        self._seconds: dict[tuple[Any, ...], tuple[int, bool] | None] = {}

    def leading_time(self, line: str) -> float | None:
        start = _MAYBE_TIME.match(line)
        if start is None:
            return None
        kind = start.lastgroup
        if kind == "iso":
            m = _ISO.match(line)
            return None if m is None else self._stamp(m.group(1, 2, 3, 4, 5, 6, 8), m[7])
        if kind == "ctime":
            m = _CTIME.match(line)
            month = _MONTHS.get(m[1].lower()) if m else None
            return self._stamp((m[7], month, m[2], m[3], m[4], m[5], None), m[6]) if m and month else None
        m = _COMPACT.match(line)
        if m:
            hh, mm, ss = (m[4], m[5], m[6]) if m[4] is not None else (m[7], m[8], m[9])
            return self._stamp((m[1], m[2], m[3], hh, mm, ss, None), m[10])
        m = _EPOCH.match(line)
        if m:
            return float(f"{m[1]}.{m[2] or 0}")
        return None

    def _stamp(self, key: tuple[Any, ...], frac: str | None) -> float | None:
        """``key`` is (year, month, day, hours, minutes, seconds, zone), as read."""
        if key in self._seconds:
            whole = self._seconds[key]
        else:
            if len(self._seconds) >= self.MAX_KEPT:
                self._seconds.clear()
            whole = self._seconds[key] = _whole_seconds(*key)
        if whole is None:
            return None
        seconds, aware = whole
        if frac is None:
            return float(seconds)  # either formula with no microseconds
        micro = int(frac[:6].ljust(6, "0"))
        return (seconds * 1_000_000 + micro) / 1_000_000 if aware else seconds + micro / 1e6


def _whole_seconds(
    year: str, month: str | int, day: str, hh: str, mm: str, ss: str, zone: str | None
) -> tuple[int, bool] | None:
    """(UNIX seconds, whether a zone was given) of a date and time; None if invalid."""
    try:
        dt = datetime(int(year), int(month), int(day), int(hh), int(mm), int(ss))
        if zone == "Z":
            dt = dt.replace(tzinfo=UTC)
        elif zone:
            z = zone.replace(":", "")
            minutes = int(z[1:3]) * 60 + int(z[3:5])
            dt = dt.replace(tzinfo=timezone(timedelta(minutes=minutes if z[0] == "+" else -minutes)))
        if dt.tzinfo is None:
            return int(dt.timestamp()), False  # a naive time is local
        return (dt - _EPOCH_DT) // _SECOND, True
    except (ValueError, OverflowError, OSError):
        return None


def prompt_command(line: str) -> str | None:
    """The command of a line that looks like a shell prompt followed by one, else None."""
    m = _PROMPT.match(line)
    return m.group("cmd").strip() if m else None


def _first(obj: dict[str, Any], keys: Sequence[str]) -> Any:
    for key in keys:
        if obj.get(key) not in (None, ""):
            return obj[key]
    return None


def _record(obj: dict[str, Any]) -> tuple[float | None, str, str]:
    """(time, role, text) of a JSON record."""
    when = parse_time(_first(obj, _TIME_KEYS))
    role = _first(obj, ("role", "type"))
    body = _first(obj, _TEXT_KEYS)
    if isinstance(body, dict):
        if not isinstance(role, str) and isinstance(body.get("role"), str):
            role = body["role"]
        body = body.get("content", body.get("text"))
    text = content_text(body) if not isinstance(body, (int, float)) else str(body)
    return when, role.lower() if isinstance(role, str) else "", text


Record = tuple["float | None", str, str, bool]
# A line that may hold a JSON object (one starting with "{" once blanks are stripped):
# the first line of a block, or one after a newline (a literal first: a fast scan).
_OBJECT_FIRST = re.compile(rb"[ \t\r\x0b\x0c]*\{")
_OBJECT_NEXT = re.compile(rb"\n[ \t\r\x0b\x0c]*\{")


class _Reader:
    """Streams a log file's lines as ``(time, role, text, is_record)`` (iterating it), or
    as records and runs of plain output lines (``items``)."""

    def __init__(self, ref: FileRef):
        self.ref = ref
        self.jsonl = ref.relpath.lower().endswith(".jsonl")
        self.warnings = 0
        self.fields: dict[str, str] = {}
        self.clock = _Clock()

    def __iter__(self) -> Iterator[Record]:
        leading_time = self.clock.leading_time
        for item in self.items():
            if isinstance(item, tuple):
                yield item
            else:
                for line in item:
                    yield leading_time(line), "output", line[:MAX_LINE_CHARS], False

    def items(self) -> Iterator[Record | list[str]]:
        """Each JSON record as ``(time, role, text, True)``; the plain lines between them
        in lists, each line without escape sequences, carriage returns and surrounding
        blanks (blank lines left out). A line's time is read from it whole; its text is
        cut to ``MAX_LINE_CHARS`` (``_cut``)."""
        stripper = AnsiStripper()
        try:
            for run in line_runs(self.ref):
                if run is None:
                    self.warnings += 1
                    continue
                lines = None if self.jsonl or not stripper.idle else _plain_run(run)
                if lines is None:
                    yield from self._lines(split_run(run), stripper)
                elif lines:
                    yield lines
        except OSError:
            self.warnings += 1

    def _lines(self, block: Sequence[bytes | None], stripper: AnsiStripper) -> Iterator[Record | list[str]]:
        """``items`` of a block read line by line (records, escapes, overlong lines...)."""
        run: list[str] = []
        for raw in block:
            if raw is None:
                self.warnings += 1
                continue
            stripped = raw.strip()
            if not stripped:
                continue
            if stripped[0] == 123:  # "{": perhaps a record
                try:
                    obj = loads(stripped)
                except (ValueError, RecursionError):
                    obj = None
                if isinstance(obj, dict):
                    record = self._record(obj)
                    if record is not None:
                        if run:
                            yield run
                            run = []
                        yield record
                    continue
            if self.jsonl:
                self.warnings += 1
                continue
            line = decode_text(raw[:_LINE_BYTES])
            if not stripper.idle or not plain(line):  # else the stripper would return it as is
                line = stripper.feed(line)
            line = line.replace("\r", "").strip()
            if line:
                run.append(line)
        if run:
            yield run

    def _record(self, obj: dict[str, Any]) -> tuple[float | None, str, str, bool] | None:
        """What a JSON object line gives; None (a warning) when it is nested too deep."""
        for key, name in (
            ("cwd", "cwd"),
            ("working_directory", "cwd"),
            ("model", "model"),
            ("git_branch", "branch"),
            ("branch", "branch"),
        ):
            if isinstance(obj.get(key), str) and obj[key]:
                self.fields[name] = obj[key]
        try:
            when, role, text = _record(obj)
        except RecursionError:  # nesting deep enough to parse but not to walk
            self.warnings += 1
            return None
        return when, role, text, True


def _plain_run(data: bytes) -> list[str] | None:
    """The output lines of a run of whole lines read at once, when it holds only text
    that needs no escape handling (and the stripper is idle); else None (read it line by
    line). The same lines as line by line: decoding a run is decoding each of its lines
    (every line but the last ends with a newline, which ends any invalid UTF-8 sequence
    before it), an idle stripper gives text without controls back unchanged, and ``\r``
    removal and splitting commute."""
    if b"{" in data and (_OBJECT_FIRST.match(data) or _OBJECT_NEXT.search(data)):
        return None
    if len(data) >= _LINE_BYTES and _longest_line(data) >= _LINE_BYTES:
        return None  # a line cut before decoding: read line by line, without decoding it all
    text = decode_text(data)
    if not plain(text):
        return None
    if "\r" in text:
        text = text.replace("\r", "")
    lines = [line for line in map(str.strip, text.split("\n")) if line]
    if "$" in text or "#" in text or "%" in text or "❯" in text or "➜" in text:
        return lines
    return _NoPrompt(lines)


class _NoPrompt(list):  # type: ignore[type-arg]
    """Output lines of which none can hold a shell prompt (``_PROMPT`` needs one of
    ``$ # % ❯ ➜``): ``prompt_command`` need not look at them."""


def _longest_line(data: bytes) -> int:
    """The length of the longest line of ``data``, newlines aside."""
    longest = start = 0
    while (nl := data.find(b"\n", start)) >= 0:
        longest = max(longest, nl - start)
        start = nl + 1
    return max(longest, len(data) - start)


def _cut(run: list[str]) -> list[str]:
    """The lines of a run as messages hold them: cut to ``MAX_LINE_CHARS``."""
    if max(map(len, run)) > MAX_LINE_CHARS:
        return [line[:MAX_LINE_CHARS] for line in run]
    return run


class AgentLogSource(Source):
    """Agent multiplexer pane logs (plain text or JSONL): one unit per non-empty file."""

    kind = "agent-log"
    default_mode = "copy"
    description = "agent multiplexer output logs (*.log, *.txt, *.jsonl)"

    def default_roots(self) -> list[Path]:
        return [self.home / "logs"]

    def discover(self) -> Iterator[SessionUnit]:
        candidates = (
            Candidate(root, unit_id(self.kind, path.stem, path), [path])
            for root in self.roots
            for path in walk(root, _LOG_FILE)
        )
        yield from unique_units(self.kind, candidates, keep=lambda unit: unit.size > 0)

    def parse(self, files: Sequence[FileRef]) -> SessionInfo:
        info = SessionInfo()
        text = TextCollector()
        first_time: float | None = None
        latest: float | None = None
        warnings = 0
        fields: dict[str, str] = {}
        turns = False
        for ref in files:
            reader = _Reader(ref)
            leading_time, add = reader.clock.leading_time, text.add
            for item in reader.items():
                if not isinstance(item, tuple):  # plain output lines
                    info.message_count += len(item)
                    times = [t for t in map(leading_time, item) if t is not None]
                    if times:
                        low, high = min(times), max(times)
                        first_time = low if first_time is None else min(first_time, low)
                        latest = high if latest is None else max(latest, high)
                    prompts = not isinstance(item, _NoPrompt)
                    item = _cut(item)
                    text.add_lines(item)
                    commands = [c for c in map(prompt_command, item) if c] if prompts else []
                    if commands:
                        info.first_prompt = info.first_prompt or commands[0][:2000]
                        info.last_command = commands[-1][:2000]
                    continue
                when, role, body, _ = item
                if when is not None:
                    first_time = when if first_time is None else min(first_time, when)
                    latest = when if latest is None else max(latest, when)
                info.message_count += 1
                turns = True
                if role in _TOOL_ROLES:
                    info.tool_call_count += 1
                    add(body, TOOL_OUTPUT_CAP)
                    continue
                add(body)
                command = body.strip() if role in _USER_ROLES else None
                if command:
                    info.first_prompt = info.first_prompt or command[:2000]
                    info.last_command = command[:2000]
            warnings += reader.warnings
            fields.update(reader.fields)
        if files:
            name = PurePosixPath(files[0].relpath).name
            info.name = first_line(name.rsplit(".", 1)[0] if "." in name[1:] else name)
        info.working_directory = fields.get("cwd", "")
        info.model = fields.get("model")
        info.git_branch = fields.get("branch")
        info.created_at, info.last_activity_at = first_time, latest
        info.parse_warnings = warnings
        info.text = text.text()
        info.plain_output = not turns
        return clean_info(info)

    def messages(self, files: Sequence[FileRef]) -> Iterator[Message]:
        """JSON records as messages of their role (user, assistant, system, tool; anything
        else is ``output``); plain lines grouped into ``output`` messages of up to 200
        lines, each with the time of its first timestamped line."""
        for ref in files:
            lines: list[str] = []
            first_time: float | None = None
            for when, role, body, is_record in _Reader(ref):
                if not is_record:
                    if first_time is None:
                        first_time = when
                    lines.append(body)
                    if len(lines) < MESSAGE_LINES:
                        continue
                if lines:
                    yield Message("output", "\n".join(lines), first_time, name=ref.relpath)
                    lines, first_time = [], None
                if is_record:
                    shown = (
                        "tool"
                        if role in _TOOL_ROLES
                        else role
                        if role in ("user", "assistant", "system")
                        else ("user" if role in _USER_ROLES else "output")
                    )
                    yield Message(shown, body, when, name=role or None)
            if lines:
                yield Message("output", "\n".join(lines), first_time, name=ref.relpath)


__all__ = ["AgentLogSource", "leading_time", "prompt_command"]
