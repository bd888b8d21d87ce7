"""Scale (issue 8) and start-up: a vault of 100,000 archived sessions, and how long the
everyday entry points take on it.

The vault is made of a few real sessions swept from the corpus's native history (real
archives) and ``n`` synthetic index rows inserted with ``ArchiveIndex.insert``: realistic
metadata (source mix like the corpus, names, folders of ~60 projects, three years of
activity, log-normal sizes, 8% of sessions with a second version), no archive files.

Measured, each ``reps`` times as a fresh process (bytecode cached, as installed):
``termvault stats`` and ``termvault search --name X`` (the console script),
``SessionStorage(home, enable_auto_archive=False)`` timed inside a process after its
imports, and the older app's JSON index (load, then name search or stats) for the same
number of sessions. Also ``python -c "import termvault"`` against ``python -c "pass"``.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .anchors import Timer, _index_entries
from .corpus import ROOTS

DAY = 86400.0
SOURCES = (("claude-code", 0.40), ("codex", 0.30), ("native", 0.20), ("asciinema", 0.07), ("aider", 0.03))
WORDS = (
    "api",
    "deploy",
    "refactor",
    "tests",
    "docs",
    "build",
    "review",
    "debug",
    "release",
    "infra",
    "auth",
    "billing",
    "search",
    "cache",
    "migrate",
    "fix",
    "login",
    "upload",
    "parser",
    "metrics",
)
MODELS = ("claude-sonnet-4-5-20250929", "claude-opus-4-5-20251101", "gpt-5-codex", "gpt-5.1-codex")
NAME_QUERY = "deploy"


def python_env(cache: Path | None, bytecode: bool = True) -> dict[str, str]:
    """The environment for timed Python processes. With ``bytecode``, compiled modules are
    cached (under ``cache``, not beside the sources), as in a normal install: a
    PYTHONDONTWRITEBYTECODE inherited from the caller would otherwise make every process
    compile termvault from source. Without, every process compiles it."""
    env = dict(os.environ)
    env.pop("PYTHONPYCACHEPREFIX", None)
    if bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        if cache is not None:
            env["PYTHONPYCACHEPREFIX"] = str(cache)
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def termvault_command() -> list[str]:
    """The console script when installed, else ``python -m termvault``."""
    exe = shutil.which("termvault")
    return [exe] if exe else [sys.executable, "-m", "termvault"]


def synthetic_entries(n: int, seed: int = 1, now: float | None = None):
    """``n`` sessions' index entries (plus second versions for about 8% of them)."""
    from termvault.archive import archive_relpath
    from termvault.index import ArchiveEntry

    r = random.Random(seed)
    now = time.time() if now is None else now
    projects = [f"{r.choice(WORDS)}-{r.choice(WORDS)}-{i}" for i in range(60)]
    kinds = [k for k, _ in SOURCES]
    weights = [w for _, w in SOURCES]
    for i in range(n):
        kind = r.choices(kinds, weights)[0]
        project = r.choice(projects)
        sid = (
            f"{r.getrandbits(32):08x}-{r.getrandbits(16):04x}-4{r.getrandbits(12):03x}-"
            f"{r.getrandbits(16):04x}-{r.getrandbits(48):012x}"
        )
        last = now - 3 * 365 * DAY * r.random() ** 0.7
        created = last - r.uniform(60, 6 * 3600)
        size = int(min(50e6, r.lognormvariate(0, 1.3) * 60_000)) + 500
        prompt = f"{r.choice(WORDS)} the {r.choice(WORDS)} in {project} and {r.choice(WORDS)} {i}"
        name = prompt[:60] if kind in ("claude-code", "codex") else f"{project} {r.choice(WORDS)}"
        mode = "move" if kind == "native" else "copy"
        meta = {
            "name": name,
            "working_directory": f"/home/user/code/{project}",
            "last_command": f"git commit -m '{r.choice(WORDS)}'",
            "first_prompt": prompt,
            "created_at": created,
            "last_activity_at": last,
            "git_branch": r.choice(("main", f"feat/{r.choice(WORDS)}")),
            "model": r.choice(MODELS) if kind in ("claude-code", "codex") else None,
            "message_count": r.randint(1, 400),
            "tool_call_count": r.randint(0, 900),
            "parse_warnings": 0,
        }
        versions = 2 if r.random() < 0.08 else 1
        for version in range(1, versions + 1):
            grown = size * version
            yield ArchiveEntry(
                session_id=sid,
                name=name,
                archived_at=last + (30 * DAY if mode == "move" else 600) + version,
                original_timestamp=last,
                archive_path=archive_relpath(last, sid, version),
                size_bytes=int(grown / r.uniform(4, 7)),
                original_size_bytes=grown,
                working_directory=meta["working_directory"],
                last_command=meta["last_command"],
                version=version,
                source=kind,
                mode=mode,
                created_at=created,
                last_activity_at=last,
                archive_sha256=f"{r.getrandbits(256):064x}",
                content_sha256=f"{r.getrandbits(256):064x}",
                file_count=1 if kind != "claude-code" else r.choice((1, 1, 2, 4)),
                fingerprint=f"{r.getrandbits(256):064x}",
                source_removed=mode == "move",
                meta=meta,
            )


