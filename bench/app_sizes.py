"""App sessions vs the seed's gzip -9: archive size of the multi-terminal app's own
sessions, from an empty snapshot to 200 snapshot lines.

    python -m bench.app_sizes [--seed 1] [--sessions 20] [--json OUT.json]

For each snapshot length, ``--sessions`` app-shaped sessions are generated (the
``SessionState`` JSON exactly as the app writes it: ``json.dump(asdict(s), indent=2)``,
``output_snapshot`` the last N lines of a shell transcript). The anchor is the seed's
archiver run in the same process: ``gzip.open(path, "wt")`` (level 9, file name and
time in the header) of the same bytes. termvault's figure is the ``.tar.zst`` unit a
real sweep writes for the same file. Reported per length: median JSON size, median seed
size, median termvault size, and the median of the per-session ratio termvault / seed.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .world import World

LINES = (0, 10, 25, 50, 100, 200)
DAY = 86400.0


def _box(width: int, rows: list[str]) -> list[str]:
    inner = width - 2
    return (
        ["╭" + "─" * inner + "╮"]
        + ["│ " + row[: inner - 2].ljust(inner - 2) + " │" for row in rows]
        + ["╰" + "─" * inner + "╯"]
    )


def _claude_pane(w: World, p, t: float, n_lines: int) -> tuple[list[str], int, str | None]:
    """What a pane running Claude Code shows: its frame, the prompts typed, its tool calls
    with one-line results, its answers, the input box."""
    r = w.rng
    width = r.choice((60, 80, 100))
    lines = _box(
        width,
        ["✻ Welcome to Claude Code!", "", "  /help for help, /status for your current setup", "", f"  cwd: {p.cwd}"],
    ) + [""]
    count, last = 0, None
    while len(lines) < n_lines + 8:
        prompt = w.vocab.sentence(r, r.randint(4, 12))
        lines += [f"> {prompt}", ""]
        count += 1
        last = prompt
        for _ in range(r.randint(1, 4)):
            f = r.choice(p.files)
            tool = r.choice(("Read", "Update", "Bash", "Search"))
            if tool == "Bash":
                cmd, out, _ = w.shell(p, t)
                first = next((x for x in out.split("\n") if x.strip()), "(no content)") if out else "(no content)"
                lines += [f"● Bash({cmd[:60]})", f"  ⎿  {first[: width - 6]}", ""]
            elif tool == "Read":
                lines += [f"● Read({f.path})", f"  ⎿  Read {r.randint(20, 900)} lines (ctrl+r to expand)", ""]
            elif tool == "Update":
                lines += [
                    f"● Update({f.path})",
                    (f"  ⎿  Updated {f.path} with {r.randint(1, 30)} additions and {r.randint(0, 12)} removals"),
                    "",
                ]
            else:
                lines += [f'● Search(pattern: "{w.vocab.identifier(r)}")', f"  ⎿  Found {r.randint(1, 40)} files", ""]
        lines += [f"● {w.vocab.sentence(r, r.randint(6, 18))}", ""]
    lines += _box(width, [">"]) + ["  ? for shortcuts"]
    return lines, count, last


def _shell(w: World, p, t: float, n_lines: int) -> tuple[list[str], int, str | None]:
    """A shell prompt and the commands run in it, with what they printed."""
    r = w.rng
    prompt = f"{w.user}@{w.host}:~{p.cwd[len(w.home) :]}$ "
    lines: list[str] = []
    count, last = 0, None
    while len(lines) < n_lines + 5:
        t += r.uniform(2, 240)
        cmd, out, _ = w.shell(p, t)
        lines.append(prompt + cmd)
        lines.extend(out.split("\n") if out else [])
        count += 1
        last = cmd
    return lines, count, last


KINDS = {"claude": _claude_pane, "shell": _shell}


def app_session(w: World, n_lines: int, sid: str, now: float, kind: str = "claude") -> bytes:
    """One history file as the app writes it, with an ``n_lines`` snapshot of a pane
    running Claude Code (``claude``, what the app's panes run) or a shell (``shell``)."""
    r = w.rng
    p = w.pick_project()
    start = now - r.uniform(40, 400) * DAY
    lines, count, last = KINDS[kind](w, p, start, n_lines)
    t = start + r.uniform(60, 4 * 3600)
    state = {
        "session_id": sid,
        "name": p.name if r.random() < 0.5 else f"Session {r.randint(1, 9)}",
        "working_directory": p.cwd,
        "created_at": start,
        "modified_at": t,
        "command_count": count,
        "last_command": last,
        "conversation_file": None,
        "output_snapshot": lines[-n_lines:] if n_lines else [],
        "is_active": False,
    }
    return json.dumps(state, indent=2).encode("utf-8")


def seed_gzip_size(folder: Path, name: str, data: bytes) -> int:
    """The seed's archiver: ``gzip.open(archive_path, 'wt', encoding='utf-8')``."""
    path = folder / f"{name}.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write(data.decode("utf-8"))
    return path.stat().st_size


def run(seed: int = 1, sessions: int = 20) -> dict[str, Any]:
    from termvault import SessionArchiver

    now = time.time()
    w = World(random.Random(seed), 5_000_000, now)
    rows = []
    with tempfile.TemporaryDirectory(prefix="tv-app-sizes-") as tmp:
        root = Path(tmp)
        home, gz = root / "home", root / "gz"
        (home / "history").mkdir(parents=True)
        gz.mkdir()
        plan: dict[tuple[str, int], list[tuple[str, int, int]]] = {}
        for kind in KINDS:
            for n in LINES:
                for i in range(sessions):
                    sid = f"{kind}{n:03d}x{i:03d}"
                    data = app_session(w, n, sid, now, kind)
                    modified = json.loads(data)["modified_at"]
                    name = f"{int(modified)}_{sid}.json"
                    (home / "history" / name).write_bytes(data)
                    os.utime(home / "history" / name, (modified, modified))
                    plan.setdefault((kind, n), []).append((sid, len(data), seed_gzip_size(gz, name, data)))
        archiver = SessionArchiver(home, archive_days=30)
        try:
            result = archiver.auto_archive_old_sessions()
            assert result["failed_count"] == 0, result
            for (kind, n), items in plan.items():
                sizes, ratios = [], []
                for sid, _, seed_size in items:
                    entry = archiver.index.get_entry(sid)
                    sizes.append(entry.size_bytes)
                    ratios.append(entry.size_bytes / seed_size)
                rows.append(
                    {
                        "kind": kind,
                        "lines": n,
                        "json_bytes": statistics.median(x[1] for x in items),
                        "seed_gzip9_bytes": statistics.median(x[2] for x in items),
                        "termvault_bytes": statistics.median(sizes),
                        "ratio_median": round(statistics.median(ratios), 3),
                        "ratio_max": round(max(ratios), 3),
                        "saved_never_negative": all(s < x[1] for s, x in zip(sizes, items)),
                    }
                )
        finally:
            archiver.close()
    return {"seed": seed, "sessions_per_length": sessions, "rows": rows}


def markdown(results: dict[str, Any]) -> str:
    out = [
        "| pane | snapshot lines | JSON | seed gzip -9 | termvault | termvault / seed (median, max) | saved > 0 |",
        "|---|---:|---:|---:|---:|---:|:---:|",
    ]
    for r in results["rows"]:
        out.append(
            f"| {r['kind']} | {r['lines']} | {r['json_bytes']:.0f} B | {r['seed_gzip9_bytes']:.0f} B | "
            f"{r['termvault_bytes']:.0f} B | {r['ratio_median']:.2f}x, {r['ratio_max']:.2f}x | "
            f"{'yes' if r['saved_never_negative'] else 'NO'} |"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.app_sizes", description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--sessions", type=int, default=20, help="sessions per snapshot length")
    ap.add_argument("--json", type=Path, help="write the results here")
    args = ap.parse_args(argv)
    results = run(args.seed, args.sessions)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
