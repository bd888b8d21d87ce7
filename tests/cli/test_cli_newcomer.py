"""A newcomer's first hour, end to end, on a machine whose tool folders hold the real
corpus: sources, the first sweep, search, show, export, restore, verify and the browser,
each message checked against the others so that none contradicts another."""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from pathlib import Path

import pytest

from ..sources.test_aider import aider_layout
from ..sources.test_asciinema import cast_layout
from ..sources.test_claude_code import CHLOE, claude_layout
from ..sources.test_codex import codex_layout
from ..sources.test_gemini import gemini_layout
from .support import invoke, run


class Ran:
    """A command's outcome, the same whether it ran in process or as a process."""

    def __init__(self, returncode: int, stdout: str, stderr: str):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def tv(*args: str) -> Ran:
    """``termvault ARGS`` in process (quick); the first sweep and browse run as real
    processes below."""
    result = invoke(*args)
    return Ran(result.exit_code, result.stdout, result.stderr)


SWEPT_KINDS = ("claude-code", "codex", "gemini", "asciinema")


def build_machine(corpus: Path, user_home: Path, max_bytes: int | None = None) -> None:
    """The tools' folders as they are on a real machine: files written an hour ago
    (with ``max_bytes``, only the corpus files up to that size, for the quick run)."""
    claude_layout(corpus, user_home / ".claude" / "projects")
    codex_layout(corpus, user_home / ".codex")
    gemini_layout(corpus, user_home / ".gemini" / "tmp")
    cast_layout(corpus, user_home / ".local" / "share" / "asciinema")
    aider_layout(corpus, user_home)
    old = time.time() - 3600
    for folder in (".claude", ".codex", ".gemini", ".local", "code", "git", "myrepo"):
        for path in (user_home / folder).rglob("*"):
            if not path.is_file():
                continue
            if max_bytes is not None and path.stat().st_size > max_bytes and CHLOE not in path.name:
                path.unlink()
                continue
            os.utime(path, (old, old))


def table(stdout: str) -> dict[str, list[str]]:
    """SOURCE -> the rest of its row, for the `sources` table."""
    rows = {}
    for line in stdout.splitlines()[1:]:
        cells = re.split(r"\s{2,}", line.strip())
        if cells and cells[0] and not line.startswith(" ") and ":" not in cells[0]:
            rows[cells[0]] = cells[1:]
    return rows


def looked_in(stdout: str) -> dict[str, str]:
    """SOURCE -> FOUND from a sweep's "Looked in:" block."""
    lines = stdout.split("Looked in:\n", 1)[1].splitlines()
    out = {}
    for line in lines:
        if not line.startswith("  "):
            break
        cells = re.split(r"\s{2,}", line.strip())
        out[cells[0]] = cells[-1]
    return out


@pytest.mark.slow
def test_the_first_hour_of_a_new_user_on_the_whole_corpus_tells_one_consistent_story(corpus, user_home, home, tmp_path):
    first_hour(corpus, user_home, home, tmp_path, max_bytes=None)


def test_the_first_hour_of_a_new_user_on_real_sessions_tells_one_consistent_story(corpus, user_home, home, tmp_path):
    """The quick run: the corpus files up to 150 KB (every source is still there)."""
    first_hour(corpus, user_home, home, tmp_path, max_bytes=150_000)


