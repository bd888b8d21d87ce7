"""Issue 20, sessions lost or stranded: each test reproduces one way an outside tester
lost or stranded records, on real files, real processes and a real index."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import zstandard

from termvault import SessionState, fsutil
from termvault import archive as arc
from termvault.archiver import SessionArchiver
from termvault.fsutil import HELD_PREFIX, remove_if_unchanged
from termvault.ops import sweep as sweep_ops
from termvault.reports import SweepReport
from termvault.sources import codex
from termvault.sources.base import iter_jsonl
from termvault.storage import SessionStorage
from termvault.streams import BytesRef
from termvault.vault import Vault

from . import harness as h

# A writer that opened the file before the sweep set it aside: it appends only when told,
# then closes (Claude Code's open/append/close).
WRITER = """
import sys
fd = open(sys.argv[1], "ab")
print("open", flush=True)
sys.stdin.readline()
fd.write(b"appended while the sweep compared\\n")
fd.close()
print("closed", flush=True)
"""


def _move_claude(world: h.World) -> None:
    h.write_config(world.home, world.projects)
    cfg = world.home / "config.toml"
    cfg.write_text(cfg.read_text().replace('mode = "copy"', 'mode = "move"'))


def test_an_append_through_a_descriptor_opened_before_the_set_aside_is_never_deleted(tmp_path, monkeypatch):
    path = tmp_path / "s.jsonl"
    path.write_bytes(b"first record\n")
    st = path.stat()
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert writer.stdout.readline().strip() == "open"
    real = fsutil._no_other_process_has_open

    def lease_after_the_writer_appended(fd: int) -> bool:
        # The writer appends and closes after the file was set aside, before the lease.
        writer.stdin.write("go\n")
        writer.stdin.flush()
        assert writer.stdout.readline().strip() == "closed"
        writer.wait(10)
        return real(fd)

    monkeypatch.setattr(fsutil, "_no_other_process_has_open", lease_after_the_writer_appended)
    assert not remove_if_unchanged(path, st.st_size, st.st_mtime_ns)
    assert path.read_bytes() == b"first record\nappended while the sweep compared\n"
    assert not list(tmp_path.glob(HELD_PREFIX + "*"))


def test_a_copy_kept_because_a_writer_took_the_name_is_swept_as_a_session_and_reported(tmp_path, monkeypatch):
    world = h.build_world(tmp_path / "w", native=0, claude=1)
    _move_claude(world)
    s = world.of_kind("claude-code")[0]
    real = fsutil._no_other_process_has_open

    def writer_recreates_the_name(fd: int) -> bool:
        s.path.write_bytes(b'{"type": "user", "message": {"role": "user", "content": "new"}}\n')
        return False  # and still has the old file open

    monkeypatch.setattr(fsutil, "_no_other_process_has_open", writer_recreates_the_name)
    with Vault(world.home) as v:
        v.sweep(older_than=7, kinds=["claude-code"])
    monkeypatch.setattr(fsutil, "_no_other_process_has_open", real)
    kept = [p for p in s.path.parent.iterdir() if fsutil.KEPT_MARK in p.name]
    assert len(kept) == 1 and kept[0].read_bytes() == s.data
    old = time.time() - 40 * h.DAY
    os.utime(kept[0], (old, old))
    with Vault(world.home) as v:
        assert v.verify().kept == [str(kept[0])]
        report = v.sweep(older_than=7, kinds=["claude-code"])
        ids = [e.session_id for e in report.archived]
        assert any(fsutil.KEPT_MARK in sid for sid in ids), ids
        entry = v.get(next(sid for sid in ids if fsutil.KEPT_MARK in sid))
        _, members = h.archive_members(v, entry)
        assert s.data in members.values()


def test_an_index_lost_before_a_sweep_is_rebuilt_and_versions_never_repeat(tmp_path, caplog):
    world = h.build_world(tmp_path / "w", native=2, claude=0)
    h.archive_everything(world)
    sid = world.of_kind("native")[0].session_id
    for name in ("archive_index.sqlite3", "archive_index.sqlite3-wal", "archive_index.sqlite3-shm"):
        (world.home / name).unlink(missing_ok=True)
    # The app saves the session again (newer content) and a sweep runs before any reindex.
    h.add_native(world, sid, time.time() - 20 * h.DAY, "newer turns\n" * 30)
    caplog.set_level(logging.WARNING)
    with Vault(world.home) as v:
        report = v.sweep(older_than=7, kinds=["native"])
        assert [e.version for e in report.archived] == [2]
        assert [e.version for e in v.index.versions(sid)] == [1, 2]
        assert v.verify().clean
        assert v.reindex() == 3
        assert [e.version for e in v.index.versions(sid)] == [1, 2]
    assert any("index lacked" in r.getMessage() for r in caplog.records)


def test_a_file_replaced_under_its_name_during_a_sweep_never_becomes_a_phantom_version(tmp_path):
    world = h.build_world(tmp_path / "w", native=1, claude=0)
    s = world.of_kind("native")[0]
    with Vault(world.home) as v:
        due, _ = v.plan(older_than=7, kinds=["native"])
        # The app replaces the history file atomically (a longer one) after discovery.
        newer = s.data.replace(b'"command_count"', b'"extra": "' + b"x" * 500 + b'", "command_count"')
        tmp = s.path.with_name(".app-tmp")
        tmp.write_bytes(newer)
        old = time.time() - 30 * h.DAY
        os.utime(tmp, (old, old))
        os.replace(tmp, s.path)
        report = SweepReport()
        with v.writing("sweeping"):
            sweep_ops.sweep(v.ctx, due, report)
        assert report.archived == [] and report.skipped == 1
        assert s.path.read_bytes() == newer
        report = v.sweep(older_than=7, kinds=["native"])
        _, members = h.archive_members(v, report.archived[0])
        assert list(members.values()) == [newer]
        json.loads(newer)


def test_a_set_aside_file_that_cannot_be_put_back_is_reported_and_put_back_later(tmp_path, monkeypatch):
    world = h.build_world(tmp_path / "w", native=1, claude=0)
    s = world.of_kind("native")[0]
    real_link = os.link

    def no_free_inodes(*args, **kwargs):
        raise OSError(28, os.strerror(28))

    # A reader holds the file (so it must be put back) and the disk has no free inodes.
    monkeypatch.setattr(fsutil, "_no_other_process_has_open", lambda fd: False)
    monkeypatch.setattr(os, "link", no_free_inodes)
    with Vault(world.home) as v:
        v.sweep(older_than=7, kinds=["native"])
    monkeypatch.setattr(os, "link", real_link)
    held = list(s.path.parent.glob(HELD_PREFIX + "*"))
    assert len(held) == 1 and not s.path.exists()
    with Vault(world.home) as v:
        report = v.verify()
        assert report.stranded == [str(held[0])] and not report.clean
        v.sweep(older_than=7, kinds=["native"])  # puts it back first
    assert s.path.read_bytes() == s.data
    assert not list(s.path.parent.glob(HELD_PREFIX + "*"))


def test_a_symlinked_claude_projects_root_is_swept(tmp_path):
    world = h.build_world(tmp_path / "w", native=0, claude=2)
    real = tmp_path / "bigdisk" / "projects"
    real.parent.mkdir()
    os.rename(world.projects, real)
    os.symlink(real, world.projects)
    with Vault(world.home) as v:
        report = v.sweep(older_than=7, kinds=["claude-code"])
    assert len(report.archived) == 2


def test_restore_refuses_a_fifo_at_its_target_instead_of_hanging(tmp_path):
    world = h.build_world(tmp_path / "w", native=0, claude=1)
    h.archive_everything(world)
    s = world.of_kind("claude-code")[0]
    s.path.unlink()
    os.mkfifo(s.path)
    code = (
        "import sys; from termvault.vault import Vault\n"
        "from termvault.errors import DataError\n"
        "v = Vault(sys.argv[1])\n"
        "try:\n    v.restore(sys.argv[2], force=True)\nexcept DataError as e:\n    print('refused', e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(world.home), s.session_id],
        capture_output=True,
        text=True,
        timeout=60,
        env=h.worker_env(world),
    )
    assert out.stdout.startswith("refused") and "not a regular file" in out.stdout, out.stderr
    assert stat.S_ISFIFO(os.lstat(s.path).st_mode)


def _hostile_copy(v: Vault, entry, version: int, mode: int | None = None) -> str:
    manifest, members = h.archive_members(v, entry)
    files = [dataclasses.replace(f, mode=mode if mode is not None else f.mode) for f in manifest.files]
    forged = dataclasses.replace(manifest, version=version, files=files)
    rel = arc.archive_relpath(entry.last_activity_at or time.time(), entry.session_id, version)
    arc.write_archive(
        v.store.path(rel), forged, [arc.SourceFile(f, lambda p=f.path: io.BytesIO(members[p])) for f in files]
    )
    return rel


def test_a_dropped_archive_claiming_version_999_never_becomes_the_newest_and_verify_names_it(tmp_path):
    world = h.build_world(tmp_path / "w", native=1, claude=0)
    h.archive_everything(world)
    sid = world.of_kind("native")[0].session_id
    with Vault(world.home) as v:
        rel = _hostile_copy(v, v.get(sid), 999)
        v.sweep(older_than=7, kinds=["native"])
        assert v.get(sid).version == 1
        report = v.verify()
        assert [p for p, _ in report.implausible] == [rel] and not report.clean
        assert "999" in report.implausible[0][1]


def test_restore_never_gives_a_file_setuid_or_world_write_bits_an_archive_claims(tmp_path):
    world = h.build_world(tmp_path / "w", native=1, claude=0)
    h.archive_everything(world)
    sid = world.of_kind("native")[0].session_id
    with Vault(world.home) as v:
        _hostile_copy(v, v.get(sid), 2, mode=0o4777)
        v.repair()
        assert v.get(sid).version == 2
        result = v.restore(sid, to=tmp_path / "out")
    mode = stat.S_IMODE(os.stat(result.restored[0]).st_mode)
    assert mode & (stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX | stat.S_IWOTH | stat.S_IWGRP) == 0, oct(mode)


def test_a_history_folder_made_read_only_stays_so_and_keeps_its_files(tmp_path):
    world = h.build_world(tmp_path / "w", native=2, claude=0)
    history = world.of_kind("native")[0].path.parent
    history.chmod(0o500)
    try:
        with Vault(world.home) as v:
            report = v.sweep(older_than=7, kinds=["native"])
            assert len(report.archived) == 2
        assert stat.S_IMODE(history.stat().st_mode) == 0o500
        for s in world.of_kind("native"):
            assert s.path.read_bytes() == s.data
    finally:
        history.chmod(0o700)


class _CountingRef:
    """A FileRef over bytes that counts the calls made to read it."""

    def __init__(self, relpath: str, data: bytes):
        self.relpath, self.size, self.data, self.calls = relpath, len(data), data, 0

    def open(self):
        ref = self

        class Counting(io.BytesIO):
            def read(self, n=-1):
                ref.calls += 1
                return super().read(n)

            def readline(self, n=-1):
                ref.calls += 1
                return super().readline(n)

        return Counting(self.data)


def test_a_jsonl_file_of_millions_of_blank_lines_is_read_in_chunks_not_line_by_line():
    ref = _CountingRef("rollout.jsonl", b"\n" * 2_000_000 + b'{"a": 1}\n' + b"  \r\n" * 1000 + b'{"b": 2}')
    warnings = [0]
    assert list(iter_jsonl(ref, warnings)) == [{"a": 1}, {"b": 2}] and warnings == [0]
    assert ref.calls <= ref.size // (256 * 1024) + 4, ref.calls


def test_the_daemon_sweeps_agent_transcripts_while_the_app_sweeps_native_sessions(tmp_path):
    world = h.build_world(tmp_path / "w", native=1, claude=2)
    app = SessionArchiver(world.home, archive_days=30)
    assert app.start_background_archiving(interval_hours=1)
    deadline = time.time() + 30
    while not (world.home / ".sweeper.lock.info").exists() and time.time() < deadline:
        time.sleep(0.05)
    daemon = subprocess.Popen(
        [sys.executable, "-m", "termvault", "daemon", "--interval", "24h"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=h.worker_env(world),
    )
    try:
        seen = []
        for line in daemon.stdout:
            seen.append(line)
            if "next sweep at" in line:
                break
        daemon.terminate()
        daemon.communicate(timeout=60)
    finally:
        daemon.kill()
        daemon.wait()
        app.stop_background_archiving()
        app.close()
    assert any("sweeps native sessions" in line for line in seen), seen
    with Vault(world.home) as v:
        for s in world.of_kind("claude-code"):
            assert v.get(s.session_id).source == "claude-code", seen


def test_restoring_a_native_session_never_rolls_back_the_live_transcript_it_points_to(tmp_path):
    world = h.build_world(tmp_path / "w", native=0, claude=1)
    (claude,) = world.of_kind("claude-code")
    old = time.time() - 40 * h.DAY
    state = SessionState(
        session_id="with-conv",
        name="agent run",
        created_at=old - 60,
        modified_at=old,
        output_snapshot="ran claude\n",
        conversation_file=str(claude.path),
    )
    history = SessionStorage(world.home, enable_auto_archive=False).save_session(state)
    os.utime(history, (old, old))
    with Vault(world.home) as v:
        v.sweep(older_than=7, kinds=["native"])
        assert not history.exists()
        newer = claude.data + h.claude_record(claude.session_id, 999, "a newer turn", time.time())
        claude.path.write_bytes(newer)  # Claude Code went on with the conversation
        result = v.restore("with-conv", force=True)
    assert claude.path.read_bytes() == newer
    beside = [p for p in claude.path.parent.iterdir() if ".termvault-restored-v1" in p.name]
    assert len(beside) == 1 and beside[0].read_bytes() == claude.data
    assert history.exists() and result.notes and "left as it is" in result.notes[0]
    assert not [p for p in claude.path.parent.iterdir() if "termvault-old" in p.name]


@pytest.fixture
def immutable():
    """``immutable(folder)``: make a folder unwritable even for root (chattr +i), undone after."""
    made: list[Path] = []

    def make(folder: Path) -> None:
        if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
            pytest.skip("chattr +i is not available here, so a read-only folder cannot be made")
        made.append(folder)

    yield make
    for folder in made:
        subprocess.run(["chattr", "-i", str(folder)], check=False)


def test_search_show_and_export_work_in_a_home_nobody_may_write(tmp_path, immutable):
    world = h.build_world(tmp_path / "w", native=2, claude=1)
    h.archive_everything(world)
    for name in ("archive_index.sqlite3-wal", "archive_index.sqlite3-shm"):
        assert not (world.home / name).exists()
    before = sorted(p.name for p in world.home.iterdir())
    immutable(world.home)
    sid = world.of_kind("claude-code")[0].session_id
    with Vault(world.home) as v:
        assert {hit.entry.session_id for hit in v.search()} == set(world.sessions)
        assert v.get(sid).session_id == sid and v.messages(sid)
        out = io.BytesIO()
        v.export(sid, out, fmt="text")
        assert out.getvalue()
        raw = io.BytesIO()
        v.export(sid, raw, fmt="raw")
        assert raw.getvalue() == world.sessions[sid].data
    assert sorted(p.name for p in world.home.iterdir()) == before


def test_search_and_stats_say_so_when_the_index_was_lost(tmp_path, caplog):
    world = h.build_world(tmp_path / "w", native=2, claude=0)
    h.archive_everything(world)
    (world.home / "archive_index.sqlite3").unlink()
    caplog.set_level(logging.WARNING)
    with Vault(world.home) as v:
        assert v.search() == []
        assert v.stats()["index_lost"] is True
    lost = [r for r in caplog.records if "was lost" in r.getMessage()]
    assert len(lost) == 2 and "termvault reindex" in lost[0].getMessage()


def test_a_compressed_rollout_is_parsed_only_up_to_a_bounded_expansion_of_its_size():
    payload = b"x\n" * 6_000_000  # 12 MB of junk lines in a few KB of zstd
    ref = BytesRef("rollout-x.jsonl.zst", zstandard.ZstdCompressor(level=19).compress(payload))
    warnings = [0]
    assert list(codex._records(ref, warnings)) == []
    # At most the cap's worth of lines is looked at: 4 MiB here, a third of the payload.
    assert 0 < warnings[0] <= 2 * 1024 * 1024 + 2


def test_appends_racing_cli_and_library_move_sweeps_some_killed_lose_no_record(tmp_path):
    """A short version of the long run's race: a real writer (open, append, close), CLI
    sweeps as subprocesses (every third one SIGKILLed midway) and library sweeps."""
    world = h.build_world(tmp_path / "w", native=0, claude=1, settle_seconds=0)
    _move_claude(world)
    (s,) = world.of_kind("claude-code")
    lines = 300
    writer = subprocess.Popen(
        [sys.executable, str(h.WORKERS), "append", str(s.path), "--lines", str(lines), "--interval", "0.002"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=h.worker_env(world),
    )
    writer.stdout.readline()
    n = 0
    with Vault(world.home, lock_timeout=60) as v:
        while writer.poll() is None or n < 4:
            n += 1
            cli = subprocess.Popen(
                [sys.executable, "-m", "termvault", "sweep", "--older-than", "0", "--source", "claude-code"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=h.worker_env(world),
            )
            v.sweep(older_than=0, kinds=["claude-code"])
            if n % 3 == 0:
                time.sleep(0.05 * (n % 5))
                cli.kill()
            cli.wait(60)
        v.sweep(older_than=0, kinds=["claude-code"])  # reconciles a killed sweep, sweeps kept copies
        archived = []
        for e in v.index.all_rows():
            if e.status == "archived":
                archived.extend(h.archive_members(v, e)[1].values())
        report = v.verify()
    live = [p.read_bytes() for p in s.path.parent.iterdir() if p.is_file()]
    seen = set().union(*(h.line_numbers(d) for d in [*live, *archived]))
    assert sorted(set(range(lines)) - seen) == []
    assert report.stranded == [] and not list(s.path.parent.glob(HELD_PREFIX + "*"))
