"""Data-safety rules found by review: each test describes a way a session could have been
lost, or a write could have escaped, and shows it cannot happen."""

from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path

import pytest

from termvault import Vault
from termvault.errors import DataError
from termvault.fsutil import remove_if_unchanged

from .helpers import DAY, make_native


def test_a_new_version_of_a_pinned_session_is_pinned_and_never_pruned(home):
    make_native(home, "s1", 20)
    v = Vault(home, archive_days=7)
    v.sweep()
    v.pin("s1")
    make_native(home, "s1", 15, output_snapshot="changed content\n" * 50)
    v.sweep()
    assert v.get("s1").version == 2 and v.get("s1").pinned
    report = v.prune(max_bytes=0)
    assert report.pruned == [] and report.skipped_pinned == 2
    assert [e.version for e in v.index.versions("s1")] == [1, 2]


def test_a_source_equal_to_an_archived_version_is_kept_when_that_archive_is_damaged(home):
    path = make_native(home, "s1", 20)
    original = path.read_bytes()
    v = Vault(home, archive_days=7)
    v.sweep()
    path.write_bytes(original)  # the same bytes back, by hand (a restore would hold it back)
    archive = v.archive_file(v.get("s1"))
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    archive.write_bytes(bytes(data))

    report = v.sweep()

    assert report.failed and path.read_bytes() == original


def test_copy_mode_archives_again_when_the_newest_version_went_missing(home, user_home):
    root = user_home / "logs"
    root.mkdir()
    log = root / "pane.log"
    log.write_bytes(b"precious\n")
    os.utime(log, (time.time() - 3600,) * 2)
    v = Vault(home, sources={"agent-log": {"roots": [str(root)]}}, settle_seconds=60)
    (entry,) = v.sweep(kinds=["agent-log"]).archived
    v.archive_file(entry).unlink()
    v.repair()
    assert v.get(entry.session_id).status == "missing"

    again = v.sweep(kinds=["agent-log"])

    assert [e.version for e in again.archived] == [2]
    out = io.BytesIO()
    v.export(entry.session_id, out)
    assert out.getvalue() == b"precious\n"


def test_forced_restores_in_the_same_second_keep_every_set_aside_file(home):
    path = make_native(home, "s1", 20)
    v = Vault(home, archive_days=7)
    v.sweep()
    kept = []
    for edit in (b"edit one", b"edit two"):
        path.write_bytes(edit)
        kept.append(v.restore("s1", force=True).set_aside[0][1])
    assert len(set(kept)) == 2
    assert sorted(Path(k).read_bytes() for k in kept) == [b"edit one", b"edit two"]


def test_a_file_replaced_while_it_is_removed_survives(tmp_path):
    path = tmp_path / "session.json"
    path.write_bytes(b"old")
    st = path.stat()

    def tool_saves_again(folder):
        # The app writes a new file under the same name just before termvault acts.
        tmp = folder / "new"
        tmp.write_bytes(b"new state")
        os.utime(tmp, ns=(st.st_mtime_ns + 10**9,) * 2)
        os.replace(tmp, path)

    assert remove_if_unchanged(path, st.st_size, st.st_mtime_ns, before=tool_saves_again) is False
    assert path.read_bytes() == b"new state"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["session.json"]


def test_restore_refuses_an_origin_outside_every_source_folder(home, user_home, tmp_path):
    make_native(home, "s1", 20)
    v = Vault(home, archive_days=7)
    v.sweep()
    # Forge an archive whose manifest claims the file belongs in a startup folder.
    from termvault import archive as arc

    entry = v.get("s1")
    manifest = arc.read_manifest(v.archive_file(entry))
    evil = user_home / ".config" / "autostart" / "x.desktop"
    manifest.files[0].origin = str(evil)
    data = {}
    arc.read_archive(v.archive_file(entry), lambda f, s: data.__setitem__(f.path, s.read()))
    f = manifest.files[0]
    arc.write_archive(
        v.archive_file(entry).with_name("forged.tar.zst"),
        manifest,
        [arc.SourceFile(f, lambda: io.BytesIO(data[f.path]))],
    )
    with v.index.transaction():
        db = v.index.db  # tests set up rows directly
        db.execute(
            "UPDATE sessions SET archive_path = ?, archive_sha256 = NULL WHERE id = ?",
            (str(Path(entry.archive_path).with_name("forged.tar.zst")), entry.row_id),
        )

    with pytest.raises(DataError, match="outside every folder"):
        v.restore("s1")
    assert not evil.exists()
    # With an explicit target it restores, inside that target only.
    result = v.restore("s1", to=tmp_path / "here")
    assert Path(result.restored[0]).parent == tmp_path / "here"


def test_restore_does_not_follow_a_symlinked_folder_out_of_the_target(home, user_home, tmp_path):
    transcript = user_home / ".claude" / "projects" / "p" / "t.jsonl"
    transcript.parent.mkdir(parents=True)
    transcript.write_bytes(b"{}\n")
    make_native(home, "s1", 20, conversation_file=str(transcript))
    v = Vault(home, archive_days=7)
    v.sweep()
    outside = tmp_path / "outside"
    outside.mkdir()
    target = tmp_path / "target"
    target.mkdir()
    (target / "_conversation").symlink_to(outside)

    with pytest.raises(DataError, match="symbolic link"):
        v.restore("s1", to=target)
    assert list(outside.iterdir()) == []


