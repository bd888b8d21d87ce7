"""Reading the archive: ``search``, ``show`` and ``export``."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypedDict

import click
from click.core import ParameterSource

from ..errors import DataError, NotFoundError
from .context import EXIT_PROBLEMS, AppState, CliError, pass_state
from .format import (
    Column,
    TerminalSafeWriter,
    home_display,
    human_size,
    key_values,
    local_time,
    plural,
    print_json,
    print_lines,
    ratio,
    snippet_text,
    table_lines,
)
from .params import FormatChoice, When, complete_session_id, json_option, path_option, version_option
from .reopen import on_disk, reopen_hint

if TYPE_CHECKING:
    from ..index import ArchiveEntry
    from ..vault import Vault

MIN_ID = 8


def display_ids(vault, session_ids: list[str]) -> dict[str, str]:
    """The shortest prefix (at least 8 characters) of each id that no other archived
    session shares, so what is shown can be typed back."""
    out = {}
    for sid in session_ids:
        n = min(MIN_ID, len(sid))
        while n < len(sid) and len(vault.index.find_prefix(sid[:n], limit=2)) > 1:
            n += 1
        out[sid] = sid[:n]
    return out


@click.command(
    epilog="""\b
Example:
  termvault search "docker compose"            full text, best match first
  termvault search --dir src/api --after 2w     metadata only, newest first
  termvault search deploy --source claude-code --json
  termvault search pytest --role user           only what you typed
  termvault search "exit code" --tool Bash      only Bash calls and their output
  termvault search 'def \\w+_handler' --regex    a Python regular expression
  termvault search pytst --fuzzy                typo-tolerant: finds pytest

