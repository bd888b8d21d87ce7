"""Codex CLI rollouts: ``~/.codex/sessions/YYYY/MM/DD/rollout-<time>-<uuid>.jsonl``.

Codex compresses idle rollouts itself (``rollout-*.jsonl.zst``); those are archived as the
raw bytes they are and parsed by streaming decompression. Archived sessions live in
``~/.codex/archived_sessions/``. ``$CODEX_HOME`` replaces ``~/.codex`` when set.

Two record formats exist. The current one wraps every line as
``{"timestamp", "type": session_meta|response_item|event_msg|turn_context|..., "payload"}``.
The legacy mid-2025 one starts with a bare header ``{"id", "timestamp", "instructions",
"git"}`` followed by bare response items (no envelope, no timestamps) and
``{"record_type": "state"}`` markers; its working directory is only in the
``<environment_context>`` of the first user message.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zstandard

from ..conversation import parse_input
from ..model import FileRef, SessionInfo, SessionUnit
from ..streams import Reader
from .base import (
    TOOL_OUTPUT_CAP,
    Message,
    PartReader,
    Source,
    TextCollector,
    clean_text,
    content_text,
    first_line,
    make_unit,
    parse_time,
    read_jsonl,
    str_or_none,
    walk,
)

_ROLLOUT = re.compile(r"(?:^|/)rollout-[^/]*\.jsonl(?:\.zst)?$")
_NAME = re.compile(
    r"rollout-(?:(?P<ts>\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2})-)?"
    r"(?P<id>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})"
    r"\.jsonl(?:\.zst)?$"
)
_CWD_TAG = re.compile(r"<cwd>\s*(.*?)\s*</cwd>", re.S)
PROMPT_CAP = 2000
MESSAGE_CAP = 64 * 1024

# Top-level record kinds of the current format; others count as parse warnings.
_KNOWN_KINDS = frozenset(
    {
        "session_meta",
        "response_item",
        "event_msg",
        "turn_context",
        "compacted",
        "world_state",
        "inter_agent_communication_metadata",
    }
)
# Response items that are the model calling a tool.
_CALL_TYPES = frozenset(
    {
        "function_call",
        "custom_tool_call",
        "local_shell_call",
        "web_search_call",
        "tool_search_call",
        "image_generation_call",
    }
)
# User-role messages Codex writes itself before (or between) the user's own prompts.
_PREAMBLES = (
    "<environment_context>",
    "# AGENTS.md instructions",
    "<user_instructions>",
    "<INSTRUCTIONS>",
    "<user_action>",
    "<permissions instructions>",
    "<turn_aborted>",
    "<collaboration_mode>",
    "<skill>",
)
# The VS Code extension prefixes prompts with editor context; the prompt follows this line.
_IDE_REQUEST = "## My request for Codex:"


class CodexSource(Source):
    """Codex CLI rollout files (plain and zstd-compressed), archived as copies."""

    kind = "codex"
    default_mode = "copy"
    description = "Codex CLI rollouts (~/.codex/sessions, ~/.codex/archived_sessions)"

    def default_roots(self) -> list[Path]:
        base = self.env_dir("CODEX_HOME", ".codex")
        return [base / "sessions", base / "archived_sessions"]

    def discover(self) -> Iterator[SessionUnit]:
        used: set[str] = set()
        for root in self.roots:
            groups: dict[str, list[Path]] = {}
            hints: dict[str, dict[str, Any]] = {}
            for path in walk(root, _ROLLOUT):
                rel = path.relative_to(root).as_posix()
                match = _NAME.search(path.name)
                if match:
                    sid = match.group("id").lower()
                else:
                    # No UUID in the name: derive a stable id from where it lives (the .zst
                    # and plain copies of one rollout share it).
                    stem = rel[: -len(".zst")] if rel.endswith(".zst") else rel
                    sid = "codex-" + hashlib.sha256(stem.encode("utf-8", "surrogateescape")).hexdigest()[:16]
                groups.setdefault(sid, []).append(path)
                hint = hints.setdefault(sid, {})
                if match and match.group("ts"):
                    hint.setdefault("file_time", match.group("ts"))
                if path.name.endswith(".zst"):
                    hint["compressed"] = True
            for sid in sorted(groups):
                unit_id = sid
                if unit_id in used:
                    # The same rollout under two roots (say sessions/ and archived_sessions/):
                    # the first keeps Codex's id, the other is qualified by its root.
                    digest = hashlib.sha256(str(root).encode("utf-8", "surrogateescape")).hexdigest()[:8]
                    unit_id = f"{sid}-{digest}"
                used.add(unit_id)
                unit = make_unit(self.kind, unit_id, root, groups[sid], **hints[sid])
                if unit is not None:
                    yield unit

    def parse(self, files: Sequence[FileRef]) -> SessionInfo:
        """Metadata from the records of the unit's rollout (the plain copy when there are
        several). The name is the thread name Codex recorded, else a title from the first
        prompt; preambles Codex writes itself are not prompts. Never raises on bad content."""
        rollouts = _rollouts(files)
        state = _State()
        if not rollouts:
            return state.info()
        primary = rollouts[0]
        state.compressed = primary.relpath.endswith(".zst")
        for rec in _records(primary, state.warnings):
            try:
                state.feed(rec)
            except (RecursionError, TypeError, ValueError, AttributeError, KeyError):
                state.warnings[0] += 1
        info = state.info()
        if len(rollouts) > 1:
            info.extra["copies"] = len(rollouts)
        return info

    def messages(self, files: Sequence[FileRef]) -> Iterator[Message]:
        rollouts = _rollouts(files)
        if not rollouts:
            return
        for rec in _records(rollouts[0], [0]):
            try:
                yield from _record_messages(rec)
            except (RecursionError, TypeError, ValueError, AttributeError, KeyError):
                continue

    def resumable(self, files: Sequence[FileRef]) -> Resumable | None:
        """A reader that parses the unit's records a part at a time (``Resumable``), for
        a unit that is one plain rollout alone; None for any other layout."""
        if len(files) == 1 and files[0].relpath.endswith(".jsonl"):
            return Resumable()
        return None


class Resumable(PartReader):
    """One pass over a plain rollout that can go on later: ``feed`` the records of a part
    of the file (the whole file, then what was appended), then ask for the metadata
    (``info``: what ``parse`` gives for everything fed so far) and the messages the part
    added (``take``: ``messages`` of everything fed so far, in pieces)."""

    def __init__(self) -> None:
        self.state = _State()
        self._messages: list[Message] = []

    def feed(self, ref: FileRef) -> None:
        state, out = self.state, self._messages
        for rec in _records(ref, state.warnings):
            try:
                state.feed(rec)
            except (RecursionError, TypeError, ValueError, AttributeError, KeyError):
                state.warnings[0] += 1
            try:
                for m in _record_messages(rec):
                    out.append(m)
            except (RecursionError, TypeError, ValueError, AttributeError, KeyError):
                continue

    def records(self, ref: FileRef, warnings: list[int]) -> Iterator[Any]:
        return _records(ref, warnings)

    def take(self) -> list[Message]:
        out, self._messages = self._messages, []
        return out


# ---------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------


# Parsing work is bounded per input byte: a rollout is read up to this many times its
# compressed size (or 4 MiB); the rest of a file that expands further (a few KB of zstd
# can hold gigabytes of empty lines) counts as one parse warning. The archive keeps the
# file's exact bytes either way.
EXPANSION_RATIO = 100
MIN_EXPANSION_CAP = 4 * 1024 * 1024


class _Capped(io.RawIOBase):
    """A raw stream that fails (OSError) once more than ``limit`` bytes were read."""

    def __init__(self, inner: Any, limit: int, name: str):
        self.inner, self.left, self.name = inner, limit, name

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.left <= 0:
            raise OSError(f"{self.name} expands more than {EXPANSION_RATIO} times its size; the rest is not read")
        view = memoryview(buffer)[: self.left]
        data = self.inner.read(len(view))
        view[: len(data)] = data
        self.left -= len(data)
        return len(data)

    def close(self) -> None:
        self.inner.close()
        super().close()


@dataclass
class _Decompressed:
    """A FileRef over the decompressed content of a ``.zst`` FileRef (streamed)."""

    inner: FileRef

    @property
    def relpath(self) -> str:
        return self.inner.relpath

    @property
    def size(self) -> int:
        return self.inner.size

    def open(self) -> Reader:
        raw = self.inner.open()
        try:
            reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)  # type: ignore[arg-type]  # zstandard's stub asks IO[bytes]; it only calls read()
            limit = max(MIN_EXPANSION_CAP, EXPANSION_RATIO * max(self.inner.size, 1))
            return io.BufferedReader(_Capped(reader, limit, self.relpath))
        except BaseException:
            raw.close()
            raise


def _rollouts(files: Sequence[FileRef]) -> list[FileRef]:
    """The unit's rollout files, the one to read first: a plain file before a compressed
    copy (Codex compresses idle files, so a plain one is the live one), then the largest."""
    found = [f for f in files if f.relpath.endswith((".jsonl", ".jsonl.zst"))]
    return sorted(found, key=lambda f: (f.relpath.endswith(".zst"), -f.size, f.relpath))


def _records(ref: FileRef, warnings: list[int]) -> Iterator[dict[str, Any]]:
    source: FileRef = _Decompressed(ref) if ref.relpath.endswith(".zst") else ref
    # Unreadable or corrupt compressed data: what was read so far still counts.
    yield from read_jsonl(source, warnings, (OSError, zstandard.ZstdError))


# ---------------------------------------------------------------------------------------
# Interpreting records
# ---------------------------------------------------------------------------------------


def _normalise(rec: dict[str, Any]) -> tuple[str, dict[str, Any], Any] | None:
    """(kind, payload, timestamp) of a record in either format; None for state markers
    and for records that are not understood (the caller counts those)."""
    kind = rec.get("type")
    if isinstance(kind, str) and "payload" in rec:
        payload = rec["payload"]
        return (kind, payload, rec.get("timestamp")) if isinstance(payload, dict) else None
    if isinstance(kind, str):  # a bare legacy response item
        known = kind in ("message", "reasoning") or kind.endswith(("_call", "_output"))
        return ("response_item", rec, rec.get("timestamp")) if known else None
    if "id" in rec and "timestamp" in rec:  # the legacy header line
        return "session_meta", rec, rec.get("timestamp")
    return None


def _message_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts = []
    if isinstance(content, list):
        for block in content:
            if isinstance(block, dict) and isinstance(block.get("text"), str):
                parts.append(block["text"])
    return "\n".join(parts)


def prompt_of(text: str) -> str | None:
    """The user's own prompt in a user message; None for Codex's preambles (environment
    context, AGENTS.md instructions, review hand-offs). Editor context is dropped."""
    s = text[:20000].strip()
    if not s or s.startswith(_PREAMBLES):
        return None
    i = s.find(_IDE_REQUEST)
    if i >= 0:
        s = s[i + len(_IDE_REQUEST) :].strip()
    return s[:PROMPT_CAP] or None


def title_of(prompt: str) -> str:
    """A one-line title from a prompt: its first line that is not a markdown heading or a
    code fence (expanded prompt templates start with those), else its first line."""
    for line in prompt.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "```")):
            return first_line(line)
    return first_line(prompt)


def _call_text(payload: dict[str, Any]) -> str:
    for key in ("arguments", "input", "action", "query"):
        value = payload.get(key)
        if value:
            return value[:TOOL_OUTPUT_CAP] if isinstance(value, str) else content_text({"input": value})
    return ""


def _output_text(payload: dict[str, Any]) -> str:
    output = payload.get("output")
    if isinstance(output, str):
        return output[:TOOL_OUTPUT_CAP]
    if isinstance(output, (dict, list)):
        return content_text({"content": output})
    return ""


class _State:
    def __init__(self) -> None:
        self.warnings = [0]
        self.text = TextCollector()
        self.meta_seen = False
        self.legacy = False
        self.compressed = False
        self.cwd: str | None = None
        self.context_cwd: str | None = None
        self.env_cwd: str | None = None
        self.branch: str | None = None
        self.model: str | None = None
        self.extra: dict[str, Any] = {}
        self.first_ts: float | None = None
        self.last_ts: float | None = None
        self.thread_name: str | None = None
        # Prompts as user_message events (what the user typed) and as response items
        # (what the model saw); events are preferred, items are all legacy files have.
        self.event_prompts: list[str | None] = [None, None]
        self.event_count = 0
        self.item_prompts: list[str | None] = [None, None]
        self.item_count = 0
        self.assistant_items = 0
        self.agent_events = 0
        self.tool_calls = 0

    def feed(self, rec: dict[str, Any]) -> None:
        if "record_type" in rec and "type" not in rec:
            return  # a state marker
        norm = _normalise(rec)
        if norm is None:
            self.warnings[0] += 1
            return
        kind, payload, ts = norm
        if "payload" not in rec:
            self.legacy = True
        self._time(ts)
        if kind == "session_meta":
            self._meta(payload)
        elif kind == "turn_context":
            self.model = str_or_none(payload.get("model")) or self.model
            self.context_cwd = self.context_cwd or str_or_none(payload.get("cwd"))
        elif kind == "response_item":
            self._item(payload)
        elif kind == "event_msg":
            self._event(payload)
        elif kind not in _KNOWN_KINDS:
            self.warnings[0] += 1

    def _time(self, value: Any) -> None:
        ts = parse_time(value)
        if ts is not None:
            self.first_ts = ts if self.first_ts is None else min(self.first_ts, ts)
            self.last_ts = ts if self.last_ts is None else max(self.last_ts, ts)

    def _meta(self, p: dict[str, Any]) -> None:
        self._time(p.get("timestamp"))
        # A forked or sub-agent rollout repeats its parent's session_meta after its own.
        if self.meta_seen:
            return
        self.meta_seen = True
        self.cwd = str_or_none(p.get("cwd"))
        git = p.get("git")
        if isinstance(git, dict):
            self.branch = str_or_none(git.get("branch"))
            if str_or_none(git.get("repository_url")):
                self.extra["repository_url"] = git["repository_url"]
        for key in ("cli_version", "originator", "model_provider"):
            if str_or_none(p.get(key)):
                self.extra[key] = p[key]
        source = p.get("source")
        if isinstance(source, str) and source:
            self.extra["source"] = source
        elif isinstance(source, dict) and "subagent" in source:
            self.extra["source"] = "subagent"

    def _item(self, p: dict[str, Any]) -> None:
        kind = p.get("type")
        if kind == "message":
            role = p.get("role")
            text = _message_text(p.get("content"))
            if role == "user":
                prompt = prompt_of(text)
                if prompt is None:
                    if text.lstrip().startswith("<environment_context>") and self.env_cwd is None:
                        found = _CWD_TAG.search(text[:10000])
                        self.env_cwd = found.group(1) if found else None
                    return
                self.text.add(text)
                self.item_prompts = [self.item_prompts[0] or prompt, prompt]
                self.item_count += 1
            elif role == "assistant":
                self.assistant_items += 1
                self.text.add(text)
        elif kind in _CALL_TYPES:
            self.tool_calls += 1
            self.text.add(str_or_none(p.get("name")) or kind)
            self.text.add(_call_text(p), TOOL_OUTPUT_CAP)
        elif isinstance(kind, str) and kind.endswith("_output"):
            self.text.add(_output_text(p), TOOL_OUTPUT_CAP)

    def _event(self, p: dict[str, Any]) -> None:
        kind = p.get("type")
        if kind == "user_message":
            prompt = prompt_of(str_or_none(p.get("message")) or "")
            if prompt is not None:
                self.event_prompts = [self.event_prompts[0] or prompt, prompt]
                self.event_count += 1
        elif kind == "agent_message":
            self.agent_events += 1
        elif kind == "thread_name_updated":
            self.thread_name = str_or_none(p.get("thread_name")) or self.thread_name

    def info(self) -> SessionInfo:
        first, last = self.event_prompts if self.event_count else self.item_prompts
        prompts = self.event_count or self.item_count
        name = self.thread_name or (title_of(first) if first else "")
        extra = dict(self.extra)
        if self.legacy:
            extra["format"] = "legacy"
        if self.compressed:
            extra["compressed"] = True
        return SessionInfo(
            name=clean_text(first_line(name)),
            working_directory=clean_text(self.cwd or self.context_cwd or self.env_cwd or ""),
            last_command=clean_text(last) if last else None,
            first_prompt=clean_text(first) if first else None,
            created_at=self.first_ts,
            last_activity_at=self.last_ts,
            git_branch=clean_text(self.branch) if self.branch else None,
            model=clean_text(self.model) if self.model else None,
            message_count=prompts + (self.assistant_items or self.agent_events),
            tool_call_count=self.tool_calls,
            parse_warnings=self.warnings[0],
            text=clean_text(self.text.text()),
            extra={k: clean_text(v) if isinstance(v, str) else v for k, v in extra.items()},
        )


def _record_messages(rec: dict[str, Any]) -> Iterator[Message]:
    """The messages of one record: Codex's own preambles (AGENTS.md, environment context,
    instructions) and developer messages as ``meta``; reasoning summaries as ``thinking``;
    tool calls with their decoded input and results paired by ``call_id``."""
    norm = _normalise(rec)
    if norm is None:
        return
    kind, p, raw_ts = norm
    ts = parse_time(raw_ts)
    item = p.get("type")
    if kind == "response_item" and item == "message":
        text = _message_text(p.get("content"))[:MESSAGE_CAP]
        role = p.get("role")
        if role == "user":
            if prompt_of(text):
                yield Message("user", text, ts)
            elif text.strip():
                yield Message("meta", text, ts, name=_preamble_name(text))
        elif role == "assistant":
            yield Message("assistant", text, ts)
        elif text:
            yield Message("meta", text, ts, name=str_or_none(role))
    elif kind == "response_item" and item == "reasoning":
        summary = _message_text(p.get("summary")) or _message_text(p.get("content"))
        if summary.strip():
            yield Message("thinking", summary[:MESSAGE_CAP], ts)
    elif kind == "response_item" and item in _CALL_TYPES:
        name = str_or_none(p.get("name")) or item
        raw = next((p[k] for k in ("arguments", "input", "action", "query") if p.get(k)), None)
        data = parse_input(raw)
        text = raw if isinstance(raw, str) else content_text({"input": raw}, MESSAGE_CAP)
        extra: dict[str, Any] = {"input": data} if data is not None else {}
        if isinstance(p.get("call_id"), str):
            extra["call_id"] = p["call_id"]
        yield Message("tool", text[:MESSAGE_CAP], ts, name=name, extra=extra)
    elif kind == "response_item" and isinstance(item, str) and item.endswith("_output"):
        text, failed = _result(p.get("output"))
        extra = {"call_id": p["call_id"]} if isinstance(p.get("call_id"), str) else {}
        if failed:
            extra["error"] = True
        yield Message("tool_result", text[:MESSAGE_CAP], ts, extra=extra)
    elif kind == "event_msg" and item == "thread_name_updated" and str_or_none(p.get("thread_name")):
        yield Message("marker", p["thread_name"], ts, name="title")
    elif kind == "compacted":
        yield Message("marker", "context compacted", ts, name="compacted")


_PREAMBLE_NAMES = (
    ("# AGENTS.md", "AGENTS.md"),
    ("<environment_context>", "environment context"),
    ("<user_instructions>", "user instructions"),
    ("<INSTRUCTIONS>", "instructions"),
    ("<permissions instructions>", "permissions"),
)


def _preamble_name(text: str) -> str | None:
    s = text.lstrip()
    for prefix, name in _PREAMBLE_NAMES:
        if s.startswith(prefix):
            return name
    if s.startswith("<"):
        end = s.find(">", 1, 80)
        return s[1:end] if end > 1 else None
    return None


def _result(output: Any) -> tuple[str, bool]:
    """A call's output as text, and whether it failed (a non-zero exit code). Codex wraps
    some outputs in ``{"output": ..., "metadata": {"exit_code": ...}}``."""
    value = parse_input(output) if isinstance(output, str) and output.startswith("{") else output
    if isinstance(value, dict) and isinstance(value.get("output"), str):
        meta = value.get("metadata")
        code = meta.get("exit_code") if isinstance(meta, dict) else None
        return value["output"], isinstance(code, int) and code != 0
    if isinstance(output, str):
        return output, False
    if isinstance(output, (dict, list)):
        return content_text({"content": output}, MESSAGE_CAP), False
    return "", False


# ---------------------------------------------------------------------------------------
# Small defensive helpers (records are untrusted: any field may have any JSON type)
# ---------------------------------------------------------------------------------------

__all__ = ["CodexSource", "prompt_of", "title_of"]
