"""termvault's sweep on the synthetic corpus, laid out as a home: throughput with and
without full text, archive sizes per source kind against gzip -6 and xz -9e, and the
index's size.

The corpus stays read-only: every source is read where the generator wrote it (copy
mode), except the native history, which is copied into the vault home first so the
native source runs as it does for real (move mode: archived, verified, then removed).

Every function returns plain numbers; ``run`` adds them to a results document. Bytes are
corpus bytes in, archive bytes on disk out; MB are 10^6 bytes.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from .anchors import MB, Timer, require
from .corpus import ROOTS, corpus_files

# Every kind the generator writes, in the order the sweep takes them.
SWEPT_KINDS = ("native", "claude-code", "codex", "asciinema", "aider")


def kind_of(relpath: str) -> str:
    """The source kind of a corpus file from its path relative to the corpus root."""
    for kind in ("claude-code", "codex", "native", "asciinema"):
        if relpath.startswith(ROOTS[kind] + "/"):
            return kind
    return "aider"  # project folders hold the aider histories


def source_settings(corpus: Path) -> dict[str, dict[str, Any]]:
    """The ``sources`` setting that points every tool's source into the corpus. The
    native source keeps its default root, the vault's own ``history/``."""
    corpus = Path(corpus).absolute()
    return {
        "claude-code": {"roots": [str(corpus / ROOTS["claude-code"])]},
        "codex": {"roots": [str(corpus / ROOTS["codex"])]},
        "asciinema": {"roots": [str(corpus / ROOTS["asciinema"])]},
        "aider": {"roots": [str(corpus)]},
    }


def prepare_home(corpus: Path, home: Path) -> None:
    """A fresh vault home whose ``history/`` holds copies of the corpus's native sessions
    (mtimes kept, so they are as old as the generator made them)."""
    if home.exists():
        shutil.rmtree(home)
    history = home / "history"
    history.mkdir(parents=True, mode=0o700)
    home.chmod(0o700)
    native = Path(corpus) / ROOTS["native"]
    if native.is_dir():
        for path in sorted(native.iterdir()):
            shutil.copy2(path, history / path.name)
            os.chmod(history / path.name, 0o600)


def open_vault(corpus: Path, home: Path, **overrides: Any):
    """``Vault(home)`` with archive_days and settle_seconds 0 and the corpus sources."""
    from termvault.vault import Vault

    settings = {"settle_seconds": 0, "archive_days": 0, "sources": source_settings(corpus)}
    settings.update(overrides)
    return Vault(home, **settings)


def sweep_corpus(
    corpus: Path, home: Path, full_text: bool = True, profiler: Any = None, **settings: Any
) -> dict[str, Any]:
    """Sweep the whole corpus into a new vault at ``home`` (left in place for later
    steps). ``profiler`` (a cProfile.Profile) runs around the sweep alone; ``settings``
    are further config overrides (``level=19``)."""
    prepare_home(corpus, home)
    with Timer() as opened:
        vault = open_vault(corpus, home, full_text=full_text, **settings)
    try:
        if profiler is not None:
            profiler.enable()
        try:
            with Timer() as t:
                report = vault.sweep(older_than=0, kinds=list(SWEPT_KINDS))
        finally:
            if profiler is not None:
                profiler.disable()
        in_bytes = sum(e.original_size_bytes for e in report.archived)
        out_bytes = archive_bytes(home)
        left = len(list((home / "history").iterdir()))
    finally:
        vault.close()
    return {
        "files": len(corpus_files(corpus)),
        "sessions": len(report.archived),
        "failed": len(report.failed),
        "input_bytes": in_bytes,
        "output_bytes": out_bytes,
        "ratio": round(in_bytes / out_bytes, 3) if out_bytes else 0.0,
        "seconds": round(t.seconds, 3),
        "cpu_seconds": round(t.cpu_seconds, 3),
        "mb_per_s": round(in_bytes / MB / t.seconds, 2) if t.seconds > 0 else 0.0,
        "cpu_mb_per_s": round(in_bytes / MB / t.cpu_seconds, 2) if t.cpu_seconds > 0 else 0.0,
        "open_seconds": round(opened.seconds, 3),
        "native_left_in_history": left,
        "failures": [f"{f.source} {f.session_id}: {f.reason}"[:200] for f in report.failed[:5]],
    }


