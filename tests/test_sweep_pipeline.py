"""The sweep's pipeline: units prepared in worker processes ahead of the writer, index
rows committed in batches (``ops/pipeline.py``, ``ops/batch.py``)."""

from __future__ import annotations

import errno
import logging
import os
import signal
from pathlib import Path

import pytest

from termvault.ops import pipeline
from termvault.sources.native import NativeSource
from termvault.vault import Vault

from .helpers import make_native
from .test_deltas import Grower, restored

pytestmark = pytest.mark.skipif("fork" not in pipeline.multiprocessing.get_all_start_methods(), reason="needs fork")


def _sessions(home, n: int) -> dict[str, bytes]:
    """``n`` native sessions (their paths in ``PATHS``); returns their bytes by id."""
    PATHS.clear()
    for i in range(n):
        sid = f"s{i:02d}"
        PATHS[sid] = make_native(home, sid, 30, output_snapshot=f"{sid} ran make deploy_{i}\n" * 400)
    return {sid: path.read_bytes() for sid, path in PATHS.items()}


PATHS: dict[str, Path] = {}


def _archived_bytes(v: Vault) -> dict[str, bytes]:
    out = {}
    for e in v.index.latest_entries():
        refs = v.ctx.store.refs(e)
        try:
            (ref,) = [r for r in refs if r.relpath.endswith(".json")]
            with ref.open() as fh:
                out[e.session_id] = fh.read()
        finally:
            for r in refs:
                r.close()
    return out


def test_a_sweep_prepared_in_worker_processes_archives_and_indexes_what_one_process_does(home, monkeypatch):
    originals = _sessions(home, 6)
    monkeypatch.setenv("TERMVAULT_SWEEP_WORKERS", "2")
    with Vault(home) as v:
        assert pipeline.workers_for(1, 6) == 2  # the pool is used (no other thread runs here)
        report = v.sweep(older_than=7)
        assert not report.failed and len(report.archived) == 6
        assert _archived_bytes(v) == originals
        hits = v.search("deploy_3")
        assert [h.entry.session_id for h in hits] == ["s03"]
        assert not any((home / "history").glob("*.json"))  # move mode: every source removed


def test_a_worker_killed_while_preparing_a_session_fails_that_session_and_loses_nothing(home, monkeypatch):
    originals = _sessions(home, 6)
    parent = os.getpid()
    real = NativeSource.parse_unit

    def dies_in_a_worker(self, refs, unit):
        if unit.session_id == "s02" and os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(self, refs, unit)

    monkeypatch.setattr(NativeSource, "parse_unit", dies_in_a_worker)
    monkeypatch.setenv("TERMVAULT_SWEEP_WORKERS", "2")
    with Vault(home) as v:
        report = v.sweep(older_than=7)
        failed = {f.session_id: f.reason for f in report.failed}
        # The session being waited for when the worker died is reported, naming it; a
        # unit in flight with it is prepared again by a fresh pool, never lost.
        assert "s02" in failed and "worker process" in failed["s02"] and "s02" in failed["s02"]
        assert {e.session_id for e in report.archived} | set(failed) == set(originals)
        assert set(failed) == {"s02"}  # the units in flight with it are prepared again
        for sid in failed:
            assert PATHS[sid].read_bytes() == originals[sid]
        verify = v.verify()
        assert not (verify.orphaned or verify.temp_files or verify.missing or verify.corrupt)
    monkeypatch.setattr(NativeSource, "parse_unit", real)
    with Vault(home) as v:
        assert not v.sweep(older_than=7).failed
        assert _archived_bytes(v) == originals


def test_a_small_sweep_prepares_in_its_own_process():
    # Three small sessions: forking the pool would cost more than it saves.
    assert pipeline.workers_for(3 * 20_000, 3) == 0
    assert pipeline.workers_for(50 * 1024 * 1024, 1) == 0


def test_one_unit_failing_inside_a_batch_fails_alone_and_the_batch_commits(home):
    originals = _sessions(home, 4)
    calls = []

    def full_disk_at_second_row(step: str) -> None:
        if step == "index":
            calls.append(step)
            if len(calls) == 2:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with Vault(home, fault=full_disk_at_second_row) as v:
        report = v.sweep(older_than=7)
        assert [f.session_id for f in report.failed] == ["s01"]
        assert sorted(e.session_id for e in report.archived) == ["s00", "s02", "s03"]
        assert PATHS["s01"].read_bytes() == originals["s01"]
        assert len(list((home / "archive").rglob("*.tar.zst"))) == 3  # its archive removed
        assert not PATHS["s00"].exists()


