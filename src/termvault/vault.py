"""The facade the library, the CLI and the TUI all use.

``Vault(home)`` opens (or creates) a termvault home: it resolves the settings, opens the
index, imports the older app's data once, and repairs what an interrupted run left. Every
operation that writes holds the home's write lock; reads never do.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO

from . import archive as arc
from .config import Config
from .errors import (
    AmbiguousIdError,
    DataError,
    NotFoundError,
    TermvaultError,
)
from .fsutil import (
    remove_if_unchanged,
    FILE_MODE,
    check_home_ownership,
    ensure_private_dir,
    fsync_dir,
    validate_id,
    validate_relpath,
)
from .index import ArchiveEntry, ArchiveIndex
from .lock import HomeLock
from .model import BoundedReader, HashingDiskFile, SessionInfo, SessionUnit, fingerprint_of
from .reports import Failure, Progress, RestoreResult, SweepReport
from .sources import Source, available_kinds, source_class
from .sources.base import clean_info, parse_time
from .transfer import EXPORT_FORMATS, RESTORE_PREFIX, close_refs  # noqa: F401  (re-exported)

log = logging.getLogger(__name__)

DAY = 86400.0
JOURNAL = ".journal"  # present while a write operation runs; its presence at open = crash
ProgressCallback = Callable[[Progress], None]


@dataclass
class _Prepared:
    info: SessionInfo
    shas: dict[str, str]
    content: str  # content_digest of the files
    fts: tuple[str, str, str] | None  # fulltext.prepare(info.text)


@dataclass
class ConfiguredSource:
    source: Source
    mode: str
    archive_days: float
    configured: bool


class Vault:
    """A termvault home: sweep, search, get, restore, export, stats, verify, repair,
    reindex, prune, pin. Thread-safe; one writer per home across processes."""

    def __init__(
        self,
        home: Path | str | None = None,
        *,
        config: Config | None = None,
        config_file: Path | str | None = None,
        lock_timeout: float = 30.0,
        fault: Callable[[str], None] | None = None,
        readonly: bool = False,
        **overrides: Any,
    ):
        """``readonly`` opens a home for reading only: nothing is created, repaired or
        written (so it works on a read-only home); a home or index that does not exist
        reads as empty (a caller that wants an error checks ``home.is_dir()`` first)."""
        self.config = config.with_overrides(**overrides) if config else Config.load(home, config_file, **overrides)
        self.home = self.config.home
        self.readonly = readonly
        if self.home.exists():
            check_home_ownership(self.home)  # before tightening: refuse, do not silently fix
        if not readonly:
            ensure_private_dir(self.home)
            ensure_private_dir(self.config.archive_dir)
            ensure_private_dir(self.config.history_dir)
        self.lock = HomeLock(self.home, timeout=lock_timeout)
        self._fault = fault or (lambda step: None)
        self._index: ArchiveIndex | None = None
        self._sources: dict[str, ConfiguredSource] | None = None
        if not readonly:
            self._startup()

    # -- opening ------------------------------------------------------------------------
    @property
    def index(self) -> ArchiveIndex:
        if self._index is None:
            if self.readonly:
                self._index = ArchiveIndex.open_for_reading(self.config.index_path)
            else:
                self._index = ArchiveIndex(self.config.index_path)
        return self._index

    def _startup(self) -> None:
        """Finish what an interrupted run left and import the older app's data, if the
        lock is free right now (otherwise whoever holds it will)."""
        from . import legacy, maintenance

        journal = self.home / JOURNAL
        try:
            needs_legacy = legacy.needs_import(self)
            if not journal.exists() and not needs_legacy:
                return
            if not self.lock.try_acquire("start-up reconciliation"):
                return
            try:
                if journal.exists():
                    maintenance.reconcile(self)
                    journal.unlink(missing_ok=True)
                if needs_legacy:
                    legacy.import_legacy(self)
            finally:
                self.lock.release()
        except DataError as exc:
            # An unreadable index must not stop the home from opening, or `reindex` could
            # never run: every use of the index raises this same error until it does.
            log.warning("start-up skipped: %s", exc)
        except (OSError, TermvaultError, ValueError) as exc:
            # Nor may one bad leftover: the journal stays, and the next write retries.
            log.warning("start-up reconciliation incomplete: %s", exc)

    @contextlib.contextmanager
    def writing(self, what: str) -> Iterator[None]:
        """Hold the write lock and the crash journal for one write operation."""
        with self.lock.hold(what):
            journal = self.home / JOURNAL
            fresh = not journal.exists()
            if not fresh:
                from . import maintenance

                maintenance.reconcile(self)
            fd = os.open(journal, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
            os.write(fd, f"{os.getpid()} {what}\n".encode())
            os.fsync(fd)
            os.close(fd)
            try:
                yield
            finally:
                journal.unlink(missing_ok=True)

    def close(self) -> None:
        if self._index is not None:
            self._index.close()
            self._index = None

    def __enter__(self) -> Vault:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- sources ------------------------------------------------------------------------
    def sources(self, kinds: Sequence[str] | None = None, include_undetected: bool = False) -> list[ConfiguredSource]:
        """The sources a sweep covers: configured ones, and every other known kind whose
        default folder exists. ``kinds`` restricts (unknown kinds raise ConfigError)."""
        if self._sources is None:
            found: dict[str, ConfiguredSource] = {}
            for kind in available_kinds():
                sc = self.config.source_config(kind)
                try:
                    cls = source_class(kind)
                except TermvaultError:
                    if kind in self.config.sources:
                        raise
                    log.warning("source kind %s could not be loaded", kind)
                    continue
                src = cls(sc.roots or None, home=self.home, options=sc.options)
                mode = sc.mode or cls.default_mode
                days = sc.archive_days
                if days is None:
                    days = self.config.archive_days if mode == "move" else 0.0
                found[kind] = ConfiguredSource(src, mode, days, kind in self.config.sources)
            self._sources = found
        chosen = []
        for kind in kinds or list(self._sources):
            if kind not in self._sources:
                source_class(kind)  # raises ConfigError naming the known kinds
                continue
            cs = self._sources[kind]
            sc = self.config.source_config(kind)
            if not sc.enabled and not kinds:
                continue
            auto = cs.source.auto_detect and cs.source.detected()
            if kinds or include_undetected or cs.configured or auto:
                chosen.append(cs)
        return chosen

    def source(self, kind: str) -> Source:
        for cs in self.sources([kind], include_undetected=True):
            return cs.source
        raise NotFoundError(f"No source of kind {kind!r} is available.")

    # -- sweeping -----------------------------------------------------------------------
    def plan(
        self, older_than: float | None = None, kinds: Sequence[str] | None = None, now: float | None = None,
        census: SweepReport | None = None,
    ) -> tuple[list[tuple[ConfiguredSource, SessionUnit]], int]:
        """(due units, number skipped). ``older_than`` (days) overrides every source's
        threshold. A unit is due when its last activity is older than the threshold and
        the settle time, and it differs from its newest archived version. ``census``, if
        given, receives the sessions found per source and the due ones whose files look
        identical to their newest archived version (same paths, sizes and times)."""
        now = time.time() if now is None else now
        due, skipped = [], 0
        for cs in self.sources(kinds):
            if census is not None:
                census.found.setdefault(cs.source.kind, 0)
            days = cs.archive_days if older_than is None else older_than
            cutoff = now - days * DAY
            settle_cutoff = now - self.config.settle_seconds
            latest = self.index.latest_by_session(cs.source.kind)
            try:
                units = list(cs.source.discover())
            except OSError as exc:
                log.warning("could not list %s sessions: %s", cs.source.kind, exc)
                continue
            if census is not None:
                census.found[cs.source.kind] += len(units)
            for unit in units:
                activity = unit.hints.get("stamp", unit.mtime)
                if activity > cutoff or unit.mtime > settle_cutoff:
                    skipped += 1
                    continue
                row = latest.get(unit.session_id)
                # Unchanged since its newest version was archived (or pruned on purpose:
                # re-archiving it would only be pruned again). A version whose archive went
                # missing or corrupt is archived afresh.
                if (
                    row is not None and cs.mode == "copy"
                    and row["status"] in ("archived", "deleted")
                    and row["fingerprint"] == unit.fingerprint()
                ):
                    skipped += 1
                    continue
                if (census is not None and row is not None and row["status"] == "archived"
                        and row["fingerprint"] == unit.fingerprint()):
                    census.identical.append(unit.session_id)
                due.append((cs, unit))
        return due, skipped

    def sweep(
        self,
        older_than: float | None = None,
        kinds: Sequence[str] | None = None,
        dry_run: bool = False,
        progress: ProgressCallback | None = None,
        prune: bool = True,
    ) -> SweepReport:
        """Archive everything due. Each unit is archived, read back and verified, indexed,
        and (move mode) only then removed from its source, if unchanged. A failing unit is
        reported and the sweep goes on. With a storage cap configured, prunes afterwards."""
        started = time.monotonic()
        report = SweepReport(dry_run=dry_run)
        if dry_run:
            due, report.skipped = self.plan(older_than, kinds, census=report)
            report.due = [(cs.source.kind, u.session_id, u.size) for cs, u in due]
            if self.config.max_total_bytes is not None and prune:
                from .maintenance import prune as do_prune

                report.prune = do_prune(self, dry_run=True)
            report.seconds = time.monotonic() - started
            return report
        with self.writing("sweeping"), ThreadPoolExecutor(1, "termvault-prepare") as pool:
            due, report.skipped = self.plan(older_than, kinds, census=report)
            total = len(due)
            bytes_total = sum(u.size for _, u in due)
            bytes_done = 0
            # Parsing is Python (it holds the GIL); compressing, hashing, fsync and SQLite
            # mostly release it. So the next unit is parsed on a second thread while this
            # one is written: the two overlap on two cores.
            ahead = {0: pool.submit(self._prepare, *due[0])} if due else {}
            for n, (cs, unit) in enumerate(due, start=1):
                if n < total:
                    ahead[n] = pool.submit(self._prepare, *due[n])
                ok = True
                message = ""
                outcome = "archived"
                try:
                    entry = self.archive_unit(cs, unit, ahead.pop(n - 1).result())
                    if entry is None:
                        report.unchanged += 1
                        outcome = "unchanged"
                    else:
                        report.archived.append(entry)
                except Exception as exc:  # one bad session never stops the sweep
                    ok, message, outcome = False, str(exc) or type(exc).__name__, "failed"
                    report.failed.append(
                        Failure(unit.session_id, str(unit.files[0].origin), message, cs.source.kind)
                    )
                    log.warning("could not archive %s session %s: %s", cs.source.kind, unit.session_id, exc)
                bytes_done += unit.size
                if progress:
                    progress(Progress(n, total, bytes_done, bytes_total, unit.session_id, ok, message, outcome,
                                      cs.source.kind))
            if self.config.remote:  # upload before pruning: only verified copies may be evicted
                from .remote import push_after_sweep

                push_after_sweep(self)
            if prune and self.config.max_total_bytes is not None:
                from .maintenance import prune as do_prune

                report.prune = do_prune(self, dry_run=False)
        report.seconds = time.monotonic() - started
        return report

    def _prepare(self, cs: ConfiguredSource, unit: SessionUnit) -> _Prepared:
        """Everything about a unit that needs no lock and no index: parse the records,
        hash every file (in the same read), and prepare its text for the full-text index."""
        from . import fulltext

        validate_id(unit.session_id)
        refs = [HashingDiskFile(f.relpath, f.size, f.origin) for f in unit.files]
        info = self._parse(cs.source, refs, unit)
        shas = {r.relpath: r.ensure_hash() for r in refs}
        fts = fulltext.prepare(info.text) if self.config.full_text else None
        return _Prepared(info, shas, arc.content_digest(shas.items()), fts)

    def archive_unit(
        self, cs: ConfiguredSource, unit: SessionUnit, prepared: _Prepared | None = None
    ) -> ArchiveEntry | None:
        """Archive one unit (the caller holds the write lock). Returns the new version's
        entry, or None when its content equals the newest archived version (in move mode
        the source is then removed, the archive already holding it)."""
        p = prepared or self._prepare(cs, unit)
        src, info, shas, content = cs.source, p.info, p.shas, p.content
        latest = self.index.get_entry(unit.session_id)
        if latest is not None and latest.content_sha256 == content and latest.status == "archived":
            if cs.mode == "move":
                # The index says an archive holds these bytes: check that it does before
                # the only other copy goes.
                back = arc.read_archive(self.local_archive(latest), max_expand=None)
                if back.manifest.content_sha256 != content:
                    raise DataError(f"The archive of {unit.session_id} does not hold what the index says.")
                self._remove_sources(unit, shas, latest)
            elif latest.fingerprint != unit.fingerprint():
                with self.index.transaction() as db:
                    db.execute("UPDATE sessions SET fingerprint = ? WHERE id = ?", (unit.fingerprint(), latest.row_id))
            return None
        version = self._next_version(unit.session_id)
        last_activity = info.last_activity_at or unit.mtime
        meta = info.metadata()
        meta["last_activity_at"] = last_activity
        manifest = arc.Manifest(
            session_id=unit.session_id,
            source=src.kind,
            version=version,
            mode=cs.mode,
            root=str(unit.root),
            archived_at=time.time(),
            meta=meta,
            files=[
                arc.ManifestFile(
                    path=f.relpath, origin=str(f.origin), size=f.size, mtime_ns=f.mtime_ns,
                    sha256=shas[f.relpath], mode=_file_mode(f.origin),
                )
                for f in unit.files
            ],
        )
        rel = arc.archive_relpath(last_activity, unit.session_id, version)
        while (self.config.archive_dir / rel).exists():
            # An archive the index lacks (unverifiable, or left by a crash) keeps its name:
            # never overwrite it, take the next version instead.
            version += 1
            manifest.version = version
            rel = arc.archive_relpath(last_activity, unit.session_id, version)
        target = self.config.archive_dir / rel
        written = arc.write_archive(
            target,
            manifest,
            [arc.SourceFile(mf, _opener(f.origin, f.size)) for mf, f in zip(manifest.files, unit.files)],
            level=self.config.level,
            fault=self._fault,
        )
        try:
            if self.config.verify or cs.mode == "move":  # never delete a source unverified
                self._fault("verify")
                back = arc.read_archive(target)
                if back.archive_sha256 != written.archive_sha256 or back.manifest.content_sha256 != content:
                    raise DataError(f"{target} did not read back as written.")
            entry = self._entry_from_manifest(manifest, rel, written.archive_size, written.archive_sha256)
            entry.pinned = bool(latest and latest.pinned)  # a pin covers every version
            self._fault("index")
            with self.index.transaction():
                self.index.insert(entry)
                self._index_text(entry, info, p.fts)
        except BaseException:
            # Nothing refers to the archive yet: remove it so no half-trusted copy lingers.
            with contextlib.suppress(OSError):
                target.unlink()
            raise
        if cs.mode == "move":
            self._remove_sources(unit, shas, entry)
        return entry

    def _parse(self, src: Source, refs, unit: SessionUnit | None) -> SessionInfo:
        try:
            info = src.parse(refs)
        except Exception as exc:  # a source bug must not stop the sweep or lose the unit
            log.warning("%s parser failed on %s: %s", src.kind, unit.session_id if unit else "?", exc)
            info = SessionInfo(parse_warnings=1)
        clean_info(info)
        # Sources may hand back any number: keep only plausible finite times.
        info.created_at = parse_time(info.created_at)
        info.last_activity_at = parse_time(info.last_activity_at)
        if unit is not None:
            wd = info.working_directory
            if wd and not os.path.isabs(wd):
                # Sources that only see relative paths give the folder relative to the root.
                info.working_directory = os.path.normpath(os.path.join(unit.root, wd))
            if not info.name:
                info.name = unit.session_id
            if not info.last_activity_at:
                info.last_activity_at = unit.mtime
        return info

    def _next_version(self, session_id: str) -> int:
        rows = self.index.query("SELECT MAX(version) FROM sessions WHERE session_id = ?", (session_id,))
        return (rows[0][0] or 0) + 1

    def _entry_from_manifest(self, m: arc.Manifest, rel: str, size: int, sha: str | None) -> ArchiveEntry:
        meta = dict(m.meta)
        last_activity = float(meta.get("last_activity_at") or m.archived_at)
        return ArchiveEntry(
            session_id=m.session_id,
            name=str(meta.get("name") or m.session_id),
            archived_at=m.archived_at,
            original_timestamp=last_activity,
            archive_path=rel,
            size_bytes=size,
            original_size_bytes=m.original_size,
            working_directory=str(meta.get("working_directory") or ""),
            last_command=meta.get("last_command"),
            version=m.version,
            source=m.source,
            mode=m.mode,
            created_at=meta.get("created_at"),
            last_activity_at=last_activity,
            archive_sha256=sha,
            content_sha256=m.content_sha256,
            file_count=len(m.files),
            fingerprint=fingerprint_of((f.path, f.size, f.mtime_ns) for f in m.files),
            meta=meta,
        )

    def _index_text(self, entry: ArchiveEntry, info: SessionInfo, prepared=None) -> None:
        """Index the text in the same transaction as the row (unless full_text is off)."""
        from . import fulltext

        if not self.config.full_text:
            return
        fulltext.add(self.index, entry, info.text, self.searchable_text, prepared)

    def searchable_text(self, entry: ArchiveEntry) -> str:
        """The searchable text of an archived version, re-derived from its archive."""
        refs = self.spooled_files(entry)
        try:
            return self._parse(self.source(entry.source), refs, None).text
        finally:
            close_refs(refs)

    def _remove_sources(self, unit: SessionUnit, shas: dict[str, str], entry: ArchiveEntry) -> None:
        """Delete the unit's files that are unchanged since they were read (size and
        mtime_ns); a changed file stays and is archived as a new version next time."""
        self._fault("delete-source")
        all_removed = True
        folders = set()
        for f in unit.files:
            # The conversation file a native session points to belongs to another tool:
            # it is kept in the archive but never deleted from where that tool keeps it.
            if f.relpath.startswith("_conversation/"):
                continue
            if remove_if_unchanged(f.origin, f.size, f.mtime_ns, before=self._journal_folder,
                                   ino=f.ino, ctime_ns=f.ctime_ns):
                folders.add(f.origin.parent)
            elif f.origin.exists():
                all_removed = False
                log.info("%s changed while it was archived; kept for the next sweep", f.origin)
        for folder in folders:
            with contextlib.suppress(OSError):
                fsync_dir(folder)
        if all_removed:
            with self.index.transaction() as db:
                db.execute("UPDATE sessions SET source_removed = 1 WHERE session_id = ? AND version = ?",
                           (entry.session_id, entry.version))

    def _journal_folder(self, folder: Path) -> None:
        from .transfer import journal_folder

        journal_folder(self, folder)

    # -- reading ------------------------------------------------------------------------
    def get(self, session_id: str, version: int | None = None) -> ArchiveEntry:
        """The entry of ``session_id`` (or a unique prefix of it), newest version unless
        ``version``. NotFoundError / AmbiguousIdError otherwise."""
        if not session_id:
            raise NotFoundError("No session id was given.")
        entry = self.index.get_entry(session_id, version)
        if entry is None:
            matches = self.index.find_prefix(session_id)
            if len(matches) > 1:
                raise AmbiguousIdError(session_id, matches, total=self.index.count_prefix(session_id))
            if matches:
                entry = self.index.get_entry(matches[0], version)
        if entry is None:
            which = f" version {version}" if version is not None else ""
            raise NotFoundError(f"No archived session{which} matches {session_id!r}.")
        return entry

    def archive_file(self, entry: ArchiveEntry) -> Path:
        rel = validate_relpath(entry.archive_path)
        return self.config.archive_dir.joinpath(*rel.split("/"))

    def local_archive(self, entry: ArchiveEntry) -> Path:
        """``archive_file(entry)``, first fetched from the remote into the local cache
        (verified) if the local copy was evicted or is another machine's."""
        path = self.archive_file(entry)
        if not path.exists():
            from .remote import ensure_local

            ensure_local(self, entry, path)
        return path

    def manifest(self, session_id: str, version: int | None = None) -> arc.Manifest:
        entry = self.get(session_id, version)
        if entry.status == "legacy":
            from .legacy import legacy_manifest

            return legacy_manifest(self, entry)
        return arc.read_manifest(self.local_archive(entry))

    def search(self, query: str | None = None, **filters: Any):
        """Search the index; see ``termvault.search.search`` for the filters."""
        from .search import search

        return search(self, query, **filters)

    def stats(self) -> dict[str, Any]:
        from .maintenance import stats

        return stats(self)

    # -- restore / export (see transfer.py) ----------------------------------------------
    def restore(
        self,
        session_id: str,
        version: int | None = None,
        to: Path | str | None = None,
        force: bool = False,
    ) -> RestoreResult:
        """Put a session's files back where they came from (or under ``to``), verified by
        sha256. A different existing file is a ConflictError unless ``force``; then the old
        file is kept aside as ``<name>.termvault-old-<time>``. Identical files are left.
        Writes only under ``to`` or inside the folders this home's sources read. Holds the
        write lock; a restore killed midway leaves only temporary files, which the next
        open removes."""
        from . import transfer

        with self.writing("restoring"):
            return transfer.restore(self, session_id, version, Path(to) if to else None, force)

    def spooled_files(self, entry: ArchiveEntry) -> list:
        """The session's files as readable refs; close them with ``close_refs``."""
        from . import transfer

        return transfer.spooled_files(self, entry)

    def export(
        self,
        session_id: str,
        out: BinaryIO,
        fmt: str = "raw",
        version: int | None = None,
        file: str | None = None,
        redact: bool = True,
    ) -> None:
        """Write a session to ``out``. ``raw``: the archived bytes of its main file (or of
        ``file``), byte-identical; ``text``/``markdown``/``jsonl``: rendered readably with
        secrets redacted. A session not archived yet is exported from its live files."""
        from . import transfer

        transfer.export(self, session_id, out, fmt, version, file, redact)

    def messages(self, session_id: str, version: int | None = None) -> list:
        """The session's turns (for previews); reads the archive once."""
        from . import transfer

        return transfer.messages(self, session_id, version)

    # -- maintenance (delegated) --------------------------------------------------------
    def verify(self, progress: ProgressCallback | None = None):
        from .maintenance import verify

        return verify(self, progress)

    def repair(self, progress: ProgressCallback | None = None):
        from .maintenance import repair

        with self.writing("repairing"):
            return repair(self, progress)

    def reindex(self, progress: ProgressCallback | None = None, remote: bool = False) -> int:
        """Rebuild the index from ``archive/`` alone; with a remote configured, merged with
        this machine's objects in the bucket (so evicted versions stay indexed), and with
        ``remote``, with every machine's. An index SQLite cannot read is first moved aside
        (``archive_index.sqlite3.unreadable-<time>``) and a new one built."""
        from .maintenance import reindex

        with self.lock.hold("reindexing"):
            from .maintenance import set_aside_unreadable_index

            set_aside_unreadable_index(self)
            with self.writing("reindexing"):
                if remote or self.config.remote:
                    from .remote import rebuild

                    return rebuild(self, progress, all_hosts=remote)
                return reindex(self, progress)

    def prune(self, max_bytes: int | None = None, dry_run: bool = False):
        from .maintenance import prune

        if dry_run:
            return prune(self, max_bytes=max_bytes, dry_run=True)
        with self.writing("pruning"):
            return prune(self, max_bytes=max_bytes, dry_run=False)

    def pin(self, session_id: str, pinned: bool = True) -> ArchiveEntry:
        from .maintenance import set_pinned

        with self.lock.hold("pinning"):
            return set_pinned(self, self.get(session_id).session_id, pinned)

    def unpin(self, session_id: str) -> ArchiveEntry:
        return self.pin(session_id, False)

    def import_legacy(self) -> int:
        from .legacy import import_legacy

        with self.lock.hold("importing legacy archives"):
            return import_legacy(self, force=True)


def _opener(path: Path, size: int) -> Callable[[], IO[bytes]]:
    return lambda: BoundedReader(open(path, "rb"), size)


def _file_mode(path: Path) -> int:
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        return FILE_MODE
