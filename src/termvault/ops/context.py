"""What an operation works with: the parts of an open home, explicitly."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..archive.remote import RemoteTier
from ..archive.store import ArchiveStore
from ..config import Config
from ..index import ArchiveIndex
from ..journal import Journal
from ..lock import HomeLock
from ..sources.configured import SourceSet


def _no_fault(step: str) -> None:
    pass


@dataclass
class Context:
    config: Config
    index: ArchiveIndex
    store: ArchiveStore
    journal: Journal
    sources: SourceSet
    lock: HomeLock
    remote: RemoteTier | None = None
    fault: Callable[[str], None] = field(default=_no_fault)

    @property
    def home(self) -> Path:
        return self.config.home
