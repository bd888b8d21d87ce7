"""The multi-terminal app's own sessions: ``<home>/history/{ts}_{id}.json`` (mode move).

A session's ``conversation_file`` (e.g. a Claude Code transcript it points to) is archived
in the same unit and restored with it, under ``_conversation/<name>``.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..ansi import printable, strip_ansi
from ..errors import InvalidIdError
from ..fsutil import validate_id
from ..model import FileRef, SessionInfo, SessionUnit
from ..state import SessionState
from ..streams import Reader
from .base import (
    Message,
    Source,
    TextCollector,
    decode_text,
    make_unit,
    read_head,
    stat_file,
)
from .claude_code import ClaudeCodeSource
from .codex import CodexSource
from .gemini import GeminiSource

log = logging.getLogger(__name__)

HISTORY_NAME = re.compile(r"^(\d+(?:\.\d+)?)_(.+)\.json$")
MAX_NATIVE_BYTES = 64 * 1024 * 1024  # larger native files are archived raw, not parsed
CONVERSATION_DIR = "_conversation"


class NativeSource(Source):
    kind = "native"
    default_mode = "move"
    description = "the multi-terminal app's history/*.json sessions"
    # The app replaces these files atomically (temporary file, rename): a file is whole
    # the moment it appears, and its age is the session's own modified_at.
    settles = False

    def default_roots(self) -> list[Path]:
        return [self.home / "history"]

    def discover(self) -> Iterator[SessionUnit]:
        for root in self.roots:
            if not root.is_dir():
                continue
            for entry in sorted(os.scandir(root), key=lambda e: e.name):
                m = HISTORY_NAME.match(entry.name)
                if not m or not entry.is_file(follow_symlinks=False):
                    continue
                try:
                    session_id = validate_id(m.group(2))
                except InvalidIdError as exc:
                    # Said at each sweep, not silently passed over: the file stays where it is.
                    shown = printable(os.fsencode(entry.path).decode("utf-8", "replace"))  # names need not be UTF-8
                    log.warning("%s is not archived: %s Rename it to archive it.", shown, exc)
                    continue
                unit = make_unit(self.kind, session_id, root, [Path(entry.path)], stamp=float(m.group(1)))
                if unit is None:
                    continue
                self._attach_conversation(unit)
                yield unit

    def _attach_conversation(self, unit: SessionUnit) -> None:
        """Add the transcript the session points to (reads the small JSON; skipped if huge)."""
        main = unit.files[0]
        if main.size > MAX_NATIVE_BYTES:
            return
        try:
            with open(main.origin, "rb") as fh:
                data = json.loads(fh.read(main.size))
        except (OSError, ValueError, RecursionError):
            return
        conv = data.get("conversation_file") if isinstance(data, dict) else None
        if not isinstance(conv, str) or not conv:
            return
        path = Path(os.path.expanduser(conv))
        if not path.is_absolute():
            return
        uf = stat_file(path, f"{CONVERSATION_DIR}/{path.name}")
        if uf is not None and uf.relpath != main.relpath:
            # An attachment: the session's own file decides when it is due, not the
            # transcript's mtime (another tool may touch it).
            unit.files.append(uf)

    def parse(self, files: Sequence[FileRef]) -> SessionInfo:
        info = SessionInfo()
        main = next((f for f in files if not f.relpath.startswith(CONVERSATION_DIR + "/")), None)
        if main is None:
            info.parse_warnings += 1
            return info
        m = HISTORY_NAME.match(main.relpath.rsplit("/", 1)[-1])
        if m:
            info.last_activity_at = float(m.group(1))
        if main.size > MAX_NATIVE_BYTES:
            info.parse_warnings += 1
            return info
        with main.open() as fh:
            raw = fh.read()
        try:
            data = json.loads(raw)
            state = SessionState.from_dict(data, main.relpath)
        except Exception:
            info.parse_warnings += 1
            info.text = decode_text(raw[: 1024 * 1024])
            return info
        info.name = state.name or state.session_id
        info.working_directory = state.working_directory or ""
        info.last_command = state.last_command
        # SessionState makes up "now" for a missing time: keep the file name's instead.
        info.created_at = state.created_at if "created_at" in data else None
        if "modified_at" in data or not m:
            info.last_activity_at = state.modified_at
        info.message_count = state.command_count
        # Only what differs from the app's defaults (a smaller manifest for a small unit).
        info.extra = {
            k: v for k, v in (("is_active", state.is_active), ("conversation_file", state.conversation_file)) if v
        }
        text = TextCollector()
        text.add(state.name)
        text.add(state.working_directory)
        text.add(state.last_command)
        # Searchable text: the snapshot's lines as a terminal showed them (no escape codes).
        text.add(strip_ansi(state.output_text))
        info.text = text.text()
        return info

    def messages(self, files: Sequence[FileRef]) -> Iterator[Message]:
        """The session's ``conversation_file`` rendered as its conversation (by the source
        that knows its format), then the terminal's last command and output."""
        for ref in sorted(files, key=lambda f: not f.relpath.startswith(CONVERSATION_DIR + "/")):
            if ref.relpath.startswith(CONVERSATION_DIR + "/"):
                yield from self._conversation(ref)
                continue
            with ref.open() as fh:
                raw = fh.read(MAX_NATIVE_BYTES)
            try:
                state = SessionState.from_json(raw, ref.relpath)
            except Exception:
                yield Message("output", decode_text(raw))
                continue
            if state.last_command:
                yield Message("input", state.last_command, timestamp=state.modified_at)
            if state.output_snapshot:
                # The app keeps the snapshot as a list of lines: shown as the lines it was.
                yield Message(
                    "output",
                    state.output_text,
                    timestamp=state.modified_at,
                    extra={"lines": len(state.output_snapshot)},
                )

    def _conversation(self, ref: FileRef) -> Iterator[Message]:
        name = ref.relpath.split("/", 1)[1]
        source = _conversation_source(ref, self.home)
        yield Message("marker", f"{name} ({ref.size:,} bytes)", name="conversation file")
        if source is None:
            yield Message("system", f"The conversation file {name} is in a format termvault does not read.")
            return
        yield from source.messages([_Renamed(ref, name)])


def _snapshot_text(snapshot: object) -> str:
    """The terminal output snapshot as text: a string, or a list of lines."""
    if isinstance(snapshot, str):
        return snapshot
    if isinstance(snapshot, list):
        return "\n".join(line if isinstance(line, str) else str(line) for line in snapshot)
    return ""


@dataclass
class _Renamed:
    """A FileRef under another relative path (the name a conversation's own source expects)."""

    inner: FileRef
    relpath: str

    @property
    def size(self) -> int:
        return self.inner.size

    def open(self) -> Reader:
        return self.inner.open()


def _conversation_source(ref: FileRef, home: Path) -> Source | None:
    """The source that reads a conversation file, judged from its first record: Claude Code
    transcripts, Codex rollouts (JSON Lines) or Gemini CLI sessions (JSON)."""
    head = read_head(ref, 64 * 1024).lstrip()
    name = ref.relpath.rsplit("/", 1)[-1]
    if (name.endswith(".json") or head.startswith(("{\n", '{"sessionId"'))) and (
        '"messages"' in head or name.startswith("session-")
    ):
        return GeminiSource(home=home)
    first = head.split("\n", 1)[0]
    if '"payload"' in first or '"session_meta"' in first or name.startswith("rollout-"):
        return CodexSource(home=home)
    if name.endswith(".jsonl"):
        return ClaudeCodeSource(home=home)
    return None
