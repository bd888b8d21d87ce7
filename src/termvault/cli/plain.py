"""Text the commands print, made without click or rich so that the quick paths
(``cli.quick``) and the click commands share it: ratios, plurals and what ``stats``
shows. Imports nothing beyond the standard library's start-up set."""

from __future__ import annotations

from ..humanize import human_size, local_time

TYPE_CHECKING = False  # not from typing: importing it would cost the quick start
if TYPE_CHECKING:
    from typing import Any

EMPTY_ARCHIVE = "\nThe archive is empty; `termvault sweep` archives what is due."
STATS_TABLES = (("SOURCE", "per_source", True), ("MONTH (UTC)", "per_month", False))


def ratio(original: int | None, compressed: int | None) -> str:
    """Compression ratio as ``7.3x`` (``-`` when there is nothing compressed)."""
    if not original or not compressed:
        return "-"
    return f"{original / compressed:.1f}x"


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"


def stats_pairs(data: dict[str, Any], home_shown: str) -> list[tuple[str, str | None]]:
    """The ``Label  value`` lines of ``termvault stats`` (``home_shown``: the home as the
    user reads it, ``~`` for their home folder)."""
    original, archived = data["original_bytes"], data["archive_bytes"]
    cap = data.get("max_total_bytes")
    return [
        ("Home", home_shown),
        (
            "Sessions",
            f"{data['total_sessions']} ({plural(data['total_versions'], 'version')}, {data['pinned_sessions']} pinned)",
        ),
        ("Original size", human_size(original)),
        ("Archived size", f"{human_size(archived)} (ratio {ratio(original, archived)})"),
        ("Space saved", human_size(original - archived)),
        ("Storage cap", f"{human_size(cap)} ({archived * 100 // cap if cap else 0}% used)" if cap else "none"),
        ("Oldest activity", local_time(data["oldest_activity"])),
        ("Newest activity", local_time(data["newest_activity"])),
        ("First archived", local_time(data["oldest_archive"])),
        ("Last archived", local_time(data["newest_archive"])),
    ]


def breakdown(first: str, groups: dict[str, dict[str, Any]], sessions: bool) -> tuple[list[str], list[list[str]]]:
    """One table of ``stats``: its headers (the first left-aligned, the rest right-aligned)
    and a row per source (with its sessions) or per month."""
    counts = ["SESSIONS", "VERSIONS"] if sessions else ["VERSIONS"]
    headers = [first, *counts, "ORIGINAL", "ARCHIVED", "RATIO"]
    rows = [
        [
            name,
            *(str(g[c.lower()]) for c in counts),
            human_size(g["original_bytes"]),
            human_size(g["archive_bytes"]),
            ratio(g["original_bytes"], g["archive_bytes"]),
        ]
        for name, g in groups.items()
    ]
    return headers, rows
