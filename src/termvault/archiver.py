"""Moved to ``termvault.compat.archiver``; this name keeps older imports working."""

from .compat.archiver import *  # noqa: F403
