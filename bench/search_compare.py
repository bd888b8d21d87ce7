"""``termvault search`` against claude-session-search (``cc-search``, from the package index)
on the same Claude Code home built from the real corpus (issue 15).

The home: the corpus's Claude Code transcripts copied until it holds ``--size`` MB (250
by default), each copy a new project folder with fresh session ids (file names,
``sessionId`` fields, ``subagents/`` folders kept under the new id), timestamps moved by
an hour per copy, and each prompt given a word naming its copy (lightly varied text).
termvault sweeps it; cc-search indexes it (``HOME`` pointed at it: it reads
``~/.claude/projects`` and keeps ``~/.cc-search/index.db``).

Per round, the queries run interleaved: for each query termvault in process
(``Vault.search(q, limit=N)`` with snippets, N = 1, 20, 50), cc-search's own search
function (``server.api_search``, limit 50, the snippets its page shows) in a long-lived
process of its own venv, then, every ``--process-every`` rounds, ``termvault search Q
--limit 50`` as a process. Reported: p50/p95 per tool and limit (wall time, and CPU time
of each search: less swayed by a loaded machine), their ratio, and the index size
against the archives. ``--work DIR`` keeps the home and vault, and a later run reuses
them; ``--frame-cache-mb 0`` measures termvault without its frame cache::

    python -m bench.search_compare --size 250 --rounds 5 --json bench/results/search-compare.json

cc-search is installed into ``--css-venv`` (created when missing) with ``pip install
claude-session-search``; when that fails the run says exactly what failed and measures
termvault alone.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from .real_corpus import default_corpus
from .results import emit

MB = 1e6
LIMITS = (1, 20, 50)
# A synthetic fixture with a user record whose ``message`` is a string: cc-search's
# indexer stops on it (AttributeError) and indexes nothing, so the home leaves it out.
LEFT_OUT = ("daaain__claude-code-log__test__test_data__edge_cases.jsonl",)
# Words, phrases, paths, errors and CJK words of the corpus's Claude Code sessions, from
# rare (a few sessions per copy) to common (in every copy of most sessions).
QUERIES = [
    '"create TODO app"',
    '"File has been modified since read"',
    '"app router"',
    '"Path does not exist"',
    '"command not found"',
    "Next.js",
    "lambda_type",
    "weight_norm",
    "preventDefault",
    "AskUserQuestion",
    "src/app",
    "useSimpleTodos",
    "最新",
    "構造",
    "アップデート",
    "技術スタック",
    "error",
    "import",
    "function",
    "test",
]

# One query per line on stdin, one JSON answer per line on stdout: cc-search's own
# search function, timed inside its process (its HOME is the benchmark's home).
CSS_DRIVER = r"""
import json, sys, time
from cc_search import server
for line in sys.stdin:
    q, limit = json.loads(line)
    t, c = time.perf_counter(), time.process_time()
    out = server.api_search({"q": q, "limit": str(limit)})
    ms, cpu = (time.perf_counter() - t) * 1000, (time.process_time() - c) * 1000
    print(json.dumps({"ms": ms, "cpu_ms": cpu, "shown": len(out["results"]), "total": out["total"], "error": out.get("error")}), flush=True)
"""


# -- the home ---------------------------------------------------------------------------
def _destination(name: str) -> tuple[str, str]:
    """(project folder, path inside it) of a corpus file, from its encoded name."""
    parts = name.split("__")
    if "projects" in parts[:-1]:
        rest = parts[parts.index("projects") + 1 :]
        return rest[0], "/".join(rest[1:])
    return f"-fixtures-{parts[0]}-{parts[1]}", parts[-1]


def _session_ids(text: str) -> set[str]:
    ids = set()
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("sessionId"), str):
            ids.add(record["sessionId"])
    return ids


def _vary(line: str, copy: int, ids: dict[str, str]) -> str:
    """One record of copy ``copy``: ids replaced, time moved by ``copy`` hours, a prompt
    given the copy's word."""
    for old, new in ids.items():
        line = line.replace(old, new)
    try:
        record = json.loads(line)
    except ValueError:
        return line
    if not isinstance(record, dict):
        return line
    stamp = record.get("timestamp")
    if isinstance(stamp, str) and stamp.endswith("Z"):
        try:
            moved = datetime.fromisoformat(stamp[:-1]) + timedelta(hours=copy)
            record["timestamp"] = moved.isoformat(timespec="milliseconds") + "Z"
        except ValueError:
            pass
    message = record.get("message")
    if isinstance(message, dict) and message.get("role") == "user" and isinstance(message.get("content"), str):
        message["content"] += f" (copy{copy})"
    return json.dumps(record, ensure_ascii=False)


