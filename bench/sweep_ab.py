"""CPU and wall of one sweep, this checkout against another's ``src/`` (an anchor), in
fresh processes, alternating, ``--rounds`` times: medians of each, the sweep's own
process and its worker processes apart. The same sweeps as ``bench.real_corpus`` (the
real corpus laid out as a home) or, with ``--small``, ``bench.small_native``::

    python -m bench.sweep_ab --anchor-src ../base/src --rounds 5 --workers 2
    python -m bench.sweep_ab --anchor-src ../base/src --rounds 5 --workers 0 --no-full-text
    python -m bench.sweep_ab --anchor-src ../base/src --rounds 5 --workers 2 --small

Each process sweeps once to warm up (imports, page cache), then once measured.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

_ONE = r"""
import json, os, resource, shutil, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, os.environ["BENCH_ROOT"])
small, ft = os.environ["AB_SMALL"] == "1", os.environ["AB_FT"] == "1"
work = Path(tempfile.mkdtemp())
if small:
    from bench.small_native import generate, sweep
    generate(work / "files")
    run = lambda dest: sweep(work / "files", dest, ft)
else:
    from bench.real_corpus import default_corpus, place, sweep
    roots = place(default_corpus(), work / "home")
    run = lambda dest: sweep(work / "home", roots, dest, ft)
run(work / "v0")
s0, c0 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
t = time.perf_counter()
run(work / "v1")
wall = time.perf_counter() - t
s1, c1 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = lambda a, b: b.ru_utime + b.ru_stime - a.ru_utime - a.ru_stime
print(json.dumps([wall, cpu(s0, s1), cpu(c0, c1)]))
shutil.rmtree(work)
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.sweep_ab", description=__doc__.split("\n\n")[0])
    ap.add_argument("--anchor-src", type=Path, required=True, help="the other checkout's src/ folder")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--workers", default="2", help="TERMVAULT_SWEEP_WORKERS for both")
    ap.add_argument("--no-full-text", action="store_true")
    ap.add_argument("--small", action="store_true", help="300 small native sessions instead of the corpus")
    args = ap.parse_args(argv)
    root = Path(__file__).resolve().parent.parent
    runs: dict[str, list[list[float]]] = {"anchor": [], "this": []}
    for _ in range(args.rounds):
        for name in runs:
            env = dict(os.environ, BENCH_ROOT=str(root), TERMVAULT_SWEEP_WORKERS=args.workers)
            env.update(AB_SMALL="1" if args.small else "0", AB_FT="0" if args.no_full_text else "1")
            src = args.anchor_src.resolve() if name == "anchor" else root / "src"
            env["PYTHONPATH"] = str(src)
            out = subprocess.run([sys.executable, "-c", _ONE], env=env, capture_output=True, text=True, check=True)
            runs[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
    for name, xs in runs.items():
        wall, own, workers = (statistics.median(x[i] for x in xs) for i in range(3))
        cpu = statistics.median(x[1] + x[2] for x in xs)
        print(f"{name:6} wall {wall:.3f} s  CPU {cpu:.3f} s (sweep's process {own:.3f}, workers {workers:.3f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
