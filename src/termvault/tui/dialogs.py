"""The restore dialogs: a confirmation before anything is written, and the choice a
conflict offers (restore beside the current file, or replace it keeping it aside).
Both are modal screens any host app can show; neither knows about the vault."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static
from textual.widgets.button import ButtonVariant

from ..index import ArchiveEntry
from .formatting import display_text, shorten_folder

_T = TypeVar("_T")

BESIDE = "beside"
REPLACE = "replace"


def modal_css(
    name: str, width: int, more: str = "", box: str = "Vertical", pad: int = 1, border: str = "$primary"
) -> str:
    """The CSS of modal screen ``name``: a ``box`` of ``width`` cells centred over the
    screen below it, then the rules ``more`` (where ``{name}`` stands for the screen)."""
    return f"""
    {name} {{ align: center middle; }}
    {name} > {box} {{
        width: {width};
        max-width: 100%;
        height: auto;
        padding: 0 {pad};
        background: $panel;
        border: round {border};
    }}
    """ + more.replace("{name}", name)


def _dialog_css(name: str) -> str:
    return modal_css(
        name,
        72,
        """
    {name} .dialog-text { margin: 1 0; }
    {name} .dialog-buttons { height: 1; align-horizontal: right; }
    {name} .dialog-buttons Button { margin-left: 1; }
    """,
        border="$warning",
    )


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


class _Dialog(ModalScreen[_T]):
    """A question its buttons answer: ``question()`` under the border title ``HEADING``,
    then ``BUTTONS`` (label, id, variant, what the dialog dismisses with); the first
    button has the focus."""

    HEADING: ClassVar[str] = ""
    BUTTONS: ClassVar[list[tuple[str, str, ButtonVariant, Any]]] = []

    def question(self) -> Content:
        raise NotImplementedError

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = Content(self.HEADING)
            yield Static(self.question(), classes="dialog-text")
            with Horizontal(classes="dialog-buttons"):
                for label, button_id, variant, _ in self.BUTTONS:
                    yield Button(label, id=button_id, variant=variant, compact=True)

    def on_mount(self) -> None:
        self.query_one(f"#{self.BUTTONS[0][1]}", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(next(answer for _, button_id, _, answer in self.BUTTONS if button_id == event.button.id))


class ConfirmRestoreScreen(_Dialog[bool]):
    """ "Restore NAME (version N) to FOLDER?" Dismisses with True to go ahead."""

    DEFAULT_CSS = _dialog_css("ConfirmRestoreScreen")
    HEADING = "Restore"
    BUTTONS: ClassVar[list[tuple[str, str, ButtonVariant, Any]]] = [
        ("Restore", "confirm-restore", "primary", True),
        ("Cancel", "confirm-cancel", "default", False),
    ]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,n", "answer(False)", "Cancel"),
        Binding("y", "answer(True)", "Restore"),
    ]

    def __init__(self, entry: ArchiveEntry, destination: str) -> None:
        super().__init__()
        self.entry = entry
        self.destination = destination

    def question(self) -> Content:
        return Content.assemble(
            "Restore ",
            (_title(self.entry), "bold"),
            f" (version {self.entry.version}) to ",
            (shorten_folder(self.destination, 60) or "where it was archived from", "bold"),
            "?\n",
            ("Identical files are left alone; nothing is overwritten without asking.", "$text-muted"),
        )

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class RestoreConflictScreen(_Dialog[str | None]):
    """A file in the way differs from the archived copy. Dismisses with ``BESIDE``,
    ``REPLACE`` or None (cancel)."""

    DEFAULT_CSS = _dialog_css("RestoreConflictScreen")
    HEADING = "A different file is in the way"
    BUTTONS: ClassVar[list[tuple[str, str, ButtonVariant, Any]]] = [
        ("Restore beside", "conflict-beside", "primary", BESIDE),
        ("Replace, keep current aside", "conflict-replace", "warning", REPLACE),
        ("Cancel", "conflict-cancel", "default", None),
    ]
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

    def question(self) -> Content:
        return Content.assemble(
            (display_text(_tilde_paths(self.problem), 400), ""),
            "\n\n",
            ("Restore beside", "bold"),
            ": into ",
            shorten_folder(str(self.beside), 56),
            "; the current file stays as it is.\n",
            ("Replace", "bold"),
            ": put the archived copy back and keep the current file beside it as ",
            "NAME.termvault-old-TIME.",
        )

    def action_choose(self, choice: str | None) -> None:
        self.dismiss(choice)
