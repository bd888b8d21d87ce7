"""Where a sweep's time goes: one sweep of the corpus under cProfile, its time split into
the stages of archiving a session.

The sweep may prepare units on a second thread (parse, hash, full-text preparation)
while the main thread writes, verifies and indexes the previous one; every thread it
starts is profiled too. ``stages`` are in thread-seconds and exclusive: they add up to
the main thread's wall time plus the parse thread's busy time, ``other`` being the rest.
They are discovery, parsing (which also hashes the files: the parse pass reads them
once), full-text preparation (redaction, identifier extraction), writing the archive
(tar, zstd, hashing again, fsync of the file and its folder), verifying it (read back:
zstd, tar, hashing), the FTS5 inserts, the index lookups of each unit (its newest
version), the index row and its transaction (BEGIN, COMMIT: SQLite WAL with fsync),
removing native sources, and the main thread waiting for the next parsed unit. While the
parse thread runs Python it holds the GIL, so the main thread's Python steps include
time spent waiting for it.
``across`` cuts across stages: all sha256 hashing, all zstd, all fsync calls, all JSON
decoding, Python's tarfile. cProfile slows Python code down (roughly 1.5-2x) but not the
C parts nor the waits, so shares of Python-heavy stages are overstated.
"""

from __future__ import annotations

import cProfile
import pstats
import threading
from pathlib import Path
from typing import Any

from .termvault_bench import sweep_corpus

Func = tuple[str, int, str]


def _match(stats: dict, path_end: str, name: str) -> list[Func]:
    return [f for f in stats if f[0].replace("\\", "/").endswith(path_end) and f[2] == name]


def _cum(stats: dict, path_end: str, name: str) -> float:
    return sum(stats[f][3] for f in _match(stats, path_end, name))


def _builtin(stats: dict, needle: str) -> list[Func]:
    return [f for f in stats if f[0] == "~" and needle in f[2]]


def _tt(stats: dict, funcs: list[Func]) -> float:
    return sum(stats[f][2] for f in funcs)


def _from(stats: dict, callee: list[Func], caller_end: str, caller_name: str, cumulative: bool = False) -> float:
    """Inline (or ``cumulative``) time of ``callee`` spent in calls made by the named
    caller."""
    total = 0.0
    for f in callee:
        for caller, (_nc, _cc, tt, ct) in stats[f][4].items():
            if caller[0].replace("\\", "/").endswith(caller_end) and caller[2] == caller_name:
                total += ct if cumulative else tt
    return total


def breakdown(stats: dict, wall: float, worker_busy: float = 0.0) -> dict[str, Any]:
    """Stage and cross-cutting seconds from the pstats ``stats`` of one sweep (every
    thread's merged). ``wall`` is the sweep's wall time on the main thread and
    ``worker_busy`` the time other threads spent preparing units: stage seconds are
    thread-seconds, and ``other`` is what of ``wall + worker_busy`` no stage explains."""
    execute = _builtin(stats, "'execute' of 'sqlite3.Connection'")
    # The text of a unit: its conversation read (Source.messages) then fulltext.prepare.
    prepare = _cum(stats, "termvault/ops/text.py", "prepare_text")
    redact = _cum(stats, "termvault/redact/__init__.py", "redact")
    clean = _cum(stats, "termvault/index/fulltext.py", "clean")
    frames = _cum(stats, "termvault/index/fulltext.py", "compress")
    # A ``with index.transaction():`` commits in the context manager's __exit__, called
    # from the function holding the ``with``: that attributes each commit to its stage.
    exits = _match(stats, "contextlib.py", "__exit__")
    enters = _match(stats, "contextlib.py", "__enter__")  # BEGIN IMMEDIATE
    ensure_hash = sum(stats[f][3] for f in stats if "termvault/" in f[0].replace("\\", "/") and f[2] == "ensure_hash")
    stages = {
        "discover": _cum(stats, "termvault/ops/sweep.py", "plan"),
        "parse_and_hash": _cum(stats, "termvault/ops/text.py", "parse") + ensure_hash,
        "fulltext_prepare": prepare,
        "write_archive": _cum(stats, "termvault/archive/format.py", "write_archive"),
        "verify": _cum(stats, "termvault/archive/format.py", "read_archive"),
        "fulltext_insert": _cum(stats, "termvault/index/textindex.py", "add"),
        "index_lookups": _cum(stats, "termvault/index/entries.py", "get_entry")
        + _cum(stats, "termvault/index/entries.py", "next_version"),
        "index_row_and_commit": _cum(stats, "termvault/index/entries.py", "insert")
        + _from(stats, enters + exits, "termvault/ops/sweep.py", "archive_unit", cumulative=True),
        "remove_sources": _cum(stats, "termvault/ops/sweep.py", "remove_sources"),
        "waiting_for_parse_thread": _cum(stats, "concurrent/futures/_base.py", "result"),
    }
    stages["other"] = max(0.0, wall + worker_busy - sum(stages.values()))
    fulltext_parts = {
        "redact": redact,
        "controls_blobs_noise": max(0.0, clean - redact),
        "compress_frames": frames,
        "prepare_other": max(0.0, prepare - clean - frames),
    }
    zstd_c = _tt(stats, [f for f in stats if f[0] == "~" and "ZstdCompress" in f[2]])
    zstd_d = _tt(stats, [f for f in stats if f[0] == "~" and "ZstdDecompress" in f[2]])
    across = {
        "sha256": _tt(stats, _builtin(stats, "'update' of '_hashlib.HASH'") + _builtin(stats, "openssl_sha256")),
        "zstd_compress": zstd_c,
        "zstd_decompress": zstd_d,
        "fsync": _tt(stats, _builtin(stats, "posix.fsync")),
        "sqlite_commit": _from(stats, execute, "termvault/index/db.py", "transaction"),
        "json_decode": _cum(stats, "json/__init__.py", "loads"),
        "tarfile_python": _tt(stats, [f for f in stats if f[0].replace("\\", "/").endswith("/tarfile.py")]),
    }
    by_source = {
        Path(f[0]).stem: v[3]
        for f, v in stats.items()
        if "termvault/sources/" in f[0].replace("\\", "/") and f[2] == "parse"
    }
    return {
        "parse_by_source": {k: round(v, 3) for k, v in sorted(by_source.items(), key=lambda kv: -kv[1])},
        "total_seconds": round(wall + worker_busy, 3),
        "wall_seconds": round(wall, 3),
        "parse_thread_busy_seconds": round(worker_busy, 3),
        "stages": {k: round(v, 3) for k, v in stages.items()},
        "fulltext_parts": {k: round(v, 3) for k, v in fulltext_parts.items()},
        "across": {k: round(v, 3) for k, v in across.items()},
    }


