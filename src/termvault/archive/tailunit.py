"""Format 4, the *tail unit*: a version that only appended to its base, stored as a
compact header and the appended tails, with none of a ``.tar.zst``'s fixed cost.

A delta unit written as a tar (formats 2 and 3) costs about 1 KB beyond its tails: tar
headers, a manifest that repeats its keys and the metadata list it inherits, and a zstd
frame around it all. A transcript swept 200 times while it grows paid that 200 times
(2.65x the bytes of its final version alone). A tail unit pays about a quarter of it
(260 bytes, 1.44x at 200 steps: BENCHMARKS.md "Delta versions"):

- a zstd *skippable frame* (magic ``0x184D2A5B``, 4-byte little-endian length) holding
  the header: a codec byte (1), then compact JSON with short keys as one zstd frame
  (content size and checksum on) compressed with ``dictionaries/tail-header-v1.raw`` (a
  typical header) as its raw-content dictionary, so the keys and usual values cost a few
  bytes (``zstd -d -D tail-header-v1.raw`` reads it), then the files' sha256s as raw
  bytes, 32 each, three per file in the header's order: the whole file's, its base
  file's, its member's (hex in JSON cost a third more);
- then, for each file in the header's order, its member: the tail appended since the
  base, as the same ``zstd-window`` frame a format 2/3 delta file holds (compressed with
  the base file's last ``window`` bytes as a raw-content dictionary).

The header states what a tar manifest states except what follows from the rest: the
base's session is the unit's own; the base's content sha256 is computed from the files'
base hashes (a tail unit is written only when its files are exactly its base's, each
grown or unchanged: ``eligible``); a tail's own sha256 is not kept (the rebuilt file's
sha256 covers it; the member's sha256 still lets the unit be checked alone); metadata is
stored only where it differs from the base's, every other key of the base's metadata
being inherited (``i`` lists the base's keys this version no longer has). A version with
a new file, or whose base is not a whole set of the same files, is still written as a
format 3 delta tar. Readers dispatch on the first four bytes (``is_tail_unit``), so every
reader of units reads both, and formats 1-3 read exactly as before.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import zstandard

from ..errors import DataError, IntegrityError
from ..fsutil import FILE_MODE, validate_id, validate_relpath
from ..streams import HashingReader
from . import format as arc

TAIL_FORMAT = arc.TAIL_FORMAT
MAGIC = struct.pack("<I", 0x184D2A5B)  # a zstd skippable frame: decoders pass over it
# How the header is compressed: 1 is a zstd frame made with ``TEMPLATE`` (a typical
# header) as its raw-content dictionary. A new template would be a new codec byte.
HEADER_CODEC = b"\x01"
TEMPLATE = arc.DICTIONARY_DIR / "tail-header-v1.raw"
_TEMPLATE: list[zstandard.ZstdCompressionDict] = []
HEADER_LEVEL = 19  # a few hundred bytes: the level costs nothing
# The window a header leaves unstated: fixed by the format (``DELTA_WINDOW``, what the
# writer uses, may change; a unit written with another states its own).
STATED_WINDOW = 8 * 1024 * 1024
PREFIX = 8  # magic and length


def is_tail_unit(head: bytes) -> bool:
    """Whether a unit starting with ``head`` (its first bytes) is a tail unit."""
    return head[:4] == MAGIC


def sniff(path: Path) -> bool:
    """Whether the file at ``path`` is a tail unit (False if unreadable: the caller's
    own read then reports why)."""
    try:
        with open(path, "rb") as fh:
            return is_tail_unit(fh.read(4))
    except OSError:
        return False


def eligible(m: arc.Manifest) -> bool:
    """Whether ``m`` can be written as a tail unit: it names a base of its own session
    whose files are exactly its files, and every file is stored as its tail."""
    if m.base is None or not m.files or m.base.session_id != m.session_id:
        return False
    if any(f.delta is None for f in m.files):
        return False
    return arc.content_digest((f.path, f.delta.base_sha256) for f in m.files if f.delta) == m.base.content_sha256


# -- the header --------------------------------------------------------------------------
def encode(m: arc.Manifest) -> bytes:
    """The skippable frame holding ``m``'s header (``m`` must be ``eligible``)."""
    assert m.base is not None
    body: dict[str, Any] = {
        "f": TAIL_FORMAT, "s": m.session_id, "k": m.source, "v": m.version, "m": m.mode, "r": m.root,
        "a": m.archived_at, "b": [m.base.version, m.base.depth],
        "meta": {k: v for k, v in m.meta.items() if k not in m.inherited},
        "files": [_file_row(f, m.root) for f in m.files],
    }  # fmt: skip
    if m.shared:
        body["i"] = m.dropped
    if m.extra:
        body["x"] = m.extra
    try:
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:  # a name that is not UTF-8 (see Manifest.to_json)
        text = json.dumps(body, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    params = zstandard.ZstdCompressionParameters.from_level(
        HEADER_LEVEL, write_checksum=True, write_content_size=True, source_size=len(text)
    )
    frame = zstandard.ZstdCompressor(compression_params=params, dict_data=_template()).compress(text)
    hashes = b"".join(
        bytes.fromhex(h) for f in m.files if f.delta for h in (f.sha256, f.delta.base_sha256, f.delta.member_sha256)
    )
    payload = HEADER_CODEC + frame + hashes
    return MAGIC + struct.pack("<I", len(payload)) + payload


def _file_row(f: arc.ManifestFile, root: str) -> dict[str, Any]:
    d = f.delta
    assert d is not None
    row: dict[str, Any] = {"p": f.path, "n": f.size, "t": f.mtime_ns, "bn": d.base_size, "zn": d.member_size}
    if d.window != min(d.base_size, STATED_WINDOW):
        row["w"] = d.window
    if f.mode != FILE_MODE:
        row["mo"] = f.mode
    if f.origin != arc.joined(root, f.path):
        row["o"] = f.origin
    return row


def decode(payload: bytes, where: str) -> arc.Manifest:
    """The manifest a header (the skippable frame's content) holds; DataError naming
    ``where`` if it is not one."""
    if payload[:1] != HEADER_CODEC:
        raise DataError(f"The header of {where} is in a form this termvault cannot read; upgrade termvault.")
    frame = payload[1:]
    try:
        size = zstandard.frame_content_size(frame)
        if not 0 <= size <= arc.MAX_MANIFEST_BYTES:
            raise DataError(f"The header of {where} is implausibly large.")
        dobj = zstandard.ZstdDecompressor(dict_data=_template()).decompressobj()
        text = dobj.decompress(frame)
        if not dobj.eof:
            raise DataError(f"The header of {where} is truncated.")
        hashes = dobj.unused_data
    except zstandard.ZstdError as exc:
        raise DataError(f"The header of {where} is corrupt ({exc}).") from exc
    try:
        body = json.loads(text)
        if not isinstance(body, dict):
            raise ValueError("not an object")
        fmt = int(body["f"])
        if fmt > arc.FORMAT_VERSION:
            raise DataError(f"{where} was written by a newer termvault (format {fmt}); upgrade termvault to read it.")
        if fmt != TAIL_FORMAT:
            raise ValueError(f"format {fmt} in a tail unit")
        if len(hashes) != 3 * 32 * len(body["files"]):
            raise ValueError("the file hashes do not match the files")
        shas = [hashes[i : i + 32].hex() for i in range(0, len(hashes), 32)]
        sid, root = validate_id(body["s"]), str(body["r"])
        files, seen = [], set()
        for k, row in enumerate(body["files"]):
            path, base_size = validate_relpath(str(row["p"])), int(row["bn"])
            window = int(row.get("w", min(base_size, STATED_WINDOW)))
            delta = arc.FileDelta(base_size, shas[3 * k + 1], "", window, int(row["zn"]), shas[3 * k + 2])
            f = arc.ManifestFile(
                path, str(row["o"]) if "o" in row else arc.joined(root, path), int(row["n"]), int(row["t"]),
                shas[3 * k], int(row.get("mo", FILE_MODE)) & 0o777, arc.checked_delta(delta, int(row["n"])),
            )  # fmt: skip
            if path in seen:
                raise ValueError(f"duplicate entry {path!r}")
            seen.add(path)
            files.append(f)
        if not files:
            raise ValueError("no files")
        base_version, depth = (int(x) for x in body["b"])
        if depth < 1:
            raise ValueError("a base depth below 1")
        base = arc.content_digest((f.path, f.delta.base_sha256) for f in files if f.delta)
        m = arc.Manifest(
            session_id=sid, source=str(body["k"]), version=int(body["v"]), mode=str(body["m"]), root=root,
            archived_at=float(body["a"]), meta=dict(body["meta"]), files=files, format=TAIL_FORMAT,
            extra=dict(body.get("x") or {}), base=arc.BaseRef(sid, base_version, base, depth),
        )  # fmt: skip
        if "i" in body:
            m.shared, m.dropped = True, [str(k) for k in body["i"]]
    except DataError:
        raise
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise DataError(f"The header of {where} is malformed ({exc}).") from exc
    return m


def _template() -> zstandard.ZstdCompressionDict:
    if not _TEMPLATE:
        _TEMPLATE.append(zstandard.ZstdCompressionDict(TEMPLATE.read_bytes(), dict_type=zstandard.DICT_TYPE_RAWCONTENT))
    return _TEMPLATE[0]


def _frame_length(prefix: bytes, where: str) -> int:
    if not is_tail_unit(prefix):
        raise DataError(f"{where} does not start as a tail unit does; it is not a termvault archive.")
    if len(prefix) < PREFIX:
        raise DataError(f"The archive {where} is truncated before its header.")
    (n,) = struct.unpack("<I", prefix[4:PREFIX])
    if n > arc.MAX_MANIFEST_BYTES:
        raise DataError(f"The header of {where} is implausibly large ({n} bytes).")
    return int(n)


def header_from_prefix(data: bytes, where: str, complete: bool) -> arc.Manifest | None:
    """The manifest from the first bytes of a tail unit; None if ``data`` ends before
    the header does (unless ``complete``: then the unit is truncated)."""
    try:
        n = _frame_length(data[:PREFIX], where)
    except DataError:
        if complete or len(data) >= PREFIX:
            raise
        return None
    if len(data) < PREFIX + n:
        if complete:
            raise DataError(f"The archive {where} is truncated in its header.")
        return None
    return decode(data[PREFIX : PREFIX + n], where)


# -- reading and writing -----------------------------------------------------------------
def read_header(path: Path) -> arc.Manifest:
    """Only the header: a few hundred bytes read."""
    with _open(path) as fh:
        try:
            return _header(fh, str(path))
        except OSError as exc:
            raise DataError(f"The archive {path} cannot be read ({exc}).") from exc


def _open(path: Path) -> IO[bytes]:
    try:
        return open(path, "rb")  # the caller closes it
    except FileNotFoundError as exc:
        raise DataError(f"The archive {path} is missing.") from exc


def _header(fh: Any, where: str) -> arc.Manifest:
    """The header read from ``fh`` (at the unit's start), leaving it at the first member."""
    n = _frame_length(fh.read(PREFIX), where)
    frame = fh.read(n)
    if len(frame) != n:
        raise DataError(f"The archive {where} is truncated in its header.")
    return decode(frame, where)


class _Member:
    """The next ``left`` bytes of ``raw`` (one file's member), hashed as they are read."""

    def __init__(self, raw: HashingReader, left: int):
        self.raw, self.left = raw, left
        self.sha, self.size = hashlib.sha256(), 0

    def read(self, n: int = -1) -> bytes:
        want = self.left if n is None or n < 0 else min(n, self.left)
        data = self.raw.read(want) if want else b""
        self.left -= len(data)
        self.size += len(data)
        self.sha.update(data)
        return data

    def drain(self) -> None:
        while self.read(arc.CHUNK):
            pass


def read(
    path: Path,
    on_file: Callable[[arc.ManifestFile, IO[bytes]], None] | None = None,
    max_expand: int | None = None,
    only: set[str] | None = None,
) -> arc.ReadResult:
    """Stream through a tail unit as ``format.read_archive`` does a tar: each member is
    handed to ``on_file`` and checked against its size and sha256; a short, altered or
    overlong unit raises DataError/IntegrityError naming ``path``."""
    where = str(path)
    with _open(path) as fh:
        outer = HashingReader(fh)
        try:
            m = _header(outer, where)
            arc.check_expansion(m, max_expand, where)
            for f in m.files:
                stream = _Member(outer, f.stored_size)
                if on_file is not None and (only is None or f.path in only):
                    on_file(f, stream)  # type: ignore[arg-type]  # read() is all a member offers
                stream.drain()
                if stream.size != f.stored_size:
                    raise DataError(f"The archive {where} is truncated in the member {f.path!r}.")
                if stream.sha.hexdigest() != f.stored_sha256:
                    raise IntegrityError(f"{where}: {f.path} does not match its recorded sha256.")
            if outer.read(1):
                raise IntegrityError(f"{where} holds bytes past the members its header lists.")
        except OSError as exc:
            raise DataError(f"The archive {where} is corrupt or truncated ({exc}).") from exc
    return arc.ReadResult(m, outer.hexdigest(), outer.size)


def write(
    target: Path,
    manifest: arc.Manifest,
    files: list[arc.SourceFile],
    on_bytes: Callable[[int], None] | None = None,
    fault: Callable[[str], None] | None = None,
    staged: bool = False,
) -> arc.WriteResult:
    """Write ``manifest`` (``eligible``) and its files' members to ``target`` atomically
    and durably, as ``format.write_archive`` does (same steps, same checks, ``staged``
    too)."""
    hook = fault or (lambda step: None)
    manifest.format = TAIL_FORMAT
    header = encode(manifest)
    with arc.open_sink(target, staged, hook) as (sink, tmp):
        sink.write(header)
        for sf in files:
            hook("write-member")
            e = sf.entry
            with sf.opener() as fh:
                reader = HashingReader(fh, on_bytes)
                while chunk := reader.read(arc.CHUNK):
                    sink.write(chunk)
                if reader.size != e.stored_size or reader.hexdigest() != e.stored_sha256:
                    raise arc.changed_while_read(e)
    return arc.WriteResult(target, sink.size, sink.sha.hexdigest(), tmp)
