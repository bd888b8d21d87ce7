"""Moved to ``termvault.compat.state``; this name keeps older imports working."""

from .compat.state import *  # noqa: F401,F403
