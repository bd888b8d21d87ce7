"""The one grammar for lengths of time and moments, shared by every option and setting.

A duration is a number with a unit: ``45s``, ``90m`` (minutes), ``12h``, ``30d``, ``2w``,
``3mo`` (30-day months), ``1y`` (365 days); a bare number means days. A moment is an ISO
date or date-time (local time unless a zone is given) or a duration, meaning that long ago.
"""

from __future__ import annotations

import re
import time
from datetime import datetime

from .errors import UsageError

SECONDS = {
    "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400,
    "mo": 30 * 86400, "y": 365 * 86400,
}  # fmt: skip
GRAMMAR = "a number with a unit: 45s, 90m (minutes), 12h, 30d, 2w, 3mo (months) or 1y; a bare number means days"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|min|mo|m|h|d|w|y)?\s*$", re.IGNORECASE)


def parse_duration(value: str | float) -> float:
    """Seconds in ``value`` (see the module's grammar). UsageError otherwise."""
    if isinstance(value, (int, float)):
        return float(value) * SECONDS["d"]
    m = _DURATION.match(str(value))
    if not m:
        raise UsageError(f"{value!r} is not a duration: use {GRAMMAR}.")
    return float(m.group(1)) * SECONDS[(m.group(2) or "d").lower()]


def parse_when(value: str, now: float | None = None) -> float:
    """``2024-05-01``, ``2024-05-01T10:00``, or a duration meaning that long ago, as UNIX
    seconds. Dates without a zone are local time."""
    now = time.time() if now is None else now
    s = value.strip()
    if _DURATION.match(s):
        return now - parse_duration(s)
    try:
        return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise UsageError(
            f"{value!r} is not a date: use an ISO date such as 2024-05-01 or an age such as 7d, 3w or 2mo."
        ) from None
