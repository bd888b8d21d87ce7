"""The browser's preview of one session whose terminal output is a single large turn,
against another checkout of termvault (the anchor) in the same run, rounds interleaved.

Each measurement is a fresh process (``PYTHONPATH`` set to the variant's ``src``) that
opens the browser headless (Textual's ``run_test``) on a home holding one native session
of ``--lines`` lines of output, waits until the preview shows it and has been drawn,
and prints the CPU seconds (user + system, all threads) of that wait (with ``--find x``:
of typing ``x`` into the find bar and waiting until the count is shown). A run that passes
``--limit`` CPU seconds is reported as "> limit"::

    git archive <commit> src | tar -x -C /some/where
    python -m bench.tui_preview --anchor-src /some/where/src --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def build(home: Path, lines: int) -> int:
    """A home with one native session of ``lines`` lines of output; returns its size."""
    from termvault import SessionState, SessionStorage, Vault

    when = time.time() - 3 * 86400
    output = "".join(f"line {n} of the build log, step {n % 97} " + "x" * 40 + "\n" for n in range(lines))
    storage = SessionStorage(home, enable_auto_archive=False)
    state = SessionState(
        session_id="big-build", name="big build", working_directory="/w", created_at=when - 60,
        modified_at=when, command_count=1, last_command="make", output_snapshot=output,
    )  # fmt: skip
    path = storage.save_session(state)
    storage.close()
    os.utime(path, (when, when))
    with Vault(home, settle_seconds=0) as vault:
        vault.sweep(older_than=0)
    return len(output.encode())


def child(home: Path, find: str = "") -> None:
    from termvault import SessionArchiver
    from termvault.tui import create_app

    archiver = SessionArchiver(home)
    app = create_app(archiver=archiver, preview_delay=0)

    async def main() -> float:
        start = time.process_time()
        async with app.run_test(size=(120, 40)) as pilot:
            while not (app.preview.entry is not None and app.idle):
                await pilot.pause()
                await asyncio.sleep(0.01)
            for _ in range(3):  # the preview drawn, not only loaded
                await pilot.pause()
            if find:  # then only what finding costs: the find bar opened and typed into
                await pilot.press("ctrl+f")
                await pilot.pause()
                start = time.process_time()
                await pilot.press(*find)
                while not app.preview.match_label.endswith(str(len(app.preview.matches))):
                    await pilot.pause()
                for _ in range(3):
                    await pilot.pause()
            return time.process_time() - start

    print(f"{asyncio.run(main()):.3f}")
    archiver.close()


def measure(src: Path, home: Path, limit: float, find: str = "") -> float | None:
    env = {**os.environ, "PYTHONPATH": str(src)}
    code = (
        "import resource, sys; from pathlib import Path; from bench.tui_preview import child; "
        f"resource.setrlimit(resource.RLIMIT_CPU, ({int(limit)}, {int(limit) + 1})); child(Path({str(home)!r}), {find!r})"
    )
    proc = subprocess.run([sys.executable, "-c", code], env={**env, "PYTHONPATH": f"{src}{os.pathsep}{REPO}"},
                          capture_output=True, text=True, cwd=REPO)  # fmt: skip
    return float(proc.stdout.strip()) if proc.returncode == 0 and proc.stdout.strip() else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--anchor-src", type=Path, required=True, help="the anchor checkout's src folder")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--lines", type=int, nargs="+", default=[2_000, 20_000, 200_000])
    ap.add_argument("--limit", type=float, default=60.0, help="CPU seconds after which a run is stopped")
    ap.add_argument("--find", default="", help="measure typing this into the find bar instead")
    args = ap.parse_args()
    variants = {"anchor": args.anchor_src.resolve(), "branch": REPO / "src"}
    work = Path(tempfile.mkdtemp(prefix="tv-preview-bench-"))
    try:
        homes, sizes = {}, {}
        for lines in args.lines:
            homes[lines] = work / f"home-{lines}"
            sizes[lines] = build(homes[lines], lines)
        cpu: dict[tuple[str, int], list[float | None]] = {}
        for _ in range(args.rounds):
            for lines in args.lines:
                for name, src in variants.items():
                    cpu.setdefault((name, lines), []).append(measure(src, homes[lines], args.limit, args.find))
        print(f"{'lines':>8} {'MB':>5} {'anchor s':>9} {'branch s':>9} {'ratio':>6}   (median CPU of {args.rounds})")
        for lines in args.lines:
            mb = sizes[lines] / 1e6
            row = []
            for name in variants:
                got = cpu[(name, lines)]
                row.append(None if None in got else statistics.median(v for v in got if v is not None))
            a, b = row
            fa = f"> {args.limit:.0f}" if a is None else f"{a:.3f}"
            fb = f"> {args.limit:.0f}" if b is None else f"{b:.3f}"
            ratio = "" if a is None or b is None else f"{b / a:.2f}"
            print(f"{lines:>8} {mb:5.1f} {fa:>9} {fb:>9} {ratio:>6}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
