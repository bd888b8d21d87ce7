"""The app's own calls, in the order ``app.py`` makes them: start-up (storage, lazy
loader, workspaces, saved state), closing a session, the history browser, reopening the
last session and deleting one; then restart. Plus what termvault keeps of the app's
behaviour where the app lost data."""

from __future__ import annotations

import asyncio
import json
import os
import time

from claude_multi_terminal.persistence.session_state import (
    SessionState,
    WorkspaceData,
    WorkspaceState,
)
from claude_multi_terminal.persistence.storage import SessionStorage

DAY = 86400.0


def captured(session_id: str, name: str, lines: int = 50, modified_at: float | None = None) -> SessionState:
    """What ``_capture_session_state`` builds: the last 50 output lines as a list."""
    output = "\n".join(f"{name} line {i}" for i in range(80))
    snapshot = output.split("\n")[-lines:]
    now = time.time() if modified_at is None else modified_at
    return SessionState(
        session_id=session_id,
        name=name,
        working_directory="/home/me/proj",
        created_at=now - 60,
        modified_at=now,
        command_count=3,
        last_command="make",
        conversation_file=None,
        output_snapshot=snapshot,
        is_active=True,
    )


async def start_up(storage: SessionStorage):
    """``on_mount``: lazy loader for workspace 1 (or all workspaces), then the state."""
    workspaces = {}
    if storage.lazy_loading:
        loader = storage.get_lazy_loader()
        active = await loader.initialize(active_workspace_id=1)
        if active:
            workspaces = {1: active}
        await loader.shutdown()
    else:
        workspaces = storage.load_workspaces() or {}
    return workspaces, storage.load_state()


def test_the_app_s_session_lifecycle_runs_on_termvault(home):
    storage = SessionStorage()  # the app passes nothing: the home comes from the environment
    assert storage.storage_dir == home and storage.lazy_loading is True
    workspaces, state = asyncio.run(start_up(storage))
    assert workspaces == {} and state is None

    # Close a session: saved to history.
    closed = captured("a1b2c3d4", "build")
    assert storage.save_session_to_history(closed) is True
    on_disk = storage.history_dir / f"{int(closed.modified_at)}_a1b2c3d4.json"
    assert json.loads(on_disk.read_text())["output_snapshot"] == closed.output_snapshot

    # Exit: the workspace state and the named workspaces.
    other = captured("e5f6a7b8", "tests")
    assert storage.save_state(WorkspaceState(sessions=[other], active_session_id="e5f6a7b8")) is True
    ws = WorkspaceData(workspace_id="ws1", name="Workspace 1", sessions=[other], created_at=1.0, modified_at=2.0)
    assert storage.save_workspaces({1: ws}) is True

    # Restart.
    storage.close()
    storage = SessionStorage()
    workspaces, state = asyncio.run(start_up(storage))
    assert workspaces[1].sessions[0].output_snapshot == other.output_snapshot
    assert state.sessions[0] == other and state.active_session_id == "e5f6a7b8"
    assert storage.get_workspace_ids() == [1]
    assert storage.load_workspace_lazy(1).name == "Workspace 1"

    # History browser, then "reopen last" and delete.
    history = storage.load_session_history(limit=50)
    assert [s.session_id for s in history] == ["a1b2c3d4"] and history[0] == closed
    last = storage.load_session_history(limit=1)[0]
    assert last.output_snapshot[-1] == "build line 79"
    assert storage.delete_session_from_history(last.session_id) is True
    assert storage.load_session_history(limit=50) == []
    assert storage.delete_session_from_history(last.session_id) is False
    storage.close()


def test_without_lazy_loading_start_up_reads_every_workspace(home):
    storage = SessionStorage(lazy_loading=False, enable_auto_archive=False)
    ws = {n: WorkspaceData(f"ws{n}", f"W{n}", [captured(f"s{n}", f"s{n}")], 1.0, 2.0) for n in (1, 2)}
    storage.save_workspaces(ws)
    assert storage.get_lazy_loader() is None
    workspaces, _ = asyncio.run(start_up(storage))
    assert sorted(workspaces) == [1, 2] and workspaces[2].sessions[0].session_id == "s2"


