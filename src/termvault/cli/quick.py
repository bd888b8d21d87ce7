"""The quick paths: ``termvault --help`` (``-h``, and ``termvault`` alone),
``termvault --version`` and ``termvault [--home DIR] [-q] stats [--json]`` answered
without importing click (which alone costs more than the start-up target of issue 18).

Each prints exactly what the click group prints for the same arguments: the help text is
click's own, rendered by ``scripts/cli_docs.py`` into ``cli/_help.py`` for every width
click can choose; ``stats`` shares its data (``index.totals``) and its lines
(``cli.plain``) with the click command. Whenever anything is not the plain case (another
option, a settings file or ``TERMVAULT_*`` setting, an index the read-only connection
cannot read, a home that needs a warning, a value with a character that would need
filtering, a variable that forces rich's styles), ``run`` returns None *before printing anything* and
the click group answers: it cannot differ from click because it then *is* click.
Tests (tests/cli/test_cli_quick.py) run both paths and compare their bytes.

Imports: ``os``, ``sys`` (already loaded by Python), ``time`` for local times, and for
``stats`` ``sqlite3`` (and ``json`` with ``--json``). Not ``typing``, not ``pathlib``.
"""

from __future__ import annotations

import os
import sys

from .. import __version__

TYPE_CHECKING = False  # not from typing: importing it would cost a quarter of the budget
if TYPE_CHECKING:
    from typing import Any

PROG = "termvault"
DEFAULT_HOME = "~/.multi-term"  # as termvault.config.DEFAULT_HOME (a test checks)
# Settings the quick stats tolerates in the environment (everything else: click's path).
_QUIET_ENV = ("TERMVAULT_HOME", "TERMVAULT_CORPUS")
# Environment that makes rich draw styles or colours where it otherwise would not.
_RICH_ENV = ("FORCE_COLOR", "TTY_COMPATIBLE")
BOLD, RESET = "\033[1m", "\033[0m"  # click.style(text, bold=True)


def run(args: list[str]) -> int | None:
    """Answer ``args`` (the command line after the program name) and return the exit
    status, or return None, having printed nothing, for the click group to answer."""
    if os.name != "posix" or "_TERMVAULT_COMPLETE" in os.environ or not _utf8(sys.stdout):
        return None
    try:
        if args in ([], ["--help"], ["-h"]):
            return _help(bare=not args)
        if args == ["--version"]:
            return _write(sys.stdout, f"{PROG} {__version__}\n", 0)
        return _stats(args)
    except Exception:  # anything unexpected: click's path, which reports it
        return None


def _utf8(stream: Any) -> bool:
    # click re-wraps a stream it finds misconfigured (ASCII): leave those cases to it.
    encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "").replace("_", "")
    return encoding == "utf8"


def _write(stream: Any, text: str, code: int) -> int:
    try:
        stream.write(text)
        stream.flush()
    except BrokenPipeError:
        # As click does: exit 1, and no second error when Python flushes at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        return 1
    return code


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except Exception:  # as click._compat.isatty
        return False


# -- help ---------------------------------------------------------------------------------
def help_width() -> int:
    """The width click's HelpFormatter wraps the group's help to: the terminal's columns
    (``shutil.get_terminal_size``: $COLUMNS, else stdout's terminal, else 80) clamped to
    the group's ``max_content_width`` (``_help.MAX_WIDTH``), less 2, at least 50."""
    from ._help import MAX_WIDTH

    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
        columns = columns or 80
    return max(min(columns, MAX_WIDTH) - 2, 50)


def _help(bare: bool) -> int | None:
    from . import _help as generated

    text = generated.text(help_width())
    if text is None:
        return None
    if bare:  # ``termvault`` alone: click shows the help as its usage error
        stream = sys.stderr if generated.BARE_ON_STDERR else sys.stdout
        if not _utf8(stream):
            return None
        return _write(stream, text + "\n", generated.BARE_EXIT)
    return _write(sys.stdout, text + "\n", 0)


# -- stats --------------------------------------------------------------------------------
def _stats_args(args: list[str]) -> tuple[str | None, bool] | None:
    """``(home, as_json)`` for exactly ``[--home DIR | --home=DIR] [-q] stats [--json]``
    with the global options before or after ``stats``; None for anything else."""
    home: str | None = None
    as_json = command = False
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "stats" and not command:
            command = True
        elif arg == "--json" and command and not as_json:
            as_json = True
        elif arg in ("-q", "--quiet"):
            pass  # only logging, which the quick path never does
        elif arg == "--home" and home is None and i + 1 < len(args):
            i += 1
            home = args[i]
        elif arg.startswith("--home=") and home is None:
            home = arg[len("--home=") :]
        else:
            return None
        i += 1
    if not command or (home is not None and (not home or home.startswith("-"))):
        return None
    return home, as_json


def pure_path(path: str) -> str:
    """``str(pathlib.PurePosixPath(path))``: empty and ``.`` parts dropped, one leading
    slash (or exactly two, which POSIX leaves to the system), no trailing slash."""
    root = ""
    if path.startswith("/"):
        root = "//" if len(path) - len(path.lstrip("/")) == 2 else "/"
    parts = [p for p in path.split("/") if p and p != "."]
    return (root + "/".join(parts)) or "."


def absolute_path(path: str) -> str:
    """``str(pathlib.Path(path).absolute())``: relative paths joined to the working folder."""
    pure = pure_path(path)
    if pure.startswith("/"):
        return pure
    cwd = pure_path(os.getcwd())
    if pure == ".":
        return cwd
    return (cwd if cwd.endswith("/") else cwd + "/") + pure