def test_a_unit_whose_text_fails_after_its_row_is_written_leaves_no_row_and_the_others_commit_once(home, monkeypatch):
    # The batch writes its rows without a savepoint per unit; a unit that fails midway
    # (its row in, its text not) rolls the batch back, which is then written unit by unit
    # without it: nothing of it stays, nothing of the others is written twice.
    from termvault.ops import batch

    originals = _sessions(home, 8)
    real = batch.index_text

    def fails_for_s05(ctx, entry, prepared=None):
        if entry.session_id == "s05":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(ctx, entry, prepared)

    monkeypatch.setattr(batch, "index_text", fails_for_s05)
    with Vault(home) as v:
        report = v.sweep(older_than=7)
        assert [f.session_id for f in report.failed] == ["s05"]
        assert sorted(e.session_id for e in report.archived) == sorted(set(originals) - {"s05"})
        rows = v.index.all_rows()
        assert sorted(r.session_id for r in rows) == sorted(set(originals) - {"s05"})  # once each
        assert [h.entry.session_id for h in v.search("deploy_6")] == ["s06"]
        assert v.search("deploy_5") == []
        assert PATHS["s05"].read_bytes() == originals["s05"]
        assert len(list((home / "archive").rglob("*.tar.zst"))) == 7  # its archive removed


def test_what_a_worker_logs_reaches_the_sweeps_own_log(home, monkeypatch, caplog):
    _sessions(home, 4)
    parent = os.getpid()
    real = NativeSource.parse_unit

    def buggy_in_a_worker(self, refs, unit):
        if unit.session_id == "s01" and os.getpid() != parent:
            raise RuntimeError("a parser bug")
        return real(self, refs, unit)

    monkeypatch.setattr(NativeSource, "parse_unit", buggy_in_a_worker)
    monkeypatch.setenv("TERMVAULT_SWEEP_WORKERS", "2")
    with caplog.at_level("WARNING"), Vault(home) as v:
        report = v.sweep(older_than=7)
    assert len(report.archived) == 4  # a parser bug is a warning, the unit archived raw
    assert any("parser failed on s01: a parser bug" in r.getMessage() for r in caplog.records)


def _packed_units(monkeypatch) -> list[str]:
    """The units written from a worker's packed bytes from now on (a spy on the real
    ``ArchiveStore.write_packed``)."""
    from termvault.archive.store import ArchiveStore

    packed: list[str] = []
    real = ArchiveStore.write_packed

    def counting(self, rel, p, files, fault=None, staged=False):
        packed.append(rel)
        return real(self, rel, p, files, fault=fault, staged=staged)

    monkeypatch.setattr(ArchiveStore, "write_packed", counting)
    return packed


def test_units_compressed_in_the_workers_are_written_read_back_and_verified_by_the_sweep(home, monkeypatch):

    originals = _sessions(home, 6)
    packed = _packed_units(monkeypatch)
    monkeypatch.setenv("TERMVAULT_SWEEP_WORKERS", "2")
    with Vault(home) as v:
        report = v.sweep(older_than=7)
        assert not report.failed and len(report.archived) == 6
        assert len(packed) == 6  # every unit came packed from a worker
        assert _archived_bytes(v) == originals
        assert all(v.ctx.store.verify(e) is None for e in v.index.latest_entries())


def test_a_unit_packed_for_a_version_whose_name_is_taken_is_written_as_the_next_version(home, monkeypatch):
    from termvault.archive import archive_relpath

    originals = _sessions(home, 4)
    packed = _packed_units(monkeypatch)
    monkeypatch.setenv("TERMVAULT_SWEEP_WORKERS", "2")
    with Vault(home) as v:
        mtime = PATHS["s01"].stat().st_mtime
        # A leftover without an index row holds version 1's name (a crash, say): the
        # worker packed version 1, so the sweep compresses version 2 itself.
        taken = v.ctx.store.path(archive_relpath(mtime, "s01", 1))
        taken.parent.mkdir(parents=True, exist_ok=True)
        taken.write_bytes(b"not mine")
        report = v.sweep(older_than=7)
        assert not report.failed and len(report.archived) == 4
        versions = {e.session_id: e.version for e in v.index.latest_entries()}
        assert versions == {"s00": 1, "s01": 2, "s02": 1, "s03": 1}
        assert len(packed) == 3
        assert _archived_bytes(v) == originals
        assert taken.read_bytes() == b"not mine"


