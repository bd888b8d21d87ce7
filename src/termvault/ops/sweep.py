"""Sweeping: find the sessions that are due, archive each (written, read back and
verified, indexed) and, in move mode, only then remove its source if unchanged."""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from .. import archive as arc
from .. import holds
from ..errors import DataError, SourceChangedError
from ..fsutil import FILE_MODE, fsync_dir, remove_if_unchanged, validate_id
from ..index import fulltext
from ..model import ArchiveEntry, SessionInfo, SessionUnit, UnitFile
from ..reports import Failure, Progress, PruneReport, SweepReport
from ..sources.base import without_text
from ..sources.configured import ConfiguredSource
from ..streams import HashingDiskFile
from . import deltas, held, resume
from .batch import Batch, Remover, Written
from .context import Context
from .pipeline import Ahead
from .text import parse, prepare_text

log = logging.getLogger(__name__)

DAY = 86400.0
ProgressCallback = Callable[[Progress], None]


class ChangedWhileRead(DataError):
    """A source file was replaced or written while the sweep read it: skip it this round."""


def same_file(f: UnitFile) -> bool:
    """Whether ``f``'s path still names the file discovery saw: the same inode, not
    shorter, and (at the same size) the same mtime and ctime. A file that only grew since
    was read up to its discovered size, bytes that existed: an agent appending to its
    transcript while it is swept still gets a version. A file held in another program's
    database is read from one snapshot by its source (``UnitFile.reader``)."""
    if f.reader is not None:
        return True
    try:
        st = os.lstat(f.origin)
    except OSError:
        return False
    if (f.ino and st.st_ino != f.ino) or st.st_size < f.size:
        return False  # replaced (the app saves atomically) or truncated
    if st.st_size > f.size:
        return True
    return st.st_mtime_ns == f.mtime_ns and (not f.ctime_ns or st.st_ctime_ns == f.ctime_ns)


@dataclass
class Prepared:
    info: SessionInfo
    shas: dict[str, str]
    content: str  # content_digest of the files
    fts: fulltext.Prepared | None
    base: deltas.Base | None = None  # the version the appended files build on
    tails: deltas.Tails = field(default_factory=deltas.Tails)  # files stored as tails
    # A worker's own compression of the whole unit, for the version it expected (see
    # ``_Packer``): the writer uses it when that is still the version to write.
    packed: Packing | None = None


@dataclass
class Packing:
    version: int
    rel: str
    manifest: arc.Manifest
    packed: arc.Packed
    checked: bool  # read back in memory (decompressed, every member hashed) by the worker


Due = list[tuple[ConfiguredSource, SessionUnit]]


def plan(
    ctx: Context,
    older_than: float | None = None,
    kinds: Sequence[str] | None = None,
    now: float | None = None,
    select: Callable[[SessionUnit], bool] | None = None,
    census: SweepReport | None = None,
) -> tuple[Due, int]:
    """(due units, number skipped). ``older_than`` (days) overrides every source's
    threshold. A unit is due when its last activity (its own time, or its last restore
    if later) is older than the threshold, its files have settled (sources whose files
    may still grow; see ``Source.settles``), and it differs from its newest archived
    version. ``select`` limits the plan to the units it accepts. ``census``, if given,
    receives the sessions found per source and the due ones whose files look identical
    to their newest archived version (same paths, sizes and times)."""
    now = time.time() if now is None else now
    due: Due = []
    skipped = 0
    restored = holds.load(ctx.home)
    for cs in ctx.sources.select(kinds):
        if census is not None:
            census.found.setdefault(cs.source.kind, 0)
        days = cs.archive_days if older_than is None else older_than
        cutoff = now - days * DAY
        settle = cs.source.settle_seconds
        settle_cutoff = now - (ctx.config.settle_seconds if settle is None else settle)
        latest = ctx.index.latest_by_session(cs.source.kind)
        try:
            units = list(cs.source.discover())
        except OSError as exc:
            log.warning("could not list %s sessions: %s", cs.source.kind, exc)
            continue
        except Exception as exc:  # one source's bug or bad store never stops the others
            log.warning("could not list %s sessions: %s: %s", cs.source.kind, type(exc).__name__, exc)
            log.debug("listing %s sessions failed", cs.source.kind, exc_info=True)  # the traceback, with -vv
            continue
        if census is not None:
            census.found[cs.source.kind] += len(units)
        for unit in units:
            if select is not None and not select(unit):
                continue
            activity = max(unit.hints.get("stamp", unit.mtime), restored.get(unit.session_id, 0.0))
            if activity > cutoff or (cs.source.settles and unit.mtime > settle_cutoff):
                skipped += 1
                continue
            row = latest.get(unit.session_id)
            # Unchanged since its newest version was archived (or pruned on purpose:
            # re-archiving it would only be pruned again). A version whose archive went
            # missing or corrupt is archived afresh.
            if (
                row is not None
                and cs.mode == "copy"
                and row["status"] in ("archived", "deleted")
                and row["fingerprint"] == unit.fingerprint()
            ):
                skipped += 1
                continue
            if (
                census is not None
                and row is not None
                and row["status"] == "archived"
                and row["fingerprint"] == unit.fingerprint()
            ):
                census.identical.append(unit.session_id)
            due.append((cs, unit))
    return due, skipped