def build_home(corpus: Path, home: Path, target_bytes: int) -> dict[str, Any]:
    """Copies of the corpus's Claude Code transcripts under ``home/.claude/projects`` until
    they hold ``target_bytes``."""
    files = sorted(f for f in (corpus / "claude_code_jsonl").iterdir() if f.name not in LEFT_OUT)
    texts = {f: f.read_text(encoding="utf-8", errors="replace") for f in files}
    stems = {f: _destination(f.name)[1].split("/")[0].removesuffix(".jsonl") for f in files}
    projects = home / ".claude" / "projects"
    written = copies = sessions = 0
    while written < target_bytes:
        ids: dict[str, str] = {}
        for f in files:  # every id of this copy first: sub-agents name their parent's
            for old in {*_session_ids(texts[f]), stems[f]}:
                ids.setdefault(old, str(uuid.uuid5(uuid.NAMESPACE_URL, f"{old}/{copies}")))
        for f in files:
            project, rel = _destination(f.name)
            first, _, rest = rel.partition("/")
            first = ids.get(first.removesuffix(".jsonl"), first.removesuffix(".jsonl"))
            rel = f"{first}.jsonl" if not rest else f"{first}/{rest}"
            dest = projects / f"{project}-copy{copies:03d}" / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            if f.suffix != ".jsonl":
                data = texts[f]
            else:
                data = "".join(_vary(line, copies, ids) + "\n" for line in texts[f].splitlines())
                sessions += "/" not in rel
            dest.write_text(data, encoding="utf-8")
            written += len(data.encode("utf-8"))
        copies += 1
    return {"bytes": written, "copies": copies, "main_transcripts": sessions, "left_out": list(LEFT_OUT)}


def _pages_in_use(db_path: Path) -> int:
    """Bytes of the pages an SQLite file uses once its WAL is checkpointed (its free list,
    reused by later writes, left out)."""
    db = sqlite3.connect(db_path)
    try:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages, free, size = (
            db.execute(f"PRAGMA {p}").fetchone()[0] for p in ("page_count", "freelist_count", "page_size")
        )
    finally:
        db.close()
    return int((pages - free) * size)


def _size(paths: list[Path]) -> int:
    return sum(
        p.stat().st_size for root in paths for p in ([root] if root.is_file() else root.rglob("*")) if p.is_file()
    )


# -- the two tools ----------------------------------------------------------------------
def sweep(home: Path, vault_home: Path) -> dict[str, Any]:
    from termvault.vault import Vault

    projects = home / ".claude" / "projects"
    t = time.perf_counter()
    with Vault(vault_home, settle_seconds=0, archive_days=0, sources={"claude-code": {"roots": [str(projects)]}}) as v:
        report = v.sweep(older_than=0, kinds=["claude-code"])
    seconds = time.perf_counter() - t
    archives = _size([vault_home / "archive"])
    index = _pages_in_use(vault_home / "archive_index.sqlite3")
    return {
        "sessions": len(report.archived),
        "failed": len(report.failed),
        "seconds": round(seconds, 1),
        "archive_bytes": archives,
        "index_bytes": index,
        "index_ratio": round(index / archives, 3) if archives else None,
    }


