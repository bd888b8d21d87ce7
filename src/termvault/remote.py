"""The remote tier: archive units on S3-compatible object storage, the local disk a cache.

With ``remote = "s3://bucket/prefix"`` configured, each archive unit is uploaded to
``<prefix>/<host>/YYYY/MM/<name>.tar.zst`` (its path under ``archive/``, below the
machine's own host folder), then read back whole and checked against its sha256. Only then
is it *remote-verified*, and only a remote-verified unit's local copy may be evicted: with
a remote, the storage cap evicts local copies (oldest first) instead of deleting data.
Reading an evicted unit (restore, export, snippets, previews) fetches it back into the
cache, checked against its hash, without the caller noticing.

Machines sharing a bucket each write under their own host folder. ``reindex_from_remote``
builds a merged index of every host's sessions from the bucket alone, reading only the
start of each object (the manifest is the first tar member); units of other machines are
cached under ``archive/hosts/<host>/``.

Index columns (migration 4): ``remote_key`` (the object's key once uploaded),
``remote_verified_at`` (when a full read-back matched), ``local_present`` (0 once evicted
or never fetched). Only this module reads or writes them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import time
import weakref
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import archive as arc
from .errors import DataError, IntegrityError, TermvaultError, UsageError
from .fsutil import FILE_MODE, TMP_PREFIX, ensure_private_dir, fsync_dir
from .index import ArchiveEntry
from .remote_store import (
    SHA_ATTR,
    ObjectStore,
    RemoteError,
    RemoteSpec,
    RemoteUnavailableError,
    parse_key,
)
from .reports import Failure, Progress, PruneReport

if TYPE_CHECKING:
    from .vault import Vault

log = logging.getLogger(__name__)

FOREIGN_DIR = "hosts"  # other machines' units are cached at archive/hosts/<host>/YYYY/MM/...


# -- the vault's view -------------------------------------------------------------------
_STORES: weakref.WeakKeyDictionary[Any, ObjectStore] = weakref.WeakKeyDictionary()


def spec_of(vault: Vault) -> RemoteSpec | None:
    return RemoteSpec.from_config(vault.config)


def store_of(vault: Vault) -> ObjectStore:
    """The vault's object store (one client per vault). UsageError if none is configured."""
    store = _STORES.get(vault)
    if store is None:
        spec = spec_of(vault)
        if spec is None:
            raise UsageError("No remote is configured; set remote = \"s3://bucket/prefix\" in config.toml.")
        store = _STORES[vault] = ObjectStore(spec)
    return store


def own_key(spec: RemoteSpec, entry: ArchiveEntry) -> str:
    return f"{spec.host}/{entry.archive_path}"


def foreign_relpath(host: str, rel: str) -> str:
    """Where a unit of another machine is cached under ``archive/``."""
    return f"{FOREIGN_DIR}/{host}/{rel}"


def _row(vault: Vault, row_id: int | None) -> Any:
    rows = vault.index.query("SELECT * FROM sessions WHERE id = ?", (row_id,))
    return rows[0] if rows else None


def remote_only_ids(vault: Vault) -> set[int]:
    """Rows whose archive lives in the remote, so a missing local copy is expected: evicted
    after verification, or known only from the bucket (another machine's, or rebuilt)."""
    return {r[0] for r in vault.index.query(
        "SELECT id FROM sessions WHERE remote_key IS NOT NULL AND (remote_verified_at IS NOT NULL OR local_present = 0)"
    )}


def _set(vault: Vault, row_id: int | None, **values: Any) -> None:
    cols = ", ".join(f"{k} = ?" for k in values)
    with vault.index.transaction() as db:
        db.execute(f"UPDATE sessions SET {cols} WHERE id = ?", (*values.values(), row_id))


# -- upload and verify ------------------------------------------------------------------
@dataclass
class PushReport:
    """What one push did. ``stopped`` says why it ended early (the remote unreachable)."""

    uploaded: list[str] = field(default_factory=list)  # keys written by this push
    verified: list[str] = field(default_factory=list)  # keys read back and matched
    failed: list[Failure] = field(default_factory=list)
    pending: int = 0  # versions still not remote-verified afterwards
    bytes_uploaded: int = 0
    stopped: str | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"uploaded_count": len(self.uploaded), "verified_count": len(self.verified),
                "failed_count": len(self.failed), "pending_count": self.pending,
                "bytes_uploaded": self.bytes_uploaded, "stopped": self.stopped,
                "seconds": round(self.seconds, 3), "uploaded": self.uploaded, "verified": self.verified,
                "failed": [f.to_dict() for f in self.failed]}


