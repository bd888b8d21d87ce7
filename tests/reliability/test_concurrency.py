"""Sessions that change while they are archived, and homes two processes sweep at once."""

from __future__ import annotations

import subprocess
import sys

import pytest

from termvault.errors import LockedError
from termvault.vault import Vault

from . import harness as h


def _appender(path, lines: int, interval: float, start: int = 0) -> subprocess.Popen:
    proc = subprocess.Popen(
        [
            sys.executable,
            str(h.WORKERS),
            "append",
            str(path),
            "--lines",
            str(lines),
            "--interval",
            str(interval),
            "--start",
            str(start),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdout.readline().startswith(b"ready")
    return proc


def _versions(v: Vault, session_id: str) -> list[bytes]:
    out = []
    for e in v.index.versions(session_id):
        _, members = h.archive_members(v, e)
        (data,) = members.values()
        out.append(data)
    return out


def _move_mode(world: h.World) -> None:
    cfg = world.home / "config.toml"
    cfg.write_text(cfg.read_text().replace('mode = "copy"', 'mode = "move"'))


def test_a_transcript_appended_to_during_sweeps_is_only_ever_archived_as_a_prefix(tmp_path):
    world = h.build_world(tmp_path / "w", native=0, claude=1, settle_seconds=0)
    (s,) = world.of_kind("claude-code")
    lines = 2500  # at least 0.75 s of writing: several sweeps run while it grows
    writer = _appender(s.path, lines, interval=0.0003)
    sweeps = 0
    with Vault(world.home) as v:
        while writer.poll() is None or sweeps < 3:
            report = v.sweep(older_than=0, kinds=["claude-code"])
            assert not report.failed, report.failed
            sweeps += 1
        writer.wait()
        v.sweep(older_than=0, kinds=["claude-code"])
        live = s.path.read_bytes()
        versions = _versions(v, s.session_id)
        assert v.verify().clean
    assert len(versions) >= 2  # it was archived while it grew, not only at the end
    for older, newer in zip(versions, versions[1:]):
        assert newer.startswith(older) and len(newer) > len(older)
    assert all(live.startswith(data) for data in versions)
    assert versions[-1] == live
    assert h.line_numbers(live) | h.line_numbers(versions[-1]) == set(range(lines))
    assert live.startswith(s.data)


@pytest.mark.parametrize("step", ["write-member", "fsync", "verify", "index", "delete-source"])
def test_move_mode_keeps_a_file_that_changed_while_it_was_archived(step, tmp_path):
    world = h.build_world(tmp_path / "w", native=0, claude=1, settle_seconds=0)
    _move_mode(world)
    (s,) = world.of_kind("claude-code")
    appended = []

    def append_now(name: str) -> None:
        if name == step and not appended:
            with open(s.path, "ab") as fh:
                fh.write(h.claude_record(s.session_id, 1000, "written while archiving", 0))
            appended.append(name)

    with Vault(world.home, fault=append_now) as v:
        report = v.sweep(older_than=0, kinds=["claude-code"])
    assert appended and not report.failed
    live = s.path.read_bytes()  # not deleted: it changed after it was read
    assert live.startswith(s.data) and len(live) > len(s.data)
    with Vault(world.home) as v:
        assert _versions(v, s.session_id) == [s.data]
        v.sweep(older_than=0, kinds=["claude-code"])
        versions = _versions(v, s.session_id)
        assert v.verify().clean
    assert versions == [s.data, live]
    assert not s.path.exists()  # unchanged this time, so removed once archived


def test_a_native_session_saved_again_and_again_during_sweeps_keeps_its_last_state(tmp_path):
    world = h.build_world(tmp_path / "w", native=2, claude=0)
    saves = 150
    writer = h.Worker(world, "resave", "--session", "busy", "--times", str(saves), "--interval", "0.004")
    sweeps = 0
    with Vault(world.home) as v:
        while writer.proc.poll() is None or sweeps < 2:
            v.sweep(older_than=7, kinds=["native"])
            sweeps += 1
        writer.finish()
        live = sorted(world.home.joinpath("history").glob("*_busy.json"))
        newest = _versions(v, "busy")[-1:] if v.index.get_entry("busy") else []
        assert v.verify().clean
    assert len(live) <= 1
    text = b"".join(p.read_bytes() for p in live) + b"".join(newest)
    for n in range(saves):
        assert f"output line {n}".encode() in text, f"line {n} of the last save is lost"


def test_two_processes_sweeping_one_home_archive_each_session_exactly_once(tmp_path):
    world = h.build_world(tmp_path / "w", native=10, claude=3)
    go = world.root / "go"
    first = h.Worker(world, "sweep", "--go", str(go))
    second = h.Worker(world, "sweep", "--go", str(go))
    go.touch()
    a, b = first.finish(), second.finish()
    assert not a["failed"] and not b["failed"]
    assert not set(a["archived"]) & set(b["archived"])
    assert set(a["archived"]) | set(b["archived"]) == set(world.sessions)
    check = h.check_world(world)
    assert check.ok, check.describe()
    with Vault(world.home) as v:
        assert all(len(v.index.versions(sid)) == 1 for sid in world.sessions)


def test_a_sweep_that_cannot_get_the_lock_fails_naming_the_holder(tmp_path):
    world = h.build_world(tmp_path / "w", native=3, claude=1)
    holder = h.Worker(world, "hold-lock", stdin=True)
    try:
        with Vault(world.home, lock_timeout=0.2) as v, pytest.raises(LockedError) as err:
            v.sweep(older_than=7, kinds=list(h.KINDS))
        assert f"process {holder.pid} " in str(err.value)
        waiting = h.run_worker(world, "sweep", "--lock-timeout", "0.2")
        assert f"process {holder.pid} " in waiting["locked"]
    finally:
        holder.finish()
    # Nothing was touched while the lock was held; the next sweep does everything.
    assert all(s.path.read_bytes() == s.data for s in world.sessions.values())
    assert not h.run_worker(world, "sweep")["failed"]
    check = h.check_world(world)
    assert check.ok and check.archived == len(world.sessions), check.describe()
