"""The parsers alone on the real sample corpus: CPU seconds per source, and a digest of
everything they produce, so two checkouts can be compared for speed and for sameness.

Each unit is parsed as the sweep parses it (``HashingDiskFile`` refs, the file hashed in
the same read), then its messages are read as the sweep's text preparation reads them
(conversational sources whose parse saw turns). ``--rounds`` passes run back to back and
the lowest CPU time of each source is kept::

    python -m bench.parsers --rounds 5
    python -m bench.parsers --digest   # one line per unit: a hash of its info and messages

Run it under two ``PYTHONPATH`` settings (interleaved) to compare two checkouts.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .real_corpus import default_corpus, place


def _units(roots: dict[str, list[str]], home: Path) -> list[tuple[Any, Any]]:
    from termvault.sources import source_class

    out = []
    for kind, paths in roots.items():
        src = source_class(kind)(paths, home=home / "vault", env={"HOME": str(home)})
        out.extend((src, unit) for unit in src.discover())
    return out


def _one(src: Any, unit: Any, work: Path | None) -> str:
    """Parse ``unit`` and read its messages; with ``work`` a digest of what came out."""
    from termvault.ops.text import parse
    from termvault.streams import HashingDiskFile

    refs = [HashingDiskFile(f.relpath, f.size, f.origin, opener=f.reader) for f in unit.files]
    info = parse(src, refs, unit)
    shas = [r.ensure_hash() for r in refs]
    if work is None:
        if src.conversational and not info.plain_output:
            for _ in src.messages(refs):
                pass
        return ""
    here = str(work)  # the temporary folder differs between runs: not part of the output

    def dump(obj: object) -> bytes:
        return json.dumps(asdict(obj), sort_keys=True, default=repr).replace(here, "~").encode()  # type: ignore[call-overload]

    info.name = "" if info.name == unit.session_id else info.name  # ids hash the path
    h = hashlib.sha256(dump(info))
    h.update(repr(shas).encode())
    if src.conversational and not info.plain_output:
        for m in src.messages(refs):
            h.update(dump(m))
    return h.hexdigest()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--digest", action="store_true", help="print a hash of each unit's output")
    ap.add_argument("--json", action="store_true", help="print the per-source CPU seconds as JSON")
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="tv-parsers-"))
    try:
        roots = place(default_corpus(), work / "home")
        units = _units(roots, work / "home")
        best: dict[str, float] = {}
        digests: dict[str, str] = {}
        for _ in range(max(1, args.rounds)):
            spent: dict[str, float] = {}
            for src, unit in units:
                t = time.process_time()
                digests[" ".join(f.relpath for f in unit.files)] = _one(src, unit, work if args.digest else None)
                spent[src.kind] = spent.get(src.kind, 0.0) + time.process_time() - t
            for kind, s in spent.items():
                best[kind] = min(best.get(kind, s), s)
        best["total"] = sum(best.values())
        if args.digest:
            for key in sorted(digests):
                print(digests[key], key)
        elif args.json:
            print(json.dumps({k: round(v, 4) for k, v in best.items()}))
        else:
            for kind, s in best.items():
                print(f"{kind:12} {s:8.3f} s CPU")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
