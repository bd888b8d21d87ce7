"""Errors termvault raises. Each carries a sentence a user can act on and an exit code.

The CLI maps ``exit_code`` straight to the process exit status, so the library decides
what kind of failure something is and the shell only prints it.
"""

from __future__ import annotations


class TermvaultError(Exception):
    """Base class. ``str(err)`` is one sentence meant for the user. A subclass names its
    exit code in its header (``class LockedError(TermvaultError, exit_code=3)``); without
    one it keeps its base's (4: a data or file-system error)."""

    exit_code = 4

    def __init_subclass__(cls, exit_code: int | None = None, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if exit_code is not None:
            cls.exit_code = exit_code


class UsageError(TermvaultError, exit_code=2):
    """The caller asked for something malformed (a bad id, date or size)."""


class InvalidIdError(UsageError):
    """A session id that could escape a folder or is otherwise unsafe."""


class ConfigError(UsageError):
    """config.toml or a TERMVAULT_* variable holds a value termvault cannot use."""


class NotFoundError(TermvaultError, exit_code=1):
    """Nothing matched where something was required."""


class HomeNotFoundError(NotFoundError):
    """A reading command was pointed at a home that does not exist (nothing is created)."""

    def __init__(self, home):
        self.home = home
        super().__init__(
            f"The termvault home {home} does not exist; check --home or TERMVAULT_HOME "
            "(`termvault sweep` creates a home when it first archives)."
        )


class AmbiguousIdError(NotFoundError, exit_code=2):
    """An id prefix matched more than one session; ``candidates`` lists them."""

    def __init__(self, prefix: str, candidates: list[str], total: int | None = None):
        self.prefix = prefix
        self.candidates = candidates
        self.total = max(total or 0, len(candidates))
        shown = ", ".join(candidates[:10]) + (" ..." if self.total > 10 else "")
        super().__init__(f"The id prefix {prefix!r} matches {self.total} sessions ({shown}); give more characters.")


class LockedError(TermvaultError, exit_code=3):
    """Another process holds the write lock of this home."""


class DataError(TermvaultError, exit_code=4):
    """An archive, index or session file is unreadable, corrupt or hostile."""


class IntegrityError(DataError):
    """Content does not match the hashes recorded for it."""


class SourceChangedError(IntegrityError):
    """A source file's bytes differ from the hash taken when it was read moments before
    (it is being written): nothing was archived; a sweep skips it this round."""


class ConflictError(DataError):
    """A restore target holds a different file and overwriting was not asked for."""


class HomeError(TermvaultError, exit_code=4):
    """The home folder is unusable (not ours, world-writable, not writable)."""
