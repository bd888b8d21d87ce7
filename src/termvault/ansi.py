"""Removing terminal escape sequences from recorded output, for search and readable export.

``strip_ansi(text)`` returns ``text`` without escape sequences and without control
characters other than newline, tab and carriage return. ``AnsiStripper`` does the same
incrementally: recordings split sequences across events (``"\\x1b["`` in one chunk,
``"31m"`` in the next), so its state carries over between ``feed`` calls. Both never raise
and use memory bounded by their input chunk (an OSC payload is kept only up to
``OSC_PAYLOAD_CAP`` characters).

Recognised (ECMA-48 / xterm): CSI sequences including private and 24-bit colour forms
(``ESC [ 38;2;R;G;B m``, ``ESC [ ? 2004 h``), OSC strings ended by BEL, ``ESC \\`` or the
8-bit ST, DCS / SOS / PM / APC strings, charset selection and other ``ESC`` +
intermediate + final sequences (``ESC ( B``, ``ESC # 8``), two-character escapes
(``ESC 7``, ``ESC =``, ``ESC M``), single shifts (``ESC O A`` drops the shifted
character) and the 8-bit C1 forms of CSI/OSC/DCS/ST. A lone ``ESC`` that starts nothing
recognisable is dropped and what follows it is kept. Backspace removes the previous
character of the same chunk when there is one.
"""

from __future__ import annotations

import re
from collections.abc import Callable

OSC_PAYLOAD_CAP = 4096

ESC = "\x1b"
BEL = "\x07"

# Everything that is not plain printable text: C0 controls except tab/newline/CR, DEL,
# and the C1 range (8-bit controls, as decoded code points). Text in which it finds
# nothing passes through an idle ``AnsiStripper`` unchanged.
_SPECIAL = CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SPECIAL_SPLIT = re.compile(f"({_SPECIAL.pattern})")
# The controls that start a sequence (ESC, the 8-bit CSI and string introducers): the
# others leave a stripper in its ground state.
_STATEFUL = re.compile(r"[\x1b\x9b\x90\x98\x9d\x9e\x9f]")
# Inside an OSC/DCS-like string: the characters that can end it.
_STRING_END = re.compile(r"[\x07\x1b\x9c]")

# Complete sequences, removed in one step; anything else (a sequence cut by the end of a
# chunk, C1 forms, unusual layouts) goes through the character-level state machine,
# which gives the same result, only slower.
_OSC = r"\x1b\](?P<osc>[^\x07\x1b\x9c]*)(?:\x07|\x1b\\|\x9c)"
_CSI_SEQ = r"\x1b\[[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]"
_OTHER_SEQ = (
    r"\x1b[PX^_][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)"  # DCS, SOS, PM, APC
    r"|\x1b[NO][\x20-\x7e]"  # single shifts
    r"|\x1b[\x20-\x2f]+[\x30-\x7e]"  # charset selection and other nF escapes
    r"|\x1b[\x30-\x4d\x51-\x57\x59\x5a\x5c\x60-\x7e]"  # two-character escapes
)
_COMPLETE = re.compile(f"{_CSI_SEQ}|{_OSC}|{_OTHER_SEQ}")

_TOKEN = re.compile(_COMPLETE.pattern + r"|(?P<special>" + _SPECIAL.pattern + ")")

# From where it starts, the longest run of printable text and complete sequences, which
# ``_COMPLETE.sub`` strips exactly as the token scan of ``feed`` would (both take the
# first alternative that matches at each ESC): the scan only has to look at what ends the
# run (a control, a cut sequence, or, for a stripper that reports them, an OSC). Each
# step of a run eats printable text or starts at an ESC, so nothing backtracks.
_PRINTABLE_RUN = r"[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]++"
_CLEAN_RUN = re.compile(f"(?:{_PRINTABLE_RUN}|{_CSI_SEQ}|{_OSC}|{_OTHER_SEQ})*+")
_CLEAN_RUN_NO_OSC = re.compile(f"(?:{_PRINTABLE_RUN}|{_CSI_SEQ}|{_OTHER_SEQ})*+")