def sweep(
    ctx: Context,
    due: Due,
    report: SweepReport,
    progress: ProgressCallback | None = None,
) -> None:
    """Archive every unit in ``due`` (the caller holds the write lock). A failing unit is
    reported and the sweep goes on. Units are prepared ahead in worker processes
    (``pipeline``); their rows are committed in batches (``batch``), and a unit's
    progress is told once its batch is over. A ``progress`` callback that raises stops
    the sweep before the next unit (what is written is committed first); raised as the
    last units are told, when nothing is left, it is dropped."""
    total = len(due)
    bytes_total = sum(u.size for _, u in due)
    done = {"n": 0, "bytes": 0}
    known = ctx.index.newest_of(u.session_id for _, u in due)
    stop: list[Exception] = []

    def tell(cs: ConfiguredSource, unit: SessionUnit, ok: bool, message: str, outcome: str) -> None:
        done["n"] += 1
        done["bytes"] += unit.size
        if progress:
            n, b = done["n"], done["bytes"]
            try:
                progress(Progress(n, total, b, bytes_total, unit.session_id, ok, message, outcome, cs.source.kind))
            except Exception as exc:  # the caller asks to stop: at the next unit, not mid-batch
                stop.append(exc)

    def fail(cs: ConfiguredSource, unit: SessionUnit, exc: BaseException) -> None:
        message = str(exc) or type(exc).__name__
        report.failed.append(Failure(unit.session_id, str(unit.files[0].origin), message, cs.source.kind))
        log.warning("could not archive %s session %s: %s", cs.source.kind, unit.session_id, exc)
        tell(cs, unit, False, message, "failed")

    def settled(w: Written, error: BaseException | None) -> None:
        if error is None:
            report.archived.append(w.entry)
            tell(w.cs, w.unit, True, "", "archived")
        else:
            fail(w.cs, w.unit, error)

    batch = Batch(ctx, _counting_remover(report.count_removed), settled)
    find_base = partial(deltas.find_base, ctx)
    here = partial(_prepare_with, ctx)
    with (
        Ahead(
            ctx,
            due,
            partial(prepare_whole, pack=_Packer(known, ctx.store.level, ctx.config.verify, ctx.store.max_expand)),
            find_base,
            here,
        ) as ahead,
        contextlib.ExitStack() as last,
    ):
        # Interrupted (Ctrl-C), the units already written and verified are committed first.
        last.callback(batch.flush)
        for i, (cs, unit) in enumerate(due):
            if stop:
                raise stop[0]
            if batch.items and ahead.waits_last(i):
                # In the last stretch the writer would wait for a worker: it commits what
                # it has meanwhile, so little is left to commit once the last unit is in.
                batch.flush()
            try:
                p = ahead.get(i)
                try:
                    w = _write(ctx, cs, unit, p, known, report.count_removed)
                finally:
                    p.tails.close()
            except (ChangedWhileRead, SourceChangedError) as exc:  # before or while it was archived
                report.skipped += 1
                log.info("%s", exc)
                tell(cs, unit, False, str(exc), "skipped")
                continue
            except Exception as exc:  # one bad session never stops the sweep
                gone = _vanished(unit, exc)
                if gone is not None:  # deleted by its owner meanwhile: nothing to keep
                    report.skipped += 1
                    log.info(
                        "%s session %s: %s was deleted before it was archived", cs.source.kind, unit.session_id, gone
                    )
                    tell(cs, unit, False, f"{gone} was deleted before it was archived", "skipped")
                    continue
                fail(cs, unit, exc)
                continue
            if w is None:
                report.unchanged += 1
                tell(cs, unit, True, "", "unchanged")
                continue
            batch.add(w)
            if batch.full():
                batch.flush()


