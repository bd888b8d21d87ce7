"""Preparing the units of a sweep ahead of the writer, in worker processes.

Parsing, hashing and full-text preparation are Python: a second thread gains nothing
(the GIL serialises them), so units are prepared in a small pool of forked worker
processes, a few ahead of the writer, while the sweep's own process compresses, verifies
and indexes. A worker opens the unit's files itself by path; only plain data comes back
(the ``Prepared``: metadata, hashes, the full-text body). The pool is forked when the
sweep starts, so the workers inherit the units and their sources (nothing is pickled
on the way there but an index).

Units that need the sweep's process stay there: a file held in another program's
database (read through ``UnitFile.reader``) and a version that may be stored as a delta
(its tail is compressed in the same read, into a spool the writer then reads). So does
everything when the work is too small to pay for starting the pool (``POOL_MIN_BYTES``)
and on a platform without ``fork``. A worker runs only parsing and text preparation:
it touches no lock another thread of the parent may have held at the fork (the index
is not used; its log records go back to the parent, not through the parent's handlers,
a progress display's console among them). ``TERMVAULT_SWEEP_WORKERS`` sets the number of
workers (0: none).

A worker that dies (killed, out of memory) breaks the pool and every unit in flight with
it: a fresh pool prepares them again one at a time, so the unit that kills its worker is
found and becomes a failure naming it (its source stays where it is; the next sweep tries
again) while the others are archived.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from ..errors import DataError
from ..model import SessionUnit
from ..sources.configured import ConfiguredSource
from .context import Context

log = logging.getLogger(__name__)

# Below this many source bytes (or fewer than two units) a sweep prepares in its own
# process: forking the pool costs ~10 ms, parsing 1 MB ~30 ms (bench.sweep_pool).
POOL_MIN_BYTES = 1024 * 1024
AHEAD = 3  # chunks submitted ahead of the writer, per worker
CHUNK_UNITS = 16  # small units go to a worker in chunks of up to this many
CHUNK_BYTES = 256 * 1024  # ... or this many source bytes
MAX_RESTARTS = 8  # fresh pools after workers died, before the rest is prepared here

# (source, unit, full text on) -> sweep.Prepared: preparing a unit stored whole.
PrepareWhole = Callable[[ConfiguredSource, SessionUnit, bool], Any]

# The units of the sweeps running in this process, by a token the workers get: a forked
# worker finds its sweep's units here, inherited from the parent.
_JOBS: dict[int, tuple[list[tuple[ConfiguredSource, SessionUnit]], bool, PrepareWhole]] = {}


class WorkerDied(DataError):
    """The worker process preparing a unit died before handing it back."""


@dataclass
class _Slot:
    future: Future | None  # None: prepared here, when the writer gets to it
    base: object = None  # the in-process unit's delta base (``deltas.Base``)
    pos: int = 0  # its place in the chunk the future prepares
    alone: bool = False  # the only unit in flight: if its worker died, it was this unit


def _prepare_in_worker(token: int, chunk: list[int]) -> tuple[list[tuple[bool, Any]], list[tuple[str, int, str]]]:
    """Prepare the units ``chunk`` names: (True, sweep.Prepared) or (False, what it
    raised) for each, plain data; and the log records preparing them made."""
    due, full_text, prepare = _JOBS[token]
    out: list[tuple[bool, Any]] = []
    for i in chunk:
        cs, unit = due[i]
        try:
            p = prepare(cs, unit, full_text)
        except Exception as exc:
            out.append((False, exc))
            continue
        p.info.text = ""  # the writer needs only the metadata; the body is in ``p.fts``
        out.append((True, p))
    return out, _KEPT.take()


def workers_for(due_bytes: int, units: int) -> int:
    """How many worker processes a sweep of ``units`` totalling ``due_bytes`` gets (0:
    none, prepare in the sweep's process)."""
    override = os.environ.get("TERMVAULT_SWEEP_WORKERS")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if override is not None:
        wanted = int(override)
    elif units < 2 or due_bytes < POOL_MIN_BYTES or cores < 2:
        return 0
    else:
        wanted = cores
    if wanted <= 0 or "fork" not in multiprocessing.get_all_start_methods():
        return 0
    return min(wanted, units)


class Ahead:
    """The prepared units of ``due``, in order: ``get(i)`` returns unit ``i``'s
    ``Prepared`` (or raises what preparing it raised)."""

    def __init__(
        self,
        ctx: Context,
        due: list[tuple[ConfiguredSource, SessionUnit]],
        whole: PrepareWhole,
        local: Callable[[ConfiguredSource, SessionUnit], object | None],
        prepare_here: Callable[[ConfiguredSource, SessionUnit, object], object],
    ):
        self.ctx, self.due = ctx, due
        self._local, self._prepare_here = local, prepare_here
        self.workers = workers_for(sum(u.size for _, u in due), len(due))
        self._slots: dict[int, _Slot] = {}
        self._next = 0
        self._pool: ProcessPoolExecutor | None = None
        self._restarts = 0
        self._inflight: set[Future] = set()
        self._careful_until = -1  # after a worker died: units up to this one go one by one
        self._token = id(self)
        if self.workers:
            _JOBS[self._token] = (due, ctx.config.full_text, whole)
            self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            self.workers,
            mp_context=multiprocessing.get_context("fork"),
            initializer=_worker_start,
            initargs=(os.getpid(),),
        )

    def __enter__(self) -> Ahead:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        _JOBS.pop(self._token, None)

    def _fill(self, wanted: int) -> None:
        """Submit units until unit ``wanted`` is and ``AHEAD`` chunks per worker are in
        flight. Small units go in chunks (``CHUNK_UNITS``, ``CHUNK_BYTES``): one task per
        unit cost more in messages and thread switches than preparing a few-KB session."""
        chunk: list[int] = []
        size = 0
        horizon = min(len(self.due), wanted + 1 + AHEAD * self.workers * CHUNK_UNITS)
        while self._next < horizon and (
            self._next <= wanted or len(self._inflight) < (1 if self._careful() else AHEAD * self.workers)
        ):
            i = self._next
            self._next += 1
            cs, unit = self.due[i]
            try:
                base = self._local(cs, unit)
            except Exception as exc:  # reported when the writer gets to this unit
                self._slots[i] = _Slot(_failed(exc))
                continue
            if self._pool is None or base is not None or any(f.reader is not None for f in unit.files):
                self._submit(chunk)
                chunk, size = [], 0
                self._slots[i] = _Slot(None, base)
                continue
            chunk.append(i)
            size += unit.size
            if len(chunk) >= CHUNK_UNITS or size >= CHUNK_BYTES or self._careful():
                self._submit(chunk)
                chunk, size = [], 0
        self._submit(chunk)

    def _submit(self, chunk: list[int]) -> None:
        if not chunk:
            return
        assert self._pool is not None
        alone = len(chunk) == 1 and not self._inflight
        future = self._pool.submit(_prepare_in_worker, self._token, chunk)
        self._inflight.add(future)
        future.add_done_callback(self._inflight.discard)
        for pos, i in enumerate(chunk):
            self._slots[i] = _Slot(future, None, pos, alone)

    def waits_last(self, i: int) -> bool:
        """Whether every unit is handed out (the sweep's last stretch) and ``get(i)``
        would wait for the worker preparing unit ``i``."""
        if self._pool is None or self._next < len(self.due):
            return False
        slot = self._slots.get(i)
        return slot is not None and slot.future is not None and not slot.future.done()

    def get(self, i: int):
        try:
            self._fill(i)
        except BrokenProcessPool:  # a worker died before the pool took more work
            self._replace_pool(i)
            return self.get(i)
        slot = self._slots.pop(i)
        cs, unit = self.due[i]
        if slot.future is None:
            return self._prepare_here(cs, unit, slot.base)
        try:
            results, records = slot.future.result()
        except BrokenProcessPool:
            if slot.alone:  # nothing else was in flight: this unit broke the worker
                self._replace_pool(i + 1)
                raise WorkerDied(
                    f"The worker process preparing {cs.source.kind} session {unit.session_id} "
                    f"({unit.files[0].origin}) died; it stays in place and the next sweep tries again."
                ) from None
            self._replace_pool(i)
            return self.get(i)
        for name, level, message in records if slot.pos == 0 else ():
            logging.getLogger(name).log(level, "%s", message)
        ok, value = results[slot.pos]
        if not ok:
            raise value
        return value

    def _careful(self) -> bool:
        return self._next <= self._careful_until

    def _replace_pool(self, resume: int) -> None:
        """After a worker died: a fresh pool, and every unit from ``resume`` on that was
        in flight is prepared again, one at a time, so the one that kills its worker is
        the only one to fail. After ``MAX_RESTARTS`` the rest is prepared here."""
        assert self._pool is not None
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._restarts += 1
        self._pool = self._new_pool() if self._restarts <= MAX_RESTARTS else None
        self._careful_until = max(self._next - 1, resume)
        for j in range(resume, self._next):
            self._slots.pop(j, None)
        self._inflight.clear()
        self._next = resume


