"""The archive unit: one ``.tar.zst`` per archived session version.

Layout: a standard zstd frame (content checksum on) holding a POSIX tar whose first member
is ``termvault.json`` (the manifest: format version, session metadata, and for every file
its relative path, original location, size, mtime and sha256), followed by the files under
their relative paths. ``tar --zstd -tf`` lists it. Both directions stream: memory stays
bounded whatever the session size.

Format 2 adds *delta units*: the manifest names a ``base`` (session, version, content
sha256 and depth in its chain) and a file that only grew since the base carries
``delta``: the base file's size and sha256, the appended tail's sha256, and how the tail
is stored. Its member holds only the tail, as one zstd frame compressed with the last
``window`` bytes of the base file as a raw-content dictionary (``zstd -D`` decodes it
given those bytes): an agent transcript repeats itself across the whole file (tool
output echoed, files re-read), so a tail compressed alone would cost three times what
it costs next to what came before. ``size`` and ``sha256`` stay those of the whole file.
Units without a base are still written as format 1, so they read everywhere they did.
Rebuilding a version from its chain is ``chains``'s business.

Format 4 (``tailunit``): a delta whose files are exactly its base's, each grown, is not a
tar but a compact header and the tails (about 260 bytes beyond them instead of 1 KB).
``write_archive`` writes one whenever it can; ``read_archive`` and ``read_manifest``
tell it by its first four bytes and hand it over, so callers never branch on it.

Small units (at most ``SMALL_UNIT`` bytes of files) are compressed at level 17 with a
zstd dictionary that ships with the package (``termvault/dictionaries/app-v2.zdict``);
the frame header names it by its dictionary id, so a reader knows which one to load and
``zstd -d -D <that file>`` reads it outside termvault. Every dictionary ever shipped stays
in that folder (``app-v1.zdict``, id 0x9A01, wrote format 3 units before app-v2), so
units written with an older one keep reading. Without it a few-KB session paid
more for the tar headers, the manifest's keys and zstd's tables than it gained. Units
written without a dictionary (all large ones, all older ones) read as before.

Format 3 (every unit written since the dictionary, deltas included): compact JSON; metadata equal to its
default (``META_DEFAULTS``) left out and filled back in on reading; a file's ``origin``
left out when it is ``root/path``; no ``content_sha256`` (it is computed from the file
hashes; a stated one, in older units, is still checked). Tar member mtimes are whole
seconds (exact ones are in the manifest) and the manifest member carries the newest
file's time. Format 1 manifests read and re-serialise exactly as before.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import stat
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import IO, BinaryIO

import zstandard

from ..errors import DataError, IntegrityError, SourceChangedError
from ..fsutil import FILE_MODE, TMP_PREFIX, atomic_writer, staged_writer
from ..streams import HashingReader, Reader
from .manifest import (  # noqa: F401 (re-exported: callers read them as format.<name>)
    BASE_META,
    DELTA_CODEC,
    DELTA_FORMAT,
    DELTA_WINDOW,
    FORMAT_VERSION,
    FULL_FORMAT,
    LEAN_FORMAT,
    MAX_DELTA_WINDOW,
    META_DEFAULTS,
    ROW_ONLY_META,
    TAIL_FORMAT,
    BaseRef,
    FileDelta,
    Manifest,
    ManifestFile,
    checked_delta,
    content_digest,
    entry_from_manifest,
    hex_sha,
    joined,
)

SMALL_UNIT = 64 * 1024  # units up to this size use the shipped dictionary
SMALL_LEVEL = 17  # as small as 22 within 0.1% (real corpus, bench.small_native) at half the time
DICTIONARY_DIR = Path(__file__).resolve().parent.parent / "dictionaries"
DEFAULT_DICTIONARY = "app-v2.zdict"
_DICTIONARIES: dict[int, zstandard.ZstdCompressionDict] = {}
_PRECOMPUTED: dict[tuple[int, str], zstandard.ZstdCompressionDict] = {}  # (level, dictionary file): ready
MANIFEST_NAME = "termvault.json"
MAX_MANIFEST_BYTES = 64 * 1024 * 1024
CHUNK = 1024 * 1024
# What a tar stream may hold beyond its members' data: each member's headers (pax records
# of a long name), and the end blocks, record padding and read-ahead of the whole stream.
MEMBER_OVERHEAD = 64 * 1024
STREAM_OVERHEAD = 4 * CHUNK


def default_dictionary() -> zstandard.ZstdCompressionDict | None:
    """The dictionary new small units are written with (None if the package lacks it)."""
    path = DICTIONARY_DIR / DEFAULT_DICTIONARY
    try:
        d = zstandard.ZstdCompressionDict(path.read_bytes())
    except OSError:
        return None
    _DICTIONARIES.setdefault(d.dict_id(), d)
    return _DICTIONARIES[d.dict_id()]


def dictionary(dict_id: int, where: str) -> zstandard.ZstdCompressionDict:
    """The shipped dictionary with this id; DataError naming ``where`` if none has it."""
    if dict_id not in _DICTIONARIES:
        default_dictionary()
        for path in sorted(DICTIONARY_DIR.glob("*.zdict")):
            try:
                d = zstandard.ZstdCompressionDict(path.read_bytes())
            except OSError:
                continue
            _DICTIONARIES.setdefault(d.dict_id(), d)
    try:
        return _DICTIONARIES[dict_id]
    except KeyError:
        raise DataError(
            f"{where} was compressed with zstd dictionary {dict_id}, which this termvault does not "
            "ship; upgrade termvault to read it."
        ) from None


_COMPRESSORS = threading.local()  # per thread (a zstd context is not shareable): by kind


def unit_compressor(original_size: int, level: int) -> zstandard.ZstdCompressor:
    """The compressor of a unit holding ``original_size`` bytes of files: a small one
    with the shipped dictionary at ``SMALL_LEVEL``, loaded once per process (loading it
    into each unit's compressor cost more than compressing a few-KB session). Each
    thread keeps its compressors: a frame starts afresh in a reused one (same bytes)."""
    small = original_size <= SMALL_UNIT
    level = max(level, SMALL_LEVEL) if small else level
    key = (small, level, DEFAULT_DICTIONARY if small else "")
    kept: dict[tuple[bool, int, str], zstandard.ZstdCompressor] | None = getattr(_COMPRESSORS, "kept", None)
    if kept is None:
        kept = _COMPRESSORS.kept = {}
    cctx = kept.get(key)
    if cctx is None:
        cctx = kept[key] = _new_compressor(small, level)
    return cctx


def _new_compressor(small: bool, level: int) -> zstandard.ZstdCompressor:
    params = zstandard.ZstdCompressionParameters.from_level(
        level, write_checksum=True, threads=0, write_dict_id=True,
        # For a small unit the size hint keeps the level's tables (and memory) small.
        source_size=2 * SMALL_UNIT if small else 0,
    )  # fmt: skip
    if not small:
        return zstandard.ZstdCompressor(compression_params=params)
    zdict = _PRECOMPUTED.get((level, DEFAULT_DICTIONARY))
    if zdict is None:
        shipped = default_dictionary()
        if shipped is not None:
            zdict = zstandard.ZstdCompressionDict(shipped.as_bytes())
            zdict.precompute_compress(compression_params=params)
            _PRECOMPUTED[(level, DEFAULT_DICTIONARY)] = zdict
    return zstandard.ZstdCompressor(compression_params=params, dict_data=zdict)


def decompressor(fh: BinaryIO, where: str) -> zstandard.ZstdDecompressor:
    """A decompressor for the archive open in ``fh`` (at its start; left there): with the
    dictionary its frame header names, if any."""
    head = fh.read(18)
    fh.seek(0)
    return decompressor_for(head, where)


def decompressor_for(head: bytes, where: str) -> zstandard.ZstdDecompressor:
    """Like ``decompressor``, from the first bytes of the archive."""
    dict_id = 0
    try:
        dict_id = zstandard.get_frame_parameters(head).dict_id
    except zstandard.ZstdError:
        pass  # not a zstd frame: decompressing reports it
    if dict_id:
        return zstandard.ZstdDecompressor(dict_data=dictionary(dict_id, where), max_window_size=1 << 27)
    return zstandard.ZstdDecompressor(max_window_size=1 << 27)


def _window_dict(window: bytes) -> zstandard.ZstdCompressionDict | None:
    return zstandard.ZstdCompressionDict(window, dict_type=zstandard.DICT_TYPE_RAWCONTENT) if window else None


def tail_compressor(window: bytes, level: int) -> zstandard.ZstdCompressor:
    """The compressor of a delta file's tail: ``window`` (the base file's last bytes) is
    its dictionary, so the tail costs what is new in it, not what it repeats."""
    params = zstandard.ZstdCompressionParameters.from_level(level, write_checksum=True, threads=0)
    return zstandard.ZstdCompressor(compression_params=params, dict_data=_window_dict(window))


class TailReader:
    """The tail of a delta file, decompressed from its member with ``window`` (the base
    file's last bytes), refusing to yield more than ``limit`` bytes."""

    def __init__(self, window: bytes, member: IO[bytes], limit: int, where: str):
        dctx = zstandard.ZstdDecompressor(dict_data=_window_dict(window), max_window_size=1 << 27)
        self._zr = dctx.stream_reader(member, read_across_frames=False, closefd=False)
        self._left, self._where = limit, where

    def read(self, n: int = CHUNK) -> bytes:
        try:
            data = self._zr.read(n if n is not None and n >= 0 else CHUNK)
        except zstandard.ZstdError as exc:
            raise IntegrityError(f"{self._where} cannot be decoded against its base ({exc}).") from exc
        self._left -= len(data)
        if self._left < 0:
            raise IntegrityError(f"{self._where} decodes to more bytes than its manifest says.")
        return data


class HashingWriter:
    """File-like sink that counts and hashes what passes through to ``raw``."""

    def __init__(self, raw: BinaryIO):
        self.raw = raw
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data) -> int:
        self.sha.update(data)
        self.size += len(data)
        return self.raw.write(data)

    def flush(self) -> None:
        self.raw.flush()


