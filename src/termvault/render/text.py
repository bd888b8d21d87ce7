"""Plain text: an optional header block, then each turn as ``[YYYY-MM-DD HH:MM:SS] USER:``
(local time) with its text indented by four spaces; a tool call on one line
``→ tool NAME: <what it did>`` (a shell command as the command, a file write as the file);
at the ``all`` detail level a write's content or an edit's diff and each tool result
indented under it, cut after ``TOOL_RESULT_LINES`` lines with a ``(… N more lines)``
note; agent scaffolding as one ``── meta`` line; terminal output as is. A sub-agent run
starts with a ``┌ sub-agent`` line and its turns are indented under it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .common import (
    INDENT,
    RESULT_INDENT,
    Renderer,
    Turn,
    header_items,
    indented,
    local_time,
    one_line,
    pieces,
    tool_view,
    truncated,
)

NEST = "│   "


class TextRenderer(Renderer):
    def __init__(self, clean, detail: str = "all"):
        super().__init__(clean, detail)
        self.started = False

    def header(self, header: Mapping[str, Any] | None) -> Iterator[str]:
        items = header_items(header, self.clean)
        if items:
            self.started = True
            yield "".join(f"{label}: {value}\n" for label, value in items)

    def gap(self) -> str:
        """A blank line between blocks (none before the first)."""
        started, self.started = self.started, True
        return "\n" if started else ""

    def nested(self, text: str) -> str:
        """``text`` with the nesting prefix of the open sub-agent runs on each line."""
        if not self.open_runs:
            return text
        prefix = NEST * len(self.open_runs)
        bar = prefix.rstrip()
        return "".join(prefix + line if line.strip() else bar + line for line in text.splitlines(keepends=True))

    def open_run(self, turn: Turn) -> Iterator[str]:
        gap = self.gap()
        depth = len(self.open_runs) - 1
        label = self.run_label(turn)
        line = f"┌ sub-agent: {label}"
        task = one_line(self.clean(turn.text))[:200]
        task = "" if task in label else task
        yield gap + NEST * depth + line + (f" — {task}" if task else "") + "\n"

    def close_run(self, turn: Turn) -> Iterator[str]:
        yield NEST * len(self.open_runs) + f"└ end of sub-agent: {self.run_label(turn)}\n"

    def message(self, turn: Turn) -> Iterator[str]:
        for piece in self.plain(turn):
            yield self.nested(piece)

    def plain(self, turn: Turn) -> Iterator[str]:
        role = turn.role
        if role == "tool":
            gap = "" if self.previous and self.previous.role in ("tool", "tool_result") else self.gap()
            self.started = True
            view = tool_view(turn, self.clean)
            summary = self.tool_summary(view.summary)
            name = one_line(turn.name or "?")
            yield f"{gap}{INDENT}→ tool {name}" + (f": {summary}" if summary else "") + "\n"
            if self.detail == "all" and view.kind in ("file", "diff") and view.body:
                shown, note = truncated(view.body, self.clean)
                yield from indented(shown, RESULT_INDENT)
                if note:
                    yield f"{RESULT_INDENT}{note}\n"
        elif role == "tool_result":
            self.started = True
            shown, note = truncated(turn.text, self.clean)
            if shown:
                yield from indented(shown, RESULT_INDENT)
            if note:
                yield f"{RESULT_INDENT}{note}\n"
        elif role == "output":
            # Consecutive output messages are one terminal stream cut in pieces.
            if not (self.previous and self.previous.role == "output"):
                yield self.gap()
            self.started = True
            text = self.clean(turn.text)
            yield from pieces(text)
            if text and not text.endswith("\n"):
                yield "\n"
        elif role in ("marker", "meta"):
            when = local_time(turn.timestamp)
            label = f"{one_line(turn.name)}: " if turn.name else ""
            kind = "── " if role == "marker" else "── meta "
            yield self.gap() + (f"[{when}] " if when else "") + f"{kind}{label}{self.tool_summary(turn.text)}\n"
        else:
            if self.continues(turn):
                yield "\n"
            else:
                when = local_time(turn.timestamp)
                title = "TASK" if role == "user" and self.open_runs else role.upper()
                yield self.gap() + (f"[{when}] " if when else "") + f"{title}:\n"
            self.started = True
            text = self.clean(turn.text)
            if text:
                yield from indented(text, INDENT)
