"""What a growing transcript costs: one real Claude Code transcript from the corpus,
grown in N equal steps and swept after each (copy mode), against its final version
archived alone in the same run at the same level.

    python -m bench.deltas_bench [--steps 10,200] [--corpus DIR] [--json bench/results/deltas.json]

For each N it reports the bytes of all the versions' archives over the final version's
alone (and how much of them are the tails themselves, how much each unit's header), the
sweep time (CPU and wall) of the steps at 5%, 50% and 100% of the growth (step 10, 100
and 200 of 200: a sweep should cost what was appended, not the file's size), the same
sweeps with full text off, and the time to restore the newest version from its chain
against restoring a unit stored whole. The anchor row stores every version whole
(``delta_max_links = 0``), as termvault did before.

``split`` is the CPU of those sweeps by part, measured inside the sweep (exclusive
times: a part's figure leaves out the parts it calls): reading the file (its hash, and
the parse and full-text preparation of the appended records, ``ops.resume``, or of the
whole file when it is read whole), compressing the tail, indexing the text, merging the
full-text index (``settle``), and the catch-up that lists the archive folder before a
write. ``costs`` measures one step's parts apart at those sizes, best of 5: hash the
whole file, parse it whole and prepare its full text whole (what a sweep did before it
resumed), the same two for the appended part only (what it does now), and compress the
appended tail against the window before it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from termvault.archive import tailunit
from termvault.archive.format import tail_compressor
from termvault.index import fulltext
from termvault.index.entries import ArchiveIndex
from termvault.ops import consistency, deltas, resume
from termvault.ops import sweep as sweep_ops
from termvault.ops.text import parse
from termvault.sources import source_class
from termvault.sources.base import make_unit
from termvault.streams import BytesRef, HashingDiskFile
from termvault.vault import Vault

TRANSCRIPT = (
    "claude_code_jsonl/aistrad__work__.claude__projects__-home-aiscend-work__2141d089-12fa-4a19-81f0-f622d6cb0407.jsonl"
)
SID = "2141d089-12fa-4a19-81f0-f622d6cb0407"
LEVEL = 6
DAY = 86400.0


def corpus_dir(given: str | None) -> Path:
    if given:
        return Path(given)
    if os.environ.get("TERMVAULT_CORPUS"):
        return Path(os.environ["TERMVAULT_CORPUS"])
    return Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"


def _home(root: Path, **settings: Any) -> tuple[Path, Path]:
    projects = root / "user" / ".claude" / "projects"
    path = projects / "-home-me-proj" / f"{SID}.jsonl"
    path.parent.mkdir(parents=True)
    home = root / "home"
    home.mkdir(mode=0o700)
    lines = [f"{k} = {json.dumps(v)}" for k, v in {"settle_seconds": 0, "level": LEVEL, **settings}.items()]
    lines += ["[sources.claude-code]", f"roots = [{json.dumps(str(projects))}]", 'mode = "copy"']
    (home / "config.toml").write_text("\n".join(lines) + "\n")
    return home, path


def grow(root: Path, data: bytes, steps: int, **settings: Any) -> dict[str, Any]:
    """Grow ``data`` in ``steps`` equal steps, sweeping after each; sizes and times."""
    home, path = _home(root, **settings)
    stamp = time.time() - 40 * DAY
    times, cpu = [], []
    resume.forget()  # a state kept from another run must not help this one
    with Vault(home) as v, Timer() as timer:
        for i in range(1, steps + 1):
            timer.step()
            path.write_bytes(data[: len(data) * i // steps])
            stamp += 60
            os.utime(path, (stamp, stamp))
            t0, c0 = time.perf_counter(), time.process_time()
            report = v.sweep(older_than=0, kinds=["claude-code"])
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
            if report.failed:
                raise RuntimeError(report.failed[0].reason)
        rows = v.index.versions(SID)
        restore = _restore_seconds(v, rows[-1].version, root / "out")
        headers = sum(_header_bytes(v.archive_file(e)) for e in rows)
    tenth = max(1, steps // 10)
    split = {str(k): {part: _around(v, k) for part, v in timer.steps.items()} for k in _marks(steps)}
    return {
        "steps": steps,
        "versions": len(rows),
        "archive_bytes": sum(e.size_bytes for e in rows),
        "tail_unit_headers": headers,
        "sweep_s_first_tenth": statistics.mean(times[:tenth]),
        "sweep_s_last_tenth": statistics.mean(times[-tenth:]),
        "sweep_cpu_s_first_tenth": statistics.mean(cpu[:tenth]),
        "sweep_cpu_s_last_tenth": statistics.mean(cpu[-tenth:]),
        # The steps at 5%, 50% and 100% of the growth (10, 100, 200 of 200), each the
        # median of it and the four steps before it.
        "sweep_at_step": {str(k): _around(times, k) for k in _marks(steps)},
        "sweep_cpu_at_step": {str(k): _around(cpu, k) for k in _marks(steps)},
        "sweep_cpu_split_at_step": split,
        "sweep_s_total": sum(times),
        "restore_newest_s": restore,
    }


def _marks(steps: int) -> list[int]:
    return sorted({max(1, steps // 20), max(1, steps // 2), steps})


def _around(values: list[float], step: int) -> float:
    """The median of steps ``step - 4`` to ``step`` (``values[0]`` is step 1)."""
    return statistics.median(values[max(0, step - 5) : step])


def _header_bytes(path: Path) -> int:
    """The bytes of a tail unit's header (skippable frame), 0 for any other unit."""
    with path.open("rb") as fh:
        head = fh.read(8)
    return 8 + struct.unpack("<I", head[4:8])[0] if tailunit.is_tail_unit(head) else 0


