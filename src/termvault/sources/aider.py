"""Aider chat histories: ``.aider.chat.history.md`` and ``.aider.input.history``.

Aider appends every run in a project to one Markdown file in the project folder: a run
starts with ``# aider chat started at <local date and time>``, user messages are lines
prefixed ``#### ``, aider's own notices are ``> `` lines and everything else is the
model's reply. ``.aider.input.history`` beside it logs each typed input under a
``# <timestamp>`` line, one ``+``-prefixed line per input line.

**One unit per project folder, not per run.** Restoring must put back the exact bytes of
the original file; a unit holding one run could not rebuild the file on its own (its
bytes interleave with the other runs, and the file keeps growing). So the unit is the
chat history plus the input history beside it (either may be missing), its id is
``aider-<folder name>-<hash of the folder path>`` (stable while the file grows, new
versions are archived in copy mode), and the run boundaries go into
``extra["runs"]`` (the first 500): for each run the line number of its header, its start
as written and as UNIX seconds; ``extra["run_count"]`` counts them all.

**Working directory.** ``parse`` only sees relative paths, so ``working_directory`` is the
project folder relative to the unit root (``code/app``; ``.`` for the root itself); the
facade, which knows the root, may join the two. Discovery also records the absolute
folder as ``unit.hints["working_directory"]``.

Other metadata: name and first_prompt from the first real prompt (slash commands such as
``/add`` are skipped; ``/ask``, ``/code`` and ``/architect`` count with their text),
last_command is the last thing typed in the chat, created_at is the first run's start and
last_activity_at the latest run start or input-history entry. Aider writes local times
without a zone; they are read in this machine's local time zone. model comes from the
``> Model:`` / ``> Main model:`` notices and tool_call_count counts applied edits.

Default root: the home folder, walked at most ``options["max_depth"]`` (6) folders deep,
skipping hidden folders (``options["include_hidden"]`` walks them) and bulky trees such as
``node_modules``, ``.git`` and virtual environments (``options["skip"]`` adds names).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from ..model import FileRef, SessionInfo, SessionUnit
from .base import (
    Candidate,
    Message,
    Source,
    TextCollector,
    clean_info,
    decode_text,
    first_line,
    line_runs,
    scan_folders,
    split_run,
    unique_units,
    unit_id,
)

CHAT_NAME = ".aider.chat.history.md"
INPUT_NAME = ".aider.input.history"
SKIP_DIRS = frozenset(
    [
        "node_modules",
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "venv",
        "__pycache__",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        "site-packages",
        "dist-packages",
        ".cache",
        ".npm",
        ".yarn",
        ".pnpm-store",
        ".cargo",
        ".rustup",
        ".gradle",
        ".m2",
        ".Trash",
        "Trash",
        "Library",
        "snap",
        ".multi-term",
        "target",
    ]
)
MAX_RUNS_KEPT = 500
PARSE_BLOCK_CAP = 64 * 1024
RENDER_BLOCK_CAP = 1024 * 1024
_RUN = re.compile(r"^# aider chat started at (.+?)\s*$")
_MODEL = re.compile(r"^(?:Main model|Model): (\S+)")
_PROMPT_COMMANDS = {"/ask", "/code", "/architect", "/context", "/agent"}


def _local_time(text: str) -> float | None:
    """A naive ``YYYY-MM-DD HH:MM:SS[.ffffff]`` read in local time (as aider wrote it)."""
    try:
        return datetime.fromisoformat(text.strip()).timestamp()
    except (ValueError, OverflowError, OSError):
        return None


def _lines(ref: FileRef, warnings: list[int]) -> Iterator[tuple[int, str]]:
    """``(number, text)`` of each line of ``ref``; a line too long to read or not UTF-8
    counts a warning (the second is decoded leniently, the first skipped)."""
    lineno = 0
    for run in line_runs(ref):
        if run is None:
            lineno += 1
            warnings[0] += 1
            continue
        try:
            # A run that decodes decodes line by line (a newline ends no UTF-8 sequence).
            parts = run.decode("utf-8").split("\n")
        except UnicodeDecodeError:
            for raw in split_run(run):
                lineno += 1
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError:
                    warnings[0] += 1
                    line = decode_text(raw)
                yield lineno, line.rstrip("\r\n")
            continue
        if not parts[-1]:
            parts.pop()  # what follows the last newline: nothing
        for line in parts:
            lineno += 1
            yield lineno, line.rstrip("\r")


Block = tuple[str, str, "float | None", int]


def _blocks(ref: FileRef, warnings: list[int], cap: int) -> Iterator[Block]:
    """``(role, text, run start, first line number)`` for each message of a chat history,
    in order; ``role`` is user, assistant, system or run (a run header, whose text is its
    date as written)."""
    role: str | None = None
    lines: list[str] = []
    size = 0
    started: float | None = None
    first = 0

    def flush() -> Iterator[Block]:
        text = "\n".join(lines).strip("\n")
        if role and text.strip():
            yield role, text, started, first

    try:
        for lineno, line in _lines(ref, warnings):
            lead = line[:1]  # most lines are the reply's: one test tells them apart
            m = _RUN.match(line) if lead == "#" and line.startswith("# aider chat started at ") else None
            if m:
                yield from flush()
                role, lines, size = None, [], 0
                started = _local_time(m.group(1))
                if started is None:
                    warnings[0] += 1
                yield "run", m.group(1), started, lineno
                continue
            if lead == "#" and (line == "####" or line.startswith("#### ")):
                kind, body = "user", line[5:].rstrip()
            elif lead == ">" and (line == ">" or line.startswith("> ")):
                kind, body = "system", line[2:].rstrip()
            elif role != "assistant" and not line.strip():
                # Aider writes a blank line after each user or notice block.
                yield from flush()
                role, lines, size = None, [], 0
                continue
            else:
                kind, body = "assistant", line
            if kind != role:
                yield from flush()
                role, lines, size, first = kind, [], 0, lineno
            if size < cap:
                lines.append(body[: cap - size])
                size += len(body) + 1
        yield from flush()
    except OSError:
        warnings[0] += 1


def _inputs(ref: FileRef, warnings: list[int]) -> Iterator[tuple[float | None, str]]:
    """``(time, text)`` of each entry of an ``.aider.input.history``."""
    when: float | None = None
    lines: list[str] = []
    try:
        for _, line in _lines(ref, warnings):
            if line.startswith("# "):
                if lines:
                    yield when, "\n".join(lines)
                lines = []
                when = _local_time(line[2:])
                if when is None:
                    warnings[0] += 1
            elif line.startswith("+"):
                if len(lines) < 1000:
                    lines.append(line[1:])
            elif line.strip():
                warnings[0] += 1
        if lines:
            yield when, "\n".join(lines)
    except OSError:
        warnings[0] += 1


def _prompt(message: str) -> str | None:
    """The prompt a user message carries, or None for a command such as ``/add x``."""
    text = message.strip()
    if not text.startswith("/"):
        return text or None
    command, _, rest = text.partition(" ")
    return rest.strip() or None if command in _PROMPT_COMMANDS else None


def _is_history(entry: os.DirEntry[str]) -> bool:
    """An aider history file (regular, not a link); False when it cannot be examined."""
    try:
        return entry.name in (CHAT_NAME, INPUT_NAME) and entry.is_file(follow_symlinks=False)
    except OSError:
        return False


def _split(files: Sequence[FileRef]) -> tuple[FileRef | None, FileRef | None]:
    chat = inputs = None
    for ref in files:
        name = PurePosixPath(ref.relpath).name
        if name == INPUT_NAME or (inputs is None and name.endswith(".input.history")):
            inputs = ref
        elif chat is None:
            chat = ref
    return chat, inputs


class AiderSource(Source):
    """Aider chat histories under project folders: one unit per folder."""

    kind = "aider"
    default_mode = "copy"
    description = "Aider chat histories (.aider.chat.history.md and .aider.input.history)"

    auto_detect = False  # the default root is the whole home: swept only when configured
    option_names = frozenset({"max_depth", "skip", "include_hidden"})

    def default_roots(self) -> list[Path]:
        return [self.home_path()]

    def _walk(self, root: Path) -> Iterator[Path]:
        """Folders under ``root`` (itself included) holding an aider file, pruned."""
        depth_limit = self.options.get("max_depth", 6)
        depth_limit = depth_limit if isinstance(depth_limit, int) and depth_limit >= 0 else 6
        skip = SKIP_DIRS | set(self.options.get("skip") or ())
        hidden = bool(self.options.get("include_hidden", False))

        def enter(entry: os.DirEntry[str]) -> bool:
            return entry.name not in skip and (hidden or not entry.name.startswith("."))

        for folder, entries in scan_folders(root, depth_limit, enter):
            if any(_is_history(entry) for entry in entries):
                yield folder

    def discover(self) -> Iterator[SessionUnit]:
        candidates = (
            Candidate(
                root,
                unit_id(self.kind, folder.name, folder),
                [folder / CHAT_NAME, folder / INPUT_NAME],
                {"working_directory": str(folder)},
            )
            for root in self.roots
            for folder in self._walk(root)
        )
        yield from unique_units(self.kind, candidates)

    def parse(self, files: Sequence[FileRef]) -> SessionInfo:
        info = SessionInfo()
        text = TextCollector()
        warnings = [0]
        chat, inputs = _split(files)
        runs: list[dict[str, Any]] = []
        run_count = 0
        last_user: str | None = None
        first_prompt: str | None = None
        first_run: float | None = None
        earliest: float | None = None  # of every run start and input time
        latest: float | None = None

        def seen(when: float | None) -> None:
            nonlocal earliest, latest
            if when is not None:
                earliest = when if earliest is None else min(earliest, when)
                latest = when if latest is None else max(latest, when)

        if chat is not None:
            for role, body, started, lineno in _blocks(chat, warnings, PARSE_BLOCK_CAP):
                if role == "run":
                    run_count += 1
                    seen(started)
                    if first_run is None:
                        first_run = started
                    if len(runs) < MAX_RUNS_KEPT:
                        runs.append({"line": lineno, "started": body, "started_at": started})
                    continue
                text.add(body)
                if role == "user":
                    info.message_count += 1
                    last_user = body.strip()[:2000]
                    if first_prompt is None:
                        first_prompt = _prompt(body)
                elif role == "assistant":
                    info.message_count += 1
                else:
                    for notice in body.splitlines():
                        m = _MODEL.match(notice)
                        if m:
                            info.model = m.group(1)
                        elif notice.startswith("Applied edit to "):
                            info.tool_call_count += 1
        entries = 0
        if inputs is not None:
            for when, entry in _inputs(inputs, warnings):
                entries += 1
                seen(when)
                if chat is None:  # the typed inputs are all there is to search
                    text.add(entry)
                    last_user = entry.strip()[:2000]
                    first_prompt = first_prompt or _prompt(entry)
        info.first_prompt = first_prompt[:2000] if first_prompt else None
        info.last_command = last_user or None
        anchor = chat or inputs
        info.name = first_line(info.first_prompt) or (
            PurePosixPath(anchor.relpath).parent.name if anchor is not None else ""
        )
        if anchor is not None:
            info.working_directory = PurePosixPath(anchor.relpath).parent.as_posix()
        info.created_at = first_run if first_run is not None else earliest
        info.last_activity_at = latest
        info.parse_warnings = warnings[0]
        info.text = text.text()
        info.extra = {"run_count": run_count, "runs": runs}
        if inputs is not None:
            info.extra["input_entries"] = entries
        return clean_info(info)

    def messages(self, files: Sequence[FileRef]) -> Iterator[Message]:
        """Each run starts with a ``marker`` message; then user, assistant and aider's
        notices (``system``) in order, stamped with their run's start. Without a chat
        history the input history's entries are shown as user messages."""
        chat, inputs = _split(files)
        warnings = [0]
        if chat is not None:
            for role, body, started, _ in _blocks(chat, warnings, RENDER_BLOCK_CAP):
                if role == "run":
                    yield Message("marker", f"aider chat started at {body}", started, name="run")
                else:
                    yield Message(role, body, started, name="aider" if role == "system" else None)
        elif inputs is not None:
            for when, entry in _inputs(inputs, warnings):
                yield Message("user", entry, when)


__all__ = ["AiderSource"]
