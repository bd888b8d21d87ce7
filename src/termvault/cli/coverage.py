"""Which sources a plain sweep covers, where each looks, and the ones it leaves out and
why, so ``sources`` and ``sweep`` tell a newcomer the same story."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .format import home_display, plural

MAX_SUGGESTED_ROOTS = 3


@dataclass
class Coverage:
    """One source kind as a plain ``sweep`` sees it."""

    kind: str
    roots: list[Path]
    swept: bool  # a sweep without --source covers it
    present: bool  # one of its folders exists
    found: int | None = None  # sessions found (None: not counted)
    reason: str = ""  # why a present source is not swept
    suggested_roots: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "roots": [str(r) for r in self.roots],
            "swept": self.swept,
            "present": self.present,
            "found": self.found,
            "reason": self.reason or None,
        }


def coverage(vault, count_left_out: bool = True) -> list[Coverage]:
    """Every enabled source kind: swept or not, its folders, and for one that is present
    but left out (a kind swept only when configured, such as aider, whose default folder
    is the whole home), how many sessions it holds and the config that would sweep them."""
    swept = {cs.source.kind for cs in vault.sources()}
    out = []
    for cs in vault.sources(include_undetected=True):
        src = cs.source
        present = src.detected()
        item = Coverage(src.kind, list(src.roots), src.kind in swept, present)
        if present and not item.swept and count_left_out:
            folders: list[str] = []
            try:
                units = list(src.discover())
            except OSError:
                units = []
            item.found = len(units)
            for unit in units:
                folder = home_display(unit.files[0].origin.parent)
                if folder not in folders:
                    folders.append(folder)
            item.suggested_roots = folders
            item.reason = not_swept_reason(src.kind, folders)
        out.append(item)
    return out


def suggested_roots(folders: list[str]) -> list[str]:
    """Roots that cover every folder found: the folders themselves when there are a few,
    else the top-level folders of the home that hold them."""
    if len(folders) <= MAX_SUGGESTED_ROOTS:
        return folders
    tops: list[str] = []
    for folder in folders:
        parts = folder.split("/")
        top = "/".join(parts[:2]) if parts[0] == "~" and len(parts) > 2 else folder
        if top not in tops:
            tops.append(top)
    return tops


def not_swept_reason(kind: str, folders: list[str]) -> str:
    shown = ", ".join(f'"{f}"' for f in suggested_roots(folders)) or '"~/projects"'
    return (
        f"swept only when configured: add [sources.{kind}] roots = [{shown}] to config.toml, "
        f"or run `termvault sweep --source {kind}`"
    )


def left_out_line(item: Coverage) -> str:
    return f"{item.kind}: {plural(item.found or 0, 'session')} found, not swept ({item.reason})."


def looked_in_rows(items: list[Coverage], found: dict[str, int]) -> list[list[str]]:
    """SOURCE / FOLDERS / FOUND rows for the sources a sweep covered or could cover."""
    rows = []
    for item in items:
        roots = ", ".join(home_display(r) for r in item.roots) or "-"
        if item.kind in found:
            what = plural(found[item.kind], "session")
        elif not item.present:
            what = "folder not there"
        elif not item.swept:
            what = f"{plural(item.found or 0, 'session')}; swept only when configured"
        else:
            what = "-"
        rows.append([item.kind, roots, what])
    return rows
