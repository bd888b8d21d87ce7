"""What an operation works with: the parts of an open home, explicitly.

The index, settings, journal and lock are given; the archive store, the sources and the
remote tier are built the first time an operation asks for them, so one that only reads
the index (``stats``, a search with hits) never loads the archive format, zstandard, the
source plug-ins or the object-store client."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..archive.remote import RemoteTier
    from ..archive.store import ArchiveStore
    from ..config import Config
    from ..index import ArchiveIndex
    from ..journal import Journal
    from ..lock import HomeLock
    from ..sources.configured import SourceSet


def _no_fault(step: str) -> None:
    pass


@dataclass(eq=False)
class Context:
    config: Config
    index: ArchiveIndex
    journal: Journal
    lock: HomeLock
    fault: Callable[[str], None] = field(default=_no_fault)
    _built: dict[str, Any] = field(default_factory=dict, repr=False)
    _building: threading.RLock = field(default_factory=threading.RLock, repr=False)

    @property
    def home(self) -> Path:
        return self.config.home

    def _part(self, name: str, build: Callable[[], Any]) -> Any:
        with self._building:  # one of each, whichever thread asks first
            if name not in self._built:
                self._built[name] = build()
            return self._built[name]

    @property
    def sources(self) -> SourceSet:
        return self._part("sources", self._sources)

    @property
    def remote(self) -> RemoteTier | None:
        return self._part("remote", self._remote)

    @property
    def store(self) -> ArchiveStore:
        return self._part("store", self._store)

    def _sources(self) -> SourceSet:
        from ..sources.configured import SourceSet  # lazy: the source plug-ins load only to read sources

        return SourceSet(self.config)

    def _remote(self) -> RemoteTier | None:
        if not self.config.remote:
            return None
        from ..archive.objects import RemoteSpec  # lazy: the remote tier loads only when one is configured
        from ..archive.remote import RemoteTier  # lazy: as above
        from .text import index_fetched  # lazy: as above

        spec = RemoteSpec.from_config(self.config)
        if spec is None:
            return None
        tier = RemoteTier(spec, self.index, self.config.max_expand_bytes)
        tier.on_fetched = lambda entry: index_fetched(self, entry)
        return tier

    def _store(self) -> ArchiveStore:
        from ..archive.store import ArchiveStore  # lazy: the archive format (zstandard) loads to touch an archive

        c = self.config
        return ArchiveStore(
            c.archive_dir, c.history_dir, self.home / ".tmp", c.max_expand_bytes, c.level, self.remote, self.index
        )
