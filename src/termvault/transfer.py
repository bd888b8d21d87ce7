"""Getting sessions back out of archives: restore to disk, export to a stream, and the
spooled readers the renderers and previews use.

A restore writes only where it is allowed to: under ``to`` when given, else at a file's
recorded origin, and only if that origin lies inside a folder some source of this home
reads (its roots) or the history folder. Parent folders are created one at a time and a
symbolic link on the way is refused, so a stored path can never steer a write elsewhere.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, BinaryIO

from . import archive as arc
from .errors import ConflictError, DataError, NotFoundError, UsageError
from .fsutil import DIR_MODE, FILE_MODE, fsync_dir
from .index import ArchiveEntry
from .reports import RestoreResult

if TYPE_CHECKING:
    from .vault import Vault

EXPORT_FORMATS = ("raw", "jsonl", "text", "markdown")
RESTORE_PREFIX = ".tv-restore-"
SPOOL_IN_MEMORY = 16 * 1024 * 1024


class SpooledRef:
    """A FileRef over an archive member copied to a private spool (memory, then disk)."""

    def __init__(self, relpath: str, size: int, spool: IO[bytes]):
        self.relpath, self.size, self._spool = relpath, size, spool

    def open(self) -> IO[bytes]:
        self._spool.seek(0)
        return _NoClose(self._spool)

    def close(self) -> None:
        self._spool.close()


class _NoClose:
    """Lets a parser ``with ref.open()`` a spool without closing it for the next reader."""

    def __init__(self, fh):
        self._fh = fh

    def __getattr__(self, name):
        return getattr(self._fh, name)

    def __iter__(self):
        return iter(self._fh)

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass


def close_refs(refs) -> None:
    for r in refs:
        closer = getattr(r, "close", None)
        if closer is not None:
            closer()


def spooled_files(vault: Vault, entry: ArchiveEntry) -> list:
    """The session's files as readable refs; the caller closes them with ``close_refs``."""
    if entry.status == "legacy":
        from .legacy import legacy_refs

        return legacy_refs(vault, entry)
    from .fsutil import ensure_private_dir

    refs: list[SpooledRef] = []
    tmpdir = ensure_private_dir(vault.home / ".tmp")

    def keep(f: arc.ManifestFile, stream: IO[bytes]) -> None:
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY, dir=tmpdir)
        while chunk := stream.read(arc.CHUNK):
            spool.write(chunk)
        refs.append(SpooledRef(f.path, f.size, spool))

    try:
        arc.read_archive(vault.local_archive(entry), keep, max_expand=vault.config.max_expand_bytes)
    except BaseException:
        close_refs(refs)
        raise
    return refs


# -- where a restore may write -------------------------------------------------------------
def allowed_roots(vault: Vault) -> list[Path]:
    """Folders a restore to the original location may write into: the history folder and
    the roots of every source (configured, or the default of one swept when detected)."""
    roots = {Path(os.path.abspath(vault.config.history_dir))}
    for cs in vault.sources(include_undetected=True):
        # A default root as wide as the whole home (aider's) counts only once configured.
        if cs.configured or cs.source.auto_detect:
            roots.update(Path(os.path.abspath(r)) for r in cs.source.roots)
    return sorted(roots, key=lambda p: len(p.parts), reverse=True)


def origin_root(vault: Vault, origin: str, session_id: str) -> Path:
    """The allowed root holding ``origin``; DataError if there is none."""
    path = Path(origin)
    if not path.is_absolute() or ".." in path.parts or os.path.normpath(origin) != origin:
        raise DataError(f"The stored origin {origin!r} of {session_id} is not a clean absolute path.")
    for root in allowed_roots(vault):
        if path != root and root in path.parents:
            return root
    raise DataError(
        f"The archive of {session_id} says a file belongs at {origin}, outside every folder "
        "termvault's sources read; restore it under a folder of your choice with --to DIR."
    )


def confined(base: Path, target: Path) -> Path:
    """Create ``target``'s missing parent folders under ``base`` one by one (0700),
    refusing a symbolic link or a non-folder on the way; return ``target``."""
    try:
        rel = target.relative_to(base)
    except ValueError:
        raise DataError(f"{target} is not inside {base}; it is refused.") from None
    if not base.exists():
        from .fsutil import ensure_private_dir

        ensure_private_dir(base)
    current = base
    for part in rel.parts[:-1]:
        current = current / part
        if current.is_symlink():
            raise DataError(f"{current} is a symbolic link; termvault will not restore through it.")
        if not current.exists():
            current.mkdir(mode=DIR_MODE)
        elif not current.is_dir():
            raise DataError(f"{current} is not a folder, so {target.name} cannot be restored under it.")
    if target.is_symlink():
        raise DataError(f"{target} is a symbolic link; termvault will not restore through it.")
    return target


def _targets(vault: Vault, m: arc.Manifest, to: Path | None) -> list[tuple[arc.ManifestFile, Path, Path]]:
    out = []
    for f in m.files:
        if to is not None:
            base = Path(os.path.abspath(to))
            target = base.joinpath(*f.path.split("/"))
        else:
            base = origin_root(vault, f.origin, m.session_id)
            target = Path(f.origin)
        out.append((f, target, base))
    return out


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


