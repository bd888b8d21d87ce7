"""Which process sweeps which source kinds of a home, on a schedule.

Scheduled sweepers (the app's background archiver, ``termvault daemon``, a timer) must
not all sweep at once, yet none may keep another from a kind it does not sweep itself:
the app's archiver sweeps only native sessions, and an agent's transcripts that nobody
copies are lost to the agent's own cleanup. So the sweeper lock is per kind. Native
sessions keep the lock file the app has always taken (``.sweeper.lock``); every other
kind has its own (``.sweeper-<kind>.lock``).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from .lock import HomeLock

NATIVE_LOCK = ".sweeper.lock"


def lock_name(kind: str) -> str:
    return NATIVE_LOCK if kind == "native" else f".sweeper-{kind}.lock"


class SweeperLocks:
    """The per-kind sweeper locks one scheduled sweeper holds (never blocking)."""

    def __init__(self, home: Path):
        self.home = Path(home)
        self._held: dict[str, HomeLock] = {}

    def acquire(self, kinds: Iterable[str], what: str) -> tuple[list[str], dict[str, str]]:
        """Take every free lock of ``kinds``; return (kinds held now, {kind: who holds it}
        for the others). Locks of kinds no longer asked for are released."""
        wanted = list(dict.fromkeys(kinds))
        for kind in [k for k in self._held if k not in wanted]:
            self._held.pop(kind).release()
        busy: dict[str, str] = {}
        for kind in wanted:
            if kind in self._held:
                continue
            lock = HomeLock(self.home, name=lock_name(kind))
            if lock.try_acquire(f"{what} {kind}"):
                self._held[kind] = lock
            else:
                busy[kind] = lock.describe_holder()
        return [k for k in wanted if k in self._held], busy

    def release(self) -> None:
        for lock in self._held.values():
            lock.release()
        self._held.clear()