# Parser states.
_GROUND = 0
_ESCAPE = 1  # after ESC
_ESC_INTERMEDIATE = 2  # ESC followed by 0x20-0x2F bytes (charset selection and friends)
_CSI = 3
_STRING = 4  # OSC, DCS, SOS, PM or APC body
_STRING_ESC = 5  # ESC seen inside a string: ST if followed by backslash
_SINGLE_SHIFT = 6  # ESC N / ESC O: the next character is consumed

# Printable ASCII with tab, newline and CR: an ASCII text holding nothing else is plain.
_ASCII_PLAIN = bytes(range(0x20, 0x7F)) + b"\t\n\r"


def plain(text: str) -> bool:
    """Whether ``text`` holds no escape or control character (``CONTROLS`` finds
    nothing): what an idle ``AnsiStripper`` gives back unchanged. ASCII text is checked
    with a byte translation, several times faster than the regex search."""
    if text.isascii():
        return not text.encode("ascii").translate(None, _ASCII_PLAIN)
    return not _SPECIAL.search(text)


_C1_STRING_STARTS = {"\x90": "P", "\x98": "X", "\x9d": "]", "\x9e": "^", "\x9f": "_"}


class AnsiStripper:
    """Incremental escape-sequence stripper.

    ``on_osc(payload)`` is called with the text of every complete OSC string (e.g.
    ``"7;file://host/home/me"`` or ``"0;window title"``) so callers can pick up the
    working directory or title a shell announced.
    """

    def __init__(self, on_osc: Callable[[str], None] | None = None):
        self.on_osc = on_osc
        self._state = _GROUND
        self._string_kind = ""  # "]" for OSC, else the DCS/SOS/PM/APC introducer
        self._payload: list[str] = []
        self._payload_len = 0

    def reset(self) -> None:
        self._state = _GROUND
        self._payload = []
        self._payload_len = 0

    @property
    def idle(self) -> bool:
        """No sequence is left open: text without special characters (``plain``) would
        come out of ``feed`` unchanged, and leave it idle."""
        return self._state == _GROUND

    def feed(self, text: str) -> str:
        """Return the printable part of ``text``, continuing any sequence left open."""
        clean_run = (_CLEAN_RUN if self.on_osc is None else _CLEAN_RUN_NO_OSC).match
        out: list[str] = []
        i = 0
        if self._state == _GROUND:
            if plain(text):
                return text  # nothing to remove
            if self.on_osc is None or "\x1b]" not in text:
                # Most often removing the complete sequences leaves nothing special: that
                # is exactly what the scan below would produce, in one regex pass.
                out_text = _COMPLETE.sub("", text)
                if plain(out_text):
                    return out_text
                if not _STATEFUL.search(out_text):
                    # The controls left are those the scan would meet, in order, between
                    # the same pieces of text, and none leaves the ground state: drop
                    # them, a backspace erasing the character before it.
                    if "\b" not in out_text:
                        return _SPECIAL.sub("", out_text)
                    pieces = _SPECIAL_SPLIT.split(out_text)
                    for k in range(0, len(pieces) - 1, 2):
                        out.append(pieces[k])
                        if pieces[k + 1] == "\b":
                            self._backspace(out)
                    out.append(pieces[-1])
                    return "".join(out)
                found = _SPECIAL.search(out_text)
                assert found is not None
                # Else what precedes the first control left is the clean run the scan
                # starts with, stripped: the scan goes on from the end of that run.
                out.append(out_text[: found.start()])
                i = clean_run(text).end()  # type: ignore[union-attr]  # matches "" at least
        n = len(text)
        while i < n:
            state = self._state
            if state == _GROUND:
                # Printable text and complete sequences in one regex step; then the one
                # token that ended them, and on.
                j = clean_run(text, i).end()  # type: ignore[union-attr]  # matches "" at least
                if j > i:
                    out.append(_COMPLETE.sub("", text[i:j]))
                    if j == n:
                        break
                m = _TOKEN.match(text, j)
                assert m is not None  # text[j] is a special character
                i = m.end()
                kind = m.lastgroup
                if kind == "special":
                    self._control(text[j], out)
                elif kind == "osc":
                    payload = m.group("osc")
                    if self.on_osc is not None and len(payload) <= OSC_PAYLOAD_CAP:
                        self.on_osc(payload)
            elif state == _STRING:
                found = _STRING_END.search(text, i)
                end = n if found is None else found.start()
                self._keep_payload(text[i:end])
                if found is None:
                    break
                ch = text[end]
                i = end + 1
                if ch == ESC:
                    self._state = _STRING_ESC
                else:  # BEL or 8-bit ST
                    self._end_string()
            else:
                self._step(text[i], out)
                i += 1
        return "".join(out)

    def flush(self) -> str:
        """End of input: an unfinished sequence is dropped."""
        self.reset()
        return ""

    # -- internals ---------------------------------------------------------------------
    def _control(self, ch: str, out: list[str]) -> None:
        """A special character met in the ground state."""
        if ch == ESC:
            self._state = _ESCAPE
        elif ch == "\x9b":
            self._state = _CSI
        elif ch in _C1_STRING_STARTS:
            self._begin_string(_C1_STRING_STARTS[ch])
        elif ch == "\b":
            self._backspace(out)
        # Any other control (BEL, NUL, SI/SO, C1 ...) has no printable effect.

    def _step(self, ch: str, out: list[str]) -> None:
        code = ord(ch)
        state = self._state
        if state == _ESCAPE:
            if ch == "[":
                self._state = _CSI
            elif ch in "]PX^_":
                self._begin_string(ch)
            elif ch in "NO":
                self._state = _SINGLE_SHIFT
            elif 0x20 <= code <= 0x2F:
                self._state = _ESC_INTERMEDIATE
            elif 0x30 <= code <= 0x7E:
                self._state = _GROUND  # a complete two-character escape (ESC 7, ESC =, ...)
            elif ch == ESC:
                pass  # ESC ESC: the first one was lone
            else:
                # A lone ESC before a control or non-ASCII character: drop the ESC only.
                self._state = _GROUND
                self._reprocess(ch, out)
        elif state == _ESC_INTERMEDIATE:
            if 0x20 <= code <= 0x2F:
                return
            self._state = _GROUND
            if not 0x30 <= code <= 0x7E:
                self._reprocess(ch, out)
        elif state == _CSI:
            if 0x40 <= code <= 0x7E:
                self._state = _GROUND  # final byte
            elif 0x20 <= code <= 0x3F:
                return  # parameter or intermediate byte (digits, ; : ? < = > space ...)
            else:
                # Malformed: abandon the sequence and treat this character normally.
                self._state = _GROUND
                self._reprocess(ch, out)
        elif state == _STRING_ESC:
            if ch == "\\":
                self._end_string()
            else:
                # ESC inside a string not followed by '\': the string is cut short and a
                # new escape sequence begins.
                self._end_string()
                self._state = _ESCAPE
                self._step(ch, out)
        elif state == _SINGLE_SHIFT:
            self._state = _GROUND
            if code < 0x20 or code == 0x7F:
                self._reprocess(ch, out)

    def _reprocess(self, ch: str, out: list[str]) -> None:
        if _SPECIAL.match(ch):
            self._control(ch, out)
        else:
            out.append(ch)

    @staticmethod
    def _backspace(out: list[str]) -> None:
        while out and not out[-1]:
            out.pop()
        if out and out[-1][-1] not in "\n\r":
            out[-1] = out[-1][:-1]

    def _begin_string(self, kind: str) -> None:
        self._state = _STRING
        self._string_kind = kind
        self._payload = []
        self._payload_len = 0

    def _keep_payload(self, piece: str) -> None:
        if self._string_kind != "]" or not piece:
            return
        if self._payload_len <= OSC_PAYLOAD_CAP:
            self._payload.append(piece[: OSC_PAYLOAD_CAP + 1 - self._payload_len])
        self._payload_len += len(piece)

    def _end_string(self) -> None:
        self._state = _GROUND
        if self._string_kind == "]" and self.on_osc is not None and self._payload_len <= OSC_PAYLOAD_CAP:
            self.on_osc("".join(self._payload))
        self._payload = []
        self._payload_len = 0


