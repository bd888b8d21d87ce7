"""Rebuilding the index from what is on disk (and, with a remote tier, in the bucket),
and importing the older app's archives: the one place that turns units into rows."""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from .. import archive as arc
from ..archive import legacy
from ..archive.objects import RemoteObject, RemoteUnavailableError, parse_key
from ..archive.remote import foreign_relpath
from ..errors import DataError, TermvaultError
from ..index import is_corruption
from ..model import ArchiveEntry
from ..reports import Progress
from .context import Context
from .deltas import inherit_among
from .maintenance import load_pins
from .text import index_text

log = logging.getLogger(__name__)
LEGACY_SETTING = "legacy_import_signature"


@dataclass
class Unit:
    archive_path: str  # where its local copy lives (or would) under archive/
    manifest: arc.Manifest
    size: int
    sha256: str | None
    key: str | None = None  # its object in the remote, if any
    local: bool = False
    host: str | None = None  # None for this machine's own units


class _Ticker:
    def __init__(self, total: int, progress: Callable[[Progress], None] | None):
        self.total, self.done, self.progress = total, 0, progress

    def __call__(self, session_id: str = "", message: str = "") -> None:
        self.done += 1
        if self.progress:
            self.progress(Progress(self.done, self.total, session_id=session_id, ok=not message, message=message))


def reindex(ctx: Context, progress: Callable[[Progress], None] | None = None, all_hosts: bool = False) -> int:
    """Rebuild the index (rows and full text) from ``archive/`` alone, or with a remote
    tier merged with the bucket: this machine's objects (so evicted versions stay
    indexed) and, with ``all_hosts``, every machine's. The caller holds the write lock.

    Local files are read whole and verified; remote objects only up to the end of their
    manifest. A local copy and its object count once. A second archive claiming an
    indexed session version is logged and left out (both files stay for ``verify``). A
    version of another machine whose content this index already holds is skipped; one
    whose (session id, version) is taken by other content gets the next free version
    (its own kept in ``meta.origin_version``). Everything is read before the index is
    touched: an unreachable remote changes nothing. Returns the versions indexed."""
    objects: list[tuple[RemoteObject, tuple[str, str]]] = []
    if ctx.remote is not None:
        host = ctx.remote.spec.host
        listing = ctx.remote.objects.list("" if all_hosts else f"{host}/")
        objects = [(o, p) for o in listing if (p := parse_key(o.key))]
    local_paths = list(ctx.store.units())
    tick = _Ticker(len(objects) + len(local_paths), progress)
    units: dict[str, Unit] = {}
    for rel, _path in local_paths:
        try:
            back = ctx.store.read_back(rel)
        except DataError as exc:
            log.warning("reindex skipped %s: %s", rel, exc)
            tick(message=str(exc))
            continue
        units[rel] = Unit(rel, back.manifest, back.archive_size, back.archive_sha256, local=True)
        tick(back.manifest.session_id)
    if objects:
        _merge_remote(ctx, objects, units, tick)
    # A delta unit repeats only the metadata that changed: take the rest from its base.
    inherit_among([(u.host or "", u.manifest) for u in units.values()])
    return _write_index(ctx, _numbered(units.values()))


def _merge_remote(
    ctx: Context, objects: list[tuple[RemoteObject, tuple[str, str]]], units: dict[str, Unit], tick: _Ticker
) -> None:
    assert ctx.remote is not None
    store, host = ctx.remote.objects, ctx.remote.spec.host

    def read(item: tuple[RemoteObject, tuple[str, str]]) -> tuple[Any, ...]:
        try:
            return item, *store.read_manifest(item[0].key), None
        except RemoteUnavailableError:
            raise
        except TermvaultError as exc:
            return item, None, None, exc

    with ThreadPoolExecutor(max_workers=store.policy.workers) as pool:
        results = list(pool.map(read, objects))
    for (obj, (obj_host, rel)), manifest, info, exc in results:
        if exc is not None:
            log.warning("reindex skipped %s: %s", obj.key, exc)
            tick(message=str(exc))
            continue
        where = rel if obj_host == host else foreign_relpath(obj_host, rel)
        known = units.get(where)
        if known is None:
            units[where] = Unit(
                where,
                manifest,
                info.size,
                info.sha256,
                obj.key,
                local=ctx.store.exists(where) and obj_host != host,
                host=None if obj_host == host else obj_host,
            )
        elif known.sha256 == info.sha256 or (
            info.sha256 is None and known.manifest.content_sha256 == manifest.content_sha256
        ):
            known.key = obj.key
        else:
            log.warning("%s differs from the local copy %s; the local copy is indexed", obj.key, where)
        tick(manifest.session_id)


