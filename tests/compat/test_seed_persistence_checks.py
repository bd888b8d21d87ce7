"""Every check of the app's ``test_persistence.py``, same inputs and expectations,
through the app's own module paths."""

from __future__ import annotations

import time

from claude_multi_terminal.persistence.session_state import SessionState, WorkspaceState
from claude_multi_terminal.persistence.storage import SessionStorage


def session() -> SessionState:
    now = time.time()
    return SessionState(
        session_id="test-123",
        name="Test Session",
        working_directory="/tmp",
        created_at=now,
        modified_at=now,
        command_count=5,
        last_command="ls -la",
    )


def workspace(s: SessionState) -> WorkspaceState:
    ws = WorkspaceState()
    ws.sessions.append(s)
    ws.active_session_id = s.session_id
    return ws


def test_a_session_state_keeps_its_fields_and_starts_with_an_empty_snapshot_list():
    s = session()
    assert (s.session_id, s.name, s.command_count) == ("test-123", "Test Session", 5)
    assert isinstance(s.output_snapshot, list) and len(s.output_snapshot) == 0


def test_a_workspace_state_holds_its_sessions_the_active_one_and_version_1_0():
    s = session()
    ws = workspace(s)
    assert len(ws.sessions) == 1 and ws.active_session_id == s.session_id and ws.version == "1.0"


def test_a_workspace_state_round_trips_through_json():
    text = workspace(session()).to_json()
    assert isinstance(text, str) and len(text) > 0 and "test-123" in text
    back = WorkspaceState.from_json(text)
    assert len(back.sessions) == 1
    assert (back.sessions[0].session_id, back.sessions[0].name) == ("test-123", "Test Session")
    assert back.active_session_id == "test-123"


def test_storage_saves_and_loads_state_and_history_then_deletes_and_clears(home):
    s = session()
    storage = SessionStorage(storage_dir=home)
    assert storage.storage_dir == home
    assert storage.state_file.exists() is False
    assert storage.history_dir.exists() is True

    assert storage.save_state(workspace(s)) is True and storage.state_file.exists() is True
    loaded = storage.load_state()
    assert loaded is not None and len(loaded.sessions) == 1 and loaded.sessions[0].name == "Test Session"

    assert storage.save_session_to_history(s) is True
    history = storage.load_session_history(limit=10)
    assert len(history) == 1 and history[0].session_id == "test-123"

    stats = storage.get_storage_stats()
    assert stats["total_sessions"] == 1 and stats["storage_size_mb"] > 0

    assert storage.delete_session_from_history(s.session_id) is True
    assert len(storage.load_session_history(limit=10)) == 0
    assert storage.clear_old_history(days=30) == 0
    storage.close()
