"""asciinema recordings: ``.cast`` files in the asciicast v2 and v3 formats.

A recording is one file: a JSON header line, then one JSON array per event. In v2 an
event is ``[seconds since start, code, data]``; in v3 it is ``[seconds since the previous
event, code, data]``, the terminal size moves into a ``term`` object and lines starting
with ``#`` are comments. Codes: ``o`` output, ``i`` input, ``m`` marker, ``r`` resize
(``"COLSxROWS"``) and, in v3, ``x`` exit status. (v1, a single JSON document, is not
parsed: its header fields are used when the first line holds them and it counts as one
parse warning; the file is archived raw like any other.)

What ``parse`` reports:

- name: the header ``title``, else its ``command``, else the file name without ``.cast``;
- created_at: the header ``timestamp``; last_activity_at: that plus the duration (the header
  ``duration``, else the time of the last event);
- working_directory: the last folder the shell announced with ``OSC 7``, else ``PWD`` from
  the header ``env``;
- last_command: the last line typed at the prompt (reconstructed from ``i`` events:
  Enter commits, Backspace/Ctrl-W/Ctrl-U edit, Ctrl-C abandons) when the recorded command
  is a shell or absent; otherwise the header ``command``, which is what was run;
- first_prompt: the first typed line, else the header ``command``;
- message_count: the number of events; markers become ``marker`` messages;
- text: output with escape sequences removed, typed lines and marker labels;
- extra: version, cols, rows (initial), term_type, shell, duration, events, markers,
  resizes, input_lines, exit_status, idle_time_limit, tags.
"""

from __future__ import annotations

import json
import math
import re
import shlex
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import orjson

from ..ansi import AnsiStripper, TerminalLines, osc7_path
from ..model import FileRef, SessionInfo, SessionUnit
from .base import (
    Candidate,
    Message,
    Source,
    TextCollector,
    clean_info,
    first_line,
    line_runs,
    loads_lenient,
    parse_time,
    unique_units,
    unit_id,
    walk,
)

_CAST = re.compile(r"\.cast$", re.IGNORECASE)
_SHELLS = frozenset(
    {
        "sh", "bash", "zsh", "fish", "dash", "ksh", "mksh", "tcsh", "csh", "nu", "nushell", "pwsh",
        "powershell", "xonsh", "elvish"
    }
)  # fmt: skip
# Editing keys handled while reconstructing typed lines from input events.
_EDIT_KEYS = re.compile(r"[\r\n\x7f\b\x15\x03\x17]")
_OSC7 = re.compile(r"\x1b\](7;[^\x07\x1b\x9c]*)(?:\x07|\x1b\\|\x9c)")
MAX_TYPED_LINE = 4096
_INF = math.inf
MESSAGE_CHUNK = 64 * 1024  # characters of output per rendered message


def is_shell_command(command: str | None) -> bool:
    """True when ``command`` starts an interactive shell (``/bin/bash -l``, ``PS1='> ' zsh``)."""
    if not command:
        return False
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    for word in words:
        if "=" in word and not word.startswith(("-", "/")):
            continue  # an environment assignment before the program
        return PurePosixPath(word).name in _SHELLS
    return False


class TypedLines:
    """Rebuilds the lines a user typed from raw terminal input chunks."""

    def __init__(self) -> None:
        self._stripper = AnsiStripper()
        self._buffer = ""
        self.lines = 0
        self.first: str | None = None
        self.last: str | None = None

    def feed(self, data: str) -> list[str]:
        done: list[str] = []
        pos = 0
        for m in _EDIT_KEYS.finditer(data):
            self._add(data[pos : m.start()])
            pos = m.end()
            key = m.group()
            if key in "\r\n":
                line = self._buffer.strip()
                self._buffer = ""
                self._stripper.reset()
                if line:
                    done.append(line)
            elif key in "\x7f\b":
                self._buffer = self._buffer[:-1]
            elif key == "\x17":
                self._buffer = re.sub(r"\S*\s*$", "", self._buffer, count=1)
            else:  # Ctrl-U clears, Ctrl-C abandons the line
                self._buffer = ""
        self._add(data[pos:])
        for line in done:
            self.lines += 1
            if self.first is None:
                self.first = line
            self.last = line
        return done

    def _add(self, piece: str) -> None:
        if piece:
            self._buffer = (self._buffer + self._stripper.feed(piece))[:MAX_TYPED_LINE]


# An event: (seconds since the start of the recording, code, data).
_Event = tuple[float, str, str]


