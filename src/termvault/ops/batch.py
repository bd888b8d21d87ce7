"""The sweep's writes, in batches.

Each unit's archive is written to a temporary file and read back (verified) as the sweep
reaches it; the batch then makes its archives durable and puts them in place together
(``fsutil.publish``: every file fsynced, renamed, its folder fsynced: the journal is
committed once or twice per batch rather than twice per unit), then writes their index
rows and full text in one transaction (one commit, one WAL sync, one FTS flush). A batch
holds up to ``MAX_UNITS`` units (fewer in the first ones), ``MAX_BYTES`` of sources or
``MAX_SECONDS`` of work, whichever comes first. A move-mode source is removed only after
its batch committed: a source goes only once its archive is durable, verified and indexed.

Kill points (``ctx.fault``): ``fsync``, ``rename`` and ``fsync-dir`` per unit as the batch
publishes, ``index`` before each unit's rows, ``commit`` before the batch commits,
``committed`` after it and before any source is removed, then ``delete-source`` per
unit. Killed before the commit, the batch's archives are temporary files or files the
index lacks (the next start-up's reconciliation handles both, and the next sweep
archives their sources again); killed after it, the sources not yet removed are removed
by the next start-up or sweep (unchanged, already archived).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..fsutil import fsync_dir, publish
from ..index import fulltext
from ..model import ArchiveEntry, SessionUnit
from ..reports import Progress
from ..sources.configured import ConfiguredSource
from . import consistency
from .context import Context
from .text import index_text

log = logging.getLogger(__name__)

MAX_UNITS = 64
MAX_BYTES = 64 * 1024 * 1024
MAX_SECONDS = 1.0

# Removes a unit's sources once indexed: (ctx, cs, unit, shas, entry) -> bytes removed.
# (folders: where it removed files, for the batch to fsync once before it commits the marks)
Remover = Callable[[Context, ConfiguredSource, SessionUnit, dict[str, str], ArchiveEntry, set[Path]], int]


@dataclass
class Written:
    """A unit whose archive is written and verified, its rows not yet committed."""

    cs: ConfiguredSource
    unit: SessionUnit
    entry: ArchiveEntry
    path: Path  # the archive file
    staged: Path  # its temporary file, until the batch publishes it (``fsutil.publish``)
    shas: dict[str, str]
    fts: fulltext.Prepared | None
    event: Progress | None = None


class _RowsFailed(Exception):
    def __init__(self, unit: Written, error: Exception):
        super().__init__(str(error))
        self.unit, self.error = unit, error


class Batch:
    """Units written since the last commit. ``on_done(written, error)`` is told each
    unit's fate once its batch is over (``error`` None: archived, indexed and, in move
    mode, its source removed)."""

    def __init__(self, ctx: Context, remove: Remover, on_done: Callable[[Written, BaseException | None], None]):
        self.ctx, self._remove, self._on_done = ctx, remove, on_done
        self.items: list[Written] = []
        self._bytes = 0
        self._started = 0.0
        self._limit = 1

    def add(self, w: Written) -> None:
        if not self.items:
            self._started = time.monotonic()
        self.items.append(w)
        self._bytes += w.unit.size

    def full(self) -> bool:
        return bool(self.items) and (
            len(self.items) >= self._limit
            or self._bytes >= MAX_BYTES
            or time.monotonic() - self._started >= MAX_SECONDS
        )

    def flush(self) -> None:
        items, self.items, self._bytes = self.items, [], 0
        # The first batches are small (1, 2, 4, ... units) so a sweep reports its first
        # sessions at once, then the batches grow to ``MAX_UNITS``.
        self._limit = min(MAX_UNITS, 2 * self._limit)
        if not items:
            return
        ctx = self.ctx
        done: list[Written] = []
        failed: list[tuple[Written, BaseException]] = []
        try:
            # Durable and in place before any row names them: one journal commit for all.
            publish([(w.staged, w.path) for w in items], ctx.fault)
        except Exception as exc:  # a full disk at the fsync: none of them is kept
            for w in items:
                self._on_done(w, exc)
            return
        try:
            if not self._index_at_once(items, failed):
                with ctx.index.transaction():
                    for w in items:
                        if any(w is f for f, _ in failed):
                            continue
                        try:
                            ctx.fault("index")
                            with ctx.index.unit_of_batch():
                                ctx.index.insert(w.entry)
                                index_text(ctx, w.entry, w.fts)
                        except Exception as exc:  # this unit's rows are undone, the batch goes on
                            failed.append((w, exc))
                            continue
                        done.append(w)
                    ctx.fault("commit")
            else:
                done = list(items)
        except Exception as exc:  # the whole batch rolled back (a full disk, a lost lock)
            already = {id(w) for w, _ in failed}
            failed += [(w, exc) for w in items if id(w) not in already]
            done = []
        except BaseException:  # interrupted: rolled back, nothing refers to these archives
            for w in items:
                with contextlib.suppress(OSError):
                    w.path.unlink()
            raise
        for w, _exc in failed:
            # Nothing refers to the archive: remove it so no half-trusted copy lingers.
            with contextlib.suppress(OSError):
                w.path.unlink()
        if done:
            ctx.fault("committed")
        errors = {id(w): exc for w, exc in failed}
        moved = [w for w in done if w.cs.mode == "move"]
        try:
            if moved:
                self._remove_sources(moved, errors)
        finally:  # interrupted while removing: the units are archived and indexed all the same
            for w in items:
                self._on_done(w, errors.get(id(w)))

    def _index_at_once(self, items: list[Written], failed: list[tuple[Written, BaseException]]) -> bool:
        """The batch's rows in one transaction without a savepoint per unit (each costs
        a statement and its release, more than a small unit's row): True once committed.
        If a unit's rows raise, the transaction is rolled back and that unit goes in
        ``failed``: the batch is then written again a unit at a time (``unit_of_batch``)
        without it. Inside a caller's transaction (nothing would roll back) it does
        nothing and says False."""
        ctx = self.ctx
        if ctx.index.in_transaction:
            return False
        try:
            with ctx.index.transaction():
                for w in items:
                    try:
                        ctx.fault("index")
                        ctx.index.insert(w.entry)
                        index_text(ctx, w.entry, w.fts)
                    except Exception as exc:
                        raise _RowsFailed(w, exc) from exc
                # Every unit published is indexed: the folders that were whole are again.
                consistency.remember_own(ctx, {w.path.parent for w in items})
                ctx.fault("commit")
        except _RowsFailed as e:  # rolled back: nothing of the batch is in the index
            failed.append((e.unit, e.error))
            return False
        return True

    def _remove_sources(self, moved: list[Written], errors: dict[int, BaseException]) -> None:
        """Remove the sources of the committed move-mode units; their index marks go in
        one transaction, committed after the folders they left are fsynced. Killed
        before that commit, start-up reconciliation finds the removals unmarked and
        finishes them (a source still there is checked and removed, one gone is marked)."""
        folders: set[Path] = set()
        try:
            with self.ctx.index.transaction():
                for w in moved:
                    try:
                        self._remove(self.ctx, w.cs, w.unit, w.shas, w.entry, folders)
                    except Exception as exc:  # archived and indexed; the source stays for now
                        errors[id(w)] = exc
                for folder in folders:
                    with contextlib.suppress(OSError):
                        fsync_dir(folder)
        except Exception as exc:  # the marks did not commit: the next start-up sets them
            log.warning("could not record the removed sources: %s", exc)
