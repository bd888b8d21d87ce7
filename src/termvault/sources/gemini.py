"""Gemini CLI chat recordings.

Where they live: ``<gemini dir>/tmp/<project>/chats/``, where ``<project>`` is the SHA-256
of the project path (older releases) or a short slug (newer ones, which also write the
project path into ``<project>/.project_root``). The gemini dir is ``$GEMINI_DIR`` when set
(a termvault setting naming the ``.gemini`` folder itself; Gemini CLI has no such
variable), else ``$GEMINI_CLI_HOME/.gemini`` (Gemini CLI's own override of its home),
else ``~/.gemini``; the default root is its ``tmp`` folder. Other places: configure roots.

A unit is one session: ``chats/session-<YYYY-MM-DDTHH-MM>-<first 8 of the session id>``
as ``.json`` (a single ``ConversationRecord`` object), ``.jsonl`` (the append-only log) or
both (Gemini CLI migrates a resumed ``.json`` to ``.jsonl`` beside it), plus the sub-agent
logs in ``chats/<parent session id>/*.jsonl`` and the project's ``.project_root`` marker
(so ``parse`` can name the working directory). Sub-agent folders with no parent file
become units of their own. Ids are ``gemini-<time>-<short id>-<hash of the path>``: the
full session id is only inside the file, and discovery reads no content; ``parse``
reports the full one as ``extra["session_id"]``.

The ``.jsonl`` log is replayed as Gemini CLI does: the first line is the session header;
a line with an ``id`` adds a message or replaces the earlier one with that id in place;
``{"$set": {...}}`` merges into the metadata and, when it holds ``messages``, replaces the
conversation (compression; the replaced text stays searchable); ``{"$rewindTo": id}``
drops that message and everything after it (an unknown id drops everything). The
``.json`` form is read with a streaming scanner, one message at a time, so memory stays
bounded; a ``.json`` larger than ``options["max_json_bytes"]`` (256 MB) is not parsed
(one parse warning, the file is still archived raw).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from ..model import FileRef, SessionInfo, SessionUnit
from ..streams import Reader
from .base import (
    TOOL_OUTPUT_CAP,
    Message,
    Source,
    TextCollector,
    clean_info,
    content_text,
    first_line,
    iter_lines,
    loads_lenient,
    make_unit,
    parse_time,
    read_head,
    unit_id,
    walk,
)

log = logging.getLogger(__name__)

MAX_JSON_BYTES = 256 * 1024 * 1024
MAX_MESSAGE_BYTES = 32 * 1024 * 1024  # one message of a .json record; longer ones are skipped
PARSE_TEXT_CAP = 16 * 1024  # characters of each message kept while parsing
RENDER_TEXT_CAP = 1024 * 1024  # ... while rendering
# Characters of message text a replay holds at once; past it, messages keep only their
# start, so a huge log still replays in bounded memory.
PARSE_BUDGET = 32 * 1024 * 1024
RENDER_BUDGET = 128 * 1024 * 1024
SHORT_CAP = 256
_META_KEYS = frozenset(
    ["sessionId", "projectHash", "startTime", "lastUpdated", "summary", "directories", "kind", "model"]
)
_MAIN = re.compile(r"^session-.+\.jsonl?$", re.DOTALL)  # DOTALL: a line break in a name is still a name
_CANDIDATE = re.compile(r"\.jsonl?$|(^|/)\.project_root$")
_ASSISTANT_TYPES = {"gemini", "model", "assistant"}


# ---------------------------------------------------------------------------------------
# Reading: a streaming scanner for the single-object .json form
# ---------------------------------------------------------------------------------------

_NON_WS = re.compile(rb"[^ \t\r\n]")
_STRUCT = re.compile(rb'["{}\[\]]')
_IN_STRING = re.compile(rb'["\\]')
_SCALAR_END = re.compile(rb"[,}\]\s]")


class _Stop(Exception):
    """The document ended early or is not a JSON object: stop, keep what was read."""


class _ObjectStream:
    """Walks one top-level JSON object, yielding ``("meta", key, bytes)`` for each member
    and ``("message", bytes)`` for each element of its ``messages`` array, holding at most
    one value (up to its cap) plus a read chunk in memory. An over-cap value is yielded
    as None after being skipped."""

    def __init__(self, fh: Reader, value_cap: int, chunk: int = 1024 * 1024):
        self.fh = fh
        self.cap = value_cap
        self.chunk = chunk
        self.buf = b""
        self.pos = 0

    def _more(self) -> bool:
        data = self.fh.read(self.chunk)
        if not data:
            return False
        self.buf = self.buf[self.pos :] + data
        self.pos = 0
        return True

    def _peek(self) -> int:
        while True:
            m = _NON_WS.search(self.buf, self.pos)
            if m is not None:
                self.pos = m.start()
                return self.buf[self.pos]
            self.pos = len(self.buf)
            if not self._more():
                raise _Stop

    def _take(self) -> int:
        c = self._peek()
        self.pos += 1
        return c

    def _value(self, cap: int) -> bytes | None:
        first = self._peek()
        out = bytearray()
        over = False
        start = i = self.pos
        depth = 0
        in_str = first == 0x22
        scalar = first not in b'{["'
        if in_str:
            i += 1
        while True:
            buf = self.buf
            end = None
            if i >= len(buf):
                carry = i - len(buf)  # an escape split across reads
                if not over:
                    out += buf[start:]
                    if len(out) > cap:
                        over, out = True, bytearray()
                self.buf, self.pos = b"", 0
                if not self._more():
                    if scalar and not over:
                        return bytes(out)
                    raise _Stop
                start, i = 0, carry
                continue
            m = (_IN_STRING if in_str else _SCALAR_END if scalar else _STRUCT).search(buf, i)
            if m is None:
                i = len(buf)
                continue
            j = m.start()
            if in_str:
                if buf[j] == 0x5C:
                    i = j + 2
                    continue
                in_str, i = False, j + 1
                if depth == 0:
                    end = i
            elif scalar:
                end = j
            else:
                c, i = buf[j], j + 1
                if c == 0x22:
                    in_str = True
                elif c in (0x7B, 0x5B):
                    depth += 1
                else:
                    depth -= 1
                    if depth == 0:
                        end = i
            if end is not None:
                self.pos = end
                if over or len(out) + end - start > cap:
                    return None
                out += buf[start:end]
                return bytes(out)

    def events(self) -> Iterator[tuple]:
        if self._take() != 0x7B:
            raise _Stop
        if self._peek() == 0x7D:
            return
        while True:
            key = loads_lenient(self._value(64 * 1024) or b"")
            if not isinstance(key, str) or self._take() != 0x3A:
                raise _Stop
            if key == "messages" and self._peek() == 0x5B:
                self.pos += 1
                if self._peek() == 0x5D:
                    self.pos += 1
                else:
                    while True:
                        yield ("message", self._value(self.cap))
                        c = self._take()
                        if c == 0x5D:
                            break
                        if c != 0x2C:
                            raise _Stop
            else:
                yield ("meta", key, self._value(self.cap))
            c = self._take()
            if c == 0x7D:
                return
            if c != 0x2C:
                raise _Stop


# ---------------------------------------------------------------------------------------
# Replaying records into a conversation
# ---------------------------------------------------------------------------------------


@dataclass
class _Tool:
    name: str
    call: str
    output: str
    timestamp: float | None
    args: Any = None  # the recorded arguments, for display
    error: bool = False


@dataclass
class _Turn:
    role: str  # user, assistant or system
    text: str
    timestamp: float | None
    model: str | None = None
    tools: list[_Tool] = field(default_factory=list)
    thoughts: str = ""

    @property
    def size(self) -> int:
        return len(self.text) + sum(len(t.call) + len(t.output) for t in self.tools)

    def times(self) -> Iterator[float]:
        if self.timestamp is not None:
            yield self.timestamp
        for tool in self.tools:
            if tool.timestamp is not None:
                yield tool.timestamp


def _parts_text(value: Any) -> str:
    """Text of a Gemini ``PartListUnion``: a string, a part ``{"text": ...}`` or a list."""
    if isinstance(value, dict) and "parts" in value and "text" not in value:
        return _parts_text(value["parts"])
    return content_text(value)


def _turn(obj: dict[str, Any], cap: int) -> _Turn:
    kind = obj.get("type") if isinstance(obj.get("type"), str) else None
    role = "user" if kind == "user" else "assistant" if kind in _ASSISTANT_TYPES else "system"
    text = ""
    if role == "user":
        text = _parts_text(obj.get("displayContent"))
    text = text or _parts_text(obj.get("content")) or _parts_text(obj.get("parts"))
    turn = _Turn(role, text[:cap], parse_time(obj.get("timestamp")))
    if isinstance(obj.get("model"), str):
        turn.model = obj["model"]
    calls = obj.get("toolCalls")
    for call in calls if isinstance(calls, list) else []:
        if not isinstance(call, dict):
            continue
        args = call.get("args")
        if isinstance(args, dict) and isinstance(args.get("command"), str):
            shown = args["command"]
        else:
            try:
                shown = json.dumps(args, ensure_ascii=False) if args else ""
            except (TypeError, ValueError, RecursionError):
                shown = ""
        output = call.get("resultDisplay")
        if not isinstance(output, str):
            output = _tool_output(call.get("result"))
        small = min(cap, TOOL_OUTPUT_CAP)
        name = call.get("name") or call.get("displayName")
        turn.tools.append(
            _Tool(
                name if isinstance(name, str) else "tool",
                shown[:small],
                output[:small],
                parse_time(call.get("timestamp")),
                args if isinstance(args, dict) else None,
                call.get("status") in ("error", "cancelled"),
            )
        )
    turn.thoughts = _thoughts(obj.get("thoughts"))[:cap]
    return turn


def _thoughts(value: Any) -> str:
    """Gemini's recorded thoughts (``{"subject", "description"}`` each) as Markdown."""
    out = []
    for t in value if isinstance(value, list) else []:
        if isinstance(t, dict):
            subject, description = t.get("subject"), t.get("description")
            head = f"**{subject}**" if isinstance(subject, str) and subject else ""
            body = description if isinstance(description, str) else ""
            out.append(f"{head}\n{body}".strip())
    return "\n\n".join(p for p in out if p)


