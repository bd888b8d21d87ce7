"""What the second outsider's pass (daemon, prune, remote, seed API, FileStores) costs on
the paths its fixes touch, against another checkout of termvault (the anchor, e.g. the
commit before them) in the same run, rounds interleaved:

- ``sweep-corpus``: ``termvault sweep --older-than 0`` of the real corpus laid out as a
  home (``bench.real_corpus.place``), every source's discovery guarded;
- ``sweep-stores``: the same of a Wave and an AgentMux FileStore of 300 panes each (every
  row and data part type-checked);
- ``show-gone``: ``termvault show ID`` of a moved native session (its file is gone, so
  ``show`` now asks whether a restore may put it back in place).

CPU seconds (user + system) of the command's process are measured, the median of the
rounds reported with the branch/anchor ratio::

    git archive <commit> src | tar -x -C /some/where
    python -m bench.qa_background --anchor-src /some/where/src --rounds 5
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.helpers import make_native
from tests.sources import filestore_builder as fsb

from .qa_overhead import _cpu_of, _env, print_ratios
from .real_corpus import default_corpus, place

REPO = Path(__file__).resolve().parent.parent
PANES = 300
DAY_MS = 86_400_000


def _stores(user: Path) -> None:
    """A Wave and an AgentMux FileStore of ``PANES`` panes each, ten days old."""
    old = fsb.now_ms() - 10 * DAY_MS
    for kind, data, objects, name in (
        (fsb.WAVE, user / ".local/share/waveterm", "waveterm.db", "term"),
        (fsb.AGENTMUX_V2, user / ".agentmux", "objects.db", "output"),
    ):
        db = data / "db" / "filestore.db"
        fsb.create_filestore(db, kind)
        fsb.create_objects(data / "db" / objects, kind)
        w = fsb.Writer(db, kind)
        for n in range(PANES):
            pane = fsb.add_pane(data / "db" / objects, {"view": "term" if kind == fsb.WAVE else "agent"})
            w.make_file(pane.block, name, {"maxsize": fsb.WAVE_TERM_MAX, "circular": True}, ts=old)
            w.append(pane.block, name, b"".join(fsb.stream_line(i) for i in range(n % 50 + 20)), ts=old)
        w.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--anchor-src", type=Path, required=True, help="the anchor checkout's src folder")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tv-qa-bench-"))
    steps = ("sweep-corpus", "sweep-stores", "show-gone")
    try:
        user = work / "user"
        roots = place(default_corpus(), user)
        config = work / "config.toml"
        config.write_text("".join(f'[sources.{k}]\nroots = ["{r[0]}"]\n' for k, r in roots.items()))
        stores_user = work / "stores-user"
        _stores(stores_user)
        variants = {"anchor": args.anchor_src.resolve(), "branch": REPO / "src"}
        for src in variants.values():  # both start from compiled modules, whatever the environment
            subprocess.run([sys.executable, "-m", "compileall", "-q", str(src)], check=True)
        cpu: dict[str, dict[str, list[float]]] = {v: {s: [] for s in steps} for v in variants}
        py = [sys.executable, "-m", "termvault"]
        for _ in range(args.rounds):
            for name, src in variants.items():
                home = work / f"home-{name}"
                shutil.rmtree(home, ignore_errors=True)
                env = _env(src, user)
                base = [*py, "--home", str(home), "--config", str(config)]
                cpu[name]["sweep-corpus"].append(_cpu_of([*base, "sweep", "--older-than", "0"], env))
                stores = work / f"stores-{name}"
                shutil.rmtree(stores, ignore_errors=True)
                sweep = [*py, "--home", str(stores), "sweep", "--older-than", "0", "--source", "wave", "--source"]
                cpu[name]["sweep-stores"].append(_cpu_of([*sweep, "agentmux"], _env(src, stores_user)))
                native = work / f"native-{name}"
                if not native.exists():
                    make_native(native, "gone", 40)
                    subprocess.run([*py, "--home", str(native), "sweep"], env=env, check=True, capture_output=True)
                cpu[name]["show-gone"].append(_cpu_of([*py, "--home", str(native), "show", "gone"], env))
        print_ratios(cpu, steps, args.rounds)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