def _vanished(unit: SessionUnit, exc: BaseException) -> str | None:
    """The file of ``unit`` that ``exc`` says is gone (deleted after it was found, before
    it was read: the app removing a session, a tool's cleanup), or None."""
    if not isinstance(exc, FileNotFoundError) or exc.filename is None:
        return None
    name = os.fsdecode(exc.filename)
    if any(str(f.origin) == name for f in unit.files) and not os.path.lexists(name):
        return name
    return None


def prepare_whole(cs: ConfiguredSource, unit: SessionUnit, full_text: bool, pack: _Packer | None = None) -> Prepared:
    """A unit stored whole (no delta base): parse its records, hash every file in the
    same read, and prepare its text for the full-text index; with ``pack``, also
    compress its archive. Needs no index and no lock: it runs in a worker process
    (``pipeline``)."""
    refs = [HashingDiskFile(f.relpath, f.size, f.origin, opener=f.reader) for f in unit.files]
    p = _prepared(cs, unit, refs, full_text, None)
    if pack is not None:
        pack(cs, unit, p)
    return p


# A worker packs units up to this many source bytes in memory; the writer streams larger
# ones to disk itself (memory stays bounded: a few of these in flight per worker).
PACK_MAX_BYTES = 8 * 1024 * 1024


class _Packer:
    """Compresses a prepared unit's archive in the worker that prepared it, so the
    writer only puts the bytes on disk, reads them back and indexes them (compression
    is most of the writer's CPU, and the writer is one process for all the workers).
    The version is the one the sweep expected when it started (``known``, inherited at
    the fork): if the writer finds another (the name taken on disk), it compresses the
    unit itself, as it does a unit over ``PACK_MAX_BYTES`` or one stored as a delta."""

    def __init__(self, known: Known, level: int, verify: bool, max_expand: int | None):
        self.known, self.level, self.verify, self.max_expand = known, level, verify, max_expand

    def __call__(self, cs: ConfiguredSource, unit: SessionUnit, p: Prepared) -> None:
        if p.base is not None or unit.size > PACK_MAX_BYTES or any(f.reader is not None for f in unit.files):
            return
        latest, version = self.known.get(unit.session_id) or (None, 1)
        if latest is not None and latest.content_sha256 == p.content and latest.status == "archived":
            return  # unchanged: nothing will be written
        manifest, rel = _manifest(cs, unit, p, version, {})
        files = [arc.SourceFile(mf, f.open) for mf, f in zip(manifest.files, unit.files, strict=True)]
        packed = arc.pack_archive(manifest, files, self.level)
        check = self.verify or cs.mode == "move"
        if check:  # the writer's read-back, done here: the writer then checks the file's sha256
            back = arc.check_packed(packed, rel, self.max_expand)
            if back.archive_sha256 != packed.sha256 or back.manifest.content_sha256 != p.content:
                raise DataError(f"The archive of {unit.session_id} did not read back as packed.")
        p.packed = Packing(version, rel, manifest, packed, check)


def prepare(ctx: Context, cs: ConfiguredSource, unit: SessionUnit) -> Prepared:
    """Everything about a unit that needs no lock: parse the records, hash every file
    (in the same read, which also tells which files only grew since the previous
    version), and prepare its text for the full-text index."""
    return _prepare_with(ctx, cs, unit, deltas.find_base(ctx, cs, unit))


