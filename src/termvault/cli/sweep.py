"""``termvault sweep``: archive what is due, with progress and a closing summary."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import click

from .context import EXIT_INTERRUPTED, EXIT_PROBLEMS, AppState, CliError, pass_state
from .coverage import Coverage, coverage, left_out_line, looked_in_rows
from .format import (
    Column,
    assemble,
    duration,
    home_display,
    human_size,
    key_values,
    plural,
    print_json,
    print_lines,
    ratio,
    table_lines,
)
from .params import Duration, check_kinds, json_option
from .progress import sweep_progress

if TYPE_CHECKING:
    from ..reports import Progress, SweepReport


@click.command(
    epilog="""\b
Example:
  termvault sweep                       archive what is due (native sessions after 30 days)
  termvault sweep --older-than 7d --source claude-code --dry-run
  termvault sweep --json                a machine-readable report

Exits 1 when some session could not be archived (the others are), 3 when another
termvault process holds the home, 130 when interrupted with Ctrl-C (what was archived
is kept, and the message says how many).

Durations are a number and a unit: 45s, 90min, 12h, 30d, 2w, 3mo, 1y; 0 alone means none.
""",
)
@click.option(
    "--older-than",
    type=Duration("d"),
    metavar="AGE",
    help="Archive sessions inactive this long: a number and a unit (45s, 90min, 12h, 30d, 2w, 3mo, 1y), "
    "or 0 for everything settled. [default: each source's setting]",
)
@click.option(
    "--source",
    "sources",
    multiple=True,
    metavar="KIND",
    help="Only this source kind (repeatable), e.g. native, claude-code, codex.",
)
@click.option("--dry-run", is_flag=True, help="Show what would be archived; change nothing.")
@json_option("the report")
@pass_state
def sweep(state: AppState, older_than: float | None, sources: tuple[str, ...], dry_run: bool, as_json: bool):
    """Archive every session that is due.

    Each archive is verified before any source file is removed.
    Sessions are archived one by one; one that fails is reported with its reason and
    the sweep goes on. With a storage cap configured, old archives are pruned afterwards.
    Ctrl-C stops between two sessions' steps: what was archived is kept (exit 130).
    """
    check_kinds(sources)
    # A dry run changes nothing: on a machine without a home it reads an empty archive.
    vault = state.vault(readonly=True, missing_ok=True) if dry_run else state.vault(create=True)
    tally = Tally()
    try:
        with sweep_progress(state, enabled=not as_json and not dry_run) as progress:

            def track(p: Progress) -> None:
                tally.seen(p)
                progress(p)

            report = vault.sweep(older_than=older_than, kinds=list(sources) or None, dry_run=dry_run, progress=track)
    except KeyboardInterrupt:
        raise CliError(tally.interrupted(), EXIT_INTERRUPTED) from None
    items = coverage(vault, count_left_out=not sources)
    if as_json:
        data = report.to_dict()
        data["home"] = str(vault.home)
        data["home_created"] = state.home_created
        data["sources"] = [c.to_dict() for c in items]
        print_json(data)
    elif not state.quiet:
        print_summary(state, report, items, explicit=bool(sources))
    if report.failed:
        raise click.exceptions.Exit(EXIT_PROBLEMS)


@dataclass
class Tally:
    """What a sweep had done when it was interrupted, from its progress reports."""

    total: int = 0
    archived: int = 0
    unchanged: int = 0
    failed: int = 0

    def seen(self, p: Progress) -> None:
        self.total = p.total
        if p.outcome == "unchanged":
            self.unchanged += 1
        elif p.ok:
            self.archived += 1
        else:
            self.failed += 1

    def interrupted(self) -> str:
        done = self.archived + self.unchanged + self.failed
        if not self.total:
            return "Interrupted before any session was archived; nothing was changed."
        parts = [f"{self.archived} archived (verified, kept)"]
        if self.unchanged:
            parts.append(f"{self.unchanged} unchanged")
        if self.failed:
            parts.append(f"{self.failed} failed")
        return (
            f"Interrupted after {done} of {plural(self.total, 'due session')}: {', '.join(parts)}; "
            f"the other {self.total - done} are left for the next sweep."
        )


def print_summary(
    state: AppState, report: SweepReport, items: list[Coverage] | None = None, explicit: bool = False
) -> None:
    from rich.text import Text

    out = state.out
    items = items or []
    vault_home = state.vault().home
    if state.home_created:
        out.print(f"Created the termvault home {home_display(vault_home)}.", soft_wrap=True)
    identical = set(report.identical)
    if report.dry_run:
        total = sum(size for _, _, size in report.due)
        if report.due:
            same = sum(1 for _, sid, _ in report.due if sid in identical)
            tail = (
                f": {len(report.due) - same} new, {same} identical to the version already archived "
                "(nothing new would be stored)"
                if same
                else ""
            )
            out.print(
                f"Dry run: {plural(len(report.due), 'session')} ({human_size(total)}) would be swept{tail}:",
                soft_wrap=True,
            )
            for kind, session_id, size in report.due:
                mark = "  (identical to its archived version)" if session_id in identical else ""
                out.print(f"  {kind:<12} {session_id}  {human_size(size)}{mark}", soft_wrap=True)
        else:
            out.print("Dry run: nothing is due for archiving.", soft_wrap=True)
        out.print(
            f"Skipped {report.skipped} (not due yet, still being written, or unchanged since archived).", soft_wrap=True
        )
        if report.prune and report.prune.pruned:
            p = report.prune
            out.print(
                f"The storage cap would then prune {plural(p.pruned_count, 'archived version')} "
                f"({human_size(p.bytes_freed)}).",
                soft_wrap=True,
            )
        _print_coverage(state, report, items, explicit, always=True)
        return
    archived = len(report.archived)
    busy = bool(archived or report.failed or report.unchanged)
    if busy:
        head = f"Sweep finished in {duration(report.seconds)}."
    else:
        head = f"Nothing to archive: no session is due (checked in {duration(report.seconds)})."
    out.print(head, soft_wrap=True)
    saved = report.raw_bytes - report.compressed_bytes
    rows: list[tuple[str, str | Text | None]] = [
        ("  archived", plural(archived, "session")),
        (
            "  unchanged",
            f"{report.unchanged} (identical to the version already archived; nothing new stored)"
            if report.unchanged
            else None,
        ),
        ("  failed", str(len(report.failed))),
        ("  skipped", f"{report.skipped} (not due yet, still being written, or unchanged)"),
        ("  raw size", human_size(report.raw_bytes)),
        (
            "  compressed",
            f"{human_size(report.compressed_bytes)} (ratio {ratio(report.raw_bytes, report.compressed_bytes)}, "
            f"{saved_text(saved)})"
            if report.compressed_bytes
            else "0 B",
        ),
        ("  time", duration(report.seconds)),
    ]
    if report.prune and report.prune.pruned:
        p = report.prune
        rows.append(
            (
                "  pruned",
                f"{plural(p.pruned_count, 'old version')} ({human_size(p.bytes_freed)}) "
                f"to stay under {human_size(p.limit)}",
            )
        )
    if report.source_bytes_freed:
        rows.append(
            (
                "  freed",
                f"{human_size(report.bytes_freed)} ({human_size(report.source_bytes_freed)} of "
                f"moved sessions, raw; {human_size(report.archive_bytes_freed)} of pruned archives, "
                "compressed)",
            )
        )
    print_lines(out, key_values(rows))
    if report.failed:
        out.print("Failed:", soft_wrap=True)
        for f in report.failed:
            out.print(
                assemble("  ", (f.session_id, "bold"), f" ({f.source}, {f.path}): ", (f.reason, "red")),
                soft_wrap=True,
            )
    _print_coverage(state, report, items, explicit, always=state.home_created or not busy or state.verbose > 0)


def saved_text(saved: int) -> str:
    """``1.2 MiB saved``, or for archives larger than what they hold, ``grew by 310 B``
    (a negative "saved" reads as a typo)."""
    return f"{human_size(saved)} saved" if saved >= 0 else f"grew by {human_size(-saved)}"


def _print_coverage(state: AppState, report: SweepReport, items: list[Coverage], explicit: bool, always: bool) -> None:
    """Where the sweep looked, per source (on a first sweep, when nothing was due, or
    with -v), and always the sources it left out and why."""
    out = state.out
    shown = [c for c in items if c.kind in report.found] if explicit else items
    if always and shown:
        out.print("Looked in:", soft_wrap=True)
        print_lines(
            out,
            table_lines(
                [Column("  SOURCE"), Column("FOLDERS", flex=True, cut="left", min_width=12), Column("FOUND")],
                [["  " + r[0], r[1], r[2]] for r in looked_in_rows(shown, report.found)],
                state.width,
            )[1:],
        )
    if explicit:
        return
    for item in items:
        if item.present and not item.swept and item.found:
            out.print(f"Not swept: {left_out_line(item)}", soft_wrap=True)
