"""The app's own test scripts, run unchanged against termvault: each is copied into a
temporary folder beside the test-only ``claude_multi_terminal`` package (which maps the
app's module paths to termvault) and run in a fresh interpreter."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from .conftest import HERE


@pytest.mark.parametrize("script", ["test_archiving_system.py", "test_persistence.py"])
def test_the_app_s_own_script_passes_against_termvault(script, seed_script, tmp_path, user_home):
    (tmp_path / script).write_bytes(seed_script(script))
    shutil.copytree(
        HERE / "claude_multi_terminal", tmp_path / "claude_multi_terminal", ignore=shutil.ignore_patterns("__pycache__")
    )
    env = {**os.environ, "HOME": str(user_home), "TERMVAULT_HOME": str(user_home / ".multi-term"), "PYTHONPATH": ""}
    out = subprocess.run(
        [sys.executable, script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240, check=False
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "FAILED" not in out.stdout and "❌" not in out.stdout
