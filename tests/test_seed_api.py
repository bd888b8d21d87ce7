"""The multi-terminal app's archiving API: same names, same results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import pytest

from termvault import ArchiveEntry, ArchiveIndex, SessionArchiver, SessionState, SessionStorage

from .helpers import DAY, make_native


def test_archive_session_then_restore_is_byte_identical(home):
    path = make_native(home, "abc123", age_days=40, output_snapshot="héllo\x00\x1b[31mred\n" * 100)
    original = path.read_bytes()
    archiver = SessionArchiver(home)
    state = SessionState.from_json(original)

    assert archiver.archive_session(state, path) is True
    assert not path.exists()
    restored = archiver.restore_session("abc123")

    assert restored == state
    assert path.read_bytes() == original


def test_threshold_archives_exactly_the_sessions_older_than_it(home):
    now = time.time()
    ages = {"s10": 10, "s15": 15, "s3": 3, "s5": 5}
    paths = {sid: make_native(home, sid, age, now) for sid, age in ages.items()}
    archiver = SessionArchiver(home, archive_days=7)
    calls = []

    result = archiver.auto_archive_old_sessions(progress_callback=lambda c, t: calls.append((c, t)))

    assert result["archived_count"] == 2
    assert result["failed_count"] == 0
    assert isinstance(result["space_saved_mb"], float)
    assert calls == [(1, 2), (2, 2)]
    assert not paths["s10"].exists() and not paths["s15"].exists()
    assert paths["s3"].exists() and paths["s5"].exists()
    assert {e.session_id for e in archiver.index.search()} == {"s10", "s15"}


def test_progress_callback_is_called_for_failed_items_too(home):
    make_native(home, "good", age_days=20)
    bad = home / "history" / f"{int(time.time() - 20 * DAY)}_broken.json"
    bad.write_bytes(b"\xff\xfe not json at all")
    os.utime(bad, (time.time() - 20 * DAY,) * 2)
    archiver = SessionArchiver(home, archive_days=7)
    calls = []

    result = archiver.auto_archive_old_sessions(progress_callback=lambda c, t: calls.append((c, t)))

    # A malformed session is still archived raw (nothing is lost), with a parse warning.
    assert calls == [(1, 2), (2, 2)]
    assert result["archived_count"] + result["failed_count"] == 2
    entry = archiver.index.get_entry("broken")
    assert entry is not None and entry.meta["parse_warnings"] >= 1


@pytest.fixture
def searchable(home):
    now = time.time()
    specs = [
        ("alpha", "Deploy API", "/srv/api", 20),
        ("beta", "deploy web", "/srv/web", 25),
        ("gamma", "Refactor API", "/home/me/api", 30),
        ("delta", "notes", "/srv/api/docs", 35),
    ]
    for sid, name, folder, age in specs:
        make_native(home, sid, age, now, name=name, working_directory=folder)
    archiver = SessionArchiver(home, archive_days=7)
    # Give each a distinct archived_at so date filters and ordering are checkable.
    for n, (sid, *_rest) in enumerate(specs):
        assert archiver.auto_archive_old_sessions()["failed_count"] == 0 or True
    with archiver.index.transaction():
        db = archiver.index.db  # tests set up rows directly
        for n, (sid, *_rest) in enumerate(specs):
            db.execute("UPDATE sessions SET archived_at = ? WHERE session_id = ?", (1_000_000 + n * 1000, sid))
    return archiver


def test_search_by_name_is_a_case_insensitive_substring(searchable):
    assert {e.session_id for e in searchable.index.search(name="DEPLOY")} == {"alpha", "beta"}


def test_search_by_working_dir_is_a_substring(searchable):
    assert {e.session_id for e in searchable.index.search(working_dir="/srv/api")} == {"alpha", "delta"}


def test_search_by_dates_compares_archived_at_inclusively(searchable):
    found = searchable.index.search(after_date=1_001_000, before_date=1_002_000)
    assert [e.session_id for e in found] == ["gamma", "beta"]


def test_search_filters_combine_and_results_are_newest_first_with_limit(searchable):
    found = searchable.index.search(name="api", working_dir="api", limit=1)
    assert [e.session_id for e in found] == ["gamma"]
    assert [e.session_id for e in searchable.index.search()] == ["delta", "gamma", "beta", "alpha"]
    assert [e.session_id for e in searchable.index.search(limit=2)] == ["delta", "gamma"]


def test_stats_report_the_seed_keys(searchable):
    stats = searchable.get_archive_stats()
    assert stats["total_sessions"] == 4
    assert stats["oldest_archive"] == 1_000_000 and stats["newest_archive"] == 1_003_000
    assert stats["archive_days_threshold"] == 7
    assert stats["archive_directory"] == str(searchable.archive_dir)
    original = sum(e.original_size_bytes for e in searchable.index.search())
    archived = sum(e.size_bytes for e in searchable.index.search())
    assert stats["space_saved_mb"] == round((original - archived) / 1024 / 1024, 2)
    assert stats["total_size_mb"] == round(archived / 1024 / 1024, 2)


def test_empty_index_stats(home):
    stats = ArchiveIndex(home / "i.sqlite3").get_stats()
    assert stats["total_sessions"] == 0 and stats["oldest_archive"] is None and stats["total_size_mb"] == 0.0


def test_index_add_get_remove_entry(home):
    index = ArchiveIndex(home / "i.sqlite3")
    entry = ArchiveEntry("s1", "Name", 10.0, 5.0, "2024/01/5_s1.tar.zst", 100, 1000, "/tmp", "ls")
    assert index.add_entry(entry) is True
    got = index.get_entry("s1")
    assert (got.name, got.size_bytes, got.original_size_bytes, got.last_command) == ("Name", 100, 1000, "ls")
    assert index.remove_entry("s1") is True
    assert index.get_entry("s1") is None
    assert index.remove_entry("s1") is False


def test_entry_round_trips_through_dict():
    entry = ArchiveEntry("s1", "Name", 10.0, 5.0, "p", 1, 2, "/w")
    assert ArchiveEntry.from_dict(entry.to_dict()) == entry


def test_background_archiving_runs_at_start_and_stops_within_a_second(home):
    path = make_native(home, "old", age_days=40)
    archiver = SessionArchiver(home, archive_days=7)

    assert archiver.start_background_archiving(interval_hours=24) is True
    deadline = time.time() + 10
    while path.exists() and time.time() < deadline:
        time.sleep(0.05)
    assert not path.exists(), "the first sweep runs as soon as the thread starts"
    started = time.monotonic()
    archiver.stop_background_archiving()
    assert time.monotonic() - started < 1.0
    assert not archiver.background_running


@pytest.mark.parametrize("saved_before", [False, True])
def test_the_first_background_run_sweeps_only_when_history_held_something(home, monkeypatch, saved_before):
    # The app's own test script removes its storage folder as soon as it is done: a first
    # run that had nothing to sweep still made the index there, racing that removal.
    runs = []
    real = SessionArchiver._sweep

    def counted(self, *args, **kwargs):
        runs.append(args)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(SessionArchiver, "_sweep", counted)
    if saved_before:
        make_native(home, "old", age_days=40)
    storage = SessionStorage(home)
    try:
        deadline = time.time() + 10
        while not (home / ".sweeper.lock.info").exists() and time.time() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)  # the first run, had it been started, is done by now
        storage.get_archiver().stop_background_archiving()
    finally:
        storage.close()
    assert len(runs) == int(saved_before)


def test_only_one_background_sweeper_per_home_in_a_process(home):
    first = SessionStorage(home)
    second = SessionStorage(home)
    try:
        assert first.get_archiver().background_running
        assert not second.get_archiver().background_running
        sweepers = [t for t in threading.enumerate() if t.name.startswith("termvault-sweeper")]
        assert len(sweepers) == 1
    finally:
        first.close()
        second.close()


def test_a_second_process_does_not_sweep_while_the_first_holds_the_sweeper(home, tmp_path):
    holder = SessionStorage(home)  # this process takes the sweeper lock
    try:
        deadline = time.time() + 5
        while not (home / ".sweeper.lock.info").exists() and time.time() < deadline:
            time.sleep(0.05)
        # 10 days: due for the child's 7-day threshold, not for the holder's 30 days.
        make_native(home, "late", age_days=10)
        code = (
            "import sys, time; from termvault.archiver import SessionArchiver\n"
            f"a = SessionArchiver({str(home)!r}, archive_days=7)\n"
            "a.start_background_archiving(interval_hours=1)\n"
            "time.sleep(1.0)\n"
            "a.stop_background_archiving()\n"
            "print(a.index.get_entry('late') is None)\n"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert out.stdout.strip() == "True", out.stderr
    finally:
        holder.close()
    # Once the holder is gone, the same child does sweep.
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


def test_storage_saves_atomically_and_keeps_only_the_newest_file(home):
    storage = SessionStorage(home, enable_auto_archive=False)
    state = SessionState("s1", name="first", modified_at=1000.0)
    first = storage.save_session(state)
    state.name, state.modified_at = "second", 2000.0
    second = storage.save_session(state)

    assert not first.exists() and second.name == "2000_s1.json"
    assert storage.load_session("s1").name == "second"
    assert [s.session_id for s in storage.list_sessions()] == ["s1"]
    assert not list((home / "history").glob(".tv-*"))
    assert storage.delete_session("s1") is True
    assert storage.load_session("s1") is None


def test_archive_old_sessions_with_explicit_days(home):
    make_native(home, "a", age_days=3)
    make_native(home, "b", age_days=1)
    storage = SessionStorage(home)
    try:
        assert storage.archive_old_sessions(days=2)["archived_count"] == 1
        assert storage.get_archiver().index.get_entry("a") is not None
        assert storage.get_archiver().archive_days == 30  # the threshold was not changed
    finally:
        storage.close()


def test_with_archiving_disabled_there_is_no_archiver_and_nothing_is_archived(home):
    path = make_native(home, "a", age_days=40)
    storage = SessionStorage(home, enable_auto_archive=False)

    assert storage.get_archiver() is None
    assert storage.archive_old_sessions(days=2) == {"archived_count": 0, "failed_count": 0, "space_saved_mb": 0.0}
    assert path.exists()


def test_conversation_file_is_archived_and_restored_with_its_session(home, user_home):
    transcript = user_home / ".claude" / "projects" / "p" / "t.jsonl"
    transcript.parent.mkdir(parents=True)
    transcript.write_bytes(b'{"type":"user","message":{"content":"hi"}}\n')
    path = make_native(home, "withconv", age_days=40, conversation_file=str(transcript))
    original = path.read_bytes()
    archiver = SessionArchiver(home, archive_days=7)

    assert archiver.auto_archive_old_sessions()["archived_count"] == 1
    manifest = archiver.vault.manifest("withconv")
    assert [f.path for f in manifest.files] == [path.name, "_conversation/t.jsonl"]
    # The transcript belongs to Claude Code: it is copied into the unit, never deleted.
    assert transcript.exists()
    transcript.unlink()
    archiver.restore_session("withconv")
    assert path.read_bytes() == original
    assert transcript.read_bytes() == b'{"type":"user","message":{"content":"hi"}}\n'


def test_restore_of_unknown_session_returns_none(home):
    assert SessionArchiver(home).restore_session("nope") is None


def test_legacy_index_and_gzip_archives_are_imported_and_restorable(home):
    import gzip

    state = SessionState("legacy1", name="Old one", working_directory="/old", modified_at=1_600_000_000.0)
    raw = state.to_json()
    rel = "2020/09/1600000000_legacy1.json.gz"
    (home / "archive" / "2020" / "09").mkdir(parents=True)
    with gzip.open(home / "archive" / rel, "wb") as fh:
        fh.write(raw)
    # A second legacy archive the old JSON index never listed.
    other = SessionState("legacy2", name="Unlisted", modified_at=1_600_000_100.0)
    with gzip.open(home / "archive" / "2020" / "09" / "1600000100_legacy2.json.gz", "wb") as fh:
        fh.write(other.to_json())
    index_json = {
        "legacy1": {
            "session_id": "legacy1",
            "name": "Old one",
            "archived_at": 1_600_000_500.0,
            "original_timestamp": 1_600_000_000.0,
            "archive_path": rel,
            "size_bytes": 1,
            "original_size_bytes": len(raw),
            "working_directory": "/old",
            "last_command": "ls",
        }
    }
    (home / "archive_index.json").write_text(json.dumps(index_json))
    before = (home / "archive_index.json").read_bytes()

    archiver = SessionArchiver(home)

    assert {e.session_id for e in archiver.index.search()} == {"legacy1", "legacy2"}
    assert archiver.index.get_entry("legacy1").last_command == "ls"
    restored = archiver.restore_session("legacy1")
    assert restored.name == "Old one"
    assert (home / "history" / "1600000000_legacy1.json").read_bytes() == raw
    assert (home / "archive_index.json").read_bytes() == before  # never rewritten
    assert archiver.vault.verify().clean


def test_a_corrupt_legacy_index_never_wipes_the_gzip_archives(home):
    import gzip

    (home / "archive" / "2021" / "01").mkdir(parents=True)
    with gzip.open(home / "archive" / "2021" / "01" / "1610000000_x1.json.gz", "wb") as fh:
        fh.write(SessionState("x1", modified_at=1_610_000_000.0).to_json())
    (home / "archive_index.json").write_text("{ this is not json")

    archiver = SessionArchiver(home)

    assert archiver.index.get_entry("x1") is not None
    assert (home / "archive" / "2021" / "01" / "1610000000_x1.json.gz").exists()


@pytest.mark.parametrize("bad_id", [5, "", "../escape", None, ["a"]])
def test_a_history_file_with_an_unusable_session_id_is_skipped_by_the_history_readers(home, bad_id):
    """The app's history panel calls ``load_session_history``; one hand-edited or damaged
    file with a non-string or path-like session_id raised InvalidIdError out of it (and
    out of ``list_sessions``), so no history showed at all."""
    make_native(home, "good", age_days=1)
    (home / "history" / "100_bad.json").write_text(
        json.dumps({"session_id": bad_id, "name": "n", "working_directory": "/", "created_at": 1, "modified_at": 2})
    )
    storage = SessionStorage(home, enable_auto_archive=False)
    assert [s.session_id for s in storage.load_session_history()] == ["good"]
    assert [s.session_id for s in storage.list_sessions()] == ["good"]


@pytest.mark.parametrize(
    "session_id,archive_path",
    [("../evil", "2024/01/evil.tar.zst"), ("ok", "../../../etc/passwd"), ("ok", "/etc/passwd")],
)
def test_add_entry_refuses_an_id_or_archive_path_that_would_leave_its_folder(home, session_id, archive_path):
    """``ArchiveIndex.add_entry`` stored them, and one such row made ``verify`` and
    ``prune`` stop at it for the whole home ("would leave its folder; it is refused")."""
    make_native(home, "good", age_days=40)
    archiver = SessionArchiver(home)
    archiver.auto_archive_old_sessions()
    bad = ArchiveEntry(
        session_id=session_id, name="n", archived_at=1.0, original_timestamp=1.0, archive_path=archive_path,
        size_bytes=1, original_size_bytes=1, working_directory="/",
    )  # fmt: skip
    assert archiver.index.add_entry(bad) is False
    assert [e.session_id for e in archiver.index.search()] == ["good"]
    report = archiver.vault.verify()
    assert report.ok == 1 and not report.missing


def test_archive_session_refuses_a_file_outside_history_and_leaves_it(home, tmp_path):
    """``archive_session(state, path)`` archived any file it was given and, as a move,
    deleted it: a file outside the home, which `restore` then refuses to put back."""
    make_native(home, "inside", age_days=40)
    state = SessionStorage(home, enable_auto_archive=False).load_session("inside")
    outside = tmp_path / "elsewhere" / "notes.json"
    outside.parent.mkdir()
    outside.write_bytes(state.to_json())
    archiver = SessionArchiver(home)
    assert archiver.archive_session(state, outside) is False
    assert outside.read_bytes() == state.to_json()
    assert archiver.index.get_entry("inside") is None


def test_a_progress_callback_that_raises_neither_stops_the_run_nor_escapes_it(home, caplog):
    """The app's ``auto_archive_old_sessions`` logs a failing callback and goes on, and
    never raises; here the callback's error ended the sweep and escaped without the
    result, though sessions had been archived."""
    for n in range(4):
        make_native(home, f"s{n}", age_days=40 + n)
    calls = []

    def callback(current, total):
        calls.append(current)
        if len(calls) == 2:
            raise RuntimeError("the progress widget is gone")

    result = SessionArchiver(home).auto_archive_old_sessions(progress_callback=callback)
    assert result["archived_count"] == 4 and result["failed_count"] == 0
    assert calls == [1, 2, 3, 4]
    assert not list((home / "history").glob("*.json"))
    assert "the progress widget is gone" in caplog.text
