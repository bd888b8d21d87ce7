"""What every renderer shares: input normalisation, header fields, pieces of text, the
detail levels and the sub-agent nesting of a message stream."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..ansi import normalize_newlines, strip_ansi
from ..conversation import CONVERSATION_ROLES, ToolView, describe_tool
from ..sources.base import parse_time

CHUNK_CHARS = 64 * 1024
TOOL_SUMMARY_CHARS = 200
TOOL_RESULT_LINES = 20
TOOL_RESULT_CHARS = 4000
INDENT = "    "
RESULT_INDENT = INDENT + "  "
# Text past a cut that is still redacted with what is shown, so a secret straddling the
# cut cannot leave a recognisable half behind.
_REDACT_SCOPE = 1024 * 1024  # characters redacted as one before a long result is cut
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

MAX_DEPTH = 8  # sub-agents nested deeper are shown at this depth

_SURROGATE = re.compile("[\ud800-\udfff]")
_LINE_START = re.compile(r"(?m)^(?=[^\n])")
_BACKTICKS = re.compile(r"`{3,}")

Clean = Callable[[str], str]


# ---------------------------------------------------------------------------------------
# Input normalisation: whatever a source yields, renderers see clean values
# ---------------------------------------------------------------------------------------


@dataclass
class Turn:
    role: str
    text: str
    timestamp: float | None
    name: str | None
    depth: int = 0
    agent: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        value = "\n".join(value)  # lines (a terminal snapshot kept as a list)
    elif not isinstance(value, str):
        try:
            value = str(value)
        except Exception:  # a hostile __str__ must not stop an export
            return ""
    # Lone surrogates (from surrogateescape decoding) cannot be written as UTF-8.
    if _SURROGATE.search(value):
        value = _SURROGATE.sub("\ufffd", value)
    return value


def as_timestamp(value: Any) -> float | None:
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


def to_turn(message: Any) -> Turn:
    role = as_text(getattr(message, "role", None)).strip().lower() or "message"
    name = as_text(getattr(message, "name", None)) or None
    depth = getattr(message, "depth", 0)
    depth = depth if isinstance(depth, int) and not isinstance(depth, bool) and 0 <= depth <= MAX_DEPTH else 0
    agent = as_text(getattr(message, "agent", None)) or None
    extra = getattr(message, "extra", None)
    return Turn(
        role,
        as_text(getattr(message, "text", None)),
        as_timestamp(getattr(message, "timestamp", None)),
        name,
        depth,
        agent,
        extra if isinstance(extra, dict) else {},
    )


def local_time(ts: float | None) -> str | None:
    if ts is None:
        return None
    try:
        return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")
    except (OverflowError, OSError, ValueError):
        return None


def utc_iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    try:
        dt = datetime.fromtimestamp(ts, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    spec = "seconds" if ts == int(ts) else "milliseconds"
    return dt.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def unchanged(text: str) -> str:
    return text


def one_line(text: str) -> str:
    return " ".join(text.split())


def pieces(text: str, size: int = CHUNK_CHARS) -> Iterator[str]:
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


def indented(text: str, prefix: str) -> Iterator[str]:
    """``text`` with ``prefix`` before every non-empty line, in pieces, newline-terminated."""
    at_line_start = True
    last = ""
    for piece in pieces(text):
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


def truncated(text: str, clean: Clean) -> tuple[str, str | None]:
    """The first ``TOOL_RESULT_LINES`` lines (at most ``TOOL_RESULT_CHARS`` characters) of
    ``text``, cleaned, and a note saying what was left out (None if nothing)."""
    # Redact before cutting: a secret that straddles the cut (a private key block whose
    # END line falls past it) must be recognised whole, or its first lines would show.
    window_end = min(len(text), _REDACT_SCOPE)
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


def fence_for(text: str) -> str:
    """A backtick fence longer than any backtick run in ``text``."""
    longest = max((len(m.group()) for m in _BACKTICKS.finditer(text)), default=0)
    return "`" * max(3, longest + 1)


def header_items(header: Mapping[str, Any] | None, clean: Clean) -> list[tuple[str, str]]:
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
            shown = local_time(as_timestamp(value)) or as_text(value)
        else:
            shown = as_text(value)
        shown = one_line(clean(shown))
        if shown:
            seen.add(label)
            items.append((label, shown))
    return items


def clean_document(text: str, clean: Clean) -> str:
    """Text for a document: escape sequences and control characters removed (they mean
    nothing there), then secrets redacted (a colour code inside a key would otherwise
    hide it from redaction)."""
    return clean(normalize_newlines(strip_ansi(text)))


def shown_at(turn: Turn, detail: str) -> bool:
    """Whether ``turn`` belongs in a document of ``detail`` (prompts, conversation, all)."""
    if detail == "all":
        return True
    if detail == "prompts":
        return turn.role in ("user", "input") and turn.depth == 0
    return turn.role in CONVERSATION_ROLES


def tool_view(turn: Turn, clean: Clean) -> ToolView:
    """How to show a tool call turn (its recorded input, else its text), from its input
    cleaned first: a summary is cut to one line, and a secret spread over several lines
    (a private key) is only recognised whole."""
    return describe_tool(turn.name, redact_data_with(clean, turn.extra.get("input")), clean(turn.text or ""))


def redact_data_with(clean: Clean, value: Any) -> Any:
    """``value`` with ``clean`` applied to every string in it (JSON-like data)."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {k: redact_data_with(clean, v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_data_with(clean, v) for v in value]
    return value


