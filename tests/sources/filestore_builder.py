"""Builds real FileStore and object-store databases the way AgentMux and Wave lay them out,
and writes to them the way each app does (one transaction per append; Wave's circular
parts wrap, AgentMux's do not; newer AgentMux keeps a line-count epoch).

Run as a module it is the writer process of the concurrency tests:
``python -m tests.sources.filestore_builder append DB APP ZONE NAME COUNT [MAXSIZE]``
appends COUNT numbered NDJSON lines, printing each line's number once committed.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PART = 64 * 1024
WAVE_TERM_MAX = 2 * 1024 * 1024

AGENTMUX_V1 = "agentmux-0.32"  # TEXT/INTEGER columns, user_version 1
AGENTMUX_V2 = "agentmux-lines"  # plus gen/lines/lines_size/lines_tail/lines_modts
WAVE = "wave"

_AGENTMUX_FILES = """
CREATE TABLE IF NOT EXISTS db_wave_file (
    zoneid TEXT NOT NULL, name TEXT NOT NULL, size INTEGER NOT NULL DEFAULT 0,
    createdts INTEGER NOT NULL DEFAULT 0, modts INTEGER NOT NULL DEFAULT 0,
    opts TEXT NOT NULL DEFAULT '{}', meta TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (zoneid, name));
CREATE TABLE IF NOT EXISTS db_file_data (
    zoneid TEXT NOT NULL, name TEXT NOT NULL, partidx INTEGER NOT NULL, data BLOB NOT NULL,
    PRIMARY KEY (zoneid, name, partidx));
"""
_AGENTMUX_LINES = [
    "ALTER TABLE db_wave_file ADD COLUMN gen TEXT",
    "ALTER TABLE db_wave_file ADD COLUMN lines INTEGER",
    "ALTER TABLE db_wave_file ADD COLUMN lines_size INTEGER",
    "ALTER TABLE db_wave_file ADD COLUMN lines_tail INTEGER",
    "ALTER TABLE db_wave_file ADD COLUMN lines_modts INTEGER",
]
_WAVE_FILES = """
CREATE TABLE db_wave_file (
    zoneid varchar(36) NOT NULL, name varchar(200) NOT NULL, size bigint NOT NULL,
    createdts bigint NOT NULL, modts bigint NOT NULL, opts json NOT NULL, meta json NOT NULL,
    PRIMARY KEY (zoneid, name));
CREATE TABLE db_file_data (
    zoneid varchar(36) NOT NULL, name varchar(200) NOT NULL, partidx int NOT NULL, data blob NOT NULL,
    PRIMARY KEY(zoneid, name, partidx));
