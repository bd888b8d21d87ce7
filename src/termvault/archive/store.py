"""``ArchiveStore``: the one place that knows where archive units live and how to read,
write, verify and delete them, whatever their kind.

Three kinds sit behind one interface: termvault's own ``.tar.zst`` units under
``archive/``, the older app's ``.json.gz`` files (read-only, status ``legacy``), and, with a
remote tier configured, units whose local copy was evicted (fetched back on first read).
Callers never branch on the kind.

A version stored as a delta (only what was appended since its base) is rebuilt from its
chain here (``chains``), streamed through a private spool and checked against its own
sha256: every reader sees whole files and never branches on it either.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from ..errors import DataError
from ..fsutil import ensure_private_dir, validate_relpath
from ..model import ArchiveEntry, FileRef
from ..streams import BytesRef, SpooledRef, close_refs, spool
from . import format as arc
from . import legacy
from .chains import ChainRows, Chains
from .remote import RemoteTier

log = logging.getLogger(__name__)

OnFile = Callable[[arc.ManifestFile, IO[bytes]], None]


class _DeltaUnit(Exception):
    """Raised inside a plain read that met a delta member: the unit needs its chain."""


class ArchiveStore:
    def __init__(
        self,
        archive_dir: Path,
        history_dir: Path,
        tmp_dir: Path,
        max_expand: int | None,
        level: int = 6,
        remote: RemoteTier | None = None,
        rows: ChainRows | None = None,
    ):
        self.archive_dir = archive_dir
        self.history_dir = history_dir
        self.tmp_dir = tmp_dir
        self.max_expand = max_expand
        self.level = level
        self.remote = remote
        self.chains = Chains(rows, self.local, self.path, max_expand)

    # -- where -------------------------------------------------------------------------
    def path(self, entry: ArchiveEntry | str) -> Path:
        """The local file of a unit (it may be absent: evicted, missing)."""
        rel = validate_relpath(entry if isinstance(entry, str) else entry.archive_path)
        return self.archive_dir.joinpath(*rel.split("/"))

    def local(self, entry: ArchiveEntry) -> Path:
        """The local file of a unit, first fetched from the remote (verified) if its local
        copy was evicted or is another machine's."""
        path = self.path(entry)
        if not path.exists() and self.remote is not None:
            self.remote.ensure_local(entry, path)
        return path

    def units(self) -> Iterator[tuple[str, Path]]:
        """(relative path, file) of every termvault unit under ``archive/``."""
        for p in arc.iter_archive_files(self.archive_dir):
            yield p.relative_to(self.archive_dir).as_posix(), p

    def folders(self) -> Iterator[tuple[str, Path]]:
        """(relative path, folder) of every ``YYYY/MM`` folder under ``archive/``."""
        for month in arc.iter_archive_folders(self.archive_dir):
            yield month.relative_to(self.archive_dir).as_posix(), month

    def folder_units(self, month: Path) -> Iterator[tuple[str, Path]]:
        """``units`` of one month folder."""
        for p in arc.iter_folder_units(month):
            yield p.relative_to(self.archive_dir).as_posix(), p

    def legacy_entries(self, home: Path) -> list[ArchiveEntry]:
        return legacy.legacy_entries(home, self.archive_dir, self.max_expand or legacy.MAX_LEGACY_BYTES)

    # -- reading -----------------------------------------------------------------------
    def read(self, entry: ArchiveEntry, on_file: OnFile | None = None, only: set[str] | None = None) -> arc.ReadResult:
        """Stream through a unit, every member checked against its hash (see
        ``format.read_archive``); ``on_file`` receives the members in ``only`` (or all)."""
        if entry.status == "legacy":
            path = self.path(entry)
            raw = legacy.gunzip(path, self.max_expand or legacy.MAX_LEGACY_BYTES)
            m = legacy.manifest(entry, raw, self.history_dir)
            if on_file is not None and (only is None or m.files[0].path in only):
                on_file(m.files[0], io.BytesIO(raw))
            return arc.ReadResult(m, entry.archive_sha256 or "", entry.size_bytes)
        if not is_delta(entry):

            def plain(f: arc.ManifestFile, stream: IO[bytes]) -> None:
                if f.delta is not None:
                    raise _DeltaUnit  # an index row that does not know its unit is a delta
                if on_file is not None:
                    on_file(f, stream)

            try:
                return arc.read_archive(self.local(entry), plain, max_expand=self.max_expand, only=only)
            except _DeltaUnit:
                pass
        rebuilt = self.chains.rebuild(entry, only, ensure_private_dir(self.tmp_dir))
        try:
            for f in rebuilt.result.manifest.files:
                sink = rebuilt.files.get(f.path)
                if on_file is not None and sink is not None and sink.spool is not None:
                    on_file(f, sink.spool)
        finally:
            rebuilt.close()
        return rebuilt.result

    def manifest(self, entry: ArchiveEntry) -> arc.Manifest:
        """The unit's manifest (for a legacy archive, one describing it as a native unit)."""
        if entry.status == "legacy":
            return self.read(entry).manifest
        m = arc.read_manifest(self.local(entry))
        m.inherit_meta(entry.meta)  # a delta unit's unrepeated metadata is in its row
        return m

    def refs(self, entry: ArchiveEntry) -> list[FileRef]:
        """The unit's files as readable refs (spooled); close them with ``close_refs``."""
        if entry.status == "legacy":
            out: list[FileRef] = []

            def keep_bytes(f: arc.ManifestFile, stream: IO[bytes]) -> None:
                out.append(BytesRef(f.path, stream.read()))

            self.read(entry, keep_bytes)
            return out
        refs: list[FileRef] = []
        try:
            tmpdir: Path | None = ensure_private_dir(self.tmp_dir)
        except OSError:  # a read-only home: spool in the system's private temporary files
            tmpdir = None
        if is_delta(entry):
            rebuilt = self.chains.rebuild(entry, None, tmpdir)
            for f in rebuilt.result.manifest.files:
                sink = rebuilt.files[f.path]
                assert sink.spool is not None
                refs.append(SpooledRef(f.path, f.size, sink.spool))
            return refs

        def keep(f: arc.ManifestFile, stream: IO[bytes]) -> None:
            refs.append(spool(f.path, f.size, stream, tmpdir, arc.CHUNK))

        try:
            self.read(entry, keep)
        except BaseException:
            close_refs(refs)
            raise
        return refs

    def verify(self, entry: ArchiveEntry, memo: dict | None = None) -> str | None:
        """What is wrong with the unit ``entry`` names, or None (read-only). A delta
        unit's chain is checked too, link by link; pass one ``memo`` to a run of calls
        so each unit is read once (see ``Chains.check``)."""
        memo = {} if memo is None else memo
        problem = self._verify_unit(entry, memo)
        if problem is not None:
            # A version built on this unit is damaged with it, even where a damaged byte
            # (a frame header's window bit) would still let its chain decode.
            memo[entry.archive_path] = problem
        return problem

    def _verify_unit(self, entry: ArchiveEntry, memo: dict) -> str | None:
        path = self.path(entry)
        if entry.status == "legacy":
            return legacy.verify(path, entry, self.max_expand or legacy.MAX_LEGACY_BYTES)
        try:
            back = arc.read_archive(path, max_expand=self.max_expand)
        except DataError as exc:
            return str(exc)
        if entry.archive_sha256 and back.archive_sha256 != entry.archive_sha256:
            return "the archive's sha256 differs from the index"
        if back.manifest.content_sha256 != entry.content_sha256:
            return "the content differs from the index"
        if back.manifest.session_id != entry.session_id or back.manifest.version != entry.meta.get(
            "origin_version", entry.version
        ):
            return "the archive holds another session or version"
        if back.manifest.base is not None:
            return self.chains.check(entry, memo)
        return None

    def chain(self, entry: ArchiveEntry) -> list[ArchiveEntry]:
        """``entry`` and the versions it is rebuilt from, itself first (fetching evicted
        units back). A unit with no base is its own chain."""
        if entry.status == "legacy" or not is_delta(entry):
            return [entry]
        return [link.entry for link in self.chains.links(entry)]

    def read_back(self, rel: str, staged: Path | None = None) -> arc.ReadResult:
        """Read a local unit whole, verified (after writing it, or to adopt it; from its
        ``staged`` temporary file if it is not published yet). A delta unit's members
        are its tails: this checks the unit, not its chain."""
        return arc.read_archive(staged or self.path(rel), max_expand=self.max_expand)

    # -- writing -----------------------------------------------------------------------
    def write(
        self,
        rel: str,
        manifest: arc.Manifest,
        files: list[arc.SourceFile],
        fault: Callable[[str], None] | None = None,
        staged: bool = False,
    ) -> arc.WriteResult:
        return arc.write_archive(self.path(rel), manifest, files, level=self.level, fault=fault, staged=staged)

    def write_packed(
        self, rel: str, packed: arc.Packed, files: int, fault: Callable[[str], None] | None = None, staged: bool = False
    ) -> arc.WriteResult:
        """``write`` for a unit a sweep's worker packed (``arc.pack_archive``)."""
        return arc.write_packed(self.path(rel), packed, files, fault=fault, staged=staged)

    def exists(self, rel: str) -> bool:
        return self.path(rel).exists()

    def delete(self, entry: ArchiveEntry | str) -> bool:
        """Delete a unit's local file; False if it was not there. Legacy files are never
        deleted (the caller never asks: prune skips them)."""
        try:
            self.path(entry).unlink()
            return True
        except FileNotFoundError:
            return False

    def size_on_disk(self, entry: ArchiveEntry) -> int | None:
        try:
            return self.path(entry).stat().st_size
        except OSError:
            return None


def is_delta(entry: ArchiveEntry) -> bool:
    """Whether the index says ``entry`` is stored as what was appended to a base."""
    return bool(entry.meta.get(arc.BASE_META))
