"""Claude Code transcripts: ``~/.claude/projects/<project>/<session>.jsonl``.

One session unit holds every file Claude Code writes for a session:

- ``<project>/<id>.jsonl``, the main transcript;
- everything under ``<project>/<id>/`` (``subagents/agent-*.jsonl`` with their
  ``.meta.json``, ``tool-results/*``);
- the older top-level ``<project>/agent-*.jsonl`` sidechain files whose first record names
  the session (``sessionId``).

``$CLAUDE_CONFIG_DIR/projects`` replaces ``~/.claude/projects`` when that variable is set.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import InvalidIdError
from ..fsutil import validate_id
from ..model import FileRef, SessionInfo, SessionUnit
from .base import (
    TOOL_OUTPUT_CAP,
    Message,
    PartReader,
    Source,
    TextCollector,
    clean_text,
    content_text,
    first_line,
    loads,
    make_unit,
    parse_time,
    read_head,
    read_jsonl,
    str_or_none,
    walk,
)
from .claude_conversation import MainStream, conversation
from .claude_records import PROMPT_CAP, _user_parts, prompt_of

log = logging.getLogger(__name__)

_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_SESSION_ID_RE = re.compile(rb'"sessionId"\s*:\s*"([^"\\]{1,200})"')
FIRST_LINE_LIMIT = 64 * 1024
MESSAGE_CAP = 64 * 1024  # characters of one displayed message
_MAX_SUMMARIES = 2000


class OwnUuids:
    """Which summary leaves (``leafUuid``) are records of this transcript, in memory that
    does not grow with the transcript.

    A leaf named by a summary read earlier is matched exactly when its record comes by
    (the usual order: Claude Code writes the summaries a transcript continues at its
    top). For a leaf whose record came before its summary, every uuid also goes into a
    fixed 1 MiB Bloom filter: it can say "seen" for a uuid it never saw (about 1 in
    15,000 at 200,000 records, 1 in 50 at a million), never the reverse, and the answer
    only chooses which summary titles a session."""

    BITS = 1 << 23  # 1 MiB
    _MASK = BITS - 1

    def __init__(self) -> None:
        self._bloom = bytearray(self.BITS // 8)
        self._wanted: set[str] = set()
        self._found: set[str] = set()

    @staticmethod
    def _slots(uuid: str) -> tuple[int, int, int, int]:
        # Four positions from the string's own 64-bit hash (cached on the str; salted per
        # process, which is fine for a filter that lives as long as one parse), by double
        # hashing: low half plus i times high half.
        h = hash(uuid)
        a, b = h & 0xFFFFFFFF, (h >> 32) | 1
        m = OwnUuids._MASK
        return a & m, (a + b) & m, (a + 2 * b) & m, (a + 3 * b) & m

    def add(self, uuid: str) -> None:
        """A record of this transcript carries ``uuid`` (called once per record: unrolled)."""
        if uuid in self._wanted:
            self._found.add(uuid)
        h = hash(uuid)
        a, b, m, bloom = h & 0xFFFFFFFF, (h >> 32) | 1, self._MASK, self._bloom
        i = a & m
        bloom[i >> 3] |= 1 << (i & 7)
        i = (a + b) & m
        bloom[i >> 3] |= 1 << (i & 7)
        i = (a + 2 * b) & m
        bloom[i >> 3] |= 1 << (i & 7)
        i = (a + 3 * b) & m
        bloom[i >> 3] |= 1 << (i & 7)

    def want(self, leaf: str, kept: list[tuple[str | None, str]]) -> None:
        """A summary names ``leaf``; ``kept`` are the summaries still kept (the wanted
        leaves are cut back to theirs whenever they grow past twice as many)."""
        self._wanted.add(leaf)
        if len(self._wanted) > 2 * max(len(kept), 1000):
            self._wanted = {leaf for leaf, _ in kept if leaf}
            self._found &= self._wanted

    def __contains__(self, uuid: object) -> bool:
        if not isinstance(uuid, str):
            return False
        if uuid in self._found:
            return True
        bloom = self._bloom
        return all(bloom[i >> 3] & (1 << (i & 7)) for i in self._slots(uuid))


# Record types Claude Code writes that carry nothing termvault needs: they are understood,
# not warnings. Anything else is counted in parse_warnings.
_KNOWN_TYPES = frozenset(
    {
        "user",
        "assistant",
        "system",
        "summary",
        "custom-title",
        "ai-title",
        "last-prompt",
        "file-history-snapshot",
        "progress",
        "queue-operation",
        "attachment",
        "permission-mode",
        "mode",
        "agent-name",
        "worktree-state",
        "frame-link",
        "pr-link",
        "started",
        "result",
        "relocated",
        "bridge-session",
        "atis-latch",
        "tag",
    }
)


class ClaudeCodeSource(Source):
    """Claude Code session transcripts, archived as copies (Claude Code deletes old ones)."""

    kind = "claude-code"
    default_mode = "copy"
    description = "Claude Code transcripts (~/.claude/projects)"

    def default_roots(self) -> list[Path]:
        return [self.env_dir("CLAUDE_CONFIG_DIR", ".claude") / "projects"]

    # -- discovery ----------------------------------------------------------------------
    def discover(self) -> Iterator[SessionUnit]:
        used: set[str] = set()
        for root in self.roots:
            for (folder, name), paths in sorted(_group(root).items()):
                sid = _unique_id(name, folder, root, used)
                unit = make_unit(self.kind, sid, root, paths, project="/".join(folder))
                if unit is not None:
                    yield unit

    # -- parsing ------------------------------------------------------------------------
    def parse(self, files: Sequence[FileRef]) -> SessionInfo:
        """Metadata from the records. The name is the last custom title, else the AI title,
        else a summary of one of the transcript's own messages, else the first prompt.
        Counts cover the main conversation (one per prompt and per assistant reply);
        sub-agent turns are counted in ``extra``. Never raises on bad content."""
        state = _State()
        roles = _roles(files)
        has_main = any(role == "main" for _, role in roles)
        for ref, role in roles:
            if role in ("main", "side"):
                if role == "side":
                    state.subagents += 1
                # Without a main transcript (its folder outlived it), the sidechains are
                # all there is, so they provide the metadata.
                primary = role == "main" or not has_main
                for rec in read_jsonl(ref, state.warnings):
                    try:
                        state.feed(rec, primary, demote_sidechain=has_main)
                    except (RecursionError, TypeError, ValueError, AttributeError, KeyError):
                        state.warnings[0] += 1
            elif role == "meta":
                state.read_meta(ref)
            elif role == "tool-result":
                state.read_tool_result(ref)
        return state.info()

    def messages(self, files: Sequence[FileRef]) -> Iterator[Message]:
        """The conversation with each sub-agent run nested under the call that spawned it
        (see ``claude_conversation``); thinking kept; scaffolding as ``meta`` messages."""
        yield from conversation(_roles(files))

    def resumable(self, files: Sequence[FileRef]) -> Resumable | None:
        """A reader that parses the unit's records a part at a time (``Resumable``), for
        a unit that is one main transcript alone; None for any other layout."""
        roles = _roles(files)
        return Resumable() if len(roles) == 1 and roles[0][1] == "main" else None


class NotResumable(ValueError):
    """Records a ``Resumable`` cannot take: the whole unit must be read again."""


class Resumable(PartReader):
    """One pass over a single main transcript that can go on later: ``feed`` the records
    of a part of the file (the whole file, then what was appended), then ask for the
    metadata (``info``: what ``parse`` gives for everything fed so far) and the messages
    the part added (``take``: ``messages`` of everything fed so far, in pieces). Records
    and counts are kept as the whole parse keeps them; the messages handed out are not.
    An inline sidechain record (the old layout, whose runs are nested anywhere in the
    conversation) raises ``NotResumable``."""

    def __init__(self) -> None:
        self.state = _State()
        self.stream = MainStream()

    def feed(self, ref: FileRef) -> None:
        state, stream = self.state, self.stream
        for rec in read_jsonl(ref, state.warnings):
            if rec.get("isSidechain") is True:
                raise NotResumable("an inline sidechain")
            try:
                state.feed(rec, True, demote_sidechain=True)
            except (RecursionError, TypeError, ValueError, AttributeError, KeyError):
                state.warnings[0] += 1
            stream.feed(rec)

    def records(self, ref: FileRef, warnings: list[int]) -> Iterator[Any]:
        return read_jsonl(ref, warnings)

    def take(self) -> list[Message]:
        return self.stream.take()


# ---------------------------------------------------------------------------------------
# Discovery helpers
# ---------------------------------------------------------------------------------------


def _group(root: Path) -> dict[tuple[tuple[str, ...], str], list[Path]]:
    """Files under ``root`` grouped by (project folder parts, session name)."""
    rels = [(p, p.relative_to(root).parts) for p in walk(root)]
    stems: dict[tuple[str, ...], set[str]] = defaultdict(set)
    for _, parts in rels:
        if parts[-1].endswith(".jsonl"):
            stems[parts[:-1]].add(parts[-1][: -len(".jsonl")])

    sessions: dict[tuple[tuple[str, ...], str], list[Path]] = {}
    agents: list[tuple[tuple[str, ...], Path]] = []
    for path, parts in rels:
        owner = None
        # The outermost folder named like a session (it has a sibling <name>.jsonl, or is a
        # UUID) owns everything below it: subagents/, tool-results/ and whatever comes next.
        for k in range(len(parts) - 1):
            if parts[k] in stems.get(parts[:k], ()) or _UUID_RE.match(parts[k]):
                owner = (parts[:k], parts[k])
                break
        if owner is not None:
            sessions.setdefault(owner, []).append(path)
            continue
        name = parts[-1]
        if not name.endswith(".jsonl"):
            log.debug("claude-code: %s is not a session file; skipped", path)
            continue
        if name.startswith("agent-"):
            agents.append((parts[:-1], path))
        else:
            sessions.setdefault((parts[:-1], name[: -len(".jsonl")]), []).append(path)

    for folder, path in agents:
        sid = _agent_session_id(path)
        key = (folder, sid) if sid else None
        if key is not None and key in sessions:
            sessions[key].append(path)
        else:
            sessions.setdefault((folder, path.name[: -len(".jsonl")]), []).append(path)
    return sessions


def _agent_session_id(path: Path) -> str | None:
    """The ``sessionId`` of an old-layout ``agent-*.jsonl`` sidechain file.

    This is the one place discovery reads content: the first line only, at most 64 KB,
    because nothing in the file name says which session the sidechain belongs to.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(FIRST_LINE_LIMIT)
    except OSError:
        return None
    line = head.split(b"\n", 1)[0]
    if len(line) < len(head) or len(head) < FIRST_LINE_LIMIT:
        try:
            obj = loads(line)
        except (ValueError, RecursionError):
            obj = None
        if isinstance(obj, dict):
            return str_or_none(obj.get("sessionId"))
    match = _SESSION_ID_RE.search(line)
    return match.group(1).decode("utf-8", "replace") if match else None


