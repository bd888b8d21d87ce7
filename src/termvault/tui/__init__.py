"""The terminal browser (Textual): ``ArchiveBrowser``, the widget a host app embeds, and
``run_browser`` / ``create_app`` for ``termvault browse``. Importing this package imports
textual; the core never does."""

from __future__ import annotations

from .app import BrowserApp, create_app, run_browser
from .widget import ArchiveBrowser

__all__ = ["ArchiveBrowser", "BrowserApp", "create_app", "run_browser"]
