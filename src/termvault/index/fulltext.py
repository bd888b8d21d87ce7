"""Full text: what of a session is searchable, prepared without touching the database.

``prepare`` turns a session's conversation (its turns, each with a role) or a plain text
into a ``Prepared``: plain, picklable data, so a sweep can prepare sessions in worker
processes and hand them to the writer. The text is

- made printable (escape sequences and other controls removed) and redacted;
- cleared of noisy tokens (base64 pieces, long letter/digit soup, 13+ digit numbers),
  which made up most of the index's distinct terms and are never searched as words. They
  stay in the archive, byte for byte; the index does not hold them;
- cleared of the line numbers a tool reading a file puts before each line;
- split into role streams (``user``, ``assistant`` with thinking, ``tool`` per tool
  name, ``other``), each cut into chunks of about ``CHUNK_CHARS`` characters.

Each chunk is stored twice, compactly: as an independently zstd-compressed frame in
``text_chunks`` (a snippet or a phrase check decompresses one frame of a few KB), and as
one row of the contentless FTS5 table ``fts_text`` whose rowid is the chunk's id. A turn
marker (``\\x1e<turn>\\x1f``) opens each turn's text in a frame, so a hit knows which turn
of the conversation it is in; the FTS5 body is the frame's text without the markers, plus
the character grams of its CJK runs (``body``), so it can be derived again from the frame
to delete it.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..redact import redact
from . import noisescan  # (RE2 itself is imported on the first text)

CHUNK_CHARS = 64 * 1024  # a chunk's text, before compression
TEXT_CAP = 4 * 1024 * 1024  # searchable characters kept per session
REPEAT_MIN = 200  # a passage this long seen before in the session is kept once
FRAME_LEVEL = 9
ROLES = ("user", "assistant", "tool", "other")
_ROLE_OF = {"user": "user", "assistant": "assistant", "thinking": "assistant", "tool": "tool", "tool_result": "tool"}

# Escape sequences (CSI, OSC, other ESC forms), C0/C1 controls but tab and newline, and
# bidirectional overrides. The turn markers use \x1e and \x1f, so text never holds them.
_CONTROLS = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[ -/]*[0-~]?"
    "|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"
)
# A noisy token: a run of 8+ ASCII letters and digits (what the tokenizer makes one term)
# that is not lowercase hex with a letter (hashes, commit ids and UUID parts are searched),
# with three or more letter/digit changes, or 20+ characters and a digit, or 7+ digits in
# a row, or random case (twice a lower-upper-upper or upper-lower-upper turn, which
# camelCase names rarely have). One compiled pattern, replaced with a string: no Python
# call per match. Each of those needs a digit or a capital, so a run of lowercase letters
# (most words) is let go after one scan of it, before the costlier tests.
_ALNUM = "A-Za-z0-9"
_SOUP = "(?:[a-z][A-Z]{2}|[A-Z][a-z][A-Z])"
# (``_NOISE_AT``, the same tests after the character before the token, which it captures:
# a pattern led by a character class lets ``re`` skip to the next candidate in C, where a
# leading look-behind is tried at every position. ``noise_free`` keeps that character.)
_NOISE_TESTS = (
    rf"(?=[a-z]*+[A-Z0-9])(?=[{_ALNUM}]{{8}})(?![0-9]*+[a-f][0-9a-f]*+(?![A-Za-z]))"
    r"(?:(?=[A-Za-z]++[0-9]++[A-Za-z]++[0-9]|[0-9]++[A-Za-z]++[0-9]++[A-Za-z])"
    rf"|(?=[{_ALNUM}]{{20}})(?=[A-Za-z]*+[0-9])|(?=[{_ALNUM}]*?[0-9]{{7}})"
    rf"|(?=(?>[{_ALNUM}]*?{_SOUP})[{_ALNUM}]*?{_SOUP}))[{_ALNUM}]++"
)
_NOISE = re.compile(rf"(?<![{_ALNUM}]){_NOISE_TESTS}")
_NOISE_AT = re.compile(rf"([^{_ALNUM}]){_NOISE_TESTS}")


_NOISE_AT_BYTES = re.compile(_NOISE_AT.pattern.encode("ascii"))


def noise_free(text: str) -> str:
    """``_NOISE.sub("", text)``: with RE2, only the regions where RE2 finds candidates
    are split (``noisescan``); else ``noise_free_everywhere``."""
    out = noisescan.noise_free(text, _NOISE_AT_BYTES)
    return noise_free_everywhere(text) if out is None else out


def noise_free_everywhere(text: str) -> str:
    """``_NOISE.sub("", text)``, a quarter cheaper: a split on ``_NOISE_AT`` keeps the
    captured character before each noisy token and drops the token (a space put first
    stands for the start of the text)."""
    return "".join(_NOISE_AT.split(" " + text))[1:]


# Runs of 512+ characters without white space are blobs (base64 images, minified code,
# encrypted reasoning): nobody searches them, and they dominate indexing time.
MAX_CHUNK_LENGTH = 512  # (found by splitting first: a regex probe costs 10x more)
_BLOB = re.compile(rf"(?<!\S)\S{{{MAX_CHUNK_LENGTH},}}")
MARK = re.compile(r"\x1e(\d+)\x1f")
# The line numbers a file-reading tool puts before each line (``    12→code``): they differ
# on every line, so they cost a twelfth of the frames, and nobody searches them.
_LINE_NUMBERS = re.compile(r"(?m)^ *\d{1,7}→")

# Chinese and Japanese (Han, kana) and Korean (Hangul) are written without spaces, so the
# word tokenizer makes a whole run one token and a word inside it could not be found. Each
# distinct run is also indexed as its characters and its overlapping character pairs: a
# one-character term is a character, a longer one the AND of its pairs (then checked in
# the frame). (U+30FB, the katakana middle dot, is punctuation to the tokenizer.)
_CJK = re.compile(
    "[\u3040-\u309f\u30a0-\u30fa\u30fc-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f]+"
)


class Turn(Protocol):
    """What ``prepare`` reads of a conversation's message (``sources.base.Message``)."""

    role: str
    text: str
    name: str | None
    extra: dict[str, Any]


