"""The manifest of an archive unit (``termvault.json``): what it holds and how each
format version writes it (see ``format``'s docstring for the formats themselves)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import DataError, IntegrityError
from ..fsutil import FILE_MODE, validate_id, validate_relpath
from ..model import ArchiveEntry, fingerprint_of

FORMAT_VERSION = 4  # the newest format this code reads and writes
FULL_FORMAT = 1  # a unit holding every file whole (what every older termvault wrote)
DELTA_FORMAT = 2  # a unit naming a base, some files stored as appended tails
LEAN_FORMAT = 3  # compact manifest: default metadata left out, origin implied by root
TAIL_FORMAT = 4  # a tail unit: compact header and appended tails, no tar (``tailunit``)
# Metadata values format 3 leaves out when they hold these defaults (read back in).
META_DEFAULTS: dict[str, Any] = {
    "first_prompt": None, "last_command": None, "created_at": None, "git_branch": None, "model": None,
    "message_count": 0, "tool_call_count": 0, "parse_warnings": 0,
}  # fmt: skip
BASE_META = "delta_base"
# Keys the index adds to a row's metadata that are not the session's own.
ROW_ONLY_META = (BASE_META, "origin_version", "host")
DELTA_CODEC = "zstd-window"  # how a delta file's tail is stored (see the module docstring)
DELTA_WINDOW = 8 * 1024 * 1024  # how much of the base the writer uses as the dictionary
MAX_DELTA_WINDOW = DELTA_WINDOW  # the most a reader accepts (memory stays bounded)


@dataclass
class ManifestFile:
    path: str  # member name = path relative to the source root
    origin: str  # absolute path the file was archived from
    size: int
    mtime_ns: int
    sha256: str
    mode: int = FILE_MODE
    # Set for a file stored as the tail appended to the base version's file.
    delta: FileDelta | None = None

    @property
    def stored_size(self) -> int:
        """The size of the tar member: the whole file, or the stored tail."""
        return self.delta.member_size if self.delta else self.size

    @property
    def stored_sha256(self) -> str:
        return self.delta.member_sha256 if self.delta else self.sha256

    def to_dict(self, root: str | None = None) -> dict[str, Any]:
        """As stored; with ``root``, ``origin`` is left out when it is ``root/path``."""
        out: dict[str, Any] = {
            "path": self.path,
            "origin": self.origin,
            "size": self.size,
            "mtime_ns": self.mtime_ns,
            "sha256": self.sha256,
            "mode": self.mode,
        }
        if root is not None and self.origin == joined(root, self.path):
            del out["origin"]
        if self.delta:
            out["delta"] = self.delta.to_dict()
        return out


@dataclass(frozen=True)
class FileDelta:
    """The file is the base version's file (``base_size`` bytes, ``base_sha256``)
    followed by a tail (``tail_sha256``), stored as the member (``member_size`` bytes,
    ``member_sha256``): a zstd frame made with the base file's last ``window`` bytes as
    its dictionary."""

    base_size: int
    base_sha256: str
    tail_sha256: str
    window: int
    member_size: int
    member_sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "base_size": self.base_size,
            "base_sha256": self.base_sha256,
            "tail_sha256": self.tail_sha256,
            "codec": DELTA_CODEC,
            "window": self.window,
            "member_size": self.member_size,
            "member_sha256": self.member_sha256,
        }


@dataclass(frozen=True)
class BaseRef:
    """The version a delta unit builds on: any archived version of ``session_id`` with
    ``content_sha256`` holds the same files (``version`` is the one it was written
    against); ``depth`` counts the delta links down to a unit with no base."""

    session_id: str
    version: int
    content_sha256: str
    depth: int = 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Manifest:
    session_id: str
    source: str
    version: int
    mode: str
    root: str
    archived_at: float
    meta: dict[str, Any]
    files: list[ManifestFile]
    format: int = LEAN_FORMAT
    extra: dict[str, Any] = field(default_factory=dict)
    base: BaseRef | None = None
    # Metadata keys a delta unit does not repeat: their values are its base's (in
    # memory ``meta`` is whole once ``inherit_meta`` has filled them in).
    inherited: list[str] = field(default_factory=list)
    # Set by ``share_meta``: the base's metadata keys this version no longer has. A tail
    # unit stores only these and what changed; every other base key is inherited.
    shared: bool = False
    dropped: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.base is not None:
            self.format = max(self.format, DELTA_FORMAT)
        # Milliseconds are plenty for when a version was archived, and fewer digits to store.
        self.archived_at = round(float(self.archived_at), 3)

    def share_meta(self, base_meta: dict[str, Any]) -> None:
        """Store only the metadata that differs from the base's (a session's name, first
        prompt and so on would otherwise be repeated by every version)."""
        self.inherited = sorted(k for k, v in self.meta.items() if k in base_meta and base_meta[k] == v)
        self.shared, self.dropped = True, sorted(k for k in base_meta if k not in self.meta)

    @property
    def inherits(self) -> bool:
        """Whether some of its metadata is its base's (to fill in with ``inherit_meta``)."""
        return bool(self.inherited) or (self.format >= TAIL_FORMAT and self.shared)

    def inherit_meta(self, base_meta: dict[str, Any]) -> None:
        """Fill in the inherited keys from the base's whole metadata (a row's metadata
        may be given: its index-only keys are never taken)."""
        if self.format >= TAIL_FORMAT and self.shared and not self.inherited:
            self.inherited = sorted(
                k for k in base_meta if k not in self.meta and k not in self.dropped and k not in ROW_ONLY_META
            )
        for k in self.inherited:
            if k in base_meta and k not in self.meta:
                self.meta[k] = base_meta[k]

    @property
    def content_sha256(self) -> str:
        return content_digest((f.path, f.sha256) for f in self.files)

    @property
    def original_size(self) -> int:
        return sum(f.size for f in self.files)

    def to_json(self) -> bytes:
        lean = self.format >= 2  # a manifest read from an older unit is written as it was
        body = {
            "format": self.format,
            "session_id": self.session_id,
            "source": self.source,
            "version": self.version,
            "mode": self.mode,
            "root": self.root,
            "archived_at": self.archived_at,
            "meta": {
                k: v for k, v in self.meta.items() if k not in self.inherited and not (lean and _is_default(k, v))
            },
            "files": [f.to_dict(self.root if lean else None) for f in self.files],
        }
        if self.inherited:
            body["meta_inherited"] = self.inherited
        if self.extra:
            body["extra"] = self.extra
        if self.base is not None:
            body["base"] = self.base.to_dict()
        compact: dict[str, Any] = (
            {"sort_keys": True, "separators": (",", ":")} if lean else {"indent": 1, "sort_keys": True}
        )
        try:
            return json.dumps(body, ensure_ascii=False, **compact).encode("utf-8")
        except UnicodeEncodeError:
            # A file name that is not UTF-8 (a lone surrogate in Python): JSON escapes keep
            # it, and it reads back as the same name.
            return json.dumps(body, ensure_ascii=True, **compact).encode("ascii")

    @classmethod
    def from_json(cls, data: bytes, where: str) -> Manifest:
        """Parse and validate a manifest; every stored id and path is checked."""
        try:
            body = json.loads(data)
            if not isinstance(body, dict):
                raise ValueError("not an object")
            fmt = int(body.get("format", 0))
            if fmt > FORMAT_VERSION:
                raise DataError(
                    f"{where} was written by a newer termvault (format {fmt}); upgrade termvault to read it."
                )
            files = []
            seen = set()
            root = str(body.get("root", ""))
            for f in body["files"]:
                path = validate_relpath(str(f["path"]))
                mf = ManifestFile(
                    path=path,
                    origin=str(f["origin"]) if "origin" in f or fmt < 2 else joined(root, path),
                    size=int(f["size"]),
                    mtime_ns=int(f["mtime_ns"]),
                    sha256=str(f["sha256"]),
                    mode=int(f.get("mode", FILE_MODE)) & 0o777,
                    delta=_file_delta(f.get("delta")),
                )
                if mf.delta is not None:
                    checked_delta(mf.delta, mf.size)
                if mf.path in seen or mf.size < 0:
                    raise ValueError(f"duplicate or negative entry {mf.path!r}")
                seen.add(mf.path)
                files.append(mf)
            manifest = cls(
                session_id=validate_id(body["session_id"]),
                source=str(body["source"]),
                version=int(body["version"]),
                mode=str(body.get("mode", "copy")),
                root=str(body.get("root", "")),
                archived_at=float(body["archived_at"]),
                meta=_read_meta(body, fmt),
                files=files,
                format=fmt,
                extra=dict(body.get("extra") or {}),
                base=_base_ref(body.get("base")),
                inherited=[str(k) for k in body.get("meta_inherited") or []],
            )
            if manifest.inherited and manifest.base is None:
                raise ValueError("metadata inherited but no base named")
            if manifest.base is None and any(f.delta for f in files):
                raise ValueError("a file is stored as a delta but the unit names no base")
            if manifest.base is not None and manifest.base.session_id != manifest.session_id:
                raise ValueError("the base belongs to another session")
        except DataError:
            raise
        except (ValueError, KeyError, TypeError, RecursionError) as exc:
            raise DataError(f"The manifest of {where} is malformed ({exc}).") from exc
        stated = body.get("content_sha256")
        if stated and stated != manifest.content_sha256:
            raise IntegrityError(f"The manifest of {where} contradicts its own file hashes.")
        return manifest


