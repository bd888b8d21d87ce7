"""Resuming an archived session in the agent that recorded it.

``prepare(vault, id)`` makes the session available to its agent again and says how to
start it: when the session's own transcript is gone from where the agent keeps it, the
archive is restored there (``Vault.restore``: verified by sha256, never over a different
existing file); a transcript still in place is left alone, whatever it holds, since it is
the agent's live copy. ``run(plan)`` then starts the agent's own resume command in the
session's working folder:

- Claude Code: ``claude --resume <session id>`` (Claude Code finds a session by the folder
  it was recorded in, so the folder matters);
- Codex CLI: ``codex resume <session id>`` (the UUID in the rollout's name);
- Gemini CLI: ``gemini --resume <session id>`` (the full UUID recorded in the session).

Other kinds (native terminal history, aider, asciinema, agent logs) have no resume
command; ``NoResumeError`` says so.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from ..errors import NotFoundError, UsageError

if TYPE_CHECKING:
    from ..archive import Manifest, ManifestFile
    from ..index import ArchiveEntry
    from ..vault import Vault

_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_CODEX_ROLLOUT = re.compile(rf"^rollout-.*?({_UUID})\.jsonl(?:\.zst)?$")
_GEMINI_SESSION = re.compile(r"^session-.*\.jsonl?$")
# What an agent's session id may look like on its command line: never an option
# (``--dangerously-skip-permissions.jsonl`` is a file name a folder can hold).
_AGENT_ID = re.compile(r"[A-Za-z0-9][\w.-]{0,199}")


class NoResumeError(UsageError):
    """The session's tool has no way to resume it (or termvault cannot tell which id)."""


@dataclass
class ResumePlan:
    """What ``prepare`` did and what ``run`` will start."""

    session_id: str  # termvault's id
    source: str
    agent_session_id: str  # the id the agent knows it by
    argv: list[str]
    cwd: str
    restored: list[str] = field(default_factory=list)  # files put back by this call
    transcript: str = ""  # where the agent reads the session

    def shell_command(self) -> str:
        """The command as one shell line: ``cd FOLDER && AGENT ...``."""
        return f"cd {shlex.quote(self.cwd)} && {shlex.join(self.argv)}"


@dataclass(frozen=True)
class _Agent:
    program: str
    label: str
    argv: Callable[[str], list[str]]
    transcript: Callable[[Manifest], ManifestFile | None]
    session_id: Callable[[ArchiveEntry, ManifestFile], str | None]


def _claude_transcript(m: Manifest) -> ManifestFile | None:
    for f in m.files:
        p = PurePosixPath(f.path)
        if p.suffix == ".jsonl" and "subagents" not in p.parts[:-1] and not p.name.startswith("agent-"):
            return f
    return None


def _codex_transcript(m: Manifest) -> ManifestFile | None:
    return next((f for f in m.files if _CODEX_ROLLOUT.match(PurePosixPath(f.path).name)), None)


def _codex_id(f: ManifestFile) -> str:
    """The session id in a rollout's name (``_codex_transcript`` picked a matching one)."""
    found = _CODEX_ROLLOUT.match(PurePosixPath(f.path).name)
    if found is None:
        raise ValueError(f"{f.path} is not a Codex rollout.")
    return found.group(1).lower()


def _gemini_transcript(m: Manifest) -> ManifestFile | None:
    return next((f for f in m.files if _GEMINI_SESSION.match(PurePosixPath(f.path).name)), None)


def _gemini_id(entry: ArchiveEntry, f: ManifestFile) -> str | None:
    extra = (entry.meta or {}).get("extra")
    sid = extra.get("session_id") if isinstance(extra, dict) else None
    return sid if isinstance(sid, str) else None


AGENTS: dict[str, _Agent] = {
    "claude-code": _Agent(
        "claude",
        "Claude Code",
        lambda sid: ["claude", "--resume", sid],
        _claude_transcript,
        lambda entry, f: PurePosixPath(f.path).name[: -len(".jsonl")],
    ),
    "codex": _Agent(
        "codex",
        "Codex CLI",
        lambda sid: ["codex", "resume", sid],
        _codex_transcript,
        lambda entry, f: _codex_id(f),
    ),
    "gemini": _Agent(
        "gemini",
        "Gemini CLI",
        lambda sid: ["gemini", "--resume", sid],
        _gemini_transcript,
        _gemini_id,
    ),
}


def prepare(vault: Vault, session_id: str, restore: bool = True) -> ResumePlan:
    """The plan to resume the newest version of ``session_id``, its transcript first put
    back where the agent looks if it is missing there (unless ``restore`` is False).
    NoResumeError for a kind without resume; ConflictError (nothing written) when a file
    of the session that would be restored exists and differs."""
    entry = vault.get(session_id)
    agent = AGENTS.get(entry.source)
    if agent is None:
        supported = ", ".join(sorted(AGENTS))
        raise NoResumeError(
            f"{entry.session_id} is {'an' if entry.source[:1] in 'aeiou' else 'a'} {entry.source} session, and {entry.source} has no resume command "
            f"(resume works for {supported}); read it with `termvault export {entry.session_id} --format markdown`."
        )
    manifest = vault.manifest(entry.session_id, entry.version)
    transcript = agent.transcript(manifest)
    agent_id = agent.session_id(entry, transcript) if transcript is not None else None
    if transcript is None or not agent_id or not _AGENT_ID.fullmatch(agent_id):
        raise NoResumeError(
            f"The archive of {entry.session_id} does not say which {agent.label} session it is, "
            "so it cannot be resumed."
        )
    cwd = entry.working_directory or ""
    if not cwd:
        raise NoResumeError(
            f"{entry.session_id} has no recorded working folder, and {agent.label} resumes a session "
            "in the folder it was recorded in."
        )
    plan = ResumePlan(entry.session_id, entry.source, agent_id, agent.argv(agent_id), cwd, transcript=transcript.origin)
    if restore and not os.path.lexists(transcript.origin):
        result = vault.restore(entry.session_id, entry.version)
        plan.restored = list(result.restored)
    return plan


def run(plan: ResumePlan, env: dict[str, Any] | None = None) -> int:
    """Start the agent in the session's folder, wait for it, and return its exit status.
    NotFoundError when the folder or the agent's program is missing."""
    if not os.path.isdir(plan.cwd):
        raise NotFoundError(
            f"The folder {plan.cwd} of {plan.session_id} does not exist here; create it (or check it out) "
            f"and run: {plan.shell_command()}"
        )
    program = shutil.which(plan.argv[0], path=(env or os.environ).get("PATH"))
    if program is None:
        raise NotFoundError(
            f"{plan.argv[0]} is not on PATH; install it, or run this where it is: {plan.shell_command()}"
        )
    proc = subprocess.Popen([program, *plan.argv[1:]], cwd=plan.cwd, env=env)
    # Ctrl-C belongs to the agent (it shares the terminal): termvault just waits for it.
    previous = None
    with contextlib.suppress(ValueError):  # not the main thread: leave signals alone
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        return proc.wait()
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


__all__ = ["AGENTS", "NoResumeError", "ResumePlan", "prepare", "run"]
