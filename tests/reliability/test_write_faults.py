"""A write that fails at any step (full disk, file size limit) costs one session one
attempt, never a byte: the source stays, nothing half-written is visible, the next run
succeeds."""

from __future__ import annotations

import errno
import os
import random

import pytest

from termvault.vault import Vault

from . import harness as h

STEPS = ["write-member", "fsync", "rename", "fsync-dir", "verify", "index", "delete-source"]
DISK_FULL = os.strerror(errno.ENOSPC)


def disk_full_at(step: str, times: int | None = None):
    """A fault hook raising ENOSPC at ``step``: every time, or only the first ``times``."""
    calls = []

    def hook(name: str) -> None:
        if name == step and (times is None or len(calls) < times):
            calls.append(name)
            raise OSError(errno.ENOSPC, DISK_FULL)

    hook.calls = calls
    return hook


def _archive_files(world: h.World) -> list[str]:
    return sorted(p.name for p in (world.home / "archive").rglob("*") if p.is_file() and p.name != "pins.json")


@pytest.mark.parametrize("step", STEPS)
def test_a_full_disk_at_any_write_step_fails_the_session_cleanly_and_the_next_run_succeeds(step, tmp_path):
    world = h.build_world(tmp_path / "w", native=3, claude=2)
    hook = disk_full_at(step)

    with Vault(world.home, fault=hook) as v:
        report = v.sweep(older_than=7, kinds=list(h.KINDS))
        verify = v.verify()
        rows = v.index.all_rows()

    # Copy-mode transcripts are never deleted, so only native sessions reach that step.
    hit = world.of_kind("native") if step == "delete-source" else list(world.sessions.values())
    assert hook.calls
    assert {f.session_id for f in report.failed} == {s.session_id for s in hit}
    for failure in report.failed:
        assert DISK_FULL in failure.reason
        assert failure.path == str(world.sessions[failure.session_id].path)
    assert all(s.path.read_bytes() == s.data for s in world.sessions.values())
    assert not h.leftovers(world)
    assert not (verify.orphaned or verify.temp_files or verify.missing or verify.corrupt)
    if step == "delete-source":
        # Archived, verified and indexed; only the removal is left for the next run.
        assert len(rows) == len(world.sessions)
        assert sorted(verify.pending_removal) == sorted(s.session_id for s in hit)
    else:
        assert rows == [] and _archive_files(world) == []

    with Vault(world.home) as v:
        again = v.sweep(older_than=7, kinds=list(h.KINDS))
    assert not again.failed
    check = h.check_world(world)
    assert check.ok, check.describe()
    assert check.archived == len(world.sessions)


@pytest.mark.parametrize("step", STEPS)
def test_one_failing_session_does_not_stop_the_sweep(step, tmp_path):
    world = h.build_world(tmp_path / "w", native=4, claude=0)
    with Vault(world.home, fault=disk_full_at(step, times=1)) as v:
        report = v.sweep(older_than=7, kinds=list(h.KINDS))
    assert len(report.failed) == 1 and DISK_FULL in report.failed[0].reason
    assert len(report.archived) == 3
    failed = world.sessions[report.failed[0].session_id]
    assert failed.path.read_bytes() == failed.data
    with Vault(world.home) as v:
        v.sweep(older_than=7, kinds=list(h.KINDS))
    check = h.check_world(world)
    assert check.ok and check.archived == 4, check.describe()


def test_a_file_size_limit_that_no_archive_fits_in_fails_only_the_big_sessions(tmp_path):
    world = h.build_world(tmp_path / "w", native=3, claude=1, lines=40)
    rng = random.Random(1)
    # Random punctuation: compresses poorly (its archive is past the limit) and holds no
    # words, so the index stays small.
    blob = "".join(rng.choices("!#$%&()*+,;<=>?@[]^`{|}~", k=1_200_000))
    big = h.add_native(world, "big-session", world.sessions["native-0-000"].path.stat().st_mtime - 99, blob)
    Vault(world.home).close()  # the index exists before the limit applies

    # The limit leaves the index room to grow: only archives can hit it.
    result = h.run_worker(world, "fsize-sweep", "--limit", str(512 * 1024))

    assert [f["session_id"] for f in result["failed"]] == [big.session_id]
    assert os.strerror(errno.EFBIG) in result["failed"][0]["reason"]
    assert sorted(result["archived"]) == sorted(s for s in world.sessions if s != big.session_id)
    check = h.check_world(world)
    assert check.ok, check.describe()
    assert big.path.read_bytes() == big.data
    assert not h.run_worker(world, "sweep")["failed"]
    check = h.check_world(world)
    assert check.ok and check.archived == len(world.sessions), check.describe()


def test_an_index_that_cannot_grow_fails_each_session_with_a_clear_error(tmp_path):
    # Archives of a few KB fit under 40 KB, the index's write-ahead log does not.
    world = h.build_world(tmp_path / "w", native=3, claude=1, lines=40)
    Vault(world.home).close()

    result = h.run_worker(world, "fsize-sweep", "--limit", str(40_000))

    assert result["failed"] and not result["archived"]
    for failure in result["failed"]:
        assert "could not be read or written" in failure["reason"] and "free space" in failure["reason"]
    check = h.check_world(world)
    assert check.ok and check.archived == 0, check.describe()
    assert not h.run_worker(world, "sweep")["failed"]
    check = h.check_world(world)
    assert check.ok and check.archived == len(world.sessions), check.describe()
