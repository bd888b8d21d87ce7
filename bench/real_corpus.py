"""The sweep on the real sample corpus (``../shared/corpus`` or $TERMVAULT_CORPUS), laid
out as a home, against the older app's method and ``gzip -6`` measured in the same run.

Every file of the corpus is placed where its tool keeps it: Claude Code transcripts (with
their ``subagents/`` folders) under ``.claude/projects``, Codex rollouts under
``.codex/sessions``, Gemini chats under ``.gemini/tmp/<project>/chats``, asciinema
recordings, aider histories in project folders, and the terminal logs as agent logs. The
corpus itself is never written.

Runs are interleaved (anchor, termvault, anchor, ...) ``--rounds`` times and the median
of each is reported, so a burst of load on a shared machine hits all of them alike::

    python -m bench.real_corpus --rounds 3 --json bench/results/real-corpus.json

Reported: MB/s of each, termvault's ratio to each anchor, archive and index sizes (the
index file as a normal sweep leaves it, no VACUUM), per full text on and off.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .anchors import MB, Timer, cli_compress, old_app_archive
from .results import emit

REPO = Path(__file__).resolve().parent.parent
FOLDERS = (
    "claude_code_jsonl",
    "codex_rollout_jsonl",
    "gemini_cli_json",
    "asciinema_cast",
    "aider_history_md",
    "terminal_logs",
)


def default_corpus() -> Path:
    return Path(os.environ.get("TERMVAULT_CORPUS", REPO.parent / "shared" / "corpus"))


def _after(name: str, marker: str) -> str | None:
    head, sep, tail = name.partition(marker)
    return tail.replace("__", "/") if sep else None


def place(corpus: Path, home: Path) -> dict[str, list[str]]:
    """Copy the corpus into ``home`` where each tool keeps its files; returns the roots of
    every source, ready for the ``sources`` setting."""
    roots = {
        "claude-code": home / ".claude" / "projects",
        "codex": home / ".codex" / "sessions",
        "gemini": home / ".gemini" / "tmp",
        "asciinema": home / "casts",
        "aider": home / "code",
        "agent-log": home / "logs",
    }
    for folder in FOLDERS:
        src = corpus / folder
        if not src.is_dir():
            continue
        for path in sorted(src.iterdir()):
            name = path.name
            owner = "-".join(name.split("__")[:2])
            if folder == "claude_code_jsonl":
                rel = _after(name, "__projects__")
                project, _, rest = (rel or "").partition("/")
                dest = roots["claude-code"] / (f"{owner}-{project}/{rest}" if rel else f"{owner}/{name}")
            elif folder == "codex_rollout_jsonl":
                rel = _after(name, "__sessions__")
                dest = roots["codex"] / (rel or f"2025/01/01/rollout-2025-01-01T00-00-00-{owner}.jsonl")
            elif folder == "gemini_cli_json":
                dest = roots["gemini"] / owner / "chats" / f"session-{path.stem}{path.suffix}"
            elif folder == "asciinema_cast":
                dest = roots["asciinema"] / name
            elif folder == "aider_history_md":
                dest = roots["aider"] / name.split("__.aider")[0] / (".aider" + name.split("__.aider", 1)[1])
            else:
                dest = roots["agent-log"] / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dest)
    return {kind: [str(root)] for kind, root in roots.items()}


def _files(home: Path) -> list[Path]:
    return sorted(p for p in home.rglob("*") if p.is_file())


def sweep(corpus_home: Path, roots: dict[str, list[str]], vault_home: Path, full_text: bool) -> dict[str, Any]:
    from termvault.vault import Vault

    if vault_home.exists():
        shutil.rmtree(vault_home)
    vault_home.mkdir(mode=0o700)
    with Timer() as t:
        vault = Vault(
            vault_home,
            settle_seconds=0,
            archive_days=0,
            full_text=full_text,
            sources={kind: {"roots": r} for kind, r in roots.items()},
        )
        try:
            report = vault.sweep(older_than=0, kinds=list(roots))
        finally:
            vault.close()
    by_kind: dict[str, dict[str, int]] = {}
    for e in report.archived:
        k = by_kind.setdefault(e.source, {"sessions": 0, "input_bytes": 0, "archive_bytes": 0})
        k["sessions"] += 1
        k["input_bytes"] += e.original_size_bytes
        k["archive_bytes"] += e.size_bytes
    in_bytes = sum(e.original_size_bytes for e in report.archived)
    archives = sum(p.stat().st_size for p in (vault_home / "archive").rglob("*") if p.is_file())
    index = vault_home / "archive_index.sqlite3"
    index_bytes = sum(p.stat().st_size for p in vault_home.glob("archive_index.sqlite3*"))
    return {
        "sessions": len(report.archived),
        "failed": [f"{f.source} {f.session_id}: {f.reason}"[:200] for f in report.failed],
        "input_bytes": in_bytes,
        "archive_bytes": archives,
        "index_bytes": index_bytes,
        "index_file_bytes": index.stat().st_size if index.exists() else 0,
        "index_ratio": round(index_bytes / archives, 3) if archives else 0.0,
        "seconds": t.seconds,
        "cpu_seconds": t.cpu_seconds,
        "by_kind": by_kind,
    }


def gzip6_by_kind(roots: dict[str, list[str]]) -> dict[str, int]:
    """``gzip -6`` of each file of each source's roots on its own (zlib level 6, as the
    command), summed per source kind: the anchor of the per-kind sizes."""
    import gzip

    out: dict[str, int] = {}
    for kind, folders in roots.items():
        for folder in folders:
            for path in _files(Path(folder)):
                out[kind] = out.get(kind, 0) + len(gzip.compress(path.read_bytes(), 6, mtime=0))
    return out


def native_sessions(corpus: Path, vault_home: Path, count: int = 300) -> None:
    """``count`` small native sessions (2 to 30 KB of output each, cut from the corpus's
    terminal logs and recordings, in order) saved in ``vault_home``, a day old."""
    import random
    import time

    from termvault import SessionState
    from termvault.storage import SessionStorage

    text = "\n".join(
        p.read_text(encoding="utf-8", errors="replace")
        for folder in ("terminal_logs", "asciinema_cast", "aider_history_md")
        for p in sorted((corpus / folder).glob("*"))
        if p.is_file()
    )
    rng = random.Random(3)
    storage = SessionStorage(vault_home, enable_auto_archive=False)
    when = time.time() - 86400
    at = 0
    for i in range(count):
        size = rng.randint(2_000, 30_000)
        if at + size > len(text):
            at = 0
        state = SessionState(
            session_id=f"native-{i:04d}", name=f"shell {i}", working_directory=f"/home/me/p{i % 17}",
            created_at=when - 3600, modified_at=when, command_count=rng.randint(1, 40),
            last_command="make test", output_snapshot=text[at : at + size],
        )  # fmt: skip
        path = storage.save_session(state)
        os.utime(path, (when, when))
        at += size


def index_workloads(corpus: Path, home: Path, roots: dict[str, list[str]], work: Path) -> dict[str, Any]:
    """The index against the archives for the agent logs alone and for 300 small native
    sessions (issue 18 asks both to stay within 0.6x), each after a normal sweep."""
    out: dict[str, Any] = {}
    if roots.get("agent-log"):
        r = sweep(home, {"agent-log": roots["agent-log"]}, work / "vault-agent-log", True)
        out["agent-log"] = {k: r[k] for k in ("sessions", "archive_bytes", "index_bytes", "index_ratio")}
    vault_home = work / "vault-native"
    shutil.rmtree(vault_home, ignore_errors=True)
    vault_home.mkdir(mode=0o700)
    native_sessions(corpus, vault_home)
    from termvault.vault import Vault

    with Vault(vault_home, settle_seconds=0, archive_days=0, full_text=True) as v:
        report = v.sweep(older_than=0, kinds=["native"])
    archives = sum(p.stat().st_size for p in (vault_home / "archive").rglob("*") if p.is_file())
    index_bytes = sum(p.stat().st_size for p in vault_home.glob("archive_index.sqlite3*"))
    out["native-small"] = {
        "sessions": len(report.archived),
        "archive_bytes": archives,
        "index_bytes": index_bytes,
        "index_ratio": round(index_bytes / archives, 3) if archives else 0.0,
    }
    return out


def run(corpus: Path, work: Path, rounds: int = 3, say=print) -> dict[str, Any]:
    home = work / "home"
    roots = place(corpus, home)
    flat = work / "flat"  # the anchors read the same files, one folder
    flat.mkdir(exist_ok=True)
    for path in _files(home):
        shutil.copy2(path, flat / path.relative_to(home).as_posix().replace("/", "__"))
    nbytes = sum(p.stat().st_size for p in _files(flat))
    runs: dict[str, list[dict[str, Any]]] = {"old-app": [], "gzip-6": [], "full-text": [], "no-full-text": []}
    for r in range(rounds):
        shutil.rmtree(work / "old", ignore_errors=True)
        runs["old-app"].append(old_app_archive(flat, work / "old"))
        runs["full-text"].append(sweep(home, roots, work / f"vault-ft-{r}", True))
        runs["gzip-6"].append(cli_compress(flat, work, "gzip-6"))
        runs["no-full-text"].append(sweep(home, roots, work / f"vault-noft-{r}", False))
        say(f"round {r + 1}/{rounds}: " + ", ".join(f"{k} {v[-1]['seconds']:.2f}s" for k, v in runs.items()))

    def median(name: str, key: str) -> float:
        return statistics.median(float(x[key]) for x in runs[name])

    out: dict[str, Any] = {"corpus_bytes": nbytes, "rounds": rounds, "cpus": len(os.sched_getaffinity(0))}
    for name in runs:
        seconds = median(name, "seconds")
        out[name] = {
            "seconds": round(seconds, 3),
            "cpu_seconds": round(median(name, "cpu_seconds"), 3),
            "mb_per_s": round(nbytes / MB / seconds, 2),
        }
    for name in ("full-text", "no-full-text"):
        last = runs[name][-1]
        out[name].update(
            {
                k: last[k]
                for k in (
                    "sessions",
                    "failed",
                    "input_bytes",
                    "archive_bytes",
                    "index_bytes",
                    "index_file_bytes",
                    "index_ratio",
                )
            }
        )
        for anchor in ("old-app", "gzip-6"):
            out[name][f"vs_{anchor}"] = round(out[anchor]["seconds"] / out[name]["seconds"], 2)
    gz = gzip6_by_kind(roots)
    out["sizes_by_kind"] = {
        kind: {
            **k,
            "gzip6_bytes": gz.get(kind, 0),
            "vs_gzip6": round(k["archive_bytes"] / gz[kind], 3) if gz.get(kind) else None,
        }
        for kind, k in sorted(runs["full-text"][-1]["by_kind"].items())
    }
    out["index_workloads"] = index_workloads(corpus, home, roots, work)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.real_corpus", description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=default_corpus())
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument("--one-core", action="store_true", help="run everything on one CPU (sched_setaffinity)")
    args = ap.parse_args(argv)
    if args.one_core:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    return measure_and_print(args.corpus, args.json, lambda work, say: run(args.corpus, work, args.rounds, say))


def measure_and_print(corpus: Path, out: Path | None, measure: Callable[[Path, Callable[[str], None]], Any]) -> int:
    """Run ``measure(work folder, say)`` on the corpus in a temporary folder; print its
    results as JSON (and write them to ``out``). Exit status 2 when there is no corpus."""
    if not corpus.is_dir():
        print(f"no corpus at {corpus}: set TERMVAULT_CORPUS or pass --corpus", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="tv-real-") as tmp:
        result = measure(Path(tmp), lambda s: print(s, file=sys.stderr))
    return emit(result, out)


if __name__ == "__main__":
    raise SystemExit(main())