def css_install(venv: Path) -> tuple[Path | None, str]:
    """The venv's python with claude-session-search installed, or None and what failed."""
    python = venv / "bin" / "python"
    try:
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, text=True)
        probe = subprocess.run([str(python), "-c", "import cc_search"], capture_output=True, text=True)
        if probe.returncode != 0:
            subprocess.run(
                [str(python), "-m", "pip", "install", "-q", "claude-session-search"],
                check=True,
                capture_output=True,
                text=True,
            )
        version = subprocess.run(
            [str(python), "-m", "pip", "show", "claude-session-search"], capture_output=True, text=True
        ).stdout
    except subprocess.CalledProcessError as exc:
        return None, f"{' '.join(map(str, exc.cmd))} failed: {(exc.stderr or exc.stdout or '').strip()[-400:]}"
    found = [line.split(":", 1)[1].strip() for line in version.splitlines() if line.startswith("Version:")]
    return python, found[0] if found else "?"


def css_index(python: Path, home: Path) -> dict[str, Any]:
    env = {**os.environ, "HOME": str(home)}
    t = time.perf_counter()
    done = subprocess.run([str(python), "-m", "cc_search", "--reindex"], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t
    if done.returncode != 0:
        raise RuntimeError(f"cc-search --reindex failed: {done.stderr.strip()[-400:]}")
    return {"seconds": round(seconds, 1), "index_bytes": _pages_in_use(home / ".cc-search" / "index.db")}


class CssDriver:
    """cc-search's search function in a process of its own venv, fed one query at a time."""

    def __init__(self, python: Path, home: Path):
        self.proc = subprocess.Popen(
            [str(python), "-c", CSS_DRIVER],
            env={**os.environ, "HOME": str(home)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def search(self, query: str, limit: int) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps([query, limit]) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)


def termvault_process(vault_home: Path, query: str, limit: int) -> float:
    env = {**os.environ, "TERMVAULT_HOME": str(vault_home)}
    t = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "termvault", "search", query, "--limit", str(limit)], env=env, capture_output=True
    )
    return (time.perf_counter() - t) * 1000


# -- the run ----------------------------------------------------------------------------
def _stats(ms: list[float]) -> dict[str, float]:
    ordered = sorted(ms)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50_ms": round(statistics.median(ordered), 1), "p95_ms": round(p95, 1), "n": len(ordered)}


