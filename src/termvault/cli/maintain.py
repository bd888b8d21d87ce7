"""Keeping the archive healthy: ``stats``, ``verify``, ``prune``, ``pin``/``unpin``,
``reindex`` and ``import-legacy``."""

from __future__ import annotations

import sys

import click

from ..errors import UsageError
from .context import EXIT_PROBLEMS, EXIT_USAGE, AppState, CliError, pass_state
from .format import (
    Column,
    assemble,
    echo_key_values,
    home_display,
    human_size,
    local_time,
    plural,
    print_json,
    print_lines,
    table_lines,
)
from .params import Size, complete_session_id, json_option
from .plain import EMPTY_ARCHIVE, STATS_TABLES, breakdown, stats_pairs
from .progress import item_progress


# -- stats ------------------------------------------------------------------------------
@click.command(
    epilog="""\b
Example:
  termvault stats
  termvault stats --json | jq .per_source
""",
)
@json_option("the statistics")
@pass_state
def stats(state: AppState, as_json: bool):
    """Totals, space saved, per source and per month."""
    vault = state.vault(readonly=True)
    data = vault.stats()
    if as_json:
        print_json(data)
        return
    pairs = stats_pairs(data, home_display(data["home"]))
    echo_key_values(pairs)
    if not data["total_versions"]:
        click.echo(EMPTY_ARCHIVE)
        return
    for first, key, sessions in STATS_TABLES:
        headers, rows = breakdown(first, data[key], sessions)
        columns = [Column(headers[0]), *(Column(h, justify="right") for h in headers[1:])]
        state.out.print()
        print_lines(state.out, table_lines(columns, rows, state.width))


# -- verify -----------------------------------------------------------------------------
@click.command(
    epilog="""\b
Example:
  termvault verify                 read-only check; exit 0 clean, 1 problems
  termvault verify --repair        fix what can be fixed without losing anything
  termvault verify --json
""",
)
@click.option(
    "--repair",
    is_flag=True,
    help="Fix what can be fixed: remove temporary files, index orphaned "
    "archives, finish interrupted moves, mark missing/corrupt versions.",
)
@click.option(
    "--read-data",
    is_flag=True,
    help="Also download every version kept only in the remote tier "
    "and check its bytes (without it, its presence and size).",
)
@json_option("the report")
@pass_state
def verify(state: AppState, repair: bool, as_json: bool, read_data: bool = False):
    """Check every archive against its recorded hashes.

    Each archive is re-hashed against the index and its own manifest. Read-only unless --repair. Reports missing, corrupt and orphaned archives, leftover
    temporary files and archived sources not yet removed. Exits 1 if problems remain.
    """
    vault = state.vault(readonly=not repair)
    with item_progress(state, "Verifying", enabled=not as_json) as progress:
        report = vault.repair(progress, read_data) if repair else vault.verify(progress, read_data)
    superseded = set_superseded_aside(vault, report)
    if repair:
        # What repair cannot fix: lost or damaged archives, and whatever reconciliation
        # had to leave (an orphan that does not verify, a source that changed).
        remaining = bool(
            report.missing
            or report.corrupt
            or report.remote_missing
            or report.stranded
            or report.implausible
            or vault.leftovers()
        )
    else:
        remaining = not report.clean
    rearchive = resweepable(vault, report) if remaining else {}
    if as_json:
        data = report.to_dict()
        if repair:
            data["problems_remaining"] = remaining
        data["next_sweep_rearchives"] = sorted(rearchive)
        data["superseded"] = [{"archive_path": p, "by": by} for p, by in sorted(superseded.items())]
        print_json(data)
    else:
        _print_verify(state, report, repair, remaining, rearchive)
        for p, by in sorted(superseded.items()) if not state.quiet else ():
            state.out.print(
                assemble(
                    "  ",
                    ("superseded", "yellow"),
                    f" archive/{p}: damaged, but archived again since, "
                    f"byte for byte, as {by} (verified); nothing to do.",
                ),
                soft_wrap=True,
            )
    if remaining:
        raise click.exceptions.Exit(EXIT_PROBLEMS)


def set_superseded_aside(vault, report) -> dict[str, str]:
    """Take out of ``report`` the missing or corrupt versions, already marked so in the
    index, whose exact bytes a later sound version of the same session holds (the sweep
    after a repair archived them again): nothing is left to do about them. Returns
    {archive path: "SESSION version N"} of those."""
    found: dict[str, str] = {}
    for rel in [*report.missing, *(p for p, _ in report.corrupt)]:
        row = vault.index.by_path(rel)
        if row is None or row.status not in ("missing", "corrupt") or not row.content_sha256:
            continue
        for later in vault.index.versions(row.session_id):
            if (
                later.version > row.version
                and later.status == "archived"
                and later.content_sha256 == row.content_sha256
            ):
                found[rel] = f"{row.session_id} version {later.version}"
                break
    if found:
        report.missing = [p for p in report.missing if p not in found]
        report.corrupt = [(p, why) for p, why in report.corrupt if p not in found]
    return found