def strip_ansi(text: str) -> str:
    """``text`` without escape sequences or non-printing controls (tab, LF, CR kept)."""
    stripper = AnsiStripper()
    return stripper.feed(text) + stripper.flush()


# Bidirectional overrides and isolates: they reorder what a terminal or editor shows
# ("Trojan Source"), so a value could display as something other than it is.
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
_LINE_BREAKS = re.compile("[\t\n\u2028\u2029]")


def printable(text: str, one_line: bool = False) -> str:
    """``text`` safe to print to a terminal or write to a text file: escape sequences
    (OSC 52 clipboard writes, title changes, cursor movement, colours), other C0 and C1
    controls and bidirectional overrides removed; carriage returns become newlines (a
    lone CR would let text overwrite its own line). With ``one_line``, tabs and line
    breaks become spaces too. Returns ``text`` itself when there is nothing to remove."""
    if not text:
        return text
    out = normalize_newlines(strip_ansi(text))
    if _BIDI_CONTROLS.search(out):
        out = _BIDI_CONTROLS.sub("", out)
    if one_line:
        out = _LINE_BREAKS.sub(" ", out)
    return text if out == text else out


def normalize_newlines(text: str) -> str:
    """Turn terminal line endings into ``\\n``: CR LF becomes LF and a lone CR (a line
    rewritten in place, e.g. a progress bar) becomes LF too."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def osc7_path(payload: str) -> str | None:
    """The folder an ``OSC 7`` payload (``7;file://host/path``) announces, or None."""
    from urllib.parse import unquote, urlsplit

    if not payload.startswith("7;"):
        return None
    url = payload[2:].strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("file", "kitty-shell-cwd") or not parts.path:
        return None
    return unquote(parts.path)


class TerminalLines:
    """Turns a stream of terminal output chunks into clean text lines for search.

    ``feed`` returns the lines completed by a chunk, ``flush`` the unfinished last one.
    Lines are stripped of escapes and trailing blanks; blank lines and a line equal to
    the one before (a spinner redrawn in place) are left out. A line that grows past
    ``max_pending`` characters without ending is cut there, so memory stays bounded.
    """

    def __init__(self, on_osc: Callable[[str], None] | None = None, max_pending: int = 64 * 1024):
        self._stripper = AnsiStripper(on_osc)
        self._pending = ""
        self._last = ""
        self._max_pending = max_pending

    def feed(self, chunk: str) -> list[str]:
        text = self._stripper.feed(chunk).replace("\r", "\n")
        if not text:
            return []
        if "\n" in text:  # the pending part never holds one
            *lines, self._pending = (self._pending + text).split("\n")
        elif len(self._pending) + len(text) > self._max_pending:
            lines, self._pending = [self._pending + text], ""
        else:
            self._pending += text
            return []
        if len(self._pending) > self._max_pending:
            lines.append(self._pending)
            self._pending = ""
        return self._clean(lines)

    def room(self, text_left: int) -> int:
        """How many characters of chunks, fed one after another, may be fed joined as one
        chunk instead with the same lines coming out, provided none after the first
        holds a backspace (it erases only within its own chunk): the unfinished line
        cannot outgrow ``max_pending`` on the way, and a collector with ``text_left``
        characters of room, which the lines go to, cannot fill up on the way (lines take
        at most the pending part plus twice the characters fed)."""
        pending = len(self._pending)
        return min(self._max_pending - pending, (text_left - pending - 2) // 2)

    def flush(self) -> list[str]:
        lines, self._pending = [self._pending], ""
        self._stripper.flush()
        return self._clean(lines)

    def _clean(self, lines: list[str]) -> list[str]:
        """``lines`` right-stripped, without blank lines or a line equal to the one kept
        before it. The line kept before a line is the non-blank line before it: when that
        one was left out, it equalled the one kept before it."""
        out = [line for line in map(str.rstrip, lines) if line]
        if not out:
            return out
        kept = [line for before, line in zip([self._last, *out], out, strict=False) if line != before]
        self._last = out[-1]
        return kept
