"""The facade the library, the CLI, the TUI and the seed API all use: ``Vault(home)``
opens (or creates) a home, composes its index, archive store, journal and sources, and
hands the work to ``termvault.ops``. Every operation that writes holds the home's write
lock and the crash journal; reads never do."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import holds, ops
from .config import Config
from .errors import NotFoundError
from .fsutil import check_home_ownership, check_version, ensure_private_dir
from .index import ArchiveIndex
from .journal import Journal
from .lock import HomeLock
from .ops import overview
from .ops.context import Context

if TYPE_CHECKING:
    from .archive import Manifest
    from .archive.store import ArchiveStore
    from .model import ArchiveEntry, FileRef, SessionInfo, SessionUnit
    from .ops import export, maintenance, reindex, remote, restore, search, sweep, text  # noqa: F401  # types ops.<module>
    from .reports import Progress, PruneReport, RestoreResult, SweepReport, VerifyReport
    from .sources.base import Message
    from .sources.configured import ConfiguredSource
    from .streams import Writer

    ProgressCallback = Callable[[Progress], None]

# Each ``ops.<module>`` loads when first used (termvault.ops): ``stats`` needs the index only.
log = logging.getLogger(__name__)


class Vault:
    """A termvault home: sweep, search, get, restore, export, stats, verify, repair,
    reindex, prune, pin, and the remote tier. Thread-safe; one writer per home."""

    def __init__(
        self, home: Path | str | None = None, *, config: Config | None = None, config_file: Path | str | None = None,
        lock_timeout: float = 30.0, fault: Callable[[str], None] | None = None, readonly: bool = False,
        **overrides: Any,
    ):  # fmt: skip
        """``readonly``: nothing is created, repaired or written (a missing home or index
        reads as empty); a home its owner cannot write is opened that way too."""
        self.config = config.with_overrides(**overrides) if config else Config.load(home, config_file, **overrides)
        self.home = self.config.home
        if self.home.exists():
            check_home_ownership(self.home)  # before tightening: refuse, do not silently fix
        # A home its owner cannot write (a read-only mount, a backup) still reads.
        self.read_only = self.readonly = readonly or (self.home.is_dir() and not os.access(self.home, os.W_OK))
        for folder in () if self.read_only else (self.home, self.config.archive_dir, self.config.history_dir):
            ensure_private_dir(folder)
        self.lock = HomeLock(self.home, timeout=lock_timeout)
        self.journal = Journal(self.home)
        self.index = ArchiveIndex(self.config.index_path, readonly=self.read_only)  # connects on first use
        # The store, the sources and the remote tier are built when first used (ops.context).
        self.ctx = Context(self.config, self.index, self.journal, self.lock, fault or (lambda step: None))
        if self.config.remote:
            self.ctx.remote  # noqa: B018  # a malformed remote setting is an error now, not mid-sweep
        # Finish what an interrupted run left and import the older app's data, if the
        # lock is free right now (otherwise whoever holds it will); never on a read-only home.
        if not self.read_only:
            ops.maintenance.startup(self.ctx, ops.reindex.needs_legacy_import, ops.reindex.import_legacy)

    @property
    def store(self) -> ArchiveStore:
        return self.ctx.store

    @contextlib.contextmanager
    def writing(self, what: str, catch_up: bool = True) -> Iterator[None]:
        """Hold the write lock and the crash journal for one write operation. First the
        index catches up with ``archive/`` (unless the operation rebuilds it anyway)."""
        with self.lock.hold(what):
            if self.journal.exists():
                ops.maintenance.reconcile(self.ctx)
            elif catch_up:
                ops.maintenance.before_write(self.ctx)
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
        return self.ctx.sources.select(kinds, include_undetected)

    def plan(self, older_than: float | None = None, kinds: Sequence[str] | None = None, now: float | None = None):
        """(due units, number skipped); see ``ops.sweep.plan``."""
        return ops.sweep.plan(self.ctx, older_than, kinds, now)

    def sweep(
        self, older_than: float | None = None, kinds: Sequence[str] | None = None, dry_run: bool = False,
        progress: ProgressCallback | None = None, prune: bool = True,
        select: Callable[[SessionUnit], bool] | None = None,
    ) -> SweepReport:  # fmt: skip
        """Archive everything due. Each unit is archived, read back and verified, indexed,
        and (move mode) only then removed from its source, if unchanged. A failing unit is
        reported and the sweep goes on. With a remote, uploads; with a cap, prunes."""
        steps = ops.sweep.Steps(
            self._prune if prune else None, ops.remote.push_after_sweep if self.ctx.remote else None, select
        )
        if dry_run:
            return ops.sweep.run(self.ctx, older_than, kinds, True, progress, steps)
        with self.writing("sweeping"):
            return ops.sweep.run(self.ctx, older_than, kinds, False, progress, steps)

    def archive_unit(self, cs: ConfiguredSource, unit: SessionUnit) -> ArchiveEntry | None:
        return ops.sweep.archive_unit(self.ctx, cs, unit)  # now; the caller holds ``writing``

    def get(self, session_id: str, version: int | None = None) -> ArchiveEntry:
        """The entry of ``session_id`` (or a unique prefix of it), newest version unless
        ``version``. NotFoundError / AmbiguousIdError otherwise."""
        return self.index.resolve(session_id, check_version(session_id, version))

    def archive_file(self, entry: ArchiveEntry) -> Path:
        return self.store.path(entry)

    def manifest(self, session_id: str, version: int | None = None) -> Manifest:
        return self.store.manifest(self.get(session_id, version))

    def search(self, query: str | None = None, **filters: Any) -> ops.search.SearchResults:
        """Search the index; see ``termvault.ops.search.search`` for the filters."""
        return overview.searched(self.ctx, ops.search.search(self.index, self.searchable_text, query, **filters))

    def searchable_text(self, entry: ArchiveEntry) -> str:
        return ops.text.searchable_text(self.ctx, entry)

    def stats(self) -> dict[str, Any]:
        return {**overview.stats(self.ctx), "index_lost": overview.warn_if_lost(self.ctx)}

    def spooled_files(self, entry: ArchiveEntry) -> list[FileRef]:
        return self.store.refs(entry)  # close them with ``streams.close_refs``

    def live(self, session_id: str) -> tuple[str, SessionUnit, SessionInfo] | None:
        return ops.export.live(self.ctx, session_id)  # a session a source holds, not archived

    def messages(self, session_id: str, version: int | None = None) -> list[Message]:
        """The session's turns (for previews); reads the archive once."""
        return ops.export.messages(self.ctx, self.get(session_id, version))

    def export(
        self, session_id: str, out: Writer, fmt: str = "raw", version: int | None = None,
        file: str | None = None, redact: bool = True, detail: str = "all",
    ) -> None:  # fmt: skip
        """Write a session to ``out``. ``raw``: the archived bytes of its main file (or of
        ``file``), byte-identical; ``text``/``markdown``/``jsonl``/``html``: rendered with
        secrets redacted, at ``detail`` (prompts, conversation or all). A session not
        archived yet is exported from its live files."""
        ops.export.check_format(fmt)
        try:
            entry = self.get(session_id, version)
        except NotFoundError:
            if not ops.export.export_live(self.ctx, session_id, out, fmt, file, redact, detail):
                raise
            return
        ops.export.export(self.ctx, entry, out, fmt, file, redact, detail)

    def restore(self, session_id: str, version: int | None = None, to: Path | str | None = None,
                force: bool = False) -> RestoreResult:  # fmt: skip
        """Put a session's files back where they came from (or under ``to``), verified by
        sha256. A different existing file is a ConflictError unless ``force``; then the old
        file is kept aside as ``<name>.termvault-old-<time>``. Identical files are left.
        Writes only under ``to`` or inside the folders this home's sources read."""
        with self.writing("restoring"):
            result = ops.restore.restore(self.ctx, self.get(session_id, version), Path(to) if to else None, force)
            if to is None:  # back where it came from: active again from now (termvault.holds)
                holds.record(self.home, result.session_id)
            return result

    def restores_in_place(self, manifest: Manifest) -> bool:  # see ops.restore.restores_in_place
        return ops.restore.restores_in_place(self.ctx, manifest)

    def verify(self, progress: ProgressCallback | None = None, read_data: bool = False) -> VerifyReport:
        """Read-only check of every version; versions kept only in the remote tier are
        looked up in the bucket (with ``read_data``, downloaded and hashed)."""
        return ops.maintenance.verify(self.ctx, progress, read_data)

    def leftovers(self) -> bool:  # an orphan, a temporary file, an unremoved source
        return ops.maintenance.leftovers(self.ctx)

    def repair(self, progress: ProgressCallback | None = None, read_data: bool = False) -> VerifyReport:
        with self.writing("repairing", catch_up=False):
            return ops.maintenance.repair(self.ctx, progress, read_data)

    def reindex(self, progress: ProgressCallback | None = None, remote: bool = False) -> int:
        """Rebuild the index from ``archive/`` alone; with a remote configured, merged with
        this machine's objects in the bucket (and with ``remote``, every machine's). An
        index SQLite cannot read is first moved aside and a new one built."""
        with self.lock.hold("reindexing"):
            ops.reindex.set_aside_unreadable_index(self.ctx)
            with self.writing("reindexing", catch_up=False):
                return ops.reindex.reindex(self.ctx, progress, all_hosts=remote)

    def prune(self, max_bytes: int | None = None, dry_run: bool = False) -> PruneReport:
        """Free space down to ``max_bytes`` (or the cap): delete the oldest versions, or
        with a remote tier evict verified local copies (see ``ops``)."""
        if dry_run:
            return self._prune(self.ctx, max_bytes, True)
        with self.writing("pruning"):
            return self._prune(self.ctx, max_bytes, False)

    @property
    def _prune(self) -> Callable[[Context, int | None, bool], PruneReport]:
        return ops.maintenance.prune if self.ctx.remote is None else ops.remote.evict

    def pin(self, session_id: str, pinned: bool = True) -> ArchiveEntry:
        with self.lock.hold("pinning"):
            sid = self.get(session_id).session_id
            ops.maintenance.set_pinned(self.ctx, sid, pinned)
            return self.get(sid)

    def unpin(self, session_id: str) -> ArchiveEntry:
        return self.pin(session_id, False)

    def import_legacy(self) -> int:
        with self.lock.hold("importing legacy archives"):
            return ops.reindex.import_legacy(self.ctx, force=True)

    # -- the remote tier ----------------------------------------------------------------
    def remote_status(self, check: bool = True) -> dict[str, Any]:
        return ops.remote.status(self.ctx, check)

    def remote_push(self, progress: ProgressCallback | None = None) -> ops.remote.PushReport:
        with self.lock.hold("uploading to the remote"):
            return ops.remote.push(self.ctx, progress)

    def remote_pull(self, entries: list[ArchiveEntry] | None = None, progress: ProgressCallback | None = None) -> int:
        """Fetch versions (default: every one kept only in the remote) into the cache."""
        return ops.remote.pull(self.ctx, entries, progress)
