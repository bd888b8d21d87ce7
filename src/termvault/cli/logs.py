"""Where the library's log records go during a command: stderr, at the level -v/--quiet
set, free of control sequences. Imported when a command runs (``--help`` never logs)."""

from __future__ import annotations

import logging
import sys

import click

from ..ansi import printable
from .context import PROG


class _StderrHandler(logging.Handler):
    """Writes to whatever ``sys.stderr`` is at the time (a live progress display
    redirects it so log lines print above the bar)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            msg = printable(self.format(record))
            sys.stderr.write(msg + "\n")
            sys.stderr.flush()
        except Exception:
            self.handleError(record)


def setup_logging(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """Show the library's log records on stderr at a level set by -v/--quiet, and undo
    it when the invocation ends (the process may go on, e.g. under a test runner)."""
    logger = logging.getLogger("termvault")
    handler = _StderrHandler()
    handler.setFormatter(
        logging.Formatter(
            f"{PROG}: %(levelname)s: %(message)s" if verbose < 2 else f"{PROG}: %(levelname)s %(name)s: %(message)s"
        )
    )
    old_level = logger.level
    if quiet:
        level = logging.ERROR
    else:
        level = {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    logger.setLevel(level)
    logger.addHandler(handler)

    def restore() -> None:
        logger.removeHandler(handler)
        logger.setLevel(old_level)

    ctx.call_on_close(restore)
