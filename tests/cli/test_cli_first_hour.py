"""The command line as a newcomer meets it (issue 19, items 1-10): nothing misleading,
nothing silent."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from termvault import Vault
from termvault.cli.progress import binary_speed_column

from .support import API, BLOG, DAY, DB, invoke, make_native, run

AIDER_CHAT = "# aider chat started at 2024-01-05 10:00:00\n\n#### add a test for the parser\n\nDone.\n"


def aider_project(user_home: Path, name: str = "parser") -> Path:
    folder = user_home / "code" / name
    folder.mkdir(parents=True)
    chat = folder / ".aider.chat.history.md"
    chat.write_text(AIDER_CHAT)
    old = time.time() - 40 * DAY
    os.utime(chat, (old, old))
    return folder


def tree(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# -- 1: found but never swept ------------------------------------------------------------
def test_sources_and_sweep_both_say_aider_is_found_but_not_swept_and_how_to_sweep_it(demo, user_home):
    aider_project(user_home)
    listed = invoke("sources")
    assert "found, not swept" in listed.stdout
    assert (
        "aider: 1 session found, not swept (swept only when configured: add [sources.aider] roots = "
        '["~/code/parser"]' in listed.stdout
    )

    dry = invoke("sweep", "--dry-run")
    assert "Not swept: aider: 1 session found, not swept" in dry.stdout
    swept = invoke("sweep")
    assert "Not swept: aider: 1 session found, not swept" in swept.stdout
    report = json.loads(invoke("sweep", "--json").stdout)
    aider = next(s for s in report["sources"] if s["kind"] == "aider")
    assert aider["swept"] is False and aider["found"] == 1 and "sources.aider" in aider["reason"]

    (demo.home / "config.toml").write_text('[sources.aider]\nroots = ["~/code"]\n')
    configured = json.loads(invoke("sweep", "--json").stdout)
    assert [a["source"] for a in configured["archived"]] == ["aider"]
    assert "found, not swept" not in invoke("sources").stdout


# -- 2: a first sweep that says where it looked ------------------------------------------
def test_a_first_sweep_on_an_empty_machine_names_the_home_it_created_and_every_folder(home):
    result = invoke("sweep")
    assert result.exit_code == 0
    out = result.stdout
    assert out.startswith("Created the termvault home ~/.multi-term.\n")
    assert "Nothing to archive" in out
    assert "Looked in:" in out
    assert any(
        line.split()[:2] == ["native", "~/.multi-term/history"] and "0 sessions" in line for line in out.splitlines()
    )
    assert any(
        line.split()[:2] == ["claude-code", "~/.claude/projects"] and "folder not there" in line
        for line in out.splitlines()
    )
    assert "Created" not in invoke("sweep").stdout  # only the first time


# -- 3: reading never creates a home, and never writes -----------------------------------
@pytest.mark.parametrize(
    "command",
    [["stats"], ["search", "x"], ["show", "abc"], ["export", "abc"], ["verify"], ["restore", "abc"], ["pin", "abc"]],
)
def test_a_mistyped_home_is_reported_and_not_created(tmp_path, command):
    typo = tmp_path / ".multi-tem"
    result = invoke("--home", str(typo), *command)
    assert result.exit_code == 1
    assert f"The termvault home {typo} does not exist" in result.stderr
    assert not typo.exists()


def test_sources_on_a_missing_home_lists_the_sources_says_so_and_creates_nothing(tmp_path):
    typo = tmp_path / ".multi-tem"
    result = invoke("--home", str(typo), "sources")
    assert result.exit_code == 0
    assert "does not exist yet" in result.stdout
    assert not typo.exists()


def test_reading_commands_leave_the_home_exactly_as_it_was(archived, tmp_path):
    with Vault(archived.home) as vault:
        vault.close()
    before = tree(archived.home)
    for args in (
        ["search", "api"],
        ["search", "--json"],
        ["show", API[:8]],
        ["export", API[:8]],
        ["stats"],
        ["sources"],
        ["verify"],
        ["export", DB[:8], "--format", "md", "-o", str(tmp_path / "d.md")],
    ):
        assert invoke(*args).exit_code == 0, args
    # SQLite's shared-memory sidecars of a reader aside (private, and written by any
    # reader of a WAL database), nothing was created, changed or removed.
    after = tree(archived.home)
    sidecars = [name for name in after if name.endswith(("-wal", "-shm"))]
    assert {k: v for k, v in after.items() if k not in sidecars} == before
    assert all((archived.home / name).stat().st_mode & 0o077 == 0 for name in sidecars)


# -- 4: misspelt source kinds ------------------------------------------------------------
def test_a_misspelt_source_section_in_the_config_is_an_error_with_a_suggestion(home):
    home.mkdir()
    (home / "config.toml").write_text('[sources.claude]\nroots = ["~/x"]\n')
    result = invoke("sweep")
    assert result.exit_code == 2
    assert "Unknown source kind 'claude'" in result.stderr and "did you mean 'claude-code'?" in result.stderr


def test_search_with_a_misspelt_source_says_so_instead_of_no_match(archived):
    result = invoke("search", "--source", "claude")
    assert result.exit_code == 2
    assert "did you mean 'claude-code'?" in result.stderr
    assert "no archived session matches" not in result.stderr


# -- 5: verify next to a live writer -----------------------------------------------------
HOLDER = """
import sys, time
from pathlib import Path
from termvault.lock import HomeLock
home = Path(sys.argv[1])
with HomeLock(home).hold("sweeping"):
    (home / "archive" / ".tv-tmp-in-progress").write_bytes(b"half an archive")
    print("ready", flush=True)
    sys.stdin.readline()
