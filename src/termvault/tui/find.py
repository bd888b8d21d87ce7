"""Finding text in the preview: the pattern for what was typed (or what a search hit
highlighted), the turns holding it, and the screen row of a match once the preview's text
is wrapped, so the pane can scroll there. No widget here: each rule is tested on its own."""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import TYPE_CHECKING

from rich.cells import cell_len
from textual.content import Content

if TYPE_CHECKING:
    from ..ops.search import SearchHit


def find_pattern(terms: Sequence[str]) -> re.Pattern[str] | None:
    """Any of ``terms`` as written, case-insensitive, longest first; the words of a term
    may be apart by any run of white space (a line break in the preview). None for
    nothing to find."""
    alternatives = {r"\s+".join(re.escape(w) for w in t.split()) for t in terms if t.strip()}
    if not alternatives:
        return None
    return re.compile("|".join(sorted(alternatives, key=len, reverse=True)), re.IGNORECASE)


@dataclass(frozen=True)
class Jump:
    """Where a search hit's preview opens: at the first of ``terms`` (what its snippet
    highlighted) in turn ``turn`` (the index in ``Vault.messages``), when the search says
    which, else at the first anywhere."""

    terms: tuple[str, ...] = ()
    turn: int | None = None


def jump_of(hit: SearchHit | None) -> Jump | None:
    if hit is None:
        return None
    turn = getattr(hit, "turn", None)  # given by searches that know where the match is
    terms = tuple(hit_terms(hit))
    return Jump(terms, turn if isinstance(turn, int) else None) if terms or turn is not None else None


def hit_terms(hit: SearchHit | None) -> list[str]:
    """What a search hit highlighted in its snippet, as shown there (the phrase, the term
    as written, the words): the preview of that hit scrolls to the first of them."""
    if hit is None or not hit.snippet:
        return []
    return list(dict.fromkeys(hit.snippet[a:b] for a, b in hit.highlights if b > a))


def match_spans(text: str, pattern: re.Pattern[str]) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in pattern.finditer(text) if m.end() > m.start()]


_WORD_REST = re.compile(r"[^\s]*")


class Rows:
    """Where characters of a text sit on screen once it is wrapped at ``width`` cells, as
    a ``Static`` wraps it (word wrap, long words folded)."""

    def __init__(self, text: str, width: int):
        self.text = text
        self.width = max(1, width)
        lines = text.split("\n")
        heights = [self._height(line) for line in lines]
        self._line_starts = [0, *accumulate(len(line) + 1 for line in lines)]
        self._row_starts = [0, *accumulate(heights)]

    def _height(self, line: str) -> int:
        return 1 if cell_len(line) <= self.width else len(Content(line).wrap(self.width))

    def row_of(self, offset: int) -> int:
        """The screen row (from 0) of the character at ``offset``: of the end of its word,
        which wrapping keeps on one row with it unless the word is wider than a row."""
        line = bisect.bisect_right(self._line_starts, offset) - 1
        start = self._line_starts[line]
        word_end = _WORD_REST.match(self.text, offset)
        end = word_end.end() if word_end else offset
        return self._row_starts[line] + self._height(self.text[start:end]) - 1
