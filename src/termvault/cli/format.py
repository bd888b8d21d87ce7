"""Presentation helpers shared by every command: human sizes, local times, ratios, plain
column tables that fit the terminal, highlighted snippets and JSON output.

Everything here turns data into text; nothing here touches the vault.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeAlias

import click

from ..ansi import printable

# Sizes and times read the same in the CLI and the browser: one implementation in the
# core, re-exported here for the commands.
from ..humanize import human_size as human_size
from ..humanize import local_time as local_time
from ..humanize import tilde_home
from .plain import plural as plural
from .plain import ratio as ratio

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

# rich is imported inside the functions that draw (lazy): a command that prints no
# table, e.g. ``--help``, starts without it.

ELLIPSIS = "…"


def duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def home_display(path: Path | str) -> str:
    """A path with the user's home folder shown as ``~``."""
    return tilde_home(str(path), str(Path.home()))


# -- JSON -------------------------------------------------------------------------------
def print_json(data: Any) -> None:
    """Pretty JSON on stdout; paths and other objects become strings. Every string is
    printable (``termvault.ansi.printable``): JSON escapes C0 controls but would pass C1
    controls and bidirectional overrides straight to the terminal."""
    text = json.dumps(data, indent=2, ensure_ascii=False, default=_json_default)
    click.echo(json.dumps(_printable_json(json.loads(text)), indent=2, ensure_ascii=False))


def _printable_json(value: Any) -> Any:
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {printable(k): _printable_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_printable_json(v) for v in value]
    return value


def _json_default(obj: Any) -> Any:
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    return str(obj)


# -- tables -----------------------------------------------------------------------------
@dataclass
class Column:
    """One column of a plain table. ``flex`` columns shrink to fit the terminal; ``cut``
    says which end of a too-long cell is replaced by an ellipsis (``left`` for paths)."""

    header: str
    justify: str = "left"
    flex: bool = False
    cut: str = "right"
    min_width: int = 6


Cell: TypeAlias = "str | Text"


def _fit(cell: Text, width: int, cut: str) -> Text:
    from rich.cells import cell_len
    from rich.text import Text

    if cell.cell_len <= width:
        return cell
    if width <= 1:
        return Text(ELLIPSIS[:width])
    if cut == "left":
        plain = cell.plain
        # Walk back from the end until the kept tail fills the width minus the ellipsis.
        start, used = len(plain), 0
        while start > 0 and used + cell_len(plain[start - 1]) <= width - 1:
            start -= 1
            used += cell_len(plain[start])
        return Text(ELLIPSIS) + cell[start:]
    out = cell.copy()
    out.truncate(width, overflow="ellipsis")
    return out


def _as_text(cell: Cell | None) -> Text:
    from rich.text import Text

    if isinstance(cell, Text):
        return cell
    # Control sequences go before widths are measured (the console would drop them
    # anyway, but after the columns were aligned on them).
    return Text("" if cell is None else printable(str(cell), one_line=True))


def table_lines(columns: Sequence[Column], rows: Iterable[Sequence[Cell | None]], width: int) -> list[Text]:
    """Render a header and rows as aligned lines no wider than ``width`` (flex columns
    shrink first). Cells never wrap: a table stays one line per row, good for grep."""
    from rich.cells import cell_len
    from rich.text import Text

    body = [[_as_text(c) for c in row] for row in rows]
    widths = [max([cell_len(col.header)] + [r[i].cell_len for r in body]) for i, col in enumerate(columns)]
    gap = 2
    excess = sum(widths) + gap * (len(columns) - 1) - width
    flex = [i for i, c in enumerate(columns) if c.flex]
    while excess > 0 and flex:
        # Shrink the widest flexible column one cell at a time: fair and simple.
        i = max(flex, key=lambda k: widths[k])
        if widths[i] <= columns[i].min_width:
            flex.remove(i)
            continue
        widths[i] -= 1
        excess -= 1
    lines = []
    header = Text()
    for i, col in enumerate(columns):
        header.append_text(_pad(Text(col.header, style="bold"), widths[i], col.justify, last=i == len(columns) - 1))
        if i < len(columns) - 1:
            header.append(" " * gap)
    lines.append(header)
    for row in body:
        line = Text()
        for i, col in enumerate(columns):
            line.append_text(_pad(_fit(row[i], widths[i], col.cut), widths[i], col.justify, last=i == len(columns) - 1))
            if i < len(columns) - 1:
                line.append(" " * gap)
        lines.append(line)
    return lines


def _pad(cell: Text, width: int, justify: str, last: bool) -> Text:
    from rich.text import Text

    room = width - cell.cell_len
    if room <= 0:
        return cell
    if justify == "right":
        return Text(" " * room) + cell
    return cell if last else cell + Text(" " * room)


def print_lines(console: Console, lines: Iterable[Text | str]) -> None:
    for line in lines:
        console.print(line, soft_wrap=True, overflow="ignore", crop=False)