def test_a_packed_archive_damaged_on_disk_before_its_read_back_fails_and_keeps_its_source(home, monkeypatch):
    originals = _sessions(home, 4)
    monkeypatch.setenv("TERMVAULT_SWEEP_WORKERS", "2")

    def damage(step: str) -> None:
        if step == "verify":  # the staged file is on disk, not yet read back
            for part in (home / "archive").rglob("*.part"):
                data = bytearray(part.read_bytes())
                data[len(data) // 2] ^= 0xFF
                part.write_bytes(bytes(data))

    with Vault(home, fault=damage) as v:
        report = v.sweep(older_than=7)
        assert len(report.failed) == 4 and not report.archived
        assert all("did not read back" in f.reason for f in report.failed)
        assert v.index.latest_entries() == []
    assert {sid: p.read_bytes() for sid, p in PATHS.items()} == originals  # every source kept
    assert not list((home / "archive").rglob("*.part"))


def test_a_source_rewritten_while_its_archive_is_written_is_skipped_not_failed(tmp_path):
    """A transcript written to between the read that hashed it and the read that puts
    it in the archive (same size, other bytes) is refused by the archive writer, as one
    that changed before the hash is by the sweep: skipped this round (a live session is
    not a failure), archived whole and right at the next sweep."""
    data = b"".join(
        b'{"type":"user","uuid":"u%d","timestamp":"2025-01-02T03:04:05Z","message":{"role":"user","content":"turn %d"}}\n'
        % (i, i)
        for i in range(40)
    )
    g = Grower(tmp_path, data)
    rewritten: list[bytes] = []

    def rewrite_tail(step: str) -> None:
        if step == "write-member" and not rewritten:
            raw = bytearray(g.path.read_bytes())
            raw[-20:-15] = raw[-20:-15].upper()
            st = g.path.stat()
            g.path.write_bytes(raw)
            os.utime(g.path, ns=(st.st_atime_ns, st.st_mtime_ns))
            rewritten.append(bytes(raw))

    with Vault(g.home, fault=rewrite_tail) as v:
        g.write(data[: len(data) // 2])
        report = v.sweep(older_than=0, kinds=["claude-code"])
        assert rewritten and not report.failed and report.skipped == 1, report.failed
        assert not list((g.home / "archive").rglob("*.tar.zst"))
        g.states.append(rewritten[0])
        report = v.sweep(older_than=0, kinds=["claude-code"])
        assert not report.failed and len(report.archived) == 1
        assert restored(v, 1, tmp_path / "out") == rewritten[0]


@pytest.mark.parametrize("workers", ["0", "2"])
def test_a_session_deleted_between_discovery_and_its_archiving_is_skipped_not_failed(home, monkeypatch, workers):
    """The app (or a tool's own cleanup) deletes a session file while a sweep runs: the
    session is gone, nothing of it can be archived and nothing is lost by termvault, so
    it is not a failure (which made `sweep` exit 1 and report 'No such file'); the
    others are archived."""
    originals = _sessions(home, 3)
    found = NativeSource.discover

    def discover(self):
        units = list(found(self))
        PATHS["s01"].unlink()  # after it was found, before it is read
        yield from units

    monkeypatch.setattr(NativeSource, "discover", discover)
    monkeypatch.setenv("TERMVAULT_SWEEP_WORKERS", workers)
    with Vault(home) as v:
        report = v.sweep(older_than=7)
        assert not report.failed, report.failed
        assert report.skipped == 1 and sorted(e.session_id for e in report.archived) == ["s00", "s02"]
        assert _archived_bytes(v) == {k: b for k, b in originals.items() if k != "s01"}


def test_a_full_disk_at_the_closing_index_merge_keeps_the_sweeps_report(home, monkeypatch):
    """The closing full-text merge is housekeeping: on a disk that filled up during the
    sweep it failed, and its error replaced the whole report (what was archived, what
    failed and why) with one line and exit 4. The report now comes back, the merge
    left for the next sweep."""
    import sqlite3

    from termvault.errors import DataError
    from termvault.index.entries import ArchiveIndex

    _sessions(home, 2)

    def full(self):
        try:
            raise sqlite3.OperationalError("database or disk is full")
        except sqlite3.OperationalError as exc:
            raise DataError("The index could not be read or written (database or disk is full)") from exc

    monkeypatch.setattr(ArchiveIndex, "settle", full)
    with Vault(home) as v:
        report = v.sweep(older_than=7)
        assert sorted(e.session_id for e in report.archived) == ["s00", "s01"] and not report.failed
        assert [h.entry.session_id for h in v.search("deploy_1")] == ["s01"]


def test_one_source_whose_discovery_fails_unexpectedly_leaves_the_other_sources_swept(home, monkeypatch, caplog):
    """Discovery errors other than OSError (a parser's ValueError on a damaged store, a
    plugin's bug) ended the sweep of every source, and with it `termvault daemon`."""
    from termvault.sources.wave import WaveSource
    from tests.sources import filestore_builder as b

    make_native(home, "kept-going", age_days=40)
    db = Path(os.environ["HOME"]) / ".local" / "share" / "waveterm" / "db"
    b.create_filestore(db / "filestore.db", b.WAVE)  # wave is detected and swept

    def broken(self):
        raise RuntimeError("a bug in a source")

    monkeypatch.setattr(WaveSource, "discover", broken)
    with caplog.at_level(logging.WARNING), Vault(home, settle_seconds=0) as vault:
        report = vault.sweep()
    assert [e.session_id for e in report.archived] == ["kept-going"]
    assert "wave" in caplog.text and "a bug in a source" in caplog.text
