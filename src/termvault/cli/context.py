"""What every command shares: the global options, the opened vault, the consoles, and
the translation of library errors into one sentence and an exit code."""

from __future__ import annotations

import errno
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..errors import TermvaultError
from .quick import PROG as PROG

if TYPE_CHECKING:
    from rich.console import Console

    from ..vault import Vault

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, EXIT_LOCKED, EXIT_DATA = 0, 1, 2, 3, 4
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C


@dataclass
class AppState:
    """The global options of one invocation and the vault it opened (lazily)."""

    home: Path | None = None
    config_file: Path | None = None
    verbose: int = 0
    quiet: bool = False
    wait: float = 10.0
    _vault: Vault | None = field(default=None, repr=False)
    _out: Console | None = field(default=None, repr=False)
    _err: Console | None = field(default=None, repr=False)

    home_created: bool = False

    def vault(self, *, readonly: bool = False, create: bool = False, missing_ok: bool = False) -> Vault:
        """The vault of ``--home``; its write lock waits at most ``--wait`` seconds.

        A home that does not exist is an error saying so (a mistyped --home must not
        look like an empty archive), unless ``create`` (sweep, daemon: ``home_created``
        then says it was made) or ``missing_ok`` (``sources``, which describes this
        machine). Reading commands pass ``readonly``: nothing is created or written."""
        if self._vault is None:
            from ..errors import HomeNotFoundError
            from ..vault import Vault

            config = self.config()
            existed = config.home.is_dir()
            if not existed and not (create or missing_ok):
                raise HomeNotFoundError(config.home)
            self._vault = Vault(config=config, lock_timeout=self.wait, readonly=readonly)
            self.home_created = not existed and not readonly
        return self._vault

    def config(self):
        """The resolved settings (home, config file) without opening anything."""
        from ..config import Config

        return Config.load(self.home, self.config_file)

    @property
    def out(self) -> Console:
        # Created on first use so it writes to whatever sys.stdout is during this
        # invocation (the test runner swaps it).
        if self._out is None:
            from .console import SafeConsole  # lazy: rich is loaded only when a command prints

            self._out = SafeConsole(file=sys.stdout, highlight=False, markup=False, emoji=False)
        return self._out

    @property
    def err(self) -> Console:
        if self._err is None:
            from .console import SafeConsole  # lazy: rich is loaded only when a command prints

            self._err = SafeConsole(file=sys.stderr, highlight=False, markup=False, emoji=False)
        return self._err

    @property
    def width(self) -> int:
        """Width tables are fitted to: $COLUMNS if set; else the terminal's (stdout's, or
        when stdout is piped, e.g. into ``head``, the terminal the command runs in, found
        on stderr or stdin); unlimited only with no terminal at all (a script's log)."""
        try:
            columns = int(os.environ["COLUMNS"])
        except (KeyError, ValueError):
            columns = 0
        if columns > 0:  # 0 (or less) is not set, as shutil reads it
            return max(40, columns)
        if self.out.is_terminal:
            return self.out.width
        return terminal_columns() or 100_000

    def say(self, message: Any = "") -> None:
        """An informational line on stdout, silenced by ``--quiet``."""
        if not self.quiet:
            self.out.print(message, soft_wrap=True)

    def close(self) -> None:
        if self._vault is not None:
            self._vault.close()
            self._vault = None


def terminal_columns() -> int | None:
    """The width of a terminal on stderr or stdin, or None when neither is one."""
    for stream in (sys.stderr, sys.stdin):
        try:
            fd = stream.fileno()
            if os.isatty(fd):
                return max(40, os.get_terminal_size(fd).columns)
        except (AttributeError, OSError, ValueError):
            continue
    return None


pass_state = click.make_pass_decorator(AppState)


def state_of(ctx: click.Context) -> AppState:
    return ctx.find_object(AppState) or AppState()


# -- errors -----------------------------------------------------------------------------
class CliError(click.ClickException):
    """A failure already phrased for the user; shown as ``termvault: <message>``."""

    def __init__(self, message: str, exit_code: int, cause: BaseException | None = None, verbose: int = 0):
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]  # click types it per class; its own code reads it per instance
        self.cause = cause
        self.verbose = verbose

    def show(self, file=None) -> None:
        stream = file or sys.stderr
        if self.verbose and self.cause is not None:
            import traceback  # lazy: only -v shows one

            traceback.print_exception(self.cause, file=stream)
        from ..ansi import printable  # lazy: only a failure is shown (--help needs no filter)

        click.echo(f"{PROG}: {printable(self.message, one_line=True)}", file=stream)


def sentence(text: str) -> str:
    """One line ending in a full stop, free of control sequences (errors name sessions
    and files, whose names anyone could have chosen)."""
    from ..ansi import printable  # lazy: only a failure is phrased (--help needs no filter)

    text = " ".join(printable(str(text), one_line=True).split())
    return text if text.endswith((".", "!", "?")) else text + "."


def translate(exc: BaseException, verbose: int) -> CliError | None:
    """The CliError for a library or OS failure, or None for anything else."""
    if isinstance(exc, TermvaultError):
        return CliError(sentence(str(exc)), int(getattr(exc, "exit_code", EXIT_DATA)), exc, verbose)
    if isinstance(exc, OSError) and exc.errno != errno.EPIPE:
        where = exc.filename or "a file"
        if exc.filename2:
            where = f"{exc.filename} or {exc.filename2}"
        reason = (exc.strerror or str(exc)).rstrip(".").lower()
        hint = ""
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            hint = "; check that you can write there, or choose another home with --home"
        elif exc.errno == errno.ENOSPC:
            hint = "; free some space and try again (nothing was lost)"
        return CliError(f"Cannot use {where}: {reason}{hint}.", EXIT_DATA, exc, verbose)
    # sqlite3 is not imported for this check (a command that never opened the index
    # cannot have an SQLite error): --help starts without it.
    sqlite3 = sys.modules.get("sqlite3")
    if sqlite3 is not None and isinstance(exc, sqlite3.Error):
        return CliError(
            f"The index could not be used ({exc}); run `termvault verify` or `termvault reindex`.",
            EXIT_DATA,
            exc,
            verbose,
        )
    return None
