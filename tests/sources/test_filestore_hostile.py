"""Hostile content inside real AgentMux and Wave databases: every file is archived raw and
restores byte for byte, exports stay free of control sequences, and zone ids that could
leave a folder are never used as paths."""

from __future__ import annotations

import io

import pytest

from termvault.vault import Vault
from tests.reliability.test_hostile import hostile_contents

from . import filestore_builder as b

DAY_MS = 86_400_000


def _store(user_home, kind, app: str):
    """An empty FileStore and objects database where ``app`` keeps them: (filestore, objects)."""
    data = user_home / ".local" / "share" / "waveterm" if app == "wave" else user_home / ".agentmux"
    db, objects = data / "db" / "filestore.db", data / "db" / ("waveterm.db" if app == "wave" else "objects.db")
    b.create_filestore(db, kind)
    b.create_objects(objects, kind)
    return db, objects


@pytest.mark.parametrize("kind,app,name", [(b.AGENTMUX_V2, "agentmux", "output"), (b.WAVE, "wave", "term")])
def test_hostile_file_bodies_in_a_filestore_archive_raw_and_restore_byte_for_byte(user_home, tmp_path, kind, app, name):
    db, objects = _store(user_home, kind, app)
    bodies = {label: body for label, body in hostile_contents(big_line=200_000).items()}
    old = b.now_ms() - 10 * DAY_MS
    w = b.Writer(db, kind)
    blocks = {}
    for label, body in bodies.items():
        pane = b.add_pane(
            objects,
            {"view": "agent" if app == "agentmux" else "term", "frame:title": label, "cmd:cwd": "../../..\x1b[31m"},
        )
        w.make_file(pane.block, name, {"maxsize": b.WAVE_TERM_MAX, "circular": True} if app == "wave" else None, ts=old)
        w.append(pane.block, name, body, ts=old)
        blocks[pane.block] = body
    # Zone ids that would be paths are skipped, not followed.
    for zone in ("../../escape", "a/b", ".hidden"):
        w.make_file(zone, name, ts=old)
        w.append(zone, name, b"should not be archived\n", ts=old)
    w.close()
    with Vault(settle_seconds=0) as vault:
        report = vault.sweep(kinds=[app])
        archived = {e.meta["extra"]["zoneid"] for e in report.archived}
        assert not report.failed
        # Blank-only bodies are not agent output worth keeping (as AgentMux); all others are kept.
        assert archived == {z for z, body in blocks.items() if app == "wave" or body.strip()}
        for zone in archived:
            session_id = next(e.session_id for e in report.archived if e.meta["extra"]["zoneid"] == zone)
            out = io.BytesIO()
            vault.export(session_id, out, fmt="raw", file=f"{zone}/{name}")
            assert out.getvalue() == blocks[zone]
            text = io.BytesIO()
            vault.export(session_id, text, fmt="text")
            assert "\x1b" not in text.getvalue().decode()
            vault.restore(session_id, to=tmp_path / "restored")
            assert (tmp_path / "restored" / zone / name).read_bytes() == blocks[zone]


def _two_panes(user_home, kind, app: str, name: str, damage_sql: str):
    """A FileStore of ``app`` with a good and a bad pane, ten days old, and ``damage_sql``
    (a statement with one ``?``, the zone) run on the bad one's rows: (database, zones)."""
    db, objects = _store(user_home, kind, app)
    old = b.now_ms() - 10 * DAY_MS
    w = b.Writer(db, kind)
    blocks = []
    for label in ("good", "bad"):
        pane = b.add_pane(objects, {"view": "agent" if app == "agentmux" else "term", "frame:title": label})
        w.make_file(pane.block, name, {"maxsize": b.WAVE_TERM_MAX, "circular": True}, ts=old)
        w.append(pane.block, name, f"output of the {label} pane\n".encode(), ts=old)
        blocks.append(pane.block)
    w.close()
    conn = b.connect(db)
    conn.execute(damage_sql, (blocks[1],))
    conn.close()
    return db, blocks


@pytest.mark.parametrize("kind,app,name", [(b.AGENTMUX_V2, "agentmux", "output"), (b.WAVE, "wave", "term")])
@pytest.mark.parametrize(
    "damage",
    ["size = 'abc'", "createdts = X'00'", "modts = 'soon'", """opts = '{"circular": true, "maxsize": 1e999}'"""],
)
def test_a_row_with_a_damaged_value_is_skipped_with_a_warning_and_the_others_are_archived(
    user_home, kind, app, name, damage, caplog
):
    """SQLite keeps any type in any column: one damaged row must not end the sweep of every
    source (it raised ValueError / OverflowError out of discovery)."""
    db, blocks = _two_panes(user_home, kind, app, name, f"UPDATE db_wave_file SET {damage} WHERE zoneid = ?")
    with caplog.at_level("WARNING"), Vault(settle_seconds=0) as vault:
        report = vault.sweep(kinds=[app])
    archived = sorted(e.meta["extra"]["zoneid"] for e in report.archived)
    if damage.startswith("opts"):  # an unusable window size reads as "not circular": the file is kept whole
        assert archived == sorted(blocks)
    else:
        assert archived == [blocks[0]]
        assert blocks[1] in caplog.text and str(db) in caplog.text


@pytest.mark.parametrize("kind,app,name", [(b.AGENTMUX_V2, "agentmux", "output"), (b.WAVE, "wave", "term")])
@pytest.mark.parametrize("part", ["400000000000", "'text, not bytes'", "1.5"])
def test_a_data_part_that_is_not_a_blob_fails_that_pane_alone(user_home, kind, app, name, part):
    """A part stored as an integer became ``bytes(n)``: n zero bytes (400 GB asked of
    memory for this one); text or a float raised TypeError out of the sweep."""
    _, blocks = _two_panes(user_home, kind, app, name, f"UPDATE db_file_data SET data = {part} WHERE zoneid = ?")
    with Vault(settle_seconds=0) as vault:
        report = vault.sweep(kinds=[app])
    assert [e.meta["extra"]["zoneid"] for e in report.archived] == [blocks[0]]
    assert len(report.failed) == 1 and "damaged" in report.failed[0].reason