def resweepable(vault, report) -> dict[str, str]:
    """{archive path: session id} of the missing or corrupt versions whose session is
    still on disk where its source finds it: the next sweep archives it again."""
    from ..errors import TermvaultError

    bad = set(report.missing) | {p for p, _ in report.corrupt}
    if not bad:
        return {}
    wanted: dict[str, dict[str, str]] = {}
    for rel in bad:
        row = vault.index.by_path(rel)
        if row is not None:
            wanted.setdefault(row.source, {})[row.session_id] = rel
    found: dict[str, str] = {}
    for kind, ids in wanted.items():
        try:
            for cs in vault.sources([kind]):
                for unit in cs.source.discover():
                    if unit.session_id in ids:
                        found[ids[unit.session_id]] = unit.session_id
        except (TermvaultError, OSError):
            continue
    return found


def _print_verify(state: AppState, report, repair: bool, remaining: bool, rearchive: dict[str, str]) -> None:

    out = state.out
    if not state.quiet:  # --quiet: the problems and what to do about them, nothing else
        out.print(f"Checked {plural(report.checked, 'archive version')}: {report.ok} ok.", soft_wrap=True)
    if report.busy and not state.quiet:
        out.print(
            f"Another termvault process is writing ({report.busy}): its temporary files and the archives "
            "it is adding are work in progress, not problems, and were not checked.",
            soft_wrap=True,
        )
    problems: list[tuple[str, str]] = []
    problems += [("missing", f"archive/{p}") for p in report.missing]
    problems += [("corrupt", f"archive/{p}: {why}") for p, why in report.corrupt]
    problems += [("orphaned", f"archive/{p} (not in the index)") for p in report.orphaned]
    problems += [("temp file", home_display(p)) for p in report.temp_files]
    problems += [("pending", f"{sid} (archived, source not removed yet)") for sid in report.pending_removal]
    problems += [("remote", f"archive/{p}: {why}") for p, why in report.remote_missing]
    problems += [("set aside", f"{home_display(p)} (a source not yet put back)") for p in report.stranded]
    problems += [("untrusted", f"archive/{p}: {why}") for p, why in report.implausible]
    if problems:
        out.print("Problems found:", soft_wrap=True)
        for kind, what in problems:
            out.print(assemble("  ", (f"{kind:<10}", "red"), " ", what), soft_wrap=True)
    if report.repaired and not state.quiet:
        out.print("Repaired:", soft_wrap=True)
        for action in report.repaired:
            out.print(assemble("  ", (action, "green")), soft_wrap=True)
    if not problems:
        if not state.quiet:
            out.print("The archive is clean.", soft_wrap=True)
    elif not repair:
        out.print("Run `termvault verify --repair` to fix what can be fixed.", soft_wrap=True)
        if rearchive:
            out.print(
                f"After the repair, the next `termvault sweep` archives "
                f"{plural(len(rearchive), 'damaged version')} again: the session is still on disk "
                f"({', '.join(sorted(set(rearchive.values())))}).",
                soft_wrap=True,
            )
    elif remaining:
        lost = len(report.missing) + len(report.corrupt) - len(rearchive)
        if rearchive:
            out.print(
                f"{plural(len(rearchive), 'damaged version')} will be archived again by the next "
                f"`termvault sweep`: the session is still on disk "
                f"({', '.join(sorted(set(rearchive.values())))}).",
                soft_wrap=True,
            )
        if lost > 0:
            out.print(
                f"{plural(lost, 'missing or corrupt archive')} cannot be rebuilt: the session is no longer "
                "on disk (their index rows are kept and marked).",
                soft_wrap=True,
            )
        if lost <= 0 and not rearchive:
            out.print("Some problems remain; run `termvault verify` to list them.", soft_wrap=True)
    else:
        out.print("Everything found was repaired.", soft_wrap=True)


# -- prune ------------------------------------------------------------------------------
@click.command(
    epilog="""\b
Example:
  termvault prune --max-size 2GB --dry-run     what would go
  termvault prune --max-size 2GB               asks before deleting
  termvault prune --yes                        to the configured cap, no question

Oldest last activity goes first; pinned sessions are never pruned.
""",
)
@click.option(
    "--max-size",
    type=Size(),
    metavar="SIZE",
    help="Keep the archives under SIZE (500MB, 2GB, 1.5GiB) [default: max_total_bytes from the config].",
)
@click.option("--dry-run", is_flag=True, help="Only list what would be deleted.")
@click.option("-y", "--yes", is_flag=True, help="Delete without asking.")
@json_option("the report")
@pass_state
def prune(state: AppState, max_size: int | None, dry_run: bool, yes: bool, as_json: bool):
    """Delete the oldest archives to fit a storage cap."""
    vault = state.vault(readonly=dry_run)  # a dry run writes nothing, not even a new index
    if max_size is None and vault.config.max_total_bytes is None:
        raise UsageError(
            "No storage cap is configured; give one with --max-size (e.g. 2GB) or set max_total_bytes in config.toml."
        )
    plan = vault.prune(max_size, dry_run=True)
    if dry_run or not plan.pruned:
        _print_prune(state, plan, as_json)
        return
    if not yes:
        if not sys.stdin.isatty():
            raise CliError(
                f"Refusing to delete {plural(plan.pruned_count, 'archived version')} without confirmation: "
                "there is no terminal to ask on, so pass --yes (or --dry-run to look first).",
                EXIT_USAGE,
            )
        _print_prune(state, plan, as_json=False, force=True)
        if not click.confirm(f"Delete these {plural(plan.pruned_count, 'archived version')}?", default=False, err=True):
            state.err.print("Nothing was deleted.")
            return
    report = vault.prune(max_size, dry_run=False)
    _print_prune(state, report, as_json)


