"""SIGKILL while a delta chain is written, compacted or pruned loses no version: the
home is reopened (start-up reconciliation) and every archived version still rebuilds to
a state its transcript had, with ``verify`` clean. (Remote eviction: tests/remote.)"""

from __future__ import annotations

import random
import signal

import pytest

from termvault import archive as arc

from . import chains
from . import harness as h

WRITE_STEPS = ("write-member", "fsync", "rename", "fsync-dir", "verify", "index")


def _die(cw: chains.ChainWorld, op: str, step: str, nth: int, *args: str) -> bool:
    status = h.Worker(cw.world, op, *args, "--die-at", step, "--nth", str(nth)).wait()
    return status == -signal.SIGKILL


@pytest.mark.parametrize("step", WRITE_STEPS)
def test_a_sweep_killed_while_writing_a_delta_version_loses_nothing(step, tmp_path):
    cw = chains.build(tmp_path / "w", seed=1, rounds=2)
    cw.grow(random.Random(7))
    assert _die(cw, "sweep", step, 2, "--kinds", "claude-code"), f"the sweep never reached {step} twice"
    assert chains.check(cw) == []
    # The next sweep archives what the killed one did not, as deltas again.
    cw.sweep()
    assert chains.check(cw) == []
    with h.open_vault(cw.world) as v:
        for sid, states in cw.states.items():
            newest = v.get(sid)
            assert v.store.manifest(newest).format == arc.TAIL_FORMAT  # the unit kind being killed
            assert h.archive_members(v, newest)[1][v.store.manifest(newest).files[0].path] == states[-1]


@pytest.mark.parametrize("step", ("write-member", "rename", "index"))
def test_a_sweep_killed_while_compacting_a_chain_loses_nothing(step, tmp_path):
    cw = chains.build(tmp_path / "w", seed=2, rounds=2, delta_max_links=2)
    cw.grow(random.Random(8))  # the chains are at their limit: the next versions are stored whole
    assert _die(cw, "sweep", step, 1, "--kinds", "claude-code")
    assert chains.check(cw) == []
    cw.sweep()
    assert chains.check(cw) == []
    with h.open_vault(cw.world) as v:
        assert all(v.store.manifest(v.get(sid)).base is None for sid in cw.states)


@pytest.mark.parametrize("nth", (1, 2, 3, 5))
def test_a_prune_killed_in_the_middle_of_a_chain_loses_no_kept_version(nth, tmp_path):
    cw = chains.build(tmp_path / "w", seed=3, rounds=3)
    with h.open_vault(cw.world) as v:
        rows = [e for sid in cw.states for e in v.index.versions(sid)]
        assert sum(v.store.manifest(e).format == arc.TAIL_FORMAT for e in rows) >= 9  # 3 chains, 3 links each
        cap = v.index.get_stats()["archive_bytes"] // 3
    assert _die(cw, "prune", "prune", nth, "--max-bytes", str(cap))
    assert chains.check(cw, may_vanish=True) == []
    assert h.run_worker(cw.world, "prune", "--max-bytes", str(cap))["pruned"]
    assert chains.check(cw, may_vanish=True) == []
