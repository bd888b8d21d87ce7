"""Helpers for the command-line tests: native sessions on real disk, and two ways to run
``termvault``: click's in-process runner and a real ``python -m termvault`` subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from click.testing import CliRunner, Result

from termvault import SessionState
from termvault.cli import cli
from termvault.storage import SessionStorage

DAY = 86400.0

# Ids share a prefix on purpose ("3f2"), so prefixes can be ambiguous.
API = "3f2a9c41-7d0e-4b8a-9a51-0c6f3f1d2e11"
DB = "3f2b0d12-1111-4c2d-8e33-aa11bb22cc33"
BLOG = "9c8d7e6f-2222-4d4e-9f55-dd44ee55ff66"
FRESH = "c0ffee00-3333-4e5f-8a77-112233445566"


def make_native(home: Path, session_id: str, age_days: float, **fields) -> Path:
    """Save a native session whose last activity (modified_at and file mtime) was
    ``age_days`` ago; return its history file."""
    modified = time.time() - age_days * DAY
    state = SessionState(
        session_id=session_id,
        name=fields.pop("name", f"session {session_id[:8]}"),
        working_directory=fields.pop("working_directory", f"/home/me/{session_id[:8]}"),
        created_at=modified - 3600,
        modified_at=modified,
        command_count=fields.pop("command_count", 4),
        last_command=fields.pop("last_command", "make test"),
        output_snapshot=fields.pop("output_snapshot", f"output of {session_id}\n" * 40),
        **fields,
    )
    path = SessionStorage(home, enable_auto_archive=False).save_session(state)
    os.utime(path, (modified, modified))
    return path


@dataclass
class Demo:
    """A home with three old native sessions and one fresh one, before any sweep."""

    home: Path
    files: dict[str, Path] = field(default_factory=dict)
    originals: dict[str, bytes] = field(default_factory=dict)

    def sweep(self, older_than: float | None = None) -> None:
        from termvault import Vault

        with Vault(self.home) as vault:
            report = vault.sweep(older_than=older_than)
        assert not report.failed, report.failed


# -- running the command ----------------------------------------------------------------
def invoke(*args: str, input: str | bytes | None = None, env: dict[str, str] | None = None) -> Result:
    """Run ``termvault ARGS`` in process. Unexpected Python exceptions are re-raised so a
    crash never passes for an exit code."""
    # Output is not a terminal here; an inherited $COLUMNS would narrow the tables.
    result = CliRunner().invoke(cli, list(args), input=input, env={"COLUMNS": None, **(env or {})})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def run(
    *args: str, env: dict[str, str] | None = None, input: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    """Run ``python -m termvault ARGS`` as a real process (TERMVAULT_HOME and HOME come
    from the test's environment)."""
    full_env = dict(os.environ)
    full_env.pop("FORCE_COLOR", None)
    full_env.pop("COLUMNS", None)
    full_env.update(env or {})
    # stdin is not the test runner's terminal either: its width would reach the tables.
    return subprocess.run(
        [sys.executable, "-m", "termvault", *args],
        capture_output=True,
        text=True,
        env=full_env,
        input=input,
        timeout=timeout,
        **({} if input is not None else {"stdin": subprocess.DEVNULL}),
    )


def drain_pty(leader: int) -> bytes:
    """Everything written to a pseudo-terminal until the program on the other side has
    closed it (reading the leader then fails with EIO, or reads nothing)."""
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the other side is closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)