def _prepare_with(ctx: Context, cs: ConfiguredSource, unit: SessionUnit, base: object) -> Prepared:
    assert base is None or isinstance(base, deltas.Base)
    refs = deltas.hashing_refs(ctx, unit, base)
    resumable = cs.mode == "copy" and ctx.config.delta_max_links > 0  # a copy that may grow
    return _prepared(cs, unit, refs, ctx.config.full_text, base, ctx.home if resumable else None)


def _prepared(
    cs: ConfiguredSource,
    unit: SessionUnit,
    refs: list[HashingDiskFile],
    full_text: bool,
    base: deltas.Base | None,
    resume_in: Path | None = None,
) -> Prepared:
    validate_id(unit.session_id)
    # A transcript that only grew since its state was kept: only the appended records
    # are parsed and prepared (``resume``); else the whole unit.
    done = None
    if resume_in is not None:
        done = resume.parse_and_prepare(
            resume_in, cs.source, unit, refs, base.entry.content_sha256 if base else None, full_text
        )
    if done is not None:
        info = done[0]
    elif full_text or resume_in is not None:  # (a kept resume state must hold the text)
        info = parse(cs.source, refs, unit)
    else:  # nothing will read the text: the parsers skip collecting it
        with without_text():
            info = parse(cs.source, refs, unit)
    shas = {r.relpath: r.ensure_hash() for r in refs}
    # The bytes read must be bytes that existed: a file replaced under its name (the app
    # saves atomically) between discovery and the read gives the new file's first bytes.
    for f in unit.files:
        if not same_file(f):
            raise ChangedWhileRead(f"{f.origin} changed while it was read; it is archived at the next sweep.")
    fts = (prepare_text(cs.source, refs, info) if done is None else done[1]) if full_text else None
    tails = deltas.decide(base, refs)
    return Prepared(info, shas, arc.content_digest(shas.items()), fts, base if tails.deltas else None, tails)


def archive_unit(
    ctx: Context,
    cs: ConfiguredSource,
    unit: SessionUnit,
    prepared: Prepared | None = None,
    on_removed: Callable[[int], None] | None = None,
) -> ArchiveEntry | None:
    """Archive one unit now, in a batch of its own (the caller holds the write lock).
    Returns the new version's entry, or None when its content equals the newest
    archived version (in move mode the source is then removed, the archive already
    holding it). ``on_removed`` gets the number of source bytes a move removed."""
    p = prepared or prepare(ctx, cs, unit)
    try:
        w = _write(ctx, cs, unit, p, ctx.index.newest_of([unit.session_id]), on_removed)
    finally:
        p.tails.close()
    if w is None:
        return None
    errors: list[BaseException] = []

    batch = Batch(ctx, _counting_remover(on_removed), lambda _w, error: errors.append(error) if error else None)
    batch.add(w)
    batch.flush()
    if errors:
        raise errors[0]
    return w.entry


Known = dict[str, tuple[ArchiveEntry | None, int]]