def archive_bytes(home: Path) -> int:
    """Bytes of every ``.tar.zst`` under ``home/archive``."""
    return sum(p.stat().st_size for p in (Path(home) / "archive").rglob("*.tar.zst"))


def archive_by_kind(home: Path) -> dict[str, dict[str, int]]:
    """Per source kind: sessions, raw bytes and archive bytes, from the index."""
    db = sqlite3.connect(f"file:{Path(home) / 'archive_index.sqlite3'}?mode=ro", uri=True)
    try:
        rows = db.execute(
            "SELECT source, COUNT(*), SUM(original_size), SUM(archive_size) FROM sessions "
            "WHERE status != 'deleted' GROUP BY source ORDER BY source"
        ).fetchall()
    finally:
        db.close()
    return {r[0]: {"sessions": r[1], "input_bytes": r[2], "output_bytes": r[3]} for r in rows}


def gzip_by_kind(corpus: Path, work: Path, level: str = "-6") -> dict[str, dict[str, int]]:
    """Per source kind: corpus bytes and the bytes of its files gzip'd one by one
    (``gzip -6`` over a copy, as the gzip-6 anchor does)."""
    require("gzip")
    folder = work / "gzip-by-kind"
    if folder.exists():
        shutil.rmtree(folder)
    rels = []
    for path in corpus_files(corpus):
        rel = path.relative_to(corpus).as_posix()
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        rels.append(rel)
    subprocess.run(["gzip", level, "-r", "-q", str(folder)], check=True)
    out: dict[str, dict[str, int]] = {}
    for rel in rels:
        k = out.setdefault(kind_of(rel), {"files": 0, "input_bytes": 0, "output_bytes": 0})
        k["files"] += 1
        k["input_bytes"] += (Path(corpus) / rel).stat().st_size
        k["output_bytes"] += (folder / (rel + ".gz")).stat().st_size
    shutil.rmtree(folder, ignore_errors=True)
    return out


