"""Moved to ``termvault.compat.storage``; this name keeps older imports working."""

from .compat.storage import *  # noqa: F403
