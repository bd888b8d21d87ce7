"""CPU of a batch's catch-up mark refresh (``consistency.remember_own``) for one month
folder holding ``--units`` archives, against the stat of the folder alone (what the
refresh cost before it checked that every unit there is indexed), interleaved::

    python -m bench.own_marks --units 200 1000

Each measurement is the best of ``--rounds`` rounds of ``--calls`` refreshes, each in a
transaction of its own, in CPU seconds (``time.process_time``).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from termvault.ops import consistency
from termvault.vault import Vault


def _home(root: Path, units: int) -> Vault:
    from tests.helpers import make_native

    home = root / "home"
    home.mkdir(mode=0o700)
    now = time.time()
    for i in range(units):
        make_native(home, f"s{i}", 20, now=now)
    v = Vault(home, archive_days=7)
    v.sweep()
    v.sweep()  # the folder is remembered whole
    return v


def _stat_only(ctx, folders) -> None:
    """The refresh before: the folder's new mark, nothing listed."""
    marks = ctx.index.folder_marks()
    for folder in folders:
        name = folder.relative_to(ctx.store.archive_dir).as_posix()
        if name in marks:
            marks[name] = consistency._mark(folder)
    ctx.index.set_folder_marks(marks)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--units", type=int, nargs="+", default=[200, 1000])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--calls", type=int, default=50)
    args = ap.parse_args()
    print("| units in the folder | stat only (ms/batch) | remember_own (ms/batch) | ratio |")
    print("|---:|---:|---:|---:|")
    for units in args.units:
        with tempfile.TemporaryDirectory() as tmp:
            v = _home(Path(tmp), units)
            try:
                folder = next((v.ctx.store.archive_dir).rglob("*.tar.zst")).parent
                best = {"stat": float("inf"), "own": float("inf")}
                for _ in range(args.rounds):
                    for name, fn in (("stat", _stat_only), ("own", consistency.remember_own)):
                        t = time.process_time()
                        for _ in range(args.calls):
                            with v.index.transaction():
                                fn(v.ctx, {folder})
                        best[name] = min(best[name], (time.process_time() - t) / args.calls)
            finally:
                v.close()
        s, o = best["stat"] * 1e3, best["own"] * 1e3
        print(f"| {units} | {s:.3f} | {o:.3f} | {o / s:.1f}x |")


if __name__ == "__main__":
    main()
