"""Shared fixtures: every test runs against a temporary home and a temporary $HOME, so no
test can touch a real ~/.multi-term, ~/.claude or ~/.codex."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def corpus_root() -> Path:
    return Path(os.environ.get("TERMVAULT_CORPUS", REPO_ROOT.parent / "shared" / "corpus"))


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory, monkeypatch):
    """Point TERMVAULT_HOME, HOME and the agent tools' own variables at empty folders."""
    base = tmp_path_factory.mktemp("env")
    user_home = base / "user"
    user_home.mkdir()
    monkeypatch.setenv("HOME", str(user_home))
    monkeypatch.setenv("TERMVAULT_HOME", str(user_home / ".multi-term"))
    for var in list(os.environ):
        if var.startswith("TERMVAULT_") and var != "TERMVAULT_HOME" and var != "TERMVAULT_CORPUS":
            monkeypatch.delenv(var, raising=False)
    for var in (
        "CLAUDE_CONFIG_DIR",
        "CODEX_HOME",
        "GEMINI_DIR",
        "XDG_CONFIG_HOME",
        "XDG_DATA_HOME",
        "AGENTMUX_DATA_DIR",
        "AGENTMUX_DATA_HOME",
        "AGENTMUX_HOME_OVERRIDE",
        "AGENTMUX_SHARED_DIR",
        "AGENTMUX_CHANNEL",
        "WAVETERM_HOME",
        "WAVETERM_DATA_HOME",
        "WAVETERM_CONFIG_HOME",
    ):
        monkeypatch.delenv(var, raising=False)
    return user_home


@pytest.fixture
def user_home(isolated_env) -> Path:
    """The fake $HOME of this test (tools' folders such as ~/.claude go here)."""
    return isolated_env


@pytest.fixture
def home(isolated_env) -> Path:
    """The termvault home of this test (not created yet)."""
    return isolated_env / ".multi-term"


@pytest.fixture
def corpus() -> Path:
    """The shared sample corpus; tests that need it skip with a reason when it is absent."""
    return require_corpus()


def require_corpus() -> Path:
    """The shared sample corpus, or a skip saying where it was looked for (for fixtures
    wider than a function, which cannot use ``corpus``)."""
    root = corpus_root()
    if not root.is_dir():
        pytest.skip(f"the shared session corpus is not present at {root} (set TERMVAULT_CORPUS)")
    return root


@pytest.fixture
def utc_local_time():
    """Local time is UTC while a test runs, so the dates it shows do not depend on the host."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if saved is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = saved
    time.tzset()
