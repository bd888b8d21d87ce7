"""Helpers for the agent-facing tests: a home built from the shared corpus plus one session
with planted secrets, and a real MCP client talking to ``termvault mcp`` over stdio."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import os
import sys
import tempfile
import threading
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ..sources.test_claude_code import assistant, claude_layout, record, user
from ..sources.test_codex import codex_layout
from ..test_redact import ANTHROPIC, AWS_SECRET, GITHUB_FINE, SLACK_BOT

SECRET_ID = "5ec7e700-1111-4a2b-9c3d-0123456789ab"
SECRET_FOLDER = "/home/dev/payments"
SECRETS = (ANTHROPIC, AWS_SECRET, GITHUB_FINE, SLACK_BOT)
# Enough of each secret that no redaction marker or neighbouring text could contain it.
SECRET_PIECES = tuple(s[4:24] for s in SECRETS)


def secret_transcript() -> str:
    """A Claude Code transcript whose prompt, reply, tool call and tool output each hold a
    credential, around the words "staging" and "rotate"."""
    common = {"sessionId": SECRET_ID, "cwd": SECRET_FOLDER}
    call = {
        "type": "tool_use",
        "id": "t1",
        "name": "Bash",
        "input": {"command": f"curl -H 'Authorization: Bearer {SLACK_BOT}' https://hooks.example/rotate"},
    }
    result = {"type": "tool_result", "tool_use_id": "t1", "content": f"GH={GITHUB_FINE}\nrotated ok\n"}
    lines = [
        user(
            f"deploy the payments service to staging with the key {ANTHROPIC} please",
            ts="2025-04-02T09:00:00Z",
            **common,
        ),
        assistant(
            [{"type": "text", "text": f"Set AWS_SECRET_ACCESS_KEY={AWS_SECRET} and deployed to staging."}, call],
            ts="2025-04-02T09:00:05Z",
            **common,
        ),
        record(type="user", timestamp="2025-04-02T09:00:09Z", message={"role": "user", "content": [result]}, **common),
        user("now rotate the staging credentials", ts="2025-04-02T09:01:00Z", **common),
        assistant(
            [{"type": "text", "text": "Rotated; the old staging key no longer works."}],
            ts="2025-04-02T09:01:05Z",
            mid="m2",
            **common,
        ),
    ]
    return "\n".join(lines) + "\n"


@dataclass
class CorpusHome:
    """A termvault home holding the Claude Code and Codex corpus (copy mode, so the agents'
    folders still hold their files) and the planted-secret session."""

    user_home: Path
    home: Path
    projects: Path
    secret_file: Path

    def env(self) -> dict[str, str]:
        return {"HOME": str(self.user_home), "TERMVAULT_HOME": str(self.home)}


def build_corpus_home(base: Path, corpus: Path) -> CorpusHome:
    from termvault import Vault

    user_home = base / "user"
    projects = user_home / ".claude" / "projects"
    claude_layout(corpus, projects)
    codex_layout(corpus, user_home / ".codex")
    secret_file = projects / "-home-dev-payments" / f"{SECRET_ID}.jsonl"
    secret_file.parent.mkdir(parents=True, exist_ok=True)
    secret_file.write_text(secret_transcript(), encoding="utf-8")
    home = user_home / ".multi-term"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(user_home))
        mp.setenv("TERMVAULT_HOME", str(home))
        mp.setenv("TERMVAULT_SETTLE_SECONDS", "0")  # the copies were written a moment ago
        with Vault(home) as vault:
            report = vault.sweep(older_than=0, kinds=["claude-code", "codex"])
    assert not report.failed, report.failed
    return CorpusHome(user_home, home, projects, secret_file)


# -- talking to the server ---------------------------------------------------------------
@contextlib.asynccontextmanager
async def mcp_session(env: dict[str, str], *options: str) -> AsyncIterator[Any]:
    """A ClientSession with ``python -m termvault mcp OPTIONS`` started as a real process."""
    from mcp import ClientSession, StdioServerParameters, stdio_client

    params = StdioServerParameters(command=sys.executable, args=["-m", "termvault", "mcp", *options], env=env)
    with tempfile.TemporaryFile("w+") as errlog:
        try:
            async with stdio_client(params, errlog=errlog) as (read, write):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    yield session
        except BaseException:
            errlog.seek(0)
            sys.stderr.write("termvault mcp stderr:\n" + errlog.read())
            raise


class McpClient:
    """A server started once and a client session to it, called synchronously: the session
    lives in one task on an event loop in a background thread (anyio wants a context to be
    left by the task that entered it), and each call is a coroutine sent to that loop."""

    def __init__(self, env: dict[str, str], *options: str, timeout: float = 120):
        self.timeout = timeout
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="mcp-client", daemon=True)
        self.thread.start()
        self.session: Any = None
        self._stop: asyncio.Event | None = None
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._task = asyncio.run_coroutine_threadsafe(self._hold(env, options, ready), self.loop)
        try:
            ready.result(timeout)
        except BaseException:
            self._task.cancel()
            self._shutdown()
            raise

    async def _hold(self, env: dict[str, str], options: tuple[str, ...], ready: concurrent.futures.Future) -> None:
        self._stop = asyncio.Event()
        try:
            async with mcp_session(env, *options) as session:
                self.session = session
                ready.set_result(None)
                await self._stop.wait()
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc)
            raise

    def _run(self, coro: Awaitable[Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(self.timeout)  # type: ignore[arg-type]

    def call(self, tool: str, arguments: dict[str, Any] | None = None) -> Any:
        return self._run(self.session.call_tool(tool, arguments or {}))

    def tools(self) -> list[Any]:
        return self._run(self.session.list_tools()).tools

    def close(self) -> None:
        if self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
            with contextlib.suppress(Exception):
                self._task.result(self.timeout)
        self._shutdown()

    def _shutdown(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(self.timeout)
        self.loop.close()

    def __enter__(self) -> McpClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def answer(result: Any) -> dict[str, Any]:
    """The structured answer of a successful tool call."""
    assert not result.is_error, result.content
    assert result.structured_content is not None
    # The text content a client without structured output shows is the same answer.
    assert json.loads(result.content[0].text) == result.structured_content
    return result.structured_content


def error_text(result: Any) -> str:
    assert result.is_error, result
    return " ".join(c.text for c in result.content)


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {os.path.relpath(p, root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
