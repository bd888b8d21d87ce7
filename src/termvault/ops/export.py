"""Getting sessions out readably: export to a stream (raw bytes or rendered), the turns
of a session for previews, and sessions that are still live (not archived yet)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import IO, Any

from .. import archive as arc
from ..ansi import printable
from ..errors import DataError, NotFoundError, TermvaultError, UsageError
from ..fsutil import ensure_private_dir
from ..model import ArchiveEntry, FileRef, SessionInfo, SessionUnit
from ..redact import redact
from ..render import render
from ..sources.base import Message, Source
from ..sources.configured import ConfiguredSource
from ..streams import Writer, close_refs
from .context import Context
from .text import parse

log = logging.getLogger(__name__)

EXPORT_FORMATS = ("raw", "jsonl", "text", "markdown", "html")
HISTORY = "history"  # --file of a windowed source's stitched history


def find_live(ctx: Context, session_id: str) -> tuple[ConfiguredSource, SessionUnit] | None:
    """(configured source, unit) of a session not archived yet, or None."""
    for cs in ctx.sources.select():
        for unit in cs.source.discover():
            if unit.session_id == session_id:
                return cs, unit
    return None


def export_live(
    ctx: Context, session_id: str, out: Writer, fmt: str, file: str | None, redact: bool, detail: str = "all"
) -> bool:
    """Export a session that is not archived yet from its live files; False if none."""
    live = find_live(ctx, session_id)
    if live is None:
        return False
    cs, unit = live
    refs: list[FileRef] = list(unit.files)
    write(cs.source, refs, out, fmt, file, {"name": unit.session_id, "source": cs.source.kind}, redact, detail)
    return True


def export(
    ctx: Context, entry: ArchiveEntry, out: Writer, fmt: str, file: str | None, redact: bool, detail: str = "all"
) -> None:
    """See ``Vault.export``."""
    check_format(fmt)
    src = _source_or_none(ctx, entry)
    if src is not None and src.windowed and (fmt != "raw" or file == HISTORY):
        # The versions of a circular file are windows: export them stitched together.
        refs = history_refs(ctx, entry, src)
        try:
            write(src, refs, out, fmt, None, header_of(entry), redact, detail)
        finally:
            close_refs(refs)
        return
    if fmt == "raw":
        manifest = ctx.store.manifest(entry)
        wanted = file or manifest.files[0].path
        if wanted not in {f.path for f in manifest.files}:
            raise NotFoundError(f"{entry.session_id} has no file {wanted!r}.")

        def copy(f: arc.ManifestFile, stream: IO[bytes]) -> None:
            while chunk := stream.read(arc.CHUNK):
                out.write(chunk)

        ctx.store.read(entry, copy, only={wanted})
        return
    refs = ctx.store.refs(entry)
    try:
        write(ctx.sources.get(entry.source), refs, out, fmt, file, header_of(entry), redact, detail)
    finally:
        close_refs(refs)


def _source_or_none(ctx: Context, entry: ArchiveEntry) -> Source | None:
    if entry.status == "legacy":
        return None
    try:
        return ctx.sources.get(entry.source)
    except TermvaultError:  # raw bytes need no parser; rendering reports it below
        return None


def header_of(entry: ArchiveEntry) -> dict[str, Any]:
    header = {
        "name": entry.name,
        "source": entry.source,
        "working_directory": entry.working_directory,
        "created_at": entry.created_at,
        "last_activity_at": entry.last_activity_at,
        "session_id": entry.session_id,
    }
    # Records the parser could not read (damaged, cut off, too long) are not rendered:
    # say so, or a rendering looks whole when it is not.
    warnings = (entry.meta or {}).get("parse_warnings")
    if isinstance(warnings, int) and warnings > 0:
        header["parse_warnings"] = (
            f"{warnings} (records that could not be read are left out; the raw export has every byte)"
        )
    return header


def history_refs(ctx: Context, entry: ArchiveEntry, src: Source) -> list[FileRef]:
    """The session's continuous history up to ``entry``'s version, stitched by the
    source from every archived version's window (``Source.stitch``); one ref."""
    versions: list[tuple[int, dict[str, Any], list[FileRef]]] = []
    try:
        for e in ctx.index.versions(entry.session_id):
            if e.version > entry.version or e.status not in ("archived", "legacy"):
                continue
            try:
                versions.append((e.version, dict(e.meta or {}), ctx.store.refs(e)))
            except (DataError, OSError) as exc:  # a lost version is a gap, not a failure
                log.warning("version %s of %s left out of its history: %s", e.version, e.session_id, exc)
        return [src.stitch(versions, ensure_private_dir(ctx.store.tmp_dir))]
    finally:
        for _, _, refs in versions:
            close_refs(refs)


def live(ctx: Context, session_id: str) -> tuple[str, SessionUnit, SessionInfo] | None:
    """(source kind, unit, parsed metadata) of a session not archived yet that a source
    finds now under exactly ``session_id``; None otherwise. Reads, never writes."""
    found = find_live(ctx, session_id)
    if found is None:
        return None
    cs, unit = found
    return cs.source.kind, unit, parse(cs.source, list(unit.files), unit)


def check_format(fmt: str) -> None:
    if fmt not in EXPORT_FORMATS:
        raise UsageError(f"Unknown export format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}.")


def write(
    src: Source,
    refs: Sequence[FileRef],
    out: Writer,
    fmt: str,
    file: str | None,
    header: dict[str, Any],
    redact: bool,
    detail: str = "all",
) -> None:
    if fmt == "raw":
        ref = next((r for r in refs if r.relpath == (file or refs[0].relpath)), None)
        if ref is None:
            raise NotFoundError(f"The session has no file {file!r}.")
        with ref.open() as fh:
            while chunk := fh.read(arc.CHUNK):
                out.write(chunk)
        return
    for piece in render(src.messages(list(refs)), fmt, header, redact_secrets=redact, detail=detail):
        out.write(piece.encode("utf-8"))


def messages(ctx: Context, entry: ArchiveEntry) -> list[Message]:
    """The session's turns (for previews), reading the archive once; their text and names
    are redacted and free of control sequences, as everything shown is."""
    refs = ctx.store.refs(entry)
    try:
        return [_as_shown(m) for m in ctx.sources.get(entry.source).messages(refs)]
    finally:
        close_refs(refs)


def _as_shown(message: Message) -> Message:
    if isinstance(message.text, str):
        message.text = redact(printable(message.text))  # escapes first: one inside a key hides it
    if isinstance(message.name, str):
        message.name = printable(message.name, one_line=True)
    return message
