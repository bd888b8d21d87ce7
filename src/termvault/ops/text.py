"""Parsing a session's records and keeping its searchable text in the index.

Only the newest version of a session is searchable. Removing an older version's text
from the contentless full-text tables needs that exact text, which is re-derived from its
archive and checked against the hash it was indexed with.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections import OrderedDict
from collections.abc import Sequence

from ..errors import TermvaultError
from ..index import fulltext
from ..model import ArchiveEntry, FileRef, SessionInfo, SessionUnit
from ..sources.base import Source, clean_info, parse_time
from ..streams import close_refs
from .context import Context

log = logging.getLogger(__name__)

# The texts indexed last, so that a session's next version takes its predecessor's text
# out without re-deriving it (for a version stored as a delta, a rebuild of its chain
# and a parse of the whole file). Keyed by (index object, row); a cached text is used
# only if it hashes to what the row was indexed with, else it is re-derived.
_RECENT: OrderedDict[tuple[int, int | None], fulltext.Prepared] = OrderedDict()
RECENT_TEXTS = 8


def parse(src: Source, refs: Sequence[FileRef], unit: SessionUnit | None) -> SessionInfo:
    """What ``src`` finds in ``refs``, cleaned; a parser bug becomes a warning count."""
    try:
        info = src.parse(list(refs)) if unit is None else src.parse_unit(list(refs), unit)
    except Exception as exc:  # a source bug must not stop the sweep or lose the unit
        log.warning("%s parser failed on %s: %s", src.kind, unit.session_id if unit else "?", exc)
        info = SessionInfo(parse_warnings=1)
    clean_info(info)
    # Sources may hand back any number: keep only plausible finite times.
    info.created_at = parse_time(info.created_at)
    info.last_activity_at = parse_time(info.last_activity_at)
    if unit is not None:
        wd = info.working_directory
        if wd and not os.path.isabs(wd):
            # Sources that only see relative paths give the folder relative to the root.
            info.working_directory = os.path.normpath(os.path.join(unit.root, wd))
        if not info.name:
            info.name = unit.session_id
        if not info.last_activity_at:
            info.last_activity_at = unit.mtime
    return info


def searchable_text(ctx: Context, entry: ArchiveEntry) -> str:
    """The searchable text of an archived version, re-derived from its archive."""
    refs = ctx.store.refs(entry)
    try:
        return parse(ctx.sources.get(entry.source), refs, None).text
    finally:
        close_refs(refs)


def index_text(ctx: Context, entry: ArchiveEntry, prepared: fulltext.Prepared | None = None) -> None:
    """Make ``entry`` the searchable version of its session (inside the caller's
    transaction): its text in, the older versions' text out (best effort: one that
    cannot be re-derived exactly stays, never shown, since searches join the newest)."""
    if not ctx.config.full_text:
        return
    if prepared is None:
        prepared = fulltext.prepare(searchable_text(ctx, entry))
    for old, sha in ctx.index.add_text(entry, prepared):
        cached = _RECENT.pop((id(ctx.index), old.row_id), None)
        if cached is not None and ctx.index.remove_text(old.row_id, cached, sha):
            continue
        try:
            old_text = searchable_text(ctx, old)
        except Exception:  # a missing or unreadable archive: its rows stay invisible
            continue
        ctx.index.remove_text(old.row_id, fulltext.prepare(old_text), sha)
    _RECENT[(id(ctx.index), entry.row_id)] = prepared
    while len(_RECENT) > RECENT_TEXTS:
        _RECENT.popitem(last=False)


def drop_text(ctx: Context, entry: ArchiveEntry) -> None:
    """Take ``entry``'s text out of the index (it is being pruned)."""
    sha = ctx.index.text_sha256(entry.row_id)
    if sha is None:
        return
    with contextlib.suppress(Exception):
        ctx.index.remove_text(entry.row_id, fulltext.prepare(searchable_text(ctx, entry)), sha)


def index_fetched(ctx: Context, entry: ArchiveEntry) -> None:
    """A unit known only from the bucket had no full text: index it now that it is here."""
    newest = ctx.index.get_entry(entry.session_id)
    if newest is None or newest.row_id != entry.row_id or ctx.index.has_text(entry.row_id):
        return
    try:
        with ctx.index.transaction():
            index_text(ctx, entry)
    except (TermvaultError, OSError) as exc:
        log.warning("could not index the text of %s: %s", entry.session_id, exc)
