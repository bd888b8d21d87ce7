"""The restore dialogs: a confirmation before anything is written, and the choice a
conflict offers (restore beside the current file, or replace it keeping it aside).
Both are modal screens any host app can show; neither knows about the vault."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from ..index import ArchiveEntry
from .formatting import display_text, shorten_folder

BESIDE = "beside"
REPLACE = "replace"

_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{
    width: 72;
    max-width: 100%;
    height: auto;
    padding: 0 1;
    background: $panel;
    border: round $warning;
}}
{name} .dialog-text {{ margin: 1 0; }}
{name} .dialog-buttons {{ height: 1; align-horizontal: right; }}
{name} .dialog-buttons Button {{ margin-left: 1; }}
"""


def beside_folder(root: str, now: float | None = None) -> Path:
    """Where "restore beside" puts a session: a new folder next to its original one,
    ``<folder>-restored-<YYYYmmdd-HHMMSS>``, so nothing existing is touched."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    base = Path(root)
    return base.parent / f"{base.name}-restored-{stamp}"


def _tilde_paths(text: str) -> str:
    """Paths under the user's home folder written from ``~``, as the rest of the browser
    shows them."""
    home = os.environ.get("HOME", "").rstrip("/")
    return text.replace(home + "/", "~/") if home else text


def _title(entry: ArchiveEntry) -> str:
    return display_text(entry.name or entry.session_id, 50)


class ConfirmRestoreScreen(ModalScreen[bool]):
    """ "Restore NAME (version N) to FOLDER?" Dismisses with True to go ahead."""

    DEFAULT_CSS = _CSS.format(name="ConfirmRestoreScreen")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,n", "answer(False)", "Cancel"),
        Binding("y", "answer(True)", "Restore"),
    ]

    def __init__(self, entry: ArchiveEntry, destination: str) -> None:
        super().__init__()
        self.entry = entry
        self.destination = destination

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = Content("Restore")
            yield Static(
                Content.assemble(
                    "Restore ",
                    (_title(self.entry), "bold"),
                    f" (version {self.entry.version}) to ",
                    (shorten_folder(self.destination, 60) or "where it was archived from", "bold"),
                    "?\n",
                    ("Identical files are left alone; nothing is overwritten without asking.", "$text-muted"),
                ),
                classes="dialog-text",
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Restore", id="confirm-restore", variant="primary", compact=True)
                yield Button("Cancel", id="confirm-cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#confirm-restore", Button).focus()

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)

    @on(Button.Pressed, "#confirm-restore")
    def _yes(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(True)

    @on(Button.Pressed, "#confirm-cancel")
    def _no(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(False)


class RestoreConflictScreen(ModalScreen[str | None]):
    """A file in the way differs from the archived copy. Dismisses with ``BESIDE``,
    ``REPLACE`` or None (cancel)."""

    DEFAULT_CSS = _CSS.format(name="RestoreConflictScreen")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "choose(None)", "Cancel"),
        Binding("b", "choose('beside')", "Beside"),
        Binding("k", "choose('replace')", "Replace, keep aside"),
    ]

    def __init__(self, entry: ArchiveEntry, problem: str, beside: Path) -> None:
        super().__init__()
        self.entry = entry
        self.problem = problem
        self.beside = beside

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = Content("A different file is in the way")
            yield Static(
                Content.assemble(
                    (display_text(_tilde_paths(self.problem), 400), ""),
                    "\n\n",
                    ("Restore beside", "bold"),
                    ": into ",
                    shorten_folder(str(self.beside), 56),
                    "; the current file stays as it is.\n",
                    ("Replace", "bold"),
                    ": put the archived copy back and keep the current file beside it as ",
                    "NAME.termvault-old-TIME.",
                ),
                classes="dialog-text",
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Restore beside", id="conflict-beside", variant="primary", compact=True)
                yield Button("Replace, keep current aside", id="conflict-replace", variant="warning", compact=True)
                yield Button("Cancel", id="conflict-cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#conflict-beside", Button).focus()

    def action_choose(self, choice: str | None) -> None:
        self.dismiss(choice)

    @on(Button.Pressed, "#conflict-beside")
    def _beside(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(BESIDE)

    @on(Button.Pressed, "#conflict-replace")
    def _replace(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(REPLACE)

    @on(Button.Pressed, "#conflict-cancel")
    def _cancel(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)
