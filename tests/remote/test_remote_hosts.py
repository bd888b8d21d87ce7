"""Several machines sharing one bucket: each writes under its own host folder, nobody
overwrites anybody, and ``reindex_from_remote`` builds a merged index from the bucket
alone, reading only each object's manifest."""

from __future__ import annotations

import io

import pytest

from termvault.archive import objects as remote_store
from termvault.errors import DataError

from ..helpers import make_native

NOW = 1_750_000_000.0  # one clock for every home, so the same session lands at the same key


def two_homes(make_vault, tmp_path):
    """Home A (host alpha) and home B (host beta), each with its own sessions swept and
    uploaded, plus one session id both machines have, with different content."""
    a_home, b_home = tmp_path / "a", tmp_path / "b"
    a, b = make_vault(a_home, host="alpha"), make_vault(b_home, host="beta")
    make_native(a_home, "a-only", 40, now=NOW, output_snapshot="alpha builds the terraform plan\n" * 50)
    make_native(b_home, "b-only", 45, now=NOW, output_snapshot="beta runs the pytest suite\n" * 50)
    make_native(a_home, "shared", 50, now=NOW, output_snapshot="shared on alpha\n" * 50)
    make_native(b_home, "shared", 50, now=NOW, output_snapshot="shared on beta, longer\n" * 60)
    for v in (a, b):
        report = v.sweep()
        assert report.failed == [] and len(report.archived) == 2
        assert v.index.remote_pending() == []
    return a, b


def test_each_machine_writes_under_its_own_host_folder(make_vault, tmp_path, objects):
    a, b = two_homes(make_vault, tmp_path)
    keys = set(objects())
    assert keys == {f"alpha/{a.get(s).archive_path}" for s in ("a-only", "shared")} | {
        f"beta/{b.get(s).archive_path}" for s in ("b-only", "shared")
    }
    assert a.get("shared").archive_path == b.get("shared").archive_path  # same name, distinct keys


def test_a_fresh_home_rebuilds_a_merged_index_from_the_bucket_alone(make_vault, tmp_path, objects):
    a, b = two_homes(make_vault, tmp_path)
    before = objects()
    c = make_vault(tmp_path / "c", host="gamma")
    assert c.reindex(remote=True) == 4
    rows = {(e.session_id, e.version): e for e in c.index.all_rows()}
    assert set(rows) == {("a-only", 1), ("b-only", 1), ("shared", 1), ("shared", 2)}
    assert rows[("a-only", 1)].name == a.get("a-only").name
    assert rows[("b-only", 1)].working_directory == b.get("b-only").working_directory
    # Nothing was downloaded whole, nothing cached, nothing written to the bucket.
    assert not any(c.config.archive_dir.rglob("*.tar.zst"))
    assert objects() == before
    # The other machine's version of "shared" got the next free number; the original is kept.
    renumbered = rows[("shared", 2)]
    assert renumbered.meta["origin_version"] == 1 and renumbered.meta["host"] == "beta"


def test_another_machines_session_restores_from_the_bucket_and_verifies(make_vault, tmp_path):
    a, b = two_homes(make_vault, tmp_path)
    original = b.manifest("b-only")
    c = make_vault(tmp_path / "c", host="gamma")
    c.reindex(remote=True)
    out = io.BytesIO()
    c.export("b-only", out, fmt="raw")
    restored = out.getvalue()
    out2 = io.BytesIO()
    b.export("b-only", out2, fmt="raw")
    assert restored == out2.getvalue()
    cached = c.archive_file(c.get("b-only"))
    assert cached.relative_to(c.config.archive_dir).parts[:2] == ("hosts", "beta")
    assert c.manifest("b-only").content_sha256 == original.content_sha256
    # The renumbered foreign version verifies too, once it is cached.
    c.export("shared", io.BytesIO(), fmt="raw")
    report = c.verify()
    assert report.clean and report.ok == 4


def test_search_in_a_merged_index_finds_text_once_a_unit_is_fetched(make_vault, tmp_path):
    two_homes(make_vault, tmp_path)
    c = make_vault(tmp_path / "c", host="gamma")
    c.reindex(remote=True)
    assert [h.entry.session_id for h in c.search(name="b-only")] == ["b-only"]  # metadata at once
    assert c.search("pytest") == []  # no text yet: only the manifest was read
    c.messages("b-only")  # a preview fetches it
    assert [h.entry.session_id for h in c.search("pytest")] == ["b-only"]