def _file_delta(raw: Any) -> FileDelta | None:
    if raw is None:
        return None
    if raw.get("codec") != DELTA_CODEC:
        raise DataError(f"a file is stored with {raw.get('codec')!r}, which this termvault cannot read; upgrade it.")
    return FileDelta(
        int(raw["base_size"]), hex_sha(raw["base_sha256"]), hex_sha(raw["tail_sha256"]),
        int(raw["window"]), int(raw["member_size"]), hex_sha(raw["member_sha256"]),
    )  # fmt: skip


def checked_delta(d: FileDelta, size: int) -> FileDelta:
    """``d`` if it can describe a file of ``size`` bytes (ValueError otherwise)."""
    if not (0 <= d.window <= min(d.base_size, MAX_DELTA_WINDOW)) or not 0 <= d.base_size <= size or d.member_size < 0:
        raise ValueError("a delta with an impossible window or size")
    return d


def _base_ref(raw: Any) -> BaseRef | None:
    if raw is None:
        return None
    depth = int(raw.get("depth", 1))
    if depth < 1:
        raise ValueError("a base depth below 1")
    return BaseRef(validate_id(raw["session_id"]), int(raw["version"]), hex_sha(raw["content_sha256"]), depth)


def hex_sha(value: Any) -> str:
    text = str(value)
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise ValueError(f"{text[:80]!r} is not a sha256")
    return text