"""


def test_verify_leaves_a_live_writer_s_temp_file_alone_and_reports_it_once_the_writer_is_gone(archived):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(archived.home)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        during = invoke("verify")
        assert during.exit_code == 0, during.stdout
        assert "Another termvault process is writing" in during.stdout
        assert "temp file" not in during.stdout
    finally:
        holder.communicate("done\n", timeout=30)
    after = invoke("verify")  # the writer died and left it: now it is a problem
    assert after.exit_code == 1
    assert "temp file" in after.stdout and ".tv-tmp-in-progress" in after.stdout


# -- 6: the ambiguous-prefix count -------------------------------------------------------
def test_an_ambiguous_prefix_counts_every_matching_session(home):
    for n in range(24):
        make_native(home, f"a{n:02d}-session", 40)
    with Vault(home) as vault:
        assert len(vault.sweep().archived) == 24
    result = invoke("show", "a")
    assert result.exit_code == 2
    assert "matches 24 sessions" in result.stderr


# -- 7: sweep messages agree; Ctrl-C; units ----------------------------------------------
def test_after_a_restore_dry_run_progress_and_summary_all_say_unchanged(archived):
    assert invoke("restore", API).exit_code == 0
    # Restored, it counts as active again (issue 13): a plain sweep leaves it alone.
    held = run("sweep", "--dry-run")
    assert "nothing is due" in held.stdout
    # Asked to archive it at once, every message agrees it is identical.
    dry = run("sweep", "--dry-run", "--older-than", "0")
    assert "1 identical to the version already archived" in dry.stdout
    real = run("sweep", "--older-than", "0")
    assert f"unchanged {API} (identical to the version already archived)" in real.stderr
    assert f"archived {API}" not in real.stderr
    assert "unchanged   1 (identical to the version already archived; nothing new stored)" in real.stdout


def test_ctrl_c_during_a_sweep_says_how_many_were_archived_and_exits_130(home):
    for n in range(60):
        make_native(home, f"bulk-{n:03d}", 40, output_snapshot=f"line {n}\n" * 4000)
    proc = subprocess.Popen(
        [sys.executable, "-m", "termvault", "sweep"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    try:
        first = proc.stderr.readline()
        assert first.startswith("[1/60] archived"), first
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 130, err
    line = next(x for x in err.splitlines() if x.startswith("termvault: Interrupted after"))
    done = int(line.split("Interrupted after ")[1].split(" of ")[0])
    archived = int(line.split(": ")[2].split(" archived")[0])
    assert 1 <= done < 60 and "of 60 due sessions" in line
    assert f"the other {60 - done} are left for the next sweep" in line
    with Vault(home) as vault:
        assert len(vault.index.all_rows()) == archived
    assert "Traceback" not in err


def test_the_progress_speed_is_in_binary_units_like_the_sizes():
    class Task:
        finished_speed = None
        speed = 3.5 * 1024 * 1024

    assert binary_speed_column().render(Task()).plain == "3.5 MiB/s"


# -- 8: piped output fits the terminal ---------------------------------------------------
def _long_names(home: Path) -> None:
    for n, sid in enumerate((API, DB, BLOG)):
        make_native(
            home,
            sid,
            40 + n,
            name="a very long session name that goes on " * 4,
            working_directory="/home/me/" + "deep/" * 30,
        )
    with Vault(home) as vault:
        vault.sweep()


def test_piped_search_respects_columns(home):
    _long_names(home)
    wide = run("search")
    assert max(len(x) for x in wide.stdout.splitlines()) > 200  # no terminal anywhere: whole lines
    narrow = run("search", env={"COLUMNS": "90"})
    assert narrow.returncode == 0
    assert max(len(x) for x in narrow.stdout.splitlines()) <= 90


def test_search_piped_into_head_fits_the_terminal_it_runs_in(home):
    _long_names(home)
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 96, 0, 0))
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "termvault", "search"],
            stdout=subprocess.PIPE,
            stderr=follower,
            stdin=subprocess.DEVNULL,
            env=env,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(follower)
        os.close(leader)
    assert proc.returncode == 0
    assert max(len(x) for x in proc.stdout.splitlines()) <= 96


# -- 9: the smaller ones ------------------------------------------------------------------
def test_export_refuses_to_overwrite_without_force_and_accepts_md(archived, tmp_path):
    target = tmp_path / "api.md"
    target.write_text("mine")
    refused = invoke("export", API, "--format", "md", "-o", str(target))
    assert refused.exit_code == 1
    assert "already exists; pass --force to replace it" in refused.stderr
    assert target.read_text() == "mine"
    assert invoke("export", API, "--format", "md", "-o", str(target), "--force").exit_code == 0
    assert target.read_text().startswith("#")
    assert invoke("export", API, "--format", "txt").exit_code == 0


def test_global_options_work_after_the_command(archived, tmp_path):
    quiet = invoke("sweep", "-q")
    assert quiet.exit_code == 0 and quiet.stdout == ""
    elsewhere = invoke("stats", "--home", str(archived.home), "--json")
    assert json.loads(elsewhere.stdout)["total_sessions"] == 3
    assert invoke("show", API, "--version", "1").exit_code == 0  # show's own --version stays its own


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (["sweep", "--older-than", "30"], "30d for days or 30h for hours"),
        (["daemon", "--interval", "24"], "24d for days or 24h for hours"),
        (["search", "--after", "7"], "7d for days or 7h for hours"),
        (["daemon", "--interval", "30m"], "30min for minutes or 30mo for months"),
        (["search", "--after", "3m"], "3min for minutes or 3mo for months"),
    ],
)
def test_one_duration_grammar_refuses_a_bare_number_and_an_ambiguous_m_everywhere(home, args, hint):
    result = invoke(*args)
    assert result.exit_code == 2
    assert hint in result.stderr


def test_the_duration_grammar_is_stated_in_the_help():
    for args in (["sweep", "--help"], ["daemon", "--help"], ["search", "--help"], ["--help"]):
        text = " ".join(invoke(*args).stdout.split())
        assert "90min" in text and "3mo" in text, args


def test_an_impossible_date_range_is_an_error(archived):
    result = invoke("search", "--after", "2024-05-01", "--before", "2024-01-01")
    assert result.exit_code == 2
    assert "is later than --before" in result.stderr


def test_pinning_twice_says_it_was_already_pinned(archived):
    assert "Pinned" in invoke("pin", API).stdout
    again = invoke("pin", API)
    assert again.exit_code == 0 and "is already pinned; nothing changed" in again.stdout
    assert "is not pinned" in invoke("unpin", DB).stdout


def test_repair_of_a_corrupt_copy_whose_source_is_on_disk_says_the_next_sweep_rearchives_it(home, user_home):
    project = user_home / ".claude" / "projects" / "-home-me-app"
    project.mkdir(parents=True)
    uuid = "0b6a3f7e-1111-4222-8333-944455556666"
    transcript = project / f"{uuid}.jsonl"
    transcript.write_text(
        json.dumps(
            {
                "type": "user",
                "sessionId": uuid,
                "cwd": "/home/me/app",
                "timestamp": "2024-01-01T00:00:00Z",
                "message": {"role": "user", "content": "hello"},
            }
        )
        + "\n"
    )
    old = time.time() - 3600
    os.utime(transcript, (old, old))
    assert invoke("sweep").exit_code == 0
    with Vault(home) as vault:
        path = vault.archive_file(vault.get(uuid))
    path.write_bytes(b"not an archive any more")
    checked = invoke("verify")
    assert checked.exit_code == 1
    assert "After the repair, the next `termvault sweep` archives 1 damaged version again" in checked.stdout
    repaired = invoke("verify", "--repair")
    assert "will be archived again by the next `termvault sweep`" in repaired.stdout
    assert "cannot be rebuilt" not in repaired.stdout
    assert invoke("sweep").exit_code == 0
    with Vault(home) as vault:
        assert vault.get(uuid).status == "archived"


def test_a_second_daemon_says_once_that_another_sweeper_runs(demo):
    app_sweeper = (
        "import sys; from pathlib import Path; from termvault.lock import HomeLock; "
        "l = HomeLock(Path(sys.argv[1]), name='.sweeper.lock'); assert l.try_acquire('app'); "
        "print('ready', flush=True); sys.stdin.readline()"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", app_sweeper, str(demo.home)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        daemon = subprocess.Popen(
            [sys.executable, "-m", "termvault", "daemon", "--interval", "1s"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(4)
        daemon.send_signal(signal.SIGTERM)
        out, _ = daemon.communicate(timeout=60)
    finally:
        holder.communicate("done\n", timeout=30)
    assert out.count("another sweeper runs for this home") == 1, out
    assert "stopped after 0 sweeps" in out


# -- 10: show says whether the source is on disk and how to reopen it ---------------------
def test_show_says_the_moved_source_is_gone_and_how_to_get_it_back(archived):
    shown = invoke("show", API).stdout
    assert f"On disk        no, the file is gone; `termvault restore {API}` puts it back" in shown
    invoke("restore", API)
    assert "On disk        yes, unchanged since this version was archived" in invoke("show", API).stdout


def test_show_of_an_agent_session_says_how_to_open_it_again(home, user_home):
    project = user_home / ".claude" / "projects" / "-home-me-app"
    project.mkdir(parents=True)
    uuid = "0b6a3f7e-1111-4222-8333-944455556666"
    transcript = project / f"{uuid}.jsonl"
    transcript.write_text(
        json.dumps(
            {
                "type": "user",
                "sessionId": uuid,
                "cwd": "/home/me/app",
                "timestamp": "2024-01-01T00:00:00Z",
                "message": {"role": "user", "content": "hello"},
            }
        )
        + "\n"
    )
    old = time.time() - 3600
    os.utime(transcript, (old, old))
    invoke("sweep")
    shown = invoke("show", uuid).stdout
    assert f"Reopen with    cd /home/me/app && claude --resume {uuid}" in shown
    assert "On disk        yes, unchanged since this version was archived" in shown
    assert json.loads(invoke("show", uuid, "--json").stdout)["reopen"] == f"cd /home/me/app && claude --resume {uuid}"


def _read_only_view(source: Path, where: Path) -> bool:
    """Bind-mount ``source`` read-only at ``where`` (needs root and mount rights)."""
    where.mkdir()
    if os.geteuid() != 0:
        return False
    ok = subprocess.run(["mount", "--bind", str(source), str(where)], capture_output=True, check=False).returncode == 0
    if (
        ok
        and subprocess.run(["mount", "-o", "remount,bind,ro", str(where)], capture_output=True, check=False).returncode
        != 0
    ):
        subprocess.run(["umount", str(where)], capture_output=True, check=False)
        ok = False
    return ok


def test_reading_works_on_a_read_only_home(archived, tmp_path):
    view = tmp_path / "ro-home"
    if not _read_only_view(archived.home, view):
        pytest.skip("a read-only bind mount needs root with mount rights here")
    try:
        assert subprocess.run(["touch", str(view / "x")], capture_output=True, check=False).returncode != 0
        found = invoke("--home", str(view), "search", "connection refused")
        assert found.exit_code == 0, found.stderr
        assert API[:8] in found.stdout
        assert invoke("--home", str(view), "show", API[:8]).exit_code == 0
        exported = invoke("--home", str(view), "export", API[:8])
        assert exported.exit_code == 0 and exported.stdout_bytes == archived.originals[API]
        assert json.loads(invoke("--home", str(view), "stats", "--json").stdout)["total_sessions"] == 3
        assert invoke("--home", str(view), "verify").exit_code == 0
    finally:
        subprocess.run(["umount", str(view)], capture_output=True, check=False)


def test_the_reopen_hint_for_a_folder_in_the_home_works_when_pasted_into_a_shell(monkeypatch, tmp_path):
    # The folder was shown as '~/...' inside quotes, where a shell does not expand the
    # tilde: `cd '~/code/app'` failed, as did `asciinema play '~/casts/demo.cast'`.
    import shlex
    import subprocess
    from types import SimpleNamespace

    from termvault.cli.reopen import reopen_hint

    monkeypatch.setenv("HOME", str(tmp_path))
    folder = tmp_path / "my app"
    folder.mkdir()
    entry = SimpleNamespace(working_directory=str(folder), source="aider", meta={}, session_id="aider-x")
    hint = reopen_hint(entry, None, [])
    assert hint == "cd ~/'my app' && aider --restore-chat-history"
    cd = hint.split(" && ")[0]
    done = subprocess.run(["sh", "-c", f"{cd} && pwd"], capture_output=True, text=True, env={"HOME": str(tmp_path)})
    assert done.returncode == 0 and done.stdout.strip() == str(folder), done.stderr
    cast = SimpleNamespace(origin=tmp_path / "casts" / "demo.cast")
    entry = SimpleNamespace(working_directory="", source="asciinema", meta={}, session_id="asciinema-x")
    assert reopen_hint(entry, None, [cast]) == "asciinema play ~/casts/demo.cast"
    outside = SimpleNamespace(working_directory="/srv/a b", source="aider", meta={}, session_id="aider-y")
    assert reopen_hint(outside, None, []) == f"cd {shlex.quote('/srv/a b')} && aider --restore-chat-history"