def build_home(home: Path, corpus: Path | None, sessions: int, real: int = 20, seed: int = 1) -> dict[str, Any]:
    """A vault at ``home`` with ``real`` native sessions of the corpus swept for real and
    ``sessions`` synthetic ones inserted into the index."""
    from termvault.vault import Vault

    if home.exists():
        shutil.rmtree(home)
    history = home / "history"
    history.mkdir(parents=True, mode=0o700)
    home.chmod(0o700)
    native = Path(corpus) / ROOTS["native"] if corpus else None
    if native and native.is_dir():
        for path in sorted(native.iterdir())[:real]:
            shutil.copy2(path, history / path.name)
    vault = Vault(home, settle_seconds=0, archive_days=0)
    try:
        swept = len(vault.sweep(older_than=0, kinds=["native"]).archived)
        rows = 0
        with Timer() as t:
            batch = []
            for entry in synthetic_entries(sessions, seed):
                batch.append(entry)
                if len(batch) >= 5000:
                    rows += _insert(vault.index, batch)
            rows += _insert(vault.index, batch)
        with vault.index.transaction():
            db = vault.index.db  # tests set up rows directly
            db.execute("ANALYZE")
        vault.index.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        vault.close()
    return {
        "sessions": sessions + swept,
        "rows": rows + swept,
        "real_archives": swept,
        "insert_seconds": round(t.seconds, 3),
        "index_bytes": (home / "archive_index.sqlite3").stat().st_size,
    }


def _insert(index, batch: list) -> int:
    with index.transaction():
        for entry in batch:
            index.insert(entry)
    n = len(batch)
    batch.clear()
    return n


