"""The totals ``termvault stats`` shows, computed by one function over any ``query``
callable: ``ArchiveIndex.stats`` passes its own, and the CLI's quick ``stats`` path
passes a bare read-only connection's (``read_only_stats``), so both show the same
numbers while the quick path starts without the rest of the index package.

Imports nothing but ``sqlite3`` (and that only in ``read_only_stats``): keep it so.
"""

from __future__ import annotations

from collections import defaultdict

TYPE_CHECKING = False  # typing itself is not imported: it costs a quarter of a quick start
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any

    Query = Callable[[str], Sequence[Any]]

MB = 1024 * 1024


def stats(query: Query) -> dict[str, Any]:
    """Totals (the seed's keys), per source and per month, pins and the activity range,
    in one grouped pass: a vault of 100,000 sessions answers well under a second.
    ``query(sql)`` returns rows that index by column name (``sqlite3.Row``)."""
    per_source: dict[str, dict[str, Any]] = {}
    zero = {"versions": 0, "archive_bytes": 0, "original_bytes": 0}
    months: dict[str, dict[str, int]] = defaultdict(lambda: dict(zero))
    lo = hi = first = last = None
    for r in query(
        "SELECT source, strftime('%Y-%m', last_activity_at, 'unixepoch') m, COUNT(*) v, "
        "SUM(archive_size) a, SUM(original_size) o, MIN(archived_at) lo, MAX(archived_at) hi, "
        "MIN(last_activity_at) first, MAX(last_activity_at) last "
        "FROM sessions WHERE status != 'deleted' GROUP BY source, m"
    ):
        src = per_source.setdefault(r["source"], {"sessions": 0, **zero})
        for target in (src, months[r["m"]]):
            target["versions"] += r["v"]
            target["archive_bytes"] += r["a"]
            target["original_bytes"] += r["o"]
        lo = r["lo"] if lo is None else min(lo, r["lo"])
        hi = r["hi"] if hi is None else max(hi, r["hi"])
        first = r["first"] if first is None else min(first, r["first"])
        last = r["last"] if last is None else max(last, r["last"])
    for r in query(
        "SELECT source, COUNT(DISTINCT session_id) n FROM sessions WHERE status != 'deleted' GROUP BY source"
    ):
        per_source[r["source"]]["sessions"] = r["n"]
    archived = sum(v["archive_bytes"] for v in per_source.values())
    original = sum(v["original_bytes"] for v in per_source.values())
    pinned = query("SELECT COUNT(DISTINCT session_id) FROM sessions WHERE pinned = 1")[0][0]
    return {
        "total_sessions": sum(v["sessions"] for v in per_source.values()),
        "total_size_mb": round(archived / MB, 2),
        "space_saved_mb": round((original - archived) / MB, 2),
        "oldest_archive": lo,
        "newest_archive": hi,
        "total_versions": sum(v["versions"] for v in per_source.values()),
        "archive_bytes": archived,
        "original_bytes": original,
        "per_source": dict(sorted(per_source.items())),
        "per_month": dict(sorted(months.items())),
        "pinned_sessions": pinned,
        "oldest_activity": first,
        "newest_activity": last,
    }


def read_only_stats(index_file: str) -> tuple[dict[str, Any], bool] | None:
    """``(stats, empty)`` of the index file opened read-only as ``ArchiveIndex(readonly=True)``
    opens it (``empty``: no row at all, as ``ArchiveIndex.is_empty``), or None whenever
    that connection cannot simply read it (a SQLite error of any kind, a folder that
    refuses the shared-memory file): the caller then takes the full path, which reports
    or works around it."""
    import sqlite3

    try:
        conn = sqlite3.connect(f"file:{index_file}?mode=ro", uri=True, timeout=30.0, isolation_level=None)
    except sqlite3.Error:
        return None
    try:
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute("PRAGMA foreign_keys = ON")

        def query(sql: str) -> list[Any]:
            return conn.execute(sql).fetchall()

        return stats(query), not query("SELECT 1 FROM sessions LIMIT 1")
    except sqlite3.Error:
        return None
    finally:
        conn.close()
