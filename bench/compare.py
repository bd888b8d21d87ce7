"""The sweep of the real corpus by several termvault checkouts, interleaved, against the
older app's method and ``gzip -6`` measured in the same rounds.

Each checkout is named by an interpreter that has it installed (a virtualenv per
checkout, e.g. a ``git worktree`` of an older commit); this tree's ``bench`` places the
corpus once (``bench.real_corpus.place``) and every sweep runs in a fresh process of the
interpreter named, so each checkout archives the same files with its own code::

    python -m bench.compare --rounds 3 old=../old/.venv/bin/python new=.venv/bin/python

Each round runs the old app's method, then every checkout with full text, then every
checkout without, then ``gzip -6``; the checkouts' order alternates between rounds. The
medians are reported, with each checkout's ratio to both anchors and its CPU seconds
(steadier than wall time on a shared machine).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
from pathlib import Path
from typing import Any

from .anchors import MB, cli_compress, old_app_archive
from .real_corpus import _files, default_corpus, measure_and_print, place

REPO = Path(__file__).resolve().parent.parent
# Runs in the checkout's interpreter: this tree's bench (on sys.path), its termvault.
CHILD = """
import json, sys
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from bench.real_corpus import sweep
print(json.dumps(sweep(Path(sys.argv[2]), json.loads(sys.argv[3]), Path(sys.argv[4]), sys.argv[5] == "1")))
"""


def _sweep(python: str, home: Path, roots: dict[str, list[str]], vault: Path, full_text: bool) -> dict[str, Any]:
    args = [python, "-c", CHILD, str(REPO), str(home), json.dumps(roots), str(vault), "1" if full_text else "0"]
    out = subprocess.run(args, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(corpus: Path, work: Path, checkouts: dict[str, str], rounds: int = 3, say=print) -> dict[str, Any]:
    home = work / "home"
    roots = place(corpus, home)
    flat = work / "flat"  # the anchors read the same files, one folder
    flat.mkdir()
    for path in _files(home):
        shutil.copy2(path, flat / path.relative_to(home).as_posix().replace("/", "__"))
    nbytes = sum(p.stat().st_size for p in _files(flat))
    runs: dict[str, list[dict[str, Any]]] = {}
    names = list(checkouts)
    for r in range(rounds):
        order = names if r % 2 == 0 else names[::-1]
        shutil.rmtree(work / "old", ignore_errors=True)
        runs.setdefault("old-app", []).append(old_app_archive(flat, work / "old"))
        for full_text in (True, False):
            for name in order:
                vault = work / f"vault-{name}-{int(full_text)}-{r}"
                result = _sweep(checkouts[name], home, roots, vault, full_text)
                runs.setdefault(f"{name} {'full text' if full_text else 'no full text'}", []).append(result)
                shutil.rmtree(vault)
        runs.setdefault("gzip-6", []).append(cli_compress(flat, work, "gzip-6"))
        say(f"round {r + 1}/{rounds}: " + ", ".join(f"{k} {v[-1]['seconds']:.2f}s" for k, v in runs.items()))
    out: dict[str, Any] = {"corpus_bytes": nbytes, "rounds": rounds, "checkouts": checkouts}
    for name, results in runs.items():
        seconds = statistics.median(float(x["seconds"]) for x in results)
        cpu = statistics.median(float(x["cpu_seconds"]) for x in results)
        row = {"seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3), "mb_per_s": round(nbytes / MB / seconds, 2)}
        last = results[-1]
        row.update(
            {k: last[k] for k in ("sessions", "failed", "archive_bytes", "index_bytes", "index_ratio") if k in last}
        )
        out[name] = row
    for name, row in out.items():
        if isinstance(row, dict) and "index_ratio" in row:
            for anchor in ("old-app", "gzip-6"):
                row[f"vs_{anchor}"] = round(out[anchor]["seconds"] / row["seconds"], 2)
                row[f"cpu_vs_{anchor}"] = round(out[anchor]["cpu_seconds"] / row["cpu_seconds"], 2)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__.split("\n\n")[0])
    ap.add_argument("checkouts", nargs="+", metavar="NAME=PYTHON", help="a label and an interpreter with termvault")
    ap.add_argument("--corpus", type=Path, default=default_corpus())
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", type=Path, help="write the results here")
    args = ap.parse_args(argv)
    checkouts = dict(item.split("=", 1) for item in args.checkouts)
    return measure_and_print(
        args.corpus, args.json, lambda work, say: run(args.corpus, work, checkouts, args.rounds, say)
    )


if __name__ == "__main__":
    raise SystemExit(main())
