"""Restoring sessions to disk, verified, without ever overwriting or escaping.

A restore writes only where it is allowed to: under ``to`` when given, else at a file's
recorded origin, and only if that origin lies inside a folder some source of this home
reads (its roots) or the history folder. Parent folders are created one at a time and a
symbolic link on the way is refused, so a stored path can never steer a write elsewhere.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from .. import archive as arc
from ..errors import ConflictError, DataError, TermvaultError
from ..fsutil import DIR_MODE, FILE_MODE, ensure_private_dir, fsync_dir
from ..model import ArchiveEntry
from ..reports import RestoreResult
from ..sources.base import ArchivedFile, RestoreRequest
from .context import Context

RESTORE_PREFIX = ".tv-restore-"
CONVERSATION_PREFIX = "_conversation/"


def beside_name(target: Path, version: int) -> Path:
    """An unused name beside ``target`` for an archived copy restored next to it, keeping
    its suffix (``<stem>.termvault-restored-v<version>[-n]<suffix>``)."""
    n = 0
    while True:
        tag = f".termvault-restored-v{version}" + (f"-{n}" if n else "")
        candidate = target.with_name(f"{target.stem}{tag}{target.suffix}")
        if not os.path.lexists(candidate):
            return candidate
        n += 1


def safe_mode(mode: int) -> int:
    """The permission bits a restored user file may have, whatever an archive claims:
    never setuid, setgid, sticky or writable by others; always readable and writable by
    its owner."""
    return ((mode or FILE_MODE) & 0o755) | 0o600


def origin_root(ctx: Context, origin: str, session_id: str) -> Path:
    """The allowed root holding ``origin``; DataError if there is none."""
    path = Path(origin)
    if not path.is_absolute() or ".." in path.parts or os.path.normpath(origin) != origin:
        raise DataError(f"The stored origin {origin!r} of {session_id} is not a clean absolute path.")
    for root in ctx.sources.allowed_roots():
        if path != root and root in path.parents:
            return root
    raise DataError(
        f"The archive of {session_id} says a file belongs at {origin}, outside every folder "
        "termvault's sources read; restore it under a folder of your choice with --to DIR."
    )


def restores_in_place(ctx: Context, manifest: arc.Manifest) -> bool:
    """Whether ``restore`` without ``to`` may put every file of ``manifest`` back where it
    came from (a unit of another home or machine names files outside this one's sources)."""
    history = Path(os.path.abspath(ctx.config.history_dir))
    if all(os.path.normpath(f.origin) == f.origin and history in Path(f.origin).parents for f in manifest.files):
        return True  # the common case, without loading every source to learn their folders
    try:
        for f in manifest.files:
            origin_root(ctx, f.origin, manifest.session_id)
    except TermvaultError:
        return False
    return True


def confined(base: Path, target: Path, made: list[Path] | None = None) -> Path:
    """Create ``target``'s missing parent folders under ``base`` one by one (0700),
    refusing a symbolic link or a non-folder on the way; return ``target``. The folders
    created are appended to ``made``."""
    try:
        rel = target.relative_to(base)
    except ValueError:
        raise DataError(f"{target} is not inside {base}; it is refused.") from None
    if not base.exists():
        missing = [p for p in (base, *base.parents) if not p.exists()]
        ensure_private_dir(base)
        if made is not None:
            made.extend(reversed(missing))
    current = base
    for part in rel.parts[:-1]:
        current = current / part
        if current.is_symlink():
            raise DataError(f"{current} is a symbolic link; termvault will not restore through it.")
        if not current.exists():
            current.mkdir(mode=DIR_MODE)
            if made is not None:
                made.append(current)
        elif not current.is_dir():
            raise DataError(f"{current} is not a folder, so {target.name} cannot be restored under it.")
    if target.is_symlink():
        raise DataError(f"{target} is a symbolic link; termvault will not restore through it.")
    return target


def set_aside(target: Path, stamp: str) -> Path:
    """Keep the current ``target`` under a new, unused name (a hard link, so nothing is
    ever overwritten); the caller then replaces ``target``."""
    n = 0
    while True:
        aside = target.with_name(f"{target.name}.termvault-old-{stamp}" + (f"-{n}" if n else ""))
        try:
            os.link(target, aside)
            return aside
        except FileExistsError:
            n += 1


def _targets(ctx: Context, m: arc.Manifest, to: Path | None) -> list[tuple[arc.ManifestFile, Path, Path]]:
    out = []
    for f in m.files:
        if to is not None:
            base = Path(os.path.abspath(to))
            target = base.joinpath(*f.path.split("/"))
        else:
            base = origin_root(ctx, f.origin, m.session_id)
            target = Path(f.origin)
        out.append((f, target, base))
    return out


def _restore_in_place(
    ctx: Context, entry: ArchiveEntry, m: arc.Manifest, force: bool
) -> tuple[list[str], list[str]] | None:
    """A source that keeps its files inside a database restores them there itself (None:
    this source restores to files, or cannot be loaded here)."""
    try:
        src = ctx.sources.get(m.source)
    except TermvaultError:  # a kind that cannot be loaded here: its files go back to disk
        return None

    def stream(callback: Callable[[str, IO[bytes]], None]) -> None:
        ctx.store.read(entry, lambda f, fh: callback(f.path, fh))

    files = [ArchivedFile(f.path, f.origin, f.size, f.mtime_ns, f.sha256) for f in m.files]
    return src.restore_in_place(RestoreRequest(m.session_id, m.version, m.mode, dict(m.meta), files, force, stream))


def restore(ctx: Context, entry: ArchiveEntry, to: Path | None, force: bool) -> RestoreResult:
    """Put a version's files back (see ``Vault.restore``); the caller holds the write lock.

    Every file is staged under a temporary name beside its target (recorded in the crash
    journal), checked against its sha256 and fsynced; only when all are staged are they
    renamed into place, an existing different file first kept aside."""
    manifest = ctx.store.manifest(entry)
    result = RestoreResult(entry.session_id, entry.version)
    if to is None:
        done = _restore_in_place(ctx, entry, manifest, force)
        if done is not None:
            result.restored, result.unchanged = done
            return result
    wanted: dict[str, tuple[Path, Path]] = {}
    for f, target, base in _targets(ctx, manifest, to):
        if target.is_symlink():
            raise DataError(f"{target} is a symbolic link; termvault will not restore through it.")
        with contextlib.suppress(FileNotFoundError):
            # Never open a FIFO, device or socket: reading one could block forever while
            # the write lock is held.
            if not stat.S_ISREG(os.lstat(target).st_mode):
                raise DataError(
                    f"{target} exists and is not a regular file (a folder, FIFO, device or socket); "
                    f"termvault will not restore {entry.session_id} over it."
                )
        if target.exists():
            if arc.sha256_file(target) == f.sha256:
                result.unchanged.append(str(target))
                continue
            if to is None and f.path.startswith(CONVERSATION_PREFIX):
                # The agent's live transcript moved on since: it belongs to the agent and
                # may hold newer turns, so it is never replaced; the archived one goes beside.
                beside = beside_name(target, entry.version)
                result.notes.append(
                    f"{target} differs from the archived conversation (the agent went on with it); "
                    f"it was left as it is and the archived one restored beside it as {beside.name}."
                )
                wanted[f.path] = (beside, base)
                continue
            if not force:
                raise ConflictError(
                    f"{target} already exists and differs from the archived copy of {entry.session_id}; "
                    "use --force to restore anyway (the existing file is kept aside)."
                )
        wanted[f.path] = (target, base)
    if not wanted:
        return result
    staged: dict[str, Path] = {}
    made: list[Path] = []  # folders this restore created: gone again if it fails

    def stage(f: arc.ManifestFile, stream: IO[bytes]) -> None:
        target, base = wanted[f.path]
        confined(base, target, made)
        ctx.journal.record_folder(target.parent)
        fd, tmp = tempfile.mkstemp(prefix=RESTORE_PREFIX, dir=target.parent)
        staged[f.path] = Path(tmp)
        with os.fdopen(fd, "wb") as out:
            h = hashlib.sha256()
            while chunk := stream.read(arc.CHUNK):
                h.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if h.hexdigest() != f.sha256:
            raise DataError(f"{f.path} of {entry.session_id} did not match its hash while restoring.")
        os.chmod(tmp, safe_mode(f.mode))
        if f.mtime_ns:
            os.utime(tmp, ns=(f.mtime_ns, f.mtime_ns))

    try:
        ctx.store.read(entry, stage, only=set(wanted))
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for relpath, tmp in staged.items():
            target, base = wanted[relpath]
            confined(base, target)  # again: a folder may have been swapped for a link meanwhile
            if target.exists():
                result.set_aside.append((str(target), str(set_aside(target, stamp))))
            os.replace(tmp, target)
            fsync_dir(target.parent)
            result.restored.append(str(target))
    finally:
        for tmp in staged.values():
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        if not result.restored:  # failed before anything was put in place
            for folder in reversed(made):
                with contextlib.suppress(OSError):  # not empty (or not ours any more): kept
                    folder.rmdir()
    return result
