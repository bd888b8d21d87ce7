"""The browser's other screens: full preview, statistics, help, export and sweep.

Screens that read the vault do it in thread workers; ``loading_data`` is True until what
they asked for arrived (tests wait on it before taking a picture).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen, Screen
from textual.widgets import (
    Button,
    Footer,
    Input,
    Label,
    ProgressBar,
    RadioButton,
    RadioSet,
    Static,
)

from ..errors import TermvaultError
from ..index import ArchiveEntry
from ..ops.export import EXPORT_FORMATS
from ..reports import SweepReport
from .dialogs import modal_css
from .find import Jump
from .formatting import bar, display_text, human_size, saved_size, truncate
from .messages import StatsLoaded, SweepFailed, SweepFinished, SweepProgressed
from .preview import PreviewCache, PreviewPane

KEY_HELP: list[tuple[str, list[tuple[str, str]]]] = [
    (
        "Browsing",
        [
            ("↑ ↓ PgUp PgDn", "move through the sessions"),
            ("enter", "open the full preview"),
            ("/", 'search as you type (as termvault search; "50 of 212")'),
            ("ctrl+f", "find in the session previewed"),
            ("escape", "step back: leave a box, then clear the search"),
            ("f  ctrl+r", "filter: all / this folder / each source"),
            ("d", "date range: 7d, 2024-01-01..2024-02-01"),
            ("f5", "search again and refresh the stats"),
        ],
    ),
    (
        "Actions",
        [
            ("r", "restore (asks first; a file in the way: beside or replace)"),
            ("e", "export to a file (raw, jsonl, text, markdown)"),
            ("p", "pin or unpin (pinned: never pruned)"),
            ("y", "copy the session id"),
            ("o", "read the session in $PAGER"),
            ("a", "archive what is due now (sweep)"),
            ("s", "statistics: space saved per month and source"),
            ("?", "this help"),
            ("q", "quit"),
        ],
    ),
    (
        "Preview",
        [
            ("t", "fold or unfold tool calls"),
            ("/  ctrl+f", "find in the session: enter or n next, N back"),
            ("escape", "back to the list"),
        ],
    ),
]

EXTENSIONS = {"raw": "raw", "jsonl": "jsonl", "text": "txt", "markdown": "md", "html": "html"}


class HelpScreen(ModalScreen[None]):
    """Every key the browser knows."""

    DEFAULT_CSS = modal_css(
        "HelpScreen",
        68,
        "{name} > VerticalScroll { max-height: 100%; border-title-color: $text-primary; }",
        box="VerticalScroll",
        pad=2,
    )
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "app.pop_screen", "Back")]

    def compose(self) -> ComposeResult:
        parts: list[Any] = []
        for title, keys in KEY_HELP:
            parts.append((title + "\n", "bold $accent"))
            for key, what in keys:
                parts += [(f"  {key:<14}", "bold $primary"), what, "\n"]
        with VerticalScroll() as box:
            box.border_title = "Keys"
            yield Static(Content.assemble(*parts).rstrip())


class StatsScreen(Screen[None]):
    """Totals, and space saved per source and per month as bar charts."""

    DEFAULT_CSS = """
    StatsScreen > #stats-body { padding: 0 1; background: $surface; }
    StatsScreen #stats-title { height: 1; padding: 0 1; background: $panel; color: $text-primary; text-style: bold; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,s", "app.pop_screen", "Back")]

    def __init__(self, vault: Any) -> None:
        super().__init__()
        self.vault = vault
        self.stats: dict[str, Any] | None = None
        self.loading_data = True

    def compose(self) -> ComposeResult:
        yield Static("Statistics", id="stats-title")
        with VerticalScroll(id="stats-body"):
            yield Static(Content.styled("Loading…", "italic $text-muted"), id="stats-text")
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        self._load()

    @work(thread=True, group="termvault-stats-screen")
    def _load(self) -> None:
        try:
            stats = self.vault.stats()
        except (TermvaultError, OSError) as exc:
            stats = {"error": str(exc)}
        self.post_message(StatsLoaded(stats))

    def on_stats_loaded(self, message: StatsLoaded) -> None:
        message.stop()
        self.stats = message.stats
        self.loading_data = False
        self._render_stats()

    def on_resize(self) -> None:
        if self.stats is not None:
            self._render_stats()

    def _render_stats(self) -> None:
        text = self.query_one("#stats-text", Static)
        if self.stats is None:
            return
        if "error" in self.stats:
            text.update(Content.styled("Cannot read the statistics: " + self.stats["error"], "$error"))
            return
        text.update(render_stats(self.stats, max(20, self.size.width - 4)))


