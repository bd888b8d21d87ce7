"""Search latency (issue 5): full-text queries on the vault swept from the corpus and on a
vault holding ``target_raw`` bytes (2 GB by default) of session text, against rg over the
plain files and zgrep over gzip'd ones.

The large vault is built without sweeping 2 GB (which takes far too long here): its
index starts as a copy of the swept vault's index, then every swept session is added
again ``copies - 1`` times, each replica a row with the original's metadata (new session
id ``<id>-rNNN``, a made-up archive path, times moved by up to 15 days) inserted with
``ArchiveIndex.insert``, and the original's text, prepared once by
``termvault.index.fulltext.prepare`` (redaction and identifier extraction, as a sweep does),
indexed with ``ArchiveIndex.add_text`` (given that prepared text, as the sweep gives it). The planted
needle words are renamed in each replica (``<needle>rN``), so they keep the hit counts
the corpus summary names. The replicas have no archive files: latency is measured
without snippets there, and the snippet cost per hit on the swept vault, whose archives
exist.

rg runs over ``copies`` hard-linked copies of the corpus (the same bytes as 2 GB of
files, all in the page cache, as termvault's index is); zgrep is extrapolated linearly
from the anchor measured on the corpus (it scans everything, so it is linear).
"""

from __future__ import annotations

import collections
import dataclasses
import math
import os
import random
import re
import shutil
import sqlite3
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import anchors as an
from .anchors import Timer
from .corpus import corpus_files
from .results import emit

MB = 1e6
DAY = 86400.0
_PHRASE = re.compile(r"\b([a-z]{4,}) ([a-z]{4,})\b")
_CAMEL = re.compile(r"\b[a-z]+[A-Z][a-z]+[A-Z]\w+\b")
_PATH = re.compile(r"\bsrc/(\w+/\w+\.\w+)")


@dataclass
class Query:
    label: str
    text: str | None
    filters: dict[str, Any] = field(default_factory=dict)
    kind: str = "word"  # word, phrase, prefix, boolean, substring, filtered, metadata


def summary_words(summary: dict[str, Any]) -> dict[str, Any]:
    """The corpus summary's query words by role: needles (planted, counted), absent,
    common, frequent, rare, ident."""
    queries = summary.get("queries") or {}
    counted = [w for w, n in queries.items() if n]
    absent = [w for w, n in queries.items() if n == 0]
    uncounted = [w for w, n in queries.items() if n is None]
    roles = dict(zip(("common", "frequent", "rare", "ident"), uncounted))
    return {"needles": counted, "absent": absent[0] if absent else "zqxnothere0", "all": list(queries), **roles}