def restore(vault: Vault, session_id: str, version: int | None, to: Path | None, force: bool) -> RestoreResult:
    """See ``Vault.restore``; the caller holds the write lock."""
    entry = vault.get(session_id, version)
    if entry.status == "legacy":
        from .legacy import restore_legacy

        return restore_legacy(vault, entry, to=to, force=force)
    path = vault.local_archive(entry)
    manifest = arc.read_manifest(path)
    result = RestoreResult(entry.session_id, entry.version)
    wanted: dict[str, tuple[Path, Path]] = {}
    for f, target, base in _targets(vault, manifest, to):
        if target.is_symlink():
            raise DataError(f"{target} is a symbolic link; termvault will not restore through it.")
        if target.exists():
            if arc.sha256_file(target) == f.sha256:
                result.unchanged.append(str(target))
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

    def stage(f: arc.ManifestFile, stream: IO[bytes]) -> None:
        target, base = wanted[f.path]
        confined(base, target)
        journal_folder(vault, target.parent)
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
        os.chmod(tmp, f.mode or FILE_MODE)
        os.utime(tmp, ns=(f.mtime_ns, f.mtime_ns))

    try:
        arc.read_archive(path, stage, max_expand=vault.config.max_expand_bytes, only=set(wanted))
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
    return result


def journal_folder(vault: Vault, folder: Path) -> None:
    """Record in the crash journal a folder about to receive temporary files, so that
    reconciliation after a crash cleans it even outside the home."""
    from .vault import JOURNAL

    journal = vault.home / JOURNAL
    line = f"folder {json.dumps(str(folder))}\n"
    # Each write operation starts a new journal, so whether the folder is recorded is a
    # question for the journal itself, not for a memory of earlier operations.
    try:
        if line in journal.read_text(encoding="utf-8"):
            return
    except (OSError, UnicodeDecodeError):
        pass
    with open(journal, "a", encoding="utf-8") as fh:
        fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())


# -- export ------------------------------------------------------------------------------
def export(vault: Vault, session_id: str, out: BinaryIO, fmt: str, version: int | None,
           file: str | None, redact: bool) -> None:
    """See ``Vault.export``."""
    if fmt not in EXPORT_FORMATS:
        raise UsageError(f"Unknown export format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}.")
    try:
        entry = vault.get(session_id, version)
    except NotFoundError:
        live = find_live(vault, session_id)
        if live is None:
            raise
        cs, unit = live
        from .model import DiskFile

        refs = [DiskFile(f.relpath, f.size, f.origin) for f in unit.files]
        _write(cs.source, refs, out, fmt, file, {"name": unit.session_id, "source": cs.source.kind}, redact)
        return
    if fmt == "raw" and entry.status != "legacy":
        archive_path = vault.local_archive(entry)
        manifest = arc.read_manifest(archive_path)
        wanted = file or manifest.files[0].path
        if wanted not in {f.path for f in manifest.files}:
            raise NotFoundError(f"{entry.session_id} has no file {wanted!r}.")

        def copy(f: arc.ManifestFile, stream: IO[bytes]) -> None:
            while chunk := stream.read(arc.CHUNK):
                out.write(chunk)

        arc.read_archive(archive_path, copy, max_expand=vault.config.max_expand_bytes, only={wanted})
        return
    refs = spooled_files(vault, entry)
    header = {
        "name": entry.name, "source": entry.source, "working_directory": entry.working_directory,
        "created_at": entry.created_at, "last_activity_at": entry.last_activity_at,
        "session_id": entry.session_id,
    }
    try:
        _write(vault.source(entry.source), refs, out, fmt, file, header, redact)
    finally:
        close_refs(refs)


def _write(src, refs, out: BinaryIO, fmt: str, file: str | None, header, redact: bool) -> None:
    if fmt == "raw":
        ref = next((r for r in refs if r.relpath == (file or refs[0].relpath)), None)
        if ref is None:
            raise NotFoundError(f"The session has no file {file!r}.")
        with ref.open() as fh:
            while chunk := fh.read(arc.CHUNK):
                out.write(chunk)
        return
    from .render import render

    for piece in render(src.messages(refs), fmt, header, redact_secrets=redact):
        out.write(piece.encode("utf-8"))


def messages(vault: Vault, session_id: str, version: int | None = None) -> list:
    """The session's turns (for previews), reading the archive once; their text and names
    are redacted and free of control sequences, as everything shown is."""
    entry = vault.get(session_id, version)
    refs = spooled_files(vault, entry)
    try:
        return [_as_shown(m) for m in vault.source(entry.source).messages(refs)]
    finally:
        close_refs(refs)


def _as_shown(message):
    from .ansi import printable
    from .redact import redact

    if isinstance(message.text, str):
        message.text = redact(printable(message.text))  # escapes first: one inside a key hides it
    if isinstance(message.name, str):
        message.name = printable(message.name, one_line=True)
    return message


def find_live(vault: Vault, session_id: str):
    """(configured source, unit) of a session not archived yet, or None."""
    for cs in vault.sources():
        for unit in cs.source.discover():
            if unit.session_id == session_id:
                return cs, unit
    return None