DATE is an ISO date (2024-05-01, local time) or an age, a number and a unit:
45s, 90min, 12h, 7d, 3w, 3mo, 1y (that long ago).
Words, "quoted phrases", prefix* and AND / OR / NOT work in QUERY. Exits 1 when
nothing matches. Random-looking tokens (base64 pieces, long letter and digit soup,
numbers of 7+ digits) are left out of the index to keep it small; they are still in
the archives: find one with --regex, which then reads the archives.
""",
)
@click.argument("query", required=False)
@click.option("--name", metavar="TEXT", help="Session name contains TEXT (case-insensitive).")
@click.option("--dir", "directory", metavar="TEXT", help="Working folder contains TEXT.")
@click.option("--after", type=When(), metavar="DATE", help="Last activity on or after DATE.")
@click.option("--before", type=When(end_of_day=True), metavar="DATE", help="Last activity on or before DATE.")
@click.option("--source", metavar="KIND", help="Only sessions of this source kind.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="At most this many results.")
@click.option(
    "--role",
    "roles",
    multiple=True,
    metavar="ROLE",
    help="Only text of this speaker: user, assistant or tool (repeat it or give a comma list).",
)
@click.option("--tool", metavar="NAME", help="Only the calls and results of this tool (Bash, Edit, ...).")
@click.option("--regex", is_flag=True, help="QUERY is a Python regular expression, over the text and names.")
@click.option("--fuzzy", is_flag=True, help="Words also match words a typo away, and names loosely.")
@json_option("the matches")
@pass_state
def search(state: AppState, query, name, directory, after, before, source, limit, roles, tool, regex, fuzzy, as_json):
    """Find archived sessions by text, name, folder or date.

    Without QUERY, lists the sessions matching the filters, newest activity first.
    Full-text hits show the matching line under each row, matches highlighted.
    """
    from ..errors import UsageError

    if after is not None and before is not None and after > before:
        raise UsageError(
            f"--after {local_time(after)} is later than --before {local_time(before)}: "
            "no session can match; swap them or widen the range."
        )
    vault = state.vault(readonly=True)
    if source is not None:
        check_source_kind(vault, source)
    if tool is not None and not tool.strip():
        raise UsageError("--tool needs a tool's name (Bash, Edit, ...); it was empty.")
    if (regex or fuzzy) and not query:
        raise UsageError(f"--{'regex' if regex else 'fuzzy'} needs a QUERY.")
    hits = vault.search(
        query, name=name, working_dir=directory, after=after, before=before, source=source, limit=limit,
        role=list(roles) or None, tool=tool, regex=regex, fuzzy=fuzzy,
    )  # fmt: skip
    total = getattr(hits, "total", len(hits))
    if as_json:
        # Each hit says how many matched in all: "len(list) of total_matches".
        estimated = bool(getattr(hits, "estimated", False))
        print_json([{**h.to_dict(), "total_matches": total, "total_estimated": estimated} for h in hits])
    elif hits:
        ids = display_ids(vault, [h.entry.session_id for h in hits])
        columns = [
            Column("ID", min_width=MIN_ID),
            Column("NAME", flex=True, min_width=10),
            Column("FOLDER", flex=True, cut="left", min_width=10),
            Column("LAST ACTIVITY"),
            Column("SIZE", justify="right"),
            Column("RATIO", justify="right"),
            Column("SOURCE"),
        ]
        width = state.width
        rows = [
            [
                ids[h.entry.session_id],
                h.entry.name,
                home_display(h.entry.working_directory) or "-",
                local_time(h.entry.last_activity_at),
                human_size(h.entry.original_size_bytes),
                ratio(h.entry.original_size_bytes, h.entry.size_bytes),
                h.entry.source,
            ]
            for h in hits
        ]
        # Every row is aligned on the widths of the whole result; the snippet of a
        # full-text hit goes on its own line under the row.
        rendered = table_lines(columns, rows, width)
        print_lines(state.out, rendered[:1])
        for hit, line in zip(hits, rendered[1:], strict=False):
            print_lines(state.out, [line])
            if hit.snippet and hit.matched != "metadata":
                print_lines(state.out, [snippet_text(hit.snippet, hit.highlights, width)])
        if total > len(hits):
            about, shows = ("about ", "more") if getattr(hits, "estimated", False) else ("", "all")
            click.echo(
                f"termvault: {len(hits)} of {about}{total} matching sessions shown; --limit {total} shows {shows}.",
                err=True,
            )
    if not hits:
        if not as_json:
            click.echo("termvault: no archived session matches.", err=True)
        raise click.exceptions.Exit(EXIT_PROBLEMS)


def check_source_kind(vault, kind: str) -> None:
    """A --source naming no kind termvault knows, nor any in the archive, is a mistake
    (``claude`` for ``claude-code``): say so with a suggestion, not "no match"."""
    from ..errors import UsageError
    from ..sources import available_kinds, unknown_kind_message

    if kind in available_kinds() or kind in vault.stats()["per_source"]:
        return
    raise UsageError(unknown_kind_message(kind, " given to --source"))


def _version_rows(entries: list[ArchiveEntry]) -> list[dict[str, Any]]:
    return [
        {
            "version": e.version,
            "archived_at": e.archived_at,
            "last_activity_at": e.last_activity_at,
            "size_bytes": e.size_bytes,
            "original_size_bytes": e.original_size_bytes,
            "status": e.status,
        }
        for e in entries
    ]


@click.command(
    epilog="""\b
Example:
  termvault show 3f2a9c              the newest version of the session starting with 3f2a9c
  termvault show 3f2a9c --version 1 --json