def render_stats(stats: dict[str, Any], width: int) -> Content:
    """Totals, then one bar per source and per month (space saved), fitted to ``width``."""
    archived = stats.get("archive_bytes", 0)
    original = stats.get("original_bytes", 0)
    cap = stats.get("max_total_bytes")
    parts: list[Any] = [
        ("Sessions  ", "$text-muted"),
        f"{stats.get('total_sessions', 0)}",
        ("   versions  ", "$text-muted"),
        f"{stats.get('total_versions', 0)}",
        ("   pinned  ", "$text-muted"),
        f"{stats.get('pinned_sessions', 0)}",
        "\n",
        ("Original  ", "$text-muted"),
        human_size(original),
        ("   archived  ", "$text-muted"),
        human_size(archived),
        ("   saved  ", "$text-muted"),
        (saved_size(original - archived), "bold $success"),
        (f"  ({(original - archived) / original:.0%})" if original else "", "$text-muted"),
        "\n",
        ("Storage cap  ", "$text-muted"),
        human_size(cap) if cap else "none",
        "\n",
    ]
    per_source = [
        (name, row.get("original_bytes", 0) - row.get("archive_bytes", 0), _count(row.get("sessions", 0), "session"))
        for name, row in (stats.get("per_source") or {}).items()
    ]
    per_month = [
        (
            month or "unknown",
            row.get("original_bytes", 0) - row.get("archive_bytes", 0),
            _count(row.get("versions", 0), "version"),
        )
        for month, row in sorted((stats.get("per_month") or {}).items(), key=lambda kv: kv[0] or "", reverse=True)
    ]
    rows = per_source + per_month
    label_w = min(14, max((len(r[0]) for r in rows), default=0))
    note_w = max((len(r[2]) for r in rows), default=0)
    parts += _chart("Space saved per source", per_source, width, label_w, note_w)
    parts += _chart("Space saved per month", per_month, width, label_w, note_w)
    return Content.assemble(*parts).rstrip()


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' if n != 1 else ''}"


def _chart(title: str, rows: list[tuple[str, int, str]], width: int, label_w: int, note_w: int) -> list[Any]:
    out: list[Any] = ["\n", (title + "\n", "bold $accent")]
    if not rows:
        return out + [("  nothing archived yet\n", "italic $text-muted")]
    bar_w = max(4, width - label_w - note_w - 16)
    top = max(r[1] for r in rows)
    for label, value, note in rows:
        drawn = bar(value, top, bar_w)
        out += [
            f"  {truncate(label, label_w):<{label_w}} ",
            (f"{drawn:<{bar_w}}", "$primary"),
            f" {saved_size(value):>9}",
            (f"  {note}", "$text-muted"),
            "\n",
        ]
    return out


