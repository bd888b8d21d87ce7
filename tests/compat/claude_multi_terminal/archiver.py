from termvault import ArchiveEntry, ArchiveIndex, SessionArchiver, SessionState  # noqa: F401
