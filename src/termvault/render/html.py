"""HTML: one self-contained page (inline CSS, no script, no font, no image or anything
else fetched), readable on a phone. A table of contents lists the user's prompts; each
prompt starts a section; the agent's replies are Markdown rendered to HTML (raw HTML in
them is shown as text, images become links); thinking, tool calls with their results,
scaffolding and system records are folded in ``<details>`` closed by default; a sub-agent
run is a ``<details>`` of its own nested where it was spawned.

Every string reaches the page through the template's autoescaping or Markdown rendering
with HTML disabled; texts are cleaned (escape sequences and control characters removed,
secrets redacted) first. Unlike the other formats the page is built in memory, because
the table of contents comes before the conversation it lists.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import jinja2
from markdown_it import MarkdownIt
from markupsafe import Markup

from ..conversation import demote_headings
from .common import (
    Clean,
    Renderer,
    Turn,
    clean_document,
    header_items,
    local_time,
    one_line,
    tool_view,
)

RESULT_CHARS = 20_000  # of a tool result shown in the page
RESULT_LINES = 400
BODY_CHARS = 200_000  # of any other single text
TOC_CHARS = 120
MARKDOWN_CHARS = 32_000  # longer texts are shown as plain text, not parsed as Markdown
MARKDOWN_BRACKETS = 5_000


@dataclass
class Node:
    """One block of the page; ``children`` for a sub-agent run."""

    kind: str
    role: str = ""
    title: str = ""
    summary: str = ""
    time: str = ""
    text: str = ""
    html: Markup | None = None
    language: str = ""
    anchor: str = ""
    note: str = ""
    error: bool = False
    result: Node | None = None
    children: list[Node] = field(default_factory=list)


@functools.lru_cache(maxsize=2)
def _markdown(breaks: bool = False) -> MarkdownIt:
    """Markdown to HTML with raw HTML shown as text; ``breaks`` keeps single line breaks
    (what a person typed in a prompt means its lines)."""
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False, "breaks": breaks})
    md.enable(["table", "strikethrough"])
    md.disable("image")  # a page that fetches nothing: an image stays a link
    return md


@functools.lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("termvault.render", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


def _cut(text: str, limit: int, lines: int | None = None) -> tuple[str, str]:
    """``text`` cut at ``limit`` characters (and ``lines`` lines), with a note of the rest."""
    cut = min(len(text), limit)
    if lines is not None:
        pos = -1
        for _ in range(lines):
            pos = text.find("\n", pos + 1, cut)
            if pos < 0:
                break
        else:
            cut = min(cut, pos + 1)
    if cut >= len(text):
        return text, ""
    rest = text[cut:]
    more = rest.count("\n") + (not rest.endswith("\n"))
    return text[:cut], f"… {more} more line{'s' if more != 1 else ''} ({len(rest):,} characters) not shown"


class HtmlRenderer(Renderer):
    def __init__(self, clean: Clean, detail: str = "all"):
        super().__init__(clean, detail)
        self.root: list[Node] = []
        self.stack: list[list[Node]] = [self.root]
        self.toc: list[Node] = []
        self.head: Mapping[str, Any] | None = None
        self.calls: dict[str, Node] = {}  # call id -> its tool node, to pair results

    # The base class streams pieces; here each call records nodes and the page is
    # rendered at the end.
    def header(self, header: Mapping[str, Any] | None) -> Iterator[str]:
        self.head = header
        return iter(())

    def text(self, value: str, limit: int = BODY_CHARS) -> tuple[str, str]:
        return _cut(clean_document(value, self.clean), limit)

    def markdown(self, value: str, breaks: bool = False) -> tuple[Markup, str]:
        text, note = self.text(value)
        if len(text) > MARKDOWN_CHARS or text.count("[") > MARKDOWN_BRACKETS:
            # Markdown parsing of some hostile texts grows with the square of their
            # length; a text this long is shown as it is, escaped.
            return Markup('<div class="plain">{}</div>').format(text), note
        level = min(6, 2 + len(self.open_runs))
        return Markup(_markdown(breaks).render(demote_headings(text, level))), note

    @property
    def here(self) -> list[Node]:
        return self.stack[-1]

    def open_run(self, turn: Turn) -> Iterator[str]:
        task, _ = self.text(turn.text, 2000)
        label, task = self.run_label(turn), one_line(task)
        node = Node("run", title=label, text="" if task in label else task, time=local_time(turn.timestamp) or "")
        self.here.append(node)
        self.stack.append(node.children)
        return iter(())

    def close_run(self, turn: Turn) -> Iterator[str]:
        self.stack.pop()
        return iter(())

    def message(self, turn: Turn) -> Iterator[str]:
        role = turn.role
        when = local_time(turn.timestamp) or ""
        if role == "tool":
            view = tool_view(turn, self.clean)
            body, note = self.text(view.body)
            node = Node(
                "tool", title=one_line(turn.name or "tool"), text=body, language=view.language, note=note, time=when
            )
            node.summary = self.tool_summary(view.summary)
            node.role = view.kind
            if self.detail != "all":
                node.text = ""
            call_id = turn.extra.get("call_id")
            if isinstance(call_id, str):
                self.calls[call_id] = node
            self.here.append(node)
        elif role == "tool_result":
            text, note = _cut(clean_document(turn.text, self.clean), RESULT_CHARS, RESULT_LINES)
            node = Node(
                "result",
                title=one_line(turn.name or ""),
                text=text,
                note=note,
                error=bool(turn.extra.get("error")),
                time=when,
            )
            call = self.calls.pop(str(turn.extra.get("call_id")), None)
            last = self.here[-1] if self.here else None
            if (
                call is None
                and last is not None
                and last.kind == "tool"
                and (not node.title or node.title == last.title)
            ):
                call = last
            if call is not None and call.result is None:
                call.result = node
            else:
                self.here.append(node)
        elif role in ("thinking", "assistant"):
            html, note = self.markdown(turn.text)
            last = self.here[-1] if self.here else None
            if last is not None and last.kind == role and self.continues(turn) and role == "assistant":
                last.html = Markup(last.html or "") + html
                return iter(())
            title = (
                "Thinking" if role == "thinking" else "Assistant" + (f" · {one_line(turn.name)}" if turn.name else "")
            )
            self.here.append(Node(role, role=role, title=title, time=when, html=html, note=note))
        elif role in ("meta", "system"):
            text, note = self.text(turn.text)
            label = ("Scaffolding" if role == "meta" else "System") + (f": {one_line(turn.name)}" if turn.name else "")
            self.here.append(Node("fold", role=role, title=label, text=text, note=note, time=when))
        elif role == "user" and not self.open_runs:
            text, _ = self.text(turn.text, 4000)
            html, note = self.markdown(turn.text, breaks=True)
            node = Node(
                "prompt",
                role="user",
                title="You",
                time=when,
                text=text,
                html=html,
                note=note,
                anchor=f"prompt-{len(self.toc) + 1}",
            )
            self.toc.append(node)
            self.here.append(node)
        elif role in ("output", "input"):
            text, note = self.text(turn.text)
            last = self.here[-1] if self.here else None
            if role == "output" and last is not None and last.kind == "output":
                last.text += text
                last.note = note or last.note
                return iter(())
            self.here.append(Node(role, role=role, title=one_line(turn.name or ""), text=text, note=note, time=when))
        elif role == "marker":
            text, _ = self.text(turn.text, 2000)
            self.here.append(Node("marker", title=one_line(turn.name or "marker"), text=one_line(text), time=when))
        elif role == "user":  # the task a sub-agent was given
            html, note = self.markdown(turn.text, breaks=True)
            self.here.append(Node("turn", role=role, title="Task", time=when, html=html, note=note))
        else:  # a role this renderer does not know
            text, note = self.text(turn.text)
            title = role.replace("_", " ").capitalize()
            self.here.append(Node("turn", role=role, title=title, time=when, text=text, note=note))
        return iter(())

    def footer(self) -> Iterator[str]:
        items = header_items(self.head, lambda s: clean_document(s, self.clean))
        title = next((value for label, value in items if label == "Session"), "Session")
        for node in self.toc:
            lines = (ln.strip().lstrip("#").strip() for ln in node.text.splitlines())
            first = next((ln for ln in lines if ln and not ln.startswith("```")), "(empty prompt)")
            node.summary = first if len(first) <= TOC_CHARS else first[: TOC_CHARS - 1] + "…"
        template = _environment().get_template("session.html.j2")
        yield from template.generate(
            title=title,
            meta=[(label, value) for label, value in items if label != "Session"],
            toc=self.toc,
            nodes=self.root,
            detail=self.detail,
        )


def render_html(messages: Iterable[Any], header: Mapping[str, Any] | None, clean: Clean, detail: str) -> Iterator[str]:
    return HtmlRenderer(clean, detail).run(messages, header)