class Renderer:
    """A renderer over a message stream: ``run`` filters by detail level, tracks the
    sub-agent runs being shown (``open_runs``) and calls ``message`` for each turn,
    ``open_run``/``close_run`` as runs start and end."""

    def __init__(self, clean: Clean, detail: str = "all"):
        self.clean = clean
        self.detail = detail
        self.previous: Turn | None = None
        self.open_runs: list[Turn] = []

    def run(self, messages: Iterable[Any], header: Mapping[str, Any] | None) -> Iterator[str]:
        yield from self.header(header)
        for message in messages:
            turn = to_turn(message)
            if not shown_at(turn, self.detail):
                continue
            # A run ends where a turn of smaller depth (or a new run at its depth) begins.
            limit = turn.depth - 1 if turn.role == "subagent" else turn.depth
            while len(self.open_runs) > max(0, limit):
                yield from self.close_run(self.open_runs.pop())
                self.previous = None
            if turn.role == "subagent":
                self.open_runs.append(turn)
                yield from self.open_run(turn)
                self.previous = None
                continue
            yield from self.message(turn)
            self.previous = turn
        while self.open_runs:
            yield from self.close_run(self.open_runs.pop())
        yield from self.footer()

    def header(self, header: Mapping[str, Any] | None) -> Iterator[str]:
        return iter(())

    def footer(self) -> Iterator[str]:
        return iter(())

    def open_run(self, turn: Turn) -> Iterator[str]:
        return iter(())

    def close_run(self, turn: Turn) -> Iterator[str]:
        return iter(())

    def message(self, turn: Turn) -> Iterator[str]:
        raise NotImplementedError

    def continues(self, turn: Turn) -> bool:
        """Whether ``turn`` carries on the previous one (same role and time), so it needs
        no heading of its own: agents split one reply into several blocks."""
        p = self.previous
        return p is not None and p.role == turn.role and local_time(p.timestamp) == local_time(turn.timestamp)

    def tool_summary(self, text: str) -> str:
        summary = one_line(self.clean(text[: TOOL_SUMMARY_CHARS + _REDACT_MARGIN]))
        if len(summary) > TOOL_SUMMARY_CHARS:
            summary = summary[: TOOL_SUMMARY_CHARS - 1] + "…"
        return summary

    def run_label(self, turn: Turn) -> str:
        return one_line(self.clean(strip_ansi(turn.name or turn.agent or "sub-agent")))
