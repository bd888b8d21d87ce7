"""A fixed archive for the browser tests: native sessions and one Claude Code
conversation with timestamps in early 2024, archived for real, and a frozen clock."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from termvault import SessionArchiver, SessionState, SessionStorage

NOW = 1711972800.0  # 2024-04-01 12:00 UTC: "now" for every relative date shown
DAY = 86400.0
CLAUDE_ID = "5f0c1e2a-9b7d-4c3e-8a61-2d4f6b8e0c19"


def _clock() -> float:
    return NOW


def _output(lines: list[str], repeat: int) -> str:
    return "\n".join(lines * repeat) + "\n"


NATIVE = [
    SessionState(
        "api-debug",
        name="api debugging",
        working_directory="/home/dev/projects/api",
        created_at=NOW - 4 * DAY - 3600,
        modified_at=NOW - 4 * DAY,
        command_count=14,
        last_command="pytest -x tests/test_auth.py",
        output_snapshot=_output(
            [
                "\x1b[1m============ test session starts ============\x1b[0m",
                "collected 42 items",
                "tests/test_auth.py ........F",
                "\x1b[31mFAILED tests/test_auth.py::test_token_refresh - KeyError: 'exp'\x1b[0m",
            ],
            6,
        ),
    ),
    SessionState(
        "deploy-staging",
        name="deploy staging",
        working_directory="/home/dev/projects/api",
        created_at=NOW - 12 * DAY - 7200,
        modified_at=NOW - 12 * DAY,
        command_count=6,
        last_command="kubectl rollout status deploy/web",
        output_snapshot=_output(['Waiting for deployment "web" rollout to finish: 2 of 3 updated...'], 20),
    ),
    SessionState(
        "notes-weekly",
        name="weekly notes",
        working_directory="/home/dev/notes",
        created_at=NOW - 47 * DAY - 600,
        modified_at=NOW - 47 * DAY,
        command_count=3,
        last_command="vim 2024-02-14.md",
        output_snapshot=_output(["- review the release plan"], 30),
    ),
    SessionState(
        "release-21",
        name="release v2.1",
        working_directory="/home/dev/projects/webapp",
        created_at=NOW - 87 * DAY - 900,
        modified_at=NOW - 87 * DAY,
        command_count=22,
        last_command="git tag -s v2.1.0",
        output_snapshot=_output(["[main 4f2a9c1] Release v2.1.0"], 25),
    ),
    SessionState(
        "db-migrate",
        name="database migration",
        working_directory="/srv/db",
        created_at=NOW - 122 * DAY - 1800,
        modified_at=NOW - 122 * DAY,
        command_count=9,
        last_command="alembic upgrade head",
        output_snapshot=_output(["INFO  [alembic.runtime.migration] Running upgrade 1a2b -> 3c4d"], 15),
    ),
]


def _claude_records() -> list[dict]:
    t0 = NOW - 7 * DAY

    def at(seconds: float) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0 + seconds))

    base = {"sessionId": CLAUDE_ID, "cwd": "/home/dev/projects/webapp", "version": "1.0.0"}
    return [
        {
            **base,
            "type": "user",
            "uuid": "u1",
            "timestamp": at(0),
            "message": {"role": "user", "content": "Why does the login form reset when I submit it?"},
        },
        {
            **base,
            "type": "assistant",
            "uuid": "a1",
            "timestamp": at(5),
            "message": {
                "role": "assistant",
                "model": "claude-sonnet-4",
                "content": [
                    {"type": "text", "text": "Let me read the form handler first."},
                    {"type": "tool_use", "id": "t1", "name": "Read", "input": {"file_path": "src/login.tsx"}},
                ],
            },
        },
        {
            **base,
            "type": "user",
            "uuid": "u2",
            "timestamp": at(6),
            "message": {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "t1",
                        "content": "export function Login() {\n  const onSubmit = (e) => save(e.target);\n  return <form onSubmit={onSubmit}/>;\n}",
                    },
                ],
            },
        },
        {
            **base,
            "type": "assistant",
            "uuid": "a2",
            "timestamp": at(20),
            "message": {
                "role": "assistant",
                "model": "claude-sonnet-4",
                "content": [
                    {
                        "type": "text",
                        "text": "The submit handler never calls e.preventDefault(), so the browser "
                        "reloads the page and the form resets. Call it first in onSubmit.",
                    },
                ],
            },
        },
    ]


def build_archive(home: Path, user_home: Path) -> SessionArchiver:
    """Save the native sessions with old mtimes, write the Claude Code transcript, and
    archive everything through the real sweep. Returns an open archiver."""
    storage = SessionStorage(home, enable_auto_archive=False)
    for state in NATIVE:
        path = storage.save_session(state)
        os.utime(path, (state.modified_at, state.modified_at))
    storage.close()

    project = user_home / ".claude" / "projects" / "-home-dev-projects-webapp"
    project.mkdir(parents=True)
    transcript = project / f"{CLAUDE_ID}.jsonl"
    transcript.write_text("".join(json.dumps(r) + "\n" for r in _claude_records()), encoding="utf-8")
    stamp = NOW - 7 * DAY + 20
    os.utime(transcript, (stamp, stamp))

    archiver = SessionArchiver(home, archive_days=7)
    result = archiver.auto_archive_old_sessions()
    assert result["archived_count"] == len(NATIVE), result
    report = archiver.vault.sweep(kinds=["claude-code"])
    assert len(report.archived) == 1, report.to_dict()
    return archiver


def freeze_archive_details(archiver: SessionArchiver) -> None:
    """Pin the two things a real archive run cannot make repeatable, for pictures only:
    when it ran (archived_at) and the compressed size, which varies by a few bytes with
    the temporary folder's path written into each archive's manifest."""
    with archiver.index.transaction():
        db = archiver.index.db  # tests set up rows directly
        db.execute("UPDATE sessions SET archived_at = ?, archive_size = original_size * 3 / 10", (NOW - 3600,))


@pytest.fixture(autouse=True)
def utc(utc_local_time):
    """Local time is UTC, so the dates shown do not depend on the machine."""


@pytest.fixture
def archiver(home, user_home):
    archiver = build_archive(home, user_home)
    yield archiver
    archiver.close()


@pytest.fixture
def clock() -> Callable[[], float]:
    return _clock
