"""Network faults between termvault and a real S3 server, injected by a proxy: a server
that stops mid-upload or mid-download, 503 answers, connection resets and a hung server.
Faults are retried with backoff; nothing is marked remote-verified unless a full read-back
matched; an interrupted transfer restarts cleanly."""

from __future__ import annotations

import base64
import io
import os

import pytest

from termvault.archive import objects as remote_store

from ..helpers import make_native


def big_session(home, sid: str = "big", age: float = 40) -> bytes:
    """A session whose archive is about 700 KB (incompressible), so transfers take many packets."""
    path = make_native(home, sid, age, output_snapshot=base64.b64encode(os.urandom(520_000)).decode())
    return path.read_bytes()


def row(vault, sid: str) -> tuple:
    return tuple(
        vault.index.query(
            "SELECT remote_key, remote_verified_at IS NOT NULL, local_present FROM sessions WHERE session_id = ?",
            (sid,),
        )[0]
    )


def test_a_server_stopped_mid_upload_leaves_nothing_verified_and_the_next_push_finishes(
    make_vault, home, proxy, objects
):
    vault = make_vault(home, via=proxy, full_text=False)
    big_session(home)
    proxy.stop_after(200_000)  # the server dies 200 KB into the request body
    report = vault.sweep()
    assert proxy.injected["stop"] == 1
    assert report.failed == [] and len(report.archived) == 1  # archiving itself succeeded
    assert row(vault, "big") == (None, 0, 1)
    assert vault.index.remote_pending() == [vault.get("big")]
    assert objects() == {}  # S3 shows no partial object
    assert vault.prune(max_bytes=0).pruned == []  # and the only copy is never evicted
    assert vault.archive_file(vault.get("big")).exists()

    proxy.start()
    again = vault.remote_push()
    key = f"alpha/{vault.get('big').archive_path}"
    assert again.uploaded == [key] and again.verified == [key] and again.pending == 0
    assert objects()[key] == vault.archive_file(vault.get("big")).read_bytes()
    assert row(vault, "big") == (key, 1, 1)


def test_an_upload_interrupted_before_its_read_back_is_verified_without_uploading_again(make_vault, home, objects):
    vault = make_vault(home, full_text=False)
    big_session(home)
    vault.sweep()
    with vault.index.transaction():
        db = vault.index.db  # tests set up rows directly  # as if the process died after the PUT
        db.execute("UPDATE sessions SET remote_verified_at = NULL")
    report = vault.remote_push()
    key = f"alpha/{vault.get('big').archive_path}"
    assert report.uploaded == [] and report.verified == [key]
    assert row(vault, "big") == (key, 1, 1)


def test_503_answers_and_connection_resets_are_retried_until_the_upload_verifies(make_vault, home, proxy):
    vault = make_vault(home, via=proxy, full_text=False)
    make_native(home, "one", 40)
    make_native(home, "two", 41)
    proxy.fail_next(2)
    vault.sweep()
    assert proxy.injected["503"] == 2
    assert vault.index.remote_pending() == []
    make_native(home, "three", 42)
    proxy.reset_next(2)
    vault.sweep()
    assert proxy.injected["reset"] == 2
    assert vault.index.remote_pending() == [] and row(vault, "three")[1] == 1


def test_a_hung_server_times_out_and_the_upload_is_tried_again(make_vault, home, proxy, monkeypatch):
    monkeypatch.setattr(
        remote_store,
        "POLICY",
        remote_store.RetryPolicy(
            attempts=3, backoff=0.05, max_backoff=0.2, request_retries=0, connect_timeout=1.0, read_timeout=0.5
        ),
    )
    vault = make_vault(home, via=proxy, full_text=False)
    make_native(home, "one", 40)
    proxy.hang_next(1)
    vault.sweep()
    assert proxy.injected["hang"] == 1 and row(vault, "one")[1] == 1


