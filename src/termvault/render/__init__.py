"""Readable exports of a session: plain text, Markdown, JSON Lines and HTML.

``render(messages, fmt, header, redact_secrets, detail)`` turns the ``Message`` stream a
source yields (the conversation model of ``termvault.conversation``) into pieces of text
for ``fmt`` in ``RENDERED_FORMATS``. A caller may rely on:

- text, Markdown and JSON Lines are lazy: messages are read one at a time and a huge
  message is emitted in pieces of about ``CHUNK_CHARS`` characters, so memory stays
  bounded by the largest single message; HTML is built in memory (its table of contents
  comes first) from texts each cut to a bounded size;
- every piece of message and header text goes through ``termvault.redact.redact`` unless
  ``redact_secrets`` is False; no format holds a terminal control sequence: escape
  sequences, C0/C1 controls (but tab and newline) and bidirectional overrides are removed
  from every piece (``termvault.ansi.printable``), so a session cannot write to the
  clipboard, retitle the window or move the cursor of whoever reads the export;
- ``detail`` is one of ``DETAILS``: ``prompts`` (the user's prompts only), ``conversation``
  (prompts, replies, sub-agent runs and one line per tool call) or ``all`` (also thinking,
  tool inputs and results, scaffolding and system records, folded where the format can);
- odd messages never raise: a None or non-string text, an unknown role, a timestamp that
  is not a number, lone surrogates or control characters are all rendered somehow.

``raw`` is listed in ``FORMATS`` but is not rendered here: a raw export is the archived
bytes, copied unchanged by the caller. Each format's layout is described in its module.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from ..ansi import printable
from ..conversation import DETAILS
from ..errors import UsageError
from ..redact import redact
from .common import CHUNK_CHARS, TOOL_RESULT_LINES, Clean
from .jsonl import JsonlRenderer
from .markdown import MarkdownRenderer
from .text import TextRenderer

FORMATS: tuple[str, ...] = ("raw", "jsonl", "text", "markdown", "html")
RENDERED_FORMATS: tuple[str, ...] = ("jsonl", "text", "markdown", "html")


def render(
    messages: Iterable[Any],
    fmt: str,
    header: Mapping[str, Any] | None = None,
    redact_secrets: bool = True,
    detail: str = "all",
) -> Iterator[str]:
    """Pieces of ``fmt`` for ``messages``; concatenated they form the document. Raises
    UsageError at once for any other format or detail level."""
    if fmt not in RENDERED_FORMATS:
        if fmt == "raw":
            raise UsageError("A raw export is the archived bytes; it is copied, not rendered.")
        raise UsageError(f"Unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}.")
    if detail not in DETAILS:
        raise UsageError(f"Unknown detail level {detail!r}; choose one of {', '.join(DETAILS)}.")
    clean: Clean = _printable_redacted if redact_secrets else printable
    renderers: dict[str, Any] = {"text": TextRenderer, "markdown": MarkdownRenderer, "jsonl": JsonlRenderer}
    if fmt == "html":
        from .html import HtmlRenderer  # lazy: jinja2 and markdown-it load only for HTML

        renderers["html"] = HtmlRenderer
    # Every piece written passes here: whatever a renderer took from the session (a tool
    # name, an unknown role) reaches the file without a terminal control sequence.
    return (printable(piece) for piece in renderers[fmt](clean, detail).run(messages, header))


def _printable_redacted(text: str) -> str:
    # Escapes first: a colour code inside a key would hide it from redaction.
    return redact(printable(text))


__all__ = ["CHUNK_CHARS", "DETAILS", "FORMATS", "RENDERED_FORMATS", "TOOL_RESULT_LINES", "render"]
