"""Shared machinery of the reliability tests and of ``bench/reliability.py``.

A *world* is a scratch folder holding a termvault home with native sessions (move mode)
and a Claude Code projects folder (copy mode), plus the bytes of every session file kept
in memory. Workers (``workers.py``) run real operations on it in child processes that the
caller may SIGKILL at any instant; ``check_world`` then reopens the home (which runs the
start-up reconciliation) and says what, if anything, was lost or left inconsistent.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from termvault import archive as arc
from termvault.fsutil import HELD_PREFIX, TMP_PREFIX
from termvault.ops.restore import RESTORE_PREFIX
from termvault.state import SessionState
from termvault.storage import SessionStorage
from termvault.vault import Vault

WORKERS = Path(__file__).with_name("workers.py")
DAY = 86400.0
KINDS = ("native", "claude-code")
PROJECT = "-home-me-proj"
# Whatever termvault leaves behind when it is interrupted starts with one of these.
LEFTOVER_PREFIXES = (TMP_PREFIX, RESTORE_PREFIX, HELD_PREFIX)

_WORDS = (
    "ls -la git status commit push pull src/app/main.py tests/test_api.py error: warning: ok "
    "build npm install cargo make getUserById snake_case_name 0x1f3a the a file done failed "
    "passed retry connection timeout /var/log/syslog README.md docker compose up kubectl"
).split()


@dataclass
class Session:
    session_id: str
    kind: str  # "native" (move mode) or "claude-code" (copy mode)
    path: Path
    data: bytes


@dataclass
class World:
    root: Path
    home: Path
    projects: Path
    user_home: Path
    sessions: dict[str, Session] = field(default_factory=dict)

    def of_kind(self, kind: str) -> list[Session]:
        return [s for s in self.sessions.values() if s.kind == kind]


@dataclass
class Check:
    """What ``check_world`` found. ``lost`` names sessions with no live file and no
    verified archive; ``problems`` lists every other broken expectation."""

    problems: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    archived: int = 0
    live: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems and not self.lost

    def describe(self) -> str:
        return "; ".join([*(f"LOST {s}" for s in self.lost), *self.problems]) or "ok"


# -- building -----------------------------------------------------------------------------
def text_lines(rng: random.Random, n: int) -> str:
    return "\n".join(" ".join(rng.choice(_WORDS) for _ in range(rng.randint(4, 14))) for _ in range(n))


def write_config(home: Path, projects: Path, **settings: Any) -> None:
    """config.toml of a test home: Claude Code transcripts under ``projects``, copy mode."""
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    lines = [f"{k} = {json.dumps(v)}" for k, v in settings.items()]
    lines += ["", "[sources.claude-code]", f"roots = [{json.dumps(str(projects))}]", 'mode = "copy"', ""]
    (home / "config.toml").write_text("\n".join(lines))
    (home / "config.toml").chmod(0o600)


def add_native(world: World, session_id: str, modified_at: float, body: str) -> Session:
    state = SessionState(
        session_id=session_id,
        name=f"session {session_id}",
        working_directory=f"/home/me/{session_id}",
        created_at=modified_at - 3600,
        modified_at=modified_at,
        command_count=body.count("\n") + 1,
        last_command="make test",
        output_snapshot=body,
    )
    path = SessionStorage(world.home, enable_auto_archive=False).save_session(state)
    os.utime(path, (modified_at, modified_at))
    s = Session(session_id, "native", path, path.read_bytes())
    world.sessions[session_id] = s
    return s


def claude_record(session_id: str, n: int, text: str, stamp: float) -> bytes:
    role = "user" if n % 2 == 0 else "assistant"
    rec = {
        "type": role,
        "sessionId": session_id,
        "uuid": str(uuid.UUID(int=n + 1)),
        "cwd": "/home/me/proj",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp)),
        "message": {"role": role, "content": f"{n}: {text}"},
    }
    return json.dumps(rec).encode() + b"\n"


def add_claude(world: World, session_id: str, modified_at: float, records: list[str]) -> Session:
    folder = world.projects / PROJECT
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{session_id}.jsonl"
    data = b"".join(claude_record(session_id, n, text, modified_at) for n, text in enumerate(records))
    path.write_bytes(data)
    os.utime(path, (modified_at, modified_at))
    s = Session(session_id, "claude-code", path, data)
    world.sessions[session_id] = s
    return s


def build_world(
    root: Path, native: int = 12, claude: int = 3, seed: int = 0, lines: int = 200, **settings: Any
) -> World:
    """A home with ``native`` sessions 40+ days old and ``claude`` settled transcripts."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    world = World(
        root=root, home=root / "home", projects=root / "user" / ".claude" / "projects", user_home=root / "user"
    )
    world.user_home.mkdir(parents=True, exist_ok=True)
    write_config(world.home, world.projects, **settings)
    old = time.time() - 40 * DAY
    for i in range(native):
        add_native(world, f"native-{seed}-{i:03d}", old - i * 3600, text_lines(rng, rng.randint(lines // 2, lines)))
    for i in range(claude):
        sid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        add_claude(
            world, sid, old - i * 3600, [text_lines(rng, 5) for _ in range(rng.randint(lines // 20, lines // 10) + 2)]
        )
    return world


def open_vault(world: World, **options: Any) -> Vault:
    return Vault(world.home, **options)


def archive_everything(world: World) -> None:
    """Sweep the world in this process so that every session has one archived version."""
    with open_vault(world) as v:
        report = v.sweep(older_than=7, kinds=list(KINDS))
    assert not report.failed, report.failed


# -- workers ------------------------------------------------------------------------------
def worker_env(world: World) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TERMVAULT_")}
    env["HOME"] = str(world.user_home)  # never let a worker see the real ~/.claude
    env["TERMVAULT_HOME"] = str(world.home)
    for var in ("CLAUDE_CONFIG_DIR", "CODEX_HOME", "GEMINI_DIR", "XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        env.pop(var, None)
    return env


class Worker:
    """A worker child process. It prints ``ready <pid>`` before it touches the home and
    ``done <json>`` when it finishes; stderr goes to a log file in the world."""

    def __init__(self, world: World, op: str, *args: str, stdin: bool = False):
        self.world, self.op = world, op
        log_path = world.root / f"worker-{op}.log"
        self._log = open(log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKERS), op, str(world.home), *args],
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=worker_env(world),
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
        )
        line = self.proc.stdout.readline().decode()
        if not line.startswith("ready"):
            self.proc.wait()
            raise RuntimeError(f"worker {op} did not start: {line!r}; see {log_path}")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def kill(self) -> bool:
        """SIGKILL the worker; True if it was still running."""
        running = self.proc.poll() is None
        if running:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self._log.close()
        return running

    def wait(self, timeout: float = 120.0) -> int:
        """Wait for the worker to end by itself; its exit status (-9: it killed itself)."""
        self.proc.wait(timeout)
        self._log.close()
        return self.proc.returncode

    def finish(self, timeout: float = 120.0) -> dict[str, Any]:
        """Wait for the worker to end (closing its stdin first, which is what a
        ``hold-lock`` worker waits for) and return its ``done`` result."""
        if self.proc.stdin is not None:
            self.proc.stdin.close()
            self.proc.stdin = None
        out, _ = self.proc.communicate(timeout=timeout)
        self._log.close()
        for line in out.decode().splitlines():
            if line.startswith("done "):
                return json.loads(line[5:])
        raise RuntimeError(
            f"worker {self.op} exited {self.proc.returncode} without a result; "
            f"see {self.world.root / f'worker-{self.op}.log'}"
        )


def run_worker(world: World, op: str, *args: str, timeout: float = 120.0) -> dict[str, Any]:
    return Worker(world, op, *args).finish(timeout)


def kill_at(world: World, op: str, args: tuple[str, ...], delay: float) -> bool:
    """Start a worker, SIGKILL it ``delay`` seconds after it said ready. True if it was
    killed before it finished."""
    w = Worker(world, op, *args)
    time.sleep(delay)
    return w.kill()


# -- checking -----------------------------------------------------------------------------
def archive_members(vault: Vault, entry) -> tuple[arc.Manifest, dict[str, bytes]]:
    """Every file of an archived version, read back with all hashes checked (a version
    stored as a delta rebuilt from its chain)."""
    members: dict[str, bytes] = {}

    def keep(f: arc.ManifestFile, stream) -> None:
        members[f.path] = stream.read()

    back = vault.store.read(entry, keep)
    return back.manifest, members


def leftovers(world: World) -> list[Path]:
    """Temporary files anywhere in the world (home and the tools' folders)."""
    found = []
    for folder, _dirs, files in os.walk(world.root):
        found.extend(Path(folder) / f for f in files if f.startswith(LEFTOVER_PREFIXES))
    return found


def check_world(
    world: World, *, live_optional: bool = False, may_vanish: frozenset[str] = frozenset(), vault: Vault | None = None
) -> Check:
    """Reopen the home and check every session against the bytes kept in memory.

    - the index agrees with archive/ (verify: nothing missing, corrupt, orphaned, no temp
      file, no pending removal) and no temporary file is left anywhere;
    - each archived version reads back and holds exactly the session's original bytes,
      and no session is archived twice with the same content;
    - a native (move) session is in history/ XOR archived; a copy-mode transcript is
      still where Claude Code keeps it, unchanged;
    - ``live_optional``: live files may be absent (a restore was interrupted) but every
      session must be archived; ``may_vanish``: sessions a prune was told it may delete.
    """
    check = Check()
    own = vault is None
    v = vault or open_vault(world)
    try:
        report = v.verify()
        for what in ("missing", "corrupt", "orphaned", "temp_files", "pending_removal"):
            if getattr(report, what):
                check.problems.append(f"verify: {what} {getattr(report, what)}")
        for tmp in leftovers(world):
            check.problems.append(f"temporary file left: {tmp}")
        for s in world.sessions.values():
            versions = [e for e in v.index.versions(s.session_id) if e.status == "archived"]
            contents = set()
            for e in versions:
                try:
                    manifest, members = archive_members(v, e)
                except Exception as exc:
                    check.problems.append(f"{s.session_id} v{e.version} unreadable: {exc}")
                    continue
                main = next((f for f in manifest.files if Path(f.origin) == s.path), None)
                if main is None or members.get(main.path) != s.data:
                    check.problems.append(f"{s.session_id} v{e.version} does not hold the original bytes")
                contents.add(e.content_sha256)
            if len(contents) != len(versions):
                check.problems.append(f"{s.session_id} archived twice with the same content")
            live = s.path.exists()
            if live and s.path.read_bytes() != s.data:
                check.problems.append(f"{s.session_id}: live file {s.path} changed")
            archived = bool(contents)
            check.archived += archived
            check.live += live
            if not live and not archived:
                if s.session_id not in may_vanish:
                    check.lost.append(s.session_id)
                continue
            if live_optional or s.session_id in may_vanish:
                if not archived and s.session_id not in may_vanish:
                    check.problems.append(f"{s.session_id} is no longer archived")
            elif s.kind == "native" and live and archived:
                check.problems.append(f"{s.session_id} is both in history/ and archived")
            elif s.kind == "claude-code" and not live:
                check.problems.append(f"{s.session_id}: the copy-mode source was removed")
    finally:
        if own:
            v.close()
    return check


def index_rows(home: Path) -> list[tuple]:
    """Every row of the sessions table, all columns but the rowid ``id``, sorted."""
    import sqlite3

    db = sqlite3.connect(f"file:{home / 'archive_index.sqlite3'}?mode=ro", uri=True)
    try:
        cur = db.execute("SELECT * FROM sessions")
        names = [d[0] for d in cur.description]
        keep = [i for i, n in enumerate(names) if n != "id"]
        return sorted(tuple(row[i] for i in keep) for row in cur.fetchall())
    finally:
        db.close()


def private_mode_problems(root: Path) -> list[str]:
    """Files not 0600 and folders not 0700 under ``root`` (``root`` included)."""
    bad = []
    for folder, _dirs, files in os.walk(root):
        mode = Path(folder).stat().st_mode & 0o777
        if mode != 0o700:
            bad.append(f"{folder} is {mode:o}")
        for name in files:
            p = Path(folder) / name
            mode = p.lstat().st_mode & 0o777
            if mode != 0o600:
                bad.append(f"{p} is {mode:o}")
    return bad


# -- kill scenarios -----------------------------------------------------------------------
KILL_OPS = ("sweep", "background", "restore", "prune", "reindex")


@dataclass
class Scenario:
    """A world prepared for one operation, and what its check may accept afterwards."""

    op: str
    world: World
    args: tuple[str, ...] = ()
    may_vanish: frozenset[str] = frozenset()
    live_optional: bool = False
    index_before: list[tuple] | None = None


def prepare(op: str, root: Path, seed: int, native: int = 10, claude: int = 3) -> Scenario:
    """Build the world an ``op`` round starts from.

    sweep / background: nothing archived yet. restore: everything archived, the
    Claude Code copies deleted (as its cleanup does) so both kinds are written back.
    prune: everything archived, one session pinned, a cap of half the archive bytes.
    reindex: everything archived, the index rows remembered.
    """
    world = build_world(root, native=native, claude=claude, seed=seed)
    sc = Scenario(op, world)
    if op == "background":
        sc.args = ("--interval-hours", "0.0001")
    if op in ("restore", "prune", "reindex"):
        archive_everything(world)
    if op == "restore":
        sc.live_optional = True
        for s in world.of_kind("claude-code"):
            s.path.unlink()
    elif op == "prune":
        with open_vault(world) as v:
            pinned = sorted(world.sessions)[seed % len(world.sessions)]
            v.pin(pinned)
            cap = v.index.get_stats()["archive_bytes"] // 2
            plan = v.prune(max_bytes=cap, dry_run=True)
        sc.may_vanish = frozenset(e.session_id for e in plan.pruned)
        assert pinned not in sc.may_vanish and sc.may_vanish
        sc.args = ("--max-bytes", str(cap))
    elif op == "reindex":
        sc.index_before = index_rows(world.home)
    return sc


def check_scenario(sc: Scenario) -> Check:
    check = check_world(sc.world, live_optional=sc.live_optional, may_vanish=sc.may_vanish)
    if sc.index_before is not None and index_rows(sc.world.home) != sc.index_before:
        check.problems.append("the index differs from the one before the reindex")
    return check


def measure(op: str, root: Path, native: int = 10, claude: int = 3) -> float:
    """Seconds a complete ``op`` takes from the worker's ready line (the kill window).
    The background sweeper never ends, so its window is that of one sweep."""
    sc = prepare("sweep" if op == "background" else op, root, seed=10_000, native=native, claude=claude)
    result = run_worker(sc.world, sc.op, *sc.args)
    check = check_scenario(sc)
    if not check.ok:
        raise AssertionError(f"an uninterrupted {op} broke the home: {check.describe()}")
    return float(result["seconds"])


@dataclass
class Round:
    op: str
    delay: float
    killed: bool
    check: Check


def kill_round(op: str, root: Path, seed: int, delay: float, native: int = 10, claude: int = 3) -> Round:
    """Prepare a world, run ``op`` in a worker, SIGKILL it ``delay`` s after it is ready,
    then reopen the home and check it."""
    sc = prepare(op, root, seed, native=native, claude=claude)
    killed = kill_at(sc.world, op, sc.args, delay)
    return Round(op, delay, killed, check_scenario(sc))


def chained_kills(root: Path, seed: int, delays: list[float], native: int = 10, claude: int = 3) -> Round:
    """Kill several sweeps of one home in a row without reopening it in between: each
    worker starts by reconciling what the previous one left, and may die doing so."""
    sc = prepare("sweep", root, seed, native=native, claude=claude)
    killed = [kill_at(sc.world, "sweep", (), d) for d in delays]
    return Round("sweep-chain", sum(delays), any(killed), check_scenario(sc))


# Every point of the write protocol a sweep can die at: the fault hook's steps, and the
# instant a source set aside for deletion is about to be unlinked.
CRASH_STEPS = ("write-member", "fsync", "rename", "fsync-dir", "verify", "index", "delete-source", "unlink-held")
# Two sweeps through one Vault: sessions 40.2+ days old (half the native ones), then the
# rest, so a crash at the first step of the second sweep also tests state one Vault
# carries from one write operation to the next.
BATCHES = "40.2,7"


def crash_at(root: Path, seed: int, step: str, nth: int, native: int = 10, claude: int = 3) -> Round:
    """A sweep worker that SIGKILLs itself at the ``nth`` occurrence of ``step``; then the
    home is reopened and checked. ``killed`` is False if the step never came ``nth`` times."""
    sc = prepare("sweep", root, seed, native=native, claude=claude)
    status = Worker(sc.world, "sweep", "--older-than", BATCHES, "--die-at", step, "--nth", str(nth)).wait()
    return Round(f"crash at {step}", 0.0, status == -signal.SIGKILL, check_scenario(sc))


def spread(n: int, window: float, seed: int) -> list[float]:
    """``n`` kill delays covering [0, window] evenly (one random point per slice)."""
    rng = random.Random(seed)
    return [window * (i + rng.random()) / n for i in range(n)]


def line_numbers(data: bytes) -> set[int]:
    """The ``n`` of every JSON line ``{"n": ...}`` in ``data`` (an appender's lines)."""
    out = set()
    for line in data.splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict) and isinstance(rec.get("n"), int):
            out.add(rec["n"])
    return out