def test_a_merged_index_is_the_union_seen_from_either_machine(make_vault, tmp_path):
    a, b = two_homes(make_vault, tmp_path)
    assert a.reindex(remote=True) == 4
    own = {e.session_id: e for e in a.index.all_rows() if not e.archive_path.startswith("hosts/")}
    assert set(own) == {"a-only", "shared"}
    assert all(
        r[0] for r in a.index.query("SELECT remote_verified_at FROM sessions WHERE archive_path NOT LIKE 'hosts/%'")
    )
    assert {e.session_id for e in a.index.all_rows()} == {"a-only", "b-only", "shared"}
    assert a.verify().clean


def test_identical_content_from_two_machines_is_indexed_once(make_vault, tmp_path):
    a_home, b_home = tmp_path / "a", tmp_path / "b"
    a, b = make_vault(a_home, host="alpha"), make_vault(b_home, host="beta")
    for h in (a_home, b_home):
        make_native(h, "same", 40, now=NOW, output_snapshot="identical everywhere\n" * 30)
    a.sweep()
    b.sweep()
    c = make_vault(tmp_path / "c", host="gamma")
    assert c.reindex(remote=True) == 1
    (row,) = c.index.all_rows()
    assert row.archive_path.startswith("hosts/alpha/")


def test_two_homes_with_one_host_name_never_overwrite_each_other(make_vault, tmp_path, objects):
    a_home, b_home = tmp_path / "a", tmp_path / "b"
    a, b = make_vault(a_home, host="same"), make_vault(b_home, host="same")
    make_native(a_home, "clash", 40, now=NOW, output_snapshot="written by A\n" * 40)
    make_native(b_home, "clash", 40, now=NOW, output_snapshot="written by B, different\n" * 40)
    a.sweep()
    key = f"same/{a.get('clash').archive_path}"
    written_by_a = objects()[key]
    b.sweep()  # archives locally; its upload is refused
    assert objects()[key] == written_by_a
    report = b.remote_push()
    assert [f.session_id for f in report.failed] == ["clash"] and "never overwrites" in report.failed[0].reason
    assert b.index.remote_pending() == [b.get("clash")]
    assert b.prune(max_bytes=0).pruned == []  # so its only copy is never evicted


def test_reindex_from_remote_changes_nothing_when_the_bucket_cannot_be_read(make_vault, tmp_path, proxy):
    home = tmp_path / "a"
    v = make_vault(home, host="alpha", via=proxy)
    make_native(home, "kept", 40, now=NOW)
    v.sweep()
    before = [e.to_dict() for e in v.index.all_rows()]
    proxy.stop()
    with pytest.raises(remote_store.RemoteUnavailableError):
        v.reindex(remote=True)
    assert [e.to_dict() for e in v.index.all_rows()] == before


def test_a_manifest_larger_than_the_first_ranged_read_is_still_read(make_vault, tmp_path, monkeypatch):
    two_homes(make_vault, tmp_path)
    monkeypatch.setattr(remote_store, "MANIFEST_RANGE", 64)
    c = make_vault(tmp_path / "c", host="gamma")
    assert c.reindex(remote=True) == 4


def test_a_truncated_object_is_reported_not_indexed(make_vault, tmp_path, objects):
    import obstore

    a, _ = two_homes(make_vault, tmp_path)
    key = f"alpha/{a.get('a-only').archive_path}"
    obstore.put(objects.store, key, objects()[key][:40])
    c = make_vault(tmp_path / "c", host="gamma")
    assert c.reindex(remote=True) == 3
    assert "a-only" not in {e.session_id for e in c.index.all_rows()}


def test_manifest_from_prefix_asks_for_more_until_it_is_complete(make_vault, tmp_path):
    a, _ = two_homes(make_vault, tmp_path)
    data = a.archive_file(a.get("a-only")).read_bytes()
    assert remote_store.manifest_from_prefix(data[:30], "x", complete=False) is None
    assert remote_store.manifest_from_prefix(data, "x", complete=True).session_id == "a-only"
    with pytest.raises(DataError):
        remote_store.manifest_from_prefix(data[:30], "x", complete=True)


def test_an_object_without_its_hash_metadata_is_checked_member_by_member(make_vault, tmp_path, objects):
    import obstore

    a, _ = two_homes(make_vault, tmp_path)
    key = f"alpha/{a.get('a-only').archive_path}"
    obstore.put(objects.store, key, objects()[key])  # same bytes, no termvault metadata
    c = make_vault(tmp_path / "c", host="gamma")
    c.reindex(remote=True)
    assert c.get("a-only").archive_sha256 is None
    out = io.BytesIO()
    c.export("a-only", out, fmt="raw")
    a_out = io.BytesIO()
    a.export("a-only", a_out, fmt="raw")
    assert out.getvalue() == a_out.getvalue()
    assert c.get("a-only").archive_sha256 == a.get("a-only").archive_sha256  # learnt on the way
