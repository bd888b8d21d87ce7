"""Benchmark results: a dict of named measurements, saved as JSON and shown as a markdown
table.

A results document is ``{"meta": {...}, "measurements": {name: {key: number}}}``. Names
are dotted (``anchor.cli.zstd-19``, ``termvault.archive``); adding a row is adding a key.
Keys the table knows get their own column; any other numbers are listed in the last
column, so a new measurement needs no change here.
"""

from __future__ import annotations

import json
import os
import platform
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"

# (key, header, format) in table order.
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("files", "files", "{:,}"),
    ("input_bytes", "in MB", "MB"),
    ("output_bytes", "out MB", "MB"),
    ("ratio", "ratio", "{:.2f}"),
    ("seconds", "s", "{:.2f}"),
    ("cpu_seconds", "CPU s", "{:.2f}"),
    ("mb_per_s", "MB/s", "{:.1f}"),
    ("cpu_mb_per_s", "MB/CPU s", "{:.1f}"),
    ("ms_per_query", "ms/query", "{:.1f}"),
)
_SHOWN = {c[0] for c in COLUMNS}


def cpu_model() -> str | None:
    """The CPU model name from /proc/cpuinfo (None where there is none)."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def source_state() -> dict[str, Any]:
    """The commit measured, the tree of its src/ folder, and the files under src/ that
    differ from it (the benchmark runs the working tree)."""
    import subprocess

    repo = RESULTS_DIR.parent.parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
        ).stdout.strip()
        tree = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD:src"], cwd=repo, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"], cwd=repo, capture_output=True, text=True, check=True
        ).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError):
        return {}
    return {"commit": commit, "src_tree": tree, "src_changed": [line[3:] for line in dirty if line.strip()]}


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def new_results(**meta: Any) -> dict[str, Any]:
    """An empty results document with the machine described in ``meta``: CPUs and their
    model, Python, SQLite and zstandard versions, and the load average at the start
    (this machine may be busy with other work; CPU times are recorded beside wall
    times for that reason)."""
    try:
        import zstandard

        zstd_version = zstandard.__version__
    except ImportError:
        zstd_version = None
    base = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model(),
        "sqlite": sqlite3.sqlite_version,
        "zstandard": zstd_version,
        "load_average_start": load_average(),
        "source": source_state(),
    }
    base.update(meta)
    return {"meta": base, "measurements": {}}


def add(results: dict[str, Any], name: str, values: dict[str, Any]) -> dict[str, Any]:
    """Record measurement ``name`` (replacing one of the same name); returns ``values``."""
    results["measurements"][name] = values
    return values


def save(results: dict[str, Any], path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return path


def emit(result: Any, path: Path | None) -> int:
    """Print ``result`` as JSON and, when ``path`` is given, write it there too: the end
    of every bench's ``main`` (exit status 0)."""
    text = json.dumps(result, indent=2, ensure_ascii=False)
    print(text)
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n", encoding="utf-8")
    return 0


def load(path: Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _cell(value: Any, fmt: str) -> str:
    if value is None:
        return ""
    if fmt == "MB":
        return f"{value / 1e6:,.1f}"
    try:
        return fmt.format(value)
    except (ValueError, TypeError):
        return str(value)


def _other(values: dict[str, Any]) -> str:
    parts = []
    for key, value in values.items():
        if key in _SHOWN:
            continue
        if isinstance(value, list) or (
            isinstance(value, dict) and any(isinstance(v, (dict, list)) for v in value.values())
        ):
            parts.append(f"{key}: in the JSON")
        elif isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
            parts.append(f"{key}: {value}")
        elif isinstance(value, float):
            parts.append(f"{key}={value:g}")
        else:
            parts.append(f"{key}={value}")
    return "; ".join(parts)


def markdown_table(results: dict[str, Any]) -> str:
    """One row per measurement, in insertion order; empty cells where a key is absent.
    Columns no measurement has are left out."""
    rows = results.get("measurements", {})
    cols = [c for c in COLUMNS if any(c[0] in v for v in rows.values() if isinstance(v, dict))]
    header = ["measurement"] + [c[1] for c in cols] + ["other"]
    lines = ["| " + " | ".join(header) + " |", "|---|" + "".join("---:|" for _ in cols) + "---|"]
    for name, values in rows.items():
        if not isinstance(values, dict):
            continue
        cells = [name] + [_cell(values.get(k), fmt) for k, _, fmt in cols] + [_other(values)]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)
