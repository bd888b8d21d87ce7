"""The app's module paths (``claude_multi_terminal...``) resolve to termvault through the
test-only package next to this file; the seed repository, when given, supplies the app's
own test scripts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))  # makes `claude_multi_terminal` importable, for tests only

SEED_ENV = "MULTI_TERM_REPO"  # not TERMVAULT_*: the isolation fixture clears those


def seed_file(relpath: str) -> bytes | None:
    """A file of the multi-terminal app's repository, from ``$MULTI_TERM_REPO`` (a
    checkout, or a bare git directory read at HEAD); None when it is not available."""
    root = os.environ.get(SEED_ENV)
    if not root:
        return None
    base = Path(root)
    if (base / relpath).is_file():
        return (base / relpath).read_bytes()
    out = subprocess.run(["git", f"--git-dir={base}", "show", f"HEAD:{relpath}"], capture_output=True, check=False)
    if out.returncode != 0:
        git_dir = base / ".git"
        out = subprocess.run(
            ["git", f"--git-dir={git_dir}", "show", f"HEAD:{relpath}"], capture_output=True, check=False
        )
    return out.stdout if out.returncode == 0 else None


@pytest.fixture
def seed_script():
    """``seed_script(name)``: the bytes of one of the app's root scripts, or a skip."""

    def get(name: str) -> bytes:
        data = seed_file(name)
        if data is None:
            pytest.skip(
                f"the multi-terminal app's repository is not available (set {SEED_ENV} to a "
                f"checkout of wallon-qodo/multi-term or its git directory to run {name})"
            )
        return data

    return get
