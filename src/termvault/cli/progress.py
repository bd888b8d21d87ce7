"""Progress display for long operations: a rich bar on a terminal, plain lines (or
nothing) otherwise. Progress always goes to stderr so stdout stays clean for --json."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from .context import AppState
from .format import human_size

if TYPE_CHECKING:
    from ..reports import Progress

Callback = Callable[["Progress"], None]


@contextlib.contextmanager
def sweep_progress(state: AppState, enabled: bool = True) -> Iterator[Callback]:
    """Sessions and bytes archived, rate and ETA on a terminal; one line per session
    (``[3/10] archived ID (1.2 MiB)``) when stderr is not a terminal."""
    if not enabled or state.quiet:
        yield lambda p: None
        return
    if not state.err.is_terminal:

        def line(p: Progress) -> None:
            what = p.outcome or ("archived" if p.ok else "failed")
            if not p.ok:
                tail = f": {p.message}"
            elif what == "unchanged":
                tail = " (identical to the version already archived)"
            else:
                tail = f" ({human_size(p.bytes_done)} of {human_size(p.bytes_total)} done)"
            state.err.print(f"[{p.done}/{p.total}] {what} {p.session_id}{tail}", soft_wrap=True)

        yield line
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        SpinnerColumn,
        TextColumn,
        TimeRemainingColumn,
    )
    from rich.progress import (
        Progress as Bar,
    )

    bar = Bar(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[sessions]}"),
        DownloadColumn(binary_units=True),
        binary_speed_column(),
        TimeRemainingColumn(),
        console=state.err,
        transient=True,
    )
    with bar:
        task = bar.add_task("Looking for due sessions", total=None, sessions="")

        def update(p: Progress) -> None:
            bar.update(
                task,
                description="Archiving",
                total=max(p.bytes_total, 1),
                completed=p.bytes_done if p.bytes_total else 1,
                sessions=f"{p.done}/{p.total} sessions",
            )
            if not p.ok:
                bar.console.print(f"failed {p.session_id}: {p.message}", soft_wrap=True)

        yield update


def binary_speed_column():
    """A rate column in the same binary units as the sizes beside it (``3.2 MiB/s``);
    rich's own speed column counts in powers of 1000 (``MB/s``)."""
    from rich.progress import ProgressColumn
    from rich.text import Text

    class BinarySpeedColumn(ProgressColumn):
        def render(self, task) -> Text:
            speed = task.finished_speed or task.speed
            if speed is None:
                return Text("?", style="progress.data.speed")
            return Text(f"{human_size(speed)}/s", style="progress.data.speed")

    return BinarySpeedColumn()


@contextlib.contextmanager
def item_progress(state: AppState, label: str, enabled: bool = True) -> Iterator[Callback]:
    """A bar counting items (verify, reindex) on a terminal; silent otherwise, the
    command's own report saying what matters."""
    if not enabled or state.quiet or not state.err.is_terminal:
        yield lambda p: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, SpinnerColumn, TextColumn, TimeRemainingColumn
    from rich.progress import Progress as Bar

    bar = Bar(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=state.err,
        transient=True,
    )
    with bar:
        task = bar.add_task(label, total=None)

        def update(p: Progress) -> None:
            bar.update(task, total=max(p.total, 1), completed=p.done)

        yield update