@dataclass
class _Cast:
    """What reading a cast learned besides its events."""

    header: dict[str, Any] = field(default_factory=dict)
    version: int = 2
    warnings: int = 0


def _read(ref: FileRef, cast: _Cast) -> Iterator[_Event]:
    """Events of ``ref`` in order; fills ``cast.header`` on the way and counts warnings.
    Never raises on content."""
    clock = 0.0
    seen_header = False
    try:
        for run in line_runs(ref):
            if run is None:
                cast.warnings += 1
                continue
            for raw in run.split(b"\n"):  # its lines (a blank piece after the last newline)
                stripped = raw.strip()
                if not stripped or (cast.version >= 3 and stripped.startswith(b"#")):
                    continue
                try:
                    obj = orjson.loads(stripped)
                except ValueError:
                    obj = loads_lenient(stripped)  # what orjson refuses, as ``loads`` does
                if not seen_header:
                    seen_header = True
                    if isinstance(obj, dict):
                        cast.header = obj
                        version = obj.get("version")
                        cast.version = version if isinstance(version, int) and not isinstance(version, bool) else 2
                        if cast.version not in (2, 3):
                            cast.warnings += 1  # v1 or unknown: header fields only
                            return
                        continue
                    cast.warnings += 1  # no header: read the events as v2
                if type(obj) is list and len(obj) >= 3:
                    # The usual event, ``[float time, "code", "data"]``, as ``_event`` reads it.
                    t, code, data = obj[0], obj[1], obj[2]
                    if type(t) is float and type(code) is str and type(data) is str and 0.0 <= t < _INF:
                        when = clock + t if cast.version >= 3 else (clock if clock > t else t)
                        if when < _INF:
                            clock = when
                            yield when, code, data
                            continue
                event = _event(obj, cast.version, clock)
                if event is None:
                    cast.warnings += 1
                    continue
                clock = event[0]
                yield event
    except OSError:
        cast.warnings += 1


def _event(obj: Any, version: int, clock: float) -> _Event | None:
    if not isinstance(obj, list) or len(obj) < 3:
        return None
    t, code, data = obj[0], obj[1], obj[2]
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not isinstance(code, str):
        return None
    t = float(t)
    if not math.isfinite(t) or t < 0:
        return None
    if not isinstance(data, str):
        try:
            data = json.dumps(data, ensure_ascii=False)[:MAX_TYPED_LINE]
        except (TypeError, ValueError, RecursionError):
            return None
    when = clock + t if version >= 3 else max(t, clock)
    if not math.isfinite(when):
        return None
    return when, code, data


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _int(value: Any) -> int | None:
    number = _num(value)
    return int(number) if number is not None and number >= 0 else None