def test_a_download_cut_midway_is_retried_and_only_a_whole_verified_copy_is_cached(make_vault, home, proxy, tmp_path):
    vault = make_vault(home, via=proxy, full_text=False)
    original = big_session(home)
    vault.sweep()
    vault.prune(max_bytes=0)
    proxy.reset_after(300_000, downloaded=True)  # one connection reset 300 KB into the body
    result = vault.restore("big", to=tmp_path / "one")
    assert proxy.injected["reset"] == 1
    assert open(result.restored[0], "rb").read() == original


def test_a_server_stopped_mid_download_leaves_the_cache_as_it_was(make_vault, home, proxy, tmp_path):
    vault = make_vault(home, via=proxy, full_text=False)
    original = big_session(home)
    vault.sweep()
    vault.prune(max_bytes=0)
    cached = vault.archive_file(vault.get("big"))
    proxy.stop_after(300_000, downloaded=True)
    with pytest.raises(remote_store.RemoteUnavailableError):
        vault.restore("big", to=tmp_path / "one")
    assert not cached.exists()
    assert not [p.name for p in cached.parent.iterdir()]  # no partial or temporary file
    assert row(vault, "big")[2] == 0
    assert not (tmp_path / "one").exists() or not any((tmp_path / "one").rglob("*.json"))

    proxy.start()
    out = io.BytesIO()
    vault.export("big", out, fmt="raw")
    assert out.getvalue() == original and cached.exists()


def test_an_unreachable_remote_is_reported_by_status_and_push_without_losing_anything(make_vault, home, proxy):
    vault = make_vault(home, via=proxy, full_text=False)
    make_native(home, "one", 40)
    proxy.stop()
    vault.sweep()
    st = vault.remote_status()
    assert st["reachable"] is False and "after 3 attempts" in st["error"] and st["pending"] == 1
    report = vault.remote_push()
    assert report.stopped and report.pending == 1 and report.verified == []
    proxy.start()
    assert vault.remote_status()["reachable"] is True
    assert vault.remote_push().pending == 0


def test_a_bucket_that_does_not_exist_stops_the_push_with_one_sentence_naming_it(endpoint, home, caplog):
    """A PUT answered 404 NoSuchBucket passed obstore's NotFound through untouched: every
    version logged a 40-line dump (the XML body, request ids, a Rust debug print) and the
    push went on trying the next one."""
    import logging

    from termvault.vault import Vault

    for n in range(3):
        make_native(home, f"s{n}", 40 + n)
    with (
        caplog.at_level(logging.WARNING),
        Vault(home, remote="s3://no-such-bucket-tv/tv", remote_endpoint=endpoint, remote_host="alpha") as vault,
    ):
        assert len(vault.sweep().archived) == 3
        report = vault.remote_push()
    assert report.stopped and "no-such-bucket-tv" in report.stopped and "does not exist" in report.stopped
    assert len(report.failed) == 1 and report.pending == 3
    assert "Debug source" not in caplog.text and "<Error>" not in caplog.text
    assert all(len(r.getMessage().splitlines()) == 1 for r in caplog.records)


def test_no_credentials_anywhere_is_said_as_such_not_as_a_server_to_try_later(endpoint, bucket, home, monkeypatch):
    """Without keys in the environment or ~/.aws, the client asks the instance metadata
    service; its failure read "Could not upload ... (Error performing PUT
    http://169.254.169.254/latest/api/token ...); try again later"."""
    from termvault.vault import Vault

    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_METADATA_ENDPOINT", "http://127.0.0.1:9")  # no metadata service here
    make_native(home, "s0", 40)
    with Vault(home, remote=f"s3://{bucket}/tv", remote_endpoint=endpoint, remote_host="alpha") as vault:
        vault.sweep()
        report = vault.remote_push()
    assert report.stopped and "no credentials" in report.stopped
    assert "AWS_ACCESS_KEY_ID" in report.stopped and "try again later" not in report.stopped
