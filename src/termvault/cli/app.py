"""The ``termvault`` click group: a thin shell over ``termvault.Vault``.

Global options, the command group and the error policy live here; each command group
lives in its own module. Exit codes: 0 ok, 1 problems found or nothing matched, 2 usage,
3 home locked by another process, 4 data or file-system error. Every failure is one
sentence on stderr (``termvault: ...``); ``-v`` adds the traceback.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import NamedTuple

import click

from .. import __version__
from .context import (
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    PROG,
    AppState,
    CliError,
    sentence,
    state_of,
    translate,
)
from .params import path_option

# click >= 8.2 raises this for a group called without a command; older versions exit 0.
_NO_ARGS = getattr(click.exceptions, "NoArgsIsHelpError", None)
CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class Lazy(NamedTuple):
    """A command loaded only when it runs or its own help is shown: ``module`` (in this
    package) and ``attribute`` name it; ``summary`` is its help's first sentence, what
    the group's ``--help`` lists (a test checks it against the command)."""

    module: str
    attribute: str
    summary: str


class TermvaultGroup(click.Group):
    """A group that turns library errors into ``termvault: <sentence>`` and their exit
    code, under the real entry point and under click's test runner alike.

    Its ``lazy`` commands are imported on first use (click's lazy group pattern), so
    ``termvault --help`` and each command start without loading every other command."""

    def __init__(self, *args, lazy: dict[str, Lazy] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})
        self._listing = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        spec = self.lazy.get(cmd_name)
        if spec is not None and cmd_name not in self.commands:
            if self._listing:  # the list shows the summary; nothing is imported for it
                return click.Command(cmd_name, help=spec.summary)
            module = importlib.import_module(f"{__package__}.{spec.module}")
            self.add_command(getattr(module, spec.attribute), cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_commands(ctx, formatter)
        finally:
            self._listing = False

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_global_options(self, ctx, list(args)))

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as exc:
            err = translate(exc, state_of(ctx).verbose)
            if err is None:
                raise
            raise err from exc

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            rv = super().main(args, prog_name or PROG, complete_var, standalone_mode=False, **extra)
        except CliError as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.exceptions.UsageError as exc:
            if _NO_ARGS is not None and isinstance(exc, _NO_ARGS):
                # `termvault` alone: the help itself, as click shows it (a usage error).
                click.echo(exc.format_message(), err=True)
                sys.exit(EXIT_USAGE)
            hint = f" See '{exc.ctx.command_path} --help'." if exc.ctx is not None else ""
            click.echo(f"{PROG}: {sentence(exc.format_message())}{hint}", err=True)
            sys.exit(EXIT_USAGE)
        except click.exceptions.ClickException as exc:
            click.echo(f"{PROG}: {sentence(exc.format_message())}", err=True)
            sys.exit(exc.exit_code)
        except click.exceptions.Abort as exc:
            if isinstance(exc.__cause__, KeyboardInterrupt) or isinstance(exc.__context__, KeyboardInterrupt):
                click.echo(f"{PROG}: interrupted.", err=True)
                sys.exit(EXIT_INTERRUPTED)
            click.echo(f"{PROG}: aborted.", err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


def _option_strings(command: click.Command) -> set[str]:
    names: set[str] = set()
    for param in command.params:
        if isinstance(param, click.Option):
            names.update(param.opts)
            names.update(param.secondary_opts)
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            names |= _option_strings(sub)
    return names


def hoist_global_options(group: click.Group, ctx: click.Context, args: list[str]) -> list[str]:
    """Move global options written after the command (``termvault sweep -q``) in front
    of it, where click expects them. An option the command itself defines (``show
    --version``) stays with the command; nothing after ``--`` moves."""
    takes_value = {}
    for param in group.params:
        if isinstance(param, click.Option):
            for opt in param.opts + param.secondary_opts:
                takes_value[opt] = not (param.is_flag or param.count)
    # Find the command: the first argument that is not a global option or its value.
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--" or not arg.startswith("-"):
            break
        name = arg.split("=", 1)[0]
        i += 2 if takes_value.get(name) and "=" not in arg else 1
    if i >= len(args) or args[i] == "--":
        return args
    command = group.get_command(ctx, args[i])
    if command is None:
        return args
    own = _option_strings(command)
    before, after, moved = args[:i], [], []
    rest = args[i + 1 :]
    j = 0
    while j < len(rest):
        arg = rest[j]
        if arg == "--":
            after.extend(rest[j:])
            break
        name = arg.split("=", 1)[0]
        short_counts = arg.startswith("-") and not arg.startswith("--") and len(arg) > 2 and set(arg[1:]) <= {"v"}
        if (name in takes_value or short_counts) and name not in own:
            if takes_value.get(name) and "=" not in arg and j + 1 < len(rest):
                moved.extend(rest[j : j + 2])
                j += 2
                continue
            moved.append(arg)
        else:
            after.append(arg)
        j += 1
    return before + moved + [args[i]] + after


COMMANDS = {
    "browse": Lazy("browse", "browse", "Open the archive browser."),
    "daemon": Lazy("daemon", "daemon", "Sweep now and at every interval, until stopped."),
    "export": Lazy("query", "export", "Write one session to stdout or a file."),
    "import-legacy": Lazy("maintain", "import_legacy", "Import the older app's archives."),
    "mcp": Lazy("agents", "mcp", "Serve the archive to coding agents over MCP (stdio)."),
    "pin": Lazy("maintain", "pin", "Pin a session: prune never deletes it."),
    "prune": Lazy("maintain", "prune", "Delete the oldest archives to fit a storage cap."),
    "reindex": Lazy("maintain", "reindex", "Rebuild the index from the archive files."),
    "remote": Lazy(
        "remote",
        "remote_group",
        "Keep archives in S3-compatible object storage; the local disk becomes a cache.",
    ),
    "restore": Lazy("restore", "restore", "Restore an archived session byte for byte."),
    "resume": Lazy("agents", "resume", "Continue an archived agent session in its own agent."),
    "search": Lazy("query", "search", "Find archived sessions by text, name, folder or date."),
    "show": Lazy("query", "show", "Show one archived session: metadata and files."),
    "sources": Lazy("sources", "sources", "List the session sources, their folders and counts."),
    "stats": Lazy("maintain", "stats", "Totals, space saved, per source and per month."),
    "sweep": Lazy("sweep", "sweep", "Archive every session that is due."),
    "unpin": Lazy("maintain", "unpin", "Unpin a session (a storage cap may prune it again)."),
    "verify": Lazy("maintain", "verify", "Check every archive against its recorded hashes."),
}


@click.group(
    name=PROG,
    cls=TermvaultGroup,
    lazy=COMMANDS,
    context_settings=CONTEXT_SETTINGS,
    epilog="""\b
Example:
  termvault sweep                 archive sessions inactive for 30 days
  termvault search "docker compose" --after 3mo
  termvault restore 3f2a          put a session back where it was

\b
Durations (--older-than, --interval, --after, --before) are a number and a unit:
45s, 90min, 12h, 30d, 2w, 3mo, 1y; 0 alone means none.

\b
Shell completion (bash; use zsh_source / fish_source for those shells):
  eval "$(_TERMVAULT_COMPLETE=bash_source termvault)"
""",
)
@path_option(
    "--home",
    folder=True,
    metavar="DIR",
    help="The termvault home [default: $TERMVAULT_HOME or ~/.multi-term].",
)
@path_option(
    "--config",
    "config_file",
    folder=False,
    metavar="FILE",
    help="Settings file [default: $TERMVAULT_CONFIG or HOME/config.toml].",
)
@click.option("-v", "--verbose", count=True, help="More detail on stderr (-vv: debug); tracebacks on errors.")
@click.option("-q", "--quiet", is_flag=True, help="No progress and no summaries; errors only.")
@click.option(
    "--wait",
    type=click.FloatRange(min=0),
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="How long a write waits for another termvault process to release the home.",
)
@click.version_option(__version__, "--version", prog_name=PROG, message="%(prog)s %(version)s")
@click.pass_context
def cli(ctx: click.Context, home: Path | None, config_file: Path | None, verbose: int, quiet: bool, wait: float):
    """Archive, search and restore terminal and AI-agent sessions, byte for byte.

    Sessions inactive for a while are moved (or, for other tools' folders, copied) into
    compressed, verified archives under the home, indexed for search, and can be put
    back exactly as they were.
    """
    if verbose and quiet:
        raise click.UsageError("--verbose and --quiet cannot be used together.")
    state = AppState(home=home, config_file=config_file, verbose=verbose, quiet=quiet, wait=wait)
    ctx.obj = state
    from .logs import setup_logging  # --help and --version return before this

    setup_logging(ctx, verbose, quiet)
    ctx.call_on_close(state.close)


__all__ = ["COMMANDS", "TermvaultGroup", "cli"]