def build_queries(summary: dict[str, Any], texts: list[str], entries: list) -> list[Query]:
    """The query set: the summary's words, then phrases, prefixes, boolean expressions,
    identifier substrings and filtered queries drawn from the swept texts (first match
    in row order, so one corpus gives one query set)."""
    w = summary_words(summary)
    common, frequent = w.get("common", "function"), w.get("frequent", "error")
    rare, ident = w.get("rare", "session"), w.get("ident", "user_id")
    needles = w["needles"] or [rare]
    out = [Query(f"word {q}", q) for q in w["all"]]
    joined = "\n".join(texts[: min(len(texts), 200)])
    m = _PHRASE.search(joined[len(joined) // 3 :])
    out.append(Query("phrase", f'"{m.group(1)} {m.group(2)}"' if m else f'"{common} {frequent}"', kind="phrase"))
    out.append(Query("phrase (3 words)", f'"{common} {frequent} {rare}"', kind="phrase"))
    out.append(Query("prefix", frequent[: max(3, len(frequent) // 2)] + "*", kind="prefix"))
    out.append(Query("AND", f"{common} AND {rare}", kind="boolean"))
    out.append(Query("OR", f"{frequent} OR {needles[-1]}", kind="boolean"))
    out.append(Query("NOT", f"{common} NOT {frequent}", kind="boolean"))
    out.append(Query("group", f"({rare} OR {needles[0]}) AND {common}", kind="boolean"))
    camel = collections.Counter(t for text in texts for t in _CAMEL.findall(text))
    if camel:
        token = min(camel.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        out.append(Query("camelCase substring", token[1:-1], kind="substring"))
    out.append(Query("snake_case substring", ident[2:-2] if len(ident) > 6 else ident, kind="substring"))
    path = next((m.group(1) for text in texts for m in [_PATH.search(text)] if m), None)
    if path:
        out.append(Query("path substring", path[2:-1], kind="substring"))  # keeps the slash
    times = sorted(e.last_activity_at for e in entries if e.last_activity_at)
    median = times[len(times) // 2] if times else time.time()
    folder = next((e.working_directory for e in entries if e.working_directory), "")
    out.append(Query("word + source", frequent, {"source": "claude-code"}, kind="filtered"))
    out.append(Query("word + after", common, {"after": median}, kind="filtered"))
    if folder:
        out.append(Query("word + dir", rare, {"working_dir": folder.rsplit("/", 1)[-1]}, kind="filtered"))
    name = next((e.name.split()[0] for e in entries if e.name and e.source == "native"), "")
    if name:
        out.append(Query("metadata: name", None, {"name": name[:6]}, kind="metadata"))
    return out


def _pct(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    k = (len(s) - 1) * p
    lo, hi = math.floor(k), math.ceil(k)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def time_queries(vault, queries: list[Query], reps: int = 5, snippets: bool = False) -> dict[str, Any]:
    """Each query once to warm up, then ``reps`` timed ``vault.search`` calls. Per query
    its median and hit count; over every timed call p50, p95 and max (ms)."""
    per: dict[str, dict[str, Any]] = {}
    every: list[float] = []
    with Timer() as t:
        for q in queries:
            vault.search(q.text, snippets=snippets, **q.filters)
            runs = []
            hits = 0
            for _ in range(reps):
                t0 = time.perf_counter()
                found = vault.search(q.text, snippets=snippets, **q.filters)
                runs.append((time.perf_counter() - t0) * 1000)
                hits = len(found)
            every += runs
            per[q.label] = {
                "query": q.text,
                "filters": {k: v for k, v in q.filters.items()},
                "kind": q.kind,
                "hits": hits,
                "median_ms": round(statistics.median(runs), 2),
            }
    return {
        "queries": len(queries),
        "reps": reps,
        "p50_ms": round(_pct(every, 0.5), 2),
        "p95_ms": round(_pct(every, 0.95), 2),
        "max_ms": round(max(every), 2) if every else 0.0,
        "seconds": round(t.seconds, 3),
        "cpu_seconds": round(t.cpu_seconds, 3),
        "per_query": per,
    }


def snippet_cost(vault, queries: list[Query], reps: int = 3) -> dict[str, Any]:
    """Extra time of ``snippets=True`` per hit shown (each hit's frame, a few KB, is
    decompressed), from the medians of ``reps`` calls with and without."""
    extra_ms = 0.0
    shown = 0
    per_hit: list[float] = []
    for q in queries:
        if not q.text:
            continue
        timings = {}
        for snip in (False, True):
            vault.search(q.text, snippets=snip, **q.filters)
            runs = []
            for _ in range(reps):
                t0 = time.perf_counter()
                found = vault.search(q.text, snippets=snip, **q.filters)
                runs.append((time.perf_counter() - t0) * 1000)
            timings[snip] = (statistics.median(runs), len(found))
        hits = timings[True][1]
        if hits:
            extra = max(0.0, timings[True][0] - timings[False][0])
            extra_ms += extra
            shown += hits
            per_hit.append(extra / hits)
    return {
        "hits_shown": shown,
        "ms_per_hit": round(extra_ms / shown, 2) if shown else 0.0,
        "ms_per_hit_p95": round(_pct(per_hit, 0.95), 2),
        "ms_for_50_hits": round(50 * extra_ms / shown, 1) if shown else 0.0,
    }


# -- the large vault --------------------------------------------------------------------


def replica(entry, copy: int, rng: random.Random):
    """``entry`` as replica number ``copy``: new id and archive path, times moved back by
    up to 15 days (so no replica lies in the future)."""
    shift = rng.uniform(-15, 0) * DAY

    def moved(t):
        return None if t is None else t + shift

    return dataclasses.replace(
        entry,
        session_id=f"{entry.session_id}-r{copy:03d}",
        archive_path=f"replica/{copy:03d}/{entry.archive_path}",
        row_id=None,
        original_timestamp=moved(entry.original_timestamp),
        last_activity_at=moved(entry.last_activity_at),
        created_at=moved(entry.created_at),
        pinned=False,
        meta=dict(entry.meta),
    )


def _renamed(text: str, needles: list[str], copy: int) -> str:
    for n in needles:
        text = text.replace(n, f"{n}r{copy}")
    return text


def build_large(
    small_home: Path, large_home: Path, target_raw: int, needles: list[str], seed: int = 1, say=print
) -> dict[str, Any]:
    """Build the large vault at ``large_home`` (see the module docstring); returns how."""
    from termvault.index import ArchiveIndex
    from termvault.ops.text import parse
    from termvault.streams import close_refs
    from termvault.vault import Vault

    if large_home.exists():
        shutil.rmtree(large_home)
    large_home.mkdir(parents=True, mode=0o700)
    small = Vault(small_home)
    try:
        src = sqlite3.connect(str(small.config.index_path))
        dst = sqlite3.connect(str(large_home / "archive_index.sqlite3"))
        src.backup(dst)
        src.close()
        dst.close()
        os.chmod(large_home / "archive_index.sqlite3", 0o600)
        entries = [e for e in small.index.all_rows() if e.status == "archived"]
        sources: list[tuple[list[Any], str]] = []
        with Timer() as prep:
            for e in entries:  # each session's conversation (as the sweep reads it) and text
                refs = small.store.refs(e)
                try:
                    kind = small.ctx.sources.get(e.source)
                    sources.append((list(kind.messages(refs)), parse(kind, refs, None).text))
                finally:
                    close_refs(refs)
            prepared = [_prepare(turns, text) for turns, text in sources]
    finally:
        small.close()
    # Only sessions holding a planted needle are prepared again for each copy (renamed).
    with_needle = [any(n in text or any(n in m.text for m in turns) for n in needles) for turns, text in sources]
    raw_small = sum(e.original_size_bytes for e in entries)
    copies = max(1, math.ceil(target_raw / raw_small)) if raw_small else 1
    index = ArchiveIndex(large_home / "archive_index.sqlite3")
    text_bytes = 0
    with Timer() as t:
        for c in range(1, copies):
            rng = random.Random(seed * 1000 + c)
            with index.transaction():
                for e, (turns, text), base, needle in zip(entries, sources, prepared, with_needle, strict=True):
                    p = base
                    if needle:
                        renamed = [dataclasses.replace(m, text=_renamed(m.text, needles, c)) for m in turns]
                        p = _prepare(renamed, _renamed(text, needles, c))
                    r = replica(e, c, rng)
                    index.insert(r)
                    index.add_text(r, p)
                    text_bytes += p.chars
            if c % 10 == 0:
                say(f"bench:   {c}/{copies - 1} replicas")
        index.settle()
    index.close()
    return {
        "copies": copies,
        "sessions": len(entries) * copies,
        "input_bytes": raw_small * copies,
        "text_bytes_per_copy": sum(p.chars for p in prepared),
        "prepare_seconds": round(prep.seconds, 3),
        "seconds": round(t.seconds, 3),
        "cpu_seconds": round(t.cpu_seconds, 3),
        "text_mb_per_s": round(text_bytes / MB / t.seconds, 2) if t.seconds else 0.0,
    }


def _prepare(turns: list[Any], text: str):
    """``ops.text.prepare_text`` given the conversation and the parser's text."""
    from termvault.index import fulltext

    if any(m.role in ("user", "assistant", "tool", "tool_result") for m in turns):
        return fulltext.prepare(turns)
    return fulltext.prepare(text)


def latency_by_limit(
    vault, queries: list[Query], limits: tuple[int, ...] = (1, 20, 50), reps: int = 5
) -> dict[str, Any]:
    """p50 / p95 (ms) of the text queries with snippets at each ``--limit``: snippets
    come from the index's frames, so the cost should not grow with the hits shown."""
    out: dict[str, Any] = {}
    text_queries = [q for q in queries if q.text]
    for limit in limits:
        runs: list[float] = []
        for q in text_queries:
            vault.search(q.text, limit=limit, **q.filters)
            for _ in range(reps):
                t0 = time.perf_counter()
                vault.search(q.text, limit=limit, **q.filters)
                runs.append((time.perf_counter() - t0) * 1000)
        out[f"limit_{limit}"] = {"p50_ms": round(_pct(runs, 0.5), 2), "p95_ms": round(_pct(runs, 0.95), 2)}
    first, last = out[f"limit_{limits[0]}"]["p50_ms"], out[f"limit_{limits[-1]}"]["p50_ms"]
    out["p50_ratio_last_to_first"] = round(last / first, 2) if first else 0.0
    return out


def rg_at_scale(corpus: Path, work: Path, copies: int, words: list[str]) -> dict[str, Any]:
    """rg (or grep) over ``copies`` hard-linked copies of the corpus, after one warm-up
    pass; ms per word."""
    farm = work / "rg-farm"
    if farm.exists():
        shutil.rmtree(farm)
    files = corpus_files(corpus)
    for c in range(copies):
        for path in files:
            target = farm / f"c{c:03d}" / path.relative_to(corpus)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(path, target)
    tool = an.plain_search_tool()
    an.search_plain(farm, words[:1], tool)  # warm the page cache and rg's start-up
    out = an.search_plain(farm, words, tool)
    out["tool"] = tool
    shutil.rmtree(farm, ignore_errors=True)
    return out


def run(
    corpus: Path,
    small_home: Path,
    work: Path,
    results: dict[str, Any],
    summary: dict[str, Any],
    target_raw: int = 2_000_000_000,
    reps: int = 5,
    say=print,
) -> None:
    """Measure search on the swept vault and on the large vault; add the results."""
    from termvault.vault import Vault

    from . import results as res
    from .termvault_bench import index_size

    vault = Vault(small_home)
    try:
        entries = [e for e in vault.index.all_rows() if e.status == "archived"]
        texts = [vault.searchable_text(e) for e in entries[:400]]
        queries = build_queries(summary, texts, entries)
        say(f"bench: search on the swept vault ({len(queries)} queries x {reps}) ...")
        small = time_queries(vault, queries, reps)
        small["input_bytes"] = sum(e.original_size_bytes for e in entries)
        small["sessions"] = len(entries)
        res.add(results, "termvault.search.swept_vault", small)
        say(f"bench:   p50 {small['p50_ms']} ms, p95 {small['p95_ms']} ms")
        say("bench: snippet cost per hit ...")
        res.add(results, "termvault.search.snippets", snippet_cost(vault, queries, reps=max(1, reps // 2)))
    finally:
        vault.close()

    words = summary_words(summary)
    say(f"bench: building a vault of {target_raw / 1e9:g} GB raw session text ...")
    large_home = work / "home-large"
    built = build_large(small_home, large_home, target_raw, words["needles"], say=say)
    res.add(results, "termvault.search.large_vault_build", built)
    say(f"bench:   {built['copies']} copies, {built['sessions']:,} sessions in {built['seconds']:.1f} s")
    large = Vault(large_home)
    try:
        say(f"bench: search on the large vault ({len(queries)} queries x {reps}) ...")
        big = time_queries(large, queries, reps)
        big["input_bytes"] = built["input_bytes"]
        big["sessions"] = built["sessions"]
        res.add(results, "termvault.search.large_vault", big)
        say(f"bench:   p50 {big['p50_ms']} ms, p95 {big['p95_ms']} ms")
        by_limit = latency_by_limit(large, queries, reps=max(1, reps // 2))
        res.add(results, "termvault.search.large_vault_by_limit", by_limit)
        say(f"bench:   with snippets, p50 at --limit 1/20/50: {[v['p50_ms'] for v in list(by_limit.values())[:3]]} ms")
    finally:
        large.close()
    size = index_size(large_home)
    res.add(results, "termvault.search.large_vault_index", size)
    shutil.rmtree(large_home, ignore_errors=True)

    same = [q for q in queries if q.label.startswith("word ")]
    for name, where in (("swept_vault", small), ("large_vault", big)):
        ms = [where["per_query"][q.label]["median_ms"] for q in same]
        results["measurements"][f"termvault.search.{name}"]["anchor_words_ms_per_query"] = (
            round(sum(ms) / len(ms), 2) if ms else 0.0
        )
    say(f"bench: {an.plain_search_tool()} over {built['copies']} hard-linked copies of the corpus ...")
    try:
        scaled = rg_at_scale(corpus, work, built["copies"], words["all"])
        zg = results["measurements"].get("anchor.search.zgrep_gzip6")
        if zg:
            scaled["zgrep_ms_per_query_extrapolated"] = round(zg["ms_per_query"] * built["copies"], 1)
        res.add(results, f"anchor.search.{scaled.pop('tool')}_at_large_vault_size", scaled)
    except an.ToolMissing as exc:
        say(f"bench:   skipped: {exc}")


# -- a home built from the real corpus ------------------------------------------------------
REAL_QUERIES: list[tuple[str, str, dict[str, Any]]] = [
    ("word", "error", {}),
    ("word (common)", "function", {}),
    ("word (absent)", "walrus", {}),
    ("phrase", '"the test"', {}),
    ("path", "src/app/api", {}),
    ("dotted", "Next.js", {}),
    ("CJK", "最新", {}),
    ("identifier", "useEffect", {}),
    ("substring", "Effect", {}),
    ("prefix", "deplo*", {}),
    ("boolean", "npm AND install", {}),
    ("role user", "component", {"role": ["user"]}),
    ("tool Bash", "error", {"tool": "Bash"}),
    ("fuzzy", "fucntion", {"fuzzy": True}),
    ("regex", r"use[A-Z]\w+\(", {"regex": True}),
]


def real_home_latency(work: Path, target_mb: int = 250, reps: int = 5, say=print) -> dict[str, Any]:
    """The real corpus's Claude Code sessions swept into a vault, replicated to
    ``target_mb`` MB of session files, then each query of ``REAL_QUERIES`` at --limit
    1/20/50 with snippets (p50 / p95 ms, in-process)."""
    from termvault.vault import Vault

    from .real_corpus import default_corpus, place

    roots = place(default_corpus(), work / "user")
    small_home = work / "home"
    with Vault(
        small_home, settle_seconds=0, archive_days=0, sources={"claude-code": {"roots": roots["claude-code"]}}
    ) as v:
        report = v.sweep(older_than=0, kinds=["claude-code"])
    say(f"bench: swept {len(report.archived)} Claude Code sessions; building {target_mb} MB ...")
    large_home = work / "home-large"
    built = build_large(small_home, large_home, target_mb * 1_000_000, [], say=say)
    queries = [Query(label, text, filters) for label, text, filters in REAL_QUERIES]
    with Vault(large_home) as large:
        by_limit = latency_by_limit(large, queries, reps=reps)
        per = time_queries(large, queries, reps=reps, snippets=True)
    size = (large_home / "archive_index.sqlite3").stat().st_size
    return {
        "large_vault": {k: built[k] for k in ("copies", "sessions", "input_bytes", "seconds")},
        "index_bytes": size,
        "by_limit": by_limit,
        "per_query_limit_50_ms": {k: (v["median_ms"], v["hits"]) for k, v in per["per_query"].items()},
    }


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.search_bench [--target-mb 250] [--json FILE]``"""
    import argparse
    import tempfile

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--target-mb", type=int, default=250)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        out = real_home_latency(Path(tmp), args.target_mb, args.reps)
    return emit(out, args.json)


if __name__ == "__main__":
    raise SystemExit(main())