def pending(vault: Vault) -> list[ArchiveEntry]:
    """This machine's archived versions not yet remote-verified, oldest first."""
    rows = vault.index.query(
        "SELECT * FROM sessions WHERE status = 'archived' AND remote_verified_at IS NULL "
        "AND archive_path NOT LIKE ? ORDER BY last_activity_at, version, id", (f"{FOREIGN_DIR}/%",))
    return [vault.index.entry_from_row(r) for r in rows]


def push(vault: Vault, progress: Callable[[Progress], None] | None = None) -> PushReport:
    """Upload and verify every pending version (takes the write lock). A unit failing
    on its own is reported and the push goes on; an unreachable remote ends it."""
    started = time.monotonic()
    report = PushReport()
    store = store_of(vault)
    with vault.lock.hold("uploading to the remote"):
        todo = pending(vault)
        total_bytes = sum(e.size_bytes for e in todo)
        done_bytes = 0
        for n, entry in enumerate(todo, start=1):
            ok, message = True, ""
            try:
                _push_one(vault, store, entry, report)
            except RemoteUnavailableError as exc:
                report.stopped = str(exc)
                report.failed.append(Failure(entry.session_id, entry.archive_path, str(exc), entry.source))
                log.warning("%s", exc)
                break
            except (TermvaultError, OSError) as exc:
                ok, message = False, str(exc)
                report.failed.append(Failure(entry.session_id, entry.archive_path, message, entry.source))
                log.warning("could not upload %s: %s", entry.archive_path, exc)
            done_bytes += entry.size_bytes
            if progress:
                progress(Progress(n, len(todo), done_bytes, total_bytes, entry.session_id, ok, message))
        report.pending = len(pending(vault))
    report.seconds = time.monotonic() - started
    return report


def _push_one(vault: Vault, store: ObjectStore, entry: ArchiveEntry, report: PushReport) -> None:
    path = vault.archive_file(entry)
    row = _row(vault, entry.row_id)
    if not path.exists():
        # Known only from the bucket (an index rebuilt without its verifications): check
        # the object against the hash it was indexed with.
        if row is None or not row["remote_key"] or not entry.archive_sha256:
            raise DataError(f"The local copy {entry.archive_path} is missing and was never verified in the "
                            "remote; run `termvault verify`.")
        key, sha, size_wanted = row["remote_key"], entry.archive_sha256, entry.size_bytes
    else:
        key, sha, size_wanted = own_key(store.spec, entry), entry.archive_sha256 or arc.sha256_file(path), path.stat().st_size
        if store.put_file(key, path, sha):
            report.uploaded.append(key)
            report.bytes_uploaded += size_wanted
        _set(vault, entry.row_id, remote_key=key)
    got, size, _ = store.download(key)
    if got != sha or size != size_wanted:
        raise IntegrityError(f"{store.spec.display(key)} does not hold the bytes of {entry.archive_path}; it stays "
                             "unverified (and the local copy kept) until that object is removed from the bucket.")
    _set(vault, entry.row_id, remote_verified_at=time.time(), archive_sha256=sha)
    report.verified.append(key)


def push_after_sweep(vault: Vault) -> PushReport | None:
    """The sweep's upload step: failures are logged, never raised (the sweep succeeded)."""
    try:
        report = push(vault)
    except TermvaultError as exc:
        log.warning("could not upload to the remote: %s", exc)
        return None
    if report.failed:
        log.warning("%d version(s) could not be uploaded; `termvault remote push` retries", len(report.failed))
    return report


