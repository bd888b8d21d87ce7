"""Small pure helpers the browser uses to show numbers, times and charts.

Nothing here touches the disk or imports textual, so each function is easy to test on
its own. Times are UNIX seconds; "now" is always passed in, so a test can freeze it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

from ..ansi import strip_ansi
from ..humanize import human_size as _human_size
from ..humanize import local_time, tilde_home

_BLOCKS = " ▏▎▍▌▋▊▉█"


def human_size(size: float | None) -> str:
    """``313 B``, ``1.2 KiB``, ``4.5 MiB``: powers of 1024, named as the CLI names them.
    Negative sizes keep their sign (see ``saved_size`` for space saved)."""
    return _human_size(size)


def saved_size(saved: float | None) -> str:
    """Space saved by compressing: a size, or ``none`` when the archive came out larger
    than what it holds (tiny sessions), never a negative number."""
    if saved is None:
        return "-"
    return human_size(saved) if saved > 0 else "none"


def display_text(value: object, width: int | None = None) -> str:
    """Any value as one line of plain text for the screen: escape sequences and control
    characters removed, whitespace collapsed, cut to ``width`` with an ellipsis. Shown
    through Text/Content objects, never parsed as markup."""
    text = strip_ansi("" if value is None else str(value))
    return truncate(text, width) if width is not None else " ".join(text.split())


def relative_time(when: float | None, now: float) -> str:
    """``just now``, ``12m ago``, ``5h ago``, ``3d ago`` for the last 30 days; older
    times (and future ones) as a local date ``2024-01-05``."""
    if when is None:
        return "-"
    age = now - when
    if age < 0 or age >= 30 * 86400:
        return local_date(when)
    if age < 60:
        return "just now"
    if age < 3600:
        return f"{int(age // 60)}m ago"
    if age < 86400:
        return f"{int(age // 3600)}h ago"
    return f"{int(age // 86400)}d ago"


def local_date(when: float) -> str:
    return time.strftime("%Y-%m-%d", time.localtime(when))


def local_datetime(when: float | None) -> str:
    """Local ``YYYY-MM-DD HH:MM`` (``-`` when unknown or out of range)."""
    return local_time(when)


def shorten_folder(path: str, width: int, home: str | None = None) -> str:
    """``path`` with the user's home as ``~``, cut from the left to ``width`` characters
    (the end of a path says more than its start)."""
    if not path:
        return ""
    path = tilde_home(path, home if home is not None else os.environ.get("HOME", ""))
    if len(path) <= width:
        return path
    return "…" + path[len(path) - width + 1 :]


def truncate(text: str, width: int) -> str:
    """``text`` on one line, cut to ``width`` characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def short_id(session_id: str, width: int = 12) -> str:
    return session_id if len(session_id) <= width else session_id[: width - 1] + "…"


def bar(value: float, maximum: float, width: int) -> str:
    """A horizontal bar of block characters, ``width`` cells at ``maximum``, with eighth
    steps; zero and negative values give an empty bar."""
    if maximum <= 0 or value <= 0 or width <= 0:
        return ""
    eighths = round(min(value, maximum) / maximum * width * 8)
    full, part = divmod(eighths, 8)
    out = "█" * full + (_BLOCKS[part] if part else "")
    return out or "▏"


def bar_rows(items: Sequence[tuple[str, float]], width: int) -> list[tuple[str, str, float]]:
    """(label, bar, value) for each item, bars scaled to the largest value."""
    top = max((v for _, v in items), default=0)
    return [(label, bar(value, top, width), value) for label, value in items]


def days_label(value: Any) -> str:
    """A count of days as shown: 7 days, 1 day, 0.5 days, or - for none."""
    if value is None:
        return "-"
    v = float(value)
    return f"{v:g} day{'s' if v != 1 else ''}"
