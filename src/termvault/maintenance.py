"""Keeping a home healthy: start-up reconciliation, read-only verify, repair, reindex,
prune to a storage cap, pins and statistics."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import archive as arc
from . import fulltext
from .errors import DataError, TermvaultError
from .fsutil import (
    HELD_PREFIX,
    atomic_write_bytes,
    is_temp_name,
    put_back,
    remove_if_unchanged,
    validate_relpath,
)
from .index import ArchiveEntry, is_corruption
from .reports import Progress, PruneReport, VerifyReport

if TYPE_CHECKING:
    from .vault import Vault

log = logging.getLogger(__name__)
PINS_FILE = "pins.json"


# -- reconciliation ---------------------------------------------------------------------
def temp_files(vault: Vault) -> list[Path]:
    root = vault.config.archive_dir
    found = []
    for folder, _dirs, files in os.walk(root):
        found.extend(Path(folder) / f for f in files if is_temp_name(f))
    # Not history/: the app saves sessions there through temporary files of its own,
    # without the lock; an interrupted restore's leftovers are found through the journal.
    return found


def journal_leftovers(vault: Vault, prefix: str | None = None) -> list[Path]:
    """Files starting with ``prefix`` (default: an interrupted restore's temporary files)
    in the folders the crash journal names."""
    from .vault import JOURNAL, RESTORE_PREFIX

    prefix = prefix or RESTORE_PREFIX

    try:
        lines = (vault.home / JOURNAL).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    found = []
    for line in lines:
        if not line.startswith("folder "):
            continue
        try:
            folder = Path(json.loads(line[len("folder "):]))
            found.extend(p for p in folder.iterdir() if p.name.startswith(prefix) and p.is_file())
        except (OSError, ValueError, TypeError):
            continue
    return found


def orphan_archives(vault: Vault) -> list[str]:
    known = {r[0] for r in vault.index.query("SELECT archive_path FROM sessions")}
    root = vault.config.archive_dir
    return [p.relative_to(root).as_posix() for p in arc.iter_archive_files(root)
            if p.relative_to(root).as_posix() not in known]


def pending_removals(vault: Vault) -> list[ArchiveEntry]:
    """Move-mode versions whose source files may still be on disk."""
    rows = vault.index.query(
        "SELECT * FROM sessions WHERE mode = 'move' AND source_removed = 0 AND status = 'archived'"
    )
    out = []
    for r in rows:
        entry = vault.index.entry_from_row(r)
        if any(Path(f["origin"]).exists() for f in _manifest_files(vault, entry)):
            out.append(entry)
    return out


def _manifest_files(vault: Vault, entry: ArchiveEntry) -> list[dict[str, Any]]:
    try:
        m = arc.read_manifest(vault.archive_file(entry))
    except DataError:
        return []
    return [f.to_dict() for f in m.files if not f.path.startswith("_conversation/")]


def reconcile(vault: Vault) -> list[str]:
    """Repair what an interrupted write left (caller holds the lock): delete temporary
    files, index verified archives the index lacks, and finish removing move-mode sources
    that a verified archive already holds. Never deletes a source that differs."""
    done = []
    for held in journal_leftovers(vault, HELD_PREFIX):
        # A source set aside for deletion when the run died: never lose it, put it back
        # (an archived one is then removed again properly below).
        with contextlib.suppress(OSError):
            done.append(f"put back {put_back(held)}")
    for tmp in temp_files(vault) + journal_leftovers(vault):
        with contextlib.suppress(OSError):
            tmp.unlink()
            done.append(f"removed temporary file {tmp.name}")
    # One bad item (unreadable file, unknown source kind) must not block every write.
    for rel in orphan_archives(vault):
        try:
            done.extend(_adopt(vault, rel))
        except (OSError, TermvaultError) as exc:
            log.warning("could not adopt %s: %s", rel, exc)
    for entry in pending_removals(vault):
        done.extend(_finish_removal(vault, entry))
    # A prune interrupted after committing a version's tombstone: finish removing the
    # file it named (the decision was recorded; the file is no longer indexed).
    for (rel,) in vault.index.query("SELECT archive_path FROM sessions WHERE status = 'deleted'"):
        with contextlib.suppress(OSError, TermvaultError):
            path = vault.config.archive_dir / validate_relpath(rel)
            if path.exists():
                path.unlink()
                done.append(f"removed pruned archive {rel}")
    if done:
        log.info("reconciliation: %s", "; ".join(done))
    return done


def _adopt(vault: Vault, rel: str) -> list[str]:
    path = vault.config.archive_dir / rel
    try:
        back = arc.read_archive(path)
    except DataError as exc:
        # An unverifiable orphan is never trusted nor deleted: verify keeps reporting it.
        log.warning("archive %s could not be verified: %s", rel, exc)
        return []
    m = back.manifest
    if vault.index.get_entry(m.session_id, m.version) is not None:
        log.warning("archive %s duplicates an indexed version; left alone", rel)
        return []
    entry = vault._entry_from_manifest(m, rel, back.archive_size, back.archive_sha256)
    entry.pinned = m.session_id in load_pins(vault)
    text = None
    if vault.config.full_text:
        try:
            text = vault.searchable_text(entry)
        except Exception as exc:  # e.g. a source kind that cannot be loaded any more
            log.warning("archive %s indexed without its text: %s", rel, exc)
    with vault.index.transaction():
        vault.index.insert(entry)
        if text is not None:
            fulltext.add(vault.index, entry, text, vault.searchable_text)
    return [f"indexed {rel}"]


def _finish_removal(vault: Vault, entry: ArchiveEntry) -> list[str]:
    """Remove the move-mode sources a verified archive holds, if they are unchanged and
    lie where this home's sources read (a stored origin is never trusted on its own)."""
    from .transfer import journal_folder, origin_root

    def journal(folder: Path) -> None:
        journal_folder(vault, folder)

    done = []
    try:
        m = arc.read_archive(vault.archive_file(entry)).manifest
    except DataError:
        return []
    all_gone = True
    for f in m.files:
        if f.path.startswith("_conversation/"):
            continue
        origin = Path(f.origin)
        try:
            origin_root(vault, f.origin, m.session_id)
            if remove_if_unchanged(origin, f.size, f.mtime_ns, f.sha256, before=journal):
                done.append(f"removed archived source {origin}")
            elif origin.exists():
                all_gone = False
        except (OSError, TermvaultError) as exc:
            log.warning("source %s of %s left in place: %s", origin, m.session_id, exc)
            all_gone = False
    if all_gone:
        with vault.index.transaction() as db:
            db.execute("UPDATE sessions SET source_removed = 1 WHERE id = ?", (entry.row_id,))
    return done


# -- verify / repair --------------------------------------------------------------------
def verify(vault: Vault, progress=None) -> VerifyReport:
    """Read-only: re-hash every archive against the index and its own manifest; report
    missing, corrupt and orphaned archives, leftover temporary files and move-mode sources
    not yet removed. An index SQLite finds damaged raises DataError (run reindex)."""
    from .legacy import verify_legacy
    from .remote import remote_only_ids

    report = VerifyReport()
    # A damaged page can hide rows or break searches; say so rather than verify against it.
    check = [r[0] for r in vault.index.query("PRAGMA quick_check")]
    if check != ["ok"]:
        raise vault.index.unreadable(DataError("; ".join(check[:3])))
    entries = vault.index.all_rows()
    total = len(entries)
    in_remote = remote_only_ids(vault)  # versions whose copy lives in the remote tier
    for n, entry in enumerate(entries, start=1):
        if entry.status in ("deleted",):
            continue
        report.checked += 1
        path = vault.archive_file(entry)
        problem = None
        if not path.exists() and entry.row_id in in_remote:
            pass  # evicted after its remote copy was verified, or another machine's
        elif not path.exists():
            report.missing.append(entry.archive_path)
            problem = "missing"
        elif entry.status == "legacy":
            problem = verify_legacy(vault, entry)
        else:
            try:
                back = arc.read_archive(path, max_expand=vault.config.max_expand_bytes)
                if entry.archive_sha256 and back.archive_sha256 != entry.archive_sha256:
                    problem = "the archive's sha256 differs from the index"
                elif back.manifest.content_sha256 != entry.content_sha256:
                    problem = "the content differs from the index"
                elif (back.manifest.session_id != entry.session_id
                      or back.manifest.version != entry.meta.get("origin_version", entry.version)):
                    problem = "the archive holds another session or version"
            except DataError as exc:
                problem = str(exc)
        if problem and problem != "missing":
            report.corrupt.append((entry.archive_path, problem))
        elif not problem:
            report.ok += 1
        if progress:
            progress(Progress(n, total, session_id=entry.session_id, ok=problem is None, message=problem or ""))
    if vault.lock.held_elsewhere():
        # A live writer's temporary files, its just-renamed archive and the source it is
        # about to remove are work in progress, not problems: say who is writing instead.
        report.busy = vault.lock.describe_holder()
        return report
    report.orphaned = orphan_archives(vault)
    report.temp_files = [str(p) for p in temp_files(vault)]
    report.pending_removal = [e.session_id for e in pending_removals(vault)]
    return report


def repair(vault: Vault, progress=None) -> VerifyReport:
    """Verify, then fix what can be fixed without losing anything: reconcile (temp files,
    orphans, pending removals) and mark missing or corrupt versions in the index (their
    rows are kept with status 'missing' / 'corrupt', never silently dropped)."""
    report = verify(vault, progress)
    report.repaired.extend(reconcile(vault))
    with vault.index.transaction() as db:
        for rel in report.missing:
            db.execute("UPDATE sessions SET status = 'missing' WHERE archive_path = ?", (rel,))
            report.repaired.append(f"marked {rel} missing")
        for rel, _ in report.corrupt:
            db.execute("UPDATE sessions SET status = 'corrupt' WHERE archive_path = ?", (rel,))
            report.repaired.append(f"marked {rel} corrupt")
    return report


# -- reindex ----------------------------------------------------------------------------
def reindex(vault: Vault, progress=None) -> int:
    """Rebuild the index (rows and full text) from ``archive/`` alone, in one transaction.
    Archives that do not verify are skipped and logged. Returns the number of versions."""
    from .legacy import legacy_entries

    root = vault.config.archive_dir
    paths = list(arc.iter_archive_files(root))
    pins = load_pins(vault)
    index = vault.index
    count = 0
    with index.transaction() as db:
        db.execute("DELETE FROM sessions")
        fulltext.clear(db)
        results = []
        for n, path in enumerate(paths, start=1):
            rel = path.relative_to(root).as_posix()
            try:
                back = arc.read_archive(path, max_expand=vault.config.max_expand_bytes)
            except DataError as exc:
                log.warning("reindex skipped %s: %s", rel, exc)
                if progress:
                    progress(Progress(n, len(paths), ok=False, message=str(exc)))
                continue
            results.append((back, rel))
            if progress:
                progress(Progress(n, len(paths), session_id=back.manifest.session_id))
        # Insert in version order so each session's newest version ends up indexed.
        results.sort(key=lambda r: (r[0].manifest.session_id, r[0].manifest.version))
        for back, rel in results:
            m = back.manifest
            entry = vault._entry_from_manifest(m, rel, back.archive_size, back.archive_sha256)
            entry.pinned = m.session_id in pins
            # Pending removals only exist between a crash and the reconciliation that
            # every write (this one included) runs first, so a rebuilt row is complete.
            entry.source_removed = m.mode == "move"
            if _insert_unique(index, entry):
                count += 1
        latest: dict[str, ArchiveEntry] = {}
        for e in index.all_rows():
            if e.session_id not in latest or e.version > latest[e.session_id].version:
                latest[e.session_id] = e
        for e in latest.values() if vault.config.full_text else ():
            try:
                fulltext.add(index, e, vault.searchable_text(e))
            except Exception as exc:  # the row stays; only its text is not searchable
                log.warning("reindex: no text for %s: %s", e.archive_path, exc)
        for entry in legacy_entries(vault):
            entry.pinned = entry.session_id in pins
            if _insert_unique(index, entry):
                count += 1
    return count


def _insert_unique(index, entry: ArchiveEntry) -> bool:
    """Insert a rebuilt row; a second archive claiming the same session version is
    logged and left out (both files stay on disk for ``verify`` to report)."""
    import sqlite3

    try:
        with index.transaction() as db:
            db.execute("SAVEPOINT one_row")
            try:
                index.insert(entry)
            except sqlite3.IntegrityError:
                db.execute("ROLLBACK TO one_row")
                db.execute("RELEASE one_row")
                log.warning("reindex: %s repeats %s version %s; left out", entry.archive_path,
                            entry.session_id, entry.version)
                return False
            db.execute("RELEASE one_row")
        return True
    except sqlite3.IntegrityError:
        return False


def set_aside_unreadable_index(vault: Vault) -> None:
    """Move an index SQLite cannot read aside (``.unreadable-<time>``) so reindex can
    build a new one; a sound file (or a full disk, an I/O error) is left alone."""
    try:
        if vault.index.query("PRAGMA quick_check")[0][0] == "ok":
            return
        problem = "quick_check failed"
    except DataError as exc:
        if not is_corruption(exc.__cause__):
            raise  # a full disk or an I/O error: the file itself may well be sound
        problem = str(exc.__cause__)
    vault.close()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = vault.config.index_path
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.replace(f"{path}{suffix}", f"{path}.unreadable-{stamp}{suffix}")
    log.warning("the index %s was unreadable (%s); moved aside to rebuild it", path, problem)


# -- prune ------------------------------------------------------------------------------
def prune(vault: Vault, max_bytes: int | None = None, dry_run: bool = False) -> PruneReport:
    """Delete archived versions, oldest last activity first, until the archives fit in
    ``max_bytes`` (default: the configured cap). Pinned sessions and the older app's
    archives are never pruned. Each version's row is first marked 'deleted' (committed),
    then its file removed; a run interrupted in between is finished by reconciliation."""
    if vault.config.remote:  # with a remote tier the cap evicts local copies instead
        from .remote import evict

        return evict(vault, max_bytes, dry_run)
    limit = vault.config.max_total_bytes if max_bytes is None else max_bytes
    rows = vault.index.query(
        "SELECT * FROM sessions WHERE status IN ('archived', 'legacy', 'corrupt') "
        "ORDER BY last_activity_at ASC, version ASC, id ASC"
    )
    pins = load_pins(vault)
    entries = []
    for r in rows:
        e = vault.index.entry_from_row(r)
        try:  # what is really on disk: a missing archive frees nothing
            e.size_bytes = vault.archive_file(e).stat().st_size
        except OSError:
            continue
        entries.append(e)
    total = sum(e.size_bytes for e in entries)
    report = PruneReport(limit=limit, total_before=total, total_after=total, dry_run=dry_run)
    if limit is None or total <= limit:
        return report
    for e in entries:
        if report.total_after <= limit:
            break
        if e.pinned or e.session_id in pins:
            report.skipped_pinned += 1
            continue
        if e.status == "legacy":
            report.skipped_legacy += 1
            continue
        report.pruned.append(e)
        report.total_after -= e.size_bytes
        if not dry_run:
            _delete_version(vault, e)
    return report


def _delete_version(vault: Vault, e: ArchiveEntry) -> None:
    """Tombstone the row (status 'deleted'), then delete the file. If it was the session's
    searchable version, its text leaves the full-text index and the newest remaining
    version's text enters it, in the same transaction."""
    latest = vault.index.get_entry(e.session_id)
    was_latest = latest is not None and latest.row_id == e.row_id
    old_text = None
    if was_latest and vault.config.full_text:
        with contextlib.suppress(Exception):
            old_text = vault.searchable_text(e)
    with vault.index.transaction() as db:
        db.execute("UPDATE sessions SET status = 'deleted' WHERE id = ?", (e.row_id,))
        if was_latest and vault.config.full_text:
            if old_text is not None:
                row = db.execute("SELECT text_sha256 FROM sessions WHERE id = ?", (e.row_id,)).fetchone()
                fulltext.remove(vault.index, e.row_id, old_text, row[0])
            successor = vault.index.get_entry(e.session_id)
            if successor is not None:
                with contextlib.suppress(Exception):
                    fulltext.add(vault.index, successor, vault.searchable_text(successor))
    with contextlib.suppress(FileNotFoundError):
        vault.archive_file(e).unlink()
    log.info("pruned %s version %s (%s bytes)", e.session_id, e.version, e.size_bytes)


# -- pins -------------------------------------------------------------------------------
def load_pins(vault: Vault) -> set[str]:
    try:
        data = json.loads((vault.config.archive_dir / PINS_FILE).read_text())
        return {s for s in data.get("pinned", []) if isinstance(s, str)}
    except (OSError, ValueError, AttributeError):
        return set()


def set_pinned(vault: Vault, session_id: str, pinned: bool) -> ArchiveEntry:
    """Pin or unpin every version of a session. Pins are also kept in ``archive/pins.json``
    so a rebuilt index keeps them."""
    pins = load_pins(vault)
    pins.add(session_id) if pinned else pins.discard(session_id)
    atomic_write_bytes(
        vault.config.archive_dir / PINS_FILE,
        json.dumps({"pinned": sorted(pins)}, indent=1).encode(),
    )
    with vault.index.transaction() as db:
        db.execute("UPDATE sessions SET pinned = ? WHERE session_id = ?", (int(pinned), session_id))
    return vault.get(session_id)


# -- stats ------------------------------------------------------------------------------
def stats(vault: Vault) -> dict[str, Any]:
    """Index totals (the seed's ``get_stats`` keys) plus per-source and per-month
    breakdowns and the storage cap. One grouped pass over the rows and one count of
    distinct sessions per source: a vault of 100,000 sessions answers in well under a
    second even on a loaded machine."""
    from .index import MB

    index = vault.index
    per_source: dict[str, dict[str, Any]] = {}
    months: dict[str, dict[str, int]] = defaultdict(lambda: {"versions": 0, "archive_bytes": 0, "original_bytes": 0})
    oldest = newest = None
    for r in index.query(
        "SELECT source, strftime('%Y-%m', last_activity_at, 'unixepoch') m, COUNT(*) v, "
        "SUM(archive_size) a, SUM(original_size) o, MIN(archived_at) lo, MAX(archived_at) hi "
        "FROM sessions WHERE status != 'deleted' GROUP BY source, m"
    ):
        src = per_source.setdefault(r["source"], {"sessions": 0, "versions": 0, "archive_bytes": 0, "original_bytes": 0})
        src["versions"] += r["v"]
        src["archive_bytes"] += r["a"]
        src["original_bytes"] += r["o"]
        month = months[r["m"]]
        month["versions"] += r["v"]
        month["archive_bytes"] += r["a"]
        month["original_bytes"] += r["o"]
        oldest = r["lo"] if oldest is None else min(oldest, r["lo"])
        newest = r["hi"] if newest is None else max(newest, r["hi"])
    for r in index.query(
        "SELECT source, COUNT(DISTINCT session_id) n FROM sessions WHERE status != 'deleted' GROUP BY source"
    ):
        per_source[r["source"]]["sessions"] = r["n"]
    archived = sum(v["archive_bytes"] for v in per_source.values())
    original = sum(v["original_bytes"] for v in per_source.values())
    out: dict[str, Any] = {
        "total_sessions": sum(v["sessions"] for v in per_source.values()),
        "total_size_mb": round(archived / MB, 2),
        "space_saved_mb": round((original - archived) / MB, 2),
        "oldest_archive": oldest,
        "newest_archive": newest,
        "total_versions": sum(v["versions"] for v in per_source.values()),
        "archive_bytes": archived,
        "original_bytes": original,
        "per_source": dict(sorted(per_source.items())),
        "per_month": dict(sorted(months.items())),
    }
    out["pinned_sessions"] = index.query("SELECT COUNT(DISTINCT session_id) FROM sessions WHERE pinned = 1")[0][0]
    out["max_total_bytes"] = vault.config.max_total_bytes
    out["archive_directory"] = str(vault.config.archive_dir)
    out["home"] = str(vault.home)
    return out
