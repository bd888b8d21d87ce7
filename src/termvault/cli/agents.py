"""``termvault mcp`` and ``termvault resume``: the archive for coding agents.

Both are shells over ``termvault.agents``; the MCP SDK is imported only when ``mcp``
runs, so every other command starts without it.
"""

from __future__ import annotations

import sys

import click

from .context import EXIT_DATA, AppState, CliError, pass_state
from .format import home_display
from .params import complete_session_id


@click.command(
    epilog="""\b
Example:
  termvault mcp                       what an agent starts (not run by hand)
  termvault mcp --allow-restore       also let the agent restore sessions

\b
Register it with your agent (see the README, "Let your agent search its history"):
  claude mcp add --scope user termvault -- termvault mcp
  codex:  [mcp_servers.termvault] command = "termvault", args = ["mcp"]  (~/.codex/config.toml)
  gemini: "mcpServers": {"termvault": {"command": "termvault", "args": ["mcp"]}}  (settings.json)

Tools: search_sessions, recent_sessions, show_session, read_session (paged), and with
--allow-restore also restore_session. Everything returned is redacted.
""",
)
@click.option(
    "--allow-restore",
    is_flag=True,
    help="Also offer restore_session, which writes a session's files back where its tool keeps them.",
)
@pass_state
def mcp(state: AppState, allow_restore: bool):
    """Serve the archive to coding agents over MCP (stdio).

    Read-only unless --allow-restore. Speaks the Model Context Protocol on stdin and
    stdout; start it from an agent's MCP settings rather than by hand.
    """
    try:
        from ..agents.mcp_server import serve
    except ImportError as exc:
        raise CliError(
            f"The MCP server needs the mcp package ({exc}); install it with: pip install 'termvault[mcp]'.",
            EXIT_DATA,
            exc,
            state.verbose,
        ) from exc
    serve(state.vault(), allow_restore=allow_restore)


@click.command(
    epilog="""\b
Example:
  termvault resume 3f2a9c             restore it if needed, then run e.g. claude --resume <id>
  termvault resume 3f2a9c --print     restore it if needed, print the command instead

Works for Claude Code (claude --resume), Codex CLI (codex resume) and Gemini CLI
(gemini --resume) sessions. A transcript still in the agent's folder is never replaced;
a missing one is restored from the archive, verified. The agent runs in the folder the
session was recorded in, and termvault exits with its exit status.
""",
)
@click.argument("session_id", metavar="ID", shell_complete=complete_session_id)
@click.option(
    "--print", "print_only", is_flag=True, help="Print the command (cd FOLDER && AGENT ...) instead of running it."
)
@pass_state
def resume(state: AppState, session_id: str, print_only: bool):
    """Continue an archived agent session in its own agent.

    ID may be any unique prefix of a session id.
    """
    from ..agents import resume as resuming

    vault = state.vault()
    plan = resuming.prepare(vault, session_id)
    if not state.quiet:
        for path in plan.restored:
            state.err.print(f"Restored {home_display(path)} (verified).", soft_wrap=True)
    if print_only:
        click.echo(plan.shell_command())
        return
    state.close()  # the agent may run for hours: hold nothing open meanwhile
    sys.stdout.flush()
    code = resuming.run(plan)
    if code:
        raise click.exceptions.Exit(code)