def top_functions(stats: dict, n: int = 15) -> list[dict[str, Any]]:
    """The ``n`` functions with the most inline time (lock waits left out: idle threads
    and the main thread waiting for the next parsed unit, shown as their own stage)."""
    idle = ("acquire", "'get' of '_queue.SimpleQueue'")
    busy = {f: v for f, v in stats.items() if not (f[0] == "~" and any(i in f[2] for i in idle))}
    rows = sorted(busy.items(), key=lambda kv: kv[1][2], reverse=True)[:n]
    out = []
    for (path, line, name), (_cc, nc, tt, ct, _callers) in rows:
        where = name if path == "~" else f"{'/'.join(Path(path).parts[-2:])}:{line}({name})"
        out.append({"function": where, "calls": nc, "tottime": round(tt, 3), "cumtime": round(ct, 3)})
    return out


def profile_sweep(corpus: Path, home: Path, dump: Path | None = None) -> dict[str, Any]:
    """Sweep the corpus (full text on) under cProfile, every thread the sweep starts
    profiled too; the breakdown, the top functions and the profiled sweep's own numbers.
    ``dump`` keeps the raw (merged) profile."""
    main = cProfile.Profile()
    threads: list[cProfile.Profile] = []

    def start(frame, event, arg) -> None:
        # Runs once in each new thread, then hands over to a C profiler of its own.
        prof = cProfile.Profile()
        threads.append(prof)
        prof.enable()

    threading.setprofile(start)
    try:
        values = sweep_corpus(corpus, home, full_text=True, profiler=main)
    finally:
        threading.setprofile(None)  # type: ignore[arg-type]
    worker = pstats.Stats(*threads) if threads else None
    busy = 0.0
    if worker is not None:
        busy = _cum(worker.stats, "termvault/ops/sweep.py", "prepare")  # type: ignore[attr-defined]
    merged = pstats.Stats(main)
    if worker is not None:
        merged.add(worker)
    if dump is not None:
        merged.dump_stats(str(dump))
    out = breakdown(merged.stats, values["seconds"], busy)  # type: ignore[attr-defined]
    out["top"] = top_functions(merged.stats)  # type: ignore[attr-defined]
    out["threads_profiled"] = 1 + len(threads)
    out["sweep"] = {k: values[k] for k in ("input_bytes", "seconds", "cpu_seconds", "mb_per_s")}
    return out


def markdown(profile: dict[str, Any]) -> str:
    """The breakdown as markdown tables (stage, seconds, share of the sweep)."""
    total = profile["total_seconds"] or 1.0

    def table(title: str, values: dict[str, float]) -> list[str]:
        lines = [f"| {title} | s | share |", "|---|---:|---:|"]
        lines += [f"| {k} | {v:.2f} | {100 * v / total:.0f}% |" for k, v in values.items()]
        return lines

    intro = (
        f"Sweep wall time {profile.get('wall_seconds', total):.2f} s on the main thread, plus "
        f"{profile.get('parse_thread_busy_seconds', 0):.2f} s busy on the parse thread; "
        f"shares are of their sum, {total:.2f} thread-seconds."
    )
    lines = [intro, ""]
    lines += table("stage (thread-seconds, exclusive)", profile["stages"]) + [""]
    lines += table("full-text preparation, of which", profile["fulltext_parts"]) + [""]
    if profile.get("parse_by_source"):
        lines += table("parsing, per source kind", profile["parse_by_source"]) + [""]
    lines += table("across stages", profile["across"]) + [""]
    lines += ["| function (inline time) | calls | tottime s | cumtime s |", "|---|---:|---:|---:|"]
    lines += [
        f"| `{t['function']}` | {t['calls']:,} | {t['tottime']:.2f} | {t['cumtime']:.2f} |" for t in profile["top"]
    ]
    return "\n".join(lines)
