"""A results document as the markdown sections BENCHMARKS.md is made from: the machine,
the targets, every measurement, the sweep profile and the search queries."""

from __future__ import annotations

from typing import Any

from . import results as res
from . import targets as tg


def machine(results: dict[str, Any]) -> str:
    meta = results.get("meta", {})
    corpus = meta.get("corpus") or {}
    rows = [
        ("CPUs (nproc)", meta.get("cpus")),
        ("CPU model", meta.get("cpu_model")),
        ("Python", meta.get("python")),
        ("SQLite", meta.get("sqlite")),
        ("zstandard", meta.get("zstandard")),
        ("platform", meta.get("platform")),
        ("load average at start / end", f"{meta.get('load_average_start')} / {meta.get('load_average_end')}"),
        ("run", meta.get("created")),
        ("mode", meta.get("mode")),
        (
            "run time",
            f"{meta['total_seconds']:.0f} s; per step: "
            + ", ".join(f"{k} {v:.0f} s" for k, v in (meta.get("step_seconds") or {}).items())
            if meta.get("total_seconds")
            else None,
        ),
        ("termvault measured", _source(meta.get("source") or {})),
        ("termvault at the end of the run (changed during it)", _source(meta.get("source_at_end") or {})),
        (
            "corpus",
            f"seed {corpus.get('seed')}, {corpus.get('files', 0):,} files, {corpus.get('bytes', 0) / 1e6:,.1f} MB"
            if corpus
            else None,
        ),
    ]
    tools = meta.get("tools") or {}
    rows += [(tool, version) for tool, version in tools.items()]
    lines = ["| | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in rows if v is not None]
    return "\n".join(lines)


def _source(state: dict[str, Any]) -> str | None:
    if not state:
        return None
    changed = state.get("src_changed") or []
    return f"commit {state.get('commit')}" + (f" + uncommitted changes to {', '.join(changed)}" if changed else "")


def search_queries(results: dict[str, Any]) -> str:
    m = results.get("measurements", {})
    small = (m.get("termvault.search.swept_vault") or {}).get("per_query", {})
    large = (m.get("termvault.search.large_vault") or {}).get("per_query", {})
    if not small and not large:
        return ""
    lines = [
        "| query | kind | filters | hits (swept) | ms (swept) | hits (large) | ms (large) |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for label in dict.fromkeys([*small, *large]):
        a, b = small.get(label, {}), large.get(label, {})
        q = a.get("query") or b.get("query")
        filters = a.get("filters") or b.get("filters") or {}
        shown = ", ".join(f"{k}={v:.0f}" if isinstance(v, float) else f"{k}={v}" for k, v in filters.items())
        text = f"`{q}`" if q else "(none)"
        lines.append(
            f"| {text.replace('|', '/')} | {a.get('kind') or b.get('kind')} | {shown} | "
            f"{a.get('hits', '')} | {a.get('median_ms', '')} | {b.get('hits', '')} | {b.get('median_ms', '')} |"
        )
    return "\n".join(lines)


def report(results: dict[str, Any]) -> str:
    """Machine, targets, measurements, profile and search queries as markdown."""
    from .profile_sweep import markdown as profile_markdown

    parts = [
        "## Machine",
        machine(results),
        "## Targets",
        tg.markdown(tg.check(results)),
        "## Measurements",
        res.markdown_table(results),
    ]
    if results.get("profile"):
        parts += ["## Sweep profile", profile_markdown(results["profile"])]
    queries = search_queries(results)
    if queries:
        parts += ["## Search queries (median of the timed runs, snippets off)", queries]
    errors = results.get("meta", {}).get("errors")
    if errors:
        parts += ["## Steps that failed", "\n".join(f"- {k}: {v}" for k, v in errors.items())]
    return "\n\n".join(parts) + "\n"
