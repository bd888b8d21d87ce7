"""What the QA pass's fixes cost on the paths they touch, against another checkout of
termvault (the anchor, e.g. the commit before them) in the same run, rounds interleaved:

- ``sweep``: ``termvault sweep --older-than 0`` of the real corpus laid out as a home
  (``bench.real_corpus.place``) into a fresh termvault home;
- ``export-pipe``: ``termvault export ID`` (raw) of a 3 MB session to a pipe;
- ``export-tty``: the same with stdout on a pseudo-terminal, where the branch shows
  control characters in ``cat -v`` notation instead of sending them.

CPU seconds (user + system) of the command's process are measured, the median of the
rounds reported with the branch/anchor ratio::

    git archive <commit> src | tar -x -C /some/where
    python -m bench.qa_overhead --anchor-src /some/where/src --rounds 5
"""

from __future__ import annotations

import argparse
import os
import pty
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from .real_corpus import default_corpus, place

REPO = Path(__file__).resolve().parent.parent


def _cpu_of(argv: list[str], env: dict[str, str], tty: bool = False) -> float:
    """CPU seconds (user + system) of one run of ``argv``; its output is discarded."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    if tty:
        master, slave = pty.openpty()
        proc = subprocess.Popen(argv, stdout=slave, stderr=slave, stdin=subprocess.DEVNULL, env=env)
        os.close(slave)
        while True:
            try:
                if not os.read(master, 1 << 16):
                    break
            except OSError:
                break
        os.close(master)
        code = proc.wait()
    else:
        code = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env).returncode
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if code != 0:
        raise RuntimeError(f"{argv} exited {code}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _env(src: Path | None, user_home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TERMVAULT_")}
    env["HOME"] = str(user_home)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    return env


def print_ratios(cpu: dict[str, dict[str, list[float]]], steps: tuple[str, ...], rounds: int) -> None:
    """The median CPU of each step, anchor and branch, and their ratio, as a table."""
    width = max(len(s) for s in ("step", *steps)) + 1
    print(f"{'step':<{width}} {'anchor s':>9} {'branch s':>9} {'ratio':>6}   (median CPU of {rounds} rounds)")
    for step in steps:
        a, b = statistics.median(cpu["anchor"][step]), statistics.median(cpu["branch"][step])
        print(f"{step:<{width}} {a:9.3f} {b:9.3f} {b / a:6.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--anchor-src", type=Path, required=True, help="the anchor checkout's src folder")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    corpus = default_corpus()
    work = Path(tempfile.mkdtemp(prefix="tv-qa-bench-"))
    try:
        user = work / "user"
        roots = place(corpus, user)
        config = work / "config.toml"
        config.write_text("".join(f'[sources.{k}]\nroots = ["{r[0]}"]\n' for k, r in roots.items()))
        logs = user / "big-logs"
        logs.mkdir()
        (logs / "noise.log").write_bytes(
            b"".join(b"line %d \x1b[31mred\x1b[0m \x1b]0;title\x07 text\r\n" % i for i in range(80_000))
        )
        os.utime(logs / "noise.log", (1.7e9, 1.7e9))
        variants = {"anchor": args.anchor_src.resolve(), "branch": REPO / "src"}
        for src in variants.values():  # both start from compiled modules, whatever the environment
            subprocess.run([sys.executable, "-m", "compileall", "-q", str(src)], check=True)
        cpu: dict[str, dict[str, list[float]]] = {
            v: {"sweep": [], "export-pipe": [], "export-tty": []} for v in variants
        }
        py = [sys.executable, "-m", "termvault"]
        for _ in range(args.rounds):
            for name, src in variants.items():
                env = _env(src, user)
                home = work / f"home-{name}"
                shutil.rmtree(home, ignore_errors=True)
                base = [*py, "--home", str(home), "--config", str(config)]
                cpu[name]["sweep"].append(_cpu_of([*base, "sweep", "--older-than", "0"], env))
                big = work / "big.toml"
                big.write_text(f'[sources.agent-log]\nroots = ["{logs}"]\n')
                big_home = work / f"big-{name}"
                if not big_home.exists():
                    subprocess.run(
                        [*py, "--home", str(big_home), "--config", str(big), "sweep", "--older-than", "0"],
                        env=env,
                        check=True,
                        capture_output=True,
                    )
                exp = [*py, "--home", str(big_home), "--config", str(big), "export", "agent-log-noise"]
                cpu[name]["export-pipe"].append(_cpu_of(exp, env))
                cpu[name]["export-tty"].append(_cpu_of(exp, env, tty=True))
        print_ratios(cpu, ("sweep", "export-pipe", "export-tty"), args.rounds)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
