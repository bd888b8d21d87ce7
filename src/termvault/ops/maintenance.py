"""Keeping a home healthy: start-up reconciliation, read-only verify, repair, prune to a
storage cap and pins (statistics: ``ops.overview``)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import holds
from ..errors import DataError, TermvaultError
from ..fsutil import HELD_PREFIX, atomic_write_bytes, is_temp_name, put_back, remove_if_unchanged
from ..model import ArchiveEntry
from ..reports import Progress, PruneReport, VerifyReport
from . import consistency, deltas, held
from . import remote as remote_ops
from .context import Context
from .restore import RESTORE_PREFIX, origin_root
from .text import drop_text, index_text

log = logging.getLogger(__name__)
PINS_FILE = "pins.json"


# -- reconciliation ---------------------------------------------------------------------
def temp_files(ctx: Context) -> list[Path]:
    found: list[Path] = []
    for folder, _dirs, files in os.walk(ctx.config.archive_dir):
        found.extend(Path(folder) / f for f in files if is_temp_name(f))
    # Not history/: the app saves sessions there through temporary files of its own,
    # without the lock; an interrupted restore's leftovers are found through the journal.
    found.extend(p for p in ctx.home.glob(holds.TMP_PREFIX + "*") if p.is_file())
    return found


def orphan_archives(ctx: Context) -> list[str]:
    known = ctx.index.archive_paths()
    return [rel for rel, _ in ctx.store.units() if rel not in known]


def pending_removals(ctx: Context) -> list[ArchiveEntry]:
    """Move-mode versions whose source files may still be on disk."""
    out = []
    for entry in ctx.index.unremoved_moves():
        try:
            files = ctx.store.manifest(entry).files
        except DataError:
            continue
        if any(Path(f.origin).exists() for f in files if not f.path.startswith("_conversation/")):
            out.append(entry)
    return out


def reconcile(ctx: Context) -> list[str]:
    """Repair what an interrupted write left (caller holds the lock): delete temporary
    files, index verified archives the index lacks, and finish removing move-mode sources
    that a verified archive already holds. Never deletes a source that differs."""
    done = []
    for held_file in ctx.journal.leftovers(HELD_PREFIX):
        # A source set aside for deletion when the run died: never lose it, put it back
        # (an archived one is then removed again properly below).
        with contextlib.suppress(OSError):
            done.append(f"put back {put_back(held_file)}")
    for tmp in temp_files(ctx) + ctx.journal.leftovers(RESTORE_PREFIX):
        with contextlib.suppress(OSError):
            tmp.unlink()
            done.append(f"removed temporary file {tmp.name}")
    # Archives the index lacks (a crash, or an index lost or behind), in version order.
    done.extend(catch_up(ctx))
    done.extend(held.put_back_stranded(ctx))
    for entry in pending_removals(ctx):
        done.extend(_finish_removal(ctx, entry))
    # A prune interrupted after committing a version's tombstone: finish removing the
    # file it named (the decision was recorded; the file is no longer indexed).
    for rel in ctx.index.deleted_paths():
        with contextlib.suppress(OSError, TermvaultError):
            if ctx.store.delete(rel):
                done.append(f"removed pruned archive {rel}")
    if done:
        log.info("reconciliation: %s", "; ".join(done))
    return done


def before_write(ctx: Context) -> list[str]:
    """What every write runs first once the lock is held (the journal of a run that died
    is reconciled separately): archives the index lacks are indexed, so nothing written
    next takes a version number an archive on disk already has; set-aside sources are
    put back."""
    return catch_up(ctx, full=False) + held.put_back_stranded(ctx)


def catch_up(ctx: Context, full: bool = True) -> list[str]:
    """Index the archives the index lacks (see ``consistency.catch_up``), saying so."""
    # One bad item (unreadable file, unknown source kind) must not block every write.
    try:
        result = consistency.catch_up(ctx, load_pins(ctx), full=full)
    except (OSError, TermvaultError) as exc:
        log.warning("could not index the archives the index lacks: %s", exc)
        return []
    if result.indexed or result.renumbered:
        log.warning(
            "The index lacked %d archive(s) found in %s (it was lost, damaged or restored from an "
            "older copy); they are indexed again.",
            len(result.indexed) + len(result.renumbered),
            ctx.config.archive_dir,
        )
    return result.messages()


def _finish_removal(ctx: Context, entry: ArchiveEntry) -> list[str]:
    """Remove the move-mode sources a verified archive holds, if they are unchanged and
    lie where this home's sources read (a stored origin is never trusted on its own)."""
    done = []
    try:
        m = ctx.store.read(entry).manifest
    except DataError:
        return []
    all_gone = True
    for f in m.files:
        if f.path.startswith("_conversation/"):
            continue
        origin = Path(f.origin)
        try:
            origin_root(ctx, f.origin, m.session_id)
            if remove_if_unchanged(origin, f.size, f.mtime_ns, f.sha256, before=ctx.journal.record_folder):
                done.append(f"removed archived source {origin}")
            elif origin.exists():
                all_gone = False
        except (OSError, TermvaultError) as exc:
            log.warning("source %s of %s left in place: %s", origin, m.session_id, exc)
            all_gone = False
    if all_gone:
        ctx.index.mark_source_removed(entry.row_id)
    return done


