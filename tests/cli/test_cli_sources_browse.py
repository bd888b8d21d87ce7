"""``termvault sources`` and ``termvault browse``."""

from __future__ import annotations

import json
import subprocess
import sys

from .support import invoke, run


def _by_kind(rows):
    return {r["kind"]: r for r in rows}


def test_sources_lists_native_with_live_and_archived_counts(archived, home):
    result = invoke("sources")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["SOURCE", "STATUS", "MODE"]
    native = next(l for l in lines if l.startswith("native "))
    assert native.split()[:4] == ["native", "configured", "move", "1"]
    assert str(home / "history") in native or "~/" in native


def test_sources_json_through_a_real_process(archived, home):
    proc = run("sources", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = _by_kind(json.loads(proc.stdout))
    native = rows["native"]
    assert native["mode"] == "move" and native["configured"] is True and native["detected"] is True
    assert native["roots"] == [str(home / "history")]
    assert native["live_sessions"] == 1 and native["live_bytes"] == len(
        archived.originals[next(s for s, p in archived.files.items() if p.exists())]
    )
    assert native["archived_sessions"] == 3 and native["archived_bytes"] > 0
    assert "claude-code" in rows
    for key in ("description", "enabled", "archive_days", "archived_versions", "error"):
        assert key in native


def test_sources_detects_a_tool_folder_and_honours_configuration(home, user_home):
    (user_home / ".claude" / "projects").mkdir(parents=True)
    home.mkdir(parents=True)
    (home / "config.toml").write_text("[sources.codex]\nenabled = false\n")
    rows = _by_kind(json.loads(invoke("sources", "--json").stdout))
    assert rows["claude-code"]["detected"] is True and rows["claude-code"]["mode"] == "copy"
    assert rows["codex"]["enabled"] is False
    table = invoke("sources").stdout
    assert any(l.startswith("claude-code") and "detected" in l for l in table.splitlines())
    assert any(l.startswith("codex") and "disabled" in l for l in table.splitlines())


BLOCKED_TUI = (
    "import sys; sys.modules['termvault.tui.app'] = None\n"
    "import termvault.cli.browse as b; b._on_a_terminal = lambda: True\n"
    "from termvault.cli import main\n"
    "main(['browse'])\n"
)


def test_browse_without_the_browser_says_so_and_exits_1(home):
    proc = subprocess.run([sys.executable, "-c", BLOCKED_TUI], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.startswith("termvault: The archive browser is not available")
    assert "Traceback" not in proc.stderr


def test_browse_refuses_to_start_without_a_terminal(home):
    proc = run("browse", input="")
    assert proc.returncode == 2
    assert proc.stderr.startswith("termvault: The archive browser needs a terminal")


def test_browse_opens_the_browser_on_the_chosen_home(tmp_path, monkeypatch):
    # The full-screen app itself is tested with the TUI; here only the hand-over.
    import termvault.cli.browse as browse
    import termvault.tui.app as app

    monkeypatch.setattr(browse, "_on_a_terminal", lambda: True)
    calls = []
    monkeypatch.setattr(app, "run_browser", lambda home=None, config_file=None: calls.append((home, config_file)))
    other = tmp_path / "h"
    result = invoke("--home", str(other), "browse")
    assert result.exit_code == 0, result.output
    assert calls == [(other, None)]


def test_commands_other_than_browse_never_import_textual(archived):
    code = (
        "import sys\n"
        "from termvault.cli import cli\n"
        "from click.testing import CliRunner\n"
        "for args in (['search'], ['stats'], ['sources'], ['show', '3f2a']):\n"
        "    r = CliRunner().invoke(cli, args)\n"
        "    assert r.exit_code == 0, (args, r.output)\n"
        "print('textual' in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"
