"""Keeping the index level with ``archive/`` and version numbers consistent.

The index is derivable: it may be deleted, lose its WAL or be restored from an older
copy. Before any write, archives the index lacks are indexed again (verified), so a
sweep numbers versions from everything on disk and never writes a second "version 1".
An archive that claims a version its session cannot have (far past the newest known
one: dropped in by hand, or by anyone who can write ``archive/``) is not trusted: it is
left out of the index and ``verify`` names it.

Listing every archive before every write costs about a second at 100,000 archives, so
the check before a write looks only in the month folders that changed since the last
check found them whole: a folder's (mtime, inode) is remembered in the index once every
unit in it is indexed. Nothing else writes there without the lock and the journal; after
a crash (the journal is there), in ``verify`` and with a lost index (no marks), every
folder is listed. A sweep's own batch changes the marks of the folders it publishes to;
a folder that was whole before is remembered whole again in the transaction that indexes
the batch (``remember_own``), so the next write does not list it again (listing the folder of a session swept 200 times cost more than the
rest of its append-only sweep).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .. import archive as arc
from ..errors import DataError, TermvaultError
from . import deltas
from .context import Context
from .text import index_text

log = logging.getLogger(__name__)


@dataclass
class CatchUp:
    indexed: list[str] = field(default_factory=list)
    renumbered: list[str] = field(default_factory=list)
    implausible: list[tuple[str, str]] = field(default_factory=list)  # (archive path, reason)
    unreadable: list[tuple[str, str]] = field(default_factory=list)

    def messages(self) -> list[str]:
        return [f"indexed {rel}" for rel in self.indexed] + [f"indexed {r}" for r in self.renumbered]


def _mark(folder: os.PathLike[str]) -> list[int]:
    st = os.stat(folder)
    return [st.st_mtime_ns, st.st_ino]


def unindexed(ctx: Context, full: bool = True) -> tuple[list[str], dict[str, list[int]]]:
    """Archive units under ``archive/`` the index has no row for, and the marks of the
    folders listed (taken before listing them). ``full`` False skips the folders whose
    mark is the one remembered."""
    marks = {} if full else ctx.index.folder_marks()
    seen: dict[str, list[int]] = {}
    rels: list[str] = []
    known: set[str] | None = None
    for name, folder in ctx.store.folders():
        try:
            mark = _mark(folder)
        except OSError:
            continue
        if marks.get(name) == mark:
            continue
        seen[name] = mark
        if known is None:
            known = ctx.index.archive_paths()
        rels += [rel for rel, _ in ctx.store.folder_units(folder) if rel not in known]
    return rels, seen


def _remember(ctx: Context, seen: dict[str, list[int]], full: bool) -> None:
    """Remember the folders just listed as whole (every unit in them indexed)."""
    if not seen and not full:
        return
    marks = {} if full else ctx.index.folder_marks()
    marks.update(seen)
    ctx.index.set_folder_marks(marks)


def remember_own(ctx: Context, folders: Iterable[Path]) -> None:
    """Inside the transaction that indexes a batch, every unit of which is in
    ``folders``: those remembered whole (checked before this write, and changed since
    only by this writer's own batches under the lock) are whole again, with their new
    marks. A folder this sweep created is listed once by the next write.

    Its mark changes with anything else put there meanwhile too (a unit copied in by
    hand while the sweep ran): so it is remembered whole only if every unit it holds
    now is indexed (one listing of this folder and a range of the index, not the whole
    check), else forgotten, and the next write lists it."""
    marks = ctx.index.folder_marks()
    changed = False
    for folder in folders:
        name = folder.relative_to(ctx.store.archive_dir).as_posix()
        if name in marks:
            try:
                mark = _mark(folder)  # taken before listing, as ``unindexed`` does
                known = ctx.index.archive_paths_in(name)
                whole = all(f"{name}/{unit}" in known for unit in arc.folder_unit_names(folder))
            except OSError:
                whole = False
            if whole:
                marks[name] = mark
            else:
                del marks[name]
            changed = True
    if changed:
        ctx.index.set_folder_marks(marks)


def _newest_known(ctx: Context, session_id: str) -> int:
    return max((e.version for e in ctx.index.versions(session_id)), default=0)


def catch_up(ctx: Context, pins: set[str] | None = None, dry_run: bool = False, full: bool = True) -> CatchUp:
    """Index every verified archive the index lacks (the caller holds the write lock),
    in version order per session. A (session, version) already indexed with other
    content gets the next free version (its own kept in ``meta.origin_version``); one
    already indexed with the same content is a duplicate and left alone; a version more
    than one past the newest known is implausible and left out. ``dry_run`` only
    classifies (for ``verify``). ``full`` False looks only in folders changed since the
    last catch-up found them whole (see the module's docstring)."""
    result = CatchUp()
    rels, seen = unindexed(ctx, full)
    if not rels:
        if not dry_run:
            _remember(ctx, seen, full)
        return result
    read: list[tuple[str, arc.ReadResult]] = []
    for rel in rels:
        try:
            read.append((rel, ctx.store.read_back(rel)))
        except DataError as exc:
            # An unverifiable archive is never trusted nor deleted: verify reports it.
            result.unreadable.append((rel, str(exc)))
    read.sort(key=lambda item: (item[1].manifest.session_id, item[1].manifest.version, item[0]))
    claimed: dict[str, int] = {}  # dry run: versions this pass would have indexed
    for rel, back in read:
        m = back.manifest
        newest = max(_newest_known(ctx, m.session_id), claimed.get(m.session_id, 0))
        same = ctx.index.get_entry(m.session_id, m.version)
        if same is not None and same.content_sha256 == m.content_sha256:
            log.warning("archive %s repeats %s version %s; left alone", rel, m.session_id, m.version)
            continue
        if newest and m.version > newest + 1:
            reason = (
                f"claims version {m.version} of {m.session_id}, whose newest known version is "
                f"{newest}; it is not trusted"
            )
            result.implausible.append((rel, reason))
            log.warning("archive %s %s", rel, reason)
            continue
        version = m.version if same is None else newest + 1
        claimed[m.session_id] = max(newest, version)
        if dry_run:
            continue
        deltas.inherit_from_index(ctx, m)  # a delta unit's unrepeated metadata, from its base
        entry = arc.entry_from_manifest(m, rel, back.archive_size, back.archive_sha256)
        entry.version = version
        if version != m.version:
            entry.meta = {**entry.meta, "origin_version": m.version}
            result.renumbered.append(f"{rel} as version {version}")
        else:
            result.indexed.append(rel)
        entry.pinned = m.session_id in (pins or set())
        with ctx.index.transaction():
            ctx.index.insert(entry)
            try:
                index_text(ctx, entry)
            except (TermvaultError, OSError, ValueError) as exc:
                log.warning("archive %s indexed without its text: %s", rel, exc)
    if not dry_run and not result.unreadable and not result.implausible:
        _remember(ctx, seen, full)  # every unit listed is indexed now
    return result
