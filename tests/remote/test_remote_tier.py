"""The remote tier on one machine: upload and verify, eviction under the storage cap,
transparent fetch for restore, export and search, and what verify and reindex make of
evicted versions. Every test talks to a real S3 server (moto) on loopback."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys

import pytest

from termvault.archive import objects as remote_store
from termvault.errors import IntegrityError

from ..helpers import make_native


def remote_state(vault, session_id: str) -> tuple:
    return tuple(
        vault.index.query(
            "SELECT remote_key, remote_verified_at IS NOT NULL, local_present FROM sessions WHERE session_id = ?",
            (session_id,),
        )[0]
    )


def sweep_three(vault, home) -> dict[str, bytes]:
    """Archive three native sessions 40, 50 and 60 days old; return their original bytes."""
    originals = {}
    for sid, age in (("old", 60), ("mid", 50), ("new", 40)):
        path = make_native(home, sid, age, output_snapshot=f"deploy log of {sid}: kubectl rollout\n" * 200)
        originals[sid] = path.read_bytes()
    report = vault.sweep()
    assert len(report.archived) == 3
    return originals


def test_a_sweep_uploads_each_unit_under_the_host_prefix_and_verifies_it(make_vault, home, objects):
    vault = make_vault(home, host="alpha")
    sweep_three(vault, home)
    stored = objects()
    for sid in ("old", "mid", "new"):
        entry = vault.get(sid)
        key = f"alpha/{entry.archive_path}"
        assert stored[key] == vault.archive_file(entry).read_bytes()
        assert remote_state(vault, sid) == (key, 1, 1)
    assert vault.index.remote_pending() == []


def test_the_uploaded_object_carries_its_sha256_as_metadata(make_vault, home, objects):
    import obstore

    vault = make_vault(home)
    make_native(home, "one", 40)
    vault.sweep()
    entry = vault.get("one")
    got = obstore.get(objects.store, f"alpha/{entry.archive_path}", options={"head": True})
    assert got.attributes[remote_store.SHA_ATTR] == entry.archive_sha256
    assert entry.archive_sha256 == hashlib.sha256(vault.archive_file(entry).read_bytes()).hexdigest()


def test_the_cap_evicts_verified_local_copies_oldest_first_and_keeps_the_rows(make_vault, home, objects):
    vault = make_vault(home)
    sweep_three(vault, home)
    sizes = {sid: vault.get(sid).size_bytes for sid in ("old", "mid", "new")}
    report = vault.prune(max_bytes=sizes["new"] + sizes["mid"])
    assert [e.session_id for e in report.pruned] == ["old"]
    assert not vault.archive_file(vault.get("old")).exists()
    assert vault.archive_file(vault.get("mid")).exists()
    assert remote_state(vault, "old")[1:] == (1, 0)
    assert len(vault.index.all_rows()) == 3  # nothing left the index
    assert f"alpha/{vault.get('old').archive_path}" in objects()  # nor the bucket


def test_a_pinned_session_stays_local_and_a_dry_run_evicts_nothing(make_vault, home):
    vault = make_vault(home)
    sweep_three(vault, home)
    vault.pin("old")
    plan = vault.prune(max_bytes=0, dry_run=True)
    assert [e.session_id for e in plan.pruned] == ["mid", "new"] and plan.skipped_pinned == 1
    assert all(vault.archive_file(vault.get(s)).exists() for s in ("old", "mid", "new"))


def test_an_unverified_unit_is_never_evicted(make_vault, home):
    vault = make_vault(home)
    sweep_three(vault, home)
    with vault.index.transaction():
        db = vault.index.db  # tests set up rows directly
        db.execute("UPDATE sessions SET remote_verified_at = NULL WHERE session_id = 'old'")
    report = vault.prune(max_bytes=0)
    assert "old" not in [e.session_id for e in report.pruned]
    assert vault.archive_file(vault.get("old")).exists()


def test_eviction_keeps_a_copy_whose_object_vanished_and_marks_it_unverified(make_vault, home, objects):
    import obstore

    vault = make_vault(home)
    sweep_three(vault, home)
    obstore.delete(objects.store, f"alpha/{vault.get('old').archive_path}")
    report = vault.prune(max_bytes=0)
    assert "old" not in [e.session_id for e in report.pruned]
    assert vault.archive_file(vault.get("old")).exists()
    assert remote_state(vault, "old")[1] == 0
    assert vault.sweep().failed == []  # the next push uploads it again
    assert remote_state(vault, "old")[1] == 1


def test_restore_export_and_search_fetch_an_evicted_unit_transparently(make_vault, home, tmp_path):
    vault = make_vault(home)
    originals = sweep_three(vault, home)
    vault.prune(max_bytes=0)
    assert not any(vault.archive_file(vault.get(s)).exists() for s in originals)

    result = vault.restore("old", to=tmp_path / "back")
    (restored,) = result.restored
    assert open(restored, "rb").read() == originals["old"]
    assert vault.archive_file(vault.get("old")).exists() and remote_state(vault, "old")[2] == 1

    out = io.BytesIO()
    vault.export("mid", out, fmt="raw")
    assert out.getvalue() == originals["mid"]

    hits = vault.search("kubectl")
    assert {h.entry.session_id for h in hits} == {"old", "mid", "new"}
    assert all(h.snippet and "kubectl" in h.snippet for h in hits)


def test_a_fetched_copy_that_does_not_match_its_hash_is_refused_and_not_cached(make_vault, home, objects):
    import obstore

    vault = make_vault(home)
    sweep_three(vault, home)
    vault.prune(max_bytes=0)
    key = f"alpha/{vault.get('old').archive_path}"
    good = objects()[key]
    obstore.put(objects.store, key, good[:-1] + bytes([good[-1] ^ 1]))  # bit rot in the bucket
    with pytest.raises(IntegrityError):
        vault.restore("old", to=home.parent / "back")
    folder = vault.archive_file(vault.get("old")).parent
    assert not vault.archive_file(vault.get("old")).exists()
    assert not [p for p in folder.iterdir() if p.name.startswith(".tv-")]
    assert remote_state(vault, "old")[2] == 0


def test_verify_counts_evicted_units_as_ok_but_a_lost_unverified_copy_as_missing(make_vault, home):
    vault = make_vault(home)
    sweep_three(vault, home)
    vault.prune(max_bytes=0)
    report = vault.verify()
    assert report.clean and report.ok == 3
    with vault.index.transaction():
        db = vault.index.db  # tests set up rows directly
        db.execute("UPDATE sessions SET remote_verified_at = NULL, local_present = 1 WHERE session_id = 'old'")
    assert vault.verify().missing == [vault.get("old").archive_path]


def test_a_plain_reindex_keeps_evicted_versions_and_their_verification(make_vault, home):
    vault = make_vault(home)
    sweep_three(vault, home)
    vault.prune(max_bytes=0)
    vault.restore("new", to=home.parent / "peek")  # one back in the cache
    before = {s: remote_state(vault, s) for s in ("old", "mid", "new")}
    assert vault.reindex() == 3
    assert {s: remote_state(vault, s) for s in ("old", "mid", "new")} == before
    assert {h.entry.session_id for h in vault.search("kubectl")} == {"new"}  # text of what is local


def test_a_large_unit_goes_up_in_parts_and_reads_back_whole(make_vault, home, objects, monkeypatch):
    import base64
    import os

    monkeypatch.setattr(remote_store, "MULTIPART_THRESHOLD", 5 * 1024 * 1024)
    monkeypatch.setattr(remote_store, "PART_SIZE", 5 * 1024 * 1024)
    vault = make_vault(home, full_text=False)  # indexing 8 MB of base64 is not what is tested here
    path = make_native(home, "big", 40, output_snapshot=base64.b64encode(os.urandom(6 * 1024 * 1024)).decode())
    original = path.read_bytes()
    vault.sweep()
    entry = vault.get("big")
    assert entry.size_bytes > 5 * 1024 * 1024
    import obstore

    meta = obstore.head(objects.store, f"alpha/{entry.archive_path}")
    assert meta["e_tag"].strip('"').endswith("-2")  # two parts
    assert remote_state(vault, "big")[1] == 1
    vault.prune(max_bytes=0)
    out = io.BytesIO()
    vault.export("big", out, fmt="raw")
    assert out.getvalue() == original


def test_importing_termvault_does_not_load_the_object_store_client():
    code = (
        "import sys, termvault, termvault.vault, termvault.ops.maintenance, termvault.ops.remote; "
        "print(sorted(m for m in ('obstore', 'boto3', 's3fs', 'botocore') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_lost_index_is_rebuilt_from_the_bucket_and_evicted_units_are_reverified(make_vault, home):
    vault = make_vault(home)
    originals = sweep_three(vault, home)
    vault.prune(max_bytes=0)
    vault.close()
    for suffix in ("", "-wal", "-shm"):
        (home / f"archive_index.sqlite3{suffix}").unlink(missing_ok=True)
    again = make_vault(home)
    assert again.reindex() == 3
    assert {s: remote_state(again, s)[1:] for s in originals} == {s: (0, 0) for s in originals}
    assert again.verify().clean  # their copies are in the bucket, not missing
    report = again.remote_push()
    assert report.uploaded == [] and len(report.verified) == 3 and report.pending == 0
    out = io.BytesIO()
    again.export("old", out, fmt="raw")
    assert out.getvalue() == originals["old"]


def test_a_home_archived_before_the_remote_tier_uploads_everything_once_configured(home, make_vault, monkeypatch):
    from termvault.index import db as index_module
    from termvault.vault import Vault

    with monkeypatch.context() as m:  # an index as the previous release left it
        m.setattr(index_module, "MIGRATIONS", index_module.MIGRATIONS[:3])
        make_native(home, "before", 40)
        with Vault(home, full_text=False) as old:  # (this code's full text needs migration 7)
            old.sweep()
            columns = {r[1] for r in old.index.query("PRAGMA table_info(sessions)")}
            assert "remote_key" not in columns
    vault = make_vault(home)
    assert [e.session_id for e in vault.index.remote_pending()] == ["before"]
    assert vault.remote_push().pending == 0
    assert remote_state(vault, "before") == (f"alpha/{vault.get('before').archive_path}", 1, 1)


def test_verify_repair_and_status_see_an_evicted_version_whose_object_was_deleted(make_vault, home, objects):
    import obstore

    vault = make_vault(home)
    sweep_three(vault, home)
    vault.prune(max_bytes=0)
    verified_before = vault.remote_status()["verified"]
    rel = vault.get("old").archive_path
    obstore.delete(objects.store, f"alpha/{rel}")
    report = vault.verify()
    assert not report.clean and [p for p, _ in report.remote_missing] == [rel]
    assert "gone from the remote" in report.remote_missing[0][1]
    status = vault.remote_status()
    assert status["missing_in_remote"] == [rel] and status["verified"] == verified_before - 1
    repaired = vault.repair()
    assert not repaired.clean and any("marked" in r and rel in r for r in repaired.repaired)
    assert vault.remote_status()["verified"] == verified_before - 1


def test_verify_read_data_finds_a_damaged_object_of_an_evicted_version(make_vault, home, objects):
    import obstore

    vault = make_vault(home)
    sweep_three(vault, home)
    vault.prune(max_bytes=0)
    key = f"alpha/{vault.get('mid').archive_path}"
    good = objects()[key]
    attrs = obstore.get(objects.store, key).attributes
    obstore.put(objects.store, key, good[:-1] + bytes([good[-1] ^ 1]), attributes=attrs)
    assert vault.verify().clean  # present, same size: only reading the data shows it
    report = vault.verify(read_data=True)
    assert [p for p, _ in report.remote_missing] == [vault.get("mid").archive_path]
    assert "damaged" in report.remote_missing[0][1]


def test_a_dry_run_of_eviction_names_the_versions_the_real_run_evicts(make_vault, home, objects):
    """The dry run did not look the objects up, so with one gone from the bucket it named
    a version the real run keeps, and not the ones the real run evicts instead."""
    import obstore

    vault = make_vault(home)
    sweep_three(vault, home)
    sizes = {sid: vault.get(sid).size_bytes for sid in ("old", "mid", "new")}
    obstore.delete(objects.store, f"alpha/{vault.get('old').archive_path}")
    cap = sizes["mid"] + sizes["new"]
    plan = vault.prune(max_bytes=cap, dry_run=True)
    assert remote_state(vault, "old")[1] == 1  # a dry run records nothing
    done = vault.prune(max_bytes=cap)
    assert [e.session_id for e in plan.pruned] == [e.session_id for e in done.pruned]
    assert "old" not in [e.session_id for e in done.pruned]
