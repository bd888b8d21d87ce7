"""termvault: archive, index, search and restore terminal and AI-agent sessions.

The seed API of the multi-terminal app (``SessionStorage``, ``SessionArchiver``,
``ArchiveIndex``, ``ArchiveEntry``, ``SessionState``) and the ``Vault`` facade. Names are
imported lazily so ``import termvault`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "ArchiveEntry": "termvault.index",
    "ArchiveIndex": "termvault.index",
    "SessionState": "termvault.state",
    "SessionArchiver": "termvault.archiver",
    "SessionStorage": "termvault.storage",
    "Vault": "termvault.vault",
    "Config": "termvault.config",
    "TermvaultError": "termvault.errors",
}

__all__ = [
    "ArchiveEntry", "ArchiveIndex", "Config", "SessionArchiver", "SessionState", "SessionStorage",
    "TermvaultError", "Vault", "__version__",
]  # fmt: skip

if TYPE_CHECKING:
    from .archiver import SessionArchiver
    from .config import Config
    from .errors import TermvaultError
    from .index import ArchiveEntry, ArchiveIndex
    from .state import SessionState
    from .storage import SessionStorage
    from .vault import Vault


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'termvault' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