def _write(
    ctx: Context,
    cs: ConfiguredSource,
    unit: SessionUnit,
    p: Prepared,
    known: Known,
    on_removed: Callable[[int], None] | None,
) -> Written | None:
    """Write and verify the unit's archive (its rows wait for the batch); None when its
    content equals the newest archived version. ``known`` holds each session's newest
    live version and next version number (loaded once), and learns this one."""
    info, shas, content = p.info, p.shas, p.content
    latest, version = known.get(unit.session_id) or (None, 1)
    if latest is not None and latest.content_sha256 == content and latest.status == "archived":
        if cs.mode == "move":
            # The index says an archive holds these bytes: check that it does before
            # the only other copy goes.
            if ctx.store.read(latest).manifest.content_sha256 != content:
                raise DataError(f"The archive of {unit.session_id} does not hold what the index says.")
            _count(on_removed, remove_sources(ctx, cs, unit, shas, latest))
        elif latest.fingerprint != unit.fingerprint():
            ctx.index.set_fingerprint(latest.row_id, unit.fingerprint())
        return None
    # The base must still be the newest version (else this version is stored whole).
    same_base = p.base is not None and latest is not None and latest.row_id == p.base.entry.row_id
    tails = p.tails.deltas if same_base else {}
    packing = p.packed if p.packed is not None and p.packed.version == version and not tails else None
    if packing is not None:
        manifest, rel = packing.manifest, packing.rel
    else:
        manifest, rel = _manifest(cs, unit, p, version, tails)
    while ctx.store.exists(rel):
        # An archive the index lacks (unverifiable, or left by a crash) keeps its name:
        # never overwrite it, take the next version instead.
        if packing is not None:  # packed for this version: build it again for the next
            packing = None
            manifest, rel = _manifest(cs, unit, p, version, tails)
            continue
        version += 1
        manifest.version = version
        rel = arc.archive_relpath(info.last_activity_at or unit.mtime, unit.session_id, version)
    if packing is not None:
        written = ctx.store.write_packed(rel, packing.packed, len(manifest.files), fault=ctx.fault, staged=True)
    else:
        written = ctx.store.write(
            rel,
            manifest,
            [
                arc.SourceFile(mf, p.tails.members[mf.path].open if mf.delta else f.open)
                for mf, f in zip(manifest.files, unit.files, strict=True)
            ],
            fault=ctx.fault,
            staged=True,  # made durable and put in place with its batch (``Batch.flush``)
        )
    assert written.staged is not None
    try:
        if ctx.config.verify or cs.mode == "move":  # never delete a source unverified
            ctx.fault("verify")
            if packing is not None and packing.checked:
                # Its bytes were read back whole in the worker: the same bytes on disk read
                # the same, so the file read back is checked against their sha256.
                if arc.sha256_file(written.staged) != written.archive_sha256:
                    raise DataError(f"{written.path} did not read back as written.")
            else:
                back = ctx.store.read_back(rel, written.staged)
                if back.archive_sha256 != written.archive_sha256 or back.manifest.content_sha256 != content:
                    raise DataError(f"{written.path} did not read back as written.")
        entry = arc.entry_from_manifest(manifest, rel, written.archive_size, written.archive_sha256)
        entry.pinned = bool(latest and latest.pinned)  # a pin covers every version
    except BaseException:
        # Nothing refers to the archive yet: remove it so no half-trusted copy lingers.
        with contextlib.suppress(OSError):
            written.staged.unlink()
        raise
    known[unit.session_id] = (entry, version + 1)
    return Written(cs, unit, entry, written.path, written.staged, shas, p.fts)


def _manifest(
    cs: ConfiguredSource, unit: SessionUnit, p: Prepared, version: int, tails: dict[str, arc.FileDelta]
) -> tuple[arc.Manifest, str]:
    """The manifest of version ``version`` of ``unit`` and its archive's relative path."""
    info = p.info
    last_activity = info.last_activity_at or unit.mtime
    meta = info.metadata()
    meta["last_activity_at"] = last_activity
    manifest = arc.Manifest(
        session_id=unit.session_id,
        source=cs.source.kind,
        version=version,
        mode=cs.mode,
        root=str(unit.root),
        archived_at=time.time(),
        meta=meta,
        files=[
            arc.ManifestFile(
                path=f.relpath,
                origin=str(f.origin),
                size=f.size,
                mtime_ns=f.mtime_ns,
                sha256=p.shas[f.relpath],
                mode=_file_mode(f.origin),
                delta=tails.get(f.relpath),
            )
            for f in unit.files
        ],
        base=deltas.base_ref(p.base) if tails and p.base is not None else None,
    )
    if manifest.base is not None and p.base is not None:
        manifest.share_meta(deltas.base_meta(p.base))
    return manifest, arc.archive_relpath(last_activity, unit.session_id, version)


