"""Numbers, times and paths as people read them, shared by the CLI and the browser.

Pure functions over plain values: no disk, no terminal, no UI framework, so both shells
(and a library user) show a size, a time or a home folder the same way.
"""

from __future__ import annotations

import time

BINARY_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")  # the CLI's units
SHORT_UNITS = ("B", "KB", "MB", "GB", "TB")  # the browser's narrower columns


def human_size(n: int | float | None, units: tuple[str, ...] = BINARY_UNITS) -> str:
    """``0 B``, ``512 B``, ``1.2 MiB``: powers of 1024 named by ``units`` (bytes first),
    whole bytes, one decimal above; the last unit takes anything larger. Negative sizes
    keep their sign; ``None`` gives ``-``."""
    if n is None:
        return "-"
    value = float(n)
    sign = "-" if value < 0 else ""
    value = abs(value)
    for unit in units:
        if value < 1024 or unit == units[-1]:
            if unit == units[0]:
                return f"{sign}{int(value)} {unit}"
            return f"{sign}{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def local_time(ts: float | None, seconds: bool = False) -> str:
    """A UNIX time as local ``YYYY-MM-DD HH:MM`` (``:SS`` added with ``seconds``); ``-``
    when unknown or outside what the platform's clock functions can show."""
    if ts is None:
        return "-"
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M", time.localtime(float(ts)))
    except (OverflowError, OSError, ValueError):
        return "-"


def tilde_home(path: str, home: str) -> str:
    """``path`` with a leading ``home`` folder shown as ``~`` (``/home/me/x`` ->
    ``~/x``). Only whole folder names match (``/home/meg`` stays), and an empty ``home``
    or ``/`` changes nothing."""
    base = home.rstrip("/")
    if home and home != "/" and (path == home or path.startswith(base + "/")):
        return "~" + path[len(base) :]
    return path