@contextlib.contextmanager
def open_sink(target: Path, staged: bool, hook: Callable[[str], None]) -> Iterator[tuple[HashingWriter, Path | None]]:
    """Where an archive writer puts its bytes, hashed on the way: an atomic writer of
    ``target``, or with ``staged`` a temporary file, named second, for the caller to
    ``fsutil.publish`` with its batch."""
    with contextlib.ExitStack() as stack:
        tmp: Path | None = None
        if staged:
            raw, tmp = stack.enter_context(staged_writer(target))
        else:
            raw = stack.enter_context(atomic_writer(target, fault=hook, new_file=True))
        yield HashingWriter(raw), tmp


@dataclass
class SourceFile:
    """A file to put in an archive: where to read it and what the manifest says of it."""

    entry: ManifestFile
    opener: Callable[[], Reader]


@dataclass
class WriteResult:
    path: Path
    archive_size: int
    archive_sha256: str
    # Written with ``staged``: the temporary file holding it, not yet durable nor at
    # ``path`` (``fsutil.publish`` makes it both).
    staged: Path | None = None


def write_archive(
    target: Path,
    manifest: Manifest,
    files: list[SourceFile],
    level: int = 3,
    on_bytes: Callable[[int], None] | None = None,
    fault: Callable[[str], None] | None = None,
    staged: bool = False,
) -> WriteResult:
    """Write ``manifest`` and ``files`` to ``target`` atomically and durably.

    The data goes to a temporary name in the target folder, is fsynced, renamed into place
    and the folder fsynced. Each file is re-hashed while it is written; a file whose bytes
    differ from ``entry.sha256`` (it changed since it was hashed) aborts the write with
    IntegrityError and leaves nothing behind. ``fault`` is a test hook called at each step.
    ``staged``: stop before the fsync; the result names the temporary file, for the caller
    to check and then ``fsutil.publish`` with the rest of its batch.
    """
    if manifest.base is not None and tailunit().eligible(manifest):
        return tailunit().write(target, manifest, files, on_bytes, fault, staged)  # a version that only grew
    hook = fault or (lambda step: None)
    with open_sink(target, staged, hook) as (sink, tmp):
        _write_stream(sink, manifest, files, level, on_bytes, hook)
    return WriteResult(target, sink.size, sink.sha.hexdigest(), tmp)


