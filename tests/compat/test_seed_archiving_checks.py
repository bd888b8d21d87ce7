"""Every check of the app's ``test_archiving_system.py``, same inputs and expectations,
through the app's own module paths."""

from __future__ import annotations

import json
import time
from pathlib import Path

from claude_multi_terminal.archiver import ArchiveEntry, ArchiveIndex, SessionArchiver
from claude_multi_terminal.persistence.session_state import SessionState
from claude_multi_terminal.persistence.storage import SessionStorage

DAY = 24 * 60 * 60


def app_session(session_id: str, name: str, age_days: int) -> SessionState:
    """The script's ``create_test_session``."""
    stamp = time.time() - age_days * DAY
    return SessionState(
        session_id=session_id,
        name=name,
        working_directory=f"/home/user/project_{name.lower()}",
        created_at=stamp,
        modified_at=stamp,
        command_count=10,
        last_command=f"echo 'test {name}'",
    )


def write_history(history: Path, session: SessionState) -> Path:
    """The script writes the first seven fields with a plain ``json.dump`` (no snapshot)."""
    path = history / f"{int(session.modified_at)}_{session.session_id}.json"
    fields = ("session_id", "name", "working_directory", "created_at", "modified_at", "command_count", "last_command")
    path.write_text(json.dumps({k: getattr(session, k) for k in fields}))
    return path


def test_archive_index_adds_finds_searches_counts_and_persists_entries(tmp_path):
    index_file = tmp_path / "test_index.json"
    index = ArchiveIndex(index_file)
    now = time.time()
    index.add_entry(
        ArchiveEntry(
            session_id="session1",
            name="Test Session 1",
            archived_at=now,
            original_timestamp=now - 86400,
            archive_path="2024/01/123456_session1.json.gz",
            size_bytes=1024,
            original_size_bytes=10240,
            working_directory="/home/user/project1",
        )
    )
    index.add_entry(
        ArchiveEntry(
            session_id="session2",
            name="Test Session 2",
            archived_at=now,
            original_timestamp=now - 172800,
            archive_path="2024/01/123457_session2.json.gz",
            size_bytes=2048,
            original_size_bytes=20480,
            working_directory="/home/user/project2",
            last_command="ls -la",
        )
    )

    assert index.get_entry("session1").name == "Test Session 1"
    assert [e.session_id for e in index.search(name="Session 1")] == ["session1"]
    assert [e.session_id for e in index.search(working_dir="project2")] == ["session2"]
    stats = index.get_stats()
    assert stats["total_sessions"] == 2
    assert stats["total_size_mb"] == round(3072 / (1024 * 1024), 2)
    assert stats["space_saved_mb"] == round(27648 / (1024 * 1024), 2)
    index.close()
    assert len(ArchiveIndex(index_file).entries) == 2


def test_entries_is_a_read_only_mapping_of_the_newest_versions(tmp_path):
    index = ArchiveIndex(tmp_path / "index.sqlite3")
    index.add_entry(ArchiveEntry("s1", "one", 10.0, 5.0, "2024/01/5_s1.tar.zst", 10, 100, "/w"))

    assert list(index.entries) == ["s1"] and index.entries["s1"].name == "one"
    assert [e.session_id for e in index.entries.values()] == ["s1"]
    assert "nope" not in index.entries
    try:
        index.entries["s2"] = index.entries["s1"]  # type: ignore[index]
    except TypeError:
        pass
    else:
        raise AssertionError("entries accepted an assignment")


def test_a_session_is_archived_out_of_history_and_restored_with_its_fields(home):
    history = home / "history"
    history.mkdir(parents=True)
    archiver = SessionArchiver(storage_dir=home, archive_days=30)
    session = app_session("test123", "TestSession", age_days=35)
    path = write_history(history, session)
    original = path.read_bytes()

    assert archiver.archive_session(session, path) is True
    assert not path.exists()
    entry = archiver.index.get_entry("test123")
    assert entry is not None and entry.name == "TestSession"

    restored = archiver.restore_session("test123")
    assert restored is not None
    assert (restored.session_id, restored.name, restored.working_directory) == (
        "test123",
        "TestSession",
        session.working_directory,
    )
    # termvault writes it back as well, byte for byte.
    assert path.read_bytes() == original
    archiver.close()


def test_auto_archiving_takes_the_two_old_sessions_it_was_just_given_and_leaves_the_new(home):
    history = home / "history"
    history.mkdir(parents=True)
    archiver = SessionArchiver(storage_dir=home, archive_days=7)
    for s in (
        app_session("old1", "OldSession1", 10),
        app_session("old2", "OldSession2", 15),
        app_session("new1", "NewSession1", 3),
        app_session("new2", "NewSession2", 5),
    ):
        write_history(history, s)  # written just now: their age is their own modified_at

    result = archiver.auto_archive_old_sessions()

    assert result["archived_count"] == 2 and result["failed_count"] == 0
    assert archiver.index.get_entry("old1") is not None and archiver.index.get_entry("old2") is not None
    assert len(list(history.glob("*_new1.json"))) == 1 and len(list(history.glob("*_new2.json"))) == 1
    archiver.close()


def test_storage_with_archiving_enabled_archives_five_old_sessions_on_request(home):
    storage = SessionStorage(storage_dir=home, lazy_loading=False, enable_auto_archive=True)
    archiver = storage.get_archiver()
    assert archiver is not None
    for i in range(5):
        write_history(storage.history_dir, app_session(f"session{i}", f"Session{i}", 40))

    result = storage.archive_old_sessions(days=30)

    assert result["archived_count"] == 5
    assert archiver.get_archive_stats()["total_sessions"] == 5
    storage.close()


def test_archive_search_by_name_folder_date_and_combined_with_a_limit(home):
    archiver = SessionArchiver(storage_dir=home)
    base = time.time()
    for i in range(10):
        archiver.index.add_entry(
            ArchiveEntry(
                session_id=f"session{i}",
                name=f"BuildSession{i}" if i % 2 == 0 else f"TestSession{i}",
                archived_at=base - i * 86400,
                original_timestamp=base - (i + 30) * 86400,
                archive_path=f"2024/01/{int(base - i * 86400)}_session{i}.json.gz",
                size_bytes=1024 * (i + 1),
                original_size_bytes=10240 * (i + 1),
                working_directory=f"/home/user/{'builds' if i % 2 == 0 else 'tests'}/project{i}",
            )
        )

    assert len(archiver.index.search(name="Build")) == 5
    assert len(archiver.index.search(working_dir="tests")) == 5
    assert len(archiver.index.search(after_date=base - 4.5 * 86400)) == 5
    assert len(archiver.index.search(name="Test", working_dir="tests", limit=3)) == 3
    archiver.close()
