"""termvault: archive, index, search and restore terminal and AI-agent sessions.

The multi-terminal app's API (``SessionStorage``, ``SessionState``, ``WorkspaceState``,
``WorkspaceData``, ``SessionArchiver``, ``ArchiveIndex``, ``ArchiveEntry``, ``LazyLoader``;
see ``termvault.compat``) and the ``Vault`` facade. Names are
imported lazily so ``import termvault`` stays fast.
"""

from __future__ import annotations

from .lazy import exports

__version__ = "0.1.0"

TYPE_CHECKING = False  # not from typing: importing it would cost every quick start

_EXPORTS = {
    "ArchiveEntry": "termvault.index",
    "ArchiveIndex": "termvault.index",
    "SessionState": "termvault.state",
    "WorkspaceState": "termvault.state",
    "WorkspaceData": "termvault.state",
    "SessionArchiver": "termvault.compat.archiver",
    "SessionStorage": "termvault.compat.storage",
    "LazyLoader": "termvault.compat.lazy_loader",
    "Vault": "termvault.vault",
    "Config": "termvault.config",
    "TermvaultError": "termvault.errors",
}

__all__ = [
    "ArchiveEntry", "ArchiveIndex", "Config", "LazyLoader", "SessionArchiver", "SessionState", "SessionStorage",
    "TermvaultError", "Vault", "WorkspaceData", "WorkspaceState", "__version__",
]  # fmt: skip

if TYPE_CHECKING:
    from .compat.archiver import SessionArchiver
    from .compat.lazy_loader import LazyLoader
    from .compat.storage import SessionStorage
    from .config import Config
    from .errors import TermvaultError
    from .index import ArchiveEntry, ArchiveIndex
    from .state import SessionState, WorkspaceData, WorkspaceState
    from .vault import Vault

__getattr__ = exports(__name__, _EXPORTS)
