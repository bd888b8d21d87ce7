"""How the units beside this file were made, by the writer termvault had before tail
units (format 4) existed (commit 272b91d): one session's version 1 whole, version 2 a delta tar stated
as format 2, version 3 a format 3 delta tar built on it; ``vN.jsonl`` is what each
holds. Kept as a record: run today, the writer makes tail units instead.

    python tests/golden/deltas_v2/generate.py tests/golden/deltas_v2
"""

import hashlib
import io
import json
import sys
from pathlib import Path

from termvault import archive as arc
from termvault.archive.format import tail_compressor

SID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
ROOT = "/home/me/.claude/projects"
REL = f"-home-me-proj/{SID}.jsonl"


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def record(i: int) -> bytes:
    role = "user" if i % 2 == 0 else "assistant"
    content = f"step {i}: the quick brown fox jumps over the lazy dog {i * i}"
    rec = {
        "type": role, "sessionId": SID, "timestamp": f"2025-03-0{1 + i // 6}T10:{i:02d}:00Z",
        "message": {"role": role, "content": content},
    }  # fmt: skip
    return json.dumps(rec, separators=(",", ":")).encode() + b"\n"


def main(out: Path) -> None:
    recs = [record(i) for i in range(12)]
    states = [b"".join(recs[:4]), b"".join(recs[:8]), b"".join(recs)]
    prev: tuple[bytes, arc.Manifest] | None = None
    for v, data in enumerate(states, start=1):
        mtime = 1_741_000_000_000_000_000 + v * 60_000_000_000
        meta = {
            "name": "fixture session", "working_directory": "/home/me/proj", "message_count": 4 * v,
            "last_activity_at": 1_741_000_000.0 + v * 60,
        }  # fmt: skip
        if prev is None:
            mf = arc.ManifestFile(REL, f"{ROOT}/{REL}", len(data), mtime, sha(data), 0o600)
            m = arc.Manifest(SID, "claude-code", v, "copy", ROOT, 1_741_000_100.0 + v, meta, [mf])
            payload = data
        else:
            pdata, pm = prev
            tail, window = data[len(pdata) :], pdata[-arc.DELTA_WINDOW :]
            payload = tail_compressor(window, 6).compress(tail)
            d = arc.FileDelta(len(pdata), sha(pdata), sha(tail), len(window), len(payload), sha(payload))
            mf = arc.ManifestFile(REL, f"{ROOT}/{REL}", len(data), mtime, sha(data), 0o600, d)
            fmt = arc.DELTA_FORMAT if v == 2 else arc.LEAN_FORMAT
            base = arc.BaseRef(SID, v - 1, pm.content_sha256, v - 1)
            m = arc.Manifest(SID, "claude-code", v, "copy", ROOT, 1_741_000_100.0 + v, meta, [mf], fmt, base=base)
            m.share_meta(pm.meta)
        target = out / arc.archive_relpath(float(meta["last_activity_at"]), SID, v)
        arc.write_archive(target, m, [arc.SourceFile(mf, lambda p=payload: io.BytesIO(p))], level=6)
        (out / f"v{v}.jsonl").write_bytes(data)
        prev = (data, m)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