def startup(ctx: Context, needs_legacy: Callable[[Context], bool], import_legacy: Callable[[Context], int]) -> None:
    """What opening a home does: reconcile after a crash (the journal is there) and import
    the older app's archives, if the lock is free right now; never fails the open."""
    try:
        legacy = needs_legacy(ctx)
        if not ctx.journal.exists() and not legacy:
            return
        if not ctx.lock.try_acquire("start-up reconciliation"):
            return
        try:
            if ctx.journal.exists():
                reconcile(ctx)
                ctx.journal.end()
            if legacy:
                import_legacy(ctx)
        finally:
            ctx.lock.release()
    except DataError as exc:
        # An unreadable index must not stop the home from opening, or `reindex` could
        # never run: every use of the index raises this same error until it does.
        log.warning("start-up skipped: %s", exc)
    except (OSError, TermvaultError, ValueError) as exc:
        # Nor may one bad leftover: the journal stays, and the next write retries.
        log.warning("start-up reconciliation incomplete: %s", exc)


# -- verify / repair --------------------------------------------------------------------
def verify(ctx: Context, progress: Any = None, read_data: bool = False) -> VerifyReport:
    """Read-only: re-hash every archive against the index and its own manifest; report
    missing, corrupt and orphaned archives, leftover temporary files and move-mode sources
    not yet removed. An index SQLite finds damaged raises DataError (run reindex)."""
    report = VerifyReport()
    # A damaged page can hide rows or break searches; say so rather than verify against it.
    check = ctx.index.quick_check()
    if check != ["ok"]:
        raise ctx.index.unreadable(DataError("; ".join(check[:3])))
    entries = ctx.index.all_rows()
    total = len(entries)
    in_remote = ctx.index.remote_only_ids()  # versions whose copy lives in the remote tier
    # Versions of a session in order, with one memo: each unit of a delta chain is read
    # once, and a damaged base is reported for every version built on it.
    chains: dict = {}
    entries.sort(key=lambda e: (e.session_id, e.version))
    for n, entry in enumerate(entries, start=1):
        if entry.status == "deleted":
            continue
        report.checked += 1
        problem = None
        if not ctx.store.path(entry).exists():
            if entry.row_id not in in_remote:
                report.missing.append(entry.archive_path)
                problem = "missing"
            else:  # evicted after a verified upload: the bucket's copy is the only one
                problem = remote_ops.check_remote_copy(ctx, entry, read_data)
                if problem:
                    report.remote_missing.append((entry.archive_path, problem))
        else:
            problem = ctx.store.verify(entry, chains)
            if problem:
                report.corrupt.append((entry.archive_path, problem))
        if not problem:
            report.ok += 1
        if progress:
            progress(Progress(n, total, session_id=entry.session_id, ok=problem is None, message=problem or ""))
    if ctx.lock.held_elsewhere():
        # A live writer's temporary files, its just-renamed archive and the source it is
        # about to remove are work in progress, not problems: say who is writing instead.
        report.busy = ctx.lock.describe_holder()
        return report
    report.orphaned = orphan_archives(ctx)
    if report.orphaned:
        report.implausible = consistency.catch_up(ctx, dry_run=True).implausible
    folders = [*held.recorded_folders(ctx), *held.source_folders(ctx)]
    report.stranded = [str(p) for p in held.held_files(folders)]
    report.kept = [str(p) for p in held.kept_files(folders)]
    report.temp_files = [str(p) for p in temp_files(ctx)]
    report.pending_removal = [e.session_id for e in pending_removals(ctx)]
    return report


def leftovers(ctx: Context) -> bool:
    """What repair cannot fix by itself is left: an orphan that does not verify, a
    temporary file, a source that changed."""
    return bool(orphan_archives(ctx) or temp_files(ctx) or pending_removals(ctx))


