"""The sweep's delta decision: store a new version as what was appended to the previous
one, or whole.

A file of the new version is stored as a delta when its first bytes are exactly the
previous version's file: the sweep's one read of the file (parse and hash) also hashes
the prefix up to the previous size (``streams.HashingDiskFile(mark_at=...)``), so no
byte is read twice. Anything else (a file rewritten, truncated, or new) is stored whole.
A version whose every file only grew is written as a tail unit (``archive.tailunit``):
its header and tails, nothing else.
A rewrite gets a full copy rather than a binary delta against the previous version:
a rewritten agent file (Gemini's JSON, a log rotated in place) shares little at fixed
offsets, a general delta needs random access to the base (the whole base rebuilt and kept
on disk while the new version streams past it) and makes every later restore depend on
that work; a full version keeps memory and restore cost bounded and simple.

Chains stay short enough to restore quickly: after ``delta_max_links`` links in a row
the next version is stored whole (compaction), and only copy-mode sessions get deltas
(a move-mode source is deleted once archived; its versions stay self-contained).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .. import archive as arc
from ..archive.format import tail_compressor
from ..errors import DataError
from ..fsutil import ensure_private_dir
from ..model import ArchiveEntry, SessionUnit
from ..sources.configured import ConfiguredSource
from ..streams import HashingDiskFile, Reader, Unclosed, new_spool
from .context import Context

log = logging.getLogger(__name__)

# How much of the base the writer uses as the tail's dictionary: loading it costs its
# size (about 3.5 ms per MiB at level 6), so a sweep's cost would grow with the file up to
# ``DELTA_WINDOW``. An agent transcript's tail repeats what is near it: with the last 256
# KiB a 677 KB transcript's 200 tails take 0.8% more bytes than with all of it, at 0.9 ms
# instead of 2.2 (bench.deltas_bench). The header states the window it used.
TAIL_WINDOW = 256 * 1024


@dataclass
class Base:
    """The previous version a new one may build on."""

    entry: ArchiveEntry
    files: dict[str, arc.ManifestFile]  # its files, whole sizes and hashes
    depth: int  # delta links below it (0: stored whole)


def depth_of(entry: ArchiveEntry) -> int:
    """How many delta links lie below ``entry`` (0 for a unit stored whole)."""
    base = entry.meta.get(arc.BASE_META)
    return int(base.get("depth", 1)) if isinstance(base, dict) else 0


def find_base(ctx: Context, cs: ConfiguredSource, unit: SessionUnit) -> Base | None:
    """The newest archived version of ``unit``'s session if a new version may be stored
    as a delta against it; None when it must be stored whole (no previous version, move
    mode, deltas off, the chain at its length limit, or the previous unit not local)."""
    limit = ctx.config.delta_max_links
    if cs.mode != "copy" or limit <= 0:
        return None
    latest = ctx.index.get_entry(unit.session_id)
    if latest is None or latest.status != "archived" or latest.source != cs.source.kind:
        return None
    depth = depth_of(latest)
    if depth + 1 > limit:
        return None  # compaction: this version is stored whole, the chain starts over
    if not ctx.store.path(latest).exists():
        return None  # evicted: a sweep does not fetch from the remote to save space
    try:
        manifest = ctx.store.manifest(latest)
    except DataError as exc:
        log.info("%s is stored whole: its previous version cannot be read (%s)", unit.session_id, exc)
        return None
    if manifest.content_sha256 != latest.content_sha256:
        return None
    return Base(latest, {f.path: f for f in manifest.files}, depth)


class TailCompressor:
    """Compresses what the sweep's read finds past the previous size into a private
    spool (memory, then disk), with the previous bytes as the zstd dictionary: the
    member of a delta file, ready before the unit is written."""

    def __init__(self, level: int, tmpdir: Path):
        self.window = min(arc.DELTA_WINDOW, TAIL_WINDOW)
        self.level, self.tmpdir = level, tmpdir
        self.spool: IO[bytes] | None = None
        self.used_window = 0
        self.size = 0
        self.sha256 = ""
        self._writer: Any = None

    def begin(self, window: bytes) -> None:
        self.close()  # a second read of the file starts over
        # Closed by close(), once the unit is written (or the version stored whole).
        self.spool = new_spool(self.tmpdir)
        self.used_window = len(window)
        cctx = tail_compressor(window, self.level)
        self._writer = cctx.stream_writer(self.spool, closefd=False, write_size=arc.CHUNK)

    def write(self, data: bytes) -> None:
        self._writer.write(data)

    def end(self) -> None:
        assert self.spool is not None
        self._writer.close()  # ends the frame; the spool stays open (closefd=False)
        self.size = self.spool.tell()
        self.spool.seek(0)
        h = hashlib.sha256()
        while chunk := self.spool.read(arc.CHUNK):
            h.update(chunk)
        self.sha256 = h.hexdigest()

    def open(self) -> Reader:
        assert self.spool is not None
        self.spool.seek(0)
        return Unclosed(self.spool)

    def close(self) -> None:
        if self.spool is not None:
            self.spool.close()
            self.spool = None


@dataclass
class Tails:
    """What the sweep decided: the files stored as tails, and their members."""

    deltas: dict[str, arc.FileDelta] = field(default_factory=dict)
    members: dict[str, TailCompressor] = field(default_factory=dict)

    def close(self) -> None:
        for m in self.members.values():
            m.close()


def hashing_refs(ctx: Context, unit: SessionUnit, base: Base | None) -> list[HashingDiskFile]:
    """The refs the sweep parses and hashes ``unit`` through. A file the base has is
    marked at the base's size, so the same read tells whether it only grew and
    compresses what was appended."""
    refs = []
    tmpdir = ensure_private_dir(ctx.store.tmp_dir) if base else None
    for f in unit.files:
        before = base.files.get(f.relpath) if base else None
        if before is not None and before.size <= f.size and tmpdir is not None:
            tail = TailCompressor(ctx.config.level, tmpdir)
            refs.append(HashingDiskFile(f.relpath, f.size, f.origin, before.size, tail, opener=f.reader))
        else:
            refs.append(HashingDiskFile(f.relpath, f.size, f.origin, opener=f.reader))
    return refs


def decide(base: Base | None, refs: list[HashingDiskFile]) -> Tails:
    """The delta decision. A file is stored as its appended tail when its first bytes
    are exactly the base's file (a prefix of the same length with the same sha256);
    every other file is stored whole. No tail at all: the version is stored whole."""
    out = Tails()
    for r in refs:
        sink = r.tail if isinstance(r.tail, TailCompressor) else None
        before = base.files.get(r.relpath) if base else None
        if (
            before is not None
            and sink is not None
            and sink.spool is not None
            and r.mark_at == before.size
            and r.prefix_sha256 == before.sha256
            and r.tail_sha256 is not None
            and sink.sha256
        ):
            out.deltas[r.relpath] = arc.FileDelta(
                before.size, before.sha256, r.tail_sha256, sink.used_window, sink.size, sink.sha256
            )
            out.members[r.relpath] = sink
        elif sink is not None:
            sink.close()
    return out


def base_ref(base: Base) -> arc.BaseRef:
    e = base.entry
    assert e.content_sha256 is not None
    return arc.BaseRef(e.session_id, e.version, e.content_sha256, base.depth + 1)


ROW_ONLY_META = arc.ROW_ONLY_META


def base_meta(base: Base) -> dict[str, Any]:
    """The base version's whole metadata as its manifest holds it."""
    return {k: v for k, v in base.entry.meta.items() if k not in ROW_ONLY_META}


