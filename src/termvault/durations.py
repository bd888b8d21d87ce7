"""The one grammar for lengths of time, shared by every option that takes one
(``sweep --older-than``, ``daemon --interval``, ``search --after/--before``, the
browser's date range).

A duration is a number and a unit: ``45s``, ``90min``, ``12h``, ``30d``, ``2w``,
``3mo``, ``1y`` (a month is 30 days, a year 365). ``0`` alone means no time at all.
A bare number is refused (it meant days in one place and hours in another), and so is
``m``, which some read as minutes and others as months.
"""

from __future__ import annotations

import re
import time
from datetime import datetime

from .errors import UsageError

_UNITS: dict[str, float] = {}
for _names, _seconds in (
    (("s", "sec", "secs", "second", "seconds"), 1),
    (("min", "mins", "minute", "minutes"), 60),
    (("h", "hr", "hrs", "hour", "hours"), 3600),
    (("d", "day", "days"), 86400),
    (("w", "wk", "wks", "week", "weeks"), 7 * 86400),
    (("mo", "mon", "month", "months"), 30 * 86400),
    (("y", "yr", "yrs", "year", "years"), 365 * 86400),
):
    for _name in _names:
        _UNITS[_name] = _seconds

_FORM = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$", re.IGNORECASE)

GRAMMAR = "a number and a unit: 45s, 90min, 12h, 30d, 2w, 3mo or 1y, and 0 alone means none"
"""How the grammar reads in a help text or an error message."""


def parse_duration(value: str | float) -> float:
    """Seconds in ``value``. UsageError, with a sentence naming the grammar, otherwise."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value < 0:
            raise UsageError(f"{value!r} is not a duration: it must not be negative.")
        return float(value)
    text = str(value)
    m = _FORM.match(text)
    if not m:
        raise UsageError(f"{text!r} is not a duration: use {GRAMMAR}.")
    number, unit = float(m.group(1)), m.group(2).lower()
    if not unit:
        if number == 0:
            return 0.0
        raise UsageError(
            f"{text.strip()!r} has no unit: write {m.group(1)}d for days or {m.group(1)}h for hours; "
            f"durations are {GRAMMAR}."
        )
    if unit == "m":
        raise UsageError(
            f"{text.strip()!r} is ambiguous: write {m.group(1)}min for minutes or {m.group(1)}mo for months."
        )
    if unit not in _UNITS:
        raise UsageError(f"{text.strip()!r} has an unknown unit {unit!r}: use {GRAMMAR}.")
    return number * _UNITS[unit]


def looks_like_duration(value: str) -> bool:
    """True if ``value`` has the shape of a duration (a number, maybe with letters), so a
    caller accepting dates or durations knows which error to give."""
    return bool(_FORM.match(str(value)))


def parse_when(value: str, now: float | None = None) -> float:
    """``2024-05-01``, ``2024-05-01T10:00``, or an age in the duration grammar (``12h``,
    ``7d``, ``3w``, ``2mo``, ``1y``: that long ago), as UNIX seconds. Dates without a zone
    are local time."""
    now = time.time() if now is None else now
    s = value.strip()
    if looks_like_duration(s):
        return now - parse_duration(s)
    try:
        dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{value!r} is not a date: use an ISO date such as 2024-05-01 or an age, {GRAMMAR}.") from None
    try:
        return dt.timestamp()
    except (ValueError, OverflowError, OSError):
        # Year 1 in local time (or with a zone east of UTC) falls before year 1 in UTC.
        raise UsageError(f"{value!r} is too far in the past or the future to be a session date.") from None
