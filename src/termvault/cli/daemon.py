"""``termvault daemon``: sweep in the foreground at an interval until SIGINT/SIGTERM."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator

import click

from ..ansi import printable
from ..errors import LockedError, TermvaultError
from .context import AppState, pass_state
from .format import duration, home_display, human_size, local_time, plural, ratio
from .params import Duration, check_kinds


class _Stopped(Exception):
    """Raised from the progress callback to end a sweep between two sessions."""


@contextlib.contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Set ``stop`` on SIGINT and SIGTERM while inside; the previous handlers come back
    afterwards. (Signals can only be caught in the main thread; elsewhere, only the
    event stops the loop.)"""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}

    def handler(signum, frame) -> None:
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def log_line(message: str) -> None:
    click.echo(printable(f"{local_time(time.time(), seconds=True)} {message}"))


@click.command(
    epilog="""\b
Example:
  termvault daemon                    sweep now, then every interval_hours (24h)
  termvault daemon --interval 6h
  termvault --home ~/.multi-term daemon --interval 30min --older-than 7d

Runs in the foreground (for systemd, launchd or a terminal) and logs one line per
run; Ctrl-C or SIGTERM stops it at once, between two sessions of a sweep.

Durations are a number and a unit: 45s, 90min, 12h, 30d, 2w, 3mo, 1y.
""",
)
@click.option(
    "--interval",
    type=Duration("h"),
    metavar="DURATION",
    help="Time between sweeps: a number and a unit (90min, 6h, 1d). [default: interval_hours, 24h]",
)
@click.option(
    "--older-than", type=Duration("d"), metavar="AGE", help="As for `sweep` [default: each source's setting]."
)
@click.option("--source", "sources", multiple=True, metavar="KIND", help="Only this source kind (repeatable).")
@pass_state
def daemon(state: AppState, interval: float | None, older_than: float | None, sources: tuple[str, ...]):
    """Sweep now and at every interval, until stopped.

    Runs in the foreground and logs one line per sweep.
    """
    check_kinds(sources)
    vault = state.vault(create=True)
    hours = interval if interval is not None else vault.config.interval_hours
    if hours <= 0:
        raise click.BadParameter("the interval must be longer than zero.", param_hint="'--interval'")
    seconds = hours * 3600.0
    stop = threading.Event()
    # One scheduled sweeper per source kind: the app's background archiver holds the
    # native kind's lock, and the daemon still sweeps every other kind meanwhile.
    from ..sweepers import SweeperLocks  # lazy: filelock is loaded only when the daemon runs

    locks = SweeperLocks(vault.home)
    said: set[str] = set()  # each kind left to another sweeper is logged once, not at every interval
    runs = 0
    with stop_on_signals(stop):
        created = " (created it)" if state.home_created else ""
        log_line(
            f"termvault daemon started for {home_display(vault.home)}{created}: sweeping every {duration(seconds)}."
        )
        try:
            while not stop.is_set():
                kinds = [cs.source.kind for cs in vault.sources(list(sources) or None)]
                held, busy = locks.acquire(kinds, "daemon sweeping")
                for kind, holder in busy.items():
                    if kind not in said:
                        said.add(kind)
                        log_line(
                            f"another sweeper runs for this home and sweeps {kind} sessions ({holder}); "
                            "the daemon leaves them to it (checking at every interval, silently)."
                        )
                for kind in set(held) & said:
                    said.discard(kind)
                    log_line(f"the other sweeper stopped; this daemon sweeps {kind} sessions from now on.")
                if held:
                    runs += 1
                    _run_once(state, vault, runs, older_than, held, stop)
                if stop.is_set():
                    break
                if held:
                    log_line(f"next sweep at {local_time(time.time() + seconds, seconds=True)}.")
                stop.wait(min(seconds, threading.TIMEOUT_MAX))  # longer overflows the clock
        finally:
            locks.release()
    log_line(f"termvault daemon stopped after {plural(runs, 'sweep')}.")


def _run_once(state: AppState, vault, run: int, older_than, kinds, stop: threading.Event) -> None:
    def check(progress) -> None:
        # Stop between two sessions; after the last one there is nothing left to save.
        if stop.is_set() and progress.done < progress.total:
            raise _Stopped

    try:
        report = vault.sweep(older_than=older_than, kinds=kinds, progress=check)
    except _Stopped:
        log_line(f"sweep {run} interrupted by a stop request; what was archived is kept.")
        return
    except LockedError as exc:
        log_line(f"sweep {run} skipped: {exc}")
        return
    except (TermvaultError, OSError) as exc:
        # A daemon keeps going: the next run may succeed (disk freed, home unlocked).
        log_line(f"sweep {run} failed: {exc}")
        return
    log_line(
        f"sweep {run}: archived {len(report.archived)}, failed {len(report.failed)}, skipped {report.skipped}; "
        f"{human_size(report.raw_bytes)} -> {human_size(report.compressed_bytes)} "
        f"(ratio {ratio(report.raw_bytes, report.compressed_bytes)}) in {duration(report.seconds)}."
    )
    for f in report.failed:
        log_line(f"  failed {f.session_id} ({f.source}, {f.path}): {f.reason}")
    pruned = report.prune.pruned if report.prune else []
    if report.prune and pruned:  # deleting archived versions is always reported (with a remote: evicting)
        what = "evicted the local copies of" if vault.config.remote else "pruned"
        log_line(
            f"sweep {run}: {what} {plural(len(pruned), 'old version')} ({human_size(report.prune.bytes_freed)}) "
            f"to stay under {human_size(report.prune.limit or 0)}:"
        )
        for e in pruned:
            log_line(f"  {what.split()[0]} {e.session_id} version {e.version} ({human_size(e.size_bytes)})")
