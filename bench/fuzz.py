"""Fuzz every session parser and the older app's importer; count crashes (must be 0).

    python -m bench.fuzz --seconds 120                  # atheris when installed, else random
    python -m bench.fuzz --seconds 60 --engine random --seed 3
    python -m bench.fuzz --seconds 30 --only claude-code,legacy-index

The time is shared evenly between the targets: the seven source kinds (``parse`` and
``messages`` over one file) and the legacy importer (``archive_index.json`` and a
``*.json.gz`` read by ``legacy_entries``). A crash is any exception escaping a target:
parsers must count bad input as warnings, never raise. With atheris (coverage-guided,
libFuzzer) each target runs in its own child process; the ``random`` engine is a seeded
mutation fuzzer (same seed, same inputs) over the same seeds. Seeds are small records of
each format plus, when the sample corpus is present (``TERMVAULT_CORPUS``), the first
64 KB of its files. Crashing inputs are saved under ``--out``.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import logging
import os
import random
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

KINDS = ("native", "claude-code", "codex", "gemini", "aider", "asciinema", "agent-log")
TARGETS = (*KINDS, "legacy-index", "legacy-gz")
NAMES = {
    "native": "1700000000_fuzz.json",
    "claude-code": "p/fuzz.jsonl",
    "codex": "2025/01/02/rollout-fuzz.jsonl",
    "gemini": "h/chats/session-fuzz.json",
    "aider": ".aider.chat.history.md",
    "asciinema": "fuzz.cast",
    "agent-log": "fuzz.log",
}
CORPUS_DIRS = {
    "claude-code": "claude_code_jsonl",
    "codex": "codex_rollout_jsonl",
    "gemini": "gemini_cli_json",
    "aider": "aider_history_md",
    "asciinema": "asciinema_cast",
    "agent-log": "terminal_logs",
}
TOKENS = (
    b"\x00",
    b"\xff\xfe",
    b"\xc3\x28",
    b'"',
    b"\\",
    b"\\ud800",
    b"[" * 64,
    b"{" * 64,
    b"\n",
    b"\r\n",
    b'{"type":"user","message":{"content":',
    b"]}",
    b"1e999",
    b"NaN",
    b"-0",
    b"\x1b[31m",
    b"\x1b]7;file://h/..\x07",
)

_SEED = {
    "native": [
        b'{"session_id":"s1","name":"n","working_directory":"/w","created_at":1700000000,'
        b'"modified_at":1700000100,"output_snapshot":"$ ls\\nfile","conversation_file":"/nonexistent"}'
    ],
    "claude-code": [
        b'{"type":"user","sessionId":"a","cwd":"/w","timestamp":"2025-01-02T03:04:05Z",'
        b'"message":{"role":"user","content":"hello"}}\n{"type":"assistant","message":{"model":"m",'
        b'"content":[{"type":"text","text":"hi"},{"type":"tool_use","id":"t","name":"Bash","input":{}}]}}\n'
    ],
    "codex": [
        b'{"timestamp":"2025-01-02T03:04:05Z","type":"session_meta","payload":{"id":"x","cwd":"/w"}}\n'
        b'{"type":"response_item","payload":{"type":"message","role":"user","content":[{"type":"input_text",'
        b'"text":"hi"}]}}\n'
    ],
    "gemini": [
        b'{"sessionId":"s","startTime":"2025-01-02T03:04:05Z","messages":[{"type":"user","content":"hi",'
        b'"timestamp":"2025-01-02T03:04:06Z"},{"type":"gemini","content":"yo","toolCalls":[]}]}'
    ],
    "aider": [b"# aider chat started at 2025-01-02 03:04:05\n\n#### fix the bug\n\nDone.\n\n> Tokens: 1k sent\n"],
    "asciinema": [
        b'{"version": 2, "width": 80, "height": 24, "timestamp": 1700000000}\n[0.1, "o", "$ ls\\r\\n"]\n'
        b'[0.2, "i", "q"]\n'
    ],
    "agent-log": [b"[2025-01-02T03:04:05Z] user: run the tests\n[2025-01-02T03:04:06Z] tool: ok\n"],
}
_SEED["legacy-gz"] = _SEED["native"]
_SEED["legacy-index"] = [
    b'{"s1":{"archive_path":"2024/05/1700000000_s1.json.gz","name":"n","archived_at":1700000200,'
    b'"original_timestamp":1700000100,"working_directory":"/w"}}'
]


class _Ref:
    """A FileRef over bytes in memory."""

    def __init__(self, relpath: str, data: bytes):
        self.relpath, self.size, self._data = relpath, len(data), data

    def open(self):
        return io.BytesIO(self._data)


def seeds(target: str) -> list[bytes]:
    out = list(_SEED[target])
    corpus = Path(os.environ.get("TERMVAULT_CORPUS", Path(__file__).resolve().parents[2] / "shared" / "corpus"))
    folder = corpus / CORPUS_DIRS.get(target, "")
    if target in CORPUS_DIRS and folder.is_dir():
        for path in sorted(p for p in folder.rglob("*") if p.is_file())[:24]:
            with open(path, "rb") as fh:
                out.append(fh.read(64 * 1024))
    return out


def make_target(target: str, scratch: Path) -> Callable[[bytes], None]:
    """A function of one input that raises only when termvault has a bug."""
    if target in KINDS:
        from termvault.sources import source_class

        src = source_class(target)([scratch], home=scratch / "home", env={"HOME": str(scratch)})
        name = NAMES[target]

        def run(data: bytes) -> None:
            refs = [_Ref(name, data)]
            src.parse(refs)
            for _ in src.messages(refs):
                pass

        return run
    from termvault.archive import legacy
    from termvault.vault import Vault

    home = scratch / "home"
    month = home / "archive" / "2024" / "05"
    month.mkdir(parents=True, exist_ok=True)
    vault = Vault(home, full_text=False)
    index, archive = home / legacy.LEGACY_INDEX, month / "1700000000_s1.json.gz"
    index.write_bytes(_SEED["legacy-index"][0])
    archive.write_bytes(gzip.compress(_SEED["native"][0]))

    def run(data: bytes) -> None:
        if target == "legacy-index":
            index.write_bytes(data)
        else:
            # Half the inputs as a sound gzip of hostile JSON, half as hostile gzip bytes.
            archive.write_bytes(gzip.compress(data, mtime=0) if len(data) % 2 else data)
        vault.store.legacy_entries(vault.home)

    return run


def mutate(rng: random.Random, data: bytes, pool: list[bytes]) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        op = rng.randrange(8)
        pos = rng.randint(0, len(b))
        if op == 0 and b:
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
        elif op == 1:
            b[pos:pos] = rng.choice(TOKENS) * rng.choice((1, 1, 2, 50))
        elif op == 2 and b:
            del b[pos : pos + rng.randint(1, 64)]
        elif op == 3:
            b = b[:pos]
        elif op == 4 and b:
            start = rng.randrange(len(b))
            b[pos:pos] = b[start : start + rng.randint(1, 256)] * rng.randint(1, 8)
        elif op == 5:
            other = rng.choice(pool)
            b[pos:] = other[rng.randint(0, len(other)) :]
        elif op == 6:
            b[pos:pos] = rng.randbytes(rng.randint(1, 32))
        elif op == 7:
            b[pos:pos] = b"[" * rng.randint(100, 5000)
    return bytes(b[: 1 << 20])


class Tally:
    def __init__(self, target: str, out: Path):
        self.target, self.out = target, out
        self.iterations = self.crashes = 0
        self.kinds: dict[str, int] = {}

    def run_one(self, fn: Callable[[bytes], None], data: bytes) -> None:
        self.iterations += 1
        try:
            fn(data)
        except Exception as exc:  # a crash: recorded, and the fuzzing goes on
            self.crashes += 1
            key = f"{type(exc).__name__}: {str(exc)[:120]}"
            if key not in self.kinds:
                self.out.mkdir(parents=True, exist_ok=True)
                stem = self.out / f"crash-{self.target}-{len(self.kinds)}"
                stem.with_suffix(".bin").write_bytes(data)
                stem.with_suffix(".txt").write_text(traceback.format_exc())
            self.kinds[key] = self.kinds.get(key, 0) + 1

    def result(self) -> dict:
        return {"target": self.target, "iterations": self.iterations, "crashes": self.crashes, "kinds": self.kinds}


def fuzz_random(target: str, seconds: float, seed: int, out: Path) -> dict:
    rng = random.Random(f"{seed}-{target}")
    with tempfile.TemporaryDirectory(prefix="tv-fuzz-") as tmp:
        fn = make_target(target, Path(tmp))
        pool = seeds(target)
        tally = Tally(target, out)
        for s in pool:
            tally.run_one(fn, s)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            tally.run_one(fn, mutate(rng, rng.choice(pool), pool))
        return tally.result()


def _atheris_child(target: str, seconds: float, seed: int, out: Path, result: Path) -> None:
    """Runs in a child: atheris.Fuzz never returns, so the tally is written as it goes."""
    import atheris

    with atheris.instrument_imports():
        import termvault.archive.legacy
        import termvault.sources.agent_log
        import termvault.sources.aider
        import termvault.sources.asciinema
        import termvault.sources.claude_code
        import termvault.sources.codex
        import termvault.sources.gemini
        import termvault.sources.native  # noqa: F401
    tmp = Path(tempfile.mkdtemp(prefix="tv-fuzz-"))
    fn = make_target(target, tmp)
    tally = Tally(target, out)
    seed_dir = tmp / "seeds"
    seed_dir.mkdir()
    for n, s in enumerate(seeds(target)):
        (seed_dir / f"seed-{n}").write_bytes(s)
    last = [0.0]

    def one(data: bytes) -> None:
        tally.run_one(fn, data)
        now = time.monotonic()
        if now - last[0] > 0.5:
            last[0] = now
            result.write_text(json.dumps(tally.result()))

    import atexit

    atexit.register(lambda: result.write_text(json.dumps(tally.result())))
    atheris.Setup(
        [
            sys.argv[0],
            f"-max_total_time={int(seconds)}",
            f"-seed={seed}",
            "-max_len=65536",
            "-rss_limit_mb=4096",
            "-print_final_stats=0",
            str(seed_dir),
        ],
        one,
    )
    atheris.Fuzz()


def fuzz_atheris(target: str, seconds: float, seed: int, out: Path) -> dict:
    with tempfile.TemporaryDirectory(prefix="tv-fuzz-") as tmp:
        result = Path(tmp) / "result.json"
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.fuzz",
                "--child",
                target,
                "--seconds",
                str(seconds),
                "--seed",
                str(seed),
                "--out",
                str(out),
                "--result",
                str(result),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            check=False,
            cwd=Path(__file__).resolve().parents[1],
        )
        if not result.exists():
            return {
                "target": target,
                "iterations": 0,
                "crashes": 1,
                "kinds": {f"fuzzer exited {proc.returncode}": 1},
                "stderr": proc.stderr.decode()[-2000:],
            }
        data = json.loads(result.read_text())
        if proc.returncode not in (0,):
            # libFuzzer itself stopped (out of memory, timeout, a signal): a finding too.
            data["crashes"] += 1
            data["kinds"][f"libFuzzer exited {proc.returncode}"] = 1
            data["stderr"] = proc.stderr.decode()[-2000:]
        return data


def have_atheris() -> bool:
    try:
        import atheris  # noqa: F401
    except ImportError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.fuzz", description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=120.0, help="total time, shared by the targets")
    ap.add_argument("--engine", choices=("auto", "atheris", "random"), default="auto")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", help="comma-separated targets: " + ",".join(TARGETS))
    ap.add_argument("--out", type=Path, default=Path("fuzz-crashes"), help="where crashing inputs are saved")
    ap.add_argument("--json", type=Path, help="write the figures here")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    logging.disable(logging.CRITICAL)  # termvault logs each bad input it survives
    if args.child:
        _atheris_child(args.child, args.seconds, args.seed, args.out, args.result)
        return 0
    targets = args.only.split(",") if args.only else list(TARGETS)
    unknown = set(targets) - set(TARGETS)
    if unknown:
        ap.error(f"unknown targets {sorted(unknown)}; choose from {', '.join(TARGETS)}")
    engine = args.engine
    if engine == "auto":
        engine = "atheris" if have_atheris() else "random"
    if engine == "atheris" and not have_atheris():
        ap.error("atheris is not installed (pip install atheris); use --engine random")
    share = args.seconds / len(targets)
    print(f"engine {engine}, seed {args.seed}, {share:.0f} s per target", flush=True)
    print(f"{'target':<14} {'iterations':>11} {'crashes':>8}", flush=True)
    results = []
    for t in targets:
        r = (fuzz_atheris if engine == "atheris" else fuzz_random)(t, share, args.seed, args.out)
        results.append(r)
        print(f"{t:<14} {r['iterations']:>11} {r['crashes']:>8}", flush=True)
        for kind, n in r["kinds"].items():
            print(f"    {n} x {kind}", flush=True)
    total_it, total_cr = sum(r["iterations"] for r in results), sum(r["crashes"] for r in results)
    print(f"{'TOTAL':<14} {total_it:>11} {total_cr:>8}", flush=True)
    if args.json:
        args.json.write_text(
            json.dumps({"engine": engine, "seed": args.seed, "seconds": args.seconds, "results": results}, indent=1)
        )
    return 1 if total_cr else 0


if __name__ == "__main__":
    sys.exit(main())
