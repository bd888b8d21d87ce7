"""A row's metadata is stored without what its columns and the defaults already say, and
read back exactly as it was written (``index.rows.LEAN``)."""

from __future__ import annotations

import itertools
import json
import sqlite3

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from termvault.archive.manifest import META_DEFAULTS
from termvault.index import ArchiveIndex
from termvault.index.db import MIGRATIONS
from termvault.index.rows import DEFAULTS, LEAN, MIRRORED
from termvault.model import ArchiveEntry

_IDS = itertools.count()


def _entry(meta: dict, **columns) -> ArchiveEntry:
    n = next(_IDS)
    values = {
        "name": "build the parser",
        "working_directory": "/home/me/p",
        "last_command": "make test",
        "created_at": 1_700_000_000.25,
        "last_activity_at": 1_700_000_600.5,
        **columns,
    }
    return ArchiveEntry(
        session_id=f"s{n}", archived_at=1_700_000_700.0, original_timestamp=values["last_activity_at"],
        archive_path=f"2023/11/{n}.tar.zst", size_bytes=10, original_size_bytes=20, source="native",
        meta=meta, **values,
    )  # fmt: skip


def _complete(**changes) -> dict:
    """Metadata as a source gives it: every key, the mirrored ones equal to the columns."""
    meta = {
        **DEFAULTS, "name": "build the parser", "working_directory": "/home/me/p", "last_command": "make test",
        "created_at": 1_700_000_000.25, "last_activity_at": 1_700_000_600.5, "extra": {"version": "2.1"},
    }  # fmt: skip
    meta.update(changes)
    return meta


@pytest.fixture
def index(tmp_path):
    idx = ArchiveIndex(tmp_path / "archive_index.sqlite3")
    yield idx
    idx.close()


def _stored(index: ArchiveIndex, session_id: str) -> str:
    return index.query("SELECT meta FROM sessions WHERE session_id = ?", (session_id,))[0]["meta"]


def test_a_complete_meta_is_stored_without_its_columns_and_defaults_and_read_back_whole(index):
    meta = _complete(message_count=3, model="claude-sonnet-4-6")
    entry = _entry(dict(meta))
    index.insert(entry)
    assert json.loads(_stored(index, entry.session_id)) == {
        "extra": {"version": "2.1"}, "message_count": 3, "model": "claude-sonnet-4-6", LEAN: 1,
    }  # fmt: skip
    back = index.get_entry(entry.session_id)
    assert _exactly(back.meta) == _exactly(meta) and list(back.meta) == sorted(meta)


@pytest.mark.parametrize(
    ("meta", "columns"),
    [
        (_complete(name="another name"), {}),  # a mirrored key that differs from its column
        ({k: v for k, v in _complete().items() if k != "git_branch"}, {}),  # a default missing
        ({k: v for k, v in _complete().items() if k != "last_command"}, {}),  # a mirrored key missing
        (_complete(created_at=1_700_000_000), {"created_at": 1_700_000_000}),  # an int time (REAL gives a float)
        (_complete(message_count=True), {}),  # a default's value of another type
        (_complete(**{LEAN: 1}), {}),  # a key of the marker's own name
        ({LEAN: {"whole": {"a": 1}}}, {}),
        ({"count": 2}, {}),  # what the seed API's add_entry may give
        ({}, {}),
    ],
)
def test_any_other_meta_reads_back_exactly_as_written(index, meta, columns):
    entry = _entry(json.loads(json.dumps(meta)), **columns)
    index.insert(entry)
    assert _exactly(index.get_entry(entry.session_id).meta) == _exactly(meta)


def _exactly(meta: dict) -> str:
    # (1 == 1.0 == True in Python: JSON tells them apart, as a listing's --json does)
    return json.dumps(meta, sort_keys=True)


_VALUES = st.one_of(st.none(), st.integers(-3, 3), st.floats(allow_nan=False), st.text(max_size=8), st.booleans())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    dropped=st.sets(st.sampled_from([*MIRRORED, *DEFAULTS])),
    changed=st.dictionaries(st.sampled_from([*MIRRORED, *DEFAULTS, LEAN, "x"]), _VALUES, max_size=4),
    last_command=st.one_of(st.none(), st.text(max_size=12)),
    created_at=st.one_of(st.none(), st.floats(-1.0, 2e9), st.just(-0.0)),
)
def test_every_meta_round_trips(index, dropped, changed, last_command, created_at):
    meta = _complete(last_command=last_command, created_at=created_at)
    meta.update(changed)
    for k in dropped:
        meta.pop(k, None)
    entry = _entry(meta, last_command=last_command, created_at=created_at)
    index.insert(entry)  # (redacts and cleans entry in place: the meta to compare with)
    assert _exactly(index.get_entry(entry.session_id).meta) == _exactly(entry.meta)


def test_the_index_keeps_the_defaults_of_the_archive_manifest():
    # index/ cannot import archive/ (same layer): its copy must not drift from the manifest's.
    assert {k: v for k, v in META_DEFAULTS.items() if k not in MIRRORED} == DEFAULTS


def test_an_index_written_before_lean_rows_is_made_lean_when_opened_and_reads_the_same(tmp_path):
    path = tmp_path / "archive_index.sqlite3"
    created = ArchiveIndex(path)
    entries = [_entry(_complete(message_count=5)), _entry({"count": 2}), _entry(_complete(**{LEAN: 1}))]
    for e in entries:
        created.insert(e)
    before = {e.session_id: created.get_entry(e.session_id).meta for e in entries}
    created.close()
    db = sqlite3.connect(path)  # as an older termvault left it: whole metadata, the old index
    for e in entries:
        db.execute(
            "UPDATE sessions SET meta = ? WHERE session_id = ?", (json.dumps(before[e.session_id]), e.session_id)
        )
    db.execute("CREATE INDEX sessions_id_version ON sessions (session_id, version DESC)")
    db.execute("DELETE FROM schema_migrations WHERE name = ?", (MIGRATIONS[7].__name__,))
    db.commit()
    db.close()
    index = ArchiveIndex(path)
    try:
        assert {e.session_id: index.get_entry(e.session_id).meta for e in entries} == before
        assert json.loads(_stored(index, entries[0].session_id))[LEAN] == 1
        assert json.loads(_stored(index, entries[1].session_id)) == {"count": 2}
        names = {r["name"] for r in index.query("SELECT name FROM sqlite_schema WHERE type = 'index'")}
        assert "sessions_id_version" not in names
    finally:
        index.close()


def test_a_swept_session_row_is_lean_and_lists_its_metadata(home):
    from termvault.vault import Vault

    from .helpers import make_native

    sid = "3f2a9c41-7d0e-4b8a-9a5e-0123456789ab"
    make_native(home, sid, age_days=10)
    with Vault(home, settle_seconds=0) as vault:
        vault.sweep(older_than=0)
        _check_lean(vault, sid)


def _check_lean(vault, sid: str) -> None:
    entry = vault.get(sid)
    stored = json.loads(vault.index.query("SELECT meta FROM sessions WHERE session_id = ?", (sid,))[0]["meta"])
    assert stored.get(LEAN) == 1 and not set(stored) & set(MIRRORED)
    assert entry.meta["name"] == entry.name and entry.meta["working_directory"] == entry.working_directory
    assert set(DEFAULTS) <= set(entry.meta)
