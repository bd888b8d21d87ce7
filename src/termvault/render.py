"""Readable exports of a session: plain text, Markdown and JSON Lines.

``render(messages, fmt, header, redact_secrets)`` turns the ``Message`` stream a source
yields into pieces of text for ``fmt`` in ``RENDERED_FORMATS``. A caller may rely on:

- the result is a lazy iterator: messages are read one at a time and a huge message is
  emitted in pieces of about ``CHUNK_CHARS`` characters, so memory stays bounded by the
  largest single message, never by the session;
- every piece of message and header text goes through ``termvault.redact.redact`` unless
  ``redact_secrets`` is False;
- odd messages never raise: a None or non-string text, an unknown role, a timestamp that
  is not a number, lone surrogates or control characters are all rendered somehow.

``raw`` is listed in ``FORMATS`` but is not rendered here: a raw export is the archived
bytes, copied unchanged by the caller.

Text: an optional header block, then each turn as ``[YYYY-MM-DD HH:MM:SS] USER:`` (local
time) with its text indented by four spaces; a tool call on one line
``→ tool NAME: <first 200 characters>``; a tool result indented under it, cut after
``TOOL_RESULT_LINES`` lines with a ``(… N more lines)`` note; terminal output as is.

Markdown: ``# title``, a metadata list, ``## User (time)`` / ``## Assistant (time)``
sections, tool calls folded in ``<details><summary>tool NAME</summary>`` around a fenced
block, tool results and terminal output in fences longer than any backtick run they
contain. Escape sequences and control characters are removed (they mean nothing in a
document).

JSON Lines: one object per message, ``{"role", "text", "timestamp", "name"}`` with the
timestamp as ISO-8601 UTC (``...Z``) or null. The header is not part of this format.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .ansi import normalize_newlines, strip_ansi
from .errors import UsageError
from .redact import redact
from .sources.base import parse_time

FORMATS: tuple[str, ...] = ("raw", "jsonl", "text", "markdown")
RENDERED_FORMATS: tuple[str, ...] = ("jsonl", "text", "markdown")

CHUNK_CHARS = 64 * 1024
TOOL_SUMMARY_CHARS = 200
TOOL_RESULT_LINES = 20
TOOL_RESULT_CHARS = 4000
INDENT = "    "
RESULT_INDENT = INDENT + "  "
# Text past a cut that is still redacted with what is shown, so a secret straddling the
# cut cannot leave a recognisable half behind.
_REDACT_MARGIN = 8192

_HEADING_ROLES = {"user": "User", "assistant": "Assistant", "system": "System", "input": "Input"}
# Header keys in display order with their labels; keys naming the same thing share one.
_HEADER_FIELDS: tuple[tuple[str, str], ...] = (
    ("name", "Session"),
    ("title", "Session"),
    ("session_id", "Id"),
    ("id", "Id"),
    ("source", "Source"),
    ("folder", "Folder"),
    ("working_directory", "Folder"),
    ("cwd", "Folder"),
    ("git_branch", "Branch"),
    ("model", "Model"),
    ("created_at", "Started"),
    ("started_at", "Started"),
    ("last_activity_at", "Last activity"),
    ("ended_at", "Ended"),
)
_KNOWN_HEADER_KEYS = {key for key, _ in _HEADER_FIELDS}

_SURROGATE = re.compile("[\ud800-\udfff]")
_LINE_START = re.compile(r"(?m)^(?=[^\n])")
_BACKTICKS = re.compile(r"`{3,}")

Clean = Callable[[str], str]


def render(
    messages: Iterable[Any],
    fmt: str,
    header: Mapping[str, Any] | None = None,
    redact_secrets: bool = True,
) -> Iterator[str]:
    """Pieces of ``fmt`` ("text", "markdown" or "jsonl") for ``messages``; concatenated
    they form the document. Raises UsageError at once for any other format."""
    if fmt not in RENDERED_FORMATS:
        if fmt == "raw":
            raise UsageError("A raw export is the archived bytes; it is copied, not rendered.")
        raise UsageError(f"Unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}.")
    clean: Clean = redact if redact_secrets else _unchanged
    renderer: _Renderer = {"text": _Text, "markdown": _Markdown, "jsonl": _Jsonl}[fmt](clean)
    return renderer.run(messages, header)


# ---------------------------------------------------------------------------------------
# Input normalisation: whatever a source yields, renderers see clean values
# ---------------------------------------------------------------------------------------


@dataclass
class _Turn:
    role: str
    text: str
    timestamp: float | None
    name: str | None


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    elif isinstance(value, (list, tuple)):
        # A list of lines (the app's output_snapshot) is the lines, not its repr.
        value = "\n".join(_as_text(v) for v in value)
    elif not isinstance(value, str):
        try:
            value = str(value)
        except Exception:  # a hostile __str__ must not stop an export
            return ""
    # Lone surrogates (from surrogateescape decoding) cannot be written as UTF-8.
    if _SURROGATE.search(value):
        value = _SURROGATE.sub("\ufffd", value)
    return value


def _as_timestamp(value: Any) -> float | None:
    if isinstance(value, datetime):
        try:
            return value.timestamp()
        except (OverflowError, OSError, ValueError):
            return None
    try:
        ts = parse_time(value)
    except (OverflowError, ValueError, TypeError):
        return None
    return ts if ts is not None and math.isfinite(ts) else None


def _turn(message: Any) -> _Turn:
    role = _as_text(getattr(message, "role", None)).strip().lower() or "message"
    name = _as_text(getattr(message, "name", None)) or None
    return _Turn(role, _as_text(getattr(message, "text", None)), _as_timestamp(getattr(message, "timestamp", None)), name)


def _local_time(ts: float | None) -> str | None:
    if ts is None:
        return None
    try:
        return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")
    except (OverflowError, OSError, ValueError):
        return None


def _utc_iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    try:
        dt = datetime.fromtimestamp(ts, timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None
    spec = "seconds" if ts == int(ts) else "milliseconds"
    return dt.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def _unchanged(text: str) -> str:
    return text


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _pieces(text: str, size: int = CHUNK_CHARS) -> Iterator[str]:
    """``text`` in slices of at most ``size`` characters, cut after a newline when one is
    near (a single longer line is cut where it must be)."""
    i, n = 0, len(text)
    while i < n:
        j = i + size
        if j < n:
            k = text.rfind("\n", i, j)
            if k >= i:
                j = k + 1
        yield text[i:j]
        i = j


def _indented(text: str, prefix: str) -> Iterator[str]:
    """``text`` with ``prefix`` before every non-empty line, in pieces, newline-terminated."""
    at_line_start = True
    last = ""
    for piece in _pieces(text):
        if at_line_start:
            out = _LINE_START.sub(prefix, piece)
        else:  # the previous piece cut a long line: its rest is not a new line
            head, sep, rest = piece.partition("\n")
            out = head + sep + _LINE_START.sub(prefix, rest)
        at_line_start = piece.endswith("\n")
        last = piece
        yield out
    if not last.endswith("\n"):
        yield "\n"


def _truncated(text: str, clean: Clean) -> tuple[str, str | None]:
    """The first ``TOOL_RESULT_LINES`` lines (at most ``TOOL_RESULT_CHARS`` characters) of
    ``text``, cleaned, and a note saying what was left out (None if nothing)."""
    window_end = TOOL_RESULT_CHARS + _REDACT_MARGIN
    window = clean(text[:window_end])
    pos = 0
    for _ in range(TOOL_RESULT_LINES):
        k = window.find("\n", pos)
        if k < 0:
            pos = len(window)
            break
        pos = k + 1
    cut = min(pos, TOOL_RESULT_CHARS)
    shown = window[:cut]
    rest_window, rest_after = window[cut:], text[window_end:]
    if not rest_window and not rest_after:
        return shown, None
    last_char = (rest_after or rest_window)[-1]
    lines = rest_window.count("\n") + rest_after.count("\n") + (last_char != "\n")
    if not shown.endswith("\n") and lines <= 1:
        return shown, f"(… {len(rest_window) + len(rest_after)} more characters)"
    return shown, f"(… {lines} more line{'s' if lines != 1 else ''})"


def _fence(text: str) -> str:
    """A backtick fence longer than any backtick run in ``text``."""
    longest = max((len(m.group()) for m in _BACKTICKS.finditer(text)), default=0)
    return "`" * max(3, longest + 1)


def _header_items(header: Mapping[str, Any] | None, clean: Clean) -> list[tuple[str, str]]:
    """(label, one-line value) pairs: known keys in a fixed order, then any other scalar."""
    if not header:
        return []
    items: list[tuple[str, str]] = []
    seen: set[str] = set()
    keys = [key for key, _ in _HEADER_FIELDS if key in header]
    keys += [key for key in header if key not in _KNOWN_HEADER_KEYS]
    labels = dict(_HEADER_FIELDS)
    for key in keys:
        value = header.get(key)
        if value is None or value == "" or isinstance(value, (dict, list, tuple, set)):
            continue
        label = labels.get(key) or str(key).replace("_", " ").capitalize()
        if label in seen:
            continue
        if str(key).endswith("_at"):
            shown = _local_time(_as_timestamp(value)) or _as_text(value)
        else:
            shown = _as_text(value)
        shown = _one_line(clean(shown))
        if shown:
            seen.add(label)
            items.append((label, shown))
    return items


# ---------------------------------------------------------------------------------------
# Renderers
# ---------------------------------------------------------------------------------------


class _Renderer:
    def __init__(self, clean: Clean):
        self.clean = clean
        self.previous: _Turn | None = None

    def run(self, messages: Iterable[Any], header: Mapping[str, Any] | None) -> Iterator[str]:
        yield from self.header(header)
        for message in messages:
            turn = _turn(message)
            yield from self.message(turn)
            self.previous = turn

    def header(self, header: Mapping[str, Any] | None) -> Iterator[str]:
        return iter(())

    def message(self, turn: _Turn) -> Iterator[str]:
        raise NotImplementedError

    def continues(self, turn: _Turn) -> bool:
        """Whether ``turn`` carries on the previous one (same role and time), so it needs
        no heading of its own: agents split one reply into several blocks."""
        p = self.previous
        return p is not None and p.role == turn.role and _local_time(p.timestamp) == _local_time(turn.timestamp)

    def tool_summary(self, turn: _Turn) -> str:
        summary = _one_line(self.clean(turn.text[: TOOL_SUMMARY_CHARS + _REDACT_MARGIN]))
        if len(summary) > TOOL_SUMMARY_CHARS:
            summary = summary[: TOOL_SUMMARY_CHARS - 1] + "…"
        return summary


class _Text(_Renderer):
    def __init__(self, clean: Clean):
        super().__init__(clean)
        self.started = False

    def header(self, header: Mapping[str, Any] | None) -> Iterator[str]:
        items = _header_items(header, self.clean)
        if items:
            self.started = True
            yield "".join(f"{label}: {value}\n" for label, value in items)

    def gap(self) -> str:
        """A blank line between blocks (none before the first)."""
        started, self.started = self.started, True
        return "\n" if started else ""

    def message(self, turn: _Turn) -> Iterator[str]:
        role = turn.role
        if role == "tool":
            gap = "" if self.previous and self.previous.role in ("tool", "tool_result") else self.gap()
            self.started = True
            summary = self.tool_summary(turn)
            name = _one_line(turn.name or "?")
            yield f"{gap}{INDENT}→ tool {name}" + (f": {summary}" if summary else "") + "\n"
        elif role == "tool_result":
            self.started = True
            shown, note = _truncated(turn.text, self.clean)
            if shown:
                yield from _indented(shown, RESULT_INDENT)
            if note:
                yield f"{RESULT_INDENT}{note}\n"
        elif role == "output":
            # Consecutive output messages are one terminal stream cut in pieces.
            if not (self.previous and self.previous.role == "output"):
                yield self.gap()
            self.started = True
            text = self.clean(turn.text)
            yield from _pieces(text)
            if text and not text.endswith("\n"):
                yield "\n"
        elif role == "marker":
            when = _local_time(turn.timestamp)
            label = f"{_one_line(turn.name)}: " if turn.name else ""
            yield self.gap() + (f"[{when}] " if when else "") + f"── {label}{_one_line(self.clean(turn.text))}\n"
        else:
            if self.continues(turn):
                yield "\n"
            else:
                when = _local_time(turn.timestamp)
                yield self.gap() + (f"[{when}] " if when else "") + f"{role.upper()}:\n"
            self.started = True
            text = self.clean(turn.text)
            if text:
                yield from _indented(text, INDENT)


class _Markdown(_Renderer):
    def clean_md(self, text: str) -> str:
        # Escapes first: a colour code inside a key would hide it from redaction.
        return self.clean(normalize_newlines(strip_ansi(text)))

    def header(self, header: Mapping[str, Any] | None) -> Iterator[str]:
        items = _header_items(header, self.clean_md)
        title = next((value for label, value in items if label == "Session"), "Session")
        lines = [f"# {title}\n"]
        meta = [f"- **{label}:** {_inline(value)}" for label, value in items if label != "Session"]
        if meta:
            lines.append("\n" + "\n".join(meta) + "\n")
        yield "".join(lines)

    def heading(self, title: str, turn: _Turn) -> str:
        when = _local_time(turn.timestamp)
        return f"\n## {title}" + (f" ({when})" if when else "") + "\n\n"

    def fenced(self, text: str) -> Iterator[str]:
        fence = _fence(text)
        yield fence + "\n"
        yield from _pieces(text)
        yield ("" if not text or text.endswith("\n") else "\n") + fence + "\n"

    def message(self, turn: _Turn) -> Iterator[str]:
        role = turn.role
        if role == "tool":
            name = html.escape(_one_line(turn.name or "?"))
            yield f"\n<details><summary>tool {name}</summary>\n\n"
            yield from self.fenced(self.clean_md(turn.text))
            yield "\n</details>\n"
        elif role == "tool_result":
            shown, note = _truncated(turn.text, self.clean_md)
            if not shown:
                return
            yield "\n"
            yield from self.fenced(shown)
            if note:
                yield f"\n{note}\n"
        elif role == "output":
            # Consecutive output messages are one terminal stream cut in pieces.
            if not (self.previous and self.previous.role == "output"):
                yield self.heading("Output" + (f": {_one_line(turn.name)}" if turn.name else ""), turn)
            else:
                yield "\n"
            yield from self.fenced(self.clean_md(turn.text))
        elif role == "marker":
            when = _local_time(turn.timestamp)
            label = _one_line(turn.name or "marker")
            text = _one_line(self.clean_md(turn.text))
            yield f"\n> **{label}**" + (f" ({when})" if when else "") + (f": {text}" if text else "") + "\n"
        else:
            if self.continues(turn):
                yield "\n"
            else:
                yield self.heading(_HEADING_ROLES.get(role, role.replace("_", " ").capitalize()), turn)
            text = self.clean_md(turn.text)
            if text:
                yield from _pieces(text)
                if not text.endswith("\n"):
                    yield "\n"


def _inline(value: str) -> str:
    """A header value as Markdown: in code spans when it holds characters Markdown would
    interpret (paths with underscores, ids with backticks)."""
    if not re.search(r"[*_`\[\]<>\\#|]", value):
        return value
    longest = max((len(m) for m in re.findall(r"`+", value)), default=0)
    tick = "`" * (longest + 1)
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{tick}{pad}{value}{pad}{tick}"


class _Jsonl(_Renderer):
    def message(self, turn: _Turn) -> Iterator[str]:
        text = self.clean(turn.text)
        timestamp = _utc_iso(turn.timestamp)
        if len(text) <= CHUNK_CHARS:
            record = {"role": turn.role, "text": text, "timestamp": timestamp, "name": turn.name}
            yield json.dumps(record, ensure_ascii=False) + "\n"
            return
        # The same bytes json.dumps would write, without holding a second copy of a huge text.
        yield '{"role": ' + json.dumps(turn.role, ensure_ascii=False) + ', "text": "'
        for piece in _pieces(text):
            yield json.dumps(piece, ensure_ascii=False)[1:-1]
        yield (
            '", "timestamp": ' + json.dumps(timestamp) + ', "name": ' + json.dumps(turn.name, ensure_ascii=False) + "}\n"
        )


__all__ = ["CHUNK_CHARS", "FORMATS", "RENDERED_FORMATS", "TOOL_RESULT_LINES", "render"]
