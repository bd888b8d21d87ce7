"""File references and readers: every bounded or hashing read of a session file, once.

A ``FileRef`` is what parsers and renderers read; these are its implementations over a
file on disk (bounded to the size seen at discovery, optionally hashing as it is read), over
an archive member spooled to a private temporary file, and over bytes in memory.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Protocol

from .errors import DataError

SPOOL_IN_MEMORY = 16 * 1024 * 1024


@dataclass
class DiskFile:
    """A FileRef over a file on disk, reading at most ``size`` bytes (the size seen at
    discovery), so a file that grows meanwhile is read as the snapshot that was stat'ed."""

    relpath: str
    size: int
    path: Path

    def open(self) -> Reader:
        return BoundedReader(open(self.path, "rb"), self.size)


class ChunkSource(Protocol):
    """Anything read by chunks: a file, a Reader, a decompressing reader."""

    def read(self, n: int = ..., /) -> bytes: ...


class Writer(Protocol):
    """Where an export writes: a binary file, stdout's buffer, a counting sink."""

    def write(self, data: bytes, /) -> object: ...


class Reader(Protocol):
    """What a FileRef opens: bytes read forward, by chunk or by line, then closed. Files,
    BytesIO and the wrappers below all fit; a parser needs nothing more."""

    def read(self, n: int = -1, /) -> bytes: ...

    def readline(self, limit: int = -1, /) -> bytes: ...

    def __iter__(self) -> Iterator[bytes]: ...

    def __enter__(self) -> Reader: ...

    def __exit__(self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None, /) -> None: ...

    def close(self) -> None: ...


