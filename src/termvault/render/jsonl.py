"""JSON Lines: one object per message, ``{"role", "text", "timestamp", "name"}`` with the
timestamp as ISO-8601 UTC (``...Z``) or null; a sub-agent's messages add ``"agent"`` (the
run's label) and ``"depth"``; a tool call adds its recorded ``"input"`` (every string in
it redacted); a failed tool result adds ``"error": true``. The header is not part of this
format; the detail level filters messages as in the other formats."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from .common import CHUNK_CHARS, Clean, Renderer, Turn, pieces, utc_iso

_MAX_INPUT_DEPTH = 32


class JsonlRenderer(Renderer):
    def open_run(self, turn: Turn) -> Iterator[str]:
        yield from self.message(turn)

    def message(self, turn: Turn) -> Iterator[str]:
        text = self.clean(turn.text)
        timestamp = utc_iso(turn.timestamp)
        tail: dict[str, Any] = {}
        if turn.agent or turn.depth:
            tail["agent"] = turn.agent
            tail["depth"] = turn.depth
        if turn.role == "tool" and turn.extra.get("input") is not None:
            tail["input"] = _redacted(turn.extra["input"], self.clean)
        if turn.role == "tool_result" and turn.extra.get("error"):
            tail["error"] = True
        extra = "".join(", " + json.dumps(k) + ": " + json.dumps(v, ensure_ascii=False) for k, v in tail.items())
        if len(text) <= CHUNK_CHARS:
            record = {"role": turn.role, "text": text, "timestamp": timestamp, "name": turn.name}
            yield json.dumps(record, ensure_ascii=False)[:-1] + extra + "}\n"
            return
        # The same bytes json.dumps would write, without holding a second copy of a huge text.
        yield '{"role": ' + json.dumps(turn.role, ensure_ascii=False) + ', "text": "'
        for piece in pieces(text):
            yield json.dumps(piece, ensure_ascii=False)[1:-1]
        yield (
            '", "timestamp": '
            + json.dumps(timestamp)
            + ', "name": '
            + json.dumps(turn.name, ensure_ascii=False)
            + extra
            + "}\n"
        )


def _redacted(value: Any, clean: Clean, depth: int = 0) -> Any:
    """``value`` (decoded JSON) with every string cleaned; nesting past a sane depth is
    dropped rather than followed."""
    if depth > _MAX_INPUT_DEPTH:
        return None
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {clean(str(k)): _redacted(v, clean, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redacted(v, clean, depth + 1) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return clean(str(value))
