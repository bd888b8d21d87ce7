"""Command line of the benchmark harness.

    python -m bench corpus  --out DIR [--seed 1] [--size 50MB | --scale large] [--now EPOCH|now]
    python -m bench anchors --corpus DIR [--json OUT.json] [--skip xz,zgrep] [--entries 100000]
    python -m bench all     [--quick] [--size 50MB] [--seed 1] [--json bench/results/NAME.json] [--keep DIR]
    python -m bench table   RESULTS.json
    python -m bench report  RESULTS.json

``all`` generates a corpus in a temporary folder, measures the anchors and termvault on
it (sweep, sizes, profile, search, scale, restore, memory, import time) and writes
``bench/results/all-<size>-seed<seed>.json`` plus the targets and a markdown table.
``--quick`` shrinks every step (10 MB corpus, 200 MB search vault, 20,000 sessions,
200 MB memory session). ``report`` prints a results file as the sections of
BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import anchors as an
from . import results as res
from .corpus import PRESETS, SUMMARY_NAME, generate, size_of

ANCHOR_STEPS = ("old-app", "gzip-6", "zstd-3", "zstd-19", "xz", "zgrep", "plain", "json-index")
TERMVAULT_STEPS = ("sweep", "profile", "search", "scale", "import", "restore", "memory")


@dataclass(frozen=True)
class Plan:
    """How big each termvault step is."""

    size: str = "50MB"  # the corpus
    search_raw: int = 2_000_000_000  # raw session bytes behind the large search vault
    sessions: int = 100_000  # the scale vault
    memory: int = 2_000_000_000  # the big session of the memory step
    restore: int = 10_000_000  # the session of the restore step
    reps: int = 5


FULL = Plan()
QUICK = Plan(size="10MB", search_raw=200_000_000, sessions=20_000, memory=200_000_000, reps=3)
# Used when a corpus has no summary naming its query words.
FALLBACK_QUERIES = ["function", "error", "session", "zqxabsent0"]


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _corpus_step(out: Path, seed: int, size: int, now: float | None, results: dict[str, Any]) -> dict[str, Any]:
    _say(f"bench: generating a {size / 1e6:,.0f} MB corpus (seed {seed}) in {out} ...")
    summary = generate(out, seed=seed, total_bytes=size, now=now)
    (out / SUMMARY_NAME).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    res.add(
        results,
        "corpus.generate",
        {key: summary[key] for key in ("files", "seconds", "cpu_seconds", "mb_per_s", "cpu_mb_per_s")}
        | {"output_bytes": summary["bytes"]},
    )
    results["meta"]["corpus"] = summary
    _say(
        f"bench: {summary['files']:,} files, {summary['bytes'] / 1e6:,.1f} MB in {summary['seconds']:.1f} s "
        f"({summary['mb_per_s']} MB/s)"
    )
    return summary


def run_anchors(
    corpus: Path,
    work: Path,
    results: dict[str, Any],
    queries: list[str],
    entries: int = 100_000,
    skip: frozenset[str] = frozenset(),
) -> None:
    """Measure every anchor not in ``skip`` into ``results``; a missing tool skips its
    anchors with a message naming bench/requirements.sh."""
    skipped: dict[str, str] = results["meta"].setdefault("skipped", {})

    def step(key: str, name: str, fn: Callable[[], dict[str, Any]]) -> None:
        if key in skip:
            return
        _say(f"bench: {name} ...")
        try:
            values = fn()
        except an.ToolMissing as exc:
            _say(f"bench: skipping {name}: {exc}")
            skipped[name] = str(exc)
            return
        res.add(results, name, values)
        _say(f"bench:   {values.get('seconds', 0):.2f} s")

    step("old-app", "anchor.old_app.gzip9_json_index", lambda: an.old_app_archive(corpus, work / "old-app"))
    shutil.rmtree(work / "old-app", ignore_errors=True)
    for codec in ("gzip-6", "zstd-3", "zstd-19"):
        step(codec, f"anchor.cli.{codec}", lambda c=codec: an.cli_compress(corpus, work, c))
        if codec != "gzip-6":
            shutil.rmtree(work / codec, ignore_errors=True)
    step("xz", "anchor.cli.xz-9e_solid", lambda: an.xz_solid(corpus, work))
    if (work / "gzip-6").is_dir():
        step("zgrep", "anchor.search.zgrep_gzip6", lambda: an.search_zgrep(work / "gzip-6", queries))
    elif "zgrep" not in skip:
        skipped["anchor.search.zgrep_gzip6"] = "needs the gzip-6 step"
    shutil.rmtree(work / "gzip-6", ignore_errors=True)
    tool = an.plain_search_tool()
    if tool != "rg":
        _say(f"bench: rg is not installed, searching with grep -r (install rg with: sudo sh {an.REQUIREMENTS})")
    step("plain", f"anchor.search.{tool}", lambda: an.search_plain(corpus, queries, tool))
    step("json-index", f"anchor.json_index.{entries}", lambda: an.json_index_scale(work, entries))


def run_termvault(
    corpus: Path, work: Path, results: dict[str, Any], plan: Plan, skip: frozenset[str] = frozenset()
) -> None:
    """Every termvault step not in ``skip``; a step that fails is recorded in
    ``meta.errors`` and the others still run."""
    from . import memory, profile_sweep, scale, search_bench, termvault_bench

    errors: dict[str, str] = results["meta"].setdefault("errors", {})
    summary = results["meta"].get("corpus") or {}
    work.mkdir(parents=True, exist_ok=True)
    home: Path | None = None

    def step(key: str, fn: Callable[[], Any]) -> Any:
        if key in skip:
            return None
        started = time.perf_counter()
        try:
            return fn()
        except Exception as exc:
            _say(f"bench: step {key} failed: {exc}")
            errors[key] = f"{type(exc).__name__}: {exc}"
            traceback.print_exc()
            return None
        finally:
            results["meta"].setdefault("step_seconds", {})[key] = round(time.perf_counter() - started, 1)

    home = step("sweep", lambda: termvault_bench.run(corpus, work, results, _say))

    def profile() -> None:
        _say("bench: profiling one sweep (cProfile) ...")
        results["profile"] = profile_sweep.profile_sweep(corpus, work / "home-profile")
        shutil.rmtree(work / "home-profile", ignore_errors=True)

    step("profile", profile)
    if home is not None:
        step("search", lambda: search_bench.run(corpus, home, work, results, summary, plan.search_raw, plan.reps, _say))
    elif "search" not in skip:
        errors["search"] = "needs the sweep step"
    step("scale", lambda: scale.run(corpus, work, results, plan.sessions, plan.reps, _say))

    def imports() -> None:
        _say("bench: import time ...")
        res.add(results, "termvault.import", scale.import_time(work / "pycache", 4 * plan.reps))

    step("import", imports)

    def restore() -> None:
        _say(f"bench: restoring a {plan.restore / 1e6:g} MB session ...")
        values = res.add(results, "termvault.restore", memory.restore_bench(work, plan.restore, plan.reps))
        _say(f"bench:   {values['median_ms']} ms")

    step("restore", restore)

    def peak() -> None:
        _say(f"bench: peak memory with a {plan.memory / 1e9:g} GB session ...")
        res.add(results, "termvault.memory", memory.memory_bench(work, plan.memory, _say))

    step("memory", peak)
    if home is not None:
        shutil.rmtree(home, ignore_errors=True)


def _queries(corpus: Path, given: str | None) -> list[str]:
    if given:
        return [q for q in given.split(",") if q]
    summary = corpus / SUMMARY_NAME
    if summary.is_file():
        return list(json.loads(summary.read_text(encoding="utf-8")).get("queries", {})) or FALLBACK_QUERIES
    return FALLBACK_QUERIES


def _now(value: str | None) -> float | None:
    if value is None:
        return None
    return time.time() if value == "now" else float(value)


def _size_arg(args: argparse.Namespace) -> int:
    return size_of(args.scale or args.size)


def cmd_corpus(args: argparse.Namespace) -> int:
    results = res.new_results()
    _corpus_step(Path(args.out), args.seed, _size_arg(args), _now(args.now), results)
    print(json.dumps(results["meta"]["corpus"], indent=2))
    return 0


def _finish(results: dict[str, Any], json_out: Path | None) -> None:
    from . import targets

    results["meta"]["load_average_end"] = res.load_average()
    start, end = results["meta"].get("source") or {}, res.source_state()
    if start and any(start.get(k) != end.get(k) for k in ("src_tree", "src_changed")):
        # termvault changed under the run: later steps may have measured other code.
        results["meta"]["source_at_end"] = end
    results["targets"] = targets.check(results)
    if json_out:
        _say(f"bench: results written to {res.save(results, json_out)}")
    print(res.markdown_table(results))
    print()
    print(targets.markdown(results["targets"]))


def cmd_anchors(args: argparse.Namespace) -> int:
    corpus = Path(args.corpus)
    if not corpus.is_dir():
        _say(f"bench: {corpus} is not a folder")
        return 2
    results = res.new_results(tools=an.tool_versions())
    summary = corpus / SUMMARY_NAME
    if summary.is_file():
        results["meta"]["corpus"] = json.loads(summary.read_text(encoding="utf-8"))
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="bench-anchors-"))
    try:
        run_anchors(corpus, work, results, _queries(corpus, args.queries), args.entries, _skip(args.skip))
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    _finish(results, Path(args.json) if args.json else None)
    return 0


def cmd_all(args: argparse.Namespace) -> int:
    plan = QUICK if args.quick else FULL
    size = size_of(args.scale or args.size or plan.size)
    skip = _skip(args.skip)
    entries = args.entries if args.entries is not None else plan.sessions
    results = res.new_results(tools=an.tool_versions(), mode="quick" if args.quick else "full")
    tmp = Path(tempfile.mkdtemp(prefix="bench-all-"))
    corpus = Path(args.keep) if args.keep else tmp / "corpus"
    started = time.perf_counter()
    try:
        if args.keep and (corpus / SUMMARY_NAME).is_file():
            _say(f"bench: reusing the corpus in {corpus}")
            results["meta"]["corpus"] = json.loads((corpus / SUMMARY_NAME).read_text(encoding="utf-8"))
        else:
            _corpus_step(corpus, args.seed, size, _now(args.now), results)
        run_anchors(
            corpus, tmp / "work", results, _queries(corpus, args.queries), entries, skip & frozenset(ANCHOR_STEPS)
        )
        run_termvault(corpus, tmp / "termvault", results, plan, skip & frozenset(TERMVAULT_STEPS))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    results["meta"]["total_seconds"] = round(time.perf_counter() - started, 1)
    suffix = "-quick" if args.quick else ""
    json_out = (
        Path(args.json) if args.json else res.RESULTS_DIR / f"all-{size / 1e6:.0f}MB-seed{args.seed}{suffix}.json"
    )
    _finish(results, json_out)
    return 0


def cmd_table(args: argparse.Namespace) -> int:
    print(res.markdown_table(res.load(Path(args.results))))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from .report import report

    print(report(res.load(Path(args.results))), end="")
    return 0


def _skip(value: str | None) -> frozenset[str]:
    names = frozenset(s.strip() for s in (value or "").split(",") if s.strip())
    known = (*ANCHOR_STEPS, *TERMVAULT_STEPS)
    unknown = names - set(known)
    if unknown:
        raise SystemExit(f"bench: unknown --skip {', '.join(sorted(unknown))}; known: {', '.join(known)}")
    return names


def _size_options(p: argparse.ArgumentParser, default_size: str | None = "50MB") -> None:
    p.add_argument("--seed", type=int, default=1, help="corpus seed (same seed, same bytes)")
    p.add_argument(
        "--size", default=default_size, help="corpus size, e.g. 2MB, 50MB, 1GB (default 50MB; 10MB with --quick)"
    )
    p.add_argument(
        "--scale",
        choices=sorted(PRESETS),
        help="a size preset: " + ", ".join(f"{k}={v / 1e6:g}MB" for k, v in PRESETS.items()),
    )
    p.add_argument(
        "--now",
        help="the instant sessions end before: UNIX seconds or 'now' "
        "(default a fixed date, so a seed always gives the same corpus)",
    )


def _anchor_options(p: argparse.ArgumentParser, with_termvault: bool = False) -> None:
    p.add_argument("--queries", help="comma-separated search words (default: the corpus summary's)")
    p.add_argument(
        "--entries",
        type=int,
        default=None if with_termvault else 100_000,
        help="entries of the JSON-index anchor (default 100000; 20000 with --quick)",
    )
    p.add_argument(
        "--skip", help="steps to leave out: " + ",".join(ANCHOR_STEPS + (TERMVAULT_STEPS if with_termvault else ()))
    )
    p.add_argument("--json", help="write the results document here")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m bench", description="termvault benchmark harness")
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("corpus", help="generate a seeded synthetic corpus")
    p.add_argument("--out", required=True, help="folder to create (absent or empty)")
    _size_options(p)
    p.set_defaults(fn=cmd_corpus)
    p = sub.add_parser("anchors", help="measure the anchors on a corpus")
    p.add_argument("--corpus", required=True)
    p.add_argument("--work", help="scratch folder (default: a temporary one, removed after)")
    _anchor_options(p)
    p.set_defaults(fn=cmd_anchors)
    p = sub.add_parser("all", help="generate a corpus and run every measurement")
    p.add_argument("--keep", help="generate the corpus here and keep it (a corpus already there is reused)")
    p.add_argument("--quick", action="store_true", help="smaller everything: a few minutes instead of ~15")
    _size_options(p, default_size=None)
    _anchor_options(p, with_termvault=True)
    p.set_defaults(fn=cmd_all)
    p = sub.add_parser("table", help="print a results file as a markdown table")
    p.add_argument("results")
    p.set_defaults(fn=cmd_table)
    p = sub.add_parser("report", help="print a results file as the sections of BENCHMARKS.md")
    p.add_argument("results")
    p.set_defaults(fn=cmd_report)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
