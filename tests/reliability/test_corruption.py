"""Damage to archives, to the index and to the older app's index: always detected, never
spread, and repairable from ``archive/`` alone."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import random
import sqlite3
import time
from pathlib import Path

import pytest

from termvault.errors import DataError
from termvault.state import SessionState
from termvault.vault import Vault

from . import harness as h

INDEX = "archive_index.sqlite3"


def corrupt_archive(path: Path, kind: str, rng: random.Random) -> None:
    """Damage one archive file the way disks and people do."""
    data = bytearray(path.read_bytes())
    if kind == "flip":
        bit = rng.randrange(len(data) * 8)
        data[bit // 8] ^= 1 << (bit % 8)
    elif kind == "truncate":
        data = data[: rng.randrange(len(data))]
    elif kind == "append":
        data += rng.randbytes(rng.randint(1, 64))
    elif kind == "zero-fill":
        start = rng.randrange(len(data))
        data[start : start + 512] = bytes(len(data[start : start + 512]))
    if kind == "delete":
        path.unlink()
    else:
        path.write_bytes(bytes(data))


FAULTS = ["flip", "truncate", "append", "zero-fill", "delete"]


def archived_world(root: Path, seed: int = 0) -> h.World:
    """A home with native and copy-mode sessions archived, one of them in two versions."""
    world = h.build_world(root, native=6, claude=3, seed=seed)
    h.archive_everything(world)
    grown = world.of_kind("claude-code")[0]
    with open(grown.path, "ab") as fh:
        fh.write(h.claude_record(grown.session_id, 99, "one more turn", 0))
    past = time.time() - 30 * h.DAY
    os.utime(grown.path, (past, past))
    with Vault(world.home) as v:
        assert [e.session_id for e in v.sweep(older_than=7, kinds=list(h.KINDS)).archived] == [grown.session_id]
    return world


def built_on(v: Vault, e) -> set[str]:
    """Archive paths of the versions stored as deltas on ``e`` (directly or not): a
    damaged base makes each of them unrestorable, so verify reports them too."""
    out, frontier = set(), [e]
    while frontier:
        cur = frontier.pop()
        for r in v.index.versions(cur.session_id):
            base = r.meta.get("delta_base")
            if base and base["content_sha256"] == cur.content_sha256 and r.version > cur.version:
                out.add(r.archive_path)
                frontier.append(r)
    return out


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_verify_detects_every_damaged_archive_and_changes_nothing(tmp_path):
    world = archived_world(tmp_path / "w")
    rng = random.Random(2024)
    with Vault(world.home) as v:
        entries = v.index.all_rows()
        injured = {}
        for n, e in enumerate(entries):
            if n % 4 == 3:
                continue  # some archives stay intact and must stay reported as such
            kind = FAULTS[n % len(FAULTS)]
            corrupt_archive(v.archive_file(e), kind, rng)
            injured[e.archive_path] = kind
        before = _tree(world.home / "archive")

        report = v.verify()

    detected = set(report.missing) | {path for path, _ in report.corrupt}
    with Vault(world.home) as v:
        unusable = set(injured).union(*(built_on(v, e) for e in entries if e.archive_path in injured))
    assert detected == unusable
    assert set(report.missing) == {p for p, k in injured.items() if k == "delete"}
    assert report.ok == len(entries) - len(unusable)
    assert _tree(world.home / "archive") == before  # verify is read-only


@pytest.mark.parametrize("seed", range(3))
def test_any_single_flipped_bit_in_any_archive_is_detected(seed, tmp_path):
    world = archived_world(tmp_path / "w", seed=seed)
    rng = random.Random(seed)
    with Vault(world.home) as v:
        for e in v.index.all_rows():
            path = v.archive_file(e)
            original = path.read_bytes()
            for _ in range(8):
                corrupt_archive(path, "flip", rng)
                report = v.verify()
                assert {p for p, _ in report.corrupt} == {e.archive_path} | built_on(v, e)
                path.write_bytes(original)
        assert v.verify().clean


def test_a_base_whose_bytes_changed_but_still_decode_is_reported_with_every_version_built_on_it(tmp_path):
    # A flipped bit can land where the stream still decodes to the same bytes (a zstd frame
    # header's window size): the unit's sha256 no longer matches, and the versions built on
    # it must be reported with it, not rebuilt from it as if it were sound. Re-encoding the
    # unit at another level makes such a change on purpose.
    import zstandard

    from termvault.archive.format import decompressor_for

    world = archived_world(tmp_path / "w")
    with Vault(world.home) as v:
        (base,) = [e for e in v.index.all_rows() if built_on(v, e)]
        path = v.archive_file(base)
        data = path.read_bytes()
        content = decompressor_for(data[:18], str(path)).decompressobj().decompress(data)
        path.write_bytes(zstandard.ZstdCompressor(level=1, write_checksum=True).compress(content))
        report = v.verify()
        corrupt = dict(report.corrupt)
        assert set(corrupt) == {base.archive_path} | built_on(v, base)
        assert corrupt[base.archive_path] == "the archive's sha256 differs from the index"
        assert all("which is damaged" in why for p, why in corrupt.items() if p != base.archive_path)


def test_reindex_from_archive_alone_rebuilds_an_index_equal_to_the_original(tmp_path):
    world = archived_world(tmp_path / "w")
    add_legacy(world.home, "legacy-a", 1_600_000_000.0)
    with Vault(world.home) as v:
        v.import_legacy()
        v.pin(world.of_kind("native")[1].session_id)
        hits = sorted(hit.entry.session_id for hit in v.search("commit"))
    rows = h.index_rows(world.home)
    assert any(r for r in rows if "legacy-a" in r) and len({r[0] for r in rows}) == len(world.sessions) + 1
    for suffix in ("", "-wal", "-shm"):
        Path(f"{world.home / INDEX}{suffix}").unlink(missing_ok=True)

    with Vault(world.home) as v:
        assert v.reindex() == len(rows)
        assert sorted(hit.entry.session_id for hit in v.search("commit")) == hits
        assert v.verify().clean
    assert h.index_rows(world.home) == rows


def _checkpoint(home: Path) -> None:
    db = sqlite3.connect(home / INDEX)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def damage_index(home: Path, how: str) -> None:
    path = home / INDEX
    _checkpoint(home)  # every page in the main file, so the damage is not masked by the WAL
    if how == "garbage-header":
        with open(path, "r+b") as fh:
            fh.write(b"this is not a SQLite database!!" * 4)
    elif how == "truncated":
        with open(path, "r+b") as fh:
            fh.truncate(path.stat().st_size // 2)
    elif how in ("damaged-page", "damaged-pointer-map"):
        # A page of the sessions table (every search reads it), or page 2: in a file with
        # incremental auto-vacuum, the pointer map only moving pages reads (verify checks it).
        db = sqlite3.connect(path)
        root = db.execute("SELECT rootpage FROM sqlite_schema WHERE name = 'sessions'").fetchone()[0]
        size = db.execute("PRAGMA page_size").fetchone()[0]
        db.close()
        with open(path, "r+b") as fh:
            fh.seek(size * ((root if how == "damaged-page" else 2) - 1))
            fh.write(random.Random(7).randbytes(size))


@pytest.mark.parametrize("how", ["garbage-header", "truncated", "damaged-page", "damaged-pointer-map"])
def test_a_damaged_index_is_a_clear_data_error_and_reindex_rebuilds_it(how, tmp_path):
    world = archived_world(tmp_path / "w")
    rows = h.index_rows(world.home)
    damage_index(world.home, how)

    with Vault(world.home) as v:  # the home still opens, or reindex could never run
        with pytest.raises(DataError, match="reindex"):
            v.verify()
        if how != "damaged-pointer-map":  # (searches read no pointer map: they stay right)
            with pytest.raises(DataError, match="reindex"):
                v.search("commit")
        assert v.reindex() == len(rows)
        assert v.verify().clean
    assert h.index_rows(world.home) == rows
    aside = [p.name for p in world.home.iterdir() if ".unreadable-" in p.name]
    assert aside and all(name.startswith(INDEX) for name in aside)  # kept, not deleted


def test_a_damaged_index_after_a_crash_still_opens_and_reindexes(tmp_path):
    world = archived_world(tmp_path / "w")
    rows = h.index_rows(world.home)
    damage_index(world.home, "garbage-header")
    (world.home / ".journal").write_text("12345 sweeping\n")  # as a killed sweep leaves it

    with Vault(world.home) as v:
        assert v.reindex() == len(rows)
        assert v.verify().clean
    assert h.index_rows(world.home) == rows
    assert not (world.home / ".journal").exists()


@pytest.mark.parametrize("how", ["deleted", "emptied"])
def test_a_lost_index_is_seen_by_verify_and_rebuilt_by_reindex(how, tmp_path):
    world = archived_world(tmp_path / "w")
    rows = h.index_rows(world.home)
    with Vault(world.home) as v:
        n_archives = len(v.index.all_rows())
    for suffix in ("", "-wal", "-shm"):
        p = Path(f"{world.home / INDEX}{suffix}")
        if how == "deleted" or suffix:
            p.unlink(missing_ok=True)
        else:
            p.write_bytes(b"")

    with Vault(world.home) as v:
        assert len(v.verify().orphaned) == n_archives
        v.reindex()
    assert h.index_rows(world.home) == rows


# -- the older app's index ------------------------------------------------------------------
def add_legacy(home: Path, session_id: str, modified_at: float) -> tuple[str, bytes]:
    """An archive as the older app wrote it: archive/YYYY/MM/{ts}_{id}.json.gz."""
    raw = SessionState(
        session_id,
        name=f"old {session_id}",
        working_directory="/old",
        modified_at=modified_at,
        output_snapshot="legacy output\n" * 5,
    ).to_json()
    t = time.gmtime(modified_at)
    rel = f"{t.tm_year:04d}/{t.tm_mon:02d}/{int(modified_at)}_{session_id}.json.gz"
    path = home / "archive" / rel
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with gzip.open(path, "wb") as fh:
        fh.write(raw)
    return rel, raw


HOSTILE_LEGACY_INDEXES = {
    "truncated": lambda good: good[: len(good) // 2],
    "binary": lambda good: bytes(range(256)) * 4,
    "a list": lambda good: b"[1, 2, 3]",
    "deeply nested": lambda good: b"[" * 100_000 + b"]" * 100_000,
    "escaping paths": lambda good: json.dumps(
        {"evil": {"archive_path": "../../../outside.json.gz"}, "x": {"archive_path": "/etc/passwd"}}
    ).encode(),
    "bad field types": lambda good: json.dumps(
        {
            sid: {**item, "original_timestamp": "yesterday", "archived_at": [1], "name": {"a": 1}}
            for sid, item in json.loads(good).items()
        }
    ).encode(),
    "unsafe ids": lambda good: json.dumps({f"../{sid}": item for sid, item in json.loads(good).items()}).encode(),
    "missing files": lambda good: json.dumps(
        {**json.loads(good), "gone": {"archive_path": "2019/01/1546300800_gone.json.gz"}}
    ).encode(),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_LEGACY_INDEXES))
def test_a_corrupt_legacy_index_never_wipes_or_hides_anything(name, tmp_path):
    world = h.build_world(tmp_path / "w", native=2, claude=0)
    home = world.home
    legacy = {sid: add_legacy(home, sid, 1_600_000_000.0 + n * 86400) for n, sid in enumerate(["l1", "l2", "l3"])}
    good = json.dumps(
        {
            sid: {
                "session_id": sid,
                "name": f"old {sid}",
                "archived_at": 1_600_100_000.0,
                "original_timestamp": 1_600_000_000.0,
                "archive_path": rel,
                "size_bytes": 1,
                "original_size_bytes": len(raw),
                "working_directory": "/old",
                "last_command": "ls",
            }
            for sid, (rel, raw) in legacy.items()
        }
    ).encode()
    (home / "archive_index.json").write_bytes(HOSTILE_LEGACY_INDEXES[name](good))
    before = _tree(home)

    with Vault(home) as v:
        for sid, (rel, raw) in legacy.items():
            entry = v.get(sid)
            assert entry.status == "legacy" and entry.archive_path == rel
            out = tmp_path / "restored" / sid
            v.restore(sid, to=out)
            (restored,) = [p for p in out.rglob("*") if p.is_file()]
            assert restored.read_bytes() == raw
        assert v.verify().clean
        v.reindex()
        assert {e.session_id for e in v.index.all_rows() if e.status == "legacy"} == set(legacy)

    after = _tree(home)
    kept = {k: b for k, b in before.items() if not k.startswith(INDEX)}
    assert {k: after.get(k) for k in kept} == kept  # nothing rewritten, nothing deleted
    assert not (tmp_path / "outside.json.gz").exists()
    assert hashlib.sha256(after["archive_index.json"]).digest() == hashlib.sha256(before["archive_index.json"]).digest()
