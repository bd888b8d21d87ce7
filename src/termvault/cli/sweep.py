"""``termvault sweep``: archive what is due, with progress and a closing summary."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click
from rich.text import Text

from .context import EXIT_PROBLEMS, AppState, pass_state
from .format import duration, human_size, key_values, plural, print_json, print_lines, ratio
from .params import Duration
from .progress import sweep_progress

if TYPE_CHECKING:
    from ..reports import SweepReport


@click.command(
    epilog="""\b
Example:
  termvault sweep                       archive what is due (native sessions after 30 days)
  termvault sweep --older-than 7d --source claude-code --dry-run
  termvault sweep --json                a machine-readable report

Exits 1 when some session could not be archived (the others are), 3 when another
termvault process holds the home.
""",
)
@click.option(
    "--older-than", type=Duration("d"), metavar="AGE",
    help="Archive sessions inactive this long: a number and a unit (45s, 90min, 12h, 30d, 2w, 3mo, 1y), "
         "or 0 for everything settled. [default: each source's setting]",
)
@click.option("--source", "sources", multiple=True, metavar="KIND",
              help="Only this source kind (repeatable), e.g. native, claude-code, codex.")
@click.option("--dry-run", is_flag=True, help="Show what would be archived; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_state
def sweep(state: AppState, older_than: float | None, sources: tuple[str, ...], dry_run: bool, as_json: bool):
    """Archive every session that is due.

    Each archive is verified before any source file is removed.
    Sessions are archived one by one; one that fails is reported with its reason and
    the sweep goes on. With a storage cap configured, old archives are pruned afterwards.
    """
    vault = state.vault(create=True)
    with sweep_progress(state, enabled=not as_json and not dry_run) as progress:
        report = vault.sweep(older_than=older_than, kinds=list(sources) or None, dry_run=dry_run, progress=progress)
    if as_json:
        print_json(report.to_dict())
    elif not state.quiet:
        print_summary(state, report)
    if report.failed:
        raise click.exceptions.Exit(EXIT_PROBLEMS)


def print_summary(state: AppState, report: SweepReport) -> None:
    out = state.out
    if report.dry_run:
        total = sum(size for _, _, size in report.due)
        if report.due:
            out.print(f"Dry run: {plural(len(report.due), 'session')} ({human_size(total)}) would be archived:",
                      soft_wrap=True)
            for kind, session_id, size in report.due:
                out.print(f"  {kind:<12} {session_id}  {human_size(size)}", soft_wrap=True)
        else:
            out.print("Dry run: nothing is due for archiving.", soft_wrap=True)
        out.print(f"Skipped {report.skipped} (not due yet, still being written, or unchanged since archived).",
                  soft_wrap=True)
        if report.prune and report.prune.pruned:
            p = report.prune
            out.print(f"The storage cap would then prune {plural(p.pruned_count, 'archived version')} "
                      f"({human_size(p.bytes_freed)}).", soft_wrap=True)
        return
    archived = len(report.archived)
    if archived or report.failed or report.unchanged:
        head = f"Sweep finished in {duration(report.seconds)}."
    else:
        head = f"Nothing to archive: no session is due (checked in {duration(report.seconds)})."
    out.print(head, soft_wrap=True)
    saved = report.raw_bytes - report.compressed_bytes
    rows: list[tuple[str, str | Text | None]] = [
        ("  archived", plural(archived, "session")),
        ("  unchanged", f"{report.unchanged} (already archived, identical)" if report.unchanged else None),
        ("  failed", str(len(report.failed))),
        ("  skipped", f"{report.skipped} (not due yet, still being written, or unchanged)"),
        ("  raw size", human_size(report.raw_bytes)),
        ("  compressed", f"{human_size(report.compressed_bytes)} (ratio {ratio(report.raw_bytes, report.compressed_bytes)}, "
                         f"{human_size(saved)} saved)" if report.compressed_bytes else "0 B"),
        ("  time", duration(report.seconds)),
    ]
    if report.prune and report.prune.pruned:
        p = report.prune
        rows.append(("  pruned", f"{plural(p.pruned_count, 'old version')} ({human_size(p.bytes_freed)}) "
                                 f"to stay under {human_size(p.limit)}"))
    print_lines(out, key_values(rows))
    if report.failed:
        out.print("Failed:", soft_wrap=True)
        for f in report.failed:
            out.print(Text.assemble("  ", (f.session_id, "bold"), f" ({f.source}, {f.path}): ", (f.reason, "red")),
                      soft_wrap=True)


COMMANDS = [sweep]