def inherit_from_index(ctx: Context, m: arc.Manifest) -> None:
    """Fill in a delta unit's unrepeated metadata from its base's row (adopting a unit
    the index lacks)."""
    if not m.inherits or m.base is None:
        return
    for row in ctx.index.versions(m.session_id):
        if row.content_sha256 == m.base.content_sha256:
            m.inherit_meta({k: v for k, v in row.meta.items() if k not in ROW_ONLY_META})
            return


def inherit_among(manifests: list[tuple[str, arc.Manifest]]) -> None:
    """Fill in every delta unit's unrepeated metadata from its base among ``manifests``
    ((host or "", manifest) pairs: a reindex, which has them all in memory)."""
    by_content: dict[tuple[str, str, str], arc.Manifest] = {}
    for host, m in sorted(manifests, key=lambda hm: hm[1].version):
        if m.base is not None and m.inherits:
            base = by_content.get((host, m.session_id, m.base.content_sha256))
            if base is not None:
                m.inherit_meta(base.meta)
        by_content.setdefault((host, m.session_id, m.content_sha256), m)


# -- chains as groups (prune, the remote tier) -------------------------------------------
def base_content(entry: ArchiveEntry) -> str | None:
    """The content sha256 of the version ``entry`` is built on (None: stored whole)."""
    base = entry.meta.get(arc.BASE_META)
    return str(base.get("content_sha256")) if isinstance(base, dict) else None


def chain_groups(rows: list[ArchiveEntry]) -> list[list[ArchiveEntry]]:
    """``rows`` split into chains: each group holds a version stored whole and every
    version built on it, directly or not (a version is linked to every earlier version
    of its session with the content its base names: a superset, never too few). Each
    group is ordered newest version first, the order to delete in: what is left after
    an interruption still has its bases."""
    parent: dict[int, int] = {}

    def find(i: int) -> int:
        while parent.setdefault(i, i) != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    by_session: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        find(i)
        by_session.setdefault(r.session_id, []).append(i)
    for members in by_session.values():
        for i in members:
            wanted = base_content(rows[i])
            if wanted is None:
                continue
            for j in members:
                if rows[j].content_sha256 == wanted and rows[j].version < rows[i].version:
                    parent[find(i)] = find(j)
    groups: dict[int, list[ArchiveEntry]] = {}
    for i, r in enumerate(rows):
        groups.setdefault(find(i), []).append(r)
    return [sorted(g, key=lambda r: (-r.version, -(r.row_id or 0))) for g in groups.values()]


def bases_first(todo: list[ArchiveEntry]) -> list[ArchiveEntry]:
    """``todo`` reordered so that a version comes after the versions (also in ``todo``)
    it is built on; otherwise in the order given."""
    index = {(e.session_id, e.content_sha256): e for e in sorted(todo, key=lambda e: -e.version)}
    out: list[ArchiveEntry] = []
    placed: set[int | None] = set()
    for e in todo:
        pending = []
        cur: ArchiveEntry | None = e
        while cur is not None and cur.row_id not in placed and cur not in pending:
            pending.append(cur)
            wanted = base_content(cur)
            below = index.get((cur.session_id, wanted)) if wanted else None
            cur = below if below is not None and below.version < cur.version else None
        for p in reversed(pending):
            placed.add(p.row_id)
            out.append(p)
    return out
