"""One writer at a time per home, across processes; readers never take it.

The lock is an OS file lock (``filelock``), so it vanishes with its holder: a process
killed with SIGKILL leaves no stale lock. Beside it, ``.lock.info`` records the holder's
pid, host and start time so a waiting process can say who holds it.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import LockedError
from .fsutil import FILE_MODE

if TYPE_CHECKING:
    from filelock import FileLock


class HomeLock:
    def __init__(self, home: Path, timeout: float = 30.0, name: str = ".lock"):
        self.path = home / name
        self.info_path = home / (name + ".info")
        self.timeout = timeout
        self._thread_lock = threading.RLock()
        self._lock: FileLock | None = None  # made on first use: see _file_lock
        self._depth = 0

    @property
    def _file_lock(self) -> FileLock:
        # filelock costs more to import than the rest of a reading command's start-up, so
        # it is loaded (lazy) the first time this lock is taken, not when a vault opens.
        if self._lock is None:
            from filelock import FileLock

            self._lock = FileLock(str(self.path), mode=FILE_MODE, thread_local=False)
        return self._lock

    def holder(self) -> dict | None:
        try:
            return json.loads(self.info_path.read_text())
        except (OSError, ValueError):
            return None

    def describe_holder(self) -> str:
        h = self.holder()
        if not h:
            return "another process"
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(h.get("since", 0)))
        return f"process {h.get('pid')} on {h.get('host')} ({h.get('what', 'working')} since {started})"

    @contextmanager
    def hold(self, what: str = "writing", timeout: float | None = None) -> Iterator[None]:
        """Hold the write lock; raise LockedError naming the holder after ``timeout`` s."""
        wait = self.timeout if timeout is None else timeout
        if not self._thread_lock.acquire(timeout=-1 if wait is None or wait < 0 else wait):
            raise LockedError(
                f"The termvault home {self.path.parent} is busy with another task of this process "
                f"({self.describe_holder()}); wait for it to finish, then try again."
            )
        try:
            if self._depth == 0:
                from filelock import Timeout  # lazy: see _file_lock

                try:
                    self._file_lock.acquire(timeout=wait)
                except Timeout:
                    raise LockedError(
                        f"The termvault home {self.path.parent} is locked by {self.describe_holder()}; "
                        "wait for it to finish or stop it, then try again."
                    ) from None
                self._write_info(what)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self._file_lock.release()
        finally:
            self._thread_lock.release()

    def try_acquire(self, what: str) -> bool:
        """Take the lock without waiting (for long-lived holders such as the sweeper)."""
        from filelock import Timeout  # lazy: see _file_lock

        try:
            self._file_lock.acquire(timeout=0)
        except Timeout:
            return False
        self._write_info(what)
        return True

    def held_elsewhere(self) -> bool:
        """True if another holder (another process, or another HomeLock on this file) has
        the lock right now. Tested with a shared, non-blocking flock on a read-only
        descriptor: nothing is created or taken, so it works on a read-only home."""
        if self._lock is not None and self._lock.is_locked:
            return False
        try:
            import fcntl
        except ImportError:  # no flock here: assume nobody, as before
            return False
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return True
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)
            return False
        finally:
            os.close(fd)

    def release(self) -> None:
        if self._lock is not None and self._lock.is_locked:
            self._lock.release()

    def _write_info(self, what: str) -> None:
        import socket  # lazy: only a writer says who holds the lock

        info = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time(), "what": what}
        try:
            fd = os.open(self.info_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
            with os.fdopen(fd, "w") as fh:
                json.dump(info, fh)
        except OSError:
            pass
