"""The full text a sweep prepares: role streams from the conversation, read lazily; past
``MAX_CONVERSATION_BYTES`` the parser's streamed text, so memory stays bounded."""

from __future__ import annotations

import json
from pathlib import Path

from termvault.index import fulltext
from termvault.ops import text
from termvault.sources.claude_code import ClaudeCodeSource

from .sources.support import MemoryFile


def _session() -> MemoryFile:
    records = [
        {"type": "user", "uuid": "u1", "sessionId": "s1", "timestamp": "2025-01-01T10:00:00Z",
         "message": {"role": "user", "content": "please refactor the frobnicator"}},
        {"type": "assistant", "uuid": "a1", "parentUuid": "u1", "sessionId": "s1", "timestamp": "2025-01-01T10:00:05Z",
         "message": {"role": "assistant", "content": [{"type": "text", "text": "the frobnicator is refactored"}]}},
    ]  # fmt: skip
    return MemoryFile("p/s1.jsonl", "".join(json.dumps(r) + "\n" for r in records).encode())


def _roles(prepared: fulltext.Prepared) -> set[str]:
    return {c.role for c in prepared.chunks}


def test_a_conversation_is_prepared_in_role_streams(tmp_path: Path):
    src, ref = ClaudeCodeSource(home=tmp_path), _session()
    info = text.parse(src, [ref], None)
    assert _roles(text.prepare_text(src, [ref], info)) == {"user", "assistant"}


def test_past_the_size_bound_the_parsers_text_is_prepared_instead(tmp_path: Path, monkeypatch):
    src, ref = ClaudeCodeSource(home=tmp_path), _session()
    info = text.parse(src, [ref], None)
    monkeypatch.setattr(text, "MAX_CONVERSATION_BYTES", ref.size - 1)
    prepared = text.prepare_text(src, [ref], info)
    assert _roles(prepared) == {"other"}
    words = "".join(fulltext.decompress(c.frame) for c in prepared.chunks)
    assert "frobnicator" in words and "refactored" in words


def test_a_source_whose_messages_fail_still_gets_its_parsers_text(tmp_path: Path):
    class Broken(ClaudeCodeSource):
        def messages(self, files):  # not a generator: it fails when called
            raise ValueError("a parser bug")

    src, ref = Broken(home=tmp_path), _session()
    info = text.parse(src, [ref], None)
    prepared = text.prepare_text(src, [ref], info)
    assert _roles(prepared) == {"other"}
    assert "frobnicator" in "".join(fulltext.decompress(c.frame) for c in prepared.chunks)