def run(
    corpus: Path,
    work: Path,
    size_mb: float,
    rounds: int,
    process_every: int,
    css_venv: Path,
    say=print,
    frame_cache_mb: float | None = None,
) -> dict[str, Any]:
    from termvault.vault import Vault

    try:
        from termvault.index import framecache
    except ImportError:  # (a version before the frame cache)
        framecache = None  # type: ignore[assignment]
    if frame_cache_mb is not None and framecache is not None:  # (in process only)
        framecache.FRAME_CACHE_BYTES = int(frame_cache_mb * 2**20)

    home, vault_home = work / "home", work / "vault"
    done = work / "built.json"  # a home and vault built before in ``work``: reused
    if done.exists():
        built, swept = json.loads(done.read_text(encoding="utf-8"))
        say(f"reusing the home and vault in {work}")
    else:
        built = build_home(corpus, home, int(size_mb * MB))
        say(f"home: {built['bytes'] / MB:.0f} MB, {built['copies']} copies, {built['main_transcripts']} transcripts")
        swept = sweep(home, vault_home)
        say(f"termvault sweep: {swept}")
        done.write_text(json.dumps([built, swept]), encoding="utf-8")
    out: dict[str, Any] = {"home": built, "termvault_sweep": swept, "queries": QUERIES, "rounds": rounds}
    out["frame_cache_bytes"] = framecache.FRAME_CACHE_BYTES if framecache is not None else None
    python, css_version = css_install(css_venv)
    css: CssDriver | None = None
    if python is None:
        out["cc_search"] = {"error": css_version}
        say(f"cc-search unavailable: {css_version}")
    else:
        css_done = work / "css-built.json"
        if not css_done.exists():
            css_done.write_text(json.dumps(css_index(python, home)), encoding="utf-8")
        out["cc_search"] = {"version": css_version, **json.loads(css_done.read_text(encoding="utf-8"))}
        say(f"cc-search {css_version} index: {out['cc_search']}")
        css = CssDriver(python, home)
    times: dict[str, list[float]] = {f"termvault limit {n}": [] for n in LIMITS}
    times.update({"cc-search limit 50": [], "termvault process limit 50": []})
    # CPU time too (each search runs on one thread): less swayed by a loaded machine.
    cpu: dict[str, list[float]] = {f"termvault limit {n}": [] for n in LIMITS}
    cpu["cc-search limit 50"] = []
    per_query: dict[str, dict[str, list[float]]] = {q: {k: [] for k in times} for q in QUERIES}
    hits: dict[str, dict[str, int]] = {}
    try:
        with Vault(vault_home, readonly=True) as vault:
            for q in QUERIES:  # warm both (page cache, statement caches)
                vault.search(q, limit=50)
                if css is not None:
                    css.search(q, 50)
            for r in range(rounds):
                for q in QUERIES:
                    for n in LIMITS:
                        t, c = time.perf_counter(), time.process_time()
                        found = vault.search(q, limit=n)
                        ms = (time.perf_counter() - t) * 1000
                        cpu[f"termvault limit {n}"].append((time.process_time() - c) * 1000)
                        times[f"termvault limit {n}"].append(ms)
                        per_query[q][f"termvault limit {n}"].append(ms)
                        if n == 50:
                            hits.setdefault(q, {})["termvault"] = found.total
                    if css is not None:
                        answer = css.search(q, 50)
                        times["cc-search limit 50"].append(answer["ms"])
                        cpu["cc-search limit 50"].append(answer["cpu_ms"])
                        per_query[q]["cc-search limit 50"].append(answer["ms"])
                        hits.setdefault(q, {})["cc-search"] = answer["total"]
                    if r % process_every == 0:
                        ms = termvault_process(vault_home, q, 50)
                        times["termvault process limit 50"].append(ms)
                        per_query[q]["termvault process limit 50"].append(ms)
                say(
                    f"round {r + 1}/{rounds}: "
                    + ", ".join(f"{k} p50 {_stats(v)['p50_ms']} ms" for k, v in times.items() if v)
                )
    finally:
        if css is not None:
            css.close()
    out["latency"] = {k: _stats(v) for k, v in times.items() if v}
    out["cpu"] = {k: _stats(v) for k, v in cpu.items() if v}
    out["per_query_p50_ms"] = {
        q: {k: round(statistics.median(v), 1) for k, v in row.items() if v} for q, row in per_query.items()
    }
    out["matches"] = hits  # sessions (termvault) and messages (cc-search) matching in all
    lat = out["latency"]
    if "cc-search limit 50" in lat:
        out["termvault_vs_cc_search_p50"] = round(
            lat["termvault limit 50"]["p50_ms"] / lat["cc-search limit 50"]["p50_ms"], 2
        )
    if cpu["cc-search limit 50"]:
        out["termvault_vs_cc_search_cpu_p50"] = round(
            out["cpu"]["termvault limit 50"]["p50_ms"] / max(out["cpu"]["cc-search limit 50"]["p50_ms"], 0.01), 2
        )
    out["limit_50_vs_1_p50"] = round(
        lat["termvault limit 50"]["p50_ms"] / max(lat["termvault limit 1"]["p50_ms"], 0.01), 2
    )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.search_compare", description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=default_corpus())
    parser.add_argument("--size", type=float, default=250, help="MB of Claude Code transcripts to build")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--process-every", type=int, default=2, help="time the CLI process every N rounds")
    parser.add_argument("--css-venv", type=Path, default=Path(tempfile.gettempdir()) / "bench-cc-search-venv")
    parser.add_argument(
        "--work",
        type=Path,
        help="keep the home and vault here (default: a temporary folder); a later run with the same folder reuses them",
    )
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument(
        "--frame-cache-mb", type=float, help="decompressed frames kept between searches (0: none; default: termvault's)"
    )
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="search-compare-"))
    try:
        result = run(
            args.corpus,
            work,
            args.size,
            args.rounds,
            args.process_every,
            args.css_venv,
            frame_cache_mb=args.frame_cache_mb,
        )
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    return emit(result, args.json)


if __name__ == "__main__":
    sys.exit(main())
