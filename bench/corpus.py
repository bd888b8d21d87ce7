"""Seeded synthetic corpus: a fake user home full of AI-agent and terminal sessions.

``generate(dest, seed, total_bytes)`` lays out, under ``dest``::

    .claude/projects/<project>/<uuid>.jsonl                    Claude Code transcripts
    .claude/projects/<project>/<uuid>/subagents/agent-*.jsonl  their sub-agent side chains
    .codex/sessions/YYYY/MM/DD/rollout-<ts>-<uuid>.jsonl       Codex CLI rollouts
    .multi-term/history/{int(modified_at)}_{id}.json           native SessionState files
    recordings/*.cast                                          asciinema v2 recordings
    <project dir>/.aider.chat.history.md (+ .aider.input.history)

The same seed, size and clock give the same bytes and the same file mtimes (each file's
mtime is its session's last activity). The clock defaults to a fixed instant rather than
the time of the run so that a seed names one exact corpus; pass ``now`` to place the
sessions in the 18 months before another instant.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Any

from . import textgen as tg
from .agents import ClaudeSession, CodexSession, Doc
from .terminals import aider_chat, cast_session, native_session
from .world import World

DEFAULT_NOW = 1793491200.0  # 2026-11-01T00:00:00Z
KINDS = ("claude-code", "codex", "native", "asciinema", "aider")
# Shares of the bytes, roughly those of the sample corpus of real files, where Claude
# Code and Codex dominate.
SHARES = {"claude-code": 0.40, "codex": 0.33, "native": 0.10, "asciinema": 0.12, "aider": 0.05}
ROOTS = {
    "claude-code": ".claude/projects",
    "codex": ".codex/sessions",
    "native": ".multi-term/history",
    "asciinema": "recordings",
    "aider": ".",
}
# Median session size per kind; sizes are log-normal around it, so most sessions are
# small and a few are megabytes.
MEDIANS = {"claude-code": 70_000, "codex": 90_000, "native": 15_000, "asciinema": 25_000, "aider": 12_000}
PRESETS = {"tiny": 2_000_000, "small": 20_000_000, "default": 50_000_000, "large": 200_000_000, "huge": 1_000_000_000}
# Planted search targets: a token that occurs in exactly about this many files.
NEEDLE_FILES = (1, 4, 16)
# Where ``python -m bench corpus`` leaves the summary, at the corpus root.
SUMMARY_NAME = ".bench-corpus.json"


class _Writer:
    """Writes corpus files, sets their mtimes, and counts files, bytes and needles."""

    def __init__(self, dest: Path, needles: list[str]):
        self.dest = dest
        self.needles = [(n, n.encode()) for n in needles]
        self.needle_files = dict.fromkeys(needles, 0)
        self.stats = {k: {"root": ROOTS[k], "sessions": 0, "files": 0, "bytes": 0} for k in KINDS}
        self._dirs: set[Path] = set()

    def put(self, kind: str, doc: Doc) -> None:
        path = self.dest / doc.rel
        if path.parent not in self._dirs:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._dirs.add(path.parent)
        with open(path, "wb") as fh:
            fh.write(doc.data)
        ns = tg.ms(doc.mtime) * 1_000_000  # the millisecond the last record carries
        os.utime(path, ns=(ns, ns))
        self.stats[kind]["files"] += 1
        self.stats[kind]["bytes"] += len(doc.data)
        for name, raw in self.needles:
            if raw in doc.data:
                self.needle_files[name] += 1


def generate(dest: Path, seed: int = 1, total_bytes: int = 50_000_000, now: float | None = None) -> dict[str, Any]:
    """Write a corpus of about ``total_bytes`` under ``dest`` (absent or empty).

    Returns a summary: per kind its root (relative to ``dest``), sessions, files and
    bytes; the planted query words with the number of files holding each (None where
    not counted); the in-content home path; and the generation time.
    """
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise FileExistsError(f"{dest} is not empty; the corpus needs an empty or new folder")
    dest.mkdir(parents=True, exist_ok=True)
    now = DEFAULT_NOW if now is None else float(now)
    t0, c0 = time.perf_counter(), time.process_time()
    rng = tg.FastRandom(seed)
    w = World(rng, total_bytes, now)
    needles = [f"zqx{tg.hexid(rng, 8)}" for _ in NEEDLE_FILES]
    absent = f"zqx{tg.hexid(rng, 8)}"
    planted = dict.fromkeys(needles, 0)
    out = _Writer(dest, needles)
    budgets = {k: total_bytes * SHARES[k] for k in KINDS}
    filled = dict.fromkeys(KINDS, 0)
    cap = int(max(50_000, min(8_000_000, total_bytes * 0.03)))
    aider_projects = w.projects[::3]
    aider: dict[str, list[tuple[float, str, str, float]]] = {}

    def next_needle() -> str | None:
        # Early sessions of every kind take the needles, so they spread across kinds.
        for name, target in zip(needles, NEEDLE_FILES):
            if planted[name] < target and rng.random() < 0.3:
                planted[name] += 1
                return name
        return None

    while True:
        open_kinds = [k for k in KINDS if filled[k] < budgets[k]]
        if not open_kinds:
            break
        kind = min(open_kinds, key=lambda k: filled[k] / budgets[k])
        p = w.pick_project() if kind != "aider" else rng.choice(aider_projects)
        start = w.start_time()
        target = min(w.session_size(MEDIANS[kind], cap), max(2000, int(budgets[kind] - filled[kind])))
        needle = next_needle()
        if kind == "claude-code":
            sid = tg.uuid4(rng)
            docs = ClaudeSession(w, p, sid, start, target, needle).build(f".claude/projects/{p.claude_dir}/{sid}.jsonl")
        elif kind == "codex":
            docs = [CodexSession(w, p, start, target, needle).build()]
        elif kind == "native":
            docs = [native_session(w, p, start, target, needle)]
        elif kind == "asciinema":
            docs = [cast_session(w, p, start, target, needle)]
        else:
            md, inputs, end = aider_chat(w, p, start, target, needle)
            aider.setdefault(p.name, []).append((start, md, inputs, end))
            filled[kind] += len(md) + len(inputs)
            out.stats[kind]["sessions"] += 1
            continue
        out.stats[kind]["sessions"] += 1
        for d in docs:
            out.put(kind, d)
            filled[kind] += len(d.data)

    for p in aider_projects:
        chats = sorted(aider.get(p.name, []), key=lambda c: c[0])
        if not chats:
            continue
        rel = p.cwd[len(w.home) + 1 :]
        end = max(c[3] for c in chats)
        out.put("aider", Doc(f"{rel}/.aider.chat.history.md", "".join(c[1] for c in chats).encode("utf-8"), end))
        out.put("aider", Doc(f"{rel}/.aider.input.history", "".join(c[2] for c in chats).encode("utf-8"), end))

    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    total = sum(s["bytes"] for s in out.stats.values())
    queries: dict[str, int | None] = dict(out.needle_files)
    queries[absent] = 0
    queries["function"] = None  # a common word
    queries[w.vocab.pseudo[60]] = None  # a frequent generated word
    queries[w.vocab.pseudo[2500]] = None  # a rare one
    ident = next((i for i in w.projects[0].idents if "_" in i), w.projects[0].idents[0])
    queries[ident] = None  # an identifier of the busiest project
    return {
        "seed": seed,
        "requested_bytes": total_bytes,
        "now": tg.iso_ms(now),
        "user_home": w.home,
        "projects": len(w.projects),
        "files": sum(s["files"] for s in out.stats.values()),
        "bytes": total,
        "kinds": out.stats,
        "queries": queries,
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu, 3),
        "mb_per_s": round(total / 1e6 / seconds, 1) if seconds else None,
        "cpu_mb_per_s": round(total / 1e6 / cpu, 1) if cpu else None,
    }


def corpus_files(root: Path) -> list[Path]:
    """Every regular file of the corpus under ``root``, sorted by relative path (the
    summary file the CLI leaves at the root is not part of the corpus)."""
    root = Path(root)
    found = []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        found += [Path(folder) / f for f in files if not (folder == str(root) and f == SUMMARY_NAME)]
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def tree_digest(root: Path) -> str:
    """SHA-256 over every file's relative path, mtime (ns) and content: equal digests mean
    equal trees."""
    h = hashlib.sha256()
    for path in corpus_files(Path(root)):
        st = path.stat()
        h.update(f"{path.relative_to(root).as_posix()}\0{st.st_mtime_ns}\0{st.st_size}\0".encode())
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
    return h.hexdigest()


def size_of(preset_or_size: str) -> int:
    """A preset name (tiny, small, default, large, huge) or a size such as 50MB."""
    if preset_or_size in PRESETS:
        return PRESETS[preset_or_size]
    from termvault.config import parse_size

    size = parse_size(preset_or_size, "corpus size")
    if not size:
        raise ValueError(f"corpus size must be positive, not {preset_or_size!r}")
    return size