def _unique_id(name: str, folder: tuple[str, ...], root: Path, used: set[str]) -> str:
    """Claude Code's own session id when it is safe and unused, else a stable derived one."""
    location = "/".join((*folder, name))
    try:
        sid = validate_id(name)
    except InvalidIdError:
        sid = "claude-code-" + hashlib.sha256(location.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    if sid in used:
        # The same session id in two project folders (or two roots): keep the first one's id
        # and qualify the others with where they live.
        where = f"{root}/{location}".encode("utf-8", "surrogateescape")
        base = f"{sid[:180]}-{hashlib.sha256(where).hexdigest()[:8]}"
        sid, n = base, 1
        while sid in used:
            n += 1
            sid = f"{base}-{n}"
    used.add(sid)
    return sid


# ---------------------------------------------------------------------------------------
# Parsing helpers
# ---------------------------------------------------------------------------------------


def _role(relpath: str) -> str:
    parts = PurePosixPath(relpath).parts
    name = parts[-1] if parts else ""
    if "tool-results" in parts[:-1]:
        return "tool-result"
    if name.endswith(".meta.json"):
        return "meta"
    if name.endswith(".jsonl"):
        return "side" if ("subagents" in parts[:-1] or name.startswith("agent-")) else "main"
    return "other"


_ORDER = {"main": 0, "side": 1, "meta": 2, "tool-result": 3, "other": 4}


def _roles(files: Sequence[FileRef]) -> list[tuple[FileRef, str]]:
    """Each file with its role, main transcript first. Only the shallowest transcripts
    are main: a ``.jsonl`` deeper in the session folder (a layout we do not know yet) is
    read as a sidechain rather than merged into the conversation."""
    roles = [(ref, _role(ref.relpath)) for ref in files]
    depths = [ref.relpath.count("/") for ref, role in roles if role == "main"]
    if depths:
        top = min(depths)
        roles = [(ref, "side" if role == "main" and ref.relpath.count("/") > top else role) for ref, role in roles]
    return sorted(roles, key=lambda item: (_ORDER[item[1]], item[0].relpath))


class _State:
    """What one pass over a unit's records has learned so far."""

    def __init__(self) -> None:
        self.warnings = [0]
        self.text = TextCollector()
        self.seq = 0
        self.cwd: str | None = None
        self.any_cwd: str | None = None
        self.branch: str | None = None
        self.version: str | None = None
        self.model: str | None = None
        self.models: list[str] = []
        self.first_ts: float | None = None
        self.last_ts: float | None = None
        self.messages = 0
        self.tool_calls = 0
        self.side_messages = 0
        self.side_tool_calls = 0
        self.subagents = 0
        self.subagent_types: list[str] = []
        self.first_prompt: str | None = None
        self.side_first_prompt: str | None = None
        self.last_prompt: str | None = None
        self.last_prompt_seq = -1
        self.recorded_last_prompt: str | None = None
        self.recorded_last_prompt_seq = -1
        self.custom_title: str | None = None
        self.ai_title: str | None = None
        self.summaries: list[tuple[str | None, str]] = []
        self.uuids = OwnUuids()
        self.last_message_id: Any = object()

    def feed(self, rec: dict[str, Any], primary_file: bool, demote_sidechain: bool = True) -> None:
        """Learn from one record. Sidechain records (sub-agent turns, inline in old main
        transcripts) count apart from the conversation unless ``demote_sidechain`` is off."""
        self.seq += 1
        kind = rec.get("type")
        primary = primary_file and not (demote_sidechain and rec.get("isSidechain") is True)
        ts = parse_time(rec.get("timestamp"))
        if ts is not None:
            self.first_ts = ts if self.first_ts is None else min(self.first_ts, ts)
            self.last_ts = ts if self.last_ts is None else max(self.last_ts, ts)
        uuid = rec.get("uuid")
        if isinstance(uuid, str):
            self.uuids.add(uuid)
        cwd = str_or_none(rec.get("cwd"))
        if cwd:
            self.any_cwd = self.any_cwd or cwd
            if primary_file and self.cwd is None:
                self.cwd = cwd
        if primary_file:
            self.branch = str_or_none(rec.get("gitBranch")) or self.branch
            self.version = str_or_none(rec.get("version")) or self.version

        if kind == "user":
            self._user(rec, primary)
        elif kind == "assistant":
            self._assistant(rec, primary)
        elif kind == "summary":
            summary = str_or_none(rec.get("summary"))
            if summary:
                self.summaries.append((str_or_none(rec.get("leafUuid")), summary))
                del self.summaries[:-_MAX_SUMMARIES]
                if self.summaries[-1][0]:
                    self.uuids.want(self.summaries[-1][0], self.summaries)
                self.text.add(summary)
        elif kind == "custom-title":
            self.custom_title = str_or_none(rec.get("customTitle")) or self.custom_title
        elif kind == "ai-title":
            self.ai_title = str_or_none(rec.get("aiTitle")) or self.ai_title
        elif kind == "last-prompt":
            last = str_or_none(rec.get("lastPrompt"))
            if last and primary_file:
                self.recorded_last_prompt, self.recorded_last_prompt_seq = last[:PROMPT_CAP], self.seq
        elif kind == "system":
            self.text.add(str_or_none(rec.get("content")), TOOL_OUTPUT_CAP)
        elif kind not in _KNOWN_TYPES:
            self.warnings[0] += 1

    def _user(self, rec: dict[str, Any], primary: bool) -> None:
        msg = rec.get("message")
        if not isinstance(msg, dict) or "content" not in msg:
            self.warnings[0] += 1
            return
        texts, results = _user_parts(msg["content"])
        for block in results:
            self.text.add(content_text(block.get("content")), TOOL_OUTPUT_CAP)
        text = "\n".join(texts)
        self.text.add(text)
        prompt = prompt_of(text, rec) if texts else None
        if prompt is None:
            return
        if not primary:
            self.side_messages += 1
            self.side_first_prompt = self.side_first_prompt or prompt
            return
        self.messages += 1
        self.first_prompt = self.first_prompt or prompt
        self.last_prompt, self.last_prompt_seq = prompt, self.seq

    def _assistant(self, rec: dict[str, Any], primary: bool) -> None:
        msg = rec.get("message")
        if not isinstance(msg, dict):
            self.warnings[0] += 1
            return
        model = str_or_none(msg.get("model"))
        if model and model != "<synthetic>":
            if primary or self.model is None:
                self.model = model
            if model not in self.models and len(self.models) < 20:
                self.models.append(model)
        content = msg.get("content")
        calls = 0
        if isinstance(content, str):
            self.text.add(content)
        elif isinstance(content, list):
            for block in content:
                if not isinstance(block, dict):
                    continue
                if block.get("type") == "text":
                    self.text.add(str_or_none(block.get("text")))
                elif block.get("type") == "tool_use":
                    calls += 1
                    self.text.add(str_or_none(block.get("name")))
                    self.text.add(content_text({"input": block.get("input")}), TOOL_OUTPUT_CAP)
        # Claude Code writes one record per content block of a streamed reply; the records
        # of one reply share message.id, and count as one message.
        mid = msg.get("id")
        new_message = mid is None or mid != self.last_message_id
        self.last_message_id = mid
        if primary:
            self.tool_calls += calls
            self.messages += int(new_message)
        else:
            self.side_tool_calls += calls
            self.side_messages += int(new_message)

    def read_meta(self, ref: FileRef) -> None:
        try:
            obj = json.loads(read_head(ref, FIRST_LINE_LIMIT))
        except (ValueError, RecursionError):
            self.warnings[0] += 1
            return
        agent_type = str_or_none(obj.get("agentType")) if isinstance(obj, dict) else None
        if agent_type and len(self.subagent_types) < 50:
            self.subagent_types.append(agent_type)

    def read_tool_result(self, ref: FileRef) -> None:
        self.text.add(read_head(ref, TOOL_OUTPUT_CAP), TOOL_OUTPUT_CAP)

    def _title(self) -> str:
        if self.custom_title:
            return first_line(self.custom_title)
        if self.ai_title:
            return first_line(self.ai_title)
        # A transcript also carries the summaries of the conversations it continued; only a
        # summary of one of its own messages describes it.
        own = [s for leaf, s in self.summaries if leaf in self.uuids]
        if own:
            return first_line(own[-1])
        prompt = self.first_prompt or self.side_first_prompt
        if prompt:
            return first_line(prompt)
        return first_line(self.summaries[-1][1]) if self.summaries else ""

    def info(self) -> SessionInfo:
        last = self.last_prompt
        if self.recorded_last_prompt and self.recorded_last_prompt_seq > self.last_prompt_seq:
            last = self.recorded_last_prompt
        extra: dict[str, Any] = {}
        if self.version:
            extra["version"] = clean_text(self.version)
        if len(self.models) > 1:
            extra["models"] = [clean_text(m) for m in self.models]
        if self.subagents:
            extra["subagents"] = self.subagents
        if self.subagent_types:
            extra["subagent_types"] = [clean_text(t) for t in self.subagent_types]
        if self.side_messages or self.side_tool_calls:
            extra["sidechain_message_count"] = self.side_messages
            extra["sidechain_tool_call_count"] = self.side_tool_calls
        return SessionInfo(
            name=clean_text(self._title()),
            working_directory=clean_text(self.cwd or self.any_cwd or ""),
            last_command=clean_text(last) if last else None,
            first_prompt=clean_text(self.first_prompt or self.side_first_prompt or "") or None,
            created_at=self.first_ts,
            last_activity_at=self.last_ts,
            git_branch=clean_text(self.branch) if self.branch else None,
            model=clean_text(self.model) if self.model else None,
            message_count=self.messages,
            tool_call_count=self.tool_calls,
            parse_warnings=self.warnings[0],
            text=clean_text(self.text.text()),
            extra=extra,
        )


__all__ = ["ClaudeCodeSource", "prompt_of"]
