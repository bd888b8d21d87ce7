"""The SQLite index: rows, full text and queries. The only package that speaks SQL.

Names are imported lazily (PEP 562), so that ``termvault.index.totals`` (the quick
``termvault stats``) loads without the rest of the package.
"""

from __future__ import annotations

from ..lazy import exports

_EXPORTS = {
    "ArchiveEntry": "termvault.model",
    "LATEST_LIVE": "termvault.index.db",
    "is_corruption": "termvault.index.db",
    "MB": "termvault.index.totals",
    "ArchiveIndex": "termvault.index.entries",
}

__all__ = ["LATEST_LIVE", "MB", "ArchiveEntry", "ArchiveIndex", "is_corruption"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..model import ArchiveEntry
    from .db import LATEST_LIVE, is_corruption
    from .entries import ArchiveIndex
    from .totals import MB

__getattr__ = exports(__name__, _EXPORTS)