def _worker_start(parent: int) -> None:
    # A worker ends with the sweep's process, even killed (SIGKILL): it inherited the
    # home's lock file and would otherwise hold the lock, waiting for work forever.
    _die_with(parent)
    # Ctrl-C reaches the whole process group: the sweep's process handles it (it commits
    # what is written and shuts the pool down); a worker just finishes its unit.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The parent's log handlers may hold locks of threads the fork did not copy (a
    # progress display's console): a worker keeps its records for the parent to emit.
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(_KEPT)
    logging.lastResort = None


def _die_with(parent: int) -> None:
    """Exit when ``parent`` does: at once where the kernel can tell (Linux's
    PR_SET_PDEATHSIG), else within a fraction of a second (a watchdog thread)."""
    try:
        import ctypes

        pr_set_pdeathsig = 1
        if (
            sys.platform.startswith("linux")
            and ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL) == 0
        ):
            if os.getppid() != parent:  # it died before the request was made
                os._exit(1)
            return
    except (OSError, AttributeError):
        pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(1)

    threading.Thread(target=watch, name="termvault-worker-watchdog", daemon=True).start()


class _Kept(logging.Handler):
    """A worker's log records, handed back with the units it prepared."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[tuple[str, int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.name, record.levelno, record.getMessage()))

    def take(self) -> list[tuple[str, int, str]]:
        out, self.records = self.records, []
        return out


_KEPT = _Kept()


def _failed(exc: BaseException) -> Future:
    f: Future = Future()
    f.set_exception(exc)
    return f
