"""What ``show`` says about a session's live copy: whether its files are still on disk,
and how to open it again in the tool that wrote it."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

from .format import home_display

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)


def on_disk(files: list[Any], session_id: str, in_place: Callable[[], bool] = lambda: True) -> str:
    """One phrase about the manifest ``files`` as they are now: still there and
    unchanged, changed since, or gone (and then how to get them back: in place, or with
    ``--to`` when they came from outside this home's sources: ``in_place()``, asked only
    then, as it loads every source)."""
    total = len(files)
    present = changed = 0
    for f in files:
        try:
            st = os.stat(f.origin)
        except OSError:
            continue
        present += 1
        if st.st_size != f.size or st.st_mtime_ns != f.mtime_ns:
            changed += 1
    back = f"`termvault restore {session_id}` puts {'it' if total == 1 else 'them'} back"
    if present < total and not in_place():
        back = (
            f"`termvault restore {session_id} --to DIR` puts {'it' if total == 1 else 'them'} in a folder "
            "you choose (archived outside the folders this home's sources read)"
        )
    if total == 1:
        if not present:
            return f"no, the file is gone; {back}"
        return "yes, " + ("changed" if changed else "unchanged") + " since this version was archived"
    if not present:
        return f"no, none of its {total} files; {back}"
    what = f"all {total} files" if present == total else f"{present} of its {total} files"
    more = f" ({changed} changed since this version)" if changed else ", unchanged"
    gone = f"; the others are gone, {back}" if present < total else ""
    return f"yes, {what}{more}{gone}"


def reopen_hint(entry: Any, root: str | None, files: list[Any]) -> str | None:
    """The command that opens the session again in its own tool, or None if there is
    none (or the source is termvault's own history, which the app lists itself)."""

    folder = entry.working_directory or ""
    cd = f"cd {_shell_path(folder)} && " if folder else ""
    uuid = _uuid_of(entry)
    if entry.source == "claude-code" and uuid:
        return f"{cd}claude --resume {uuid}"
    if entry.source == "codex" and uuid:
        return f"{cd}codex resume {uuid}"
    if entry.source == "gemini":
        return f"{cd}gemini --resume {uuid}" if uuid else f"{cd}gemini --resume   (then pick it from the list)"
    if entry.source == "aider":
        return f"{cd}aider --restore-chat-history"
    if entry.source == "asciinema" and files:
        return f"asciinema play {_shell_path(files[0].origin)}"
    return None


def _shell_path(path: Any) -> str:
    """``path`` as a shell reads it, the home folder as ``~`` left outside the quotes
    (``~/'my app'``): a quoted ``'~/app'`` is not expanded, so ``cd`` would fail."""
    import shlex

    shown = home_display(path)
    if shown == "~":
        return shown
    if shown.startswith("~/"):
        return "~/" + shlex.quote(shown[2:])
    return shlex.quote(shown)


def _uuid_of(entry: Any) -> str | None:
    meta = entry.meta or {}
    for key in ("agent_session_id", "session_uuid", "sessionId", "session_id"):
        value = meta.get(key)
        if isinstance(value, str) and _UUID.fullmatch(value):
            return value
    m = _UUID.search(entry.session_id)
    return m.group(0) if m else None