@dataclass
class Chunk:
    role: str  # one of ROLES
    tool: str  # the tool's name for a tool chunk, else ""
    turn: int  # the first turn whose text it holds
    body: str  # what fts_text indexes (see ``body``)
    frame: bytes  # the chunk's text with turn markers, zstd-compressed


@dataclass
class Prepared:
    """A session's searchable text, ready for ``ArchiveIndex.add_text``."""

    chunks: list[Chunk] = field(default_factory=list)
    digest: str = ""  # sha256 of the chunks' text

    @property
    def chars(self) -> int:
        return sum(len(c.body) for c in self.chunks)


def has_cjk(text: str) -> bool:
    return _CJK.search(text) is not None


def cjk_grams(text: str) -> str:
    """For each distinct CJK run of ``text``: a line of its characters, then a line of
    its overlapping pairs (``最新版`` gives ``最 新 版`` and ``最新 新版``)."""
    lines: list[str] = []
    for run in dict.fromkeys(_CJK.findall(text)):
        lines.append(" ".join(run))
        if len(run) > 1:
            lines.append(" ".join(run[i : i + 2] for i in range(len(run) - 1)))
    return "\n".join(lines)


def cjk_terms(word: str) -> list[str]:
    """The FTS tokens that must all be in a chunk holding ``word`` (a run of word
    characters with CJK): the character (one) or the pairs of each CJK run, and the other
    parts as they are."""
    out: list[str] = []
    for part in _CJK.split(word):
        if part:
            out.append(part)
    for run in _CJK.findall(word):
        out.extend([run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)])
    return list(dict.fromkeys(out))