def test_the_lazy_loader_loads_the_active_workspace_first_and_the_others_in_the_background(home):
    storage = SessionStorage(enable_auto_archive=False)
    storage.save_workspaces({n: WorkspaceData(f"ws{n}", f"W{n}", [], 1.0, 2.0) for n in (1, 2, 3)})

    async def run():
        loader = storage.get_lazy_loader()
        assert loader is storage.get_lazy_loader()
        active = await loader.initialize(active_workspace_id=2)
        for _ in range(100):
            if len(loader.background_loader.loaded_workspaces) == 2:
                break
            await asyncio.sleep(0.05)
        second = await loader.get_workspace(3)
        stats = loader.get_performance_stats()
        await loader.shutdown()
        return active, second, stats

    active, second, stats = asyncio.run(run())
    assert active.name == "W2" and second.name == "W3"
    assert stats["loaded_workspaces"] == 2 and stats["cache_hits"] >= 1 and stats["cache_max_size"] == 20


def test_a_corrupt_state_file_is_kept_aside_and_the_backup_is_loaded(home):
    storage = SessionStorage(enable_auto_archive=False)
    first = WorkspaceState(sessions=[captured("s1", "one")], active_session_id="s1")
    storage.save_state(first)
    storage.save_state(WorkspaceState(sessions=[], active_session_id=None))  # first becomes .bak
    storage.state_file.write_text("{not json")

    assert storage.load_state() == first
    assert list(home.glob("corrupted_*_workspace_state.json"))


def test_clear_old_history_archives_what_the_app_would_delete_and_returns_its_count(home):
    storage = SessionStorage(enable_auto_archive=False)
    old, recent = captured("old1", "old", modified_at=time.time() - 40 * DAY), captured("new1", "new")
    for s in (old, recent):
        storage.save_session_to_history(s)
    old_file = storage.history_dir / f"{int(old.modified_at)}_old1.json"
    original = old_file.read_bytes()
    os.utime(old_file, (old.modified_at, old.modified_at))

    assert storage.clear_old_history(days=30) == 1
    assert [s.session_id for s in storage.load_session_history()] == ["new1"]
    # Nothing was lost: the session is in a verified archive and restores byte for byte.
    from termvault import SessionArchiver

    archiver = SessionArchiver(home)
    assert archiver.restore_session("old1") == old
    assert old_file.read_bytes() == original
    archiver.close()


def test_a_restored_session_stays_in_history_across_sweeps_and_restarts(home):
    storage = SessionStorage(enable_auto_archive=False)
    s = captured("back1", "back", modified_at=time.time() - 40 * DAY)
    storage.save_session_to_history(s)
    assert storage.clear_old_history(days=30) == 0  # its file is new: clear_old_history goes by mtime
    path = storage.history_dir / f"{int(s.modified_at)}_back1.json"
    from termvault import SessionArchiver

    archiver = SessionArchiver(home, archive_days=30)
    assert archiver.auto_archive_old_sessions()["archived_count"] == 1  # its own time is 40 days ago
    assert not path.exists()

    assert archiver.restore_session("back1") == s and path.exists()
    assert archiver.auto_archive_old_sessions()["archived_count"] == 0
    archiver.close()
    # Restarting the app (which sweeps at start) does not undo the restore either.
    storage = SessionStorage()
    storage.archive_old_sessions()
    assert path.exists()
    storage.close()


def test_a_restore_hold_ends_after_the_threshold(home):
    from termvault import SessionArchiver, holds

    storage = SessionStorage(enable_auto_archive=False)
    s = captured("held1", "held", modified_at=time.time() - 40 * DAY)
    storage.save_session_to_history(s)
    path = storage.history_dir / f"{int(s.modified_at)}_held1.json"
    archiver = SessionArchiver(home, archive_days=30)
    archiver.auto_archive_old_sessions()
    archiver.restore_session("held1")
    assert archiver.auto_archive_old_sessions()["archived_count"] == 0 and path.exists()

    holds.record(home, "held1", time.time() - 31 * DAY)  # as if restored 31 days ago
    result = archiver.auto_archive_old_sessions()
    assert not path.exists()
    assert result["failed_count"] == 0
    archiver.close()


def test_archiving_disabled_means_no_archiver_as_in_the_app(home):
    storage = SessionStorage(enable_auto_archive=False)
    assert storage.get_archiver() is None
    assert storage.archive_old_sessions(days=1)["archived_count"] == 0
