"""Sessions hold secrets: everything termvault writes in a home is private (files 0600,
folders 0700) whatever the umask, and a home others could tamper with is refused."""

from __future__ import annotations

import io
import os
import stat

import pytest

from termvault.archiver import SessionArchiver
from termvault.errors import HomeError
from termvault.vault import Vault

from . import harness as h


@pytest.fixture
def open_umask():
    """The loosest umask, so nothing private can come from the umask alone."""
    old = os.umask(0)
    yield
    os.umask(old)


def test_every_file_in_the_home_is_private_after_each_operation(tmp_path, open_umask):
    world = h.build_world(tmp_path / "w", native=6, claude=2)
    with Vault(world.home) as v:
        v.sweep(older_than=7, kinds=list(h.KINDS))
        assert h.private_mode_problems(world.home) == [], "after sweep"
        v.pin(world.of_kind("native")[0].session_id)
        for s in world.of_kind("native")[:3]:
            v.restore(s.session_id)
        assert h.private_mode_problems(world.home) == [], "after restore"
        v.export(world.of_kind("native")[4].session_id, io.BytesIO(), fmt="text")
        assert h.private_mode_problems(world.home) == [], "after export"
        v.reindex()
        assert h.private_mode_problems(world.home) == [], "after reindex"
        v.prune(max_bytes=v.index.get_stats()["archive_bytes"] // 2)
        assert h.private_mode_problems(world.home) == [], "after prune"
        v.repair()
    assert h.private_mode_problems(world.home) == [], "after repair"


def test_a_home_rebuilt_after_its_index_was_lost_is_still_private(tmp_path, open_umask):
    world = h.build_world(tmp_path / "w", native=3, claude=1)
    h.archive_everything(world)
    for name in ("archive_index.sqlite3", "archive_index.sqlite3-wal", "archive_index.sqlite3-shm"):
        (world.home / name).unlink(missing_ok=True)
    with Vault(world.home) as v:
        v.reindex()
    assert h.private_mode_problems(world.home) == []


def test_a_killed_sweep_leaves_nothing_readable_by_others(tmp_path, open_umask):
    world = h.build_world(tmp_path / "w", native=6, claude=1)
    h.kill_at(world, "sweep", (), 0.6)
    assert h.private_mode_problems(world.home) == []
    h.check_world(world)  # reconciles
    assert h.private_mode_problems(world.home) == []


@pytest.mark.parametrize("mode", [0o777, 0o707, 0o1777])
def test_a_world_writable_home_is_refused_not_silently_fixed(mode, tmp_path):
    world = h.build_world(tmp_path / "w", native=2, claude=0)
    world.home.chmod(mode)
    for opener in (Vault, SessionArchiver):
        with pytest.raises(HomeError, match="world-writable"):
            opener(world.home)
    assert stat.S_IMODE(world.home.stat().st_mode) == mode
    assert all(s.path.read_bytes() == s.data for s in world.sessions.values())


def test_a_home_owned_by_someone_else_is_refused(tmp_path):
    world = h.build_world(tmp_path / "w", native=1, claude=0)
    if os.getuid() != 0:
        pytest.skip("only root can give a folder to another user")
    os.chown(world.home, 4242, 4242)
    with pytest.raises(HomeError, match="belongs to user id 4242"):
        Vault(world.home)
