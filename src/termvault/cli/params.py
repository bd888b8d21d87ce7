"""Click parameter types for durations (``30d``, ``12h``), dates (``2024-05-01``, ``7d``)
and sizes (``2GB``), the options several commands share, and shell completion of
session ids."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from click.shell_completion import CompletionItem

F = TypeVar("F", bound=Callable[..., Any])

DURATION_HELP = (
    "Durations (--older-than, --interval, --after, --before) are a number and a unit: "
    "45s, 90min, 12h, 30d, 2w, 3mo, 1y; 0 alone means none."
)


def check_kinds(kinds: tuple[str, ...] | list[str]) -> None:
    """Refuse an unknown ``--source`` kind before anything is created (a typo made a home)."""
    from ..errors import ConfigError
    from ..sources import is_known, unknown_kind_message  # lazy: as the commands that use it

    for kind in kinds:
        if not is_known(kind):
            raise ConfigError(unknown_kind_message(kind))


_BARE_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SECONDS = {"s": 1, "h": 3600, "d": 86400}


class Duration(click.ParamType):
    """A duration in the one grammar of ``termvault.durations`` (``30d``, ``12h``,
    ``90min``, ``2w``, ``0``), converted to a number of ``unit`` (``d``, ``h`` or ``s``)."""

    name = "duration"

    def __init__(self, unit: str = "d"):
        self.unit = unit

    def convert(self, value, param, ctx):
        if isinstance(value, (int, float)):
            return float(value)
        from ..durations import parse_duration
        from ..errors import UsageError

        try:
            return parse_duration(value) / _SECONDS[self.unit]
        except UsageError as exc:
            self.fail(str(exc), param, ctx)


class When(click.ParamType):
    """An ISO date (local time unless a zone is given) or an age such as 7d, 3w, 2mo;
    converted to UNIX seconds by ``termvault.search.parse_when``."""

    name = "date"

    def __init__(self, end_of_day: bool = False):
        # For an upper bound, a bare date means "through that day", not its first second.
        self.end_of_day = end_of_day

    def convert(self, value, param, ctx):
        if isinstance(value, (int, float)):
            return float(value)
        from ..durations import parse_when
        from ..errors import UsageError

        try:
            when = parse_when(value)
        except UsageError as exc:
            self.fail(str(exc), param, ctx)
        if self.end_of_day and _BARE_DATE.match(value.strip()):
            when = _next_local_midnight(when) - 0.001
        return when


def _next_local_midnight(ts: float) -> float:
    from datetime import datetime, timedelta

    day = datetime.fromtimestamp(ts).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day).timestamp()


FORMAT_ALIASES = {"md": "markdown", "txt": "text", "json": "jsonl", "ndjson": "jsonl", "htm": "html"}


class FormatChoice(click.Choice):
    """The export formats, and the names people type for them (``md``, ``txt``)."""

    def __init__(self) -> None:
        super().__init__(["raw", "jsonl", "text", "markdown", "html"], case_sensitive=False)

    def convert(self, value, param, ctx):
        if isinstance(value, str):
            value = FORMAT_ALIASES.get(value.lower(), value)
        return super().convert(value, param, ctx)


class Size(click.ParamType):
    """A size such as 500MB, 2GB or 1.5GiB, converted to bytes."""

    name = "size"

    def convert(self, value, param, ctx):
        if isinstance(value, int):
            return value
        from ..config import parse_size
        from ..errors import ConfigError

        try:
            size = parse_size(value, "the size")
        except ConfigError as exc:
            self.fail(str(exc), param, ctx)
        if size is None:
            self.fail(f"{value!r} is not a size such as 500MB or 2GB.", param, ctx)
        return size


# -- options several commands share ------------------------------------------------------
def json_option(what: str) -> Callable[[F], F]:
    """``--json``: print ``what`` as JSON (passed as ``as_json``)."""
    return click.option("--json", "as_json", is_flag=True, help=f"Print {what} as JSON.")


def version_option(verb: str) -> Callable[[F], F]:
    """``--version N``: ``verb`` that version of a session instead of its newest."""
    return click.option("--version", type=click.IntRange(min=1), help=f"{verb} this version instead of the newest.")


class _GivenPath(click.Path):
    """``click.Path`` refusing an empty value: ``--home "$UNSET"`` would otherwise name
    the working folder (``Path("")`` is ``.``), and a sweep would make its home there."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and not value.strip():
            self.fail("an empty path was given (write . for the working folder).", param, ctx)
        return super().convert(value, param, ctx)


def path_option(*decls: str, folder: bool, metavar: str, help: str) -> Callable[[F], F]:
    """An option naming a folder (``folder``) or a file, as a ``Path``."""
    kind = _GivenPath(file_okay=False, path_type=Path) if folder else _GivenPath(dir_okay=False, path_type=Path)
    return click.option(*decls, type=kind, metavar=metavar, help=help)


# -- completion -------------------------------------------------------------------------
def complete_session_id(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Session ids starting with what was typed, read from the index without creating
    or locking anything (completion must never have side effects)."""
    try:
        from click.shell_completion import CompletionItem

        from ..config import Config
        from ..index import ArchiveIndex

        root = ctx.find_root().params
        cfg = Config.load(root.get("home"), root.get("config_file"))
        if not cfg.index_path.is_file():
            return []
        index = ArchiveIndex(cfg.index_path, readonly=True)
        try:
            return [CompletionItem(s) for s in index.find_prefix(incomplete, limit=50)]
        finally:
            index.close()
    except Exception:  # completion must never print a traceback into the shell
        return []
