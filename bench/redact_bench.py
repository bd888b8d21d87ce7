"""Redaction throughput on real session text, against the redactor of an earlier commit
measured in the same run.

    python -m bench.redact_bench [--corpus DIR] [--baseline REF] [--reps 5] [--json OUT]

The text is every file of the sample corpus (``--corpus``, default the shared corpus next
to the checkout, or $TERMVAULT_CORPUS), decoded as UTF-8, one text per file: what a sweep
hands to redaction, before the parsers drop the JSON structure around it. The anchor is
``src/termvault/redact.py`` as it was at ``--baseline`` (the single-module redactor before
detect-secrets), loaded from git. Reported per variant: best CPU seconds of ``--reps``
passes, Mchar per CPU second, and the ratio to the anchor. Also the one-time CPU cost of
importing the detect-secrets plugins, in fresh processes.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_BASELINE = "80e8e7b"


def corpus_texts(root: Path) -> list[str]:
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.name != "SOURCES.md")
    return [p.read_bytes().decode("utf-8", "replace") for p in files]


def baseline_module(ref: str) -> types.ModuleType:
    source = subprocess.run(
        ["git", "show", f"{ref}:src/termvault/redact.py"], cwd=REPO, check=True, capture_output=True, text=True
    ).stdout
    module = types.ModuleType("baseline_redact")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, f"{ref}:redact.py", "exec"), module.__dict__)
    return module


def best_cpu(fn: Callable[[str], object], texts: list[str], reps: int) -> float:
    best = float("inf")
    for _ in range(reps):
        start = time.process_time()
        for text in texts:
            fn(text)
        best = min(best, time.process_time() - start)
    return best


def import_cost(reps: int) -> dict[str, float]:
    """CPU seconds (user + system) of a fresh interpreter importing termvault.redact's
    rules (``termvault.redact.vendor``), with and without loading the detect-secrets plugins (best of ``reps``). CPU time, not wall
    time: the machine is shared, and waiting for a core is not the import's cost."""

    def run(code: str) -> float:
        best = float("inf")
        for _ in range(reps):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run([sys.executable, "-c", code], check=True)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            best = min(best, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
        return best

    # termvault.redact loads its rules on first use; import them here to time the plugins alone.
    plain = run("import termvault.redact.vendor")
    loaded = run("import termvault.redact.vendor as v; v.loaded()")
    gated = run("import termvault.redact as r, termvault.redact.vendor as v; v.loaded(); r._rules(); r._gate()")
    rules = run("import termvault.redact as r, termvault.redact.vendor as v; v.loaded(); r._rules()")
    return {
        "import_cpu_s": round(plain, 4),
        "import_and_plugins_cpu_s": round(loaded, 4),
        "plugins_cpu_s": round(loaded - plain, 4),
        "re2_prefilter_cpu_s": round(gated - rules, 4),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_corpus = Path(os.environ.get("TERMVAULT_CORPUS", REPO.parent / "shared" / "corpus"))
    ap.add_argument("--corpus", type=Path, default=default_corpus)
    ap.add_argument("--baseline", default=DEFAULT_BASELINE, help="git commit whose redact.py is the anchor")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args(argv)

    from termvault import redact
    from termvault.redact import rules, vendor

    texts = corpus_texts(args.corpus)
    chars = sum(map(len, texts))
    old = baseline_module(args.baseline)
    vendor.loaded()

    def own_rules(text: str) -> None:
        for rule in rules.RULES:
            for _ in rule(text):
                pass

    def vendor_anchored(text: str) -> None:
        for _ in vendor.find(text):
            pass

    def vendor_unanchored(text: str) -> None:
        # The plugins' patterns over the whole text: what the anchors save.
        for item in vendor.loaded():
            for pattern in item.patterns:
                for _ in pattern.finditer(text):
                    pass

    def python_only(text: str) -> object:
        # find_secrets without the RE2 prefilter (google-re2 missing or TERMVAULT_RE2=0).
        if not text or (len(text) <= redact.SHORT_TEXT and not redact.may_hold_secret(text)):
            return []
        return redact._merge(redact._run(text, None))

    redact.find_secrets("password=warm-up")  # the RE2 prefilter built once, outside the timing
    variants: dict[str, Callable[[str], object]] = {
        f"baseline ({args.baseline})": old.find_secrets,
        "termvault rules only": own_rules,
        "detect-secrets plugins, anchored": vendor_anchored,
        "detect-secrets plugins, whole text": vendor_unanchored,
        "find_secrets (rules + plugins)": redact.find_secrets,
    }
    rows = {}
    anchor_s = None
    for name, fn in variants.items():
        cpu = max(best_cpu(fn, texts, args.reps), 1e-9)
        anchor_s = anchor_s or cpu
        rows[name] = {
            "cpu_seconds": round(cpu, 4),
            "mchar_per_cpu_s": round(chars / 1e6 / cpu, 1),
            "x_baseline": round(cpu / anchor_s, 2),
        }
    # find_secrets without the RE2 prefilter, measured apart (``variants`` keeps its rows).
    alone = max(best_cpu(python_only, texts, args.reps), 1e-9)
    without_re2 = {
        "cpu_seconds": round(alone, 4),
        "mchar_per_cpu_s": round(chars / 1e6 / alone, 1),
        "x_baseline": round(alone / (anchor_s or alone), 2),
    }
    findings = sum(len(redact.find_secrets(t)) for t in texts)
    result = {
        "corpus": {"files": len(texts), "chars": chars, "findings": findings},
        "variants": rows,
        "find_secrets_without_re2": without_re2,
        "startup": import_cost(max(3, args.reps)),
        "loadavg": os.getloadavg(),
    }
    print(f"corpus: {len(texts)} files, {chars / 1e6:.1f} M characters, {findings} findings")
    print(f"{'variant':40s} {'CPU s':>8s} {'Mchar/CPU s':>12s} {'x baseline':>11s}")
    for name, row in rows.items():
        print(f"{name:40s} {row['cpu_seconds']:8.3f} {row['mchar_per_cpu_s']:12.1f} {row['x_baseline']:11.2f}")
    row = without_re2
    print(
        f"{'find_secrets, Python re alone (no RE2)':40s} {row['cpu_seconds']:8.3f} {row['mchar_per_cpu_s']:12.1f} {row['x_baseline']:11.2f}"
    )
    s = result["startup"]
    print(
        f"import termvault.redact {s['import_cpu_s']:.3f} CPU s; with the detect-secrets plugins loaded "
        f"{s['import_and_plugins_cpu_s']:.3f} CPU s (+{s['plugins_cpu_s']:.3f} s, once per process); "
        f"building the RE2 prefilter +{s['re2_prefilter_cpu_s']:.3f} s, once per process"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
