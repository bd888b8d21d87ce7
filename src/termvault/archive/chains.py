"""Delta chains: a version whose unit holds only what was appended since its base is
rebuilt from the chain of units below it, every link checked.

A file of a delta unit is its base version's file followed by the unit's member (the
tail). Rebuilding a file reads each unit of its chain once, oldest first, appending to
one spool (memory, then a private temporary file: memory stays bounded), and hashes as
it goes: before each tail is appended the bytes so far must be exactly the base file the
unit names (size and sha256), and after it they must be exactly that version's file.
Every unit read is itself checked member by member (``format.read_archive``).

Bases are found through the index (``ChainRows``): any archived version of the session
whose content sha256 is the one the unit names holds the same files, so a base archived
twice, or renumbered by a reindex, still serves.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from ..errors import DataError, IntegrityError
from ..model import ArchiveEntry
from ..streams import ChunkSource, new_spool
from . import format as arc

MAX_LINKS = 100_000  # far past any chain the writer makes: a loop guard


class ChainRows(Protocol):
    """What a chain needs from the index."""

    def versions(self, session_id: str) -> list[ArchiveEntry]: ...

    def remote_key(self, row_id: int | None) -> str | None: ...


@dataclass
class Link:
    entry: ArchiveEntry
    manifest: arc.Manifest


def describe(entry: ArchiveEntry) -> str:
    return f"version {entry.version} of {entry.session_id}"


class Sink:
    """Where a rebuilt file goes: hashed and counted, and kept in a spool under
    ``tmpdir`` (None: only its last bytes are kept, as the next link's dictionary)."""

    def __init__(self, tmpdir: Path | None):
        self.sha = hashlib.sha256()
        self.size = 0
        self.spool: IO[bytes] | None = (
            new_spool(tmpdir)  # closed by close()
            if tmpdir is not None
            else None
        )
        self.recent = bytearray()

    def take(self, stream: ChunkSource) -> None:
        while chunk := stream.read(arc.CHUNK):
            self.sha.update(chunk)
            self.size += len(chunk)
            if self.spool is not None:
                self.spool.write(chunk)
            else:
                self.recent += chunk
                if len(self.recent) > 2 * arc.MAX_DELTA_WINDOW:
                    del self.recent[: -arc.MAX_DELTA_WINDOW]

    def last(self, n: int) -> bytes:
        """The file's last ``n`` bytes so far (a delta's dictionary)."""
        if n <= 0:
            return b""
        if self.spool is None:
            if n > len(self.recent):
                raise IntegrityError("a delta asks for more of its base than was kept")
            return bytes(self.recent[-n:])
        self.spool.seek(self.size - n)
        data = self.spool.read(n)
        self.spool.seek(0, 2)
        return data

    def append(self, f: arc.ManifestFile, member: IO[bytes], where: str) -> None:
        """Append a delta file's tail, decoded from ``member`` against this file."""
        assert f.delta is not None
        self.take(arc.TailReader(self.last(f.delta.window), member, f.size - f.delta.base_size, where))

    def copy(self) -> Sink:
        """A hash-only continuation of this sink (for checking a later link)."""
        twin = Sink(None)
        twin.sha, twin.size = self.sha.copy(), self.size
        twin.recent = (
            bytearray(self.recent) if self.spool is None else bytearray(self.last(min(self.size, arc.MAX_DELTA_WINDOW)))
        )
        return twin

    def matches(self, size: int, sha256: str) -> bool:
        return self.size == size and self.sha.hexdigest() == sha256

    def close(self) -> None:
        if self.spool is not None:
            self.spool.close()


@dataclass
class Rebuilt:
    """A version rebuilt from its chain: its own unit's read result, and its files."""

    result: arc.ReadResult
    files: dict[str, Sink] = field(default_factory=dict)

    def close(self) -> None:
        for sink in self.files.values():
            sink.close()


class Chains:
    """Rebuilding and checking versions stored as deltas (the archive store's helper)."""

    def __init__(
        self,
        rows: ChainRows | None,
        local: Callable[[ArchiveEntry], Path],
        path: Callable[[ArchiveEntry], Path],
        max_expand: int | None,
    ):
        self.rows = rows
        self.local = local
        self.path = path
        self.max_expand = max_expand

    # -- finding the chain ---------------------------------------------------------------
    def base_of(
        self, entry: ArchiveEntry, base: arc.BaseRef, versions: list[ArchiveEntry] | None = None
    ) -> ArchiveEntry:
        """The archived version ``entry`` is built on; DataError naming both if none is.
        ``versions``: the session's rows, when the caller already has them."""
        found = None
        if self.rows is not None:
            host = _host_prefix(entry.archive_path)
            if versions is None:
                versions = self.rows.versions(base.session_id)
            candidates = [
                r
                for r in versions
                if r.content_sha256 == base.content_sha256
                and r.status == "archived"
                and r.archive_path != entry.archive_path
                and r.version < entry.version
            ]
            candidates.sort(key=lambda r: (_host_prefix(r.archive_path) != host, r.version != base.version, -r.version))
            found = candidates[0] if candidates else None
        if found is None:
            raise DataError(
                f"{describe(entry).capitalize()} holds only what was appended to version {base.version}, "
                "which is not in the archive (pruned, missing or corrupt); it cannot be rebuilt."
            )
        return found

    def links(self, entry: ArchiveEntry) -> list[Link]:
        """The chain of ``entry``, itself first, down to a unit with no base. Evicted
        units are fetched back (``local``)."""
        out = [Link(entry, arc.read_manifest(self.local(entry)))]
        seen = {entry.archive_path}
        versions = self.rows.versions(entry.session_id) if self.rows is not None and out[0].manifest.base else None
        while (base := out[-1].manifest.base) is not None:
            below = self.base_of(out[-1].entry, base, versions)
            if below.archive_path in seen or len(out) > MAX_LINKS:
                raise DataError(f"The chain of {describe(entry)} loops back on itself; run `termvault verify`.")
            seen.add(below.archive_path)
            m = arc.read_manifest(self.local(below))
            if m.content_sha256 != base.content_sha256:
                raise IntegrityError(
                    f"The base of {describe(out[-1].entry)} ({below.archive_path}) holds other content than "
                    "the index says."
                )
            out.append(Link(below, m))
        return out

    # -- rebuilding ----------------------------------------------------------------------
    def rebuild(self, entry: ArchiveEntry, only: set[str] | None, tmpdir: Path | None) -> Rebuilt:
        """Rebuild ``entry``'s files in ``only`` (or all) from its chain, each checked
        against its own sha256; spooled under ``tmpdir`` (None: hashed only)."""
        chain = self.links(entry)
        plan: dict[int, set[str]] = defaultdict(set)
        plan[0] = set()
        for f in chain[0].manifest.files:
            if only is not None and f.path not in only:
                continue
            k, cur = 0, f
            plan[0].add(f.path)
            while cur.delta is not None:
                below = _file(chain[k + 1].manifest, cur.path)
                if below is None or below.size != cur.delta.base_size or below.sha256 != cur.delta.base_sha256:
                    raise IntegrityError(
                        f"{cur.path} of {describe(chain[k].entry)} does not continue the file of its base "
                        f"({describe(chain[k + 1].entry)})."
                    )
                k, cur = k + 1, below
                plan[k].add(cur.path)
        sinks: dict[str, Sink] = {}
        out = Rebuilt(arc.ReadResult(chain[0].manifest, "", 0), sinks)
        try:
            for k in sorted(plan, reverse=True):  # the oldest unit first
                link = chain[k]

                def take(f: arc.ManifestFile, stream: IO[bytes], link: Link = link) -> None:
                    if f.delta is None:
                        if f.path in sinks:
                            sinks.pop(f.path).close()
                        sinks[f.path] = Sink(tmpdir)
                    elif f.path not in sinks or not sinks[f.path].matches(f.delta.base_size, f.delta.base_sha256):
                        raise IntegrityError(
                            f"{f.path} of {describe(link.entry)} does not continue the file of its base."
                        )
                    sink = sinks[f.path]
                    if f.delta is None:
                        sink.take(stream)
                    else:
                        sink.append(f, stream, f"{f.path} of {describe(link.entry)}")
                    if not sink.matches(f.size, f.sha256):
                        raise IntegrityError(
                            f"{f.path} of {describe(link.entry)}, rebuilt from its chain, does not match its sha256."
                        )

                back = arc.read_archive(self.local(link.entry), take, max_expand=self.max_expand, only=plan[k])
                if back.manifest.content_sha256 != link.manifest.content_sha256:
                    raise IntegrityError(f"{link.entry.archive_path} changed while it was being read.")
                if k == 0:
                    out.result = back
        except BaseException:
            out.close()
            raise
        for sink in sinks.values():
            if sink.spool is not None:
                sink.spool.seek(0)
        return out

    # -- checking (verify) ---------------------------------------------------------------
    def check(self, entry: ArchiveEntry, memo: dict[str, Any]) -> str | None:
        """What is wrong with ``entry``'s chain below it (read-only: evicted units are not
        fetched), or None. ``memo`` carries each checked unit's file hashes (or its
        problem) from one call to the next, so a whole vault is checked reading each unit
        once: a broken base is reported for every version built on it."""
        if _known(memo, entry.archive_path) or memo.get(entry.archive_path) is True:
            known = memo[entry.archive_path]
            return known if isinstance(known, str) else None
        chain: list[ArchiveEntry] = [entry]
        manifests: list[arc.Manifest | None] = []
        versions = None
        try:
            manifests.append(arc.read_manifest(self.path(entry)))
            while (m := manifests[-1]) is not None and m.base is not None:
                if versions is None and self.rows is not None:
                    versions = self.rows.versions(entry.session_id)
                below = self.base_of(chain[-1], m.base, versions)
                if below.archive_path in {e.archive_path for e in chain} or len(chain) > MAX_LINKS:
                    return "its chain loops back on itself"
                chain.append(below)
                if _known(memo, below.archive_path):
                    manifests.append(None)
                    break
                if not self.path(below).exists():
                    if self.rows is not None and self.rows.remote_key(below.row_id):
                        manifests.append(None)  # evicted after a verified upload: trusted
                        memo[below.archive_path] = None
                        break
                    memo[below.archive_path] = f"the archive {below.archive_path} is missing"
                    manifests.append(None)
                    break
                manifests.append(arc.read_manifest(self.path(below)))
        except DataError as exc:
            return _problem(entry, chain[-1], str(exc))
        # Check from the oldest link not yet known up to ``entry``.
        states: Any = None
        for k in range(len(chain) - 1, -1, -1):
            e = chain[k]
            if k == len(chain) - 1 and _known(memo, e.archive_path):
                states = memo[e.archive_path]
                continue
            if isinstance(states, str):
                states = f"it is built on {describe(chain[k + 1])}, which is damaged: {states}"
            else:
                states = self._check_unit(e, states)
            _remember(memo, e.archive_path, states)
        return states if isinstance(states, str) else None

    def _check_unit(self, e: ArchiveEntry, below: dict[str, Sink] | None) -> Any:
        """The unit's files (hash-only sinks) after reading it, or its problem (None:
        its base is evicted, so only the unit itself could be checked)."""
        states: dict[str, Sink] = {}
        unknown = False

        def take(f: arc.ManifestFile, stream: IO[bytes]) -> None:
            nonlocal unknown
            if f.delta is None:
                sink = Sink(None)
                sink.take(stream)
            elif below is None:
                unknown = True  # its base is evicted: only the unit is checked
                return
            else:
                prior = below.get(f.path)
                if prior is None or not prior.matches(f.delta.base_size, f.delta.base_sha256):
                    raise IntegrityError(f"{f.path} does not continue the file of its base")
                sink = prior.copy()
                sink.append(f, stream, f.path)
            if not sink.matches(f.size, f.sha256):
                raise IntegrityError(f"{f.path}, rebuilt from its chain, does not match its sha256")
            states[f.path] = sink

        try:
            arc.read_archive(self.path(e), take, max_expand=self.max_expand)
        except DataError as exc:
            return str(exc)
        return None if unknown else states


MEMO_STATES = 4  # units whose rebuilt hashes a check keeps for the next link


def _known(memo: dict[str, Any], path: str) -> bool:
    """Whether ``memo`` can answer for the unit at ``path`` (its problem, its files'
    states, or None for an evicted unit); True means checked but states dropped."""
    return path in memo and memo[path] is not True


def _remember(memo: dict[str, Any], path: str, state: Any) -> None:
    memo.pop(path, None)
    memo[path] = state
    kept = [k for k, v in memo.items() if isinstance(v, dict)]
    for k in kept[:-MEMO_STATES]:
        memo[k] = True  # verified fine; its hashes and window dropped to bound memory


def _file(m: arc.Manifest, path: str) -> arc.ManifestFile | None:
    return next((f for f in m.files if f.path == path), None)


def _host_prefix(rel: str) -> str:
    return "/".join(rel.split("/")[:2]) if rel.startswith("hosts/") else ""


def _problem(entry: ArchiveEntry, where: ArchiveEntry, message: str) -> str:
    if where is entry:
        return message
    return f"it is built on {describe(where)}, which is damaged: {message}"