def test_a_session_with_an_impossible_time_does_not_stop_the_sweep(home):
    make_native(home, "good", 20)
    bad = home / "history" / f"{int(time.time() - 20 * DAY)}_bad.json"
    bad.write_text(json.dumps({"session_id": "bad", "modified_at": 1e999, "name": "x"}).replace("Infinity", "1e999"))
    os.utime(bad, (time.time() - 20 * DAY,) * 2)
    v = Vault(home, archive_days=7)
    report = v.sweep()
    assert "good" in {e.session_id for e in report.archived}
    # The bad one is still archived raw (its time falls back to the file's).
    assert v.get("bad").meta["parse_warnings"] >= 1


def test_an_archive_the_index_lacks_is_never_overwritten(home):
    path = make_native(home, "s1", 20)
    state = json.loads(path.read_bytes())
    v = Vault(home, archive_days=7)
    v.sweep()
    blocker = v.archive_file(v.get("s1"))
    saved = blocker.read_bytes()
    v.index.remove_entry("s1")  # the archive is now one the index lacks
    # Same session, same last activity (so the same archive name), other content.
    state["name"] = "changed"
    path.write_text(json.dumps(state))
    os.utime(path, (state["modified_at"],) * 2)

    report = v.sweep()

    assert [e.version for e in report.archived] == [2]
    assert blocker.read_bytes() == saved


def test_pruning_the_newest_version_leaves_the_older_one_searchable(home):
    make_native(home, "s1", 40, output_snapshot="zebra crossing\n")
    v = Vault(home, archive_days=7)
    v.sweep()
    make_native(home, "s1", 30, output_snapshot="zebra crossing again\n")
    v.sweep()
    newest = v.get("s1")
    with v.index.transaction():
        db = v.index.db  # tests set up rows directly  # make the newest version the oldest activity
        db.execute("UPDATE sessions SET last_activity_at = 0 WHERE id = ?", (newest.row_id,))
    report = v.prune(max_bytes=v.get("s1", 1).size_bytes)
    assert [e.version for e in report.pruned] == [2]
    assert [h.entry.version for h in v.search("zebra")] == [1]


def test_copy_mode_under_a_cap_does_not_archive_and_prune_the_same_session_every_sweep(home, user_home):
    root = user_home / "logs"
    root.mkdir()
    log = root / "pane.log"
    log.write_bytes(b"x" * 1000)
    os.utime(log, (time.time() - 3600,) * 2)
    v = Vault(home, sources={"agent-log": {"roots": [str(root)]}}, settle_seconds=60, max_total_bytes=1)
    first = v.sweep(kinds=["agent-log"])
    assert len(first.archived) == 1 and first.prune.pruned_count == 1
    second = v.sweep(kinds=["agent-log"])
    assert second.archived == [] and second.prune.pruned_count == 0


def test_reindex_survives_two_archives_claiming_the_same_version(home):
    make_native(home, "s1", 20)
    v = Vault(home, archive_days=7)
    v.sweep()
    archive = v.archive_file(v.get("s1"))
    (archive.parent / "copy_of_it.tar.zst").write_bytes(archive.read_bytes())
    assert v.reindex() == 1
    assert v.get("s1").version == 1


def test_a_same_size_rewrite_that_kept_its_mtime_is_not_deleted(tmp_path):
    from termvault.sources.base import stat_file

    path = tmp_path / "s.json"
    path.write_bytes(b"version one")
    seen = stat_file(path, "s.json")
    time.sleep(0.01)
    path.write_bytes(b"version two")  # same size...
    os.utime(path, ns=(seen.mtime_ns, seen.mtime_ns))  # ...and mtime put back, as cp -p does
    assert remove_if_unchanged(path, seen.size, seen.mtime_ns, ino=seen.ino, ctime_ns=seen.ctime_ns) is False
    assert path.read_bytes() == b"version two"


def test_blobs_stay_out_of_the_full_text_index():
    from termvault.index.fulltext import decompress, prepare

    (chunk,) = prepare("see image " + "QUJD" * 500 + " then getUserById").chunks
    assert "QUJD" not in chunk.body and "getUserById" in chunk.body
    assert "QUJD" not in decompress(chunk.frame) and "getUserById" in decompress(chunk.frame)


def test_a_second_thread_waiting_for_the_home_gives_up_with_a_clear_error(home):
    import threading

    from termvault.errors import LockedError
    from termvault.lock import HomeLock

    home.mkdir(parents=True)
    lock = HomeLock(home, timeout=0.2)
    inside, release = threading.Event(), threading.Event()

    def hold():
        with lock.hold("sweeping"):
            inside.set()
            release.wait(5)

    t = threading.Thread(target=hold)
    t.start()
    inside.wait(5)
    try:
        with pytest.raises(LockedError, match="busy with another task of this process"):
            with lock.hold("restoring"):
                pass
    finally:
        release.set()
        t.join()


def test_a_prune_killed_after_its_tombstone_is_finished_by_reconciliation(home):
    make_native(home, "old", 40)
    v = Vault(home, archive_days=7)
    v.sweep()
    entry = v.get("old")
    path = v.archive_file(entry)
    # What a SIGKILL between the tombstone's commit and the unlink leaves behind.
    with v.index.transaction():
        db = v.index.db  # tests set up rows directly
        db.execute("UPDATE sessions SET status = 'deleted' WHERE id = ?", (entry.row_id,))
    (home / ".journal").write_text("pruning\n")
    v.close()

    Vault(home)  # start-up reconciliation

    assert not path.exists()
