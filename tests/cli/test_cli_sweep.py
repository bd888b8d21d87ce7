"""``termvault sweep``, the README's main job, and the failures every write command
shares: a locked home and an unwritable home."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from termvault.archive import archive_relpath

from .support import API, BLOG, DAY, DB, FRESH, invoke, make_native, run


def test_sweep_archives_due_sessions_and_prints_a_summary(demo):
    result = invoke("sweep")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Sweep finished in" in out
    assert "archived    3 sessions" in out
    assert "failed      0" in out
    assert "skipped     1" in out
    assert "raw size" in out and "compressed" in out and "ratio" in out and "KiB" in out
    for sid in (API, DB, BLOG):
        assert not demo.files[sid].exists()
    assert demo.files[FRESH].exists()


def test_sweep_json_report_has_the_seed_keys_and_details(demo):
    proc = run("sweep", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["archived_count"] == 3
    assert report["failed_count"] == 0
    assert report["skipped_count"] == 1
    assert report["raw_bytes"] == sum(len(demo.originals[s]) for s in (API, DB, BLOG))
    assert 0 < report["compressed_bytes"] < report["raw_bytes"]
    assert report["ratio"] > 1
    assert {a["session_id"] for a in report["archived"]} == {API, DB, BLOG}
    assert {"session_id", "version", "source", "name", "archive_path", "original_size_bytes", "size_bytes"} <= set(
        report["archived"][0]
    )
    assert report["failed"] == []


def test_sweep_on_a_fresh_machine_creates_the_default_home_and_says_nothing_is_due(tmp_path):
    user = tmp_path / "newuser"
    user.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TERMVAULT_")}
    env["HOME"] = str(user)
    proc = subprocess.run(
        [sys.executable, "-m", "termvault", "sweep"], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "Nothing to archive" in proc.stdout
    assert "archived    0 sessions" in proc.stdout
    assert (user / ".multi-term" / "archive").is_dir()
    assert (user / ".multi-term" / "archive_index.sqlite3").is_file()


def test_sweep_dry_run_lists_what_is_due_and_changes_nothing(demo):
    result = invoke("sweep", "--dry-run")
    assert result.exit_code == 0
    assert "Dry run: 3 sessions" in result.stdout
    for sid in (API, DB, BLOG):
        assert sid in result.stdout
        assert demo.files[sid].exists()
    assert FRESH not in result.stdout
    dry = json.loads(invoke("sweep", "--dry-run", "--json").stdout)
    assert dry["dry_run"] is True and dry["archived_count"] == 0
    assert {d["session_id"] for d in dry["due"]} == {API, DB, BLOG}


def test_sweep_dry_run_on_a_machine_without_a_home_creates_none(tmp_path):
    # A new user's first, careful step: the dry run made ~/.multi-term (folder, lock,
    # index, archive/, history/) although it promises to change nothing.
    user = tmp_path / "newuser"
    transcript = user / ".claude" / "projects" / "-home-me-app" / "3f2a9c1e-0000-4000-8000-000000000001.jsonl"
    transcript.parent.mkdir(parents=True)
    transcript.write_text(json.dumps({"type": "user", "message": {"role": "user", "content": "hi"}}) + "\n")
    os.utime(transcript, (time.time() - 40 * DAY, time.time() - 40 * DAY))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TERMVAULT_")}
    env["HOME"] = str(user)
    for extra in ([], ["--json"]):
        proc = subprocess.run(
            [sys.executable, "-m", "termvault", "sweep", "--dry-run", "--older-than", "30d", *extra],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        assert "3f2a9c1e" in proc.stdout and "Created" not in proc.stdout + proc.stderr
        assert not (user / ".multi-term").exists()


@pytest.mark.parametrize("age", ["45d", "1080h", "6.5w", "45 days"])
def test_sweep_older_than_takes_days_hours_and_weeks(demo, age):
    report = json.loads(invoke("sweep", "--older-than", age, "--json").stdout)
    assert {a["session_id"] for a in report["archived"]} == {DB, BLOG}
    assert demo.files[API].exists()


def test_sweep_older_than_zero_archives_every_native_session_even_one_saved_just_now(demo):
    settled = make_native(demo.home, "settled-1", 0.05)
    report = json.loads(invoke("sweep", "--older-than", "0", "--json").stdout)
    # The app replaces its history files atomically: none is ever half written, so none
    # waits for the settle time.
    assert {a["session_id"] for a in report["archived"]} == {API, DB, BLOG, FRESH, "settled-1"}
    assert not settled.exists() and not demo.files[FRESH].exists()


def test_a_history_file_whose_id_is_unsafe_is_named_at_each_sweep_and_left_in_place(demo):
    bad = demo.home / "history" / "1000_dd..ee.json"
    bad.write_bytes(demo.files[API].read_bytes())
    for _ in range(2):  # said again at the next sweep: it is still not archived
        proc = run("sweep", "--older-than", "0")
        assert proc.returncode == 0, proc.stderr
        assert "1000_dd..ee.json is not archived" in proc.stderr and "'..'" in proc.stderr
        assert "Rename it to archive it." in proc.stderr
    assert bad.exists()


def test_sweep_rejects_a_malformed_age_as_a_usage_error(demo):
    result = invoke("sweep", "--older-than", "30x")
    assert result.exit_code == 2
    assert "30d" in result.stderr
    assert demo.files[BLOG].exists()


def test_sweep_of_an_unknown_source_kind_is_a_usage_error_listing_the_kinds(demo):
    result = invoke("sweep", "--source", "nope")
    assert result.exit_code == 2
    assert "Unknown source kind 'nope'" in result.stderr
    assert "native" in result.stderr


def test_sweep_restricted_to_a_source_only_touches_that_source(demo):
    report = json.loads(invoke("sweep", "--source", "native", "--json").stdout)
    assert report["archived_count"] == 3


def test_sweep_prints_plain_progress_lines_when_not_on_a_terminal(demo):
    proc = run("sweep")
    assert proc.returncode == 0
    lines = [l for l in proc.stderr.splitlines() if l.startswith("[")]
    assert len(lines) == 3
    assert lines[-1].startswith("[3/3] archived ")
    assert "Sweep finished" in proc.stdout


def test_sweep_quiet_prints_nothing(demo):
    result = invoke("--quiet", "sweep")
    assert result.exit_code == 0
    assert result.stdout == "" and result.stderr == ""
    assert not demo.files[API].exists()


def test_sweep_reports_a_failed_session_with_its_reason_and_exits_1(demo):
    # A session from another year whose archive folder cannot be created (a file is in
    # the way): that session fails, the others are archived.
    old = make_native(demo.home, "blocked-1", 800)
    stamp = time.time() - 800 * DAY
    year = archive_relpath(stamp, "blocked-1", 1).split("/")[0]
    assert year not in {archive_relpath(time.time() - d * DAY, "x", 1).split("/")[0] for d in (40, 50, 60)}
    (demo.home / "archive").mkdir(parents=True, exist_ok=True)
    (demo.home / "archive" / year).write_text("in the way")
    result = invoke("sweep")
    assert result.exit_code == 1
    assert "archived    3 sessions" in result.stdout
    assert "failed      1" in result.stdout
    assert "Failed:" in result.stdout and "blocked-1" in result.stdout
    assert old.exists()
    report = json.loads(invoke("sweep", "--json").stdout)
    assert report["failed_count"] == 1
    assert report["failed"][0]["session_id"] == "blocked-1"
    assert report["failed"][0]["reason"]


# -- a locked home ----------------------------------------------------------------------
HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from termvault.lock import HomeLock
    home = Path(sys.argv[1])
    home.mkdir(parents=True, exist_ok=True)
    with HomeLock(home).hold("testing the lock"):
        print("held", flush=True)
        time.sleep(120)
    """
)


