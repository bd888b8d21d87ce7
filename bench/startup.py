"""Start-up time of the CLI against bare Python, measured in the same run.

    python -m bench.startup [--runs 30] [--json OUT.json] [--baseline OTHER_PYTHON]

Each command runs in a fresh process, ``--runs`` times, interleaved (one run of every
command per round, so a burst of load on a shared machine hits all of them alike);
bytecode is cached first (one warm-up run each, with ``PYTHONDONTWRITEBYTECODE`` unset)
because that is how an installed termvault starts. ``termvault stats`` reads a real,
empty home made by one ``termvault sweep`` in a temporary HOME (its index exists, no
source folders are found); "stats, 40 archived" reads a second home where that sweep
archived 40 small native sessions (its per-source and per-month tables drawn). The anchor is ``python -c pass`` with the same interpreter;
``python -c 'import click'`` is the floor of any click command, and ``python -m
termvault`` shows what the console script saves.

``--baseline`` names the interpreter of another environment with termvault installed (an
older commit, say): its ``termvault --help``, ``--version`` and ``stats`` join the same
interleaved rounds as "before: ..." rows, so before and after come from one run.

Reported per command: the median wall time, the median CPU time (user + system of the
child) and both as ratios to the anchor's medians. The target (issue 18) is at most 3x
for ``termvault --help`` and ``termvault stats``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET = 3.0


def _termvault(python: str = sys.executable) -> list[str]:
    """The console script of ``python``'s environment, else ``python -m termvault``."""
    script = Path(python).with_name("termvault")
    return [str(script)] if script.exists() else [python, "-m", "termvault"]


def _native_sessions(home: Path, count: int = 40) -> None:
    """``count`` small native sessions in ``home``, inactive for 60 days (due)."""
    from termvault import SessionState
    from termvault.storage import SessionStorage

    storage = SessionStorage(home, enable_auto_archive=False)
    for i in range(count):
        when = time.time() - (60 + i) * 86400
        state = SessionState(
            session_id=f"native-{i:04d}", name=f"shell {i}", working_directory=f"/home/me/p{i % 7}",
            created_at=when - 3600, modified_at=when, command_count=i + 1, last_command="make test",
            output_snapshot="\n".join(f"line {j} of session {i}: ok" for j in range(200)),
        )  # fmt: skip
        os.utime(storage.save_session(state), (when, when))


def commands(home: Path, baseline: str | None = None, full: Path | None = None) -> dict[str, list[str]]:
    tv = _termvault()
    full = full or home
    before = {}
    if baseline:
        old = _termvault(baseline)
        before = {
            "before: termvault --help": [*old, "--help"],
            "before: termvault --version": [*old, "--version"],
            "before: termvault stats": [*old, "--home", str(home), "stats"],
            "before: termvault stats --json": [*old, "--home", str(home), "stats", "--json"],
            "before: termvault stats, 40 archived": [*old, "--home", str(full), "stats"],
        }
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        # The floor: every command parses its options with click.
        "python -c 'import click'": [sys.executable, "-c", "import click"],
        "termvault --help": [*tv, "--help"],
        "python -m termvault --help": [sys.executable, "-m", "termvault", "--help"],
        "termvault --version": [*tv, "--version"],
        "termvault stats": [*tv, "--home", str(home), "stats"],
        "termvault stats --json": [*tv, "--home", str(home), "stats", "--json"],
        "termvault stats, 40 archived": [*tv, "--home", str(full), "stats"],
        # Not a quick form (-v): the click command, for comparison.
        "termvault -v stats (click)": [*tv, "-v", "--home", str(home), "stats"],
        **before,
    }


def _run(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def measure(runs: int, baseline: str | None = None) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="tv-startup-"))
    try:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "TERMVAULT_HOME")}
        env["HOME"] = str(tmp)
        env["COLUMNS"] = "100"
        home = tmp / "home"
        subprocess.run([*_termvault(), "--home", str(home), "sweep"], env=env, check=True, capture_output=True)
        full = tmp / "full"
        _native_sessions(full)
        subprocess.run([*_termvault(), "--home", str(full), "sweep"], env=env, check=True, capture_output=True)
        cmds = commands(home, baseline, full)
        for argv in cmds.values():  # warm-up: bytecode written, files in the page cache
            _run(argv, env)
        walls: dict[str, list[float]] = {name: [] for name in cmds}
        cpus: dict[str, list[float]] = {name: [] for name in cmds}
        for _ in range(runs):
            for name, argv in cmds.items():
                wall, cpu = _run(argv, env)
                walls[name].append(wall)
                cpus[name].append(cpu)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    anchor = "python -c pass"
    base_wall, base_cpu = statistics.median(walls[anchor]), statistics.median(cpus[anchor])
    rows = []
    for name in cmds:
        wall, cpu = statistics.median(walls[name]), statistics.median(cpus[name])
        rows.append(
            {
                "command": name,
                "wall_ms": round(wall * 1000, 1),
                "wall_min_ms": round(min(walls[name]) * 1000, 1),
                "cpu_ms": round(cpu * 1000, 1),
                "wall_ratio": round(wall / base_wall, 2),
                "cpu_ratio": round(cpu / base_cpu, 2) if base_cpu else None,
            }
        )
    return {"runs": runs, "python": sys.version.split()[0], "target_ratio": TARGET, "rows": rows}


def table(result: dict[str, Any]) -> str:
    lines = [
        f"{result['runs']} interleaved runs, median (bytecode cached):",
        "",
        "| command | wall | min | CPU | wall / python | CPU / python |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| `{r['command']}` | {r['wall_ms']} ms | {r['wall_min_ms']} ms | {r['cpu_ms']} ms "
            f"| {r['wall_ratio']}x | {r['cpu_ratio']}x |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.startup", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--baseline", help="the python of another environment with termvault, measured alongside")
    args = parser.parse_args(argv)
    result = measure(args.runs, args.baseline)
    print(table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
