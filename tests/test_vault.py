"""The Vault facade: restore, export, verify, repair, reindex, prune, pins, copy mode."""

from __future__ import annotations

import io
import os
import stat
import time
from pathlib import Path

import pytest

from termvault import Vault
from termvault.errors import AmbiguousIdError, ConflictError, HomeError, InvalidIdError, NotFoundError
from termvault.fsutil import validate_id

from .helpers import DAY, make_native, tree_bytes


@pytest.fixture
def vault(home):
    v = Vault(home, archive_days=7)
    yield v
    v.close()


def archived(vault: Vault, home: Path, *specs) -> dict[str, bytes]:
    originals = {}
    for sid, age in specs:
        originals[sid] = make_native(home, sid, age).read_bytes()
    report = vault.sweep()
    assert not report.failed
    return originals


def index_rows(vault: Vault) -> list[tuple]:
    rows = vault.index.query("SELECT * FROM sessions ORDER BY session_id, version")
    return [tuple(r[k] for k in r.keys() if k != "id") for r in rows]


def test_restore_refuses_to_overwrite_a_different_file_unless_forced(vault, home):
    originals = archived(vault, home, ("s1", 20))
    target = next((home / "archive").rglob("*.tar.zst"))
    assert target.exists()
    live = home / "history" / vault.manifest("s1").files[0].path
    live.write_bytes(b"something newer")

    with pytest.raises(ConflictError, match="already exists and differs"):
        vault.restore("s1")
    assert live.read_bytes() == b"something newer"

    result = vault.restore("s1", force=True)
    assert live.read_bytes() == originals["s1"]
    ((old_path, kept_as),) = result.set_aside
    assert Path(kept_as).read_bytes() == b"something newer"


def test_restore_leaves_an_identical_file_alone_and_restores_under_another_folder(vault, home, tmp_path):
    originals = archived(vault, home, ("s1", 20))
    result = vault.restore("s1", to=tmp_path / "elsewhere")
    restored = Path(result.restored[0])
    assert restored.parent == tmp_path / "elsewhere"
    assert restored.read_bytes() == originals["s1"]
    vault.restore("s1")
    again = vault.restore("s1")
    assert again.restored == [] and len(again.unchanged) == 1


def test_restored_file_keeps_its_mtime_and_private_mode(vault, home):
    path = make_native(home, "s1", 20)
    st = path.stat()
    vault.sweep()
    vault.restore("s1")
    back = path.stat()
    assert back.st_mtime_ns == st.st_mtime_ns
    assert stat.S_IMODE(back.st_mode) == stat.S_IMODE(st.st_mode)


def test_ids_resolve_by_unique_prefix_and_ambiguity_lists_candidates(vault, home):
    archived(vault, home, ("abc-1", 20), ("abc-2", 20), ("xyz", 20))
    assert vault.get("xy").session_id == "xyz"
    with pytest.raises(AmbiguousIdError) as err:
        vault.get("abc")
    assert err.value.candidates == ["abc-1", "abc-2"]
    with pytest.raises(NotFoundError):
        vault.get("nothing")


@pytest.mark.parametrize("version", [10**20, -(10**20), 0, -1])
def test_a_version_no_archive_can_have_is_not_found_not_a_crash(vault, home, version):
    # 10**20 does not fit SQLite's integers: `show --version`, `export --version` and
    # the MCP tools ended in OverflowError.
    archived(vault, home, ("abc-1", 20))
    with pytest.raises(NotFoundError, match=f"version {version} matches 'abc-1'"):
        vault.get("abc-1", version)


@pytest.mark.parametrize("bad", ["a/b", "..", "x..y", "a*", "a?", "nul\x00", "x" * 201, ".hidden", ""])
def test_unsafe_session_ids_are_refused(bad):
    with pytest.raises(InvalidIdError):
        validate_id(bad)


def test_export_raw_is_byte_identical_and_text_is_readable(vault, home):
    originals = archived(vault, home, ("s1", 20))
    raw = io.BytesIO()
    vault.export("s1", raw, fmt="raw")
    assert raw.getvalue() == originals["s1"]
    text = io.BytesIO()
    vault.export("s1", text, fmt="text")
    assert b"output of s1" in text.getvalue()


def test_export_of_a_live_session_not_yet_archived(vault, home):
    path = make_native(home, "live", 1)
    out = io.BytesIO()
    vault.export("live", out)
    assert out.getvalue() == path.read_bytes()


