"""Full text prepared a part at a time: a session that only grew gets the text of its
appended turns added to what was prepared before, instead of preparing it whole again.

``TextState.feed`` takes turns as ``fulltext.prepare`` does (the same cleaning,
dedupe of repeated passages, cap, tool names and role streams) and numbers them on
from the turns it was fed before, so a hit still jumps to its turn of the whole
conversation. Chunks are cut from the start of each role stream (``fulltext.Cutter``),
so every chunk but each stream's last is final: ``result`` compresses only the chunks
that changed since the previous ``result`` and gives the same ``Prepared`` as
``fulltext.prepare`` of every turn fed so far (chunks, frames and digest).

Two things are kept differently: the passages already seen are kept as 16-byte
digests, not the strings (a collision would drop one turn's repeat of 200+ characters
from the index, never the archive); and the text of the chunks already cut is kept for
the digest, not re-read from their frames.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from . import fulltext
from .fulltext import REPEAT_MIN, TEXT_CAP, Chunk, Prepared, Turn


@dataclass
class _Stream:
    """One role stream: its final chunks and the one still being cut."""

    role: str
    tool: str
    closed: list[tuple[Chunk, bytes]] = field(default_factory=list)  # (chunk, its text)
    cutter: fulltext.Cutter = field(default_factory=fulltext.Cutter)
    last: tuple[Chunk, bytes] | None = None  # the open chunk as last compressed

    def add(self, turn: int, text: str) -> None:
        """One piece, cut as ``fulltext.prepare`` cuts a whole stream."""
        if text:
            self.last = None
        for first, chunk in self.cutter.add(turn, text):
            self.closed.append(self._chunk(first, chunk))

    def chunks(self) -> Iterable[tuple[Chunk, bytes]]:
        yield from self.closed
        rest = self.cutter.open_chunk()
        if rest is not None:
            if self.last is None:
                self.last = self._chunk(*rest)
            yield self.last

    def _chunk(self, first: int, text: str) -> tuple[Chunk, bytes]:
        return Chunk(self.role, self.tool, first, fulltext.body(text), fulltext.compress(text)), text.encode(
            "utf-8", "replace"
        )


class TextState:
    """A session's full text as prepared so far (see the module's doc)."""

    def __init__(self, cap: int = TEXT_CAP):
        self.cap = cap
        self.turns = 0  # turns fed so far: the next one's number
        self.size = 0
        self.names: dict[str, str] = {}  # call id -> tool name
        self.seen: set[bytes] = set()  # digests of the passages of REPEAT_MIN+ characters
        self.streams: dict[tuple[str, str], _Stream] = {}

    def feed(self, turns: Iterable[Turn]) -> None:
        """Add turns that follow the ones fed before (``fulltext.prepare``'s loop)."""
        for m in turns:
            turn = self.turns
            self.turns += 1
            if self.size >= self.cap:
                continue  # full: nothing more is kept (the count goes on, for nothing)
            role = fulltext._ROLE_OF.get(m.role, "other")
            raw = m.text or ""
            tool = ""
            if role == "tool":
                call_id = str((m.extra or {}).get("call_id") or "")
                tool = m.name or self.names.get(call_id, "")
                if m.role == "tool" and m.name:
                    self.names[call_id] = m.name
                    raw = f"{m.name}\n{raw}"
            if not raw:
                continue
            if len(raw) >= REPEAT_MIN:
                key = hashlib.blake2b(raw.encode("utf-8", "surrogatepass"), digest_size=16).digest()
                if key in self.seen:
                    continue
                self.seen.add(key)
            text = fulltext.clean(raw[: self.cap - self.size])
            if role == "tool" and "→" in text:
                text = fulltext._LINE_NUMBERS.sub("", text)
            text = text.strip()
            if text:
                stream = self.streams.get((role, tool))
                if stream is None:
                    stream = self.streams[(role, tool)] = _Stream(role, tool)
                stream.add(turn, text)
                self.size += len(text) + 1

    def result(self) -> Prepared:
        """The ``Prepared`` of every turn fed so far: only the chunks that changed since
        the last call are compressed."""
        out = Prepared()
        digest = hashlib.sha256()
        for stream in self.streams.values():
            for chunk, text in stream.chunks():
                digest.update(text)
                out.chunks.append(chunk)
        out.digest = digest.hexdigest()
        return out