def _tool_output(result: Any) -> str:
    pieces = []
    for part in result if isinstance(result, list) else [result]:
        response = part.get("functionResponse") if isinstance(part, dict) else None
        if isinstance(response, dict) and isinstance(response.get("response"), dict):
            body = response["response"]
            pieces.append(content_text(body.get("output", body.get("content", body.get("error")))))
        else:
            pieces.append(_parts_text(part))
    return "\n".join(p for p in pieces if p)


def _key(obj: Any, n: int) -> str:
    """A message's id, or its position when it has none (legacy records)."""
    return obj["id"] if isinstance(obj, dict) and isinstance(obj.get("id"), str) else f"#{n}"


class _Replay:
    """The conversation state a Gemini CLI recording describes."""

    def __init__(self, cap: int, budget: int):
        self.cap = cap
        self.budget = budget
        self.kept = 0  # characters held by self.turns
        self.meta: dict[str, Any] = {}
        self.turns: dict[str, _Turn] = {}
        self.replaced = TextCollector()  # text of turns a $set.messages replaced
        self.warnings = 0

    def record(self, obj: Any) -> None:
        if not isinstance(obj, dict):
            self.warnings += 1
        elif isinstance(obj.get("$rewindTo"), str):
            self.rewind(obj["$rewindTo"])
        elif isinstance(obj.get("id"), str):
            self.message(obj["id"], obj)
        elif isinstance(obj.get("$set"), dict):
            self.update(obj["$set"])
        elif isinstance(obj.get("sessionId"), str) or isinstance(obj.get("messages"), list):
            self.update(obj)  # the header line, or a whole record written on one line
        else:
            self.warnings += 1  # a record type this reader does not know

    def message(self, key: str, obj: Any) -> None:
        if not isinstance(obj, dict):
            self.warnings += 1
            return
        try:
            turn = _turn(obj, self.cap if self.kept < self.budget else min(self.cap, SHORT_CAP))
        except RecursionError:  # nesting deep enough to parse but not to walk
            self.warnings += 1
            return
        old = self.turns.get(key)
        if old is not None:
            self.kept -= old.size
        self.kept += turn.size
        # Assigning an existing key keeps its place: an upserted message stays in order.
        self.turns[key] = turn

    def rewind(self, target: str) -> None:
        keys = list(self.turns)
        for key in keys[keys.index(target) :] if target in self.turns else keys:
            self.kept -= self.turns.pop(key).size

    def update(self, patch: dict[str, Any]) -> None:
        for key, value in patch.items():
            if key in _META_KEYS:
                self.meta[key] = value
        messages = patch.get("messages")
        if messages is None:
            return
        if not isinstance(messages, list):
            self.warnings += 1
            return
        old = self.turns
        self.turns, self.kept = {}, 0
        for n, obj in enumerate(messages):
            self.message(_key(obj, n), obj)
        for key, turn in old.items():
            if key not in self.turns:
                self.replaced.add(turn.text)

    def read(self, ref: FileRef, max_json: int) -> None:
        """Replay ``ref`` (either form). Never raises on content."""
        try:
            with ref.open() as fh:
                head = fh.readline(64 * 1024)
            first = loads_lenient(head) if head.strip() else None
            if isinstance(first, dict) or ref.relpath.endswith(".jsonl"):
                self._read_lines(ref)
            elif ref.size > max_json:
                log.warning(
                    "%s is %d bytes, over the %d-byte cap for .json sessions; archived unparsed",
                    ref.relpath,
                    ref.size,
                    max_json,
                )
                self.warnings += 1
            elif ref.size:
                self._read_object(ref)
        except (OSError, RecursionError):
            self.warnings += 1
        except Exception:  # a reader bug must cost one file's metadata, never the sweep
            log.warning("could not read %s", ref.relpath, exc_info=True)
            self.warnings += 1

    def _read_lines(self, ref: FileRef) -> None:
        for _, raw in iter_lines(ref):
            if raw is None:
                self.warnings += 1
            elif raw.strip():
                self.record(loads_lenient(raw))

    def _read_object(self, ref: FileRef) -> None:
        with ref.open() as fh:
            stream = _ObjectStream(fh, MAX_MESSAGE_BYTES)
            n = 0
            try:
                for event in stream.events():
                    if event[0] == "message":
                        obj = loads_lenient(event[1])
                        self.message(_key(obj, n), obj)
                        n += 1
                    elif event[1] in _META_KEYS:
                        value = loads_lenient(event[2])
                        if value is None and event[2] != b"null":
                            self.warnings += 1
                        else:
                            self.meta[event[1]] = value
            except _Stop:
                self.warnings += 1