# -- evict (the storage cap with a remote) ----------------------------------------------
def evict(vault: Vault, max_bytes: int | None = None, dry_run: bool = False) -> PruneReport:
    """Free local space down to the cap by removing local copies of remote-verified
    versions, oldest last activity first; pinned sessions stay local. Nothing is deleted
    from the remote or the index. Each object is looked up first: one that is gone or
    differs is marked unverified and its local copy kept. ``pruned`` lists the evicted."""
    limit = vault.config.max_total_bytes if max_bytes is None else max_bytes
    rows = vault.index.query(
        "SELECT * FROM sessions WHERE status IN ('archived', 'legacy', 'corrupt') AND local_present = 1 "
        "ORDER BY last_activity_at ASC, version ASC, id ASC")
    total = sum(r["archive_size"] for r in rows)
    report = PruneReport(limit=limit, total_before=total, total_after=total, dry_run=dry_run)
    if limit is None or total <= limit:
        return report
    unverified = 0
    store: ObjectStore | None = None
    for r in rows:
        if report.total_after <= limit:
            break
        e = vault.index.entry_from_row(r)
        if e.pinned:
            report.skipped_pinned += 1
            continue
        if r["remote_verified_at"] is None or not r["remote_key"]:
            unverified += 1
            continue
        if not dry_run:
            try:
                store = store or store_of(vault)
                obj = store.head(r["remote_key"])
            except (RemoteError, UsageError) as exc:
                log.warning("stopped evicting: %s", exc)
                break
            if obj is None or obj.size != e.size_bytes or (obj.sha256 and e.archive_sha256 and obj.sha256 != e.archive_sha256):
                log.warning("%s is gone or changed in the remote; its local copy is kept", r["remote_key"])
                _set(vault, e.row_id, remote_verified_at=None)
                continue
            _set(vault, e.row_id, local_present=0)
            with contextlib.suppress(FileNotFoundError):
                vault.archive_file(e).unlink()
            log.info("evicted the local copy of %s version %s (%s bytes)", e.session_id, e.version, e.size_bytes)
        report.pruned.append(e)
        report.total_after -= e.size_bytes
    if unverified and report.total_after > limit:
        log.warning("%d version(s) are not verified in the remote yet and were kept; `termvault remote push` "
                    "uploads them", unverified)
    return report


# -- fetch (reading an evicted or foreign unit) -----------------------------------------
def ensure_local(vault: Vault, entry: ArchiveEntry, path: Path) -> None:
    """Fetch ``entry``'s archive into ``path`` if it is missing there and the remote holds
    it; otherwise leave the caller to report it missing."""
    if path.exists() or entry.row_id is None:
        return
    row = _row(vault, entry.row_id)
    if row is None or not row["remote_key"]:
        return
    fetch(vault, entry, row["remote_key"], path)