def _numbered(units: Iterable[Unit]) -> list[tuple[Unit, int]]:
    """Each unit with the version it is indexed as (see ``reindex``); duplicates dropped."""
    ordered = sorted(units, key=lambda u: (u.host is not None, u.host or "", u.manifest.session_id, u.manifest.version))
    taken: set[tuple[str, int]] = set()
    contents: dict[str, set[str]] = defaultdict(set)
    accepted: list[tuple[Unit, int]] = []
    deferred: list[Unit] = []
    for u in ordered:
        m = u.manifest
        if u.host is not None and m.content_sha256 in contents[m.session_id]:
            continue  # another machine archived content this index already holds
        if (m.session_id, m.version) in taken:
            if u.host is None:
                log.warning("reindex: %s repeats %s version %s; left out", u.archive_path, m.session_id, m.version)
            else:
                deferred.append(u)
            continue
        taken.add((m.session_id, m.version))
        contents[m.session_id].add(m.content_sha256)
        accepted.append((u, m.version))
    for u in deferred:
        m = u.manifest
        if m.content_sha256 in contents[m.session_id]:
            continue
        version = max(v for s, v in taken if s == m.session_id) + 1
        taken.add((m.session_id, version))
        contents[m.session_id].add(m.content_sha256)
        accepted.append((u, version))
    return accepted


def _write_index(ctx: Context, units: list[tuple[Unit, int]]) -> int:
    index = ctx.index
    pins = load_pins(ctx)
    prior = index.remote_prior()
    count = 0
    with index.transaction():
        index.clear()
        for u, version in units:
            m = u.manifest
            e = arc.entry_from_manifest(m, u.archive_path, u.size, u.sha256)
            e.version, e.pinned = version, m.session_id in pins
            if version != m.version:
                e.meta = {**e.meta, "origin_version": m.version}
            if u.host is not None:
                e.meta = {**e.meta, "host": u.host}
            # Pending removals exist only between a crash and the reconciliation every
            # write (this one included) runs first, so a rebuilt own row is complete;
            # another machine's sources are not on this disk at all.
            e.source_removed = m.mode == "move" or u.host is not None
            index.insert(e)
            old = prior.get(u.archive_path)
            # A verification survives a rebuild only for the very same bytes at the same key.
            verified = (
                old["remote_verified_at"]
                if old is not None and u.key and old["remote_key"] == u.key and u.sha256
                and old["archive_sha256"] == u.sha256
                else None
            )  # fmt: skip
            if u.key is not None or not u.local:
                index.set_remote(e.row_id, remote_key=u.key, remote_verified_at=verified, local_present=int(u.local))
            count += 1
        for e in index.newest_versions() if ctx.config.full_text else ():
            if not ctx.store.exists(e.archive_path):
                continue  # known from the bucket only: indexed when first fetched
            try:
                index_text(ctx, e)
            except Exception as exc:  # the row stays; only its text is not searchable
                log.warning("reindex: no text for %s: %s", e.archive_path, exc)
        for entry in ctx.store.legacy_entries(ctx.home):
            entry.pinned = entry.session_id in pins
            if index.insert_unique(entry):
                count += 1
                _legacy_text(ctx, entry)
    index.settle()
    return count


def _legacy_text(ctx: Context, entry: ArchiveEntry) -> None:
    """The older app's archive of a session with no newer version enters the full text."""
    newest = ctx.index.get_entry(entry.session_id)
    if not ctx.config.full_text or newest is None or newest.row_id != entry.row_id:
        return
    try:
        index_text(ctx, entry)
    except Exception as exc:  # the row stays; only its text is not searchable
        log.warning("no text for the legacy archive %s: %s", entry.archive_path, exc)


def set_aside_unreadable_index(ctx: Context) -> bool:
    """Move an index SQLite cannot read aside (``.unreadable-<time>``) so reindex can
    build a new one; True if it did. A sound file (or a full disk, an I/O error) stays."""
    try:
        if ctx.index.quick_check()[0] == "ok":
            return False
        problem = "quick_check failed"
    except DataError as exc:
        if not is_corruption(exc.__cause__):
            raise  # a full disk or an I/O error: the file itself may well be sound
        problem = str(exc.__cause__)
    ctx.index.close()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = ctx.config.index_path
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.replace(f"{path}{suffix}", f"{path}.unreadable-{stamp}{suffix}")
    log.warning("the index %s was unreadable (%s); moved aside to rebuild it", path, problem)
    return True


# -- the older app's archives -----------------------------------------------------------
def needs_legacy_import(ctx: Context) -> bool:
    return ctx.index.get_setting(LEGACY_SETTING) != legacy.signature(ctx.home)


def import_legacy(ctx: Context, force: bool = False) -> int:
    """Index the older app's archives not indexed yet (caller holds the lock). Returns
    how many were added. Legacy versions get version 0 so any newer archive wins."""
    if not force and not needs_legacy_import(ctx):
        return 0
    known = ctx.index.archive_paths()
    added = 0
    with ctx.index.transaction():
        for entry in ctx.store.legacy_entries(ctx.home):
            if entry.archive_path in known:
                continue
            if ctx.index.get_entry(entry.session_id, 0) is not None:
                log.warning("legacy archive %s duplicates session %s; skipped", entry.archive_path, entry.session_id)
                continue
            ctx.index.insert(entry)
            _legacy_text(ctx, entry)
            added += 1
    ctx.index.set_setting(LEGACY_SETTING, legacy.signature(ctx.home))
    return added