def test_verify_is_read_only_and_detects_corruption_missing_and_orphans(vault, home):
    archived(vault, home, ("a", 20), ("b", 21), ("c", 22))
    files = {e.session_id: vault.archive_file(e) for e in vault.index.search()}
    data = bytearray(files["a"].read_bytes())
    data[len(data) // 2] ^= 0x40
    files["a"].write_bytes(bytes(data))
    files["b"].unlink()
    orphan = files["c"].with_name("99_orphan.tar.zst")
    orphan.write_bytes(files["c"].read_bytes())
    before = tree_bytes(home / "archive")

    report = vault.verify()

    assert [p for p, _ in report.corrupt] == [vault.get("a").archive_path]
    assert report.missing == [vault.get("b").archive_path]
    assert report.orphaned == [orphan.relative_to(home / "archive").as_posix()]
    assert not report.clean
    assert tree_bytes(home / "archive") == before


def test_repair_marks_damage_and_adopts_verified_orphans(vault, home):
    archived(vault, home, ("a", 20))
    vault.index.remove_entry("a")  # the archive is now an orphan the index lacks

    report = vault.repair()

    assert any("indexed" in r for r in report.repaired)
    assert vault.get("a").status == "archived"
    assert vault.verify().clean


def test_reindex_rebuilds_an_index_equal_to_the_original(vault, home):
    archived(vault, home, ("a", 20), ("b", 30), ("c", 40))
    vault.pin("b")
    before = index_rows(vault)
    hits_before = [h.entry.session_id for h in vault.search("output")]
    vault.index.db.execute("DELETE FROM sessions")

    assert vault.reindex() == 3
    assert index_rows(vault) == before
    assert [h.entry.session_id for h in vault.search("output")] == hits_before
    assert vault.get("b").pinned


def test_prune_deletes_oldest_first_never_pinned_and_dry_run_deletes_nothing(vault, home):
    archived(vault, home, ("old", 50), ("mid", 40), ("new", 30), ("older", 60))
    vault.pin("older")
    sizes = {e.session_id: e.size_bytes for e in vault.index.search()}
    cap = sizes["new"] + sizes["older"]

    dry = vault.prune(max_bytes=cap, dry_run=True)
    assert [e.session_id for e in dry.pruned] == ["old", "mid"]
    assert dry.bytes_freed == sizes["old"] + sizes["mid"] and dry.skipped_pinned == 1
    assert len(vault.index.search()) == 4

    done = vault.prune(max_bytes=cap)
    assert [e.session_id for e in done.pruned] == ["old", "mid"]
    assert {e.session_id for e in vault.index.search()} == {"new", "older"}
    assert done.total_after <= cap
    assert vault.verify().clean


def test_sweep_prunes_to_the_configured_cap_and_reports_it(home):
    for n in range(4):
        make_native(home, f"s{n}", 20 + n)
    v = Vault(home, archive_days=7, max_total_bytes=1)
    report = v.sweep()
    d = report.to_dict()
    assert d["archived_count"] == 4 and d["pruned_count"] == 4 and d["bytes_freed"] > 0


def test_copy_mode_keeps_the_source_and_archives_a_new_version_when_it_changes(home, user_home):
    root = user_home / "logs"
    root.mkdir()
    log = root / "pane1.log"
    log.write_bytes(b"line one\n")
    old = time.time() - 3600
    os.utime(log, (old, old))
    v = Vault(home, sources={"agent-log": {"roots": [str(root)], "mode": "copy"}}, settle_seconds=60)
    first = v.sweep(kinds=["agent-log"])
    assert len(first.archived) == 1 and log.exists()
    assert v.sweep(kinds=["agent-log"]).archived == []  # unchanged: skipped cheaply

    with log.open("ab") as fh:
        fh.write(b"line two\n")
    os.utime(log, (old + 60, old + 60))
    assert len(v.sweep(kinds=["agent-log"]).archived) == 1
    sid = first.archived[0].session_id
    assert [e.version for e in v.index.versions(sid)] == [1, 2]
    out = io.BytesIO()
    v.export(sid, out, version=1)
    assert out.getvalue() == b"line one\n"
    out = io.BytesIO()
    v.export(sid, out)
    assert out.getvalue() == b"line one\nline two\n"


def test_a_session_appended_to_while_it_is_archived_loses_no_byte(home):
    path = make_native(home, "busy", 20)
    first_bytes = path.read_bytes()

    def append_during_write(step: str) -> None:
        if step == "write-member" and path.exists():
            with path.open("ab") as fh:
                fh.write(b"\nappended")

    v = Vault(home, archive_days=7, fault=append_during_write)
    report = v.sweep()
    # The archive holds the snapshot that was read; the grown file is not deleted.
    assert len(report.archived) == 1
    assert path.read_bytes() == first_bytes + b"\nappended"
    out = io.BytesIO()
    v.export("busy", out)
    assert out.getvalue() == first_bytes
    v.close()
    # The next sweep archives the grown file as a new version and removes it.
    v2 = Vault(home, archive_days=7)
    os.utime(path, (time.time() - 20 * DAY,) * 2)
    v2.sweep()
    out = io.BytesIO()
    v2.export("busy", out)
    assert out.getvalue() == first_bytes + b"\nappended"
    assert not path.exists()


def test_home_files_are_private(vault, home):
    archived(vault, home, ("a", 20))
    vault.restore("a", to=home / "restored")
    for p in [home, *home.rglob("*")]:
        mode = stat.S_IMODE(p.stat().st_mode)
        if p.is_dir():
            assert mode == 0o700, p
        elif p.suffix != ".json" or "history" not in p.parts:
            assert mode & 0o077 == 0, p


def test_a_world_writable_home_is_refused(home):
    home.mkdir(parents=True)
    home.chmod(0o777)
    with pytest.raises(HomeError, match="world-writable"):
        Vault(home)
