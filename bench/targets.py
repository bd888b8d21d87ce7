"""The targets termvault is held to, checked against a results document: each target's
value (a ratio against an anchor measured in the same run, or an absolute time or size)
and whether it is met. A target whose measurements are missing is reported as such."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class Target:
    name: str
    goal: str  # as written in the issue
    compute: Callable[[dict[str, dict[str, Any]]], float | None]
    limit: float
    higher_is_better: bool
    unit: str = "x"

    def check(self, m: dict[str, dict[str, Any]]) -> dict[str, Any]:
        try:
            value = self.compute(m)
        except (KeyError, TypeError, ZeroDivisionError):
            value = None
        if value is None:
            return {"target": self.name, "goal": self.goal, "value": None, "met": None}
        met = value >= self.limit if self.higher_is_better else value <= self.limit
        return {"target": self.name, "goal": self.goal, "value": round(value, 3), "unit": self.unit, "met": met}


def _ratio(m, a: str, b: str, key: str) -> float:
    return m[a][key] / m[b][key]


TARGETS = [
    Target(
        "sweep vs old app (wall MB/s)",
        ">= 5x",
        lambda m: _ratio(m, "termvault.sweep.full_text", "anchor.old_app.gzip9_json_index", "mb_per_s"),
        5,
        True,
    ),
    Target(
        "sweep vs old app (MB per CPU s)",
        ">= 5x",
        lambda m: _ratio(m, "termvault.sweep.full_text", "anchor.old_app.gzip9_json_index", "cpu_mb_per_s"),
        5,
        True,
    ),
    Target(
        "sweep, no full text, vs old app (wall)",
        ">= 5x",
        lambda m: _ratio(m, "termvault.sweep.no_full_text", "anchor.old_app.gzip9_json_index", "mb_per_s"),
        5,
        True,
    ),
    Target(
        "sweep vs gzip -6 (wall MB/s)",
        ">= 3x",
        lambda m: _ratio(m, "termvault.sweep.full_text", "anchor.cli.gzip-6", "mb_per_s"),
        3,
        True,
    ),
    Target(
        "sweep vs gzip -6 (MB per CPU s)",
        ">= 3x",
        lambda m: _ratio(m, "termvault.sweep.full_text", "anchor.cli.gzip-6", "cpu_mb_per_s"),
        3,
        True,
    ),
    Target(
        "sweep, no full text, vs gzip -6 (wall)",
        ">= 3x",
        lambda m: _ratio(m, "termvault.sweep.no_full_text", "anchor.cli.gzip-6", "mb_per_s"),
        3,
        True,
    ),
    Target(
        "Claude Code archive size vs gzip -6",
        "<= 0.65x",
        lambda m: m["termvault.size.claude-code"]["vs_gzip6"],
        0.65,
        False,
    ),
    Target(
        "whole corpus archive size vs xz -9e",
        "<= 1.3x",
        lambda m: m["termvault.sweep.full_text"]["output_bytes"] / m["anchor.cli.xz-9e_solid"]["output_bytes"],
        1.3,
        False,
    ),
    Target(
        "Claude Code archive size vs gzip -6, level = 6 (archives recompressed)",
        "<= 0.65x",
        lambda m: m["experiment.archives_at_level_6"]["claude_code_vs_gzip6"],
        0.65,
        False,
    ),
    Target(
        "Claude Code archive size vs gzip -6, level = 19",
        "<= 0.65x",
        lambda m: m["termvault.sweep.level19"]["claude_code_vs_gzip6"],
        0.65,
        False,
    ),
    Target(
        "whole corpus archive size vs xz -9e, level = 19",
        "<= 1.3x",
        lambda m: m["termvault.sweep.level19"]["output_bytes"] / m["anchor.cli.xz-9e_solid"]["output_bytes"],
        1.3,
        False,
    ),
    Target("index size / archive size", "< 0.5", lambda m: m["termvault.index_size"]["index_to_archive"], 0.5, False),
    Target(
        "search p95, 2 GB vault (200 MB --quick), snippets off",
        "(no number; vs rg)",
        lambda m: m["termvault.search.large_vault"]["p95_ms"],
        float("inf"),
        False,
        "ms",
    ),
    Target(
        "search, anchor words, 2 GB vault vs rg at that size",
        "faster (< 1x)",
        lambda m: m["termvault.search.large_vault"]["anchor_words_ms_per_query"] / _large_rg(m)["ms_per_query"],
        1.0,
        False,
    ),
    Target(
        "termvault stats, 100k sessions (20k --quick), process",
        "< 150 ms",
        lambda m: m["termvault.scale.cli_stats"]["median_ms"],
        150,
        False,
        "ms",
    ),
    Target(
        "termvault search --name, 100k sessions (20k --quick), process",
        "< 150 ms",
        lambda m: m["termvault.scale.cli_search_name"]["median_ms"],
        150,
        False,
        "ms",
    ),
    Target(
        "SessionStorage open, 100k sessions (20k --quick), in process",
        "< 100 ms",
        lambda m: m["termvault.scale.session_storage_open"]["open_ms"],
        100,
        False,
        "ms",
    ),
    Target(
        "restore + verify a 10 MB session", "< 100 ms", lambda m: m["termvault.restore"]["median_ms"], 100, False, "ms"
    ),
    Target(
        "peak RSS archiving / restoring a 2 GB session (200 MB --quick)",
        "< 150 MB",
        lambda m: m["termvault.memory"]["peak_mb"],
        150,
        False,
        "MB",
    ),
    Target(
        "python -c 'import termvault'",
        "< 150 ms",
        lambda m: m["termvault.import"]["import_termvault"]["median_ms"],
        150,
        False,
        "ms",
    ),
]


def _large_rg(m: dict[str, dict[str, Any]]) -> dict[str, Any]:
    for name, values in m.items():
        if name.startswith("anchor.search.") and name.endswith("_at_large_vault_size"):
            return values
    raise KeyError("rg at scale")


def check(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Every target checked against ``results["measurements"]``."""
    m = results.get("measurements", {})
    return [t.check(m) for t in TARGETS]


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| target | goal | measured | met |", "|---|---|---:|---|"]
    for r in rows:
        if r["value"] is None:
            value, met = "not measured", ""
        else:
            value = f"{r['value']:g}{'' if r['unit'] == 'x' else ' '}{r['unit']}"
            met = "yes" if r["met"] else "**no**"
            if r["goal"].startswith("("):
                met = "-"
        lines.append(f"| {r['target']} | {r['goal']} | {value} | {met} |")
    return "\n".join(lines)
