"""Reading a session file's lines in bounded memory, by block: runs of whole lines split
once per block (``line_runs``, ``line_blocks``, ``iter_lines``) and the non-blank lines
of a JSON-lines file (``iter_nonblank_lines``). A line longer than the cap is given as
``None`` and skipped without being held."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from typing import cast

from ..model import FileRef

MAX_LINE_BYTES = 32 * 1024 * 1024  # longer lines are skipped with a warning


READ_BLOCK = 128 * 1024  # bytes read at a time by ``line_runs``


def line_runs(ref: FileRef, max_line: int = MAX_LINE_BYTES, block: int = READ_BLOCK) -> Iterator[bytes | None]:
    """The lines of ``ref`` as runs read by ``block`` bytes: each run is one or more
    whole lines as they are in the file (each ending with a newline, but for the file's last
    line), or ``None`` for a line longer than ``max_line`` bytes (not counting its
    newline), which is skipped in bounded memory. Splitting the runs at their newlines
    gives the lines repeated ``readline`` calls give (``line_blocks``). Memory: one
    block plus the longest line kept (``max_line``)."""
    limit = max_line + 1  # a line kept whole is at most this long, newline included
    with ref.open() as fh:
        head: list[bytes] = []  # the start of a line begun in earlier blocks
        held = 0
        skipping = False  # inside an overlong line: drop bytes until its newline
        while data := fh.read(block):
            if skipping:
                nl = data.find(b"\n")
                if nl < 0:
                    continue
                skipping = False
                yield None
                data = data[nl + 1 :]
            end = data.rfind(b"\n") + 1
            if end:
                start = 0
                if head:  # the line begun before ends here, at ``nl``
                    nl = data.find(b"\n") + 1
                    if held + nl > limit:
                        yield None
                        head, held, start = [], 0, nl
                if end - start > limit and max(map(len, data[start:end].split(b"\n"))) >= limit:
                    # A block longer than a line may be holds one that is too long.
                    if head:
                        yield b"".join((*head, data[:nl]))
                        start = nl
                    yield from _lines_of(data[start:end], limit)
                elif head:
                    yield b"".join((*head, data[:end]))
                elif end > start:
                    yield data if start == 0 and end == len(data) else data[start:end]
                head, held = [], 0
            if end < len(data):
                rest = data[end:]
                held += len(rest)
                if held > max_line:
                    head, held, skipping = [], 0, True
                else:
                    head.append(rest)
        if skipping:
            yield None
        elif head:
            yield b"".join(head)


def _lines_of(run: bytes, limit: int) -> Iterator[bytes | None]:
    """Each line of ``run`` (whole lines) alone, ``None`` for one over ``limit`` bytes."""
    parts = run.split(b"\n")
    parts.pop()
    for part in parts:
        yield part + b"\n" if len(part) < limit else None


def split_run(run: bytes) -> list[bytes]:
    """The lines of a run of ``line_runs``, each with its newline."""
    parts = run.split(b"\n")
    last = parts.pop()  # after the last newline: nothing, or the file's last line
    lines = [part + b"\n" for part in parts]
    if last:
        lines.append(last)
    return lines


def line_blocks(ref: FileRef, max_line: int = MAX_LINE_BYTES, block: int = READ_BLOCK) -> Iterator[list[bytes | None]]:
    """The lines of ``ref`` in lists, one per run of ``line_runs``: each line with its
    newline (but for the last line), or ``None`` for a line longer than ``max_line``."""
    for run in line_runs(ref, max_line, block):
        yield [None] if run is None else cast("list[bytes | None]", split_run(run))


def iter_lines(ref: FileRef, max_line: int = MAX_LINE_BYTES) -> Iterator[tuple[int, bytes | None]]:
    """Yield ``(line_number, bytes)`` for each line (``line_blocks``, one at a time); a
    line longer than ``max_line`` is yielded as ``None``."""
    yield from enumerate(itertools.chain.from_iterable(line_blocks(ref, max_line)), 1)


_NONBLANK_LINE = re.compile(rb"[^\n]*?[^\s][^\n]*\n?")
_CHUNK = 1024 * 1024


def iter_nonblank_lines(ref: FileRef, max_line: int = MAX_LINE_BYTES) -> Iterator[bytes | None]:
    """Each line holding more than whitespace (``None`` for one longer than ``max_line``,
    its newline included), read in chunks: one split per chunk and a strip per line, or,
    for a chunk of mostly blank lines, a regex that skips them in the engine, so the work
    stays proportional to the bytes (a compressed file can hold millions of blank lines)."""
    with ref.open() as fh:
        parts: list[bytes] = []
        skipping = False  # inside an overlong line: drop bytes until its newline
        while True:
            data = fh.read(_CHUNK)
            if skipping:
                nl = data.find(b"\n")
                if nl < 0:
                    if not data:
                        return
                    continue
                data, skipping = data[nl + 1 :], False
            buf = b"".join((*parts, data)) if parts else data
            parts = []
            end = len(buf) if not data else buf.rfind(b"\n") + 1
            if end and buf.count(b"\n", 0, end) * 16 > end:
                # Mostly blank or tiny lines: the regex skips runs of blank lines itself.
                for m in _NONBLANK_LINE.finditer(buf, 0, end):
                    line = m.group()
                    yield line if len(line) <= max_line else None
            elif end:
                # The lines up to ``end`` that hold more than whitespace: one split, then
                # a strip per line (what ``_NONBLANK_LINE`` matches, newline included).
                lines = (buf if end == len(buf) else buf[:end]).split(b"\n")
                last = lines.pop()  # after the last newline: empty, or at the end a line without one
                yield from [line + b"\n" if len(line) < max_line else None for line in lines if line.strip()]
                if last.strip():
                    yield last if len(last) <= max_line else None
            if not data:
                return
            rest = buf[end:]
            if len(rest) > max_line:
                yield None
                skipping = True
            elif rest:
                parts = [rest]
