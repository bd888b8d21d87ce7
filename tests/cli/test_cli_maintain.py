"""``stats``, ``verify``, ``prune``, ``pin``/``unpin``, ``reindex`` and ``import-legacy``."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys

import pytest

from termvault import SessionState, Vault

from .support import API, BLOG, DB, drain_pty, invoke, run


def _archive_path(home, session_id):
    data = json.loads(invoke("show", session_id, "--json").stdout)
    return home / "archive" / data["archive_path"]


def _sizes() -> dict[str, int]:
    return {h["session_id"]: h["size_bytes"] for h in json.loads(invoke("search", "--json").stdout)}


# -- stats ------------------------------------------------------------------------------
def test_stats_shows_totals_sources_and_months(archived):
    result = invoke("stats")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Sessions         3 (3 versions, 0 pinned)" in out
    for label in ("Original size", "Archived size", "Space saved", "Storage cap", "Oldest activity", "Newest activity"):
        assert label in out
    assert "SOURCE" in out and "native" in out and "MONTH (UTC)" in out


def test_stats_json_through_a_real_process(archived):
    proc = run("stats", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["total_sessions"] == 3 and data["total_versions"] == 3
    assert data["original_bytes"] == sum(len(archived.originals[s]) for s in (API, DB, BLOG))
    assert data["per_source"]["native"]["sessions"] == 3
    assert sum(m["versions"] for m in data["per_month"].values()) == 3
    assert data["oldest_activity"] < data["newest_activity"]
    assert data["max_total_bytes"] is None


def test_stats_of_an_empty_home_says_so(home):
    home.mkdir()
    result = invoke("stats")
    assert result.exit_code == 0
    assert "Sessions         0 (0 versions, 0 pinned)" in result.stdout
    assert "The archive is empty" in result.stdout


# -- verify -----------------------------------------------------------------------------
def test_verify_a_clean_archive_exits_0(archived):
    result = invoke("verify")
    assert result.exit_code == 0
    assert "Checked 3 archive versions: 3 ok." in result.stdout
    assert "The archive is clean." in result.stdout
    proc = run("verify", "--json")
    assert proc.returncode == 0
    report = json.loads(proc.stdout)
    assert report["clean"] is True and report["checked"] == 3 and report["ok"] == 3


def test_verify_quiet_prints_only_problems(archived, home):
    quiet = invoke("-q", "verify")
    assert quiet.exit_code == 0 and quiet.stdout == ""
    path = _archive_path(home, API)
    path.write_bytes(b"not an archive any more")
    quiet = invoke("-q", "verify")
    assert quiet.exit_code == 1
    assert "corrupt" in quiet.stdout and path.name in quiet.stdout and "termvault verify --repair" in quiet.stdout
    assert "Checked" not in quiet.stdout


def test_verify_reports_a_corrupt_archive_exits_1_and_changes_nothing(archived, home):
    path = _archive_path(home, API)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    result = invoke("verify")
    assert result.exit_code == 1
    assert "corrupt" in result.stdout and path.name in result.stdout
    assert "termvault verify --repair" in result.stdout
    assert path.read_bytes() == bytes(data)
    assert json.loads(invoke("show", API, "--json").stdout)["status"] == "archived"
    shown = invoke("show", API)  # what the index knows is still shown, then the data error
    assert shown.exit_code == 4
    assert "api deploy" in shown.stdout and shown.stderr.startswith("termvault: ")
    report = json.loads(invoke("verify", "--json").stdout)
    assert report["clean"] is False and [c["archive_path"] for c in report["corrupt"]] == [
        path.relative_to(home / "archive").as_posix()
    ]


def test_verify_repair_marks_a_corrupt_archive_but_still_exits_1(archived, home):
    path = _archive_path(home, DB)
    path.write_bytes(b"not an archive any more")
    result = invoke("verify", "--repair")
    assert result.exit_code == 1
    assert "Repaired:" in result.stdout and "marked" in result.stdout
    assert json.loads(invoke("show", DB, "--json").stdout)["status"] == "corrupt"


def test_verify_after_a_damaged_version_was_archived_again_byte_for_byte_exits_0(home, tmp_path):
    # repair marks the damaged version, the next sweep archives the session again; verify
    # then still said the next sweep "will archive it again" and exited 1, forever.
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "build.log").write_text("compiling module\n" * 200)
    os.utime(logs / "build.log", (1.7e9, 1.7e9))
    home.mkdir(exist_ok=True)
    (home / "config.toml").write_text(f'[sources.agent-log]\nroots = ["{logs}"]\n')
    assert invoke("sweep", "--older-than", "0", "--source", "agent-log").exit_code == 0
    (sid,) = [h["session_id"] for h in json.loads(invoke("search", "--json").stdout)]
    path = _archive_path(home, sid)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    repaired = invoke("verify", "--repair")
    assert repaired.exit_code == 1 and "will be archived again by the next" in repaired.stdout
    assert invoke("sweep", "--older-than", "0", "--source", "agent-log").exit_code == 0
    result = invoke("verify")
    assert result.exit_code == 0, result.stdout
    assert "will be archived again" not in result.stdout and "archived again since" in result.stdout
    assert path.name in result.stdout  # still named: the damaged file stays on disk
    report = json.loads(invoke("verify", "--json").stdout)
    assert report["clean"] is True and [s["archive_path"] for s in report["superseded"]] == [
        path.relative_to(home / "archive").as_posix()
    ]


def test_verify_repair_removes_a_leftover_temporary_file_and_exits_0(archived, home):
    leftover = home / "archive" / ".tv-tmp-crashed.part"
    leftover.write_bytes(b"half written")
    assert invoke("verify").exit_code == 1
    assert leftover.exists()  # verify alone is read-only
    proc = run("verify", "--repair", "--json")
    assert proc.returncode == 0, proc.stdout
    report = json.loads(proc.stdout)
    assert report["problems_remaining"] is False
    assert report["temp_files"] == [str(leftover)]
    assert not leftover.exists()
    assert invoke("verify").exit_code == 0


# -- prune ------------------------------------------------------------------------------
def test_prune_dry_run_lists_the_oldest_first_and_deletes_nothing(archived, home):
    sizes = _sizes()
    cap = sum(sizes.values()) - sizes[BLOG]
    result = invoke("prune", "--max-size", str(cap), "--dry-run")
    assert result.exit_code == 0
    assert "Would delete 1 archived version" in result.stdout
    assert BLOG in result.stdout and API not in result.stdout
    assert set(_sizes()) == {API, DB, BLOG}
    data = json.loads(invoke("prune", "--max-size", str(cap), "--dry-run", "--json").stdout)
    assert data["dry_run"] is True and data["pruned_count"] == 1
    assert data["pruned"][0]["session_id"] == BLOG and data["limit_bytes"] == cap


def test_prune_dry_run_in_an_empty_home_folder_writes_nothing(home):
    # It opened the home for writing: an index, archive/, history/ and a lock appeared.
    home.mkdir(exist_ok=True)
    before = sorted(p.name for p in home.iterdir())
    result = invoke("prune", "--max-size", "1MB", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "Nothing to prune" in result.stdout
    assert sorted(p.name for p in home.iterdir()) == before


def test_prune_without_yes_and_without_a_terminal_refuses_with_exit_2(archived):
    sizes = _sizes()
    proc = run("prune", "--max-size", str(sizes[API]))
    assert proc.returncode == 2
    assert proc.stderr.startswith("termvault: Refusing to delete 2 archived versions")
    assert "--yes" in proc.stderr
    assert set(_sizes()) == {API, DB, BLOG}


def test_prune_yes_deletes_oldest_first_and_never_a_pinned_session(archived):
    assert invoke("pin", BLOG[:8]).exit_code == 0
    sizes = _sizes()
    result = invoke("prune", "--max-size", str(sizes[BLOG] + sizes[API]), "--yes")
    assert result.exit_code == 0, result.output
    assert "Deleted 1 archived version" in result.stdout and DB in result.stdout
    assert "1 pinned version kept" in result.stdout
    assert set(_sizes()) == {API, BLOG}


def test_prune_within_the_cap_has_nothing_to_do(archived):
    result = invoke("prune", "--max-size", "1GB", "--yes")
    assert result.exit_code == 0
    assert "Nothing to prune" in result.stdout


def test_prune_without_any_cap_is_a_usage_error(archived):
    result = invoke("prune", "--yes")
    assert result.exit_code == 2
    assert "--max-size" in result.stderr


def test_prune_uses_the_configured_cap(archived, home):
    sizes = _sizes()
    (home / "config.toml").write_text(f"max_total_bytes = {sum(sizes.values()) - sizes[BLOG]}\n")
    data = json.loads(invoke("prune", "--dry-run", "--json").stdout)
    assert [p["session_id"] for p in data["pruned"]] == [BLOG]


def test_prune_rejects_a_malformed_size(archived):
    result = invoke("prune", "--max-size", "lots")
    assert result.exit_code == 2
    assert "2GB" in result.stderr or "500MB" in result.stderr


def _prune_on_a_terminal(cap: int, answer: str) -> tuple[int, str, str]:
    pty = pytest.importorskip("pty")
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "termvault", "prune", "--max-size", str(cap)],
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=slave,
        text=True,
    )
    os.close(slave)
    os.write(master, answer.encode() + b"\n")
    stdout, _ = proc.communicate(timeout=120)
    seen = drain_pty(master)
    os.close(master)
    return proc.returncode, stdout, seen.decode(errors="replace")


def test_prune_on_a_terminal_asks_and_deletes_on_yes(archived):
    sizes = _sizes()
    code, stdout, terminal = _prune_on_a_terminal(sizes[API] + sizes[DB], "y")
    assert code == 0, terminal
    assert "Delete these 1 archived version?" in terminal
    assert BLOG in stdout.split("Delete")[0]  # the list came before the question
    assert set(_sizes()) == {API, DB}


def test_prune_on_a_terminal_keeps_everything_on_no(archived):
    sizes = _sizes()
    code, stdout, terminal = _prune_on_a_terminal(sizes[API], "n")
    assert code == 0
    assert "Nothing was deleted." in terminal
    assert set(_sizes()) == {API, DB, BLOG}


# -- pins -------------------------------------------------------------------------------
def test_pin_and_unpin_by_prefix(archived):
    proc = run("pin", API[:8])
    assert proc.returncode == 0, proc.stderr
    assert f"Pinned {API}" in proc.stdout
    assert json.loads(invoke("show", API, "--json").stdout)["pinned"] is True
    unpinned = run("unpin", API[:8])
    assert unpinned.returncode == 0 and f"Unpinned {API}" in unpinned.stdout
    assert json.loads(invoke("show", API, "--json").stdout)["pinned"] is False


def test_pin_of_an_unknown_or_ambiguous_id_fails(archived):
    assert invoke("pin", "zzz").exit_code == 1
    assert invoke("pin", "3f2").exit_code == 2


# -- reindex / import-legacy ------------------------------------------------------------
def test_reindex_rebuilds_a_lost_index_from_the_archives(archived, home):
    assert invoke("pin", DB).exit_code == 0
    for suffix in ("", "-wal", "-shm"):
        p = home / f"archive_index.sqlite3{suffix}"
        if p.exists():
            p.unlink()
    proc = run("reindex")
    assert proc.returncode == 0, proc.stderr
    assert "Rebuilt the index from 3 archived versions." in proc.stdout
    assert set(_sizes()) == {API, DB, BLOG}
    assert json.loads(invoke("show", DB, "--json").stdout)["pinned"] is True
    assert json.loads(invoke("search", "alembic", "--json").stdout)[0]["session_id"] == DB
    result = invoke("reindex")
    assert result.exit_code == 0 and "3 archived versions" in result.stdout


def test_import_legacy_indexes_the_older_apps_archives(home):
    with Vault(home) as vault:  # the index exists; the legacy file arrives afterwards
        rel = "2020/09/1600000000_legacy1.json.gz"
        target = vault.config.archive_dir / rel
        target.parent.mkdir(parents=True)
        state = SessionState("legacy1", name="Old one", working_directory="/old", modified_at=1_600_000_000.0)
        with gzip.open(target, "wb") as fh:
            fh.write(state.to_json())
        vault.import_legacy()
        vault.index.remove_entry("legacy1")  # as if it had never been imported
    assert invoke("search", "--json").exit_code == 1
    proc = run("import-legacy")
    assert proc.returncode == 0, proc.stderr
    assert "Imported 1 session" in proc.stdout
    hits = json.loads(invoke("search", "--json").stdout)
    assert [h["session_id"] for h in hits] == ["legacy1"] and hits[0]["status"] == "legacy"
    again = invoke("import-legacy")
    assert again.exit_code == 0 and "Nothing new to import" in again.stdout
