"""The start-up benchmark runs every command it times against a real home, and reports
each against bare Python from the same run. No timings are asserted."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # bench/ lives at the repository root, outside src/
    sys.path.insert(0, str(REPO))

from bench import startup  # noqa: E402


def test_the_startup_bench_times_every_command_against_bare_python():
    result = startup.measure(runs=1)
    rows = {r["command"]: r for r in result["rows"]}
    assert set(rows) == {
        "python -c pass",
        "python -c 'import click'",
        "termvault --help",
        "python -m termvault --help",
        "termvault --version",
        "termvault stats",
        "termvault stats --json",
        "termvault stats, 40 archived",
        "termvault -v stats (click)",
    }
    assert rows["python -c pass"]["wall_ratio"] == 1.0
    assert all(r["wall_ms"] > 0 for r in rows.values())
    table = startup.table(result)
    assert table.count("\n| `") == len(rows)