class PreviewScreen(Screen[None]):
    """One session, full screen and scrollable."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("t", "toggle_tools", "Fold tools"),
        Binding("slash", "find", "Find"),
    ]
    DEFAULT_CSS = """
    PreviewScreen > PreviewPane { height: 1fr; }
    """

    def __init__(
        self, vault: Any, entry: ArchiveEntry, cache: PreviewCache | None = None, jump: Jump | None = None
    ) -> None:
        super().__init__()
        self.vault = vault
        self.entry = entry
        self.cache = cache
        self.jump = jump  # a search hit's: open at its match, highlighted

    @property
    def loading_data(self) -> bool:
        return self.query_one(PreviewPane).busy

    def compose(self) -> ComposeResult:
        yield PreviewPane(self.vault, cache=self.cache, delay=0)
        yield Footer(show_command_palette=False, compact=True)

    def on_mount(self) -> None:
        pane = self.query_one(PreviewPane)
        pane.show(self.entry, immediate=True, jump=self.jump)
        pane.focus()

    def action_find(self) -> None:
        self.query_one(PreviewPane).action_find()

    def action_toggle_tools(self) -> None:
        pane = self.query_one(PreviewPane)
        pane.set_fold(not pane.fold_tools)


class ExportScreen(ModalScreen[tuple[str, str] | None]):
    """Choose a format and a file; dismisses with (format, path) or None."""

    DEFAULT_CSS = modal_css(
        "ExportScreen",
        60,
        """
    {name} RadioSet { width: 1fr; margin-bottom: 1; }
    {name} #export-path { margin-bottom: 1; }
    {name} #export-buttons { height: 1; align-horizontal: right; }
    {name} #export-buttons Button { margin-left: 1; }
    """,
    )
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, entry: ArchiveEntry, folder: str, fmt: str = "markdown") -> None:
        super().__init__()
        self.entry = entry
        self.folder = folder
        self.fmt = fmt

    def _default_path(self, fmt: str) -> str:
        return str(Path(self.folder) / f"{self.entry.session_id}.{EXTENSIONS[fmt]}")

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = Content(f"Export {display_text(self.entry.name or self.entry.session_id, 40)}")
            with RadioSet(id="export-format"):
                for fmt in EXPORT_FORMATS:
                    yield RadioButton(fmt, value=(fmt == self.fmt), name=fmt, id=f"format-{fmt}")
            yield Label("Save to")
            yield Input(self._default_path(self.fmt), id="export-path", compact=True)
            with Horizontal(id="export-buttons"):
                yield Button("Export", id="export-ok", variant="primary", compact=True)
                yield Button("Cancel", id="export-cancel", compact=True)

    def on_mount(self) -> None:
        # Enter exports with what is shown; tab reaches the formats.
        self.query_one("#export-path", Input).focus()

    @on(RadioSet.Changed, "#export-format")
    def _format_changed(self, event: RadioSet.Changed) -> None:
        path = self.query_one("#export-path", Input)
        old, new = self.fmt, event.pressed.name or self.fmt
        if path.value == self._default_path(old):
            path.value = self._default_path(new)
        self.fmt = new

    @on(Button.Pressed, "#export-ok")
    @on(Input.Submitted, "#export-path")
    def _ok(self, event) -> None:
        event.stop()
        path = self.query_one("#export-path", Input).value.strip()
        if not path:
            self.notify("Give a file name to export to.", severity="warning")
            return
        self.dismiss((self.fmt, path))

    @on(Button.Pressed, "#export-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class SweepScreen(ModalScreen[Any]):
    """Archive what is due now, with a progress bar; dismisses with the SweepReport."""

    DEFAULT_CSS = modal_css(
        "SweepScreen",
        64,
        """
    {name} ProgressBar { margin: 1 0; }
    {name} #sweep-buttons { height: 1; align-horizontal: right; }
    """,
    )
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close")]

    def __init__(self, vault: Any, on_finished: Any = None) -> None:
        super().__init__()
        self.vault = vault
        self.on_finished = on_finished  # called with the report as soon as the sweep ends
        self.report: SweepReport | None = None
        self.error: str | None = None
        self.loading_data = True

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Archiving sessions that are due"
            yield ProgressBar(total=None, show_eta=False, id="sweep-bar")
            yield Static("Looking for sessions that are due…", id="sweep-status")
            with Horizontal(id="sweep-buttons"):
                yield Button("Close", id="sweep-close", compact=True, disabled=True)

    def on_mount(self) -> None:
        self._sweep()

    @work(thread=True, group="termvault-sweep")
    def _sweep(self) -> None:
        try:
            report = self.vault.sweep(progress=lambda p: self.post_message(SweepProgressed(p)))
        except (TermvaultError, OSError) as exc:
            self.post_message(SweepFailed(str(exc)))
            return
        self.post_message(SweepFinished(report))

    def on_sweep_progressed(self, message: SweepProgressed) -> None:
        p = message.progress
        self.query_one("#sweep-bar", ProgressBar).update(total=p.total, progress=p.done)
        mark = "" if p.ok else f"  failed: {p.message}"
        self.query_one("#sweep-status", Static).update(
            Content(display_text(f"{p.done} of {p.total}: {p.session_id}{mark}"))
        )

    def on_sweep_finished(self, message: SweepFinished) -> None:
        report = self.report = message.report
        data = report.to_dict()
        bar_widget = self.query_one("#sweep-bar", ProgressBar)
        bar_widget.update(
            total=max(1, len(report.archived) + len(report.failed)),
            progress=max(1, len(report.archived) + len(report.failed)),
        )
        saved = saved_size(report.raw_bytes - report.compressed_bytes)
        unchanged = f", {data['unchanged_count']} unchanged" if data["unchanged_count"] else ""
        lines = [
            f"{data['archived_count']} archived{unchanged}, {data['failed_count']} failed, "
            + f"{data['skipped_count']} not due; {saved} saved."
        ]
        lines += [f"  {f.session_id}: {f.reason}" for f in report.failed[:5]]
        self.query_one("#sweep-status", Static).update(Content("\n".join(display_text(x) for x in lines)))
        self._finished()
        if self.on_finished is not None:
            self.on_finished(report)

    def on_sweep_failed(self, message: SweepFailed) -> None:
        self.error = message.error
        error = display_text(message.error)
        self.query_one("#sweep-status", Static).update(Content.styled("The sweep failed: " + error, "$error"))
        self.notify(error, title="Sweep failed", severity="error", timeout=10, markup=False)
        self._finished()

    def _finished(self) -> None:
        self.loading_data = False
        close = self.query_one("#sweep-close", Button)
        close.disabled = False
        close.focus()

    @on(Button.Pressed, "#sweep-close")
    def action_close(self) -> None:
        if self.loading_data:
            self.notify(
                "The sweep is still running; it cannot be stopped halfway through a session.", severity="warning"
            )
            return
        self.dismiss(self.report)
