"""How fast the full-text sweep of the real corpus could be if cleaning its text cost
nothing: the same sweep with ``index.fulltext.clean`` (redaction, the blob and noisy-token
filters) replaced by removing control characters alone, against the older app's method and
``gzip -6`` in the same run, interleaved with the real sweep.

It bounds what any faster redaction or noise filter can give: every other step of a
full-text sweep (parsing, the archive's compression and check, the text frames, the index
rows and FTS5 inserts, publishing) still runs. The workers are forked after the
replacement, so they run it too::

    python -m bench.ceiling --rounds 3 --json bench/results/ceiling.json
    python -m bench.ceiling --small-native --rounds 3   # the 300 small native sessions
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from .anchors import cli_compress, old_app_archive
from .real_corpus import _files, default_corpus, measure_and_print, place, sweep
from .results import emit


def _controls_only(text: str) -> str:
    from termvault.index import fulltext

    if fulltext.has_controls(text):
        text = fulltext._CONTROLS.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    return text


def run(corpus: Path, work: Path, rounds: int = 3, say=print) -> dict[str, Any]:
    from termvault.index import fulltext

    home = work / "home"
    roots = place(corpus, home)
    flat = work / "flat"
    flat.mkdir(exist_ok=True)
    for path in _files(home):
        shutil.copy2(path, flat / path.relative_to(home).as_posix().replace("/", "__"))
    real_clean = fulltext.clean
    runs: dict[str, list[dict[str, Any]]] = {"old-app": [], "gzip-6": [], "full-text": [], "free-cleaning": []}
    for r in range(rounds):
        shutil.rmtree(work / "old", ignore_errors=True)
        runs["old-app"].append(old_app_archive(flat, work / "old"))
        runs["full-text"].append(sweep(home, roots, work / f"vault-ft-{r}", True))
        runs["gzip-6"].append(cli_compress(flat, work, "gzip-6"))
        fulltext.clean = _controls_only  # type: ignore[assignment]
        try:
            runs["free-cleaning"].append(sweep(home, roots, work / f"vault-free-{r}", True))
        finally:
            fulltext.clean = real_clean  # type: ignore[assignment]
        say(f"round {r + 1}/{rounds}: " + ", ".join(f"{k} {v[-1]['seconds']:.2f}s" for k, v in runs.items()))
    out: dict[str, Any] = {"rounds": rounds}
    for name, results in runs.items():
        out[name] = {
            "seconds": round(statistics.median(float(x["seconds"]) for x in results), 3),
            "cpu_seconds": round(statistics.median(float(x["cpu_seconds"]) for x in results), 3),
        }
    for name in ("full-text", "free-cleaning"):
        for anchor in ("old-app", "gzip-6"):
            out[name][f"vs_{anchor}"] = round(out[anchor]["seconds"] / out[name]["seconds"], 2)
    return out


def run_small_native(work: Path, rounds: int = 3, say=print) -> dict[str, Any]:
    """The same for ``bench.small_native``'s 300 sessions (the old app's method only)."""
    from termvault.index import fulltext

    from . import small_native

    files = work / "files"
    small_native.generate(files)
    real_clean = fulltext.clean
    runs: dict[str, list[dict[str, Any]]] = {"old-app": [], "full-text": [], "free-cleaning": []}
    for r in range(rounds):
        shutil.rmtree(work / "old", ignore_errors=True)
        runs["old-app"].append(old_app_archive(files, work / "old"))
        runs["full-text"].append(small_native.sweep(files, work / "vault"))
        fulltext.clean = _controls_only  # type: ignore[assignment]
        try:
            runs["free-cleaning"].append(small_native.sweep(files, work / "vault"))
        finally:
            fulltext.clean = real_clean  # type: ignore[assignment]
        say(f"round {r + 1}/{rounds}: " + ", ".join(f"{k} {v[-1]['seconds']:.3f}s" for k, v in runs.items()))
    out: dict[str, Any] = {"rounds": rounds, "sessions": small_native.SESSIONS}
    for name, results in runs.items():
        out[name] = {
            "seconds": round(statistics.median(float(x["seconds"]) for x in results), 3),
            "cpu_seconds": round(statistics.median(float(x["cpu_seconds"]) for x in results), 3),
        }
    for name in ("full-text", "free-cleaning"):
        out[name]["vs_old-app"] = round(out["old-app"]["seconds"] / out[name]["seconds"], 2)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.ceiling", description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=default_corpus())
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--small-native", action="store_true", help="300 small native sessions instead of the corpus")
    ap.add_argument("--json", type=Path, help="write the results here")
    args = ap.parse_args(argv)
    if args.small_native:
        with tempfile.TemporaryDirectory(prefix="tv-ceiling-") as tmp:
            out = run_small_native(Path(tmp), args.rounds, say=lambda s: print(s, file=sys.stderr))
        return emit(out, args.json)
    return measure_and_print(args.corpus, args.json, lambda work, say: run(args.corpus, work, args.rounds, say))


if __name__ == "__main__":
    raise SystemExit(main())
