"""The sweep of many small native sessions (the multi-terminal app's own ``history/``,
move mode) against the older app's method on the same files, in the same run.

300 SessionState files of a few KB (generated like ``bench.corpus``'s native sessions)
are swept from a fresh home, full text on; the older app's method (gzip -9 each file and
rewrite its JSON index) archives copies of the same files. Runs are interleaved
``--rounds`` times and the median of each is reported::

    python -m bench.small_native --rounds 3 --json bench/results/small-native.json
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from . import textgen as tg
from .anchors import Timer, old_app_archive
from .corpus import DEFAULT_NOW
from .results import emit
from .terminals import native_session
from .world import World

SESSIONS = 300
TARGET = 4000  # bytes of terminal output per session (files of ~5 KB)


def generate(dest: Path, sessions: int = SESSIONS, seed: int = 3) -> int:
    """``sessions`` native session files in ``dest``; returns their total bytes."""
    rng = tg.FastRandom(seed)
    w = World(rng, sessions * TARGET, DEFAULT_NOW)
    dest.mkdir(parents=True, exist_ok=True)
    total = 0
    for _ in range(sessions):
        doc = native_session(w, w.pick_project(), w.start_time(), TARGET)
        path = dest / Path(doc.rel).name
        path.write_bytes(doc.data)
        total += len(doc.data)
    return total


def sweep(files: Path, vault_home: Path, full_text: bool = True) -> dict[str, Any]:
    from termvault.vault import Vault

    shutil.rmtree(vault_home, ignore_errors=True)
    vault_home.mkdir(mode=0o700)
    shutil.copytree(files, vault_home / "history")
    with Timer() as t:
        vault = Vault(vault_home, settle_seconds=0, archive_days=0, full_text=full_text)
        try:
            report = vault.sweep(older_than=0, kinds=["native"])
        finally:
            vault.close()
    return {
        "sessions": len(report.archived),
        "failed": len(report.failed),
        "seconds": t.seconds,
        "cpu_seconds": t.cpu_seconds,
    }


def run(work: Path, rounds: int = 3, sessions: int = SESSIONS, say=print) -> dict[str, Any]:
    files = work / "files"
    nbytes = generate(files, sessions)
    runs: dict[str, list[dict[str, Any]]] = {"old-app": [], "termvault": []}
    for r in range(rounds):
        shutil.rmtree(work / "old", ignore_errors=True)
        runs["old-app"].append(old_app_archive(files, work / "old"))
        runs["termvault"].append(sweep(files, work / "vault"))
        say(f"round {r + 1}/{rounds}: " + ", ".join(f"{k} {v[-1]['seconds']:.3f}s" for k, v in runs.items()))
    out: dict[str, Any] = {"sessions": sessions, "bytes": nbytes, "rounds": rounds}
    for name, xs in runs.items():
        out[name] = {k: round(statistics.median(float(x[k]) for x in xs), 3) for k in ("seconds", "cpu_seconds")}
    out["termvault"].update(archived=runs["termvault"][-1]["sessions"], failed=runs["termvault"][-1]["failed"])
    out["termvault"]["vs_old-app"] = round(out["old-app"]["seconds"] / out["termvault"]["seconds"], 2)
    out["termvault"]["ms_per_session"] = round(1000 * out["termvault"]["seconds"] / sessions, 2)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.small_native", description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--sessions", type=int, default=SESSIONS)
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument("--one-core", action="store_true", help="run everything on one CPU (sched_setaffinity)")
    args = ap.parse_args(argv)
    if args.one_core:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    with tempfile.TemporaryDirectory(prefix="tv-small-") as tmp:
        out = run(Path(tmp), args.rounds, args.sessions, say=lambda s: print(s, file=sys.stderr))
    return emit(out, args.json)


if __name__ == "__main__":
    raise SystemExit(main())
