"""Build the zstd dictionary small archive units are compressed with
(``src/termvault/dictionaries/app-v2.zdict``).

    python -m bench.build_dictionary [--out PATH] [--samples 3000] [--size 32768]

Training samples are real archive units (tar streams: manifest + session file) that a
termvault sweep writes for generated multi-terminal-app sessions. The sessions come from
this file's and ``bench.dictgen``'s own generators (shell transcripts with source code,
test runs, git and package-manager output; Claude Code panes; a mixed pane), on purpose
not the benchmark corpus generator (``bench.world``): the dictionary should learn the fixed parts (the app's JSON keys and
layout, the manifest's keys, tar headers, common shell words), not the text the
benchmarks then measure. The id is fixed per file, so a rebuilt dictionary must get a new id and
file name (old units name the old one and must keep reading): app-v1 (id 0x9A01, 16 KB,
the mixed pane only) stays in the package for the units written with it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

from . import dictgen

DICT_ID = 0x9A02  # private range (>= 32768), 2 bytes in each frame header
WORDS = [
    "build",
    "test",
    "deploy",
    "config",
    "server",
    "client",
    "api",
    "web",
    "docs",
    "main",
    "feature",
    "fix",
    "update",
    "release",
    "cache",
    "user",
    "data",
    "model",
    "view",
    "route",
    "handler",
    "error",
    "warning",
    "info",
    "debug",
    "request",
    "response",
    "status",
    "file",
    "path",
    "module",
    "package",
    "install",
    "upgrade",
    "version",
    "branch",
    "commit",
    "merge",
    "remote",
    "origin",
    "local",
    "done",
    "ok",
    "failed",
    "passed",
    "skipped",
    "running",
    "started",
    "stopped",
    "listening",
    "port",
    "host",
    "token",
    "session",
    "queue",
]
COMMANDS = (
    "ls -la",
    "git status",
    "git diff",
    "git log --oneline -5",
    "git pull",
    "git push",
    "make",
    "make test",
    "npm install",
    "npm run build",
    "npm test",
    "python -m pytest -q",
    "pip install -r requirements.txt",
    "cargo build",
    "cargo test",
    "go test ./...",
    "docker compose up -d",
    "docker ps",
    "kubectl get pods",
    "cat README.md",
    "vim {w}.py",
    "cd {w}",
    "claude",
    "tail -f logs/{w}.log",
    "echo {w}",
    "grep -rn {w} .",
    "ssh {w}-server",
    "curl -s localhost:8080/{w}",
    "htop",
    "history | tail",
)
OUTPUTS = (
    "On branch main",
    "Your branch is up to date with 'origin/main'.",
    "nothing to commit, working tree clean",
    "Changes not staged for commit:",
    "\tmodified:   src/{w}.py",
    "total {n}",
    "drwxr-xr-x  {n} {u} staff   {n} Mar {n} 10:{n} {w}",
    "-rw-r--r--  1 {u} staff  {n} Apr {n} 09:{n} {w}.py",
    "{n} passed in 0.{n}s",
    "FAILED tests/test_{w}.py::test_{w} - AssertionError",
    "===== {n} passed, {n} warning in {n}.{n}s =====",
    "Successfully installed {w}-{n}.{n}.{n}",
    "Requirement already satisfied: {w} in ./.venv/lib/python3.12/site-packages",
    "added {n} packages, and audited {n} packages in {n}s",
    "found 0 vulnerabilities",
    "   Compiling {w} v0.{n}.{n}",
    "    Finished `dev` profile [unoptimized + debuginfo] target(s) in {n}.{n}s",
    "ok  \tgithub.com/{u}/{w}\t0.{n}s",
    "Error: {w} not found",
    "warning: unused variable: `{w}`",
    "INFO: Started server process [{n}]",
    "INFO: Uvicorn running on http://127.0.0.1:8000 (Press CTRL+C to quit)",
    "{w}-{n}   1/1     Running   0   {n}m",
    "\x1b[32m✓\x1b[0m {w} {w}",
    "\x1b[31merror\x1b[0m: {w} {w}",
    "╭─────────────────────────────────────╮",
    "│ > {w} {w} {w}                          │",
    "╰─────────────────────────────────────╯",
    "",
    "",
    "",
    "● {w} {w} the {w} in src/{w}.ts",
    "  ⎿  Read {n} lines",
    "Updated {w}.py with {n} additions and {n} removals",
)


def _fill(r: random.Random, template: str, user: str) -> str:
    out = template
    while "{w}" in out:
        out = out.replace("{w}", r.choice(WORDS), 1)
    while "{n}" in out:
        out = out.replace("{n}", str(r.randint(1, 999)), 1)
    return out.replace("{u}", user)


def sample_session(r: random.Random, now: float) -> tuple[str, bytes, float]:
    user = r.choice(("ana", "ben", "chen", "dana", "eli", "femi", "gus", "hana"))
    project = r.choice(WORDS) + r.choice(("", "-app", "-service", "-cli", "_tools"))
    cwd = f"{r.choice(('/home/', '/Users/'))}{user}/{r.choice(('code', 'src', 'work', 'projects'))}/{project}"
    prompt = f"{user}@{r.choice(('laptop', 'mbp', 'dev'))}:~{cwd.split(user, 1)[1]}$ "
    n = r.choice((0, 0, 5, 10, 20, 30, 40, 50, 50, 50, 60, 80, 100, 150, 200))
    modified = now - r.uniform(31, 500) * 86400
    kind = r.random()
    lines: list[str] = []
    last = None
    if kind < 0.45:
        lines, _, last = dictgen.shell_pane(r, user, cwd, n, modified - 3600)
    elif kind < 0.85:
        lines, _, last = dictgen.claude_pane(r, user, cwd, n, modified - 3600)
    else:
        while len(lines) < n:
            last = _fill(r, r.choice(COMMANDS), user)
            lines.append(prompt + last)
            lines.extend(_fill(r, r.choice(OUTPUTS), user) for _ in range(r.randint(0, 8)))
    sid = (
        str(uuid.UUID(int=r.getrandbits(128), version=4))
        if r.random() < 0.6
        else uuid.UUID(int=r.getrandbits(128)).hex[:8]
    )
    state = {
        "session_id": sid,
        "name": r.choice((project, f"Session {r.randint(1, 9)}", f"{project} {r.choice(WORDS)}")),
        "working_directory": cwd,
        "created_at": modified - r.uniform(60, 86400),
        "modified_at": modified,
        "command_count": r.randint(0, 300),
        "last_command": last,
        "conversation_file": (
            f"{cwd.split(project)[0]}.claude/projects/{cwd.replace('/', '-')}/{uuid.uuid4()}.jsonl"
            if r.random() < 0.2
            else None
        ),
        "output_snapshot": lines[-n:] if n else [],
        "is_active": r.random() < 0.3,
    }
    return sid, json.dumps(state, indent=2).encode("utf-8"), modified


def samples(count: int, seed: int) -> list[bytes]:
    """Tar streams of real units for ``count`` generated sessions."""
    from termvault import SessionArchiver
    from termvault import archive as arc

    r = random.Random(seed)
    now = time.time()
    out: list[bytes] = []
    with tempfile.TemporaryDirectory(prefix="tv-dict-") as tmp:
        home = Path(tmp) / "home"
        (home / "history").mkdir(parents=True)
        for _ in range(count):
            sid, data, modified = sample_session(r, now)
            path = home / "history" / f"{int(modified)}_{sid}.json"
            path.write_bytes(data)
            os.utime(path, (modified, modified))
        archiver = SessionArchiver(home, archive_days=30)
        try:
            archiver.auto_archive_old_sessions()
            for path in arc.iter_archive_files(archiver.archive_dir):
                with open(path, "rb") as fh, arc.decompressor(fh, str(path)).stream_reader(fh) as zr:
                    out.append(zr.read().rstrip(b"\0"))  # the tar's zero padding teaches nothing
        finally:
            archiver.close()
    return out


def main(argv: list[str] | None = None) -> int:
    import zstandard

    ap = argparse.ArgumentParser(prog="python -m bench.build_dictionary")
    ap.add_argument("--out", type=Path, default=Path("src/termvault/dictionaries/app-v2.zdict"))
    ap.add_argument("--samples", type=int, default=3000)
    ap.add_argument("--size", type=int, default=32768)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--k", type=int, default=1024, help="COVER segment size")
    args = ap.parse_args(argv)
    data = samples(args.samples, args.seed)
    d = zstandard.train_dictionary(args.size, data, dict_id=DICT_ID, level=19, k=args.k, d=8, threads=-1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(d.as_bytes())
    print(f"{args.out}: {len(d.as_bytes())} bytes, id {d.dict_id():#x}, from {len(data)} units")
    return 0


if __name__ == "__main__":
    sys.exit(main())