# The C0 controls and DEL as bytes: an ASCII text holds one of _CONTROLS' characters iff
# deleting these shortens it (a C translate: ten times cheaper than searching the pattern).
_C0_BYTES = bytes([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
# The characters _CONTROLS can match: a text without any has no control sequence either.
_CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def has_controls(text: str) -> bool:
    """Whether ``text`` holds a character ``clean`` removes as a control."""
    if text.isascii():
        raw = text.encode("ascii")
        return len(raw.translate(None, _C0_BYTES)) != len(raw)
    return _CONTROL_CHARS.search(text) is not None


def has_blob(text: str) -> bool:
    """Whether ``text`` holds a run of ``MAX_CHUNK_LENGTH`` characters without white space
    (``_BLOB``). Such a run lies within a line: only the lines that long are split into
    words (most texts have none; splitting all of it made an object of every word)."""
    if len(text) < MAX_CHUNK_LENGTH:
        return False
    for line in text.split("\n"):
        # (max over a C map: the same test as ``any(len(w) >= ... for w in ...)``, 25% cheaper)
        if len(line) >= MAX_CHUNK_LENGTH and max(map(len, line.split()), default=0) >= MAX_CHUNK_LENGTH:
            return True
    return False


def clean(text: str) -> str:
    """``text`` as it is indexed: printable, redacted, without blobs and noisy tokens."""
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates (undecodable bytes a parser kept)
            text = text.encode("utf-8", "replace").decode("utf-8")
    if has_controls(text):
        text = _CONTROLS.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = redact(text)
    if has_blob(text):
        text = _BLOB.sub(" ", text)
    return noise_free(text)


def body(text: str) -> str:
    """The FTS5 body of a chunk's text: without turn markers, plus its CJK grams."""
    plain = MARK.sub("\n", text)
    grams = cjk_grams(plain) if not plain.isascii() and _CJK.search(plain) else ""
    return plain + "\n" + grams if grams else plain


_LOCAL = threading.local()  # a compression and a decompression context per thread (not shareable)


def compress(text: str) -> bytes:
    return compress_bytes(text.encode("utf-8", "replace"))


def compress_bytes(data: bytes) -> bytes:
    # A context per thread (zstd contexts are not safe to share between threads), reused:
    # the frames are the same, without setting up the level's tables for each.
    cctx = getattr(_LOCAL, "cctx", None)
    if cctx is None:
        import zstandard  # lazy: commands that only read metadata (stats) never load the codec

        cctx = _LOCAL.cctx = zstandard.ZstdCompressor(level=FRAME_LEVEL)
    return cctx.compress(data)


class FrameError(ValueError):
    """A stored frame that does not decompress (a damaged page of the index)."""


def decompress(frame: bytes) -> str:
    return decompress_bytes(frame).decode("utf-8", "replace")


def decompress_bytes(frame: bytes) -> bytes:
    """A frame's text as UTF-8 bytes (a check looks for a literal in them first). The
    thread's context is reused: making one costs as much as decompressing a frame."""
    import zstandard  # lazy: see compress

    dctx = getattr(_LOCAL, "dctx", None)
    if dctx is None:
        dctx = _LOCAL.dctx = zstandard.ZstdDecompressor()
    try:
        return dctx.decompress(frame)
    except zstandard.ZstdError as exc:
        raise FrameError(str(exc)) from exc


def _turns(conversation: str | Iterable[Turn]) -> Iterable[tuple[int, str, str, str]]:
    """(turn index, role, tool, text) of each turn with text."""
    if isinstance(conversation, str):
        yield 0, "other", "", conversation
        return
    names: dict[str, str] = {}
    for i, m in enumerate(conversation):
        role = _ROLE_OF.get(m.role, "other")
        text = m.text or ""
        tool = ""
        if role == "tool":
            call_id = str((m.extra or {}).get("call_id") or "")
            tool = m.name or names.get(call_id, "")
            if m.role == "tool" and m.name:
                names[call_id] = m.name
                text = f"{m.name}\n{text}"  # a tool's name finds the sessions that called it
        if text:
            yield i, role, tool, text


def prepare(conversation: str | Iterable[Turn], cap: int = TEXT_CAP) -> Prepared:
    """The searchable text of a session given its turns (``Source.messages``) or a plain
    text: cleaned, in role streams cut into compressed chunks. Pure: no database."""
    streams: dict[tuple[str, str], list[tuple[int, str]]] = {}
    seen: set[str] = set()
    size = 0
    for turn, role, tool, raw in _turns(conversation):
        if size >= cap:
            break
        if len(raw) >= REPEAT_MIN:
            if raw in seen:  # the same file read twice, the same preamble in every turn
                continue
            seen.add(raw)
        text = clean(raw[: cap - size])
        if role == "tool" and "→" in text:
            text = _LINE_NUMBERS.sub("", text)
        text = text.strip()
        if text:
            streams.setdefault((role, tool), []).append((turn, text))
            size += len(text) + 1
    out = Prepared()
    digest = hashlib.sha256()
    for (role, tool), pieces in streams.items():
        for first, text in _cut(pieces):
            data = text.encode("utf-8", "replace")  # once: hashed and compressed
            digest.update(data)
            out.chunks.append(Chunk(role, tool, first, body(text), compress_bytes(data)))
    out.digest = digest.hexdigest()
    return out


class Cutter:
    """Cuts one role stream's marked pieces into chunks of about CHUNK_CHARS (a long
    piece split at white space), keeping the open chunk between pieces: ``prepare``
    cuts a whole stream, ``textresume`` a stream fed a part at a time, alike."""

    def __init__(self) -> None:
        self.buf: list[str] = []
        self.size = 0
        self.first = -1  # the first turn of the open chunk

    def add(self, turn: int, text: str) -> Iterator[tuple[int, str]]:
        """The chunks ``text`` (turn ``turn``) closes: (first turn, text)."""
        mark = f"\x1e{turn}\x1f"
        while text:
            if self.first < 0:
                self.first = turn
            room = CHUNK_CHARS - self.size
            if len(text) <= room:
                part, text = text, ""
            else:
                cut = text.rfind(" ", room // 2, room)
                cut = max(cut, text.rfind("\n", room // 2, room))
                cut = cut if cut > 0 else room
                part, text = text[:cut], text[cut:].lstrip()
            self.buf.append(mark + part + "\n")
            self.size += len(part) + len(mark) + 1
            if self.size >= CHUNK_CHARS or text:
                yield self.first, "".join(self.buf)
                self.buf, self.size, self.first = [], 0, -1

    def open_chunk(self) -> tuple[int, str] | None:
        """The chunk not closed yet, if any: (first turn, text)."""
        return (self.first, "".join(self.buf)) if self.buf else None


def _cut(pieces: list[tuple[int, str]]) -> Iterable[tuple[int, str]]:
    """Chunks of a stream's marked pieces (see ``Cutter``): (first turn, text)."""
    cutter = Cutter()
    for turn, text in pieces:
        yield from cutter.add(turn, text)
    rest = cutter.open_chunk()
    if rest is not None:
        yield rest
