"""A Claude Code session as one conversation (``termvault.conversation``).

Sub-agents come in two layouts: older transcripts hold their records inline, flagged
``isSidechain`` (parallel sub-agents interleaved by time, each a chain of ``parentUuid``
links from a root record); newer sessions keep one ``subagents/agent-<id>.jsonl`` per
sub-agent (and older ones a top-level ``agent-<id>.jsonl``). Either way each run is shown
nested right after the Task/Agent call that spawned it, found by the agent id the call's
result names, else by the prompt the call gave, else by the agent type the team member
was created with. A run no call claims is placed where it started in time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from ..conversation import split_scaffolding
from ..model import FileRef
from .base import Message, content_text, parse_time, read_head, read_jsonl, str_or_none
from .claude_records import _user_parts, prompt_of

MESSAGE_CAP = 64 * 1024  # characters of one displayed message
_MAX_TOOL_IDS = 20_000
_SPAWN_TOOLS = frozenset({"Task", "Agent"})
_PROMPT_KEY = 400  # characters of a prompt compared to find the run a call spawned


@dataclass
class _Spawn:
    """A Task/Agent call in a stream: where its run goes."""

    call_id: str
    data: dict[str, Any]


@dataclass
class _Run:
    key: str
    items: list[Message | _Spawn] = field(default_factory=list)
    agent_id: str | None = None
    agent_type: str | None = None
    prompt: str = ""
    start: float | None = None
    used: bool = False


class _Stream:
    """Turns the records of one transcript (or one sidechain) into messages and spawns."""

    def __init__(self, in_run: bool):
        self.in_run = in_run
        self.items: list[Message | _Spawn] = []
        self.tool_names: dict[str, str] = {}
        self.prompt = ""
        self.start: float | None = None
        self.agent_id: str | None = None

    def feed(self, rec: dict[str, Any], result_agents: dict[str, str]) -> None:
        kind = rec.get("type")
        ts = parse_time(rec.get("timestamp"))
        if self.start is None and ts is not None and kind in ("user", "assistant"):
            self.start = ts
        self.agent_id = self.agent_id or str_or_none(rec.get("agentId"))
        msg = rec.get("message")
        if kind == "user" and isinstance(msg, dict):
            self._user(rec, msg, ts, result_agents)
        elif kind == "assistant" and isinstance(msg, dict):
            self._assistant(msg, ts)
        elif kind == "summary" and str_or_none(rec.get("summary")):
            self.items.append(Message("marker", rec["summary"], ts, name="summary"))
        elif kind in ("custom-title", "ai-title"):
            title = str_or_none(rec.get("customTitle") or rec.get("aiTitle"))
            if title:
                self.items.append(Message("marker", title, ts, name="title"))
        elif kind == "system" and str_or_none(rec.get("content")):
            self.items.append(Message("system", rec["content"][:MESSAGE_CAP], ts, name=str_or_none(rec.get("subtype"))))

    def _user(self, rec: dict[str, Any], msg: dict[str, Any], ts: float | None, result_agents: dict[str, str]) -> None:
        texts, results = _user_parts(msg.get("content"))
        tur = rec.get("toolUseResult")
        for block in results:
            call_id = str(block.get("tool_use_id"))
            if isinstance(tur, dict) and isinstance(tur.get("agentId"), str):
                result_agents[call_id] = tur["agentId"]
            text = content_text(block.get("content"), MESSAGE_CAP)[:MESSAGE_CAP]
            extra: dict[str, Any] = {"call_id": call_id}
            if block.get("is_error") is True:
                extra["error"] = True
            self.items.append(Message("tool_result", text, ts, name=self.tool_names.get(call_id), extra=extra))
        text = "\n".join(texts)
        if not text.strip():
            return
        if self.in_run and not self.prompt and not rec.get("isMeta"):
            # The task the parent agent gave: the run's prompt, whatever wraps it.
            visible, blocks = split_scaffolding(text)
            self.prompt = (visible or (blocks[0][1] if blocks else "") or text)[:MESSAGE_CAP]
            self.items.append(Message("user", self.prompt, ts))
            return
        prompt = prompt_of(text, rec)
        if prompt and prompt.startswith(("/", "!")) and "<" in text[:200]:
            self.items.append(Message("user", prompt, ts))
            self.items.append(Message("meta", text[:MESSAGE_CAP], ts, name="command"))
        elif prompt:
            visible, blocks = split_scaffolding(text[:MESSAGE_CAP])
            self.items.append(Message("user", visible or text[:MESSAGE_CAP], ts))
            for tag, content in blocks:
                self.items.append(Message("meta", content, ts, name=tag))
        else:
            self.items.append(Message("meta", text[:MESSAGE_CAP], ts, name=_tag_of(text)))

    def _assistant(self, msg: dict[str, Any], ts: float | None) -> None:
        model = str_or_none(msg.get("model"))
        content = msg.get("content")
        if isinstance(content, str):
            self.items.append(Message("assistant", content[:MESSAGE_CAP], ts, name=model))
            return
        for block in content if isinstance(content, list) else []:
            if not isinstance(block, dict):
                continue
            btype = block.get("type")
            if btype == "text" and isinstance(block.get("text"), str):
                self.items.append(Message("assistant", block["text"][:MESSAGE_CAP], ts, name=model))
            elif btype == "thinking" and str_or_none(block.get("thinking")):
                self.items.append(Message("thinking", block["thinking"][:MESSAGE_CAP], ts, name=model))
            elif btype == "tool_use":
                name = str_or_none(block.get("name")) or "tool"
                call_id = block.get("id")
                if isinstance(call_id, str) and len(self.tool_names) < _MAX_TOOL_IDS:
                    self.tool_names[call_id] = name
                data = block.get("input")
                extra = {"input": data} if data is not None else {}
                if isinstance(call_id, str):
                    extra["call_id"] = call_id
                self.items.append(
                    Message("tool", content_text({"input": data}, MESSAGE_CAP), ts, name=name, extra=extra)
                )
                if name in _SPAWN_TOOLS and isinstance(data, dict):
                    self.items.append(_Spawn(call_id if isinstance(call_id, str) else "", data))


class MainStream:
    """The main conversation of a transcript without sidechains, read a part at a time:
    what ``conversation`` gives for such a transcript is the messages ``take`` hands out
    after each ``feed``, in order. Spawning calls are dropped as ``conversation`` drops
    those no run claims (there is no run)."""

    def __init__(self) -> None:
        self._stream = _Stream(in_run=False)
        self._agents: dict[str, str] = {}

    def feed(self, rec: dict[str, Any]) -> None:
        try:
            self._stream.feed(rec, self._agents)
        except (RecursionError, TypeError, ValueError, AttributeError, KeyError):
            pass
        self._agents.clear()  # only a run uses them: there is none

    def take(self) -> list[Message]:
        out = [m for m in self._stream.items if isinstance(m, Message)]
        self._stream.items = []
        return out


def _tag_of(text: str) -> str | None:
    s = text.lstrip()
    if s.startswith("<"):
        end = s.find(">", 1, 80)
        if end > 1:
            return s[1:end].split()[0]
    return None


def conversation(roles: Sequence[tuple[FileRef, str]]) -> Iterator[Message]:
    """The messages of a unit whose files have the given roles (see ``claude_code._roles``)."""
    result_agents: dict[str, str] = {}
    main = _Stream(in_run=False)
    inline: dict[str, _Stream] = {}  # sidechain root uuid -> its run
    root_of: dict[str, str] = {}
    runs: list[_Run] = []
    meta_types: dict[str, str] = {}
    tool_results: list[FileRef] = []
    for ref, role in roles:
        if role == "meta":
            agent_type = _meta_type(ref)
            if agent_type:
                meta_types[ref.relpath[: -len(".meta.json")]] = agent_type
        elif role == "tool-result":
            tool_results.append(ref)
    for ref, role in roles:
        if role == "main":
            for rec in read_jsonl(ref, [0]):
                try:
                    if rec.get("isSidechain") is True:
                        _feed_inline(rec, inline, root_of, result_agents)
                    else:
                        main.feed(rec, result_agents)
                except (RecursionError, TypeError, ValueError, AttributeError, KeyError):
                    continue
        elif role == "side":
            stream = _Stream(in_run=True)
            for rec in read_jsonl(ref, [0]):
                try:
                    stream.feed(rec, result_agents)
                except (RecursionError, TypeError, ValueError, AttributeError, KeyError):
                    continue
            stem = ref.relpath[: -len(".jsonl")]
            agent_id = stream.agent_id or PurePosixPath(stem).name.removeprefix("agent-")
            runs.append(_run(stem, stream, agent_id, meta_types.get(stem)))
    runs[:0] = [_run(key, stream, stream.agent_id, None) for key, stream in inline.items()]
    if not main.items and not runs:
        yield from _tool_result_files(tool_results)
        return
    placer = _Placer(runs, result_agents)
    nested = list(placer.expand(main.items, 0))
    # Runs no call claimed go where they started in time, not at the end.
    pending = sorted((r for r in runs if not r.used), key=lambda r: (r.start is None, r.start or 0.0))
    for message in nested:
        while (
            pending
            and pending[0].start is not None
            and message.depth == 0
            and (message.timestamp is not None and message.timestamp > pending[0].start)
        ):
            yield from placer.emit(pending.pop(0), 1, None)
        yield message
    for run in pending:
        if not run.used:
            yield from placer.emit(run, 1, None)
    yield from _tool_result_files(tool_results)


def _feed_inline(
    rec: dict[str, Any], inline: dict[str, _Stream], root_of: dict[str, str], result_agents: dict[str, str]
) -> None:
    uuid = str_or_none(rec.get("uuid")) or ""
    parent = str_or_none(rec.get("parentUuid"))
    root = root_of.get(parent) if parent else None
    if root is None:
        root = uuid or f"run-{len(inline)}"
        inline[root] = _Stream(in_run=True)
    if uuid:
        root_of[uuid] = root
    inline[root].feed(rec, result_agents)


def _run(key: str, stream: _Stream, agent_id: str | None, agent_type: str | None) -> _Run:
    return _Run(key, stream.items, agent_id, agent_type, stream.prompt, stream.start)


def _meta_type(ref: FileRef) -> str | None:
    try:
        obj = json.loads(read_head(ref, 64 * 1024))
    except (ValueError, RecursionError):
        return None
    return str_or_none(obj.get("agentType")) if isinstance(obj, dict) else None


def _tool_result_files(refs: list[FileRef]) -> Iterator[Message]:
    for ref in refs:
        yield Message("tool_result", read_head(ref, MESSAGE_CAP), name=PurePosixPath(ref.relpath).name)


def _key(text: str) -> str:
    return " ".join(text[: _PROMPT_KEY * 2].split())[:_PROMPT_KEY]


class _Placer:
    """Finds the run each spawning call started and emits runs nested under their calls."""

    def __init__(self, runs: list[_Run], result_agents: dict[str, str]):
        self.runs = runs
        self.result_agents = result_agents
        self.count = 0

    def find(self, spawn: _Spawn) -> _Run | None:
        free = [r for r in self.runs if not r.used]
        agent_id = self.result_agents.get(spawn.call_id)
        if agent_id:
            hit = next((r for r in free if r.agent_id == agent_id), None)
            if hit:
                return hit
        prompt = spawn.data.get("prompt")
        if isinstance(prompt, str) and prompt.strip():
            key = _key(prompt)
            hit = next((r for r in free if r.prompt and (_key(r.prompt) == key or key in _key(r.prompt[:4000]))), None)
            if hit is None:
                hit = next((r for r in free if r.prompt and key in " ".join(r.prompt[:20000].split())), None)
            if hit:
                return hit
        name = spawn.data.get("name") or spawn.data.get("subagent_type")
        typed = [r for r in free if name and r.agent_type == name]
        return typed[0] if len(typed) == 1 else None

    def expand(self, items: list[Message | _Spawn], depth: int) -> Iterator[Message]:
        for item in items:
            if isinstance(item, _Spawn):
                run = self.find(item)
                if run is not None:
                    yield from self.emit(run, depth + 1, item.data)
                continue
            item.depth = depth
            yield item

    def emit(self, run: _Run, depth: int, data: dict[str, Any] | None) -> Iterator[Message]:
        run.used = True
        self.count += 1
        data = data or {}
        kind = str_or_none(data.get("subagent_type")) or str_or_none(data.get("name")) or run.agent_type
        if kind is None and run.key.rsplit("/", 1)[-1].startswith("agent-acompact"):
            kind = "compaction"
        description = str_or_none(data.get("description"))
        label = f"#{self.count} {kind or 'agent'}" + (f": {description}" if description else "")
        yield Message("subagent", description or run.prompt[:300], run.start, name=label, depth=depth, agent=label)
        for message in self.expand(run.items, depth):
            message.agent = message.agent or label
            yield message
