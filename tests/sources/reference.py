"""The line-at-a-time readers the block and regex fast paths replaced, kept as their
specification: the tests in ``test_fast_paths`` check that the fast paths give exactly
what these give."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

from termvault import ansi
from termvault.ansi import (
    _COMPLETE,
    _SPECIAL,
    _STRING,
    _STRING_END,
    _STRING_ESC,
    _TOKEN,
    ESC,
    OSC_PAYLOAD_CAP,
    AnsiStripper,
)
from termvault.model import FileRef
from termvault.sources.agent_log import _COMPACT, _CTIME, _EPOCH, _ISO, _MONTHS, _record
from termvault.sources.base import MAX_LINE_BYTES, decode_text, loads

_GROUND = 0


def iter_lines(ref: FileRef, max_line: int = MAX_LINE_BYTES) -> Iterator[tuple[int, bytes | None]]:
    """``(line_number, bytes)`` of each line by ``readline``; ``None`` for an overlong one."""
    with ref.open() as fh:
        lineno = 0
        while True:
            chunk = fh.readline(max_line + 1)
            if not chunk:
                return
            lineno += 1
            if len(chunk) > max_line and not chunk.endswith(b"\n"):
                while True:
                    rest = fh.readline(1024 * 1024)
                    if not rest or rest.endswith(b"\n"):
                        break
                yield lineno, None
                continue
            yield lineno, chunk


class Stripper(AnsiStripper):
    """``AnsiStripper`` scanning token by token in Python (its former ``feed``)."""

    def feed(self, text: str) -> str:
        if self._state == _GROUND and (self.on_osc is None or "\x1b]" not in text):
            # Fast path: when removing the complete sequences leaves nothing special, that
            # is exactly what the scan below would produce.
            plain = _COMPLETE.sub("", text)
            if not _SPECIAL.search(plain):
                return plain
        out: list[str] = []
        i = 0
        n = len(text)
        while i < n:
            state = self._state
            if state == _GROUND:
                # Walk the specials and complete sequences in one regex scan; leave it
                # for the state machine as soon as a sequence is left open.
                for m in _TOKEN.finditer(text, i):
                    j = m.start()
                    if j > i:
                        out.append(text[i:j])
                    i = m.end()
                    kind = m.lastgroup
                    if kind == "special":
                        self._control(text[j], out)
                        if self._state != _GROUND:
                            break
                    elif kind == "osc":
                        payload = m.group("osc")
                        if self.on_osc is not None and len(payload) <= OSC_PAYLOAD_CAP:
                            self.on_osc(payload)
                else:
                    out.append(text[i:])
                    break
            elif state == _STRING:
                found = _STRING_END.search(text, i)
                end = n if found is None else found.start()
                self._keep_payload(text[i:end])
                if found is None:
                    break
                ch = text[end]
                i = end + 1
                if ch == ESC:
                    self._state = _STRING_ESC
                else:  # BEL or 8-bit ST
                    self._end_string()
            else:
                self._step(text[i], out)
                i += 1
        return "".join(out)


class TerminalLines(ansi.TerminalLines):
    """``TerminalLines`` over ``Stripper``, a line at a time (its former code)."""

    def __init__(self, on_osc=None, max_pending: int = 64 * 1024):
        super().__init__(on_osc, max_pending)
        self._stripper = Stripper(on_osc)

    def room(self, text_left: int) -> int:
        return -1  # a caller feeds each chunk alone

    def feed(self, chunk: str) -> list[str]:
        text = self._stripper.feed(chunk).replace("\r", "\n")
        if not text:
            return []
        self._pending += text
        if "\n" in self._pending:
            *lines, self._pending = self._pending.split("\n")
        elif len(self._pending) > self._max_pending:
            lines, self._pending = [self._pending], ""
        else:
            return []
        if len(self._pending) > self._max_pending:
            lines.append(self._pending)
            self._pending = ""
        return self._clean(lines)

    def _clean(self, lines: list[str]) -> list[str]:
        out = []
        for line in lines:
            line = line.rstrip()
            if line and line != self._last:
                out.append(line)
                self._last = line
        return out


def _stamp(year, month, day, hh, mm, ss, frac, zone) -> float | None:
    try:
        micro = int((frac or "0")[:6].ljust(6, "0"))
        dt = datetime(int(year), month, int(day), int(hh), int(mm), int(ss), micro)
        if zone == "Z":
            dt = dt.replace(tzinfo=UTC)
        elif zone:
            z = zone.replace(":", "")
            minutes = int(z[1:3]) * 60 + int(z[3:5])
            dt = dt.replace(tzinfo=timezone(timedelta(minutes=minutes if z[0] == "+" else -minutes)))
        return dt.timestamp()  # a naive time is local
    except (ValueError, OverflowError, OSError):
        return None


def leading_time(line: str) -> float | None:
    """UNIX seconds of a timestamp at the start of ``line`` with a full date, else None."""
    m = _ISO.match(line)
    if m:
        return _stamp(m[1], int(m[2]), m[3], m[4], m[5], m[6], m[7], m[8])
    m = _CTIME.match(line)
    if m:
        month = _MONTHS.get(m[1].lower())
        return _stamp(m[7], month, m[2], m[3], m[4], m[5], m[6], None) if month else None
    m = _COMPACT.match(line)
    if m:
        hh, mm, ss = (m[4], m[5], m[6]) if m[4] is not None else (m[7], m[8], m[9])
        return _stamp(m[1], int(m[2]), m[3], hh, mm, ss, m[10], None)
    m = _EPOCH.match(line)
    if m:
        return float(f"{m[1]}.{m[2] or 0}")
    return None


def agent_log_lines(ref: FileRef, max_line_chars: int = 64 * 1024) -> Iterator[tuple[float | None, str, str, bool]]:
    """The agent-log reader's ``(time, role, text, is_record)`` read line by line, and its
    warning count as a last ``(None, "warnings", str(count), False)``."""
    stripper = Stripper()
    warnings = 0
    jsonl = ref.relpath.lower().endswith(".jsonl")
    for _, raw in iter_lines(ref):
        if raw is None:
            warnings += 1
            continue
        stripped = raw.strip()
        if not stripped:
            continue
        obj = None
        if stripped.startswith(b"{"):
            try:
                obj = loads(stripped)
            except (ValueError, RecursionError):
                obj = None
        if isinstance(obj, dict):
            try:
                when, role, text = _record(obj)
            except RecursionError:
                warnings += 1
                continue
            yield when, role, text, True
            continue
        if jsonl:
            warnings += 1
            continue
        line = stripper.feed(decode_text(raw[: max_line_chars * 4])).replace("\r", "").strip()
        if line:
            yield leading_time(line), "output", line[:max_line_chars], False
    yield None, "warnings", str(warnings), False


_NONBLANK_LINE = re.compile(rb"[^\n]*?[^\s][^\n]*\n?")


def iter_nonblank_lines(ref: FileRef, max_line: int, chunk: int) -> Iterator[bytes | None]:
    """Each line holding more than whitespace, found by regex in chunks of ``chunk``."""
    with ref.open() as fh:
        parts: list[bytes] = []
        skipping = False
        while True:
            data = fh.read(chunk)
            if skipping:
                nl = data.find(b"\n")
                if nl < 0:
                    if not data:
                        return
                    continue
                data, skipping = data[nl + 1 :], False
            buf = b"".join((*parts, data)) if parts else data
            parts = []
            end = len(buf) if not data else buf.rfind(b"\n") + 1
            for m in _NONBLANK_LINE.finditer(buf, 0, end):
                line = m.group()
                yield line if len(line) <= max_line else None
            if not data:
                return
            rest = buf[end:]
            if len(rest) > max_line:
                yield None
                skipping = True
            elif rest:
                parts = [rest]


def cast_events(ref: FileRef, cast) -> Iterator[tuple[float, str, str]]:
    """asciinema events read line by line, each through ``_event``."""
    from termvault.sources.asciinema import _event
    from termvault.sources.base import loads_lenient

    clock = 0.0
    seen_header = False
    for _, raw in iter_lines(ref):
        if raw is None:
            cast.warnings += 1
            continue
        stripped = raw.strip()
        if not stripped or (cast.version >= 3 and stripped.startswith(b"#")):
            continue
        obj = loads_lenient(stripped)
        if not seen_header:
            seen_header = True
            if isinstance(obj, dict):
                cast.header = obj
                version = obj.get("version")
                cast.version = version if isinstance(version, int) and not isinstance(version, bool) else 2
                if cast.version not in (2, 3):
                    cast.warnings += 1
                    return
                continue
            cast.warnings += 1
        event = _event(obj, cast.version, clock)
        if event is None:
            cast.warnings += 1
            continue
        clock = event[0]
        yield event


def aider_lines(ref: FileRef, warnings: list[int]) -> Iterator[tuple[int, str]]:
    """aider's ``(number, text)`` of each line, decoded one line at a time."""
    for lineno, raw in iter_lines(ref):
        if raw is None:
            warnings[0] += 1
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            warnings[0] += 1
            line = decode_text(raw)
        yield lineno, line.rstrip("\r\n")


def parse_time(value) -> float | None:
    """``parse_time`` through ``_parse_time`` alone, for every type."""
    from termvault.sources.base import _MAX_TIME, _MIN_TIME, _parse_time

    try:
        t = _parse_time(value)
    except (ValueError, OverflowError, OSError, TypeError):
        return None
    return t if t is not None and _MIN_TIME <= t <= _MAX_TIME else None
