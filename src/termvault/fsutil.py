"""Small filesystem primitives every write path shares.

Everything here follows DESIGN.md's invariants: private permissions (folders 0700, files
0600), atomic replacement (temporary name in the same folder, fsync, rename, folder fsync)
and validation of ids and stored paths before they touch the filesystem.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import signal
import stat
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from .errors import DataError, HomeError, InvalidIdError, NotFoundError

if sys.platform == "win32":  # not a POSIX system: no leases
    fcntl = None
else:
    import fcntl

DIR_MODE = 0o700
FILE_MODE = 0o600
TMP_PREFIX = ".tv-tmp-"
MAX_ID_LENGTH = 200

# Ids name files, so anything that could walk out of a folder, glob, or hide is refused.
_ID_FORBIDDEN = re.compile(r"[/\\*?\[\]\x00-\x1f\x7f]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def check_version(session_id: str, version: int | None) -> int | None:
    """``version`` when SQLite can hold it; any other (``10**20``) is a version no
    archive has: NotFoundError, where the index would raise OverflowError."""
    if version is not None and not -(2**63) <= version < 2**63:
        raise NotFoundError(f"No archived session version {version} matches {session_id!r}.")
    return version


def validate_id(session_id: object) -> str:
    """Return ``session_id`` if it is safe to use in a file name, else raise InvalidIdError."""
    if not isinstance(session_id, str) or not session_id:
        raise InvalidIdError(f"A session id must be a non-empty string, not {session_id!r}.")
    if len(session_id) > MAX_ID_LENGTH:
        raise InvalidIdError(
            f"The session id {session_id[:40]!r}... is {len(session_id)} characters long; the limit is {MAX_ID_LENGTH}."
        )
    # A lone surrogate (a file name that is not UTF-8) cannot be stored in the index.
    if (
        ".." in session_id
        or session_id.startswith(".")
        or _ID_FORBIDDEN.search(session_id)
        or not session_id.isascii()
        and _SURROGATE.search(session_id)
    ):
        raise InvalidIdError(
            f"The session id {session_id!r} contains a path separator, '..', a glob character, "
            "a leading dot, a control character or bytes that are not UTF-8, so termvault refuses it."
        )
    return session_id


def validate_relpath(relpath: str) -> str:
    """Return a stored relative path if it stays inside its folder, else raise DataError.

    Used for every path read from an archive manifest or a tar member name.
    """
    if not isinstance(relpath, str) or not relpath or "\x00" in relpath or "\\" in relpath:
        raise DataError(f"The stored path {relpath!r} is not a valid relative path.")
    pure = PurePosixPath(relpath)
    if pure.is_absolute() or any(part in ("..", "") for part in pure.parts) or relpath != pure.as_posix():
        raise DataError(f"The stored path {relpath!r} would leave its folder; it is refused.")
    return relpath


def safe_join(base: Path, relpath: str) -> Path:
    """Join a validated relative path to ``base`` and refuse symlinks leading out of it."""
    validate_relpath(relpath)
    target = base.joinpath(*PurePosixPath(relpath).parts)
    base_real = os.path.realpath(base)
    parent_real = os.path.realpath(target.parent)
    if parent_real != base_real and not parent_real.startswith(base_real + os.sep):
        raise DataError(f"The path {relpath!r} resolves outside {base} through a symbolic link; it is refused.")
    if target.is_symlink():
        raise DataError(f"{target} is a symbolic link; termvault will not write through it.")
    return target


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) as 0700 folders; take group and other access
    from an existing one."""
    missing = []
    p = path
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue
        folder.chmod(DIR_MODE)
    # Tighten only: access for others goes, but a folder its owner made read-only
    # (0500) stays so; termvault respects that rather than make it writable again.
    with contextlib.suppress(PermissionError):
        current = stat.S_IMODE(path.stat().st_mode)
        if current & ~DIR_MODE:
            path.chmod(current & DIR_MODE)
    return path


def check_home_ownership(home: Path) -> None:
    """Refuse a home that another user owns or that anyone may write into."""
    st = home.stat()
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        raise HomeError(
            f"The termvault home {home} belongs to user id {st.st_uid}, not to you "
            f"({os.getuid()}); sessions hold secrets, so termvault will not use it. "
            "Choose another home with --home or TERMVAULT_HOME."
        )
    if st.st_mode & stat.S_IWOTH:
        raise HomeError(
            f"The termvault home {home} is world-writable (mode {stat.S_IMODE(st.st_mode):o}), "
            f"so anyone could plant or swap archives; run `chmod 700 {home}` and try again."
        )


def _fsync(path: Path, flag: str) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, flag, 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """fsync a folder so a rename inside it is durable."""
    _fsync(path, "O_DIRECTORY")


