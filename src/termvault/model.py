"""Records shared by sources, the archive writer, the index and the facade."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import IO, Any, Protocol

from .streams import BoundedReader, Reader


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

    def open(self) -> Reader:
        """The file's bytes as discovered: at most ``size`` of them (a FileRef)."""
        raw = self.reader() if self.reader is not None else open(self.origin, "rb")  # noqa: SIM115
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

    # Read-only: a frozen record (UnitFile) or a view (a renamed ref) is a FileRef too.
    @property
    def relpath(self) -> str: ...

    @property
    def size(self) -> int: ...

    def open(self) -> Reader: ...


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
    # True when the parser saw only terminal output, no conversation turns: the sweep then
    # searches ``text`` and does not read the files again for their messages.
    plain_output: bool = False

    def metadata(self) -> dict[str, Any]:
        """The JSON-serialisable metadata, without the (large) text."""
        out: dict[str, Any] = {
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
class ArchiveEntry:
    """One archived session version. The first nine fields are the seed's, same names and
    meaning (``archive_path`` relative to ``archive/``, sizes in bytes, times UNIX seconds)."""

    session_id: str
    name: str
    archived_at: float
    original_timestamp: float
    archive_path: str
    size_bytes: int
    original_size_bytes: int
    working_directory: str
    last_command: str | None = None
    version: int = 1
    source: str = "native"
    mode: str = "move"
    created_at: float | None = None
    last_activity_at: float | None = None
    archive_sha256: str | None = None
    content_sha256: str | None = None
    file_count: int = 1
    pinned: bool = False
    status: str = "archived"
    fingerprint: str | None = None
    source_removed: bool = False
    meta: dict[str, Any] = field(default_factory=dict)
    row_id: int | None = None

    def __post_init__(self) -> None:
        if self.last_activity_at is None:
            self.last_activity_at = self.original_timestamp

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ArchiveEntry:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @property
    def space_saved_bytes(self) -> int:
        return self.original_size_bytes - self.size_bytes