def assemble(*parts: str | tuple[str, str]) -> Text:
    """``rich.text.Text.assemble`` of ``parts`` (text, or (text, style)) made printable
    first. Needed for any text not already clean (a file name, an error naming one):
    rich drops the BEL that ends an OSC string from every Text it is given, after which
    the console could not tell where the sequence ended and would hide the rest of the
    line."""
    from rich.text import Text

    return Text.assemble(
        *(
            (printable(p, one_line=True) if isinstance(p, str) else (printable(p[0], one_line=True), p[1]))
            for p in parts
        )
    )


def key_values(pairs: Sequence[tuple[str, Cell | None]]) -> list[Text]:
    """``Label   value`` lines with the labels aligned; ``None`` values are left out."""
    from rich.cells import cell_len
    from rich.text import Text

    shown = [(k, v) for k, v in pairs if v is not None]
    width = max((cell_len(k) for k, _ in shown), default=0)
    out = []
    for key, value in shown:
        line = Text(key.ljust(width), style="bold")
        line.append("  ")
        line.append_text(_as_text(value))
        out.append(line)
    return out


def echo_key_values(pairs: Sequence[tuple[str, str | None]]) -> None:
    """Print ``Label   value`` lines (labels aligned and, on a terminal, bold; ``None``
    values left out) through click alone: a command that draws no table, e.g. ``stats``
    of an empty home, never loads rich."""
    shown = [(k, v) for k, v in pairs if v is not None]
    width = max((len(k) for k, _ in shown), default=0)
    for key, value in shown:
        click.echo(f"{click.style(key.ljust(width), bold=True)}  {printable(value, one_line=True)}")


# -- snippets ---------------------------------------------------------------------------
HIGHLIGHT = "bold yellow not dim"


def snippet_text(snippet: str, spans: Sequence[tuple[int, int]], width: int, indent: int = 4) -> Text:
    """One indented line of a search snippet with its matches highlighted, cut to
    ``width`` around the first match."""
    from rich.text import Text

    text = Text(" " * indent)
    body = Text(snippet.replace("\n", " "), style="dim")
    for start, end in spans:
        if 0 <= start < end <= len(snippet):
            body.stylize(HIGHLIGHT, start, end)
    room = max(10, width - indent)
    if body.cell_len > room:
        body.truncate(room, overflow="ellipsis")
    text.append_text(body)
    return text


# -- raw bytes on a terminal ----------------------------------------------------------------
class TerminalSafeWriter:
    """Raw session bytes bound for a terminal, with every control character shown in
    ``cat -v`` notation instead of being run: ESC as ``^[``, an 8-bit C1 control as
    ``M-^[``, a bidirectional override as ``<U+202E>``, a carriage return not ending a
    line as ``^M``. An OSC 52 clipboard write, a title change or a screen clear recorded in
    a session stays text. Everything else passes unchanged; ``replaced`` counts what was
    shown instead. Only for a terminal: a file or a pipe gets the exact bytes."""

    _UNSAFE = re.compile(
        rb"\r(?!\n)|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\xc2[\x80-\x9f]|\xe2\x80[\xaa-\xae]|\xe2\x81[\xa6-\xa9]"
    )
    # What a chunk may end with that the next chunk completes into one of the above.
    _OPEN_ENDS = (b"\r", b"\xc2", b"\xe2", b"\xe2\x80", b"\xe2\x81")

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.replaced = 0
        self._held = b""

    def write(self, data: bytes) -> int:
        buf = self._held + bytes(data)
        keep = next((len(end) for end in self._OPEN_ENDS[::-1] if buf.endswith(end)), 0)
        self._held = buf[len(buf) - keep :] if keep else b""
        self._put(buf[: len(buf) - keep])
        return len(data)

    def _put(self, buf: bytes) -> None:
        # The controls recordings are full of, replaced in C; the rest one match at a time.
        for raw, caret in _COMMON:
            if count := buf.count(raw):
                self.replaced += count
                buf = buf.replace(raw, caret)
        shown, n = self._UNSAFE.subn(_shown_as, buf)
        self.replaced += n
        self.out.write(shown)

    def finish(self) -> None:
        held, self._held = self._held, b""
        self._put(held)

    def flush(self) -> None:
        self.out.flush()


def _caret(seq: bytes) -> bytes:
    if len(seq) == 1:
        return b"^?" if seq == b"\x7f" else b"^" + bytes([seq[0] + 64])
    if seq[0] == 0xC2:
        return b"M-^" + bytes([seq[1] - 0x80 + 64])
    return f"<U+{ord(seq.decode()):04X}>".encode()


_SHOWN: dict[bytes, bytes] = {
    seq: _caret(seq)
    for seq in [
        *(bytes([b]) for b in [*range(0x09), 0x0B, 0x0C, 0x0D, *range(0x0E, 0x20), 0x7F]),
        *(bytes([0xC2, b]) for b in range(0x80, 0xA0)),
        *(chr(c).encode() for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]),
    ]
}


_COMMON = tuple((raw, _SHOWN[raw]) for raw in (b"\x1b", b"\x07", b"\x08"))


def _shown_as(match: re.Match[bytes]) -> bytes:
    return _SHOWN[match.group()]
