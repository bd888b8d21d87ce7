"""termvault: archive, index, search and restore terminal and AI-agent sessions."""
__version__ = "0.1.0"
