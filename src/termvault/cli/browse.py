"""``termvault browse``: the full-screen archive browser (``termvault.tui``, loaded only
when asked for, so the other commands never import textual)."""

from __future__ import annotations

import sys

import click

from .context import EXIT_USAGE, AppState, CliError, pass_state


def _on_a_terminal() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


@click.command(
    epilog="""\b
Example:
  termvault browse
  termvault --home ~/.multi-term browse

Press / to search; Enter opens a session; see the footer for restore, export and pin keys.
""",
)
@pass_state
def browse(state: AppState):
    """Open the archive browser.

    Search as you type, preview a session, restore, export and pin it.
    """
    if not _on_a_terminal():
        raise CliError("The archive browser needs a terminal; use `termvault search` in scripts and pipes.", EXIT_USAGE)
    try:
        from ..tui.app import run_browser
    except ImportError as exc:
        raise CliError(
            f"The archive browser is not available in this installation ({exc}); "
            "the other commands (search, show, export, restore) still work.",
            1,
            exc,
            state.verbose,
        ) from exc
    run_browser(state.home, state.config_file)