@contextlib.contextmanager
def atomic_writer(
    target: Path,
    mode: int = FILE_MODE,
    prefix: str = TMP_PREFIX,
    *,
    fault: Callable[[str], None] | None = None,
    new_file: bool = False,
    readable: bool = False,
    private_dir: bool = True,
) -> Iterator[BinaryIO]:
    """The one way termvault writes a file that must not be lost or half-written: a
    temporary file beside ``target`` (``prefix``, private), then fsync, rename, fsync the
    folder. On any exception the temporary file is removed and ``target`` untouched.

    ``new_file``: ``target`` did not exist, so a failure after the rename (the folder's
    fsync) removes it too rather than leave a file nothing refers to. ``readable``: the
    handle is also readable and its ``name`` is the temporary path (to check it before
    the rename). ``private_dir``: create the folder private if missing (else the folder
    must exist and its permissions are left alone: a user's export target).
    ``fault(step)`` is a test hook called before each durable step.
    """
    import tempfile  # lazy: a command that writes nothing does not load it (nor shutil, random)

    hook = fault or (lambda step: None)
    if private_dir:
        ensure_private_dir(target.parent)
    fd, tmp_name = tempfile.mkstemp(prefix=prefix, suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    renamed = False
    try:
        os.fchmod(fd, mode)
        if readable:
            os.close(fd)
            fh: BinaryIO = open(tmp, "w+b")  # noqa: SIM115 (closed below, after fsync)
        else:
            fh = os.fdopen(fd, "wb")
        with fh:
            yield fh
            hook("fsync")
            fh.flush()
            os.fsync(fh.fileno())
        hook("rename")
        os.replace(tmp, target)
        renamed = True
        hook("fsync-dir")
        fsync_dir(target.parent)
    except BaseException:
        for leftover in (target, tmp) if renamed and new_file else (tmp,):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
        raise


@contextlib.contextmanager
def staged_writer(target: Path, mode: int = FILE_MODE, prefix: str = TMP_PREFIX) -> Iterator[tuple[BinaryIO, Path]]:
    """The first half of ``atomic_writer``, for many files made durable together: yields
    a handle on a private temporary file beside ``target`` and its path; the file is
    neither fsynced nor renamed (``publish`` does both, for a whole batch, so one journal
    commit covers them all). On an exception the temporary file is removed."""
    import tempfile  # lazy: see atomic_writer

    ensure_private_dir(target.parent)
    fd, tmp_name = tempfile.mkstemp(prefix=prefix, suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            yield fh, tmp
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


PUBLISH_THREADS = 8


def fsync_file(path: Path) -> None:
    _fsync(path, "O_NOFOLLOW")


def publish(staged: list[tuple[Path, Path]], fault: Callable[[str], None] | None = None) -> None:
    """The second half of ``atomic_writer`` for ``staged`` (temporary file, target)
    pairs from ``staged_writer``: every file fsynced, then renamed into place, then every
    folder fsynced; the steps of ``atomic_writer`` in the same order for each file, done
    phase by phase so the first fsync of each phase commits the journal for all of them.
    Every target must be new (FileExistsError otherwise, before anything is renamed). On
    an exception no target is left behind (renamed ones are removed again) and the
    temporary files are removed."""
    hook = fault or (lambda step: None)
    renamed: list[Path] = []
    try:
        for _, target in staged:
            if os.path.lexists(target):  # new files only: an archive already there is never replaced
                raise FileExistsError(f"{target} already exists; it is left as it is.")
        for _ in staged:
            hook("fsync")
        # From several threads at once: the file system commits concurrent fsyncs
        # together (one journal commit and one disk flush for many files).
        with ThreadPoolExecutor(min(PUBLISH_THREADS, len(staged)) or 1, "termvault-fsync") as pool:
            list(pool.map(fsync_file, [tmp for tmp, _ in staged]))
        for tmp, target in staged:
            hook("rename")
            os.replace(tmp, target)
            renamed.append(target)
        synced: set[Path] = set()
        for _, target in staged:
            hook("fsync-dir")
            if target.parent not in synced:  # once per folder: it holds every rename in it
                fsync_dir(target.parent)
                synced.add(target.parent)
    except BaseException:
        for leftover in [*renamed, *(tmp for tmp, _ in staged)]:
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
        raise


def append_durably(path: Path, line: str) -> None:
    """Append ``line`` to a private log file and fsync it (crash journals, records)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
    with os.fdopen(fd, "a", encoding="utf-8") as fh:
        fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())


def atomic_write_bytes(target: Path, data: bytes, mode: int = FILE_MODE, prefix: str = TMP_PREFIX) -> None:
    with atomic_writer(target, mode, prefix) as fh:
        fh.write(data)


def is_temp_name(name: str) -> bool:
    return name.startswith(TMP_PREFIX)


HELD_PREFIX = ".tv-held-"


def remove_if_unchanged(
    path: Path,
    size: int,
    mtime_ns: int,
    sha256: str | None = None,
    before=None,
    ino: int = 0,
    ctime_ns: int = 0,
) -> bool:
    """Delete ``path`` only if it still is the file that was archived; True if deleted.

    The file is first renamed to a private name in its folder, so anything the owning tool
    writes at ``path`` from then on is a new file this never touches; the renamed file is
    then compared (size, mtime_ns and, if given, sha256) and deleted, or put back if it
    differs (without replacing a file written at ``path`` meanwhile). ``ino`` and
    ``ctime_ns``, when known, must match too: a same-size rewrite that kept the mtime
    (``cp -p``) still changes the ctime, and a replacement changes the inode. Where the system
    can tell (Linux leases), a file another process still has open is put back too: that
    process could write to it after the comparison. ``before(folder)`` is called first
    so a crash journal can name the folder (see ``put_back``).
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    if not stat.S_ISREG(st.st_mode) or st.st_size != size or st.st_mtime_ns != mtime_ns:
        return False
    if (ino and st.st_ino != ino) or (ctime_ns and st.st_ctime_ns != ctime_ns):
        return False
    held = path.with_name(f"{HELD_PREFIX}{os.getpid()}-{path.name}")
    if before is not None:
        before(path.parent)
    os.rename(path, held)
    # Everything below reads through this one descriptor: a second open would break the lease.
    fd = os.open(held, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    try:
        # The lease first, then the comparison: a writer that opened the file before the
        # rename could still append until the lease is held (it is refused while the
        # writer has the file open; once held, nobody can open it to write).
        same = _no_other_process_has_open(fd)
        if same:
            st = os.fstat(fd)
            same = (
                stat.S_ISREG(st.st_mode)
                and st.st_size == size
                and st.st_mtime_ns == mtime_ns
                and (not ino or st.st_ino == ino)
            )
        if same and sha256 is not None:
            h = hashlib.sha256()
            while chunk := os.read(fd, 1024 * 1024):
                h.update(chunk)
            same = h.hexdigest() == sha256
        if same:
            os.unlink(held)
            return True
    finally:
        os.close(fd)  # also releases the lease
    put_back(held)
    return False


def _no_other_process_has_open(fd: int) -> bool:
    """Take a write lease on ``fd``: Linux grants one only while no other process has the
    file open, and then makes any new opener wait until ``fd`` is closed. False if another
    process has it open; True if the lease is held, or leases are unavailable here (other
    systems, some filesystems), where the size and mtime comparison is all there is."""
    if fcntl is None or not hasattr(fcntl, "F_SETLEASE"):
        return True
    try:
        # Someone opening the held file would signal us; SIGIO would kill the process,
        # SIGURG is ignored by default.
        fcntl.fcntl(fd, fcntl.F_SETSIG, signal.SIGURG)
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_WRLCK)
    except OSError as exc:
        return exc.errno != errno.EAGAIN
    return True


KEPT_MARK = ".termvault-kept-"
# Suffixes a session file's name ends with as a whole: a kept copy keeps them, so the
# source that found the original finds the copy as a session of its own.
_COMPOUND_SUFFIXES = (".jsonl.zst", ".jsonl.gz", ".json.gz", ".cast.gz", ".jsonl.bz2")


def kept_name(name: str, stamp: int) -> str:
    """``<stem>.termvault-kept-<stamp><suffix>``: beside the original, with its suffix."""
    for suffix in _COMPOUND_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return f"{name[: -len(suffix)]}{KEPT_MARK}{stamp}{suffix}"
    stem, suffix = os.path.splitext(name)
    if not stem:
        stem, suffix = name, ""
    return f"{stem}{KEPT_MARK}{stamp}{suffix}"


def put_back(held: Path) -> Path:
    """Return a file set aside by ``remove_if_unchanged`` to its name, unless a new file
    took that name meanwhile; then keep it beside under ``kept_name`` (a name the source
    discovers as a session, so the next sweep archives it). Raises OSError (the held file
    then stays, to be found by ``ops.held``) when neither can be done."""
    name = held.name[len(HELD_PREFIX) :].split("-", 1)[1]
    path = held.with_name(name)
    try:
        os.link(held, path)
    except FileExistsError:
        stamp = int(time.time())
        while True:
            path = held.with_name(kept_name(name, stamp))
            try:
                os.link(held, path)
                break
            except FileExistsError:
                stamp += 1
    os.unlink(held)
    return path