CREATE TABLE schema_migrations (version uint64, dirty bool);
INSERT INTO schema_migrations VALUES (1, 0);
"""


def now_ms() -> int:
    return int(time.time() * 1000)


def connect(db: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db, timeout=5.0, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 5000")
    conn.execute("PRAGMA journal_mode = WAL")
    return conn


def create_filestore(db: Path, kind: str) -> None:
    db.parent.mkdir(parents=True, exist_ok=True)
    conn = connect(db)
    if kind == WAVE:
        conn.executescript(_WAVE_FILES)
    else:
        conn.executescript(_AGENTMUX_FILES)
        if kind == AGENTMUX_V2:
            for stmt in _AGENTMUX_LINES:
                conn.execute(stmt)
        conn.execute("PRAGMA user_version = 1")
    conn.close()


def create_objects(db: Path, kind: str) -> None:
    db.parent.mkdir(parents=True, exist_ok=True)
    conn = connect(db)
    types = ("varchar(36)", "int", "json") if kind == WAVE else ("TEXT", "INTEGER", "TEXT")
    tables = ["client", "window", "workspace", "tab", "layout", "block"]
    tables += ["job", "mainserver"] if kind == WAVE else ["temp"]
    for t in tables:
        conn.execute(
            f"CREATE TABLE db_{t} (oid {types[0]} PRIMARY KEY, version {types[1]} NOT NULL, data {types[2]} NOT NULL)"
        )
    conn.close()


def put_object(db: Path, otype: str, obj: dict[str, Any]) -> None:
    obj = dict(obj, otype=otype)
    obj.setdefault("version", 1)
    conn = connect(db)
    conn.execute(
        f"INSERT OR REPLACE INTO db_{otype} (oid, version, data) VALUES (?, ?, ?)",
        (obj["oid"], obj["version"], json.dumps(obj)),
    )
    conn.close()


def get_object(db: Path, otype: str, oid: str) -> dict[str, Any] | None:
    conn = sqlite3.connect(db)
    row = conn.execute(f"SELECT version, data FROM db_{otype} WHERE oid = ?", (oid,)).fetchone()
    conn.close()
    if row is None:
        return None
    obj = json.loads(row[1])
    obj["_version_column"] = row[0]
    return obj


@dataclass
class Pane:
    """A block in a tab in a workspace."""

    block: str
    tab: str
    workspace: str


def add_pane(
    objects: Path, meta: dict[str, Any], tab_name: str = "", workspace_name: str = "ws", block: str | None = None
) -> Pane:
    p = Pane(block or str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4()))
    put_object(
        objects,
        "block",
        {
            "oid": p.block,
            "parentoref": f"tab:{p.tab}",
            "meta": meta,
            "runtimeopts": {},
            "stickers": None,
            "subblockids": None,
        },
    )
    put_object(objects, "tab", {"oid": p.tab, "name": tab_name, "layoutstate": "", "blockids": [p.block]})
    put_object(
        objects, "workspace", {"oid": p.workspace, "name": workspace_name, "tabids": [p.tab], "activetabid": p.tab}
    )
    return p


class Writer:
    """Appends to a FileStore file as the app does: one write transaction per append."""

    def __init__(self, db: Path, kind: str):
        self.db, self.kind = db, kind
        self.conn = connect(db)
        cols = {r[1] for r in self.conn.execute("PRAGMA table_info(db_wave_file)")}
        self.lines = "lines" in cols

    def close(self) -> None:
        self.conn.close()

    def make_file(self, zone: str, name: str, opts: dict[str, Any] | None = None, ts: int | None = None) -> None:
        ts = now_ms() if ts is None else ts
        opts_json = json.dumps(opts or {})
        if self.lines:
            self.conn.execute(
                "INSERT INTO db_wave_file (zoneid, name, size, createdts, modts, opts, meta, gen, lines, "
                "lines_size, lines_tail, lines_modts) VALUES (?, ?, 0, ?, ?, ?, '{}', ?, 0, 0, 0, ?)",
                (zone, name, ts, ts, opts_json, os.urandom(8).hex(), ts),
            )
        else:
            self.conn.execute(
                "INSERT INTO db_wave_file (zoneid, name, size, createdts, modts, opts, meta) "
                "VALUES (?, ?, 0, ?, ?, ?, '{}')",
                (zone, name, ts, ts, opts_json),
            )

    def append(self, zone: str, name: str, data: bytes, ts: int | None = None, create: bool = False) -> None:
        ts = now_ms() if ts is None else ts
        c = self.conn
        c.execute("BEGIN IMMEDIATE")
        try:
            row = c.execute(
                "SELECT size, opts FROM db_wave_file WHERE zoneid = ? AND name = ?", (zone, name)
            ).fetchone()
            if row is None and create:
                self.make_file(zone, name, ts=ts)
                row = (0, "{}")
            size, opts = row
            opts = json.loads(opts)
            maxsize = -(-int(opts.get("maxsize", 0)) // PART) * PART if opts.get("circular") else 0
            wrap = maxsize // PART if (maxsize and self.kind == WAVE) else 0
            offset = size
            pos = 0
            while pos < len(data):
                logical = (offset + pos) // PART
                partidx = logical % wrap if wrap else logical
                lo = (offset + pos) - logical * PART
                take = min(PART - lo, len(data) - pos)
                row = c.execute(
                    "SELECT data FROM db_file_data WHERE zoneid = ? AND name = ? AND partidx = ?", (zone, name, partidx)
                ).fetchone()
                old = bytes(row[0]) if row else b""
                # As Wave's part write: bytes past the write stay (after a wrap they are the
                # oldest bytes of the window, sharing the slot with the newest).
                new = old[:lo].ljust(lo, b"\0") + data[pos : pos + take] + old[lo + take :]
                c.execute(
                    "INSERT OR REPLACE INTO db_file_data (zoneid, name, partidx, data) VALUES (?, ?, ?, ?)",
                    (zone, name, partidx, new),
                )
                pos += take
            new_size = size + len(data)
            if self.lines:
                r = c.execute(
                    "SELECT lines, lines_size, lines_modts, modts FROM db_wave_file WHERE zoneid = ? AND name = ?",
                    (zone, name),
                ).fetchone()
                valid = r[0] is not None and r[1] == size and r[2] == r[3]
                lines = (r[0] + sum(1 for ln in data.split(b"\n")[:-1] if ln.strip())) if valid else None
                c.execute(
                    "UPDATE db_wave_file SET size = ?, modts = ?, lines = ?, lines_size = ?, lines_modts = ? "
                    "WHERE zoneid = ? AND name = ?",
                    (new_size, ts, lines, new_size if valid else None, ts if valid else None, zone, name),
                )
            else:
                c.execute(
                    "UPDATE db_wave_file SET size = ?, modts = ? WHERE zoneid = ? AND name = ?",
                    (new_size, ts, zone, name),
                )
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise


def read_file(db: Path, zone: str, name: str) -> tuple[int, bytes] | None:
    """(size, every stored part concatenated in part order) of a non-circular file."""
    conn = sqlite3.connect(db)
    row = conn.execute("SELECT size FROM db_wave_file WHERE zoneid = ? AND name = ?", (zone, name)).fetchone()
    if row is None:
        conn.close()
        return None
    parts = conn.execute(
        "SELECT data FROM db_file_data WHERE zoneid = ? AND name = ? ORDER BY partidx", (zone, name)
    ).fetchall()
    conn.close()
    return row[0], b"".join(bytes(p[0]) for p in parts)


def file_row(db: Path, zone: str, name: str) -> dict[str, Any] | None:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    row = conn.execute("SELECT * FROM db_wave_file WHERE zoneid = ? AND name = ?", (zone, name)).fetchone()
    conn.close()
    return dict(row) if row else None


def set_modts(db: Path, zone: str, name: str, ms: int) -> None:
    conn = connect(db)
    conn.execute("UPDATE db_wave_file SET modts = ? WHERE zoneid = ? AND name = ?", (ms, zone, name))
    conn.close()


def stream_line(n: int) -> bytes:
    return (
        json.dumps(
            {
                "type": "assistant",
                "message": {"role": "assistant", "model": "m", "content": [{"type": "text", "text": f"line {n}"}]},
            }
        )
        + "\n"
    ).encode()


def _main(argv: list[str]) -> int:
    cmd, db, kind, zone, name, count = argv[:6]
    if cmd != "append":
        return 2
    w = Writer(Path(db), kind)
    for n in range(int(count)):
        # As AgentMux: output is created lazily (again after it was archived).
        w.append(zone, name, stream_line(n), create=True)
        print(n, flush=True)
        # Bursts with pauses, as an agent's output comes: sweeps meet a file both while it
        # is being appended to and while it is quiet.
        time.sleep(0.3 if n % 50 == 49 else 0.002)
    w.close()
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
