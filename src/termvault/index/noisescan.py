"""RE2 finds where noisy tokens can be; Python ``re`` decides, as it did for all the text.

``fulltext.noise_free`` splits the whole text on ``_NOISE_AT``: Python ``re`` tries its
tests at every character that is not a letter or digit (about one in five), and most
tries fail. Here one RE2 automaton (``google-re2``, over the UTF-8 bytes) finds the
*clusters*: a run of 8+ ASCII letters and digits that could be noisy (a SUPERSET of the
noisy ones, below), with the character before it, and the candidates that follow within a
few characters. Only those regions go through the same ``_NOISE_AT`` split (on bytes);
the text between them is copied. The regions cover about a third of the real corpus.

Why the result is the same: a noisy token is a whole run of letters and digits after a
character that is none (the split's captured character); a region starts at such a
character and ends at the end of a run, so each run lies wholly inside a region or
wholly outside, and the split of a region sees each of its runs with the character before
it and its end, as the split of the whole text does (its look-aheads stop at the run's
end). Every noisy run is a candidate, so none lies outside. A noisy run is 8+ characters
that are not lowercase hex with a letter, and either (a) three letter/digit changes from
its start, (b) 20+ characters with a digit, (c) 7 digits in a row or (d) two random-case
turns. All digits: ``[0-9]{8}``. Otherwise it holds one of ``[g-zA-Z]``: (a) is matched
as it starts, (c) with that letter before or after the digits, (d) as two turns. A run of
(b) that is none of those has at most two changes and no 7 digits in a row, so it is
letters and digits in two or three parts, the digits 6 at most each, 20+ in all: 7 letters
lie next to a digit (``[A-Za-z]{7}[0-9]`` or ``[0-9][A-Za-z]{7}``; counting to 20 instead
made the automaton build more states, 0.087 against 0.066 CPU s on its first pass over
the corpus, and let 30,600 regions through against 25,300).

Bytes that are not ASCII are neither letters nor digits in either engine, and a token is
ASCII, so removing tokens from the UTF-8 bytes and decoding gives the text's result.
When RE2 is not installed (or ``TERMVAULT_RE2=0``), or the text does not encode, the
caller splits the whole text.
"""

from __future__ import annotations

import functools
import re
from typing import Any

_X = "[A-Za-z0-9]"
_SOUP = "(?:[a-z][A-Z]{2}|[A-Z][a-z][A-Z])"
_CANDIDATE = (
    "(?:"
    + "|".join(
        (
            r"[0-9]{8}",
            rf"{_X}*[g-zA-Z]{_X}*[0-9]{{7}}",
            rf"{_X}*[0-9]{{7}}{_X}*[g-zA-Z]",
            rf"{_X}*{_SOUP}{_X}*{_SOUP}",
            r"[A-Za-z]+[0-9]+[A-Za-z]+[0-9]",
            r"[0-9]+[A-Za-z]+[0-9]+[A-Za-z]",
            rf"{_X}*(?:[A-Za-z]{{7}}[0-9]|[0-9][A-Za-z]{{7}})",
        )
    )
    + rf"){_X}*"
)
_ONE = rf"[^A-Za-z0-9]{_CANDIDATE}"
# Candidates at most GAP bytes apart make one region: fewer calls into RE2 (each costs
# about 2 microseconds) against more text split by Python. 8 measured best (16 and more
# grow the automaton and scan slower).
GAP = 8
CLUSTER = rf"{_ONE}(?:(?s:.){{0,{GAP}}}{_ONE})*"


@functools.cache
def _compiled() -> tuple[Any, Any] | None:
    """(RE2 object, its unanchored flag), or None when RE2 is not available."""
    from ..redact.engine import import_re2  # lazy: RE2 is looked for on the first text

    re2 = import_re2()
    if re2 is None:
        return None
    try:
        from re2 import _re2  # the binding under the re-like API: one call per region

        options = re2.Options()
        options.encoding = re2.Options.Encoding.LATIN1  # bytes are characters
        options.never_capture = True
        options.max_mem = 16 << 20
        options.log_errors = False
        regex = _re2.RE2(CLUSTER.encode("ascii"), options)
        if not regex.ok():
            return None
        return regex, _re2.RE2.Anchor.UNANCHORED
    except (ImportError, AttributeError, TypeError):  # a release laid out otherwise: split it all
        return None


# Below this many characters the whole-text split is cheaper than a call into RE2 (equal
# at about 128: 3.3 microseconds; at 64, 1.9 against 2.5; at 1,024, 23 against 16).
SHORT = 160


def noise_free(text: str, split_at: re.Pattern[bytes]) -> str | None:
    """``text`` without its noisy tokens (``split_at``: ``_NOISE_AT`` on bytes), or None
    when RE2 cannot be used or the text is short (the caller then splits all of it)."""
    if len(text) < SHORT:
        return None
    engine = _compiled()
    if engine is None:
        return None
    try:
        data = b" " + text.encode("utf-8")  # the space stands for the start of the text
    except UnicodeEncodeError:
        return None
    regex, unanchored = engine
    match = regex.Match
    split = split_at.split
    n = len(data)
    out: list[bytes] = []
    pos = 1  # copied up to here (the space put first is not copied)
    at = 0  # searched from here
    while True:
        start, end = match(unanchored, data, at, n)[0]
        if start < 0:
            break
        kept = b"".join(split(data[start:end]))
        if start == 0:
            kept = kept[1:]  # the region starts at the space put first
        else:
            out.append(data[pos:start])
        out.append(kept)
        pos = at = end
    if not out:
        return text
    out.append(data[pos:])
    return b"".join(out).decode("utf-8")