def time_process(cmd: list[str], reps: int = 5, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Wall time of ``cmd`` as a fresh process, ``reps`` times (after one untimed run):
    median, min and max in ms, CPU (user + system) ms per run, and the last run's exit
    code and how many bytes it printed."""
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False)
    walls, cpus = [], []
    proc = None
    for _ in range(reps):
        with Timer() as t:
            proc = subprocess.run(cmd, capture_output=True, env=env, check=False)
        walls.append(t.seconds * 1000)
        cpus.append(t.cpu_seconds * 1000)
    assert proc is not None
    return {
        "median_ms": round(statistics.median(walls), 1),
        "min_ms": round(min(walls), 1),
        "max_ms": round(max(walls), 1),
        "cpu_ms": round(statistics.median(cpus), 1),
        "exit": proc.returncode,
        "stdout_bytes": len(proc.stdout),
    }


_OPEN_SNIPPET = """
import json, sys, time
t0 = time.perf_counter()
from termvault import SessionArchiver, SessionStorage
t1 = time.perf_counter()
storage = SessionStorage(sys.argv[1], enable_auto_archive=False)
t2 = time.perf_counter()
stats = SessionArchiver(sys.argv[1]).get_archive_stats()  # get_archiver() is None with archiving off
t3 = time.perf_counter()
print(json.dumps({"import_ms": (t1 - t0) * 1000, "open_ms": (t2 - t1) * 1000,
                  "archiver_stats_ms": (t3 - t2) * 1000, "total_sessions": stats["total_sessions"]}))
"""

_JSON_SNIPPET = """
import json, sys
from datetime import datetime
with open(sys.argv[1], encoding="utf-8") as fh:
    index = json.load(fh)
if sys.argv[2] == "stats":
    total = sum(e["size_bytes"] for e in index.values())
    original = sum(e["original_size_bytes"] for e in index.values())
    dates = [datetime.fromisoformat(e["archived_at"]) for e in index.values()]
    print(len(index), total, original, min(dates), max(dates))
else:
    q = sys.argv[2].lower()
    found = [dict(e, session_id=s) for s, e in index.items() if q in e["name"].lower()]
    found.sort(key=lambda e: e["archived_at"], reverse=True)
    for e in found[:50]:
        print(e["session_id"], e["name"])
"""


def storage_open(home: Path, reps: int = 5, env: dict[str, str] | None = None) -> dict[str, Any]:
    """``SessionStorage(home, enable_auto_archive=False)`` timed inside fresh processes
    (after its import), then ``SessionArchiver(home).get_archive_stats()``: medians in ms."""
    runs = []
    for _ in range(reps + 1):
        out = subprocess.run(
            [sys.executable, "-c", _OPEN_SNIPPET, str(home)], check=True, stdout=subprocess.PIPE, text=True, env=env
        ).stdout
        runs.append(json.loads(out.strip().splitlines()[-1]))
    runs = runs[1:]
    return {
        key: round(statistics.median(r[key] for r in runs), 2) for key in ("import_ms", "open_ms", "archiver_stats_ms")
    } | {"total_sessions": runs[-1]["total_sessions"]}


def in_process(home: Path, reps: int = 5) -> dict[str, Any]:
    """The same work without process start and imports: ``Vault.stats()`` and
    ``Vault.search(name=...)`` on an open vault (medians in ms, after a warm-up)."""
    from termvault.vault import Vault

    out: dict[str, Any] = {}
    with Timer() as opened:
        vault = Vault(home)
    out["vault_open_ms"] = round(opened.seconds * 1000, 2)
    try:
        for key, fn in (("stats_ms", vault.stats), ("name_search_ms", lambda: vault.search(name=NAME_QUERY))):
            fn()
            runs = []
            for _ in range(reps):
                t0 = time.perf_counter()
                fn()
                runs.append((time.perf_counter() - t0) * 1000)
            out[key] = round(statistics.median(runs), 2)
    finally:
        vault.close()
    return out


def import_time(cache: Path, reps: int = 10) -> dict[str, Any]:
    """Fresh-process wall time of ``python -c "pass"``, ``import termvault``, ``import
    termvault.vault`` (what the library's users load) and ``termvault --version``, with
    bytecode cached; the last three also compiled from source each time (``_no_pyc``)."""
    py = sys.executable
    cached, uncached = python_env(cache), python_env(None, bytecode=False)
    out = {}
    for key, cmd in (
        ("python_pass", [py, "-c", "pass"]),
        ("import_termvault", [py, "-c", "import termvault"]),
        ("import_termvault_vault", [py, "-c", "import termvault.vault"]),
        ("cli_version", [*termvault_command(), "--version"]),
    ):
        out[key] = time_process(cmd, reps, cached)
        if key != "python_pass":
            out[key + "_no_pyc"] = time_process(cmd, reps, uncached)
    # Minimums: on a busy machine the fastest run is the best estimate of the cost itself.
    out["import_termvault_extra_ms"] = round(out["import_termvault"]["min_ms"] - out["python_pass"]["min_ms"], 1)
    out["import_termvault_vault_extra_ms"] = round(
        out["import_termvault_vault"]["min_ms"] - out["python_pass"]["min_ms"], 1
    )
    out["cli_version_extra_ms"] = round(out["cli_version"]["min_ms"] - out["python_pass"]["min_ms"], 1)
    return out


def run(
    corpus: Path | None, work: Path, results: dict[str, Any], sessions: int = 100_000, reps: int = 5, say=print
) -> None:
    """Build the large-index vault, time the entry points on it and the JSON index."""
    from . import results as res

    home = work / f"home-{sessions}"
    say(f"bench: a vault of {sessions:,} sessions ...")
    built = build_home(home, corpus, sessions)
    res.add(results, "termvault.scale.build", built)
    say(
        f"bench:   {built['rows']:,} rows in {built['insert_seconds']:.1f} s; index {built['index_bytes'] / 1e6:.1f} MB"
    )
    tv = termvault_command()
    env = python_env(work / "pycache")
    res.add(results, "termvault.scale.cli_stats", time_process([*tv, "--home", str(home), "stats"], reps, env))
    res.add(
        results,
        "termvault.scale.cli_search_name",
        time_process([*tv, "--home", str(home), "search", "--name", NAME_QUERY], reps, env),
    )
    res.add(results, "termvault.scale.session_storage_open", storage_open(home, reps, env))
    res.add(results, "termvault.scale.in_process", in_process(home, reps))
    say("bench: the JSON index at the same size (fresh processes) ...")
    path = work / "archive_index.json"
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(_index_entries(sessions, 1), fh, indent=2)
    res.add(
        results,
        "anchor.json_index.process_stats",
        time_process([sys.executable, "-c", _JSON_SNIPPET, str(path), "stats"], reps, env)
        | {"index_bytes": path.stat().st_size, "entries": sessions},
    )
    res.add(
        results,
        "anchor.json_index.process_search_name",
        time_process([sys.executable, "-c", _JSON_SNIPPET, str(path), NAME_QUERY], reps, env),
    )
    path.unlink()
    shutil.rmtree(home, ignore_errors=True)