@dataclass
class Packed:
    """A unit's whole archive, made in memory (by a sweep's worker process) for the
    writer to put on disk with ``write_packed``."""

    data: bytes
    sha256: str


def pack_archive(manifest: Manifest, files: list[SourceFile], level: int = 3) -> Packed:
    """The bytes ``write_archive`` would write for ``manifest`` and ``files`` (not a
    delta), made in memory; each file is re-hashed as it is read, as there."""
    assert manifest.base is None
    buf = io.BytesIO()
    sink = HashingWriter(buf)  # type: ignore[arg-type]
    _write_stream(sink, manifest, files, level, None, lambda step: None)
    return Packed(buf.getvalue(), sink.sha.hexdigest())


def write_packed(
    target: Path, packed: Packed, files: int, fault: Callable[[str], None] | None = None, staged: bool = False
) -> WriteResult:
    """``write_archive`` for a unit already packed (``pack_archive``): its bytes go to a
    temporary name beside ``target`` and on as there. The fault hook sees a
    ``write-member`` step for each of its ``files``, as ``write_archive`` does."""
    hook = fault or (lambda step: None)
    with open_sink(target, staged, hook) as (sink, tmp):
        for _ in range(files):
            hook("write-member")
        sink.raw.write(packed.data)  # its hash is the packer's: reading it back checks it
    return WriteResult(target, len(packed.data), packed.sha256, tmp)


