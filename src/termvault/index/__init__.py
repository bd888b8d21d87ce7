"""The SQLite index: rows, full text and queries. The only package that speaks SQL."""

from ..model import ArchiveEntry
from .db import LATEST_LIVE, is_corruption
from .entries import MB, ArchiveIndex

__all__ = ["LATEST_LIVE", "MB", "ArchiveEntry", "ArchiveIndex", "is_corruption"]
