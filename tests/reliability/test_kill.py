"""SIGKILL at any instant of a real operation never loses a session.

Each round builds a home whose every byte is kept in memory, runs the operation in a
child process, kills it with SIGKILL somewhere in the time a complete run takes (measured
once), reopens the home (start-up reconciliation) and checks every session against the
originals. Random instants rarely land in the narrowest windows, so a sweep is also made
to kill itself at each step of the write protocol. The long version of this file is
``bench/reliability.py``.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from . import harness as h

SWEEP_ROUNDS = 20  # the issue asks for at least 20 kill rounds in the default suite
OTHER_ROUNDS = 3


@pytest.fixture(scope="module")
def windows(tmp_path_factory):
    """Seconds a complete run of each operation takes (measured once per module)."""
    cache: dict[str, float] = {}

    def window(op: str) -> float:
        if op not in cache:
            cache[op] = h.measure(op, tmp_path_factory.mktemp(f"measure-{op}"))
        return cache[op]

    return window


def _assert_round(r: h.Round) -> None:
    assert r.check.ok, f"{r.op} killed after {r.delay:.3f}s (killed={r.killed}): {r.check.describe()}"


@pytest.mark.parametrize("n", range(SWEEP_ROUNDS))
def test_a_sweep_killed_at_any_instant_leaves_every_session_exactly_once(n, windows, tmp_path):
    delay = h.spread(SWEEP_ROUNDS, windows("sweep"), seed=7)[n]
    r = h.kill_round("sweep", tmp_path / "w", seed=n, delay=delay)
    _assert_round(r)


@pytest.mark.parametrize("op", ["background", "restore", "prune", "reindex"])
@pytest.mark.parametrize("n", range(OTHER_ROUNDS))
def test_other_operations_killed_at_any_instant_lose_nothing(op, n, windows, tmp_path):
    delay = h.spread(OTHER_ROUNDS, windows(op), seed=11)[n]
    _assert_round(h.kill_round(op, tmp_path / "w", seed=100 + n, delay=delay))


def test_sweeps_killed_one_after_another_during_reconciliation_lose_nothing(windows, tmp_path):
    # Short delays too: the next worker dies while it reconciles what the last one left.
    delays = h.spread(5, windows("sweep"), seed=3)
    delays = [delays[0] / 4, delays[2], delays[1] / 3, delays[3], delays[4] / 2]
    _assert_round(h.chained_kills(tmp_path / "w", seed=42, delays=delays))


def test_a_killed_sweep_resumes_and_completes_on_the_next_run(windows, tmp_path):
    sc = h.prepare("sweep", tmp_path / "w", seed=5)
    h.kill_at(sc.world, "sweep", (), windows("sweep") / 2)
    result = h.run_worker(sc.world, "sweep")
    assert not result["failed"]
    check = h.check_scenario(sc)
    assert check.ok, check.describe()
    # Nothing is left in history/: every native session ended in exactly one archive.
    assert not any(s.path.exists() for s in sc.world.of_kind("native"))
    assert check.archived == len(sc.world.sessions)


@pytest.mark.parametrize("step", h.CRASH_STEPS)
def test_a_sweep_that_dies_at_any_step_of_the_write_protocol_loses_nothing(step, tmp_path):
    # The 6th occurrence is the first session of the second sweep through the same Vault.
    r = h.crash_at(tmp_path / "w", seed=3, step=step, nth=6)
    assert r.killed, f"the sweep never reached {step} six times"
    _assert_round(r)


# The sweep commits its index rows in batches (``ops/batch.py``): a unit's source goes only
# after its batch committed. (step, nth): mid-batch with rows already inserted in the open
# transaction, just before each sweep's commit, just after it (no source removed yet),
# and between two sources' removals.
BATCH_KILLS = [("index", 3), ("commit", 1), ("commit", 2), ("committed", 1), ("committed", 2), ("delete-source", 2)]


@pytest.mark.parametrize(("step", "nth"), BATCH_KILLS)
def test_a_sweep_killed_at_a_batch_boundary_loses_nothing_and_the_next_sweep_completes_the_batch(step, nth, tmp_path):
    sc = h.prepare("sweep", tmp_path / "w", seed=3)
    status = h.Worker(sc.world, "sweep", "--older-than", h.BATCHES, "--die-at", step, "--nth", str(nth)).wait()
    assert status == -signal.SIGKILL, f"the sweep never reached {step} {nth} times"
    check = h.check_scenario(sc)  # reopened: every source in place or archived and indexed
    assert check.ok, check.describe()
    result = h.run_worker(sc.world, "sweep")
    assert not result["failed"]
    check = h.check_scenario(sc)
    assert check.ok, check.describe()
    assert check.archived == len(sc.world.sessions)
    assert not any(s.path.exists() for s in sc.world.of_kind("native"))


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="lists processes through /proc")
def test_a_sweep_killed_while_its_workers_prepare_leaves_no_worker_behind(tmp_path, monkeypatch):
    # Forked workers inherit the home's lock file: one left waiting for work would hold
    # the lock for ever. They end with the sweep, and the home checks clean.
    env = h.worker_env
    monkeypatch.setattr(h, "worker_env", lambda world: {**env(world), "TERMVAULT_SWEEP_WORKERS": "2"})
    sc = h.prepare("sweep", tmp_path / "w", seed=4)
    status = h.Worker(sc.world, "sweep", "--die-at", "verify", "--nth", "4").wait()
    assert status == -signal.SIGKILL
    deadline = time.monotonic() + 5
    while (left := _processes_naming(str(sc.world.home))) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left
    check = h.check_scenario(sc)
    assert check.ok, check.describe()


def _processes_naming(text: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and text.encode() in (proc / "cmdline").read_bytes():
                found.append(int(proc.name))
        except OSError:
            continue
    return found