""",
)
@click.argument("session_id", metavar="ID", shell_complete=complete_session_id)
@version_option("Show")
@json_option("the metadata and file list")
@pass_state
def show(state: AppState, session_id: str, version: int | None, as_json: bool):
    """Show one archived session: metadata and files.

    ID may be any unique prefix of a session id.
    """
    vault = state.vault(readonly=True)
    try:
        entry = vault.get(session_id, version)
    except NotFoundError:
        live = vault.live(session_id) if version is None else None
        if live is None:
            raise
        _show_live(state, live, as_json)
        return
    versions = vault.index.versions(entry.session_id)
    # A damaged archive must not hide what the index knows: show that, then fail.
    manifest, problem = None, None
    try:
        manifest = vault.manifest(entry.session_id, entry.version)
    except (DataError, OSError) as exc:
        problem = exc

    def in_place() -> bool:
        if manifest is None:
            return True
        # A native session's history file (the common case) without loading the restore code.
        history = Path(os.path.abspath(vault.config.history_dir))
        if all(os.path.normpath(f.origin) == f.origin and history in Path(f.origin).parents for f in manifest.files):
            return True
        return vault.restores_in_place(manifest)

    if as_json:
        data = entry.to_dict()
        data.pop("row_id", None)
        data["versions"] = _version_rows(versions)
        data["root"] = manifest.root if manifest else None
        data["files"] = [f.to_dict() for f in manifest.files] if manifest else None
        data["error"] = str(problem) if problem else None
        data["on_disk"] = on_disk(manifest.files, entry.session_id, in_place) if manifest else None
        data["reopen"] = reopen_hint(entry, manifest.root if manifest else None, manifest.files if manifest else [])
        print_json(data)
    else:
        _print_show(state, entry, versions, manifest, in_place)
    if problem is not None:
        raise problem


def _heading(session_id: str, name: str, source: str, about: Any) -> list[tuple[str, Any]]:
    """The first lines of ``show``, for a live or an archived session (``about``: its
    SessionInfo or ArchiveEntry, both with a folder and a last command)."""
    from rich.text import Text

    return [
        ("Session", Text(session_id, style="bold")),
        ("Name", name),
        ("Source", source),
        ("Folder", home_display(about.working_directory) or "-"),
        ("Last command", about.last_command or None),
    ]


def _show_live(state: AppState, live, as_json: bool) -> None:
    """A session a source finds now but that is not archived yet."""

    kind, unit, info = live
    lines = size = 0
    for f in unit.files:
        counter = CountingWriter()
        with f.open() as fh:
            while chunk := fh.read(1024 * 1024):
                counter.write(chunk)
        lines, size = lines + counter.line_count, size + counter.bytes
    if as_json:
        data = {
            "session_id": unit.session_id,
            "source": kind,
            "status": "live",
            **info.metadata(),
            "line_count": lines,
            "bytes": size,
            "files": [
                {"path": f.relpath, "origin": str(f.origin), "size": f.size, "mtime_ns": f.mtime_ns} for f in unit.files
            ],
        }
        print_json(data)
        return
    pairs: list[tuple[str, Any]] = [
        *_heading(unit.session_id, info.name, f"{kind} (live, not archived yet)", info),
        ("Created", local_time(info.created_at) if info.created_at else None),
        ("Last activity", local_time(info.last_activity_at) if info.last_activity_at else None),
        ("Size", f"{human_size(size)}, {lines} lines"),
    ]
    print_lines(state.out, key_values(pairs))


class ExportOptions(TypedDict):
    """What ``export`` passes on to ``Vault.export`` besides the session and the sink."""

    fmt: str
    version: int | None
    file: str | None
    redact: bool
    detail: str


class CountingWriter:
    """A sink counting bytes and non-empty lines (as AgentMux's export counts them),
    passing everything on to ``out`` when given."""

    def __init__(self, out=None):
        self.out = out
        self.bytes = 0
        self.line_count = 0
        self._pending = False  # the current line holds a non-blank character

    def write(self, data: bytes) -> int:
        self.bytes += len(data)
        pieces = bytes(data).split(b"\n")
        for i, piece in enumerate(pieces):
            if i > 0:
                self.line_count += self._pending
                self._pending = False
            if piece.strip():
                self._pending = True
        if self.out is not None:
            self.out.write(data)
        return len(data)

    def finish(self) -> None:
        self.line_count += self._pending
        self._pending = False

    def flush(self) -> None:
        if self.out is not None:
            self.out.flush()


def _print_show(state: AppState, entry, versions, manifest, in_place: Callable[[], bool]) -> None:

    meta = entry.meta or {}
    extra_meta = [
        (label, str(meta[key]))
        for key, label in (
            ("git_branch", "Git branch"),
            ("model", "Model"),
            ("message_count", "Messages"),
            ("tool_call_count", "Tool calls"),
            ("parse_warnings", "Parse warnings"),
        )
        if meta.get(key) not in (None, "", 0)
    ]
    pairs: list[tuple[str, Any]] = [
        *_heading(entry.session_id, entry.name, f"{entry.source} ({entry.mode} mode)", entry),
        ("First prompt", _one_line(meta.get("first_prompt"))),
        ("Created", local_time(entry.created_at) if entry.created_at else None),
        ("Last activity", local_time(entry.last_activity_at)),
        ("Archived", local_time(entry.archived_at)),
        ("Version", f"{entry.version} of {len(versions)}"),
        (
            "Size",
            f"{human_size(entry.original_size_bytes)} -> {human_size(entry.size_bytes)} "
            f"(ratio {ratio(entry.original_size_bytes, entry.size_bytes)})",
        ),
        ("Pinned", "yes" if entry.pinned else "no"),
        ("Status", entry.status),
        ("On disk", on_disk(manifest.files, entry.session_id, in_place) if manifest else None),
        ("Reopen with", reopen_hint(entry, manifest.root, manifest.files) if manifest else None),
        ("Archive", f"archive/{entry.archive_path}"),
        *extra_meta,
    ]
    print_lines(state.out, key_values(pairs))
    if len(versions) > 1:
        state.out.print()
        print_lines(
            state.out,
            table_lines(
                [
                    Column("VERSION", justify="right"),
                    Column("ARCHIVED"),
                    Column("LAST ACTIVITY"),
                    Column("SIZE", justify="right"),
                    Column("STATUS"),
                ],
                [
                    [
                        str(v.version),
                        local_time(v.archived_at),
                        local_time(v.last_activity_at),
                        human_size(v.original_size_bytes),
                        v.status,
                    ]
                    for v in versions
                ],
                state.width,
            ),
        )
    if manifest is None:
        return
    # Files restore to ROOT/FILE; only the exceptions (e.g. a native session's linked
    # conversation file) need their own origin column.
    root = Path(manifest.root)
    elsewhere = any(Path(f.origin) != root.joinpath(*f.path.split("/")) for f in manifest.files)
    state.out.print()
    print_lines(state.out, key_values([("Restores to", home_display(manifest.root))]))
    columns = [
        Column("FILE", flex=True, cut="left"),
        Column("SIZE", justify="right"),
        Column("MODIFIED"),
        Column("SHA256"),
    ]
    if elsewhere:
        columns.append(Column("ORIGIN", flex=True, cut="left"))
    print_lines(
        state.out,
        table_lines(
            columns,
            [
                [f.path, human_size(f.size), local_time(f.mtime_ns / 1e9), f.sha256[:12], home_display(f.origin)][
                    : len(columns)
                ]
                for f in manifest.files
            ],
            state.width,
        ),
    )


def _one_line(text: Any, limit: int = 120) -> str | None:
    if not text:
        return None
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


@click.command(
    epilog="""\b
Example:
  termvault export 3f2a9c > session.json            the archived bytes, unchanged
  termvault export 3f2a9c --format md -o session.md
  termvault export 3f2a9c --format html --detail conversation -o session.html
  termvault export 3f2a9c --file _conversation/chat.jsonl -o chat.jsonl

raw is byte-identical to what was archived; text, markdown, jsonl and html are readable
renderings with secrets redacted (html is one self-contained page: nothing is fetched).
""",
)
@click.argument("session_id", metavar="ID", shell_complete=complete_session_id)
@click.option(
    "--format",
    "fmt",
    type=FormatChoice(),
    default="raw",
    show_default=True,
    help="Output format: raw, jsonl, text, markdown or html (also md, txt, json, ndjson, htm).",
)
@click.option(
    "--detail",
    type=click.Choice(["prompts", "conversation", "all"]),
    default="all",
    show_default=True,
    help="What a rendered export shows: your prompts only; the conversation (replies, sub-agents, one "
    "line per tool call); or all (also thinking, tool inputs and results, folded).",
)
@click.option("--no-redact", is_flag=True, help="Keep secrets in a rendered export (they are redacted by default).")
@path_option(
    "-o",
    "--output",
    folder=False,
    metavar="FILE",
    help="Write to FILE (atomically) instead of stdout; an existing FILE needs --force.",
)
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
@version_option("Export")
@click.option(
    "--file",
    "relpath",
    metavar="RELPATH",
    help="Which file of the session (see `show`); raw only. For a Wave pane, `history` is the "
    "continuous output stitched from every version.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print a JSON summary (bytes, non-empty line count; the content too when no -o is given).",
)
@pass_state
def export(
    state: AppState,
    session_id: str,
    fmt: str,
    detail: str,
    no_redact: bool,
    output: Path | None,
    force: bool,
    version: int | None,
    relpath: str | None,
    as_json: bool,
):
    """Write one session to stdout or a file.

    ID may be any unique prefix of a session id. A session a source still holds and that
    is not archived yet is exported from where it lives.
    """
    detail_given = click.get_current_context().get_parameter_source("detail") is not ParameterSource.DEFAULT
    if detail_given and fmt == "raw":
        raise click.BadOptionUsage(
            "detail",
            "--detail chooses what a rendered export shows: add --format text, markdown, html or jsonl "
            "(raw is the archived bytes, all of them, unredacted).",
        )
    if relpath is not None and fmt != "raw":
        raise click.BadOptionUsage(
            "relpath",
            "--file picks one file of a raw export (--format raw); a rendered export shows the whole session.",
        )
    if output is not None and str(output) != "-" and not force:
        target = Path(os.path.expanduser(str(output)))
        if target.exists():
            raise CliError(
                f"{home_display(target)} already exists; pass --force to replace it, or choose another file with -o.",
                EXIT_PROBLEMS,
            )
    vault = state.vault(readonly=True)
    options = ExportOptions(fmt=fmt, version=version, file=relpath, redact=not no_redact, detail=detail)
    if as_json:
        _export_json(vault, session_id, output, options)
        return
    if output is None or str(output) == "-":
        stream = sys.stdout.buffer  # binary: raw exports are bytes, not text
        if fmt == "raw" and _isatty(sys.stdout):
            _export_to_terminal(vault, session_id, stream, options)
            return
        vault.export(session_id, stream, **options)
        stream.flush()
        return
    write_atomically(output, lambda fh: vault.export(session_id, fh, **options))
    state.say(f"Wrote {home_display(output)} ({human_size(output.stat().st_size)}).")


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no such method, or a closed stream
        return False


def _export_to_terminal(vault: Vault, session_id: str, stream: BinaryIO, options: ExportOptions) -> None:
    """A raw export on a terminal: the session's control sequences (a clipboard write, a
    title change) are shown, not run; then a note on how to get the exact bytes."""
    safe = TerminalSafeWriter(stream)
    vault.export(session_id, safe, **options)
    safe.finish()
    stream.flush()
    if safe.replaced:
        click.echo(
            f"termvault: {plural(safe.replaced, 'control character')} shown as ^X, not sent to the terminal; "
            "-o FILE or a pipe gets the exact bytes.",
            err=True,
        )


def _export_json(vault: Vault, session_id: str, output: Path | None, options: ExportOptions) -> None:
    """Export, then print a JSON summary: bytes and non-empty lines (AgentMux's counts)."""
    try:
        entry = vault.get(session_id, options["version"])
        live, sid = False, entry.session_id
    except NotFoundError:
        if vault.live(session_id) is None:
            raise
        live, sid = True, session_id
    to_file = output is not None and str(output) != "-"
    buffer = None if to_file else io.BytesIO()

    def write(fh) -> CountingWriter:
        counter = CountingWriter(fh)
        vault.export(session_id, counter, **options)
        counter.finish()
        return counter

    if output is not None and to_file:
        counted: list[CountingWriter] = []
        write_atomically(output, lambda fh: counted.append(write(fh)))
        counter = counted[0]
    else:
        counter = write(buffer)
    data = {
        "session_id": sid,
        "live": live,
        "format": options["fmt"],
        "bytes": counter.bytes,
        "line_count": counter.line_count,
        "output": str(output) if to_file else None,
    }
    if buffer is not None:
        data["content"] = buffer.getvalue().decode("utf-8", "replace")
    print_json(data)


def write_atomically(target: Path, write: Callable[[BinaryIO], None]) -> None:
    """Write ``target`` whole or not at all (the one atomic writer); the folder's
    permissions are left alone."""
    target = Path(os.path.expanduser(str(target)))
    if not target.parent.is_dir():  # else the error would name the temporary file beside it
        raise CliError(f"The folder {home_display(target.parent)} does not exist; create it first.", EXIT_PROBLEMS)
    from ..fsutil import atomic_writer  # lazy: only an export to a file writes one

    with atomic_writer(target, prefix=f".{target.name}.", private_dir=False) as fh:
        write(fh)