def repair(ctx: Context, progress: Any = None, read_data: bool = False) -> VerifyReport:
    """Verify, then fix what can be fixed without losing anything: reconcile (temp files,
    orphans, pending removals) and mark missing or corrupt versions in the index (their
    rows are kept with status 'missing' / 'corrupt', never silently dropped)."""
    report = verify(ctx, progress, read_data)
    report.repaired.extend(reconcile(ctx))
    with ctx.index.transaction():
        for rel in report.missing:
            ctx.index.set_status(rel, "missing")
            report.repaired.append(f"marked {rel} missing")
        for rel, _ in report.corrupt:
            ctx.index.set_status(rel, "corrupt")
            report.repaired.append(f"marked {rel} corrupt")
        for rel, why in report.remote_missing:
            if "could not be checked" in why:
                continue  # unreachable now, not known lost
            ctx.index.set_status(rel, "missing")
            ctx.index.clear_remote_verification(rel)
            report.repaired.append(f"marked {rel} missing: {why}")
    return report


# -- prune ------------------------------------------------------------------------------
def prune(ctx: Context, max_bytes: int | None = None, dry_run: bool = False) -> PruneReport:
    """Delete archived versions, oldest last activity first, until the archives fit in
    ``max_bytes`` (default: the configured cap). Pinned sessions and the older app's
    archives are never pruned. A version stored as a delta and the versions it is built
    on go together, a whole chain at a time (dated by its newest version), so no kept
    version ever loses its base; within a chain the newest goes first. Each version's
    row is first marked 'deleted' (committed), then its file removed; a run interrupted
    in between is finished by reconciliation."""
    limit = ctx.config.max_total_bytes if max_bytes is None else max_bytes
    pins = load_pins(ctx)
    entries = []
    for e in ctx.index.prunable():
        size = ctx.store.size_on_disk(e)  # what is really on disk: a missing archive frees nothing
        if size is None:
            size = 0 if deltas.base_content(e) is not None or _has_dependents(ctx, e) else None
        if size is None:
            continue
        e.size_bytes = size
        entries.append(e)
    total = sum(e.size_bytes for e in entries)
    report = PruneReport(limit=limit, total_before=total, total_after=total, dry_run=dry_run)
    if limit is None or total <= limit:
        return report
    groups = deltas.chain_groups(entries)
    groups.sort(key=lambda g: (max(_activity(e) for e in g), max(e.version for e in g)))
    for group in groups:
        if report.total_after <= limit:
            break
        if any(e.pinned or e.session_id in pins for e in group):
            report.skipped_pinned += len(group)
            continue
        if any(e.status == "legacy" for e in group):
            report.skipped_legacy += len(group)
            continue
        for e in group:  # newest first: an interruption leaves every kept version its base
            report.pruned.append(e)
            report.total_after -= e.size_bytes
            if not dry_run:
                _delete_version(ctx, e)
    return report


def _activity(e: ArchiveEntry) -> float:
    return float(e.last_activity_at or e.original_timestamp or 0.0)


def _has_dependents(ctx: Context, e: ArchiveEntry) -> bool:
    return any(deltas.base_content(r) == e.content_sha256 for r in ctx.index.versions(e.session_id))


def _delete_version(ctx: Context, e: ArchiveEntry) -> None:
    """Tombstone the row (status 'deleted'), then delete the file. If it was the session's
    searchable version, its text leaves the full-text index and the newest remaining
    version's text enters it, in the same transaction."""
    ctx.fault("prune")
    latest = ctx.index.get_entry(e.session_id)
    was_latest = latest is not None and latest.row_id == e.row_id
    with ctx.index.transaction():
        if was_latest:
            drop_text(ctx, e)
        ctx.index.tombstone(e.row_id)
        successor = ctx.index.get_entry(e.session_id) if was_latest else None
        if successor is not None:
            with contextlib.suppress(Exception):
                index_text(ctx, successor)
    ctx.store.delete(e)
    log.info("pruned %s version %s (%s bytes)", e.session_id, e.version, e.size_bytes)


# -- pins -------------------------------------------------------------------------------
def load_pins(ctx: Context) -> set[str]:
    try:
        data = json.loads((ctx.config.archive_dir / PINS_FILE).read_text())
        return {s for s in data.get("pinned", []) if isinstance(s, str)}
    except (OSError, ValueError, AttributeError):
        return set()


def set_pinned(ctx: Context, session_id: str, pinned: bool) -> None:
    """Pin or unpin every version of a session. Pins are also kept in ``archive/pins.json``
    so a rebuilt index keeps them."""
    pins = load_pins(ctx)
    if pinned:
        pins.add(session_id)
    else:
        pins.discard(session_id)
    atomic_write_bytes(ctx.config.archive_dir / PINS_FILE, json.dumps({"pinned": sorted(pins)}, indent=1).encode())
    ctx.index.set_pinned(session_id, pinned)