def _write_stream(
    sink: HashingWriter,
    manifest: Manifest,
    files: list[SourceFile],
    level: int,
    on_bytes: Callable[[int], None] | None,
    hook: Callable[[str], None],
) -> None:
    cctx = unit_compressor(manifest.original_size, level)
    with (
        # zstandard's stub asks for IO[bytes]; the writer only calls write() and flush().
        cctx.stream_writer(sink, closefd=False, write_size=CHUNK) as zw,  # type: ignore[arg-type]
        tarfile.open(fileobj=zw, mode="w|", format=tarfile.PAX_FORMAT, bufsize=CHUNK) as tar,
    ):
        data = manifest.to_json()
        info = tarfile.TarInfo(MANIFEST_NAME)
        # The session's own time (as the members' headers), not the archiving time:
        # one time fewer to store.
        newest = max((f.entry.mtime_ns for f in files), default=0) // 1_000_000_000
        info.size, info.mtime, info.mode = len(data), max(0, newest), FILE_MODE
        info.uname = info.gname = ""
        tar.addfile(info, io.BytesIO(data))
        for sf in files:
            hook("write-member")
            e = sf.entry
            info = tarfile.TarInfo(e.path)
            info.size, info.mode = e.stored_size, e.mode
            # Whole seconds: a fractional mtime costs a pax header per member.
            info.mtime = max(0, e.mtime_ns // 1_000_000_000)
            info.uname = info.gname = ""
            # A delta file's opener yields the tail only (from the base's size on).
            with sf.opener() as fh:
                reader = HashingReader(fh, on_bytes)
                tar.addfile(info, reader)
                if reader.size != e.stored_size or reader.hexdigest() != e.stored_sha256:
                    raise changed_while_read(e)


class _ExpansionBudget:
    """The decompressed tar stream, stopped past ``limit`` bytes. tarfile holds a pax
    record or a GNU long name in memory whole, and the manifest does not count them: a few
    KB of forged archive could otherwise expand to gigabytes before any check ran."""

    def __init__(self, raw, where: str, limit: int):
        self.raw, self.where, self.limit, self.size = raw, where, limit, 0

    def read(self, n: int = CHUNK) -> bytes:
        data = self.raw.read(n if n is not None and n >= 0 else CHUNK)
        self.size += len(data)
        if self.size > self.limit:
            raise DataError(
                f"{self.where} expands past the limit of {self.limit} bytes its manifest allows "
                "(max_expand_bytes caps what a manifest may declare); it is refused as a possible "
                "decompression bomb."
            )
        return data


def _budget_before_manifest() -> int:
    return MAX_MANIFEST_BYTES + MEMBER_OVERHEAD + STREAM_OVERHEAD


@dataclass
class ReadResult:
    manifest: Manifest
    archive_sha256: str
    archive_size: int


def read_archive(
    path: Path,
    on_file: Callable[[ManifestFile, IO[bytes]], None] | None = None,
    max_expand: int | None = None,
    only: set[str] | None = None,
) -> ReadResult:
    """Stream through an archive, checking everything it can.

    For each member, ``on_file(entry, stream)`` may consume the stream (it must read it
    whole if given). Every member is hashed against the manifest; a missing, extra,
    reordered or altered member, a truncated or corrupt frame, or an expansion past
    ``max_expand`` raises DataError/IntegrityError naming ``path``. A tail unit (format
    4, not a tar) is read the same way by ``tailunit``.
    """
    if tailunit().sniff(path):
        return tailunit().read(path, on_file, max_expand, only)
    where = str(path)
    try:
        fh = open(path, "rb")  # noqa: SIM115 (closed by the with below)
    except FileNotFoundError as exc:
        raise DataError(f"The archive {where} is missing.") from exc
    with fh:
        return _read_open(fh, where, on_file, max_expand, only)


def check_packed(packed: Packed, where: str, max_expand: int | None = None) -> ReadResult:
    """``read_archive`` of a packed unit's bytes, in memory: every member decompressed
    and hashed against the manifest. Bytes on disk with the same sha256 read the same."""
    return _read_open(io.BytesIO(packed.data), where, None, max_expand, None)


def _read_open(
    fh: BinaryIO,
    where: str,
    on_file: Callable[[ManifestFile, IO[bytes]], None] | None,
    max_expand: int | None,
    only: set[str] | None,
) -> ReadResult:
    outer = HashingReader(fh)
    try:
        dctx = decompressor(fh, where)
        # zstandard's stub asks for IO[bytes]; the reader only calls read()/readinto().
        with dctx.stream_reader(outer, read_across_frames=True, closefd=False) as zr:  # type: ignore[arg-type]
            budget = _ExpansionBudget(zr, where, _budget_before_manifest())
            # typeshed's tarfile wants write/seek/tell too; stream mode "r|" only calls read().
            with tarfile.open(fileobj=budget, mode="r|", bufsize=CHUNK) as tar:  # type: ignore[call-overload]
                manifest = _read_members(tar, where, on_file, max_expand, only, budget)
        outer.drain()
    except (zstandard.ZstdError, tarfile.TarError, EOFError, OSError) as exc:
        raise DataError(f"The archive {where} is corrupt or truncated ({exc}).") from exc
    return ReadResult(manifest, outer.hexdigest(), outer.size)


def check_expansion(m: Manifest, max_expand: int | None, where: str) -> None:
    """DataError if ``m`` declares more bytes than ``max_expand`` allows."""
    if max_expand is not None and m.original_size > max_expand:
        raise DataError(
            f"{where} would expand to {m.original_size} bytes, past the limit of {max_expand} bytes "
            "(max_expand_bytes); it is refused as a possible decompression bomb."
        )


def changed_while_read(e: ManifestFile) -> IntegrityError:
    return SourceChangedError(f"{e.origin} changed while it was being archived; it will be archived on the next sweep.")


def _read_members(tar, where, on_file, max_expand, only, budget: _ExpansionBudget) -> Manifest:
    first = tar.next()
    if first is None or first.name != MANIFEST_NAME or not first.isfile():
        raise DataError(f"{where} does not start with {MANIFEST_NAME}; it is not a termvault archive.")
    if first.size > MAX_MANIFEST_BYTES:
        raise DataError(f"The manifest of {where} is implausibly large ({first.size} bytes).")
    manifest = Manifest.from_json(tar.extractfile(first).read(), where)
    check_expansion(manifest, max_expand, where)
    # From here on the stream may hold only what the manifest declares, plus headers.
    budget.limit = (
        budget.size + STREAM_OVERHEAD + sum(-(-f.stored_size // 512) * 512 + MEMBER_OVERHEAD for f in manifest.files)
    )
    expected = iter(manifest.files)
    # tar.next(), not iteration: iterating a stream-mode TarFile starts over at member 0.
    while (member := tar.next()) is not None:
        entry = next(expected, None)
        if entry is None:
            raise IntegrityError(f"{where} holds a member {member.name!r} its manifest does not list.")
        if member.name != entry.path or not member.isfile() or member.size != entry.stored_size:
            raise IntegrityError(f"{where}: member {member.name!r} does not match the manifest entry {entry.path!r}.")
        stream = HashingReader(tar.extractfile(member))
        if on_file is not None and (only is None or entry.path in only):
            on_file(entry, stream)
        stream.drain()
        if stream.size != entry.stored_size or stream.hexdigest() != entry.stored_sha256:
            raise IntegrityError(f"{where}: {entry.path} does not match its recorded sha256.")
    missing = next(expected, None)
    if missing is not None:
        raise IntegrityError(f"{where} is missing the member {missing.path!r} its manifest lists.")
    return manifest


def read_manifest(path: Path) -> Manifest:
    """Read only the manifest (the first member): cheap, no hashing of the files."""
    if tailunit().sniff(path):
        return tailunit().read_header(path)
    where = str(path)
    try:
        with open(path, "rb") as fh:
            dctx = decompressor(fh, where)
            with dctx.stream_reader(fh, read_across_frames=True) as zr:
                budget = _ExpansionBudget(zr, where, _budget_before_manifest())
                # typeshed's tarfile wants write/seek/tell too; stream mode "r|" only calls read().
                with tarfile.open(fileobj=budget, mode="r|") as tar:  # type: ignore[call-overload]
                    first = tar.next()
                    if first is None or first.name != MANIFEST_NAME or first.size > MAX_MANIFEST_BYTES:
                        raise DataError(f"{where} does not start with {MANIFEST_NAME}.")
                    manifest = Manifest.from_json(tar.extractfile(first).read(), where)
                    if manifest.original_size <= SMALL_UNIT and os.fstat(fh.fileno()).st_size <= 4 * SMALL_UNIT:
                        # A small unit is one zstd block or two: damage anywhere in it may
                        # leave the manifest readable, so read on to the frame's checksum
                        # (no further than the manifest declares).
                        budget.limit = (
                            budget.size
                            + STREAM_OVERHEAD
                            + sum(-(-f.size // 512) * 512 + MEMBER_OVERHEAD for f in manifest.files)
                        )
                        while budget.read(CHUNK):
                            pass
                    return manifest
    except FileNotFoundError as exc:
        raise DataError(f"The archive {where} is missing.") from exc
    except (zstandard.ZstdError, tarfile.TarError, EOFError, OSError) as exc:
        raise DataError(f"The archive {where} is corrupt or truncated ({exc}).") from exc


def tailunit() -> ModuleType:
    """The tail unit's module (format 4), which builds on this one."""
    from . import tailunit as module  # lazy: it imports this module (a cycle at import time)

    return module


def sha256_file(path: Path) -> str:
    """sha256 of a regular file, read in chunks (a FIFO or device is refused, never read:
    opening one could block forever)."""
    h = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0))
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise DataError(f"{path} is not a regular file; termvault will not read it.")
    with open(fd, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def iter_archive_files(archive_dir: Path) -> Iterator[Path]:
    """Every ``*.tar.zst`` under ``archive_dir/YYYY/MM`` (temporary files excluded)."""
    for month in iter_archive_folders(archive_dir):
        yield from iter_folder_units(month)


def iter_archive_folders(archive_dir: Path) -> Iterator[Path]:
    """The ``YYYY/MM`` folders of ``archive_dir``, in order."""
    if not archive_dir.is_dir():
        return
    for year in sorted(archive_dir.iterdir()):
        if not (year.is_dir() and year.name.isdigit()):
            continue
        yield from (month for month in sorted(year.iterdir()) if month.is_dir())


def iter_folder_units(month: Path) -> Iterator[Path]:
    """Every ``*.tar.zst`` directly in ``month`` (temporary files excluded)."""
    for name in sorted(folder_unit_names(month)):
        yield month / name


def folder_unit_names(month: Path) -> list[str]:
    """The names of ``iter_folder_units(month)``, unsorted (no path made per unit)."""
    with os.scandir(month) as entries:
        return [
            e.name
            for e in entries
            if e.name.endswith(".tar.zst") and not e.name.startswith(TMP_PREFIX) and e.is_file(follow_symlinks=False)
        ]


def archive_relpath(last_activity: float, session_id: str, version: int) -> str:
    """``YYYY/MM/{ts}_{id}.tar.zst`` (UTC month of last activity); later versions get ``.vN``."""
    t = time.gmtime(max(0, last_activity))
    suffix = "" if version <= 1 else f".v{version}"
    return f"{t.tm_year:04d}/{t.tm_mon:02d}/{int(last_activity)}_{session_id}{suffix}.tar.zst"