def costs(data: bytes, steps: int, home: Path) -> list[dict[str, Any]]:
    """One step's CPU at 5%, 50% and 100% of the growth, split by what it does."""
    src = source_class("claude-code")([], home=home)
    rel = f"-home-me-proj/{SID}.jsonl"
    out = []
    for k in _marks(steps):
        prefix, before = data[: len(data) * k // steps], data[: len(data) * (k - 1) // steps]
        row: dict[str, Any] = {"step": k, "file_bytes": len(prefix), "appended_bytes": len(prefix) - len(before)}
        row["hash_s"] = _cpu(lambda p=prefix: hashlib.sha256(p).hexdigest())
        info = parse(src, [BytesRef(rel, prefix)], None)
        row["parse_whole_s"] = _cpu(lambda p=prefix: parse(src, [BytesRef(rel, p)], None))
        row["full_text_whole_s"] = _cpu(lambda t=info.text: fulltext.prepare(t))
        row["parse_appended_s"], row["full_text_appended_s"] = _resumed(src, home / "costs", before, prefix)
        window = before[-deltas.TAIL_WINDOW :]
        row["tail_compress_s"] = _cpu(lambda w=window, t=prefix[len(before) :]: tail_compressor(w, LEVEL).compress(t))
        out.append(row)
    return out


def _resumed(src: Any, root: Path, before: bytes, after: bytes, reps: int = 5) -> tuple[float, float]:
    """CPU of reading ``after`` from the state ``before`` left (``ops.resume``): parse
    only, and parse with full text (the difference is the text's), best of ``reps``, the
    hash of the whole file (read once either way) taken out."""
    path = root / "p" / f"{SID}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    best = {False: float("inf"), True: float("inf")}
    for full_text in (False, True):
        for _ in range(reps):
            resume.forget()
            path.write_bytes(before)
            unit = make_unit("claude-code", SID, root, [path])
            assert unit is not None
            ref = HashingDiskFile(unit.files[0].relpath, len(before), path)
            resume.parse_and_prepare(root, src, unit, [ref], None, full_text)
            kept = resume._STATES.get((str(root), SID))  # none before the first version
            base = kept.content if kept is not None else None
            path.write_bytes(after)
            unit = make_unit("claude-code", SID, root, [path])
            assert unit is not None
            ref = HashingDiskFile(unit.files[0].relpath, len(after), path, mark_at=len(before))
            ref.ensure_hash()  # not counted: the hash is measured apart
            c0 = time.process_time()
            done = resume.parse_and_prepare(root, src, unit, [ref], base, full_text)
            best[full_text] = min(best[full_text], time.process_time() - c0)
            assert done is not None and resume._STATES[(str(root), SID)].steps == int(kept is not None)
    return best[False], best[True] - best[False]


class Timer:
    """Exclusive CPU per part of each sweep, measured by wrapping the functions that do
    them (``PARTS``) while the block runs."""

    PARTS: list[tuple[str, Any, str]] = [
        ("read and parse", resume, "parse_and_prepare"),
        ("read and parse", sweep_ops, "parse"),
        ("read and parse", sweep_ops, "prepare_text"),
        ("tail compress", deltas.TailCompressor, "begin"),
        ("tail compress", deltas.TailCompressor, "write"),
        ("tail compress", deltas.TailCompressor, "end"),
        ("index text", ArchiveIndex, "add_text"),
        ("settle", ArchiveIndex, "settle"),
        ("catch-up", consistency, "catch_up"),
    ]

    def __init__(self) -> None:
        self.steps: dict[str, list[float]] = {}
        self._stack: list[float] = []
        self._saved: list[tuple[Any, str, Any]] = []

    def step(self) -> None:
        for v in self.steps.values():
            v.append(0.0)

    def __enter__(self) -> Timer:
        for part, owner, name in self.PARTS:
            self.steps.setdefault(part, [])
            fn = getattr(owner, name)
            self._saved.append((owner, name, fn))
            setattr(owner, name, self._wrap(part, fn))
        return self

    def __exit__(self, *exc: object) -> None:
        for owner, name, fn in reversed(self._saved):
            setattr(owner, name, fn)

    def _wrap(self, part: str, fn: Any) -> Any:
        def timed(*args: Any, **kwargs: Any) -> Any:
            self._stack.append(0.0)
            c0 = time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                spent = time.process_time() - c0
                inner = self._stack.pop()
                if self.steps[part]:
                    self.steps[part][-1] += spent - inner
                if self._stack:
                    self._stack[-1] += spent

        return timed


def _cpu(fn: Any, reps: int = 5) -> float:
    best = float("inf")
    for _ in range(reps):
        c0 = time.process_time()
        fn()
        best = min(best, time.process_time() - c0)
    return best


def _restore_seconds(v: Vault, version: int, out: Path, reps: int = 3) -> float:
    best = float("inf")
    for _ in range(reps):
        shutil.rmtree(out, ignore_errors=True)
        t0 = time.perf_counter()
        v.restore(SID, version=version, to=out)
        best = min(best, time.perf_counter() - t0)
    return best


def run(steps: list[int], corpus: Path) -> dict[str, Any]:
    data = (corpus / TRANSCRIPT).read_bytes()
    out: dict[str, Any] = {"transcript": TRANSCRIPT, "bytes": len(data), "level": LEVEL, "rows": []}
    with tempfile.TemporaryDirectory(prefix="tv-deltas-") as tmp:
        alone = grow(Path(tmp) / "alone", data, 1)
        out["final_alone_bytes"] = alone["archive_bytes"]
        out["final_alone_restore_s"] = alone["restore_newest_s"]
        for n in steps:
            for label, settings in (
                ("deltas", {}),
                ("deltas, full text off", {"full_text": False}),
                ("whole versions (anchor)", {"delta_max_links": 0}),
            ):
                if label.startswith("whole") and n > 50:
                    continue  # the anchor's cost is quadratic; ten steps show it
                row = grow(Path(tmp) / f"{n}-{len(out['rows'])}", data, n, **settings)
                row["variant"] = label
                row["ratio_to_final_alone"] = row["archive_bytes"] / out["final_alone_bytes"]
                out["rows"].append(row)
                print(_line(row), file=sys.stderr, flush=True)
        out["costs"] = costs(data, max(steps), Path(tmp))
    return out


def _line(r: dict[str, Any]) -> str:
    at = ", ".join(
        f"{k}: {r['sweep_cpu_at_step'][k] * 1000:.0f} ({r['sweep_at_step'][k] * 1000:.0f}) ms"
        for k in r["sweep_at_step"]
    )
    return (
        f"{r['steps']:>4} steps  {r['variant']:<24} {r['archive_bytes']:>9,} B  {r['ratio_to_final_alone']:.3f}x  "
        f"headers {r['tail_unit_headers']:,} B  sweep CPU (wall) at step {at}  "
        f"restore newest {r['restore_newest_s'] * 1000:.1f} ms"
    )


def _cost_line(c: dict[str, Any]) -> str:
    return (
        f"step {c['step']:>4}: file {c['file_bytes']:>8,} B, appended {c['appended_bytes']:>7,} B  "
        f"hash {c['hash_s'] * 1000:.1f} ms  parse whole {c['parse_whole_s'] * 1000:.1f} / appended "
        f"{c['parse_appended_s'] * 1000:.1f} ms  full text whole {c['full_text_whole_s'] * 1000:.1f} / appended "
        f"{c['full_text_appended_s'] * 1000:.1f} ms  tail compress {c['tail_compress_s'] * 1000:.1f} ms"
    )


def _split_line(r: dict[str, Any]) -> str:
    parts = "; ".join(
        f"{k}: " + ", ".join(f"{part} {ms * 1000:.1f}" for part, ms in split.items())
        for k, split in r["sweep_cpu_split_at_step"].items()
    )
    return f"{r['steps']:>4} steps  {r['variant']:<24} CPU by part (ms) at step {parts}"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", default="10,200")
    p.add_argument("--corpus")
    p.add_argument("--json")
    args = p.parse_args(argv)
    result = run([int(s) for s in args.steps.split(",")], corpus_dir(args.corpus))
    print(
        f"final version alone: {result['final_alone_bytes']:,} B; restore {result['final_alone_restore_s'] * 1000:.1f} ms"
    )
    for r in result["rows"]:
        print(_line(r))
    for r in result["rows"]:
        print(_split_line(r))
    for c in result["costs"]:
        print(_cost_line(c))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
