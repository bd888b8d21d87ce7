"""The multi-terminal app's own API, on termvault: ``SessionStorage`` (with its lazy
loader and workspace files), ``SessionState``, ``WorkspaceState``, ``WorkspaceData``,
``SessionArchiver``, and the index's ``ArchiveIndex`` / ``ArchiveEntry``. Same names,
signatures, defaults, file names and results as the app's ``persistence`` and
``archiver`` modules; where the app's own code loses data or races, termvault's behaviour
is kept and the docstring says so. Names load lazily: importing ``compat.state`` does not
open the vault machinery.
"""

from __future__ import annotations

from ..lazy import exports

_EXPORTS = {
    "SessionState": "termvault.compat.state",
    "WorkspaceState": "termvault.compat.state",
    "WorkspaceData": "termvault.compat.state",
    "SessionStorage": "termvault.compat.storage",
    "SessionArchiver": "termvault.compat.archiver",
    "LazyLoader": "termvault.compat.lazy_loader",
    "ArchiveIndex": "termvault.index",
    "ArchiveEntry": "termvault.index",
}

__all__ = list(_EXPORTS)
__getattr__ = exports(__name__, _EXPORTS)
