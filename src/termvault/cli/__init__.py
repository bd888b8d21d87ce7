"""The ``termvault`` command: a thin shell over ``termvault.Vault``.

``main`` first tries the quick paths (``cli.quick``: ``--help``, ``--version`` and
``stats`` answered without click, byte for byte as click answers them) and otherwise runs
the click group of ``cli.app``, where the global options, the commands and the error
policy live. ``cli``, ``COMMANDS`` and the group's helpers are imported from there on
first use, so that this package loads no click.
"""

from __future__ import annotations

import sys

from ..lazy import exports

_EXPORTS = dict.fromkeys(
    ("cli", "COMMANDS", "CONTEXT_SETTINGS", "Lazy", "TermvaultGroup", "hoist_global_options"), "termvault.cli.app"
)

TYPE_CHECKING = False  # not from typing: importing it would cost the quick start
if TYPE_CHECKING:
    from .app import COMMANDS, CONTEXT_SETTINGS, Lazy, TermvaultGroup, cli, hoist_global_options  # noqa: F401

__getattr__ = exports(__name__, _EXPORTS)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point (also ``python -m termvault``)."""
    from .quick import PROG, run

    code = run(sys.argv[1:] if argv is None else list(argv))
    if code is not None:
        sys.exit(code)
    from .app import cli

    cli.main(args=argv, prog_name=PROG)


__all__ = ["cli", "main"]