def _print_prune(state: AppState, report, as_json: bool, force: bool = False) -> None:
    if as_json:
        print_json(report.to_dict())
        return
    if state.quiet and not force:
        return
    out = state.out
    cap = human_size(report.limit)
    if not report.pruned:
        out.print(
            f"Nothing to prune: the archives take {human_size(report.total_before)}, within the cap of {cap}.",
            soft_wrap=True,
        )
        if report.skipped_pinned:
            out.print(f"({plural(report.skipped_pinned, 'pinned version')} kept.)", soft_wrap=True)
        return
    evicting = bool(state.vault().config.remote)  # the remote keeps them: only local copies go
    if evicting:
        verb = "Would evict local copies of" if report.dry_run else "Evicted local copies of"
    else:
        verb = "Would delete" if report.dry_run else "Deleted"
    kept = " (kept in the remote)" if evicting else ""
    out.print(
        f"{verb} {plural(report.pruned_count, 'archived version')}{kept}, oldest activity first, to fit {cap} "
        f"({human_size(report.bytes_freed)} of archives, {human_size(report.raw_bytes_freed)} of sessions):",
        soft_wrap=True,
    )
    print_lines(
        out,
        table_lines(
            [
                Column("ID"),
                Column("VERSION", justify="right"),
                Column("NAME", flex=True, min_width=10),
                Column("LAST ACTIVITY"),
                Column("ARCHIVE SIZE", justify="right"),
            ],
            [
                [e.session_id, str(e.version), e.name, local_time(e.last_activity_at), human_size(e.size_bytes)]
                for e in report.pruned
            ],
            state.width,
        ),
    )
    tail = (
        f"The archives {'would take' if report.dry_run else 'now take'} {human_size(report.total_after)} "
        f"(from {human_size(report.total_before)})."
    )
    if report.skipped_pinned:
        tail += f" {plural(report.skipped_pinned, 'pinned version')} kept."
    out.print(tail, soft_wrap=True)


# -- pins, reindex, legacy --------------------------------------------------------------
@click.command(epilog="\b\nExample:\n  termvault pin 3f2a9c")
@click.argument("session_id", metavar="ID", shell_complete=complete_session_id)
@pass_state
def pin(state: AppState, session_id: str):
    """Pin a session: prune never deletes it."""
    _set_pinned(state, session_id, True)


@click.command(epilog="\b\nExample:\n  termvault unpin 3f2a9c")
@click.argument("session_id", metavar="ID", shell_complete=complete_session_id)
@pass_state
def unpin(state: AppState, session_id: str):
    """Unpin a session (a storage cap may prune it again)."""
    _set_pinned(state, session_id, False)


def _set_pinned(state: AppState, session_id: str, pinned: bool) -> None:
    vault = state.vault()
    entry = vault.get(session_id)
    if bool(entry.pinned) == pinned:
        state.say(f"{entry.session_id} ({entry.name}) is {'already' if pinned else 'not'} pinned; nothing changed.")
        return
    if pinned:
        entry = vault.pin(session_id)
        state.say(f"Pinned {entry.session_id} ({entry.name}): prune will never delete it.")
    else:
        entry = vault.unpin(session_id)
        state.say(f"Unpinned {entry.session_id} ({entry.name}).")


@click.command(epilog="\b\nExamples:\n  termvault reindex\n  termvault reindex --remote")
@click.option(
    "--remote",
    "from_remote",
    is_flag=True,
    help="Rebuild from the remote bucket: every machine's sessions, merged with the local archives.",
)
@pass_state
def reindex(state: AppState, from_remote: bool):
    """Rebuild the index from the archive files.

    Rows and full text are rebuilt from archive/ alone (and, with a remote
    configured, this machine's objects in the bucket). Safe at any time: the
    archives are the truth and are only read. Pins are kept.
    """
    vault = state.vault()
    with item_progress(state, "Reindexing") as progress:
        count = vault.reindex(progress, remote=from_remote)
    state.say(f"Rebuilt the index from {plural(count, 'archived version')}.")


@click.command(name="import-legacy", epilog="\b\nExample:\n  termvault import-legacy")
@pass_state
def import_legacy(state: AppState):
    """Import the older app's archives.

    archive_index.json and archive/**/*.json.gz are read and indexed, never modified. Done automatically once on first use;
    this command runs the import again.
    """
    count = state.vault().import_legacy()
    if count:
        state.say(f"Imported {plural(count, 'session')} from the older app's archive.")
    else:
        state.say("Nothing new to import: no archive of the older app is missing from the index.")
