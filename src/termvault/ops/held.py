"""Source files a move-mode sweep set aside and could not put back.

``remove_if_unchanged`` renames a source to ``.tv-held-<pid>-<name>`` before it compares
and deletes it; a file that differs is put back (or, when its name was taken meanwhile,
kept beside under a name its source discovers as a session of its own). When even that
fails (no free inodes, a folder made read-only), the held file must not sit unnoticed:
its folder is recorded in the home, every later write operation tries again to put it
back, and ``verify`` reports whatever is still held.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path

from ..fsutil import HELD_PREFIX, KEPT_MARK, append_durably, atomic_write_bytes, put_back
from .context import Context

log = logging.getLogger(__name__)

RECORD = ".held-folders"


def _record_path(ctx: Context) -> Path:
    return ctx.home / RECORD


def recorded_folders(ctx: Context) -> list[Path]:
    try:
        lines = _record_path(ctx).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    out = []
    for line in lines:
        with contextlib.suppress(ValueError, TypeError):
            out.append(Path(json.loads(line)))
    return out


def note_stranded(ctx: Context, folder: Path) -> None:
    """Remember (durably) that ``folder`` holds a set-aside file not yet put back."""
    if folder in recorded_folders(ctx):
        return
    append_durably(_record_path(ctx), json.dumps(str(folder)) + "\n")


def held_files(folders: Iterable[Path]) -> list[Path]:
    return _files_in(folders, lambda e: e.name.startswith(HELD_PREFIX) and e.is_file(follow_symlinks=False))


def kept_files(folders: Iterable[Path]) -> list[Path]:
    """Copies kept beside a source whose name a writer took meanwhile (swept as sessions)."""
    return _files_in(folders, lambda e: KEPT_MARK in e.name and not e.name.startswith("."))


def _files_in(folders: Iterable[Path], wanted: Callable[[os.DirEntry[str]], bool]) -> list[Path]:
    """The entries of ``folders`` (each once; unreadable ones skipped) that are ``wanted``."""
    found: list[Path] = []
    for folder in dict.fromkeys(folders):
        try:
            with os.scandir(folder) as entries:
                found.extend(Path(e.path) for e in entries if wanted(e))
        except OSError:
            continue
    return sorted(found)


def put_back_stranded(ctx: Context, extra: Iterable[Path] = ()) -> list[str]:
    """Put back every held file in the recorded folders (and ``extra``); the caller holds
    the write lock. Folders left with nothing held are forgotten."""
    folders = [*recorded_folders(ctx), *extra]
    done = []
    still = set()
    for held in held_files(folders):
        try:
            done.append(f"put back {put_back(held)}")
        except OSError as exc:
            log.warning("%s is still set aside (%s); termvault will try again at the next sweep", held, exc)
            still.add(held.parent)
    if recorded_folders(ctx) and not still:
        _record_path(ctx).unlink(missing_ok=True)
    elif still:
        atomic_write_bytes(_record_path(ctx), "".join(json.dumps(str(f)) + "\n" for f in sorted(still)).encode())
    if done:
        log.info("set-aside sources: %s", "; ".join(done))
    return done


def source_folders(ctx: Context) -> list[Path]:
    """The folders holding the live sessions of every swept source (stat only)."""
    folders: dict[Path, None] = {}
    for cs in ctx.sources.select():
        folders.update(dict.fromkeys(cs.source.roots))
        with contextlib.suppress(OSError):
            for unit in cs.source.discover():
                for f in unit.files:
                    folders[f.origin.parent] = None
    return list(folders)