def first_hour(corpus: Path, user_home: Path, home: Path, tmp_path: Path, max_bytes: int | None) -> None:
    build_machine(corpus, user_home, max_bytes)

    # Before anything: what will be swept, and that nothing exists yet.
    sources = tv("sources")
    assert sources.returncode == 0, sources.stderr
    assert "does not exist yet" in sources.stdout and not home.exists()
    rows = table(sources.stdout)
    live = {kind: int(rows[kind][2]) for kind in SWEPT_KINDS}
    assert all(n > 0 for n in live.values()), live
    assert rows["aider"][0] == "found, not swept"
    aider_note = next(x for x in sources.stdout.splitlines() if x.startswith("aider: "))
    aider_found = int(aider_note.split()[1])

    # The first sweep: the home it made, where it looked, what it left out and why.
    first = run("sweep")  # a real process: progress lines, exit status
    assert first.returncode == 0, first.stderr
    out = first.stdout
    assert out.startswith("Created the termvault home ~/.multi-term.\n")
    found = looked_in(out)
    for kind in SWEPT_KINDS:
        assert found[kind] == f"{live[kind]} sessions", (kind, found[kind])  # sources and sweep agree
    archived = int(re.search(r"archived\s+(\d+) sessions", out).group(1))
    assert archived == sum(live.values())  # everything found was archived: nothing is due later
    assert f"Not swept: aider: {aider_found} sessions found, not swept" in out
    assert re.search(r"failed\s+0", out)

    # Search, stats and verify count the same sessions.
    hits = json.loads(tv("search", "--limit", "500", "--json").stdout)
    stats = json.loads(tv("stats", "--json").stdout)
    assert len(hits) == stats["total_sessions"] == archived
    dotfiles = tv("search", "dotfiles")
    assert dotfiles.returncode == 0 and CHLOE[:8] in dotfiles.stdout

    # Show: still on disk and unchanged (copy mode), and how to reopen it in Claude Code.
    shown = tv("show", CHLOE)
    assert "copy mode" in shown.stdout
    assert "On disk        yes, unchanged since this version was archived" in shown.stdout
    assert f"claude --resume {CHLOE}" in shown.stdout

    # Export: written once, refused the second time without --force.
    target = tmp_path / "chloe.md"
    exported = tv("export", CHLOE[:8], "--format", "md", "-o", str(target))
    assert exported.returncode == 0 and exported.stdout.startswith("Wrote ")
    assert target.read_text(encoding="utf-8").startswith("#")
    again = tv("export", CHLOE[:8], "--format", "md", "-o", str(target))
    assert again.returncode == 1 and "already exists" in again.stderr

    # Restore: identical file in place is left alone, as show said; once gone, it comes back.
    transcript = next((user_home / ".claude" / "projects").rglob(f"{CHLOE}.jsonl"))
    original = transcript.read_bytes()
    same = tv("restore", CHLOE)
    assert same.returncode == 0 and same.stdout.startswith("Nothing to restore")
    transcript.unlink()
    assert "On disk        no, the file is gone" in tv("show", CHLOE).stdout
    restored = tv("restore", CHLOE)
    assert restored.returncode == 0 and "verified" in restored.stdout
    assert transcript.read_bytes() == original

    # A sweep after the restore: nothing new, and every message says so.
    dry = tv("sweep", "--dry-run")
    assert "Dry run: nothing is due for archiving." in dry.stdout
    second = tv("sweep")
    assert second.stdout.startswith("Nothing to archive: no session is due")
    assert "] archived" not in second.stderr

    # The config the first sweep suggested sweeps aider.
    roots = re.search(r"roots = (\[.*?\])", aider_note).group(1)
    (home / "config.toml").write_text(f"[sources.aider]\nroots = {roots}\n", encoding="utf-8")
    aider = json.loads(tv("sweep", "--json").stdout)
    assert {a["source"] for a in aider["archived"]} == {"aider"}
    assert aider["archived_count"] == aider_found  # the suggested roots cover every folder found

    # Verify: every version checked, clean.
    checked = tv("verify")
    versions = json.loads(tv("stats", "--json").stdout)["total_versions"]
    assert checked.returncode == 0, checked.stdout
    assert f"Checked {versions} archive versions: {versions} ok." in checked.stdout
    assert "The archive is clean." in checked.stdout

    # browse needs a terminal and says so; the browser itself shows the same sessions.
    assert "needs a terminal" in run("browse").stderr
    total = json.loads(tv("stats", "--json").stdout)["total_sessions"]
    from termvault.tui import create_app

    from ..tui.helpers import settle

    app = create_app(home)

    async def main() -> None:
        async with app.run_test(size=(140, 40)) as pilot:
            await settle(pilot)
            assert str(app.query_one("#stats").render()).startswith(f"{total} sessions")
            assert len(app.browser.entries) == min(total, 200)
            sources_shown = {e.source for e in app.browser.entries}
            assert {"claude-code", "aider"} <= sources_shown or len(app.browser.entries) == 200

    asyncio.run(main())
