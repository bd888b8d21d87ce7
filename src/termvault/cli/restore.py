"""``termvault restore``: put a session's files back, verified."""

from __future__ import annotations

from pathlib import Path

import click

from .context import AppState, pass_state
from .format import assemble, home_display, plural, print_json
from .params import complete_session_id, json_option, path_option, version_option


@click.command(
    epilog="""\b
Example:
  termvault restore 3f2a9c                  back where it was archived from
  termvault restore 3f2a9c --to /tmp/look   under another folder instead
  termvault restore 3f2a9c --version 1 --force

An existing different file is refused unless --force; then it is kept aside as
NAME.termvault-old-TIME, never overwritten. Identical files are left alone.
""",
)
@click.argument("session_id", metavar="ID", shell_complete=complete_session_id)
@path_option(
    "--to",
    "target",
    folder=True,
    metavar="DIR",
    help="Restore under DIR (same relative layout) instead of the original paths.",
)
@click.option("--force", is_flag=True, help="Replace different existing files (they are kept aside).")
@version_option("Restore")
@json_option("what was done")
@pass_state
def restore(state: AppState, session_id: str, target: Path | None, force: bool, version: int | None, as_json: bool):
    """Restore an archived session byte for byte.

    Every file is checked against its sha256. ID may be any unique prefix of a session id. The archive keeps its copy.
    """

    vault = state.vault()
    result = vault.restore(session_id, version=version, to=target, force=force)
    if as_json:
        print_json(result.to_dict())
        return
    if state.quiet:
        return
    out = state.out
    if not result.restored:
        out.print(
            f"Nothing to restore: the {plural(len(result.unchanged), 'file')} of {result.session_id} "
            f"(version {result.version}) already in place {'is' if len(result.unchanged) == 1 else 'are'} identical.",
            soft_wrap=True,
        )
    else:
        out.print(f"Restored {result.session_id} (version {result.version}), verified:", soft_wrap=True)
    for path in result.restored:
        out.print(assemble(("  restored   ", "green"), home_display(path)), soft_wrap=True)
    for path in result.unchanged:
        out.print(assemble(("  identical  ", "dim"), home_display(path), " (already there)"), soft_wrap=True)
    for path, aside in result.set_aside:
        out.print(
            assemble(("  set aside  ", "yellow"), f"{home_display(path)} -> {home_display(aside)}"), soft_wrap=True
        )
    for note in result.notes:
        out.print(assemble(("  note       ", "yellow"), note), soft_wrap=True)