def entry_from_manifest(m: Manifest, rel: str, size: int, sha: str | None) -> ArchiveEntry:
    """The index entry describing the archive at ``rel`` (``size`` bytes, ``sha``) that
    holds ``m``: the one translation from a manifest to the index's record."""
    meta = dict(m.meta)
    if m.base is not None:
        # Which version this one is rebuilt from (the chain lives in the units; the
        # index keeps it so prune, pins and the remote tier can keep chains whole).
        meta[BASE_META] = {"version": m.base.version, "content_sha256": m.base.content_sha256, "depth": m.base.depth}
    last_activity = float(meta.get("last_activity_at") or m.archived_at)
    return ArchiveEntry(
        session_id=m.session_id,
        name=str(meta.get("name") or m.session_id),
        archived_at=m.archived_at,
        original_timestamp=last_activity,
        archive_path=rel,
        size_bytes=size,
        original_size_bytes=m.original_size,
        working_directory=str(meta.get("working_directory") or ""),
        last_command=meta.get("last_command"),
        version=m.version,
        source=m.source,
        mode=m.mode,
        created_at=meta.get("created_at"),
        last_activity_at=last_activity,
        archive_sha256=sha,
        content_sha256=m.content_sha256,
        file_count=len(m.files),
        fingerprint=fingerprint_of((f.path, f.size, f.mtime_ns) for f in m.files),
        meta=meta,
    )


def _read_meta(body: dict[str, Any], fmt: int) -> dict[str, Any]:
    """The stored metadata, with the defaults a lean manifest left out filled back in
    (not for keys a delta unit inherits from its base: those come from there)."""
    meta = dict(body.get("meta") or {})
    if fmt >= LEAN_FORMAT and isinstance(body.get("meta"), dict):
        inherited = set(body.get("meta_inherited") or [])
        meta = {**{k: v for k, v in META_DEFAULTS.items() if k not in inherited}, **meta}
    return meta


def _is_default(key: str, value: Any) -> bool:
    if key not in META_DEFAULTS:
        return False
    default = META_DEFAULTS[key]
    return value is None if default is None else (type(value) is type(default) and value == default)


def joined(root: str, relpath: str) -> str:
    return root.rstrip("/") + "/" + relpath if root else relpath


def content_digest(pairs) -> str:
    """sha256 over (relative path, file sha256) pairs: the identity of a session's content."""
    h = hashlib.sha256()
    for path, sha in sorted(pairs):
        h.update(f"{path}\0{sha}\n".encode("utf-8", "surrogateescape"))  # names need not be UTF-8
    return h.hexdigest()
