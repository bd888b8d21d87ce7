"""Parsing a session's records and keeping its searchable text in the index.

Only the newest version of a session is searchable. Its text is prepared from its
conversation (``Source.messages``: each turn with its role) by ``fulltext.prepare`` and
stored in the index as compressed frames; an older version's text is taken out from its
own frames, so nothing is re-derived from an archive for that.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Iterable, Iterator, Sequence

from ..errors import TermvaultError
from ..index import fulltext
from ..model import ArchiveEntry, FileRef, SessionInfo, SessionUnit
from ..sources.base import Message, Source, clean_info, parse_time
from ..streams import close_refs
from .context import Context

log = logging.getLogger(__name__)
# A conversation's turns are built from all of its records (sub-agents nest under the call
# that spawned them), so memory grows with the session: past this size the text the
# parser streamed (capped, in one stream, roles not told apart) is what is searched.
MAX_CONVERSATION_BYTES = 32 * 1024 * 1024
# Roles that say a source's messages are a conversation; a terminal recording's are its
# output, for which the text its parser made (the screen as it read) is better.
_CONVERSATION = frozenset({"user", "assistant", "tool", "tool_result"})


def parse(src: Source, refs: Sequence[FileRef], unit: SessionUnit | None) -> SessionInfo:
    """What ``src`` finds in ``refs``, cleaned; a parser bug becomes a warning count."""
    try:
        info = src.parse(list(refs)) if unit is None else src.parse_unit(list(refs), unit)
    except Exception as exc:  # a source bug must not stop the sweep or lose the unit
        log.warning("%s parser failed on %s: %s", src.kind, unit.session_id if unit else "?", exc)
        info = SessionInfo(parse_warnings=1)
    return finish_info(info, unit)


def finish_info(info: SessionInfo, unit: SessionUnit | None) -> SessionInfo:
    """A source's ``info`` cleaned and completed from the unit (``parse``'s last step)."""
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


def prepare_text(src: Source, refs: Sequence[FileRef], info: SessionInfo) -> fulltext.Prepared:
    """The full text of a unit from its conversation (turns with roles, whole tool
    outputs), or from ``info.text`` for a source whose messages are not a conversation.
    Plain data: a sweep may run this in a worker process."""
    if src.conversational and not info.plain_output and sum(r.size for r in refs) <= MAX_CONVERSATION_BYTES:
        messages: Iterable[Message] = ()
        try:
            messages = src.messages(list(refs))
            turns = _conversation(messages, fulltext.TEXT_CAP)
            if turns is not None:
                return fulltext.prepare(turns)  # reads turns only up to the text cap
        except Exception as exc:  # a source bug: its parser's text is still searchable
            log.warning("%s messages failed: %s", src.kind, exc)
        finally:
            close = getattr(messages, "close", None)
            if close is not None:
                close()  # a generator stopped at the cap lets go of its files now
    return fulltext.prepare(info.text)


def conversation_turns(messages: Iterable[Message], cap: int) -> Iterator[Message] | None:
    """What ``prepare_text`` prepares of ``messages`` when it is a conversation, else None."""
    return _conversation(messages, cap)


def _conversation(messages: Iterable[Message], cap: int) -> Iterator[Message] | None:
    """``messages`` (read lazily, so memory stays bounded for a multi-GB session) if they
    hold a conversation turn before ``cap`` characters of other output, else None."""
    it = iter(messages)
    head: list[Message] = []
    size = 0
    for m in it:
        head.append(m)
        if m.role in _CONVERSATION:
            return itertools.chain(head, it)
        size += len(m.text or "")
        if size >= cap:
            return None
    return None


def prepared_text(ctx: Context, entry: ArchiveEntry) -> fulltext.Prepared:
    """``prepare_text`` of an archived version, read from its archive (legacy included)."""
    refs = ctx.store.refs(entry)
    try:
        src = ctx.sources.get(entry.source)
        return prepare_text(src, refs, parse(src, refs, None))
    finally:
        close_refs(refs)


def index_text(ctx: Context, entry: ArchiveEntry, prepared: fulltext.Prepared | None = None) -> None:
    """Make ``entry`` the searchable version of its session (inside the caller's
    transaction): its text in, the older versions' text out (read from the index)."""
    if not ctx.config.full_text:
        return
    if prepared is None:
        prepared = prepared_text(ctx, entry)
    with ctx.index.transaction():
        ctx.index.add_text(entry, prepared)


def drop_text(ctx: Context, entry: ArchiveEntry) -> None:
    """Take ``entry``'s text out of the index (it is being pruned)."""
    if ctx.index.has_text(entry.row_id):
        with ctx.index.transaction():
            ctx.index.remove_text(entry.row_id)


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
