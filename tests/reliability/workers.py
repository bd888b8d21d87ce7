"""Child processes for the reliability tests: ``python workers.py <op> <home> [options]``.

Each worker prints ``ready <pid>`` on stdout before it touches the home (so a parent can
kill it at any instant of the operation, start-up reconciliation included), then
``done <json>`` when the operation finished. Only ``termvault`` is imported, so a worker
runs the installed code exactly as a user's process would.

Operations: sweep, background, restore, prune, reindex, hold-lock, append, resave,
fsize-sweep.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

KINDS = "native,claude-code"


def ready() -> None:
    print(f"ready {os.getpid()}", flush=True)


def done(started: float, **result) -> None:
    result["seconds"] = time.monotonic() - started
    print("done " + json.dumps(result, default=str), flush=True)


def sweep_result(report) -> dict:
    return {
        "archived": [e.session_id for e in report.archived],
        "failed": [f.to_dict() for f in report.failed],
        "unchanged": report.unchanged,
    }


def die_at(step: str | None, nth: int):
    """A fault hook that SIGKILLs this process at the ``nth`` call of ``step``, for a crash
    at an exact point of the write protocol. ``unlink-held`` is the instant a source set
    aside for deletion is about to be unlinked (no hook there: os.unlink is wrapped)."""
    count = [0]

    def die() -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    if step == "unlink-held":
        from termvault.fsutil import HELD_PREFIX

        real_unlink = os.unlink

        def unlink(path, *a, **kw):
            if Path(path).name.startswith(HELD_PREFIX):
                count[0] += 1
                if count[0] == nth:
                    die()
            return real_unlink(path, *a, **kw)

        os.unlink = unlink
        return None

    def hook(name: str) -> None:
        if name == step:
            count[0] += 1
            if count[0] == nth:
                die()

    return hook if step else None


def op_sweep(args) -> None:
    from termvault.errors import LockedError
    from termvault.vault import Vault

    ready()
    if args.go:
        # Both sweepers of a race test start here, as close together as polling allows.
        while not Path(args.go).exists():
            time.sleep(0.001)
    started = time.monotonic()
    result: dict = {"archived": [], "failed": [], "unchanged": 0}
    try:
        # Several sweeps (one per threshold) through one Vault, as a long-lived process does.
        with Vault(args.home, lock_timeout=args.lock_timeout, fault=die_at(args.die_at, args.nth)) as v:
            for days in [float(d) for d in args.older_than.split(",")]:
                part = sweep_result(v.sweep(older_than=days, kinds=args.kinds.split(",")))
                result["archived"] += part["archived"]
                result["failed"] += part["failed"]
                result["unchanged"] += part["unchanged"]
    except LockedError as exc:
        done(started, locked=str(exc))
        return
    done(started, **result)


def op_fsize_sweep(args) -> None:
    import resource

    # Without this the kernel kills the process at the limit; ignored, write() fails with EFBIG.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (args.limit, args.limit))
    op_sweep(args)


def op_background(args) -> None:
    from termvault.archiver import SessionArchiver

    ready()
    started = time.monotonic()
    archiver = SessionArchiver(args.home, archive_days=7)
    archiver.start_background_archiving(interval_hours=args.interval_hours)
    time.sleep(args.seconds)
    archiver.stop_background_archiving(timeout=60)
    archiver.close()
    done(started)


def op_restore(args) -> None:
    from termvault.vault import Vault

    ready()
    started = time.monotonic()
    restored = []
    with Vault(args.home) as v:
        ids = sorted({r[0] for r in v.index.query("SELECT session_id FROM sessions WHERE status = 'archived'")})
        for sid in ids:
            result = v.restore(sid, force=args.force)
            restored.extend(result.restored)
    done(started, restored=restored)


def op_prune(args) -> None:
    from termvault.vault import Vault

    ready()
    started = time.monotonic()
    with Vault(args.home, fault=die_at(args.die_at, args.nth)) as v:
        report = v.prune(max_bytes=args.max_bytes)
    done(started, pruned=[e.session_id for e in report.pruned])


def op_reindex(args) -> None:
    from termvault.vault import Vault

    ready()
    started = time.monotonic()
    with Vault(args.home) as v:
        count = v.reindex()
    done(started, count=count)


def op_hold_lock(args) -> None:
    from termvault.vault import Vault

    with Vault(args.home) as v, v.writing("holding the lock for a test"):
        ready()
        sys.stdin.read()  # until the parent closes our stdin
    done(time.monotonic())


def op_append(args) -> None:
    """Append ``--lines`` numbered JSONL records to the file ``home`` (here: a file path),
    opening, writing and closing it for each record as agent tools do."""
    ready()
    started = time.monotonic()
    path = Path(args.home)
    for n in range(args.start, args.start + args.lines):
        rec = {"type": "user", "sessionId": path.stem, "n": n, "message": {"role": "user", "content": f"line {n}"}}
        with open(path, "ab") as fh:
            fh.write(json.dumps(rec).encode() + b"\n")
        if args.interval:
            time.sleep(args.interval)
    done(started, lines=args.lines)


def op_resave(args) -> None:
    """Save native session ``--session`` again and again as the terminal app does (atomic
    write of a new history file, older one removed), its output growing one line a save.
    Each save is dated in the past so that every state is due for archiving."""
    from termvault.state import SessionState
    from termvault.storage import SessionStorage

    ready()
    started = time.monotonic()
    storage = SessionStorage(args.home, enable_auto_archive=False)
    base = time.time() - 40 * 86400
    lines = []
    for n in range(args.times):
        lines.append(f"output line {n}")
        modified = base + n
        state = SessionState(
            session_id=args.session,
            name="resaved",
            created_at=base,
            modified_at=modified,
            command_count=n,
            output_snapshot="\n".join(lines),
        )
        path = storage.save_session(state)
        try:
            os.utime(path, (modified, modified))
        except FileNotFoundError:
            pass  # a move-mode sweep archived and removed it already (the app never dates files)
        if args.interval:
            time.sleep(args.interval)
    done(started, saves=args.times)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument(
        "op",
        choices=["sweep", "background", "restore", "prune", "reindex", "hold-lock", "append", "resave", "fsize-sweep"],
    )
    p.add_argument("home")
    p.add_argument("--older-than", default="7", help="days; a comma-separated list sweeps once per value")
    p.add_argument("--die-at", help="SIGKILL this worker at this write step (or unlink-held)")
    p.add_argument("--nth", type=int, default=1, help="... at its nth occurrence")
    p.add_argument("--kinds", default=KINDS)
    p.add_argument("--go", help="wait for this file to exist before sweeping")
    p.add_argument("--lock-timeout", type=float, default=30.0)
    p.add_argument("--interval-hours", type=float, default=0.0001)
    p.add_argument("--seconds", type=float, default=3600.0)
    p.add_argument("--force", action="store_true")
    p.add_argument("--max-bytes", type=int, default=0)
    p.add_argument("--lines", type=int, default=100)
    p.add_argument("--start", type=int, default=0)
    p.add_argument("--interval", type=float, default=0.0)
    p.add_argument("--session", default="resaved")
    p.add_argument("--times", type=int, default=50)
    p.add_argument("--limit", type=int, default=1 << 20)
    args = p.parse_args(argv)
    globals()["op_" + args.op.replace("-", "_")](args)


if __name__ == "__main__":
    main()