def _plain(text: object) -> bool:
    """Printable ASCII: ``termvault.ansi.printable`` and JSON leave it as it is."""
    return isinstance(text, str) and text.isascii() and text.isprintable()


def _stats(args: list[str]) -> int | None:
    parsed = _stats_args(args)
    if parsed is None:
        return None
    home_arg, as_json = parsed
    env = os.environ
    if any(k.startswith("TERMVAULT_") and k not in _QUIET_ENV for k in env):
        return None  # a setting (or TERMVAULT_CONFIG) in play: Config.load decides
    if home_arg is not None:
        if "\0" in home_arg:
            return None
        # --home is click.Path(file_okay=False): a file or an unreadable folder is a usage error.
        try:
            if not os.path.isdir(home_arg) or not os.access(home_arg, os.R_OK):
                return None
        except OSError:
            return None
        raw = pure_path(home_arg)  # click hands Config a Path
    else:
        raw = env.get("TERMVAULT_HOME") or DEFAULT_HOME
    home = absolute_path(os.path.expanduser(raw))
    if home in ("/", "//") or not _plain(home) or any(c in home for c in "?#%"):
        return None  # odd homes (and characters a SQLite URI would read): the full path
    # As Vault(readonly=True): an existing folder its user owns and nobody else may write,
    # and no settings file to read.
    try:
        st = os.stat(home)
    except OSError:
        return None  # missing: click's path says so
    if not os.path.isdir(home) or st.st_uid != os.getuid() or st.st_mode & 0o002:
        return None
    if os.path.isfile(home + "/config.toml"):
        return None
    index_file = home + "/archive_index.sqlite3"
    if not os.path.isfile(index_file):
        return None
    from ..index.totals import read_only_stats

    found = read_only_stats(index_file)
    if found is None:
        return None
    totals, empty = found
    for suffix in ("-wal", "-shm"):  # ArchiveIndex makes them private: let it
        try:
            if os.stat(index_file + suffix).st_mode & 0o777 != 0o600:
                return None
        except FileNotFoundError:
            pass
    archive_dir = home + "/archive"
    if empty and _holds_anything(archive_dir):
        return None  # the index may have been lost: ops.overview says so
    data = {**totals, "max_total_bytes": None, "archive_directory": archive_dir, "home": home, "index_lost": False}
    text = _json(data) if as_json else _text(data, home)
    if text is None:
        return None
    return _write(sys.stdout, text, 0)


def _holds_anything(folder: str) -> bool:
    try:
        with os.scandir(folder) as entries:
            return next(entries, None) is not None
    except FileNotFoundError:
        return False


def _json(data: dict[str, Any]) -> str | None:
    if not all(_plain(k) for key in ("per_source", "per_month") for k in data[key]):
        return None
    import json

    # cli.format.print_json filters every string; plain ones come back as they were.
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _text(data: dict[str, Any], home: str) -> str | None:
    from ..humanize import tilde_home
    from .plain import EMPTY_ARCHIVE, STATS_TABLES, breakdown, stats_pairs

    tty = _isatty(sys.stdout)
    pairs = [
        (k, v) for k, v in stats_pairs(data, tilde_home(home, pure_path(os.path.expanduser("~")))) if v is not None
    ]
    if not all(_plain(v) for _, v in pairs):
        return None
    width = max(len(k) for k, _ in pairs)
    # cli.format.echo_key_values: the label bold (click.style) where click keeps styles.
    lines = [f"{BOLD}{k.ljust(width)}{RESET}  {v}" if tty else f"{k.ljust(width)}  {v}" for k, v in pairs]
    if not data["total_versions"]:
        lines.append(EMPTY_ARCHIVE)
        return "\n".join(lines) + "\n"
    styled = rich_styles(sys.stdout)
    if styled is None:
        return None
    for first, key, sessions in STATS_TABLES:
        headers, rows = breakdown(first, data[key], sessions)
        if not all(_plain(cell) for row in rows for cell in row):
            return None
        lines.append("")
        lines.extend(plain_table(headers, rows, bold_headers=styled))
    return "\n".join(lines) + "\n"


def rich_styles(stream: Any) -> bool | None:
    """Whether the rich console the click command prints its tables through
    (``cli.console.SafeConsole``) would draw bold on ``stream``: on a terminal unless
    $TERM is dumb (rich's ``is_terminal``, ``is_dumb_terminal``); None when a variable
    that overrides rich's detection is set (the click command then draws them)."""
    if any(name in os.environ for name in _RICH_ENV):
        return None
    if not _isatty(stream):
        return False
    return os.environ.get("TERM", "").lower() not in ("dumb", "unknown")


def plain_table(headers: list[str], rows: list[list[str]], bold_headers: bool = False) -> list[str]:
    """What ``cli.format.table_lines`` draws through the rich console, for these tables
    (no flexible column, so nothing is cut): the first column left aligned, the others
    right aligned, two spaces between; the headers bold where rich draws styles (each
    header's text in its own ``ESC[1m ... ESC[0m``, the padding outside it)."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    out = []
    for n, cells in enumerate([headers, *rows]):
        line = []
        for i, (cell, width) in enumerate(zip(cells, widths, strict=True)):
            pad = " " * (width - len(cell))
            shown = f"{BOLD}{cell}{RESET}" if bold_headers and n == 0 else cell
            line.append(shown + pad if i == 0 else pad + shown)
        out.append("  ".join(line))
    return out
