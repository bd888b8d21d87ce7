"""The remote tier behind the archive store: units on S3-compatible object storage, the
local disk a cache of them.

Each unit is uploaded to ``<prefix>/<host>/YYYY/MM/<name>.tar.zst`` (its path under
``archive/``, below the machine's own host folder), then read back whole and checked
against its sha256; only then may its local copy be evicted. Reading an evicted unit
fetches it back into the cache, checked against its hash, without the caller noticing.
Units of other machines are cached under ``archive/hosts/<host>/``. The index records,
per version, the object's key, when a full read-back last matched, and whether the
local copy is here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from ..errors import DataError, IntegrityError, UsageError
from ..fsutil import atomic_writer
from ..model import ArchiveEntry
from . import format as arc
from .objects import SHA_ATTR, ObjectStore, RemoteSpec

log = logging.getLogger(__name__)

FOREIGN_DIR = "hosts"  # other machines' units are cached at archive/hosts/<host>/YYYY/MM/...


class RemoteRows(Protocol):
    """What the remote tier reads and records in the index."""

    def remote_key(self, row_id: int | None) -> str | None: ...

    def set_remote(self, row_id: int | None, **values: Any) -> None: ...


def own_key(spec: RemoteSpec, entry: ArchiveEntry) -> str:
    return f"{spec.host}/{entry.archive_path}"


def foreign_relpath(host: str, rel: str) -> str:
    """Where a unit of another machine is cached under ``archive/``."""
    return f"{FOREIGN_DIR}/{host}/{rel}"


class RemoteTier:
    """A bucket prefix as the backing store of the local archive cache. The client is
    created on first use, so a home with a remote opens without touching the network."""

    def __init__(self, spec: RemoteSpec, rows: RemoteRows, max_expand: int | None = None):
        self.spec = spec
        self.rows = rows
        self.max_expand = max_expand
        self._objects: ObjectStore | None = None
        self.on_fetched: Callable[[ArchiveEntry], None] = lambda entry: None

    @property
    def objects(self) -> ObjectStore:
        if self._objects is None:
            self._objects = ObjectStore(self.spec)
        return self._objects

    def ensure_local(self, entry: ArchiveEntry, path: Path) -> None:
        """Fetch ``entry``'s archive into ``path`` if it is missing there and the remote
        holds it; otherwise leave the caller to report it missing."""
        if path.exists() or entry.row_id is None:
            return
        key = self.rows.remote_key(entry.row_id)
        if key:
            self.fetch(entry, key, path)

    def fetch(self, entry: ArchiveEntry, key: str, path: Path) -> None:
        """Download ``key`` to ``path`` atomically, checked against the recorded sha256
        (or, lacking one, every member's), then mark it present."""
        store = self.objects
        with atomic_writer(path, readable=True) as fh:
            sha, size, attrs = store.download(key, fh)
            fh.flush()
            expected = entry.archive_sha256 or attrs.get(SHA_ATTR)
            if size != entry.size_bytes or (expected and sha != expected):
                raise IntegrityError(
                    f"{store.spec.display(key)} does not match the hash recorded for it; "
                    "the local cache was left untouched."
                )
            if not expected:  # no recorded hash of the whole: check every member
                back = arc.read_archive(Path(fh.name), max_expand=self.max_expand)
                if back.manifest.session_id != entry.session_id or back.manifest.content_sha256 != entry.content_sha256:
                    raise IntegrityError(f"{store.spec.display(key)} holds another session than the index says.")
        self.rows.set_remote(entry.row_id, local_present=1, remote_verified_at=time.time(), archive_sha256=sha)
        log.info("fetched %s from the remote", entry.archive_path)
        self.on_fetched(entry)


def no_remote(entry: ArchiveEntry) -> DataError:
    return DataError(
        f"{entry.archive_path} is kept only in a remote, and no remote is configured; "
        "set remote in config.toml to read it."
    )


def spec_or_error(spec: RemoteSpec | None) -> RemoteSpec:
    if spec is None:
        raise UsageError('No remote is configured; set remote = "s3://bucket/prefix" in config.toml.')
    return spec
