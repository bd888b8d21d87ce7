from termvault.tui import ArchiveBrowser  # noqa: F401
