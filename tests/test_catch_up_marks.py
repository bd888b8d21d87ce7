"""The check before each write lists only the archive folders that changed since the last
check found them whole; a crash, a lost index or rows deleted by hand make it list them
all again, so an archive the index lacks is always found."""

from __future__ import annotations

import os
import shutil
import time

from termvault import Vault

from .helpers import make_native

NOW = time.time()


def _two_homes(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for home, sid in ((a, "from-backup"), (b, "already-here")):
        home.mkdir(mode=0o700)
        make_native(home, sid, 20, now=NOW)
        v = Vault(home, archive_days=7)
        try:
            assert len(v.sweep().archived) == 1
        finally:
            v.close()
    unit = next((a / "archive").rglob("*.tar.zst"))
    folder = b / "archive" / unit.relative_to(a / "archive").parent
    assert folder.is_dir()  # the same month folder, already checked in home b
    return unit, folder, b


def _listings(v, monkeypatch) -> list[str]:
    """The month folders listed from now on, in order (a spy on the real listing)."""
    listed: list[str] = []
    real = type(v.store).folder_units

    def counting(store, month):
        listed.append(month.name)
        return real(store, month)

    monkeypatch.setattr(type(v.store), "folder_units", counting)
    return listed


def test_an_archive_copied_into_a_checked_folder_is_indexed_by_the_next_write(tmp_path):
    unit, folder, home = _two_homes(tmp_path)
    shutil.copy2(unit, folder / unit.name)
    v = Vault(home, archive_days=7)
    try:
        v.sweep()
        assert v.get("from-backup").archive_path.endswith(unit.name)
    finally:
        v.close()


def test_after_a_crash_every_folder_is_listed_even_one_whose_mark_did_not_change(tmp_path):
    unit, folder, home = _two_homes(tmp_path)
    before = os.stat(folder)
    shutil.copy2(unit, folder / unit.name)
    # A writer that died in the same clock tick as the last check: the folder looks unchanged.
    os.utime(folder, ns=(before.st_atime_ns, before.st_mtime_ns))
    v = Vault(home, archive_days=7)
    try:
        v.journal.begin("sweep")  # ... and it left its journal behind
    finally:
        v.close()
    v = Vault(home, archive_days=7)  # opening reconciles the crash: a full listing
    try:
        assert not v.journal.exists()
        assert v.get("from-backup").archive_path.endswith(unit.name)
    finally:
        v.close()


def test_a_folder_whose_mark_did_not_change_is_not_listed_again_before_a_write(tmp_path, monkeypatch):
    unit, folder, home = _two_homes(tmp_path)
    v = Vault(home, archive_days=7)
    try:
        listed = _listings(v, monkeypatch)
        v.sweep()  # the folder changed when the first sweep archived into it: listed once
        assert listed == [folder.name]
        listed.clear()
        v.sweep()
        assert listed == []  # nothing changed since
        shutil.copy2(unit, folder / unit.name)
        v.sweep()
        assert listed == [folder.name]
        assert v.get("from-backup") is not None
    finally:
        v.close()


def test_a_sweeps_own_archives_keep_a_whole_folder_whole(tmp_path, monkeypatch):
    """The folder a sweep publishes to was whole before its batch: the batch's commit
    remembers it whole again, so the next write does not list it; one dropped in by
    hand afterwards is still found."""
    unit, folder, home = _two_homes(tmp_path)
    v = Vault(home, archive_days=7)
    try:
        listed = _listings(v, monkeypatch)
        v.sweep()  # lists the folder the first sweep wrote to; now it is remembered whole
        listed.clear()
        make_native(home, "swept-later", 20, now=NOW)
        assert [e.session_id for e in v.sweep().archived] == ["swept-later"]
        assert v.get("swept-later").archive_path.startswith(folder.relative_to(home / "archive").as_posix())
        assert listed == []  # the sweep's own write did not make its folder look changed
        v.sweep()
        assert listed == []
        shutil.copy2(unit, folder / unit.name)
        v.sweep()
        assert listed == [folder.name]
        assert v.get("from-backup") is not None
    finally:
        v.close()


def test_an_archive_copied_into_a_folder_while_a_sweep_writes_there_is_indexed_by_the_next_write(tmp_path):
    """A unit dropped by hand into the folder a batch publishes to, while that batch is
    being written (before or after its own files land), changes the folder as the batch
    does: the batch must not remember the folder whole with it unindexed."""
    for step in ("write-member", "index"):
        (tmp_path / step).mkdir()
        unit, folder, home = _two_homes(tmp_path / step)
        copied: list[str] = []

        def drop_in(name: str, step: str = step, unit=unit, folder=folder) -> None:
            if name == step and not copied:
                shutil.copy2(unit, folder / unit.name)
                copied.append(name)

        v = Vault(home, archive_days=7)
        try:
            v.sweep()  # the folder is remembered whole
        finally:
            v.close()
        make_native(home, "swept-later", 20, now=NOW)
        v = Vault(home, archive_days=7, fault=drop_in)
        try:
            assert [e.session_id for e in v.sweep().archived] == ["swept-later"]
            assert copied == [step]
        finally:
            v.close()
        v = Vault(home, archive_days=7)
        try:
            v.sweep()
            assert v.get("from-backup").archive_path.endswith(unit.name), step
        finally:
            v.close()
