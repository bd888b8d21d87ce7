"""Markdown: ``# title``, a metadata list, ``## User (time)`` / ``## Assistant (time)``
sections whose own headings are demoted below them, thinking, tool calls, scaffolding
and system records folded in ``<details>``; a tool call shows what it did (a command in
an ``sh`` block, a written file in a block of its language, an edit as a ``diff``) and
its result follows in a fence longer than any backtick run it holds. A sub-agent run is
a ``<details>`` block of its own, its turns one heading level deeper. Escape sequences
and control characters are removed (they mean nothing in a document)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Mapping
from typing import Any

from ..conversation import demote_headings
from .common import (
    _HEADING_ROLES,
    Renderer,
    Turn,
    clean_document,
    fence_for,
    header_items,
    local_time,
    one_line,
    pieces,
    tool_view,
    truncated,
)


class MarkdownRenderer(Renderer):
    def clean_md(self, text: str) -> str:
        return clean_document(text, self.clean)

    @property
    def level(self) -> int:
        """The heading level of a turn here (2, deeper inside sub-agent runs)."""
        return min(6, 2 + len(self.open_runs))

    def header(self, header: Mapping[str, Any] | None) -> Iterator[str]:
        items = header_items(header, self.clean_md)
        title = next((value for label, value in items if label == "Session"), "Session")
        lines = [f"# {title}\n"]
        meta = [f"- **{label}:** {_inline(value)}" for label, value in items if label != "Session"]
        if meta:
            lines.append("\n" + "\n".join(meta) + "\n")
        yield "".join(lines)

    def heading(self, title: str, turn: Turn) -> str:
        when = local_time(turn.timestamp)
        return f"\n{'#' * self.level} {title}" + (f" ({when})" if when else "") + "\n\n"

    def fenced(self, text: str, language: str = "") -> Iterator[str]:
        fence = fence_for(text)
        yield fence + language + "\n"
        yield from pieces(text)
        yield ("" if not text or text.endswith("\n") else "\n") + fence + "\n"

    def folded(self, summary: str, body: str, language: str = "", note: str | None = None) -> Iterator[str]:
        yield f"\n<details><summary>{html.escape(summary)}</summary>\n\n"
        if body:
            yield from self.fenced(body, language)
        if note:
            yield f"\n{note}\n"
        yield "\n</details>\n"

    def open_run(self, turn: Turn) -> Iterator[str]:
        task = one_line(self.clean_md(turn.text))
        label = self.run_label(turn)
        yield f"\n<details><summary>Sub-agent: {html.escape(label)}</summary>\n\n"
        if task and task not in label:
            yield f"> {task[:300]}\n"

    def close_run(self, turn: Turn) -> Iterator[str]:
        yield f"\n</details><!-- end of sub-agent: {html.escape(self.run_label(turn)).replace('--', '- -')} -->\n"

    def message(self, turn: Turn) -> Iterator[str]:
        role = turn.role
        if role == "tool":
            view = tool_view(turn, self.clean)
            name = one_line(turn.name or "?")
            summary = self.tool_summary(view.summary)
            title = f"tool {name}" + (f": {summary}" if summary else "")
            if self.detail != "all":
                yield f"\n- `{name}` {_code_span(summary)}\n" if summary else f"\n- `{name}`\n"
                return
            yield from self.folded(title, self.clean_md(view.body), view.language)
        elif role == "tool_result":
            shown, note = truncated(turn.text, self.clean_md)
            if not shown:
                return
            if turn.extra.get("error"):
                yield "\n**Tool error:**\n"
            yield "\n"
            yield from self.fenced(shown)
            if note:
                yield f"\n{note}\n"
        elif role in ("thinking", "meta", "system"):
            label = {"thinking": "Thinking", "meta": "Scaffolding", "system": "System"}[role]
            if turn.name:
                label += f" ({one_line(turn.name)})"
            when = local_time(turn.timestamp)
            text = self.clean_md(turn.text)
            if role == "thinking":
                yield f"\n<details><summary>{html.escape(label)}</summary>\n\n"
                yield from pieces(demote_headings(text, self.level))
                yield "\n\n</details>\n"
            else:
                yield from self.folded(label + (f" {when}" if when else ""), text)
        elif role == "output":
            # Consecutive output messages are one terminal stream cut in pieces.
            if not (self.previous and self.previous.role == "output"):
                yield self.heading("Output" + (f": {one_line(turn.name)}" if turn.name else ""), turn)
            else:
                yield "\n"
            yield from self.fenced(self.clean_md(turn.text))
        elif role == "input":
            # What was typed at a shell is a command, not markdown: a `*.py` or an HTML
            # tag in it is shown as typed, never rendered.
            yield "\n" if self.continues(turn) else self.heading(_HEADING_ROLES.get(role, "Input"), turn)
            yield from self.fenced(self.clean_md(turn.text), "sh")
        elif role == "marker":
            when = local_time(turn.timestamp)
            label = one_line(turn.name or "marker")
            text = one_line(self.clean_md(turn.text))
            yield f"\n> **{label}**" + (f" ({when})" if when else "") + (f": {text}" if text else "") + "\n"
        else:
            if self.continues(turn):
                yield "\n"
            else:
                # In a sub-agent run the "user" is the agent that gave it its task.
                task = "Task" if role == "user" and self.open_runs else None
                yield self.heading(task or _HEADING_ROLES.get(role, role.replace("_", " ").capitalize()), turn)
            text = demote_headings(self.clean_md(turn.text), self.level)
            if text:
                yield from pieces(text)
                if not text.endswith("\n"):
                    yield "\n"


def _code_span(value: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", value)), default=0)
    tick = "`" * (longest + 1)
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{tick}{pad}{value}{pad}{tick}"


def _inline(value: str) -> str:
    """A header value as Markdown: in code spans when it holds characters Markdown would
    interpret (paths with underscores, ids with backticks)."""
    if not re.search(r"[*_`\[\]<>\\#|]", value):
        return value
    return _code_span(value)
