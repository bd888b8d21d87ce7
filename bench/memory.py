"""One big session: restoring a 10 MB session, and the peak memory of archiving and
restoring a 2 GB one.

Sessions are Claude Code transcripts from the corpus generator: a 10 MB one as it
comes, larger ones as its records repeated until the file reaches the size asked for,
with every uuid made unique per repetition (the parser remembers uuids, so repeats must
not collapse; 10 MB apart, repeats are also beyond the reach of zstd's window).

Memory is measured in fresh processes (``python -m bench.memory worker ...``) that import
termvault only, so the generator's memory is not counted: the peak resident set size at
the end, ``VmHWM`` from /proc/self/status, in MB of 10^6 bytes. ``ru_maxrss`` is
recorded too, but on Linux it keeps the high-water mark of the process image before
``exec`` (the parent's size when it forked), so it is not the worker's own peak.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
MB = 1e6
OLD = 1_700_000_000  # the mtime given to generated sessions: long inactive
BASE_BYTES = 10_000_000


def write_claude_session(root: Path, size: int, seed: int = 1, base_bytes: int = BASE_BYTES) -> tuple[str, Path]:
    """Write a Claude Code transcript of at least ``size`` bytes under ``root`` (a
    ``~/.claude/projects``-like folder): one generated transcript of up to ``base_bytes``,
    repeated; returns its session id and path."""
    from . import textgen as tg
    from .agents import ClaudeSession
    from .corpus import DEFAULT_NOW
    from .world import World

    rng = tg.FastRandom(seed)
    w = World(rng, 20_000_000, DEFAULT_NOW)
    project = w.projects[0]
    sid = tg.uuid4(rng)
    base = ClaudeSession(w, project, sid, w.start_time(), min(size, base_bytes)).build("x.jsonl")[0].data
    path = Path(root) / project.claude_dir / f"{sid}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with open(path, "wb") as fh:
        i = 0
        while written < size:
            block = (
                base if i == 0 else base.replace(b'uuid":"', b'uuid":"r%d-' % i).replace(b'Uuid":"', b'Uuid":"r%d-' % i)
            )
            fh.write(block)
            written += len(block)
            i += 1
    os.utime(path, (OLD, OLD))
    return sid, path


def _vault(home: Path, root: Path | None = None):
    from termvault.vault import Vault

    sources = {"claude-code": {"roots": [str(root)]}} if root else {}
    return Vault(home, settle_seconds=0, archive_days=0, sources=sources)


def restore_bench(work: Path, size: int = 10_000_000, reps: int = 5) -> dict[str, Any]:
    """Archive a ``size`` session, then restore it (verified: every file's sha256 is
    checked as it is written) into a new folder ``reps`` times after one warm-up; also
    ``termvault restore --to`` as a fresh process."""
    from .scale import python_env, termvault_command

    root, home = work / "restore-src", work / "home-restore"
    for p in (root, home):
        shutil.rmtree(p, ignore_errors=True)
    sid, path = write_claude_session(root, size)
    vault = _vault(home, root)
    try:
        archived = vault.sweep(older_than=0, kinds=["claude-code"]).archived
        if len(archived) != 1:
            raise RuntimeError(f"expected one archived session, got {len(archived)}")
        runs = []
        for i in range(reps + 1):
            to = work / f"restore-to-{i}"
            t0 = time.perf_counter()
            result = vault.restore(sid, to=to)
            elapsed = (time.perf_counter() - t0) * 1000
            restored = Path(result.restored[0])
            if restored.stat().st_size != path.stat().st_size or restored.read_bytes() != path.read_bytes():
                raise RuntimeError("the restored session differs from its source")
            shutil.rmtree(to)
            if i:
                runs.append(elapsed)
        cli = []
        env = python_env(work / "pycache")
        for i in range(reps + 1):
            to = work / f"restore-cli-{i}"
            t0 = time.perf_counter()
            subprocess.run(
                [*termvault_command(), "--home", str(home), "restore", sid, "--to", str(to)],
                check=True,
                stdout=subprocess.DEVNULL,
                env=env,
            )
            elapsed = (time.perf_counter() - t0) * 1000
            shutil.rmtree(to)
            if i:
                cli.append(elapsed)
        out = {
            "input_bytes": path.stat().st_size,
            "output_bytes": archived[0].size_bytes,
            "median_ms": round(statistics.median(runs), 1),
            "min_ms": round(min(runs), 1),
            "max_ms": round(max(runs), 1),
            "cli_median_ms": round(statistics.median(cli), 1),
            "mb_per_s": round(path.stat().st_size / MB / (statistics.median(runs) / 1000), 1),
        }
    finally:
        vault.close()
        for p in (root, home):
            shutil.rmtree(p, ignore_errors=True)
    return out


def _worker_run(env: dict[str, str], *args: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.memory", "worker", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"memory worker {args[0]} failed: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def memory_bench(work: Path, size: int = 2_000_000_000, say=print) -> dict[str, Any]:
    """Peak RSS of a process archiving a ``size`` session (sweep: parse, hash, compress,
    verify, index, full text) and of one restoring it, beside one that only opens the
    vault. Falls back to 1 GB when the disk cannot hold the session, its archive and its
    restored copy."""
    from .scale import python_env

    note = ""
    free = shutil.disk_usage(work).free
    if free < 2.5 * size + 2e9 and size > 1_000_000_000:
        note = f"only {free / 1e9:.1f} GB free: 1 GB session instead of {size / 1e9:g} GB"
        size = 1_000_000_000
    root, home, to = work / "memory-src", work / "home-memory", work / "memory-restored"
    for p in (root, home, to):
        shutil.rmtree(p, ignore_errors=True)
    try:
        with_time = time.perf_counter()
        sid, path = write_claude_session(root, size)
        written = time.perf_counter() - with_time
        say(f"bench:   wrote a {path.stat().st_size / 1e9:.2f} GB transcript in {written:.1f} s")
        env = python_env(work / "pycache")
        base = _worker_run(env, "baseline", str(home))
        archive = _worker_run(env, "archive", str(home), str(root))
        say(f"bench:   archived in {archive['seconds']:.1f} s, peak {archive['vmhwm_mb']:.0f} MB")
        restore = _worker_run(env, "restore", str(home), sid, str(to))
        say(f"bench:   restored in {restore['seconds']:.1f} s, peak {restore['vmhwm_mb']:.0f} MB")
        restored = to / path.relative_to(root)
        if not restored.is_file() or restored.stat().st_size != path.stat().st_size:
            raise RuntimeError("the restored session is missing or has the wrong size")
        out = {
            "input_bytes": path.stat().st_size,
            "output_bytes": archive["archive_bytes"],
            "peak_mb": max(archive["vmhwm_mb"], restore["vmhwm_mb"]),
            "baseline_vmhwm_mb": base["vmhwm_mb"],
            "archive_vmhwm_mb": archive["vmhwm_mb"],
            "restore_vmhwm_mb": restore["vmhwm_mb"],
            "archive_seconds": archive["seconds"],
            "archive_cpu_seconds": archive["cpu_seconds"],
            "restore_seconds": restore["seconds"],
            "restore_cpu_seconds": restore["cpu_seconds"],
            "ru_maxrss_mb": max(archive["maxrss_mb"], restore["maxrss_mb"]),
        }
        if note:
            out["note"] = note
        return out
    finally:
        for p in (root, home, to):
            shutil.rmtree(p, ignore_errors=True)


# -- the worker (a fresh process) -------------------------------------------------------


def _peak() -> dict[str, float]:
    maxrss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    hwm_kb = 0
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                hwm_kb = int(line.split()[1])
    except OSError:
        pass
    return {"maxrss_mb": round(maxrss_kb * 1024 / MB, 1), "vmhwm_mb": round(hwm_kb * 1024 / MB, 1)}


def worker(argv: list[str]) -> int:
    """``baseline HOME`` | ``archive HOME ROOT`` | ``restore HOME ID TO``: do it, print
    one JSON line with the time taken and the peak memory."""
    mode = argv[0]
    t0, c0 = time.perf_counter(), time.process_time()
    out: dict[str, Any] = {"mode": mode}
    if mode == "baseline":
        vault = _vault(Path(argv[1]))
        vault.stats()
        vault.close()
    elif mode == "archive":
        vault = _vault(Path(argv[1]), Path(argv[2]))
        report = vault.sweep(older_than=0, kinds=["claude-code"])
        if len(report.archived) != 1:
            print(f"archived {len(report.archived)}, failed {report.failed}", file=sys.stderr)
            return 1
        out["archive_bytes"] = report.archived[0].size_bytes
        vault.close()
    elif mode == "restore":
        vault = _vault(Path(argv[1]))
        vault.restore(argv[2], to=Path(argv[3]))
        vault.close()
    else:
        print(f"unknown worker mode {mode}", file=sys.stderr)
        return 2
    out["seconds"] = round(time.perf_counter() - t0, 3)
    out["cpu_seconds"] = round(time.process_time() - c0, 3)
    out.update(_peak())
    print(json.dumps(out))
    return 0


def sweep_sizes(sizes_mb: list[int], say=print) -> dict[int, dict[str, float]]:
    """Peak RSS of a fresh process sweeping one generated transcript of each size (MB),
    beside the one that only opens the vault: ``python -m bench.memory sizes 50 550``.
    Issue 18's target: the peaks for 550 MB and 50 MB within 60 MB of each other."""
    import tempfile

    from .scale import python_env

    out: dict[int, dict[str, float]] = {}
    work = Path(tempfile.mkdtemp(prefix="tv-memory-"))
    try:
        env = python_env(work / "pycache")
        for mb in sizes_mb:
            root, home = work / f"src-{mb}", work / f"home-{mb}"
            _, path = write_claude_session(root, mb * 1_000_000)
            base = _worker_run(env, "baseline", str(home))
            run = _worker_run(env, "archive", str(home), str(root))
            out[mb] = {
                "input_mb": round(path.stat().st_size / MB, 1),
                "baseline_vmhwm_mb": base["vmhwm_mb"],
                "archive_vmhwm_mb": run["vmhwm_mb"],
                "seconds": run["seconds"],
            }
            say(f"{mb} MB: {out[mb]}")
            shutil.rmtree(root)
            shutil.rmtree(home)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        sys.exit(worker(sys.argv[2:]))
    if len(sys.argv) > 2 and sys.argv[1] == "sizes":
        sweep_sizes([int(a) for a in sys.argv[2:]])
        sys.exit(0)
    print("usage: python -m bench.memory worker baseline|archive|restore ... | sizes MB [MB ...]", file=sys.stderr)
    sys.exit(2)
