"""`termvault sweep --source claude-code` over a fake ~/.claude built from the real corpus."""

from __future__ import annotations

import json

from termvault.sources.claude_code import ClaudeCodeSource

from ..sources.support import utc
from ..sources.test_claude_code import CHLOE, TODO, claude_layout
from .support import run


def test_sweep_of_the_claude_corpus_archives_every_session_with_titles_folders_and_times(corpus, user_home, home):
    projects = user_home / ".claude" / "projects"
    claude_layout(corpus, projects)
    units = list(ClaudeCodeSource(home=home, env={"HOME": str(user_home)}).discover())
    env = {"TERMVAULT_SETTLE_SECONDS": "0"}  # the copies were written a moment ago

    swept = run("sweep", "--source", "claude-code", "--older-than", "0", "--json", env=env)

    assert swept.returncode == 0, swept.stderr
    report = json.loads(swept.stdout)
    assert report["archived_count"] == len(units) and report["failed_count"] == 0
    assert {a["session_id"] for a in report["archived"]} == {u.session_id for u in units}

    found = run("search", "--source", "claude-code", "--limit", "500", "--json", env=env)
    rows = {r["session_id"]: r for r in json.loads(found.stdout)}
    assert set(rows) == {u.session_id for u in units}
    chloe = rows[CHLOE]
    assert chloe["name"] == "Set up dotfiles configuration"
    assert chloe["working_directory"] == "/Users/chloe/c/slay"
    assert chloe["created_at"] == utc("2026-05-03T00:20:03.895Z")
    assert chloe["last_activity_at"] == utc("2026-05-03T00:20:52.017Z")
    assert rows[TODO]["name"] == "/orchestrator create TODO app by Next.js"

    again = run("sweep", "--source", "claude-code", "--older-than", "0", "--json", env=env)
    assert json.loads(again.stdout)["archived_count"] == 0  # unchanged: nothing new
