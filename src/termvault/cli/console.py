"""The console every command prints through (kept apart from ``context`` so that rich is
imported only when something is printed, not to parse options or show ``--help``)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from rich.console import Console, ConsoleOptions, RenderableType
from rich.segment import Segment

from ..ansi import printable


class SafeConsole(Console):
    """A rich Console that never writes a control sequence it did not make itself: the
    text of every segment it prints has escape sequences, C0/C1 controls and bidirectional
    overrides removed (``termvault.ansi.printable``). Segments rich marks as control
    (cursor moves of a live progress display) and the styles rich adds are kept.

    Every command prints through one of these, so a session name, folder, snippet or file
    name holding an OSC 52 clipboard write or a title change reaches the terminal (or the
    file stdout is piped to) as harmless text, whatever the command."""

    def __init__(self, **kwargs: Any):
        # rich takes COLUMNS=0 (or LINES=0) for a console zero cells wide, which prints
        # every table as nothing; shutil, click and the quick paths read it as not set.
        zero = [k for k in ("COLUMNS", "LINES") if os.environ.get(k, "").isdigit() and not int(os.environ[k])]
        if zero and "_environ" not in kwargs:
            kwargs["_environ"] = {k: v for k, v in os.environ.items() if k not in zero}
        super().__init__(**kwargs)

    def render(self, renderable: RenderableType, options: ConsoleOptions | None = None) -> Iterable[Segment]:
        for segment in super().render(renderable, options):
            if segment.control or not segment.text:
                yield segment
            else:
                text = printable(segment.text)
                yield segment if text is segment.text else Segment(text, segment.style, segment.control)
