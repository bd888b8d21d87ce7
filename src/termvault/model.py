"""Records shared by sources, the archive writer, the index and the facade."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable
from typing import IO, Any, Protocol


@dataclass(frozen=True)
class UnitFile:
    """One file of a session unit as found on disk.

    ``relpath`` is the path inside the archive (POSIX, relative, validated) and, for files
    under the source root, the path relative to that root. ``origin`` is the absolute path
    the file is restored to by default.
    """

    origin: Path
    relpath: str
    size: int
    mtime_ns: int
    # Identity at discovery (0 = unknown): a removal checks them so a file rewritten in
    # place with its mtime kept, or replaced by another, is never deleted unarchived.
    ino: int = 0
    ctime_ns: int = 0
    # A file kept inside another program's database rather than on disk: each call returns
    # a fresh readable snapshot of its bytes (None = read ``origin`` from disk). ``origin``
    # is then a name for the file, not a path to open.
    reader: Callable[[], IO[bytes]] | None = field(default=None, compare=False, repr=False)

    def open(self) -> IO[bytes]:
        """The file's bytes as discovered: at most ``size`` of them (a FileRef)."""
        raw = self.reader() if self.reader is not None else open(self.origin, "rb")
        return BoundedReader(raw, self.size)


@dataclass
class SessionUnit:
    """A session as discovered: which files belong to it; nothing read yet but ``stat``."""

    source: str
    session_id: str
    root: Path
    files: list[UnitFile]
    # The newest file mtime: a cheap upper bound of last activity used to pick due units
    # before anything is parsed.
    mtime: float = 0.0
    # Anything discovery learned cheaply (e.g. a timestamp in a file name).
    hints: dict[str, Any] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    def fingerprint(self) -> str:
        """Identity of the files' current state (paths, sizes, mtimes); no content read."""
        return fingerprint_of((f.relpath, f.size, f.mtime_ns) for f in self.files)


def fingerprint_of(files) -> str:
    """sha256 over sorted (relpath, size, mtime_ns) triples."""
    h = hashlib.sha256()
    for relpath, size, mtime_ns in sorted(files):
        h.update(f"{relpath}\0{size}\0{mtime_ns}\n".encode("utf-8", "surrogateescape"))  # names need not be UTF-8
    return h.hexdigest()


class FileRef(Protocol):
    """A file a parser or renderer may read: on disk or inside an archive."""

    relpath: str
    size: int

    def open(self) -> IO[bytes]: ...


@dataclass
class SessionInfo:
    """What a source extracts from a session's records (not from file mtimes).

    Times are UNIX seconds (UTC). ``text`` is the searchable text: user and assistant
    messages, tool names and commands, tool outputs capped. ``parse_warnings`` counts
    lines or records that could not be understood; the unit is archived raw regardless.
    """

    name: str = ""
    working_directory: str = ""
    last_command: str | None = None
    first_prompt: str | None = None
    created_at: float | None = None
    last_activity_at: float | None = None
    git_branch: str | None = None
    model: str | None = None
    message_count: int = 0
    tool_call_count: int = 0
    parse_warnings: int = 0
    text: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def metadata(self) -> dict[str, Any]:
        """The JSON-serialisable metadata, without the (large) text."""
        out = {
            "name": self.name,
            "working_directory": self.working_directory,
            "last_command": self.last_command,
            "first_prompt": self.first_prompt,
            "created_at": self.created_at,
            "last_activity_at": self.last_activity_at,
            "git_branch": self.git_branch,
            "model": self.model,
            "message_count": self.message_count,
            "tool_call_count": self.tool_call_count,
            "parse_warnings": self.parse_warnings,
        }
        if self.extra:
            out["extra"] = self.extra
        return out


@dataclass
class DiskFile:
    """A FileRef over a file on disk, reading at most ``size`` bytes (the size seen at
    discovery), so a file that grows meanwhile is read as the snapshot that was stat'ed."""

    relpath: str
    size: int
    path: Path

    def open(self) -> IO[bytes]:
        return BoundedReader(open(self.path, "rb"), self.size)


class BoundedReader:
    """Read-only wrapper that stops after ``limit`` bytes."""

    def __init__(self, raw: IO[bytes], limit: int):
        self._raw = raw
        self._left = limit

    def read(self, n: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        if n is None or n < 0 or n > self._left:
            n = self._left
        data = self._raw.read(n)
        self._left -= len(data)
        return data

    def readline(self, limit: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        if limit is None or limit < 0 or limit > self._left:
            limit = self._left
        data = self._raw.readline(limit)
        self._left -= len(data)
        return data

    def __iter__(self):
        while True:
            line = self.readline()
            if not line:
                return
            yield line

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._raw.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class HashingReader:
    """Read-through wrapper hashing and counting every byte read."""

    def __init__(self, raw: IO[bytes], on_chunk: Callable[[int], None] | None = None):
        self.raw = raw
        self.sha = hashlib.sha256()
        self.size = 0
        self.on_chunk = on_chunk

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.sha.update(data)
        self.size += len(data)
        if self.on_chunk and data:
            self.on_chunk(len(data))
        return data

    def readinto(self, b) -> int:  # zstandard prefers readinto when present
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def drain(self) -> None:
        while self.read(1024 * 1024):
            pass

    def hexdigest(self) -> str:
        return self.sha.hexdigest()


class HashingDiskFile:
    """A FileRef over a file on disk that hashes whatever the parser reads in order, so the
    parse pass doubles as the hash pass. Reads stop at the size seen at discovery."""

    def __init__(self, relpath: str, size: int, path: Path, opener: Callable[[], IO[bytes]] | None = None):
        self.relpath, self.size, self.path = relpath, size, path
        self.opener = opener  # a UnitFile.reader: the bytes come from there, not from ``path``
        self.sha256: str | None = None

    def open(self) -> IO[bytes]:
        ref = self

        class _Reader(HashingReader):
            def close(self_inner) -> None:
                if ref.sha256 is None:
                    try:
                        self_inner.drain()
                        if self_inner.size == ref.size:
                            ref.sha256 = self_inner.hexdigest()
                    except OSError:
                        pass
                self_inner.raw.close()

            def readline(self_inner, limit: int = -1) -> bytes:
                data = self_inner.raw.readline(limit)
                self_inner.sha.update(data)
                self_inner.size += len(data)
                return data

            def __iter__(self_inner):
                while line := self_inner.readline():
                    yield line

            def __enter__(self_inner):
                return self_inner

            def __exit__(self_inner, *exc) -> None:
                self_inner.close()

        raw = self.opener() if self.opener is not None else open(self.path, "rb")
        return _Reader(BoundedReader(raw, self.size))

    def ensure_hash(self) -> str:
        if self.sha256 is None:
            with self.open():
                pass
        if self.sha256 is None:
            from .errors import DataError

            raise DataError(f"{self.path} shrank while it was being read; it will be retried.")
        return self.sha256