# ---------------------------------------------------------------------------------------
# The source
# ---------------------------------------------------------------------------------------


def _split(files: Sequence[FileRef]) -> tuple[FileRef | None, list[FileRef], FileRef | None]:
    """(main log, sub-agent logs, .project_root) of a unit's files."""
    marker = next((f for f in files if PurePosixPath(f.relpath).name == ".project_root"), None)
    logs = sorted((f for f in files if f is not marker), key=lambda f: f.relpath)
    mains = [f for f in logs if _MAIN.match(PurePosixPath(f.relpath).name)]
    # The .jsonl continues (and repeats) a migrated .json, so it is the one to read.
    main = next((f for f in mains if f.relpath.endswith(".jsonl")), mains[0] if mains else None)
    if main is None and logs:
        main = logs[0]
    return main, [f for f in logs if f is not main and f not in mains], marker


class GeminiSource(Source):
    """Gemini CLI sessions (``chats/session-*.json`` and ``.jsonl``)."""

    kind = "gemini"
    default_mode = "copy"
    description = "Gemini CLI chat recordings (~/.gemini/tmp/<project>/chats)"
    option_names = frozenset({"max_json_bytes"})

    def default_roots(self) -> list[Path]:
        # GEMINI_DIR is the .gemini folder itself; GEMINI_CLI_HOME stands for the home.
        if self.env.get("GEMINI_DIR"):
            return [self.env_dir("GEMINI_DIR") / "tmp"]
        return [self.env_dir("GEMINI_CLI_HOME") / ".gemini" / "tmp"]

    def discover(self) -> Iterator[SessionUnit]:
        seen: set[str] = set()
        for root in self.roots:
            mains: dict[tuple[Path, str], list[Path]] = {}
            nested: dict[Path, list[Path]] = {}  # chats/<parent id>/ -> its logs
            markers: dict[Path, Path] = {}
            for path in walk(root, _CANDIDATE):
                if path.name == ".project_root":
                    markers[path.parent] = path
                elif path.parent.name == "chats" and _MAIN.match(path.name):
                    mains.setdefault((path.parent, re.sub(r"\.jsonl?$", "", path.name)), []).append(path)
                elif path.parent.parent.name == "chats" and path.parent != root:
                    nested.setdefault(path.parent, []).append(path)
            for folder, paths in sorted(nested.items()):
                # The folder is named with the parent's full session id; the parent's file
                # name ends with its first 8 characters.
                suffix = "-" + folder.name[:8]
                owners = [key for key in sorted(mains) if key[0] == folder.parent and key[1].endswith(suffix)]
                owner = owners[0] if owners else None
                if owner is not None:
                    mains[owner].extend(paths)
                else:
                    yield from self._unit(seen, root, unit_id(self.kind, "agents-" + folder.name, folder), paths)
            for (chats, stem), paths in sorted(mains.items()):
                marker = markers.get(chats.parent)
                if marker is not None:
                    paths = [*paths, marker]
                sid = unit_id(self.kind, stem.removeprefix("session-"), chats / stem)
                yield from self._unit(seen, root, sid, paths, project_dir=str(chats.parent))

    def _unit(self, seen: set[str], root: Path, sid: str, paths: list[Path], **hints: Any) -> Iterator[SessionUnit]:
        if sid in seen:
            return
        unit = make_unit(self.kind, sid, root, paths, **hints)
        if unit is not None:
            # The session log goes first: it is the file a raw export gives by default.
            main, _, _ = _split(unit.files)
            if main is not None:
                unit.files.sort(key=lambda f: f.relpath != main.relpath)
            seen.add(sid)
            yield unit

    def _max_json(self) -> int:
        value = self.options.get("max_json_bytes", MAX_JSON_BYTES)
        return value if isinstance(value, int) and value > 0 else MAX_JSON_BYTES

    def _replay(self, ref: FileRef, cap: int, budget: int) -> _Replay:
        replay = _Replay(cap, budget)
        replay.read(ref, self._max_json())
        return replay

    def parse(self, files: Sequence[FileRef]) -> SessionInfo:
        info = SessionInfo()
        main, agents, marker = _split(files)
        if main is None:
            return info
        text = TextCollector()
        convo = self._replay(main, PARSE_TEXT_CAP, PARSE_BUDGET)
        meta = convo.meta
        summary = meta.get("summary") if isinstance(meta.get("summary"), str) else None
        text.add(summary)
        users = [t for t in convo.turns.values() if t.role == "user" and t.text.strip()]
        times = [t for turn in convo.turns.values() for t in turn.times()]
        tools = 0
        for turn in convo.turns.values():
            text.add(turn.text)
            for tool in turn.tools:
                tools += 1
                text.add(tool.name)
                text.add(tool.call, TOOL_OUTPUT_CAP)
                text.add(tool.output, TOOL_OUTPUT_CAP)
        text.add(convo.replaced.text())
        warnings = convo.warnings
        for ref in agents:
            agent = self._replay(ref, PARSE_TEXT_CAP, PARSE_BUDGET)
            warnings += agent.warnings
            for turn in agent.turns.values():
                times.extend(turn.times())
                text.add(turn.text)
                for tool in turn.tools:
                    tools += 1
                    text.add(tool.name)
                    text.add(tool.call, TOOL_OUTPUT_CAP)

        info.first_prompt = users[0].text.strip() if users else None
        info.last_command = users[-1].text.strip() if users else None
        info.name = first_line(summary) or first_line(info.first_prompt) or PurePosixPath(main.relpath).stem
        directories = meta.get("directories")
        info.working_directory = (read_head(marker, 4096).strip() if marker else "") or (
            directories[0] if isinstance(directories, list) and directories and isinstance(directories[0], str) else ""
        )
        info.created_at = parse_time(meta.get("startTime")) or (min(times) if times else None)
        ends = [t for t in (parse_time(meta.get("lastUpdated")), *times) if t is not None]
        info.last_activity_at = max(ends) if ends else info.created_at
        models = [t.model for t in convo.turns.values() if t.role == "assistant" and t.model]
        info.model = models[-1] if models else (meta["model"] if isinstance(meta.get("model"), str) else None)
        info.message_count = sum(1 for t in convo.turns.values() if t.role in ("user", "assistant"))
        info.tool_call_count = tools
        info.parse_warnings = warnings
        info.text = text.text()
        names = (("sessionId", "session_id"), ("projectHash", "project_hash"), ("kind", "kind"))
        info.extra = {name: meta[key] for key, name in names if isinstance(meta.get(key), str)}
        if agents:
            info.extra["subagents"] = len(agents)
        return clean_info(info)

    def messages(self, files: Sequence[FileRef]) -> Iterator[Message]:
        """The conversation after replay, then each sub-agent's as a nested run (Gemini
        does not record which call started it). Thoughts come before the turn that had
        them; tool calls follow the assistant turn that made them."""
        main, agents, _ = _split(files)
        for n, ref in enumerate([main, *agents] if main else []):
            depth, agent = (1, f"#{n} {PurePosixPath(ref.relpath).stem}") if n else (0, None)
            if n:
                yield Message(
                    "subagent",
                    f"sub-agent transcript {PurePosixPath(ref.relpath).name}",
                    name=agent,
                    depth=depth,
                    agent=agent,
                )
            for turn in self._replay(ref, RENDER_TEXT_CAP, RENDER_BUDGET).turns.values():
                if turn.thoughts:
                    yield Message("thinking", turn.thoughts, turn.timestamp, name=turn.model, depth=depth, agent=agent)
                if turn.text or not turn.tools:
                    yield Message(turn.role, turn.text, turn.timestamp, name=turn.model, depth=depth, agent=agent)
                for tool in turn.tools:
                    when = tool.timestamp or turn.timestamp
                    extra = {"input": tool.args} if tool.args is not None else {}
                    yield Message("tool", tool.call, when, name=tool.name, extra=extra, depth=depth, agent=agent)
                    if tool.output:
                        yield Message(
                            "tool_result",
                            tool.output,
                            when,
                            name=tool.name,
                            extra={"error": True} if tool.error else {},
                            depth=depth,
                            agent=agent,
                        )


__all__ = ["GeminiSource"]
