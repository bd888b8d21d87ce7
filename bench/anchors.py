"""The anchors termvault's benchmarks are compared against, measured on the same corpus
in the same run:

- ``old_app_archive``: the older app's archiver: each session gzip'd at level 9 with the
  Python ``gzip`` module, one file at a time, and the whole JSON index rewritten after
  every session;
- ``cli_compress`` / ``xz_solid``: the command-line compressors per file (gzip -6,
  zstd -3, zstd -19) and xz -9e over the whole corpus concatenated (a practical bound on
  size);
- ``search_zgrep`` / ``search_plain``: searching the gzip'd archives with zgrep and the
  plain files with rg (or grep -r);
- ``json_index_scale``: the older app's JSON index at N entries: load, name search, stats.

Every function returns a dict of numbers. Times are wall-clock ``seconds`` and
``cpu_seconds`` (user + system of this process and its children); MB are 10^6 bytes.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import resource
import shutil
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .corpus import SUMMARY_NAME, corpus_files

MB = 1e6
REQUIREMENTS = "bench/requirements.sh"
# Tools each anchor needs; rg falls back to grep.
TOOLS = ("gzip", "zgrep", "zstd", "xz", "grep")


class ToolMissing(RuntimeError):
    """A command-line tool an anchor needs is not installed."""

    def __init__(self, tools: list[str]):
        self.tools = tools
        super().__init__(
            f"{', '.join(tools)} {'is' if len(tools) == 1 else 'are'} not installed; "
            f"install with: sudo sh {REQUIREMENTS}"
        )


def require(*tools: str) -> None:
    """Raise ToolMissing naming every tool of ``tools`` that is not on PATH."""
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        raise ToolMissing(missing)


def tool_versions() -> dict[str, str | None]:
    """First line of ``--version`` of each anchor tool (None when absent)."""
    out: dict[str, str | None] = {}
    for tool in ("gzip", "zstd", "xz", "rg", "grep"):
        if shutil.which(tool) is None:
            out[tool] = None
            continue
        proc = subprocess.run([tool, "--version"], capture_output=True, text=True)
        out[tool] = (proc.stdout or proc.stderr).strip().splitlines()[0] if (proc.stdout or proc.stderr) else ""
    return out


def _cpu() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


class Timer:
    """Wall and CPU time of a ``with`` block."""

    def __enter__(self) -> Timer:
        self._wall, self._cpu = time.perf_counter(), _cpu()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._wall
        self.cpu_seconds = _cpu() - self._cpu


def _rates(nbytes: int, t: Timer) -> dict[str, float]:
    return {
        "seconds": round(t.seconds, 3),
        "cpu_seconds": round(t.cpu_seconds, 3),
        "mb_per_s": round(nbytes / MB / t.seconds, 2) if t.seconds > 0 else 0.0,
        "cpu_mb_per_s": round(nbytes / MB / t.cpu_seconds, 2) if t.cpu_seconds > 0 else 0.0,
    }


def _size(files: list[Path]) -> int:
    return sum(f.stat().st_size for f in files)


# -- the older app ----------------------------------------------------------------------


def _session_fields(path: Path, data: bytes | None) -> dict[str, Any]:
    """What the older app knew of a session: SessionState fields for native files, the
    file name otherwise."""
    fields: dict[str, Any] = {
        "session_id": None,
        "name": path.name,
        "working_directory": str(path.parent),
        "last_command": None,
        "modified_at": path.stat().st_mtime,
    }
    if data is not None and path.suffix == ".json":
        try:
            state = json.loads(data)
        except ValueError:
            return fields
        if isinstance(state, dict):
            for key in ("session_id", "name", "working_directory", "last_command", "modified_at"):
                if state.get(key) is not None:
                    fields[key] = state[key]
    return fields


def old_app_archive(corpus: Path, work: Path, indent: int | None = 2) -> dict[str, float]:
    """Archive every corpus file the way the older app archived a session: read (and for
    native files parse) it, gzip it at level 9 with Python's gzip module to
    ``archive/YYYY/MM/<id>.json.gz``, add an index entry and rewrite the whole
    ``archive_index.json`` (``json.dump``, ``indent``) after each one. Sources are left
    in place. ``index_seconds`` is the part spent rewriting the index."""
    files = corpus_files(corpus)
    archive, index_path = work / "archive", work / "archive_index.json"
    archive.mkdir(parents=True, exist_ok=True)
    index: dict[str, dict[str, Any]] = {}
    in_bytes = out_bytes = 0
    index_seconds = 0.0
    with Timer() as t:
        for i, path in enumerate(files):
            data = path.read_bytes()
            fields = _session_fields(path, data)
            sid = str(fields["session_id"] or f"{i:06d}-{path.stem}")
            when = datetime.fromtimestamp(float(fields["modified_at"]), tz=UTC)
            dest = archive / f"{when:%Y}" / f"{when:%m}" / f"{sid}.json.gz"
            dest.parent.mkdir(parents=True, exist_ok=True)
            with gzip.open(dest, "wb", compresslevel=9) as fh:
                fh.write(data)
            size = dest.stat().st_size
            in_bytes += len(data)
            out_bytes += size
            index[sid] = {
                "name": fields["name"],
                "archived_at": datetime.now(UTC).isoformat(),
                "original_timestamp": when.isoformat(),
                "archive_path": str(dest),
                "size_bytes": size,
                "original_size_bytes": len(data),
                "working_directory": fields["working_directory"],
                "last_command": fields["last_command"],
            }
            t0 = time.perf_counter()
            with open(index_path, "w", encoding="utf-8") as fh:
                json.dump(index, fh, indent=indent)
            index_seconds += time.perf_counter() - t0
    return {
        "files": len(files),
        "input_bytes": in_bytes,
        "output_bytes": out_bytes,
        "ratio": round(in_bytes / out_bytes, 3) if out_bytes else 0.0,
        **_rates(in_bytes, t),
        "index_seconds": round(index_seconds, 3),
        "index_bytes": index_path.stat().st_size if files else 0,
    }


# -- command-line compressors -----------------------------------------------------------

CLI_CODECS: dict[str, tuple[str, list[str], str]] = {
    # name: (tool, arguments before the folder, suffix of compressed files)
    "gzip-6": ("gzip", ["-6", "-r", "-q"], ".gz"),
    "zstd-3": ("zstd", ["-3", "-T1", "-r", "-q", "--rm"], ".zst"),
    "zstd-19": ("zstd", ["-19", "-T1", "-r", "-q", "--rm"], ".zst"),
}
DECOMPRESS = {"gzip": ["gzip", "-d", "-c", "-r"], "zstd": ["zstd", "-d", "-c", "-r", "-q"]}


def copy_corpus(corpus: Path, dest: Path) -> list[Path]:
    """Copy the corpus files to ``dest`` (same relative paths); returns the copies."""
    out = []
    for path in corpus_files(corpus):
        target = dest / path.relative_to(corpus)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        out.append(target)
    return out


def cli_compress(corpus: Path, work: Path, codec: str) -> dict[str, float]:
    """Compress each corpus file on its own with one run of the tool over a copy of the
    corpus (so per-file process start-up is not counted); also time decompressing them
    all to /dev/null. The compressed copy stays in ``work/<codec>`` (zgrep uses the gzip
    one)."""
    tool, args, suffix = CLI_CODECS[codec]
    require(tool)
    folder = work / codec
    if folder.exists():
        shutil.rmtree(folder)
    copies = copy_corpus(corpus, folder)
    in_bytes = _size(copies)
    with Timer() as t:
        subprocess.run([tool, *args, str(folder)], check=True)
    packed = [p.with_name(p.name + suffix) for p in copies]
    out_bytes = _size(packed)
    with Timer() as d:
        subprocess.run([*DECOMPRESS[tool], str(folder)], check=True, stdout=subprocess.DEVNULL)
    rates = _rates(in_bytes, t)
    return {
        "files": len(copies),
        "input_bytes": in_bytes,
        "output_bytes": out_bytes,
        "ratio": round(in_bytes / out_bytes, 3) if out_bytes else 0.0,
        **rates,
        "decompress_seconds": round(d.seconds, 3),
        "decompress_mb_per_s": round(in_bytes / MB / d.seconds, 2) if d.seconds > 0 else 0.0,
    }


def xz_solid(corpus: Path, work: Path, level: str = "-9e") -> dict[str, float]:
    """xz over every corpus file concatenated in path order: one solid stream, the
    practical bound on how small the corpus gets."""
    require("xz")
    files = corpus_files(corpus)
    out_path = work / "corpus.xz"
    in_bytes = 0
    with Timer() as t, open(out_path, "wb") as out:
        proc = subprocess.Popen(["xz", level, "-T1", "-c"], stdin=subprocess.PIPE, stdout=out)
        assert proc.stdin is not None
        for path in files:
            data = path.read_bytes()
            in_bytes += len(data)
            proc.stdin.write(data)
        proc.stdin.close()
        if proc.wait() != 0:
            raise RuntimeError(f"xz exited with {proc.returncode}")
    out_bytes = out_path.stat().st_size
    out_path.unlink()
    return {
        "files": len(files),
        "input_bytes": in_bytes,
        "output_bytes": out_bytes,
        "ratio": round(in_bytes / out_bytes, 3) if out_bytes else 0.0,
        **_rates(in_bytes, t),
    }


# -- search -----------------------------------------------------------------------------


def _count_lines(cmd: list[str]) -> int:
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if proc.returncode not in (0, 1):  # 1 = nothing matched
        raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}): {proc.stderr.decode(errors='replace')[:300]}")
    return len(proc.stdout.splitlines())


def _search(words: list[str], run: Any, nbytes: int) -> dict[str, Any]:
    hits: dict[str, int] = {}
    with Timer() as t:
        for w in words:
            hits[w] = run(w)
    n = max(1, len(words))
    return {
        "queries": len(words),
        "input_bytes": nbytes,
        "seconds": round(t.seconds, 3),
        "cpu_seconds": round(t.cpu_seconds, 3),
        "ms_per_query": round(t.seconds * 1000 / n, 1),
        "hits": hits,
    }


def search_zgrep(gz_folder: Path, words: list[str], batch: int = 400) -> dict[str, Any]:
    """For each word, the files among the gzip'd copies (``cli_compress(.., "gzip-6")``)
    that contain it: ``zgrep -l -i -F``, files passed in batches. ``hits`` counts the
    matching files per word."""
    require("zgrep")
    files = sorted(str(p) for p in gz_folder.rglob("*.gz"))

    def run(word: str) -> int:
        return sum(
            _count_lines(["zgrep", "-l", "-i", "-F", "-e", word, "--", *files[i : i + batch]])
            for i in range(0, len(files), batch)
        )

    return _search(words, run, sum(os.path.getsize(f) for f in files))


def plain_search_tool() -> str:
    """``rg`` when installed, else ``grep``."""
    return "rg" if shutil.which("rg") else "grep"


def search_plain(corpus: Path, words: list[str], tool: str | None = None) -> dict[str, Any]:
    """For each word, the uncompressed corpus files that contain it, with rg (hidden and
    ignored files included) or grep -r; fixed string, case-insensitive."""
    tool = tool or plain_search_tool()
    require(tool)
    if tool == "rg":
        base = ["rg", "-l", "-i", "-F", "-uuu", "--no-messages", "-g", f"!{SUMMARY_NAME}"]
    else:
        base = ["grep", "-r", "-l", "-i", "-F", f"--exclude={SUMMARY_NAME}"]
    nbytes = _size(corpus_files(corpus))
    return _search(words, lambda w: _count_lines([*base, "-e", w, str(corpus)]), nbytes)


# -- the JSON index at scale ------------------------------------------------------------


def _index_entries(n: int, seed: int) -> dict[str, dict[str, Any]]:
    r = random.Random(seed)
    names = ("api", "deploy", "refactor", "tests", "docs", "build", "review", "debug", "release", "infra")
    start = datetime(2025, 5, 1, tzinfo=UTC).timestamp()
    index = {}
    for i in range(n):
        sid = "%032x" % r.getrandbits(128)
        t = start + r.random() * 548 * 86400
        size = r.randint(2_000, 5_000_000)
        index[sid] = {
            "name": f"{r.choice(names)}-{r.choice(names)} session {i}",
            "archived_at": datetime.fromtimestamp(t + 30 * 86400, tz=UTC).isoformat(),
            "original_timestamp": datetime.fromtimestamp(t, tz=UTC).isoformat(),
            "archive_path": f"/home/user/.multi-term/archive/{sid}.json.gz",
            "size_bytes": size // 6,
            "original_size_bytes": size,
            "working_directory": f"/home/user/code/{r.choice(names)}",
            "last_command": f"git commit -m '{r.choice(names)}'",
        }
    return index


def _old_search(index: dict[str, dict[str, Any]], name: str, limit: int = 50) -> list[dict[str, Any]]:
    # The older ArchiveIndex.search: a scan of every entry, sorted newest first.
    q = name.lower()
    found = [dict(e, session_id=sid) for sid, e in index.items() if q in e["name"].lower()]
    found.sort(key=lambda e: e["archived_at"], reverse=True)
    return found[:limit]


def _old_stats(index: dict[str, dict[str, Any]]) -> dict[str, Any]:
    # The older get_stats: sums and oldest/newest over all entries.
    total = sum(e["size_bytes"] for e in index.values())
    original = sum(e["original_size_bytes"] for e in index.values())
    dates = [datetime.fromisoformat(e["archived_at"]) for e in index.values()]
    return {
        "total_sessions": len(index),
        "total_size_mb": total / 1024 / 1024,
        "space_saved_mb": (original - total) / 1024 / 1024,
        "oldest": min(dates).isoformat() if dates else None,
        "newest": max(dates).isoformat() if dates else None,
    }


def json_index_scale(work: Path, entries: int = 100_000, seed: int = 1, indent: int | None = 2) -> dict[str, float]:
    """The older app's JSON index holding ``entries`` sessions: time to rewrite it once
    (what archiving one more session cost), load it, search names for a substring, and
    compute the stats."""
    path = work / f"archive_index_{entries}.json"
    index = _index_entries(entries, seed)
    with Timer() as w:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(index, fh, indent=indent)
    del index
    with Timer() as load:
        with open(path, encoding="utf-8") as fh:
            index = json.load(fh)
    with Timer() as search:
        found = _old_search(index, "deploy-api")
    with Timer() as stats:
        _old_stats(index)
    size = path.stat().st_size
    path.unlink()
    return {
        "entries": entries,
        "index_bytes": size,
        "write_seconds": round(w.seconds, 3),
        "load_seconds": round(load.seconds, 3),
        "search_seconds": round(search.seconds, 3),
        "stats_seconds": round(stats.seconds, 3),
        "search_hits": len(found),
        "seconds": round(load.seconds + search.seconds + stats.seconds, 3),
    }
