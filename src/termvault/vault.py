"""The facade the library, the CLI, the TUI and the seed API all use.

``Vault(home)`` opens (or creates) a termvault home: it resolves the settings, opens the
index and the archive store, imports the older app's data once and repairs what an
interrupted run left. It composes; the work is done by ``termvault.ops``. Every operation
that writes holds the home's write lock and the crash journal; reads never do.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from .archive import Manifest
from .archive.objects import RemoteSpec
from .archive.remote import RemoteTier
from .archive.store import ArchiveStore
from .config import Config
from .errors import AmbiguousIdError, DataError, NotFoundError, TermvaultError
from .fsutil import check_home_ownership, ensure_private_dir
from .index import ArchiveIndex
from .journal import Journal
from .lock import HomeLock
from .model import ArchiveEntry, FileRef, SessionUnit
from .ops import export as export_ops
from .ops import maintenance, reindex, remote, restore, search, sweep
from .ops.context import Context
from .ops.text import index_text, searchable_text
from .reports import Progress, PruneReport, RestoreResult, SweepReport, VerifyReport
from .sources import Source
from .sources.base import Message
from .sources.configured import ConfiguredSource, SourceSet

log = logging.getLogger(__name__)
ProgressCallback = Callable[[Progress], None]


class Vault:
    """A termvault home: sweep, search, get, restore, export, stats, verify, repair,
    reindex, prune, pin, and the remote tier. Thread-safe; one writer per home."""

    def __init__(
        self,
        home: Path | str | None = None,
        *,
        config: Config | None = None,
        config_file: Path | str | None = None,
        lock_timeout: float = 30.0,
        fault: Callable[[str], None] | None = None,
        **overrides: Any,
    ):
        self.config = config.with_overrides(**overrides) if config else Config.load(home, config_file, **overrides)
        self.home = self.config.home
        if self.home.exists():
            check_home_ownership(self.home)  # before tightening: refuse, do not silently fix
        for folder in (self.home, self.config.archive_dir, self.config.history_dir):
            ensure_private_dir(folder)
        self.lock = HomeLock(self.home, timeout=lock_timeout)
        self.journal = Journal(self.home)
        self._fault = fault or (lambda step: None)
        self.index = ArchiveIndex(self.config.index_path)  # connects on first use
        self._sources = SourceSet(self.config)
        spec = RemoteSpec.from_config(self.config)
        self._remote = None if spec is None else RemoteTier(spec, self.index, self.config.max_expand_bytes)
        self.store = ArchiveStore(
            self.config.archive_dir, self.config.history_dir, self.home / ".tmp",
            self.config.max_expand_bytes, self.config.level, self._remote, self.index,
        )  # fmt: skip
        if self._remote is not None:
            self._remote.on_fetched = self._index_fetched
        self._startup()

    @property
    def ctx(self) -> Context:
        return Context(
            self.config, self.index, self.store, self.journal, self._sources, self.lock, self._remote, self._fault
        )

    def _startup(self) -> None:
        """Finish what an interrupted run left and import the older app's data, if the
        lock is free right now (otherwise whoever holds it will)."""
        try:
            needs_legacy = reindex.needs_legacy_import(self.ctx)
            if not self.journal.exists() and not needs_legacy:
                return
            if not self.lock.try_acquire("start-up reconciliation"):
                return
            try:
                if self.journal.exists():
                    maintenance.reconcile(self.ctx)
                    self.journal.end()
                if needs_legacy:
                    reindex.import_legacy(self.ctx)
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
            if self.journal.exists():
                maintenance.reconcile(self.ctx)
            self.journal.begin(what)
            try:
                yield
            finally:
                self.journal.end()

    def close(self) -> None:
        self.index.close()

    def __enter__(self) -> Vault:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- sources and sweeping -----------------------------------------------------------
    def sources(self, kinds: Sequence[str] | None = None, include_undetected: bool = False) -> list[ConfiguredSource]:
        """The sources a sweep covers (see ``SourceSet.select``)."""
        return self._sources.select(kinds, include_undetected)

    def source(self, kind: str) -> Source:
        return self._sources.get(kind)

    def plan(self, older_than: float | None = None, kinds: Sequence[str] | None = None, now: float | None = None):
        """(due units, number skipped); see ``ops.sweep.plan``."""
        return sweep.plan(self.ctx, older_than, kinds, now)

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
        reported and the sweep goes on. With a remote, uploads; with a cap, prunes."""
        started = time.monotonic()
        report = SweepReport(dry_run=dry_run)
        capped = prune and self.config.max_total_bytes is not None
        if dry_run:
            due, report.skipped = self.plan(older_than, kinds)
            report.due = [(cs.source.kind, u.session_id, u.size) for cs, u in due]
            report.prune = self._prune(self.ctx, None, True) if capped else None
        else:
            with self.writing("sweeping"):
                due, report.skipped = self.plan(older_than, kinds)
                sweep.sweep(self.ctx, due, report, progress)
                if self._remote is not None:  # upload first: only verified copies may be evicted
                    remote.push_after_sweep(self.ctx)
                report.prune = self._prune(self.ctx, None, False) if capped else None
        report.seconds = time.monotonic() - started
        return report

    def archive_unit(self, cs: ConfiguredSource, unit: SessionUnit) -> ArchiveEntry | None:
        """Archive one unit now (the caller holds ``writing``); see ``ops.sweep``."""
        return sweep.archive_unit(self.ctx, cs, unit)

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
                raise AmbiguousIdError(session_id, matches)
            if matches:
                entry = self.index.get_entry(matches[0], version)
        if entry is None:
            which = f" version {version}" if version is not None else ""
            raise NotFoundError(f"No archived session{which} matches {session_id!r}.")
        return entry

    def archive_file(self, entry: ArchiveEntry) -> Path:
        return self.store.path(entry)

    def local_archive(self, entry: ArchiveEntry) -> Path:
        return self.store.local(entry)

    def manifest(self, session_id: str, version: int | None = None) -> Manifest:
        return self.store.manifest(self.get(session_id, version))

    def search(self, query: str | None = None, **filters: Any) -> list[search.SearchHit]:
        """Search the index; see ``termvault.ops.search.search`` for the filters."""
        return search.search(self.index, self.searchable_text, query, **filters)

    def searchable_text(self, entry: ArchiveEntry) -> str:
        return searchable_text(self.ctx, entry)

    def stats(self) -> dict[str, Any]:
        return maintenance.stats(self.ctx)

    def spooled_files(self, entry: ArchiveEntry) -> list[FileRef]:
        """The session's files as readable refs; close them with ``streams.close_refs``."""
        return self.store.refs(entry)

    def messages(self, session_id: str, version: int | None = None) -> list[Message]:
        """The session's turns (for previews); reads the archive once."""
        return export_ops.messages(self.ctx, self.get(session_id, version))

    def export(
        self, session_id: str, out: BinaryIO, fmt: str = "raw", version: int | None = None,
        file: str | None = None, redact: bool = True,
    ) -> None:  # fmt: skip
        """Write a session to ``out``. ``raw``: the archived bytes of its main file (or of
        ``file``), byte-identical; ``text``/``markdown``/``jsonl``: rendered readably with
        secrets redacted. A session not archived yet is exported from its live files."""
        export_ops.check_format(fmt)
        try:
            entry = self.get(session_id, version)
        except NotFoundError:
            if not export_ops.export_live(self.ctx, session_id, out, fmt, file, redact):
                raise
            return
        export_ops.export(self.ctx, entry, out, fmt, file, redact)

    # -- writing ------------------------------------------------------------------------
    def restore(
        self, session_id: str, version: int | None = None, to: Path | str | None = None, force: bool = False
    ) -> RestoreResult:
        """Put a session's files back where they came from (or under ``to``), verified by
        sha256. A different existing file is a ConflictError unless ``force``; then the old
        file is kept aside as ``<name>.termvault-old-<time>``. Identical files are left.
        Writes only under ``to`` or inside the folders this home's sources read."""
        with self.writing("restoring"):
            return restore.restore(self.ctx, self.get(session_id, version), Path(to) if to else None, force)

    def verify(self, progress: ProgressCallback | None = None) -> VerifyReport:
        return maintenance.verify(self.ctx, progress)

    def leftovers(self) -> bool:
        """Whether anything reconciliation would act on is left (orphans, temporary
        files, sources not yet removed)."""
        return maintenance.leftovers(self.ctx)

    def repair(self, progress: ProgressCallback | None = None) -> VerifyReport:
        with self.writing("repairing"):
            return maintenance.repair(self.ctx, progress)

    def reindex(self, progress: ProgressCallback | None = None, remote: bool = False) -> int:
        """Rebuild the index from ``archive/`` alone; with a remote configured, merged with
        this machine's objects in the bucket (and with ``remote``, every machine's). An
        index SQLite cannot read is first moved aside and a new one built."""
        with self.lock.hold("reindexing"):
            reindex.set_aside_unreadable_index(self.ctx)
            with self.writing("reindexing"):
                return reindex.reindex(self.ctx, progress, all_hosts=remote)

    def prune(self, max_bytes: int | None = None, dry_run: bool = False) -> PruneReport:
        """Free space down to ``max_bytes`` (or the cap): delete the oldest versions, or
        with a remote tier evict verified local copies (see ``ops``)."""
        if dry_run:
            return self._prune(self.ctx, max_bytes, True)
        with self.writing("pruning"):
            return self._prune(self.ctx, max_bytes, False)

    @property
    def _prune(self) -> Callable[[Context, int | None, bool], PruneReport]:
        return maintenance.prune if self._remote is None else remote.evict

    def pin(self, session_id: str, pinned: bool = True) -> ArchiveEntry:
        with self.lock.hold("pinning"):
            sid = self.get(session_id).session_id
            maintenance.set_pinned(self.ctx, sid, pinned)
            return self.get(sid)

    def unpin(self, session_id: str) -> ArchiveEntry:
        return self.pin(session_id, False)

    def import_legacy(self) -> int:
        with self.lock.hold("importing legacy archives"):
            return reindex.import_legacy(self.ctx, force=True)

    # -- the remote tier ----------------------------------------------------------------
    def remote_status(self, check: bool = True) -> dict[str, Any]:
        return remote.status(self.ctx, check)

    def remote_push(self, progress: ProgressCallback | None = None) -> remote.PushReport:
        remote.tier(self.ctx)
        with self.lock.hold("uploading to the remote"):
            return remote.push(self.ctx, progress)

    def remote_pull(self, entries: list[ArchiveEntry] | None = None, progress: ProgressCallback | None = None) -> int:
        """Fetch versions (default: every one kept only in the remote) into the cache."""
        remote.tier(self.ctx)
        return remote.pull(self.ctx, self.index.remote_only() if entries is None else entries, progress)

    def _index_fetched(self, entry: ArchiveEntry) -> None:
        """A unit known only from the bucket had no full text: index it now it is here."""
        newest = self.index.get_entry(entry.session_id)
        if newest is None or newest.row_id != entry.row_id or self.index.has_text(entry.row_id):
            return
        try:
            with self.index.transaction():
                index_text(self.ctx, entry)
        except (TermvaultError, OSError) as exc:
            log.warning("could not index the text of %s: %s", entry.session_id, exc)