@pytest.fixture
def lock_holder(demo):
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(demo.home)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_a_locked_home_gives_exit_3_naming_the_holder_pid(demo, lock_holder):
    proc = run("--wait", "0.5", "sweep")
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.startswith("termvault: ")
    assert f"process {lock_holder.pid}" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert demo.files[API].exists()


def test_a_locked_home_in_process_gives_exit_3_for_pin(archived, lock_holder):
    result = invoke("--wait", "0.5", "pin", API[:8])
    assert result.exit_code == 3
    assert str(lock_holder.pid) in result.stderr


def test_reading_commands_work_while_the_home_is_locked(archived, lock_holder):
    assert invoke("--wait", "0.5", "search").exit_code == 0
    assert invoke("--wait", "0.5", "show", API[:8]).exit_code == 0


# -- an unwritable home -----------------------------------------------------------------
def _can_write_anyway(folder: Path) -> bool:
    return (hasattr(os, "geteuid") and os.geteuid() == 0) or os.access(folder, os.W_OK)


def test_an_unwritable_home_location_gives_exit_4_naming_the_path(tmp_path):
    parent = tmp_path / "locked"
    parent.mkdir()
    parent.chmod(0o500)
    try:
        if _can_write_anyway(parent):
            pytest.skip("running as root (or with a capability) where chmod 500 does not stop writes")
        home = parent / "home"
        proc = run("--home", str(home), "sweep")
        assert proc.returncode == 4
        assert proc.stderr.startswith("termvault: ")
        assert str(home) in proc.stderr
        assert "Traceback" not in proc.stderr
        result = invoke("--home", str(home), "stats")
        assert result.exit_code == 4
        assert str(home) in result.stderr
    finally:
        parent.chmod(0o700)


def test_a_home_that_cannot_be_created_gives_exit_4_naming_the_path(tmp_path):
    # Runs as any user, root included: a regular file stands where a folder must be.
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    home = blocker / "home"
    proc = run("--home", str(home), "sweep")
    assert proc.returncode == 4
    assert proc.stderr == f"termvault: Cannot use {home}: not a directory.\n"
