"""Restore holds: when a session was last brought back into its source folder.

A restored session counts as active from the moment it is restored, so the sweep leaves
it where it is until it has again been inactive for its threshold. The restore time
cannot live in the restored file (its bytes, name and mtime must be the archived ones,
and an mtime of "now" is what a fresh write by the app looks like too) nor only in the
index (derived data that ``reindex`` rebuilds from ``archive/``). So it is kept in a
small private file of the home, ``restored.json`` (``{session_id: restored_at}``),
replaced atomically and written only under the home's write lock.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path

from .fsutil import atomic_write_bytes

log = logging.getLogger(__name__)

HOLDS_FILE = "restored.json"
# Its own temporary-file prefix: written only under the write lock, so reconciliation may
# remove what a killed write left in the home (the app's own unlocked temporary files
# there use another prefix and are never touched).
TMP_PREFIX = ".tv-holds-tmp-"
KEEP_SECONDS = 400 * 86400.0  # older records can no longer hold anything back


def load(home: Path) -> dict[str, float]:
    """The restore times recorded in ``home`` (an unreadable file counts as none)."""
    path = Path(home) / HOLDS_FILE
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("ignoring %s: %s", path, exc)
        return {}
    if not isinstance(data, dict):
        return {}
    out = {}
    for key, value in data.items():
        if isinstance(key, str) and isinstance(value, (int, float)) and math.isfinite(value):
            out[key] = float(value)
    return out


def record(home: Path, session_id: str, when: float | None = None) -> None:
    """Record that ``session_id`` was restored at ``when`` (now by default). The caller
    holds the home's write lock."""
    now = time.time()
    holds = {k: v for k, v in load(home).items() if v > now - KEEP_SECONDS}
    holds[session_id] = now if when is None else float(when)
    atomic_write_bytes(Path(home) / HOLDS_FILE, json.dumps(holds, sort_keys=True).encode("utf-8"), prefix=TMP_PREFIX)
