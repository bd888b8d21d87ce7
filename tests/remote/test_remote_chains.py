"""Delta chains and the remote tier: bases go up first, chains are evicted and fetched
whole, and a SIGKILL in the middle of an eviction loses no version."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from termvault import archive as arc

from ..reliability import chains
from ..reliability import harness as h


@pytest.fixture
def chain_world(tmp_path, endpoint, bucket):
    cw = chains.build(tmp_path / "w", seed=4, rounds=3, remote=f"s3://{bucket}/tv", remote_endpoint=endpoint,
                      remote_host="alpha")  # fmt: skip
    with h.open_vault(cw.world) as v:
        report = v.remote_push()
        assert not report.failed and report.pending == 0
    return cw


def test_push_uploads_every_base_before_the_versions_built_on_it(chain_world):
    with h.open_vault(chain_world.world) as v:
        for sid in chain_world.states:
            rows = v.index.versions(sid)
            # Verification times follow upload order: each version after its base.
            stamps = [v.index.remote_state(e.row_id)["remote_verified_at"] for e in rows]
            assert stamps == sorted(stamps)


def test_eviction_takes_whole_chains_and_reading_fetches_them_back(chain_world):
    with h.open_vault(chain_world.world) as v:
        sid = next(iter(chain_world.states))
        rows = v.index.versions(sid)
        one_version = min(e.size_bytes for e in rows)
        total = v.index.get_stats()["archive_bytes"]
        report = v.prune(max_bytes=total - one_version)  # one version would do: its chain goes
        evicted = {(e.session_id, e.version) for e in report.pruned}
        for s in {e.session_id for e in report.pruned}:
            assert {(s, e.version) for e in v.index.versions(s)} <= evicted
        newest = v.get(next(iter({e.session_id for e in report.pruned})))
        assert not v.archive_file(newest).exists()
        manifest, files = h.archive_members(v, newest)  # fetches the whole chain back
        assert files[manifest.files[0].path] == chain_world.states[newest.session_id][-1]
    assert chains.check(chain_world) == []


@pytest.mark.parametrize("nth", (1, 2, 4))
def test_an_eviction_killed_in_the_middle_of_a_chain_loses_no_version(chain_world, nth):
    status = h.Worker(chain_world.world, "prune", "--max-bytes", "0", "--die-at", "evict", "--nth", str(nth)).wait()
    assert status == -signal.SIGKILL
    assert chains.check(chain_world) == []


def test_chains_of_tail_units_evicted_and_reindexed_from_the_remote_alone_restore(chain_world):
    """Every version evicted, the index lost: a reindex reads each tail unit's header from
    the start of its object, rebuilds the chains, and every version fetches back whole."""
    with h.open_vault(chain_world.world) as v:
        before = {
            sid: [(e.version, e.content_sha256, e.meta) for e in v.index.versions(sid)] for sid in chain_world.states
        }
        formats = [v.store.manifest(e).format for sid in before for e in v.index.versions(sid)]
        assert formats.count(arc.TAIL_FORMAT) == 3 * len(before)  # three links a chain
        v.prune(max_bytes=0)
        assert all(not v.archive_file(e).exists() for sid in before for e in v.index.versions(sid))
    home = chain_world.world.home
    for suffix in ("", "-wal", "-shm"):
        Path(f"{home / 'archive_index.sqlite3'}{suffix}").unlink(missing_ok=True)
    with h.open_vault(chain_world.world) as v:
        v.reindex()
        for sid, states in chain_world.states.items():
            rows = v.index.versions(sid)
            assert [(e.version, e.content_sha256, e.meta) for e in rows] == before[sid]
            for e in rows:
                manifest, files = h.archive_members(v, e)  # fetched with its chain
                assert files[manifest.files[0].path] in states
    assert chains.check(chain_world) == []
