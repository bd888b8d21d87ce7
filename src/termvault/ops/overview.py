"""What ``stats`` shows: the index's totals, and whether the index seems lost (also said
when a search finds nothing). Reads the index only (the archive folder is listed only when
the index is empty), so these start without the archive format or the sources."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, TypeVar

from .context import Context

log = logging.getLogger(__name__)
Hits = TypeVar("Hits", bound=list[Any])

LOST_MESSAGE = (
    "The index {index} lists no sessions, yet {archive} holds archives: it was lost or replaced. "
    "Run `termvault reindex` to rebuild it (the next sweep also does)."
)


def stats(ctx: Context) -> dict[str, Any]:
    """The index's totals (the seed's ``get_stats`` keys, per source, per month, pins, the
    activity range) plus the storage cap and where the home is."""
    out = ctx.index.stats()
    out["max_total_bytes"] = ctx.config.max_total_bytes
    out["archive_directory"] = str(ctx.config.archive_dir)
    out["home"] = str(ctx.home)
    return out


def index_seems_lost(ctx: Context) -> bool:
    """The index is empty while ``archive/`` holds archives (deleted, or a fresh file)."""
    if not ctx.index.is_empty() or _empty_folder(ctx.config.archive_dir):
        return False
    return next(iter(ctx.store.units()), None) is not None


def warn_if_lost(ctx: Context) -> bool:
    """Say so (a warning) when the index seems lost; True if it does."""
    if index_seems_lost(ctx):
        log.warning(LOST_MESSAGE.format(index=ctx.config.index_path, archive=ctx.config.archive_dir))
        return True
    return False


def searched(ctx: Context, hits: Hits) -> Hits:
    """``hits`` as found; when there are none, say so if the index was lost."""
    if not hits:
        warn_if_lost(ctx)
    return hits


def _empty_folder(path: Path) -> bool:
    try:
        with os.scandir(path) as entries:
            return next(entries, None) is None
    except FileNotFoundError:
        return True