class BoundedReader:
    """Read-only wrapper that stops after ``limit`` bytes."""

    def __init__(self, raw: Reader, limit: int):
        self._raw = raw
        self._left = limit

    def read(self, n: int = -1) -> bytes:
        return self._bounded(self._raw.read, n)

    def readline(self, limit: int = -1) -> bytes:
        return self._bounded(self._raw.readline, limit)

    def _bounded(self, read: Callable[[int], bytes], n: int | None) -> bytes:
        if self._left <= 0:
            return b""
        if n is None or n < 0 or n > self._left:
            n = self._left
        data = read(n)
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

    def __init__(self, raw: Reader, on_chunk: Callable[[int], None] | None = None):
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
    parse pass doubles as the hash pass. Reads stop at the size seen at discovery.

    With ``mark_at`` (a byte offset, e.g. the size of the previous version), the same read
    also gives the sha256 of the first ``mark_at`` bytes and of the rest: whether the file
    only grew since, and the hash of what was appended, at no extra read. A ``tail`` sink
    receives the last ``tail.window`` bytes before the mark, then every byte after it
    (to store what was appended from this same read)."""

    def __init__(
        self,
        relpath: str,
        size: int,
        path: Path,
        mark_at: int | None = None,
        tail: TailSink | None = None,
        opener: Callable[[], IO[bytes]] | None = None,
    ):
        self.relpath, self.size, self.path = relpath, size, path
        self.opener = opener  # a UnitFile.reader: the bytes come from there, not from ``path``
        self.sha256: str | None = None
        self.mark_at = mark_at if mark_at is not None and 0 <= mark_at <= size else None
        self.tail = tail if self.mark_at is not None else None
        self.prefix_sha256: str | None = None
        self.tail_sha256: str | None = None

    def open(self) -> Reader:
        ref = self

        class _Reader(HashingReader):
            prefix: str | None = None
            tail: Any = None
            window = bytearray()
            fed = False  # this read handed the tail sink what lies past the mark

            def close(self_inner) -> None:
                if ref.sha256 is None:
                    try:
                        self_inner.drain()
                        if self_inner.size == ref.size:
                            ref.sha256 = self_inner.hexdigest()
                            if self_inner.tail is not None:
                                ref.prefix_sha256 = self_inner.prefix
                                ref.tail_sha256 = self_inner.tail.hexdigest()
                                if ref.tail is not None and self_inner.fed:
                                    ref.tail.end()
                    except OSError:
                        pass
                self_inner.raw.close()

            def _feed(self_inner, data: bytes) -> None:
                # Only the first complete read feeds the tail sink (a parser may read twice).
                mark, pos = ref.mark_at, self_inner.size
                sink = ref.tail if ref.sha256 is None else None
                if mark is not None and self_inner.tail is None:
                    if sink is not None:  # keep the bytes just before the mark
                        lo, hi = max(pos, mark - sink.window), min(pos + len(data), mark)
                        if hi > lo:
                            self_inner.window += data[lo - pos : hi - pos]
                    if pos + len(data) >= mark:
                        cut = mark - pos
                        self_inner.sha.update(data[:cut])
                        self_inner.size += cut
                        self_inner.prefix = self_inner.sha.hexdigest()
                        self_inner.tail = hashlib.sha256()
                        if sink is not None:
                            sink.begin(bytes(self_inner.window))
                            self_inner.fed = True
                            self_inner.window = bytearray()
                        data = data[cut:]
                self_inner.sha.update(data)
                self_inner.size += len(data)
                if self_inner.tail is not None:
                    self_inner.tail.update(data)
                    if sink is not None and self_inner.fed and data:
                        sink.write(data)

            def read(self_inner, n: int = -1) -> bytes:
                data = self_inner.raw.read(n)
                self_inner._feed(data)
                return data

            def readline(self_inner, limit: int = -1) -> bytes:
                data = self_inner.raw.readline(limit)
                self_inner._feed(data)
                return data

            def __iter__(self_inner):
                while line := self_inner.readline():
                    yield line

            def __enter__(self_inner):
                return self_inner

            def __exit__(self_inner, *exc) -> None:
                self_inner.close()

        raw = self.opener() if self.opener is not None else open(self.path, "rb")  # noqa: SIM115
        return _Reader(BoundedReader(raw, self.size))

    def ensure_hash(self) -> str:
        if self.sha256 is None:
            with self.open():
                pass
        if self.sha256 is None:
            raise DataError(f"{self.path} shrank while it was being read; it will be retried.")
        return self.sha256


class TailSink(Protocol):
    """Where ``HashingDiskFile`` hands what was appended past its mark."""

    window: int  # how many bytes before the mark ``begin`` receives

    def begin(self, window: bytes) -> None: ...

    def write(self, data: bytes) -> None: ...

    def end(self) -> None: ...


class SpooledRef:
    """A FileRef over an archive member copied to a private spool (memory, then disk)."""

    def __init__(self, relpath: str, size: int, spool: IO[bytes]):
        self.relpath, self.size, self._spool = relpath, size, spool

    def open(self) -> Reader:
        self._spool.seek(0)
        return Unclosed(self._spool)

    def close(self) -> None:
        self._spool.close()


def new_spool(tmpdir: Path | None) -> IO[bytes]:
    """A private spool: in memory up to ``SPOOL_IN_MEMORY`` bytes, then a file under
    ``tmpdir``. The caller closes it."""
    import tempfile  # lazy: a read of the index alone never spools (tempfile pulls in shutil, random)

    return tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY, dir=None if tmpdir is None else str(tmpdir))


def spool(relpath: str, size: int, stream: IO[bytes], tmpdir: Path | None, chunk: int = 1024 * 1024) -> SpooledRef:
    """Copy ``stream`` to a private spool under ``tmpdir`` and return a ref over it."""
    out = new_spool(tmpdir)  # owned by the ref
    while data := stream.read(chunk):
        out.write(data)
    return SpooledRef(relpath, size, out)


class Unclosed:
    """A spool as one reader sees it: ``with`` or ``close`` leave it open for the next
    reader (a parser reading a spooled member, the archive writer reading a tail)."""

    def __init__(self, fh: IO[bytes]):
        self._fh = fh

    def __getattr__(self, name: str) -> Any:  # seek, tell, readable...: the spool's own
        return getattr(self._fh, name)

    def read(self, n: int = -1, /) -> bytes:
        return self._fh.read(n)

    def readline(self, limit: int = -1, /) -> bytes:
        return self._fh.readline(limit)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._fh)

    def close(self) -> None:
        pass

    def __enter__(self) -> Unclosed:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


class BytesRef:
    """A FileRef over bytes in memory (a decompressed legacy archive)."""

    def __init__(self, relpath: str, data: bytes):
        self.relpath, self.size, self.data = relpath, len(data), data

    def open(self) -> Reader:
        return io.BytesIO(self.data)


def close_refs(refs: Iterable[object]) -> None:
    for r in refs:
        closer = getattr(r, "close", None)
        if closer is not None:
            closer()
