"""CPU cost of ``fulltext.clean`` (redaction + noise filter) on the texts a full-text
sweep of the real corpus hands it, with the RE2 prefilters and without them (the Python
``re`` code alone, what runs when google-re2 is not installed), in interleaved rounds.

    python -m bench.clean_bench [--corpus DIR] [--rounds 5] [--json OUT]

The texts are collected by sweeping the corpus once, in this process
(``TERMVAULT_SWEEP_WORKERS=0``), recording every text ``clean`` is given. Each round
times, in CPU seconds (``time.process_time``), ``clean`` twice, ``find_secrets`` and
``noise_free`` over all of them, first without RE2 then with it (rebuilt each round); the best and the median
of the rounds are reported, with the ratios. The one-time cost of building the
prefilters (per process) is reported apart.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .real_corpus import default_corpus, place, sweep
from .results import emit


def clean_inputs(corpus: Path) -> list[str]:
    """Every text ``clean`` is given by a full-text sweep of ``corpus``."""
    from termvault.index import fulltext

    os.environ["TERMVAULT_SWEEP_WORKERS"] = "0"
    texts: list[str] = []
    real = fulltext.clean

    def recording(text: str) -> str:
        texts.append(text)
        return real(text)

    fulltext.clean = recording  # type: ignore[assignment]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            roots = place(corpus, work / "home")
            sweep(work / "home", roots, work / "vault", full_text=True)
    finally:
        fulltext.clean = real  # type: ignore[assignment]
    return texts


def use_re2(on: bool) -> float:
    """Turn the prefilters on or off (they are built on first use); the CPU seconds of
    building them when turned on."""
    from termvault import redact
    from termvault.index import noisescan

    os.environ["TERMVAULT_RE2"] = "1" if on else "0"
    redact._gate.cache_clear()
    noisescan._compiled.cache_clear()
    start = time.process_time()
    if on and (redact._gate() is None or noisescan._compiled() is None):
        raise SystemExit("google-re2 is not installed: nothing to compare")
    return time.process_time() - start


def cpu(fn: Callable[[str], object], texts: list[str]) -> float:
    start = time.process_time()
    for text in texts:
        fn(text)
    return time.process_time() - start


def run(corpus: Path, rounds: int) -> dict[str, Any]:
    from termvault import redact
    from termvault.index import fulltext

    texts = clean_inputs(corpus)
    redact.find_secrets("password=warm-up")  # the rules and plugins compiled once
    build = []
    # The first pass after building the prefilters pays for the states RE2's automata
    # build as they meet the text (what a sweep worker, a fresh process, pays); the second
    # runs on built automata (a long-lived process).
    funcs = {
        "clean, 1st pass": fulltext.clean,
        "clean, 2nd pass": fulltext.clean,
        "find_secrets": redact.find_secrets,
        "noise_free": fulltext.noise_free,
    }
    times: dict[str, dict[str, list[float]]] = {name: {"python": [], "re2": []} for name in funcs}
    for _ in range(rounds):
        for mode in ("python", "re2"):
            built = use_re2(mode == "re2")
            if mode == "re2":
                build.append(built)
            for name, fn in funcs.items():
                times[name][mode].append(cpu(fn, texts))
    use_re2(True)
    rows = {}
    for name, by_mode in times.items():
        py, r2 = by_mode["python"], by_mode["re2"]
        rows[name] = {
            "python_best_s": round(min(py), 4),
            "re2_best_s": round(min(r2), 4),
            "python_median_s": round(statistics.median(py), 4),
            "re2_median_s": round(statistics.median(r2), 4),
            "x_cheaper_best": round(min(py) / min(r2), 2),
            "x_cheaper_median": round(statistics.median(py) / statistics.median(r2), 2),
        }
    return {
        "texts": len(texts),
        "chars": sum(map(len, texts)),
        "rounds": rounds,
        "functions": rows,
        "prefilter_build_cpu_s": round(min(build), 4),
        "loadavg": os.getloadavg(),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=default_corpus())
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    result = run(args.corpus, args.rounds)
    print(f"{result['texts']} texts, {result['chars'] / 1e6:.1f} M characters, {result['rounds']} rounds")
    print(f"{'function':16s} {'python s':>9s} {'re2 s':>8s} {'x (best)':>9s} {'x (median)':>11s}")
    for name, row in result["functions"].items():
        print(
            f"{name:16s} {row['python_best_s']:9.3f} {row['re2_best_s']:8.3f} "
            f"{row['x_cheaper_best']:9.2f} {row['x_cheaper_median']:11.2f}"
        )
    print(f"building the prefilters: {result['prefilter_build_cpu_s']:.3f} CPU s once per process")
    emit(result, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
