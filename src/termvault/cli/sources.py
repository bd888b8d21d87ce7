"""``termvault sources``: which session sources are configured or detected."""

from __future__ import annotations

from typing import Any

import click

from .context import AppState, pass_state
from .coverage import not_swept_reason
from .format import Column, home_display, human_size, plural, print_json, print_lines, table_lines
from .params import json_option


def source_rows(vault) -> list[dict[str, Any]]:
    """One dict per known source kind: its mode, roots, whether it is configured,
    detected and enabled, the live sessions found now and what the archive holds."""
    archived = vault.stats()["per_source"]
    swept = {cs.source.kind for cs in vault.sources()}
    rows: list[dict[str, Any]] = []
    seen = set()
    for cs in vault.sources(include_undetected=True):
        src = cs.source
        seen.add(src.kind)
        live, live_bytes, error = 0, 0, None
        folders: list[str] = []
        try:
            for unit in src.discover():
                live += 1
                live_bytes += unit.size
                folder = home_display(unit.files[0].origin.parent)
                if folder not in folders:
                    folders.append(folder)
        except OSError as exc:
            error = f"could not list its sessions: {exc}"
        a = archived.get(src.kind, {})
        left_out = src.kind not in swept and src.detected() and live > 0
        rows.append(
            {
                "kind": src.kind,
                "description": src.description,
                "mode": cs.mode,
                "configured": cs.configured,
                "detected": src.detected(),
                "enabled": True,
                "swept": src.kind in swept,
                "not_swept_reason": not_swept_reason(src.kind, folders) if left_out else None,
                "archive_days": cs.archive_days,
                "roots": [str(r) for r in src.roots],
                "live_sessions": live,
                "live_bytes": live_bytes,
                "archived_sessions": a.get("sessions", 0),
                "archived_versions": a.get("versions", 0),
                "archived_bytes": a.get("archive_bytes", 0),
                "error": error,
            }
        )
    from ..sources import available_kinds  # lazy: the source plugins load only for this command

    for kind in available_kinds():
        if kind in seen:
            continue
        enabled = vault.config.source_config(kind).enabled
        a = archived.get(kind, {})
        rows.append(
            {
                "kind": kind,
                "description": "",
                "mode": None,
                "configured": kind in vault.config.sources,
                "detected": False,
                "enabled": enabled,
                "swept": False,
                "not_swept_reason": None if enabled else "disabled in config.toml (enabled = false)",
                "archive_days": None,
                "roots": [],
                "live_sessions": 0,
                "live_bytes": 0,
                "archived_sessions": a.get("sessions", 0),
                "archived_versions": a.get("versions", 0),
                "archived_bytes": a.get("archive_bytes", 0),
                "error": None if not enabled else "this source kind could not be loaded",
            }
        )
    return rows


def _status(row: dict[str, Any]) -> str:
    if not row["enabled"]:
        return "disabled"
    if row["error"] and row["mode"] is None:
        return "unavailable"
    if row["configured"]:
        return "configured" if row["detected"] else "configured, missing"
    if row["detected"] and not row["swept"]:
        return "found, not swept" if row["live_sessions"] else "not configured"
    return "detected" if row["detected"] else "not found"


@click.command(
    epilog="""\b
Example:
  termvault sources
  termvault sources --json

Configure roots, mode (move/copy) and archive_days in config.toml under
[sources.KIND]; `enabled = false` turns a source off. A plain `termvault sweep`
sweeps every source shown as configured or detected; one shown as "found, not
swept" (aider, whose default folder is your whole home) is swept once configured.
""",
)
@json_option("the sources")
@pass_state
def sources(state: AppState, as_json: bool):
    """List the session sources, their folders and counts.

    Shows each kind a sweep covers or could cover: mode, folders, live and archived counts.
    """
    vault = state.vault(readonly=True, missing_ok=True)
    rows = source_rows(vault)
    if as_json:
        print_json(rows)
        return
    print_lines(
        state.out,
        table_lines(
            [
                Column("SOURCE"),
                Column("STATUS"),
                Column("MODE"),
                Column("LIVE", justify="right"),
                Column("LIVE SIZE", justify="right"),
                Column("ARCHIVED", justify="right"),
                Column("ARCHIVE SIZE", justify="right"),
                Column("ROOTS", flex=True, cut="left", min_width=12),
            ],
            [
                [
                    r["kind"],
                    _status(r),
                    r["mode"] or "-",
                    str(r["live_sessions"]),
                    human_size(r["live_bytes"]),
                    str(r["archived_sessions"]),
                    human_size(r["archived_bytes"]),
                    ", ".join(home_display(p) for p in r["roots"]) or "-",
                ]
                for r in rows
            ],
            state.width,
        ),
    )
    for r in rows:
        if r["error"] and r["enabled"]:
            state.out.print(f"{r['kind']}: {r['error']}", soft_wrap=True)
    for r in rows:
        if r["not_swept_reason"] and r["enabled"]:
            state.out.print(
                f"{r['kind']}: {plural(r['live_sessions'], 'session')} found, not swept ({r['not_swept_reason']}).",
                soft_wrap=True,
            )
    if not vault.home.is_dir():
        state.out.print(
            f"The termvault home {home_display(vault.home)} does not exist yet: nothing is archived; "
            "`termvault sweep` creates it.",
            soft_wrap=True,
        )