def remove_sources(
    ctx: Context,
    cs: ConfiguredSource,
    unit: SessionUnit,
    shas: dict[str, str],
    entry: ArchiveEntry,
    folders: set[Path] | None = None,
) -> int:
    """Delete the unit's files that are unchanged since they were read (size, mtime_ns
    and the content archived); a changed file stays and is archived as a new version
    next time. A file that cannot be removed (a folder its owner made read-only) or put
    back (no free inodes) is reported, never lost. A source that keeps its files
    elsewhere removes them itself (``remove_archived``). Returns the bytes removed.
    ``folders``: the folders files were removed from are added there for the caller to
    fsync (once for a batch) before it commits; otherwise each is fsynced here."""
    ctx.fault("delete-source")
    removed = cs.source.remove_archived(unit, shas, ctx.fault)
    if removed is not None:
        if removed:
            ctx.index.mark_source_removed(entry.row_id)
        return removed
    removed = 0
    all_removed = True
    touched: set[Path] = set()
    for f in unit.files:
        # The conversation file a native session points to belongs to another tool:
        # it is kept in the archive but never deleted from where that tool keeps it.
        if f.relpath.startswith("_conversation/"):
            continue
        if not _owner_writable(f.origin.parent):
            # Its owner made the folder read-only (0500): respect that, keep the file.
            all_removed = False
            log.warning("%s is archived but kept: its folder is read-only", f.origin)
            continue
        try:
            gone = remove_if_unchanged(
                f.origin,
                f.size,
                f.mtime_ns,
                (shas or {}).get(f.relpath),
                before=ctx.journal.record_folder,
                ino=f.ino,
                ctime_ns=f.ctime_ns,
            )
        except OSError as exc:
            all_removed = False
            if held.held_files([f.origin.parent]):
                held.note_stranded(ctx, f.origin.parent)
                log.warning(
                    "%s was set aside and could not be put back (%s); the next sweep "
                    "puts it back, and verify lists it until then",
                    f.origin,
                    exc,
                )
            else:
                log.warning("%s is archived but was left in place: %s", f.origin, exc)
            continue
        if gone:
            touched.add(f.origin.parent)
            removed += f.size
        elif f.origin.exists():
            all_removed = False
            log.info("%s changed while it was archived; kept for the next sweep", f.origin)
    if folders is not None:
        folders |= touched
    for folder in touched if folders is None else ():
        with contextlib.suppress(OSError):
            fsync_dir(folder)
    if all_removed:
        ctx.index.mark_source_removed(entry.row_id)
    return removed


def _counting_remover(on_removed: Callable[[int], None] | None) -> Remover:
    def remove(
        c: Context, cs: ConfiguredSource, u: SessionUnit, shas: dict[str, str], e: ArchiveEntry, folders: set[Path]
    ) -> int:
        n = remove_sources(c, cs, u, shas, e, folders)
        _count(on_removed, n)
        return n

    return remove


def _count(callback: Callable[[int], None] | None, n: int) -> None:
    if callback is not None and n:
        callback(n)


def _owner_writable(folder: Path) -> bool:
    try:
        return bool(os.stat(folder).st_mode & 0o200)
    except OSError:
        return False


def _file_mode(path: Path) -> int:
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        return FILE_MODE


@dataclass
class Steps:
    """What a sweep does after archiving: the storage cap's prune (or eviction) and the
    upload to a remote tier, each None when it does not apply."""

    prune: Callable[[Context, int | None, bool], PruneReport] | None = None
    push: Callable[[Context], object] | None = None
    select: Callable[[SessionUnit], bool] | None = None  # only the units it accepts


def run(
    ctx: Context,
    older_than: float | None,
    kinds: Sequence[str] | None,
    dry_run: bool,
    progress: ProgressCallback | None,
    steps: Steps,
) -> SweepReport:
    """A whole sweep (the caller holds the write lock unless ``dry_run``): plan, archive
    every due unit, upload to the remote (first: only verified copies may be evicted),
    then prune to the cap if one is configured."""
    started = time.monotonic()
    report = SweepReport(dry_run=dry_run)
    capped = steps.prune is not None and ctx.config.max_total_bytes is not None
    due, report.skipped = plan(ctx, older_than, kinds, select=steps.select, census=report)
    if dry_run:
        report.due = [(cs.source.kind, u.session_id, u.size) for cs, u in due]
    else:
        sweep(ctx, due, report, progress)
        if report.archived:
            try:
                ctx.index.settle()  # one FTS merge and free pages given back, per sweep
            except DataError as exc:  # housekeeping (a full disk): the report matters more
                log.warning("the index was not compacted after the sweep (the next sweep will): %s", exc)
        if steps.push is not None:
            steps.push(ctx)
    if capped and steps.prune is not None:
        report.prune = steps.prune(ctx, None, dry_run)
    report.seconds = time.monotonic() - started
    return report