def zstd_dictionary(corpus: Path, work: Path, kind: str = "claude-code", level: int = 3) -> dict[str, Any]:
    """What a shared zstd dictionary would buy: the files of ``kind`` compressed one by
    one with ``zstd -<level>``, with and without a dictionary trained on them (110 KB,
    counted once in ``output_bytes``)."""
    require("zstd")
    files = [p for p in corpus_files(corpus) if kind_of(p.relative_to(corpus).as_posix()) == kind]
    folder = work / "zstd-dict"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    dictionary = folder / "claude.zdict"
    with Timer() as train:
        subprocess.run(
            ["zstd", "--train", "-q", "-o", str(dictionary), *map(str, files)],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    sizes = {}
    for variant, extra in (("plain", []), ("dict", ["-D", str(dictionary)])):
        copies = []
        for i, path in enumerate(files):
            copy = folder / variant / f"{i:06d}"
            copy.parent.mkdir(exist_ok=True)
            shutil.copyfile(path, copy)
            copies.append(copy)
        subprocess.run(["zstd", f"-{level}", "-T1", "-r", "-q", "--rm", *extra, str(folder / variant)], check=True)
        sizes[variant] = sum(c.with_name(c.name + ".zst").stat().st_size for c in copies)
    plain, with_dict = sizes["plain"], sizes["dict"]
    raw = sum(p.stat().st_size for p in files)
    dict_bytes = dictionary.stat().st_size
    shutil.rmtree(folder, ignore_errors=True)
    # The dictionary is stored once, so it counts once.
    total = with_dict + dict_bytes
    return {
        "files": len(files),
        "input_bytes": raw,
        "output_bytes": total,
        "ratio": round(raw / total, 3),
        "without_dict_bytes": plain,
        "dict_bytes": dict_bytes,
        "vs_without": round(total / plain, 3),
        "train_seconds": round(train.seconds, 3),
    }


def index_size(home: Path, name: str = "archive_index.sqlite3") -> dict[str, Any]:
    """The index file after a WAL checkpoint, and its pages per part (dbstat): the FTS5
    table, the text frames (``text_chunks``), the sessions table with its indexes, and
    the rest (free pages included)."""
    path = Path(home) / name
    db = sqlite3.connect(str(path))
    try:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        rows = db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall()
        tables = dict(db.execute("SELECT name, tbl_name FROM sqlite_schema").fetchall())
    finally:
        db.close()
    parts = {"fts_text": 0, "text_frames": 0, "sessions": 0, "other": 0}
    for part, size in rows:
        owner = tables.get(part, part)
        if part.startswith("fts_text"):
            parts["fts_text"] += size
        elif owner == "text_chunks":
            parts["text_frames"] += size
        elif owner == "sessions" or part.startswith("sqlite_autoindex_sessions"):
            parts["sessions"] += size
        else:
            parts["other"] += size
    return {"index_bytes": path.stat().st_size, **{f"{k}_bytes": v for k, v in parts.items()}}


def recompressed(home: Path, levels: tuple[int, ...] = (6, 9, 12)) -> dict[int, dict[str, Any]]:
    """What other zstd levels would give: every archive of the vault at ``home``
    decompressed and compressed again at each level (the same frame settings as the
    archive writer), per source kind and in total, with the compression speed."""
    import zstandard

    from termvault import archive as arc

    db = sqlite3.connect(f"file:{Path(home) / 'archive_index.sqlite3'}?mode=ro", uri=True)
    try:
        rows = db.execute(
            "SELECT archive_path, source, original_size FROM sessions WHERE status = 'archived'"
        ).fetchall()
    finally:
        db.close()
    kinds = {rel: kind for rel, kind, _ in rows}
    original = sum(size for _, _, size in rows)
    raw = {}
    for rel, kind in kinds.items():
        data = (Path(home) / "archive" / rel).read_bytes()
        raw[rel] = (kind, arc.decompressor_for(data[:18], rel).decompressobj().decompress(data))
    out: dict[int, dict[str, Any]] = {}
    for level in levels:
        params = zstandard.ZstdCompressionParameters.from_level(level, write_checksum=True)
        cctx = zstandard.ZstdCompressor(compression_params=params)
        by_kind: dict[str, int] = {}
        with Timer() as t:
            for kind, data in raw.values():
                by_kind[kind] = by_kind.get(kind, 0) + len(cctx.compress(data))
        size = sum(len(d) for _, d in raw.values())  # the tar streams: files, headers, manifests
        out[level] = {
            "input_bytes": original,
            "tar_bytes": size,
            "output_bytes": sum(by_kind.values()),
            "ratio": round(original / sum(by_kind.values()), 3),
            "seconds": round(t.seconds, 3),
            "cpu_seconds": round(t.cpu_seconds, 3),
            "mb_per_s": round(size / MB / t.seconds, 2),
            "claude_code_output_bytes": by_kind.get("claude-code", 0),
        }
    return out


def optimized_index_size(home: Path, work: Path) -> dict[str, Any]:
    """What merging the FTS5 segments would save: a copy of the index after
    ``INSERT INTO fts(fts) VALUES('optimize')`` on both full-text tables and VACUUM."""
    copy = work / "index-optimized.sqlite3"
    src = sqlite3.connect(f"file:{Path(home) / 'archive_index.sqlite3'}?mode=ro", uri=True)
    dst = sqlite3.connect(str(copy))
    try:
        src.backup(dst)
        with Timer() as t:
            for table in ("fts_text",):
                dst.execute(f"INSERT INTO {table} ({table}) VALUES ('optimize')")
            dst.commit()
            dst.execute("VACUUM")
    finally:
        src.close()
        dst.close()
    size = index_size(copy.parent, copy.name)
    copy.unlink()
    size["optimize_seconds"] = round(t.seconds, 3)
    return size


def run(corpus: Path, work: Path, results: dict[str, Any], say=print) -> Path:
    """Sweep the corpus with and without full text and measure sizes; returns the home
    of the full-text vault (kept for the search benchmark)."""
    from . import results as res

    work.mkdir(parents=True, exist_ok=True)
    homes = {True: work / "home-full-text", False: work / "home-no-full-text"}
    for full_text in (True, False):
        name = "termvault.sweep." + ("full_text" if full_text else "no_full_text")
        say(f"bench: {name} ...")
        values = res.add(results, name, sweep_corpus(corpus, homes[full_text], full_text))
        say(f"bench:   {values['seconds']:.2f} s, {values['mb_per_s']} MB/s, {values['failed']} failed")
    shutil.rmtree(homes[False], ignore_errors=True)
    home = homes[True]

    say("bench: termvault.sweep.level19 (no full text) ...")
    high = work / "home-level19"
    values = res.add(results, "termvault.sweep.level19", sweep_corpus(corpus, high, False, level=19))
    by_kind = archive_by_kind(high)
    values["claude_code_output_bytes"] = by_kind.get("claude-code", {}).get("output_bytes", 0)
    shutil.rmtree(high, ignore_errors=True)
    say(f"bench:   {values['seconds']:.2f} s, ratio {values['ratio']}")

    say("bench: archive sizes per kind (termvault vs gzip -6) ...")
    mine = archive_by_kind(home)
    try:
        gz = gzip_by_kind(corpus, work)
    except Exception as exc:
        say(f"bench:   no gzip sizes: {exc}")
        gz = {}
    say("bench: the archives recompressed at other zstd levels ...")
    xz = results["measurements"].get("anchor.cli.xz-9e_solid", {}).get("output_bytes")
    for level, values in recompressed(home).items():
        if "claude-code" in gz:
            values["claude_code_vs_gzip6"] = round(
                values["claude_code_output_bytes"] / gz["claude-code"]["output_bytes"], 3
            )
        if xz:
            values["vs_xz"] = round(values["output_bytes"] / xz, 3)
        res.add(results, f"experiment.archives_at_level_{level}", values)
    if "claude-code" in gz:
        high = results["measurements"]["termvault.sweep.level19"]
        high["claude_code_vs_gzip6"] = round(high["claude_code_output_bytes"] / gz["claude-code"]["output_bytes"], 3)
    for kind, values in mine.items():
        row = {
            "sessions": values["sessions"],
            "input_bytes": values["input_bytes"],
            "output_bytes": values["output_bytes"],
            "ratio": round(values["input_bytes"] / values["output_bytes"], 3) if values["output_bytes"] else 0.0,
        }
        if kind in gz:
            row["gzip6_bytes"] = gz[kind]["output_bytes"]
            row["vs_gzip6"] = round(values["output_bytes"] / gz[kind]["output_bytes"], 3)
        res.add(results, f"termvault.size.{kind}", row)
    for level in (3, 19):
        say(f"bench: zstd -{level} dictionary experiment (claude-code) ...")
        try:
            res.add(
                results, f"experiment.zstd-{level}_dictionary.claude-code", zstd_dictionary(corpus, work, level=level)
            )
        except Exception as exc:
            say(f"bench:   skipped: {exc}")
    size = index_size(home)
    size["archive_bytes"] = archive_bytes(home)
    size["index_to_archive"] = round(size["index_bytes"] / size["archive_bytes"], 3) if size["archive_bytes"] else 0.0
    size["fts_to_archive"] = (
        round((size["fts_text_bytes"] + size["text_frames_bytes"]) / size["archive_bytes"], 3)
        if size["archive_bytes"]
        else 0.0
    )
    res.add(results, "termvault.index_size", size)
    say("bench: the index with its full-text segments merged ...")
    merged = optimized_index_size(home, work)
    merged["index_to_archive"] = (
        round(merged["index_bytes"] / size["archive_bytes"], 3) if size["archive_bytes"] else 0.0
    )
    res.add(results, "experiment.index_size_after_fts_optimize", merged)
    return home
