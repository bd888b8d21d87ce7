"""A sweep of a transcript that only grew reads what was appended, not the whole file.

When a source can parse a unit a part at a time (``Source.resumable``: Claude Code's
main transcript alone, a plain Codex rollout), the sweep keeps, in this process, where
its pass over the newest version stopped: the parser's state, the full text prepared
so far (``index.textresume``), the file's size and the version's content digest. The
next sweep of that session, if the new version is stored as a tail of that same
version (its first bytes are exactly the previous file: the hash of the whole file,
still read once, proves it), parses only the appended records, adds their turns to
the text, and compresses only the chunks that changed. Anything else (no state, a
file that was rewritten or ends in a cut line, a layout the reader cannot continue, a
parser error) takes the whole path, which also starts a new state.

The state lives in memory only, for the sessions swept last (``MAX_SESSIONS``): a
long-running daemon and a vault object that sweeps again gain; a fresh process reads
each session whole once. A cached state never decides what is archived: the archive
holds the file's bytes whatever the parser saw.
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .. import archive as arc
from ..index import fulltext
from ..index.textresume import TextState
from ..model import SessionInfo, SessionUnit
from ..sources.base import Message, Source
from ..streams import BoundedReader, HashingDiskFile, Reader
from .text import MAX_CONVERSATION_BYTES, conversation_turns, finish_info

log = logging.getLogger(__name__)

# What is kept: the states of the sessions swept last, at most this many and about this
# much memory (a Claude Code state holds a 1 MiB filter; a text state about three bytes
# per character of the session's searchable text, which is capped at 4 Mi characters).
MAX_SESSIONS = 16
MAX_BYTES = 96 * 1024 * 1024


class PartReader(Protocol):
    """What ``Source.resumable`` returns (see ``sources.claude_code.Resumable``)."""

    def feed(self, ref: Any) -> None: ...

    def info(self) -> SessionInfo: ...

    def take(self) -> list[Message]: ...

    def cut_line(self, ref: Any) -> int | None: ...

    def drop_text(self) -> None: ...


@dataclass
class _State:
    content: str  # the content digest of the version it read
    relpath: str
    file_size: int  # that version's file
    file_sha256: str
    size: int  # the bytes the reader took: up to the file's last newline
    reader: PartReader
    text: TextState | None  # None: full text off when it was read
    steps: int = 0  # versions read from this state (after the whole read that began it)


_STATES: OrderedDict[tuple[str, str], _State] = OrderedDict()


def forget() -> None:
    """Drop every kept state (tests, and a process that wants its memory back)."""
    _STATES.clear()


@dataclass
class _Part:
    """A FileRef over bytes ``start``..``size`` of a file on disk."""

    relpath: str
    path: Path
    start: int
    end: int

    @property
    def size(self) -> int:
        return self.end - self.start

    def open(self) -> Reader:
        fh = open(self.path, "rb")  # noqa: SIM115  # closed with the reader
        try:
            fh.seek(self.start)
        except BaseException:
            fh.close()
            raise
        return BoundedReader(fh, self.end - self.start)


def parse_and_prepare(
    home: Path,
    src: Source,
    unit: SessionUnit,
    refs: list[HashingDiskFile],
    base_content: str | None,
    full_text: bool,
) -> tuple[SessionInfo, fulltext.Prepared | None] | None:
    """The unit's metadata and full text, reading only what was appended since the kept
    state when that is safe, else reading it whole through a reader that keeps a state
    for next time. None when the source cannot read this unit a part at a time (the
    caller then parses it as usual). Hashes every file (``refs``) on the way."""
    make = getattr(src, "resumable", None)
    if make is None or len(refs) != 1 or refs[0].opener is not None or unit.files[0].reader is not None:
        return None
    ref = refs[0]
    if full_text and (not src.conversational or ref.size > MAX_CONVERSATION_BYTES):
        return None  # its full text is the parser's (see ``text.prepare_text``)
    key = (str(home), unit.session_id)
    state = _STATES.pop(key, None)
    try:
        reader = make(refs) if state is None else None
        if state is None and reader is None:
            return None  # a layout it cannot read in parts: one read, the usual one
        ref.ensure_hash()  # the whole file, once: it proves the prefix is the state's version
        if state is None or not _continues(state, ref, base_content, full_text):
            reader = reader or make(refs)
            if reader is None:
                return None
            state = _State("", ref.relpath, 0, "", 0, reader, TextState() if full_text else None)
        else:
            state.steps += 1
        # Records are read up to the last newline; a cut line after it (a record being
        # written) counts as the whole parse counts it, and is read again next time.
        end = _line_end(ref.path, state.size, ref.size)
        if end > state.size:
            state.reader.feed(_Part(ref.relpath, ref.path, state.size, end))
        cut = state.reader.cut_line(_Part(ref.relpath, ref.path, end, ref.size)) if end < ref.size else 0
        info = state.reader.info()
        info.parse_warnings += cut or 0
        info = finish_info(info, unit)
        messages = state.reader.take()
        fts = None
        if full_text:
            assert state.text is not None
            if info.plain_output:
                return None
            if state.text.turns == 0:  # nothing prepared yet: is it a conversation?
                turns = conversation_turns(messages, fulltext.TEXT_CAP)
                if turns is None:
                    return None  # not a conversation (yet): the parser's text is searched
                state.text.feed(turns)
            else:
                state.text.feed(messages)
            fts = state.text.result()
            state.reader.drop_text()
        else:
            state.text = None  # its turns went by unprepared: it cannot go on
            # Nor is the parser's text used without full text (``_weight`` does not count
            # it): up to 4 Mi characters a state would keep for nothing.
            state.reader.drop_text()
        state.size = end
        state.file_size, state.file_sha256 = ref.size, ref.sha256 or ""
        state.content = arc.content_digest([(ref.relpath, state.file_sha256)])
        _STATES[key] = state
        while len(_STATES) > MAX_SESSIONS or sum(map(_weight, _STATES.values())) > MAX_BYTES:
            _STATES.popitem(last=False)
        # A last line that is a whole record without its newline yet: this version is
        # read whole by the caller; the state (up to the newline before it) goes on.
        return None if cut is None else (info, fts)
    except Exception as exc:  # a reader that cannot go on: the usual whole parse
        log.debug("%s: read whole (%s)", unit.session_id, exc)
        return None


def _weight(state: _State) -> int:
    """About how much memory ``state`` holds."""
    return (1 << 20) + (3 * state.text.size if state.text is not None else 0)


def _continues(state: _State, ref: HashingDiskFile, base_content: str | None, full_text: bool) -> bool:
    """Whether ``ref`` is the file ``state`` read with bytes appended, and that version
    is the new one's base."""
    return (
        base_content is not None
        and state.content == base_content
        and state.relpath == ref.relpath
        and ref.mark_at == state.file_size
        and ref.prefix_sha256 == state.file_sha256
        and ref.sha256 is not None
        and (state.text is not None or not full_text)
    )


def _line_end(path: Path, start: int, end: int) -> int:
    """The offset just past the last newline in bytes ``start``..``end`` of ``path``
    (``start`` if there is none), read backwards."""
    with open(path, "rb") as fh:
        pos = end
        while pos > start:
            lo = max(start, pos - 65536)
            block = os.pread(fh.fileno(), pos - lo, lo)
            if len(block) != pos - lo:
                raise OSError(f"{path} shrank while it was read")
            nl = block.rfind(b"\n")
            if nl >= 0:
                return lo + nl + 1
            pos = lo
    return start