def fetch(vault: Vault, entry: ArchiveEntry, key: str, path: Path) -> None:
    """Download ``key`` to ``path`` atomically (temporary name, fsync, rename), checked
    against the recorded sha256 (or, lacking one, every member's), then mark it present."""
    try:
        store = store_of(vault)
    except UsageError:
        raise DataError(f"{entry.archive_path} is kept only in a remote, and no remote is configured; "
                        "set remote in config.toml to read it.") from None
    ensure_private_dir(path.parent)
    tmp = path.parent / f"{TMP_PREFIX}{os.getpid()}-{random.getrandbits(32):08x}-{path.name}.part"
    try:
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, FILE_MODE)
        with os.fdopen(fd, "w+b") as fh:
            sha, size, attrs = store.download(key, fh)
            fh.flush()
            os.fsync(fh.fileno())
        expected = entry.archive_sha256 or attrs.get(SHA_ATTR)
        if size != entry.size_bytes or (expected and sha != expected):
            raise IntegrityError(f"{store.spec.display(key)} does not match the hash recorded for it; "
                                 "the local cache was left untouched.")
        if not expected:  # no recorded hash of the whole: check every member against the manifest
            back = arc.read_archive(tmp, max_expand=vault.config.max_expand_bytes)
            if back.manifest.session_id != entry.session_id or back.manifest.content_sha256 != entry.content_sha256:
                raise IntegrityError(f"{store.spec.display(key)} holds another session than the index says.")
        os.replace(tmp, path)
        fsync_dir(path.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    _set(vault, entry.row_id, local_present=1, remote_verified_at=time.time(), archive_sha256=sha)
    log.info("fetched %s from the remote", entry.archive_path)
    _index_text_if_missing(vault, entry)


def _index_text_if_missing(vault: Vault, entry: ArchiveEntry) -> None:
    """A unit known only from the bucket had no full text: index it now that it is here."""
    from . import fulltext

    if not vault.config.full_text:
        return
    newest = vault.index.query(
        "SELECT id, text_sha256 FROM sessions WHERE session_id = ? ORDER BY version DESC LIMIT 1", (entry.session_id,))
    if not newest or newest[0]["id"] != entry.row_id or newest[0]["text_sha256"] is not None:
        return
    try:
        text = vault.searchable_text(entry)
        with vault.index.transaction():
            fulltext.add(vault.index, entry, text)
    except (TermvaultError, OSError) as exc:
        log.warning("could not index the text of %s: %s", entry.session_id, exc)


def pull(vault: Vault, entries: list[ArchiveEntry], progress: Callable[[Progress], None] | None = None) -> int:
    """Fetch the given versions into the local cache; returns how many were fetched."""
    fetched = 0
    for n, e in enumerate(entries, start=1):
        path = vault.archive_file(e)
        if not path.exists():
            ensure_local(vault, e, path)
            fetched += path.exists()
        if progress:
            progress(Progress(n, len(entries), session_id=e.session_id))
    return fetched


def remote_only(vault: Vault) -> list[ArchiveEntry]:
    """Versions whose local copy is absent (evicted, or another machine's)."""
    rows = vault.index.query("SELECT * FROM sessions WHERE remote_key IS NOT NULL AND local_present = 0 ORDER BY id")
    return [vault.index.entry_from_row(r) for r in rows]


# -- status -----------------------------------------------------------------------------
def status(vault: Vault, check: bool = True) -> dict[str, Any]:
    """Settings, counts from the index and (``check``) whether the bucket answers and
    which hosts write to it. Never raises for an unreachable remote: it is reported."""
    spec = spec_of(vault)
    if spec is None:
        return {"configured": False}
    q = vault.index.query
    foreign = f"{FOREIGN_DIR}/%"
    own = "status = 'archived' AND archive_path NOT LIKE ?"
    out: dict[str, Any] = {
        "configured": True, "remote": spec.display(), "host": spec.host, "endpoint": spec.endpoint,
        "region": spec.region,
        "versions": q(f"SELECT COUNT(*) FROM sessions WHERE {own}", (foreign,))[0][0],
        "verified": q(f"SELECT COUNT(*) FROM sessions WHERE {own} AND remote_verified_at IS NOT NULL", (foreign,))[0][0],
        "pending": len(pending(vault)),
        "evicted": q(f"SELECT COUNT(*) FROM sessions WHERE {own} AND local_present = 0", (foreign,))[0][0],
        "other_hosts_versions": q("SELECT COUNT(*) FROM sessions WHERE archive_path LIKE ?", (foreign,))[0][0],
        "local_bytes": q("SELECT COALESCE(SUM(archive_size), 0) FROM sessions WHERE local_present = 1 "
                         "AND status != 'deleted'")[0][0],
        "remote_bytes": q("SELECT COALESCE(SUM(archive_size), 0) FROM sessions WHERE remote_key IS NOT NULL")[0][0],
        "max_total_bytes": vault.config.max_total_bytes,
    }
    if check:
        try:
            out["hosts"] = store_of(vault).hosts()
            out["reachable"], out["error"] = True, None
        except RemoteError as exc:
            out["reachable"], out["error"], out["hosts"] = False, str(exc), []
    return out


# -- reindex from the bucket ------------------------------------------------------------
@dataclass
class _Unit:
    archive_path: str  # where its local copy lives (or would) under archive/
    manifest: arc.Manifest
    size: int
    sha256: str | None
    key: str | None = None  # its object in the remote, if any
    local: bool = False
    host: str | None = None  # None for this machine's own units


def reindex_from_remote(vault: Vault, progress: Callable[[Progress], None] | None = None) -> int:
    """Rebuild the index from the bucket (every machine's units) merged with the local
    archive files; ``Vault.reindex(remote=True)``. Returns the number of versions indexed.
    If the remote cannot be listed or read, the index is left as it was."""
    return vault.reindex(progress, remote=True)


def rebuild(vault: Vault, progress: Callable[[Progress], None] | None = None, all_hosts: bool = True) -> int:
    """``reindex_from_remote`` for a caller already holding the write lock.

    Local files are read whole and verified, as a plain reindex does; remote objects are
    read only up to the end of their manifest. A local copy and its object count once. A
    version of another machine whose content this index already holds is skipped; one
    whose (session id, version) is taken by other content gets the next free version
    number (its own is kept in ``meta.origin_version``). Full text is indexed for units
    present locally; the others are indexed when first fetched.
    """
    from concurrent.futures import ThreadPoolExecutor

    store = store_of(vault)
    host = store.spec.host
    objects = [(o, p) for o in store.list("" if all_hosts else f"{host}/") if (p := parse_key(o.key))]
    root = vault.config.archive_dir
    local_paths = list(arc.iter_archive_files(root))
    total, done = len(objects) + len(local_paths), 0

    def tick(session_id: str = "", message: str = "") -> None:
        nonlocal done
        done += 1
        if progress:
            progress(Progress(done, total, session_id=session_id, ok=not message, message=message))

    units: dict[str, _Unit] = {}
    for path in local_paths:
        rel = path.relative_to(root).as_posix()
        try:
            back = arc.read_archive(path, max_expand=vault.config.max_expand_bytes)
        except DataError as exc:
            log.warning("reindex skipped %s: %s", rel, exc)
            tick(message=str(exc))
            continue
        units[rel] = _Unit(rel, back.manifest, back.archive_size, back.archive_sha256, local=True)
        tick(back.manifest.session_id)

    def read(item):
        try:
            return item, *store.read_manifest(item[0].key), None
        except RemoteUnavailableError:
            raise
        except TermvaultError as exc:
            return item, None, None, exc

    # Everything is read before the index is touched: an unreachable remote changes nothing.
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
            units[where] = _Unit(where, manifest, info.size, info.sha256, obj.key,
                                 local=(root / where).exists() and obj_host != host,
                                 host=None if obj_host == host else obj_host)
        elif known.sha256 == info.sha256 or (info.sha256 is None and known.manifest.content_sha256 == manifest.content_sha256):
            known.key = obj.key
        else:
            log.warning("%s differs from the local copy %s; the local copy is indexed", obj.key, where)
        tick(manifest.session_id)
    return _write_index(vault, _numbered(units.values()))


def _numbered(units) -> list[tuple[_Unit, int]]:
    """Each unit with the version it is indexed as (see ``rebuild``); duplicates dropped."""
    ordered = sorted(units, key=lambda u: (u.host is not None, u.host or "", u.manifest.session_id, u.manifest.version))
    taken: set[tuple[str, int]] = set()
    contents: dict[str, set[str]] = defaultdict(set)
    accepted: list[tuple[_Unit, int]] = []
    deferred: list[_Unit] = []
    for u in ordered:
        m = u.manifest
        if u.host is not None and m.content_sha256 in contents[m.session_id]:
            continue  # another machine archived content this index already holds
        if (m.session_id, m.version) in taken:
            if u.host is None:
                log.warning("%s repeats version %s of %s; skipped", u.archive_path, m.version, m.session_id)
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


def _write_index(vault: Vault, units: list[tuple[_Unit, int]]) -> int:
    from . import fulltext
    from .legacy import legacy_entries
    from .maintenance import load_pins

    index = vault.index
    pins = load_pins(vault)
    prior = {r["archive_path"]: r for r in index.query(
        "SELECT archive_path, archive_sha256, remote_key, remote_verified_at FROM sessions")}
    count = 0
    with index.transaction() as db:
        db.execute("DELETE FROM sessions")
        fulltext.clear(db)
        for u, version in units:
            m = u.manifest
            e = vault._entry_from_manifest(m, u.archive_path, u.size, u.sha256)
            e.version, e.pinned = version, m.session_id in pins
            if version != m.version:
                e.meta = {**e.meta, "origin_version": m.version}
            if u.host is not None:
                e.meta = {**e.meta, "host": u.host}
            # A rebuilt own row is complete (see maintenance.reindex); another machine's
            # sources are not on this disk at all.
            e.source_removed = m.mode == "move" or u.host is not None
            index.insert(e)
            old = prior.get(u.archive_path)
            # A verification survives a rebuild only for the very same bytes at the same key.
            verified = (old["remote_verified_at"] if old is not None and u.key and old["remote_key"] == u.key
                        and u.sha256 and old["archive_sha256"] == u.sha256 else None)
            db.execute("UPDATE sessions SET remote_key = ?, remote_verified_at = ?, local_present = ? WHERE id = ?",
                       (u.key, verified, int(u.local), e.row_id))
            count += 1
        newest: dict[str, ArchiveEntry] = {}
        for e in index.all_rows():
            if e.session_id not in newest or e.version > newest[e.session_id].version:
                newest[e.session_id] = e
        for e in newest.values() if vault.config.full_text else ():
            if not vault.archive_file(e).exists():
                continue  # known from the bucket only: indexed when first fetched
            try:
                fulltext.add(index, e, vault.searchable_text(e))
            except (TermvaultError, OSError) as exc:
                log.warning("could not index the text of %s: %s", e.archive_path, exc)
        for entry in legacy_entries(vault):
            entry.pinned = entry.session_id in pins
            index.insert(entry)
            count += 1
    return count
