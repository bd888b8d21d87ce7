"""Write the command reference of docs/cli.md from the commands' own ``--help``.

    python scripts/cli_docs.py          # rewrite docs/cli.md below its marker
    python scripts/cli_docs.py --check  # exit 1 if docs/cli.md is stale

Everything above the marker line is the hand-written guide; everything below it is
generated, so it cannot drift from what ``termvault COMMAND --help`` prints.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from termvault.cli import cli

DOC = Path(__file__).resolve().parent.parent / "docs" / "cli.md"
MARKER = "<!-- Everything below is generated from --help by scripts/cli_docs.py; do not edit. -->"
WIDTH = 100


def _help(command: click.Command, path: list[str], parent: click.Context | None) -> str:
    ctx = click.Context(command, info_name=path[-1], parent=parent, max_content_width=WIDTH, terminal_width=WIDTH)
    with ctx:
        return command.get_help(ctx)


def _walk(command: click.Command, path: list[str], parent: click.Context | None) -> list[tuple[str, str]]:
    ctx = click.Context(command, info_name=path[-1], parent=parent, max_content_width=WIDTH, terminal_width=WIDTH)
    out = [(" ".join(path), _help(command, path, parent))]
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                out.extend(_walk(sub, [*path, name], ctx))
    return out


def reference() -> str:
    parts = ["## Command reference", ""]
    for name, text in _walk(cli, ["termvault"], None):
        parts += [f"### `{name}`", "", "```", text.rstrip(), "```", ""]
    return "\n".join(parts)


def render(current: str) -> str:
    head = current.split(MARKER, 1)[0].rstrip()
    return f"{head}\n\n{MARKER}\n\n{reference()}"


def main(argv: list[str]) -> int:
    current = DOC.read_text(encoding="utf-8")
    wanted = render(current)
    if "--check" in argv:
        if current != wanted:
            print("docs/cli.md is stale: run python scripts/cli_docs.py", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