def _str(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _stem(relpath: str) -> str:
    name = PurePosixPath(relpath).name
    return name[:-5] if name.lower().endswith(".cast") else name


class AsciinemaSource(Source):
    """asciinema ``.cast`` recordings: one unit per file."""

    kind = "asciinema"
    default_mode = "copy"
    conversational = False  # output, typed input, markers: the parser's screen text is searched
    description = "asciinema terminal recordings (.cast, asciicast v2 and v3)"

    def default_roots(self) -> list[Path]:
        data = self.env.get("XDG_DATA_HOME")
        base = Path(data) if data else self.home_path() / ".local" / "share"
        return [base / "asciinema"]

    def discover(self) -> Iterator[SessionUnit]:
        candidates = (
            Candidate(root, unit_id(self.kind, path.name[:-5], path), [path])
            for root in self.roots
            for path in walk(root, _CAST)
        )
        yield from unique_units(self.kind, candidates)

    def parse(self, files: Sequence[FileRef]) -> SessionInfo:
        info = SessionInfo()
        text = TextCollector()
        casts = [f for f in files if _CAST.search(f.relpath)] or list(files)
        if not casts:
            return info
        ref = casts[0]
        cast = _Cast()
        cwd = ""

        def on_osc(payload: str) -> None:
            nonlocal cwd
            cwd = osc7_path(payload) or cwd

        def header_text() -> None:
            # Added before the output, so a recording that fills the text keeps them.
            for key in ("title", "command"):
                text.add(_str(cast.header.get(key)))

        output = TerminalLines(on_osc=on_osc)
        typed = TypedLines()
        events = markers = resizes = 0
        last_time = 0.0
        exit_status: str | None = None
        # Consecutive output events are stripped as one chunk, with the same lines as one
        # at a time (``TerminalLines.room``), saving the per-call work of each.
        batch: list[str] = []
        room = 0

        def feed_batch() -> None:
            if batch:
                text.add_lines(output.feed(batch[0] if len(batch) == 1 else "".join(batch)))
                batch.clear()

        for last_time, code, data in _read(ref, cast):  # noqa: B007  # the last one is kept
            events += 1
            if events == 1:
                header_text()
            if code == "o":
                if batch and (len(data) > room or "\b" in data):
                    feed_batch()
                if text.size < text.cap:  # (unchanged while a batch waits: it cannot fill it)
                    if not batch:
                        room = output.room(text.cap - text.size)
                    batch.append(data)
                    room -= len(data)
                else:
                    # The text is full: only look for later OSC 7 announcements (one split
                    # across two events is missed), which is far cheaper than stripping.
                    for m in _OSC7.finditer(data):
                        on_osc(m.group(1))
                continue
            feed_batch()
            if code == "i":
                text.add_lines(typed.feed(data))
            elif code == "m":
                markers += 1
                text.add(data)
            elif code == "r":
                resizes += 1
            elif code == "x":
                exit_status = data
            else:
                cast.warnings += 1
        feed_batch()
        text.add_lines(output.flush())

        header = cast.header
        term = given if isinstance(given := header.get("term"), dict) else {}
        env = given if isinstance(given := header.get("env"), dict) else {}
        title, command = _str(header.get("title")), _str(header.get("command"))
        tags = header.get("tags")
        if not events:
            header_text()
        # The recorder's own figure wins; events give it for files that lack one.
        duration = _num(header.get("duration")) or last_time

        info.name = first_line(title or command or _stem(ref.relpath))
        info.created_at = parse_time(_num(header.get("timestamp")))
        if info.created_at is not None:
            info.last_activity_at = parse_time(info.created_at + duration)
        info.working_directory = cwd or _str(env.get("PWD")) or ""
        if typed.last and (command is None or is_shell_command(command)):
            info.last_command = typed.last
        else:
            info.last_command = command or typed.last
        info.first_prompt = typed.first or command
        info.message_count = events
        info.parse_warnings = cast.warnings
        info.text = text.text()
        info.extra = {
            "version": cast.version,
            "cols": _int(term.get("cols", header.get("width"))),
            "rows": _int(term.get("rows", header.get("height"))),
            "term_type": _str(term.get("type")) or _str(env.get("TERM")),
            "shell": _str(env.get("SHELL")),
            "duration": round(duration, 6),
            "events": events,
            "markers": markers,
            "resizes": resizes,
            "input_lines": typed.lines,
            "exit_status": exit_status,
            "idle_time_limit": _num(header.get("idle_time_limit")),
            "tags": [t for t in tags if isinstance(t, str)][:50] if isinstance(tags, list) else None,
        }
        info.extra = {k: v for k, v in info.extra.items() if v is not None}
        return clean_info(info)

    def messages(self, files: Sequence[FileRef]) -> Iterator[Message]:
        """Output (escape sequences removed, up to 64 KB per message), each typed line as
        ``input``, markers as ``marker``, resizes and the exit status as ``system``.
        Timestamps are absolute when the header has one, else seconds from the start."""
        casts = [f for f in files if _CAST.search(f.relpath)] or list(files)
        if not casts:
            return
        cast = _Cast()
        events = _read(casts[0], cast)
        output = TerminalLines()
        typed = TypedLines()
        pending: list[str] = []
        pending_size = 0
        pending_time: float | None = None
        start = 0.0
        started = False
        for at, code, data in events:
            if not started:
                started = True
                start = parse_time(_num(cast.header.get("timestamp"))) or 0.0
            when = start + at
            if code == "o":
                for line in output.feed(data):
                    if pending_time is None:
                        pending_time = when
                    pending.append(line)
                    pending_size += len(line) + 1
                if pending_size < MESSAGE_CHUNK:
                    continue
            if pending:
                yield Message("output", "\n".join(pending), pending_time)
                pending, pending_size, pending_time = [], 0, None
            if code == "i":
                for line in typed.feed(data):
                    yield Message("input", line, when)
            elif code == "m":
                yield Message("marker", data, when, name=data)
            elif code == "r":
                yield Message("system", f"terminal resized to {data}", when)
            elif code == "x":
                yield Message("system", f"exit status {data}", when)
        pending.extend(output.flush())
        if pending:
            yield Message("output", "\n".join(pending), pending_time)


__all__ = ["AsciinemaSource", "TypedLines", "clean_info", "is_shell_command", "unit_id"]
