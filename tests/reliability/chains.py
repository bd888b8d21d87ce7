"""Worlds whose Claude Code transcripts grew between sweeps (so their versions are delta
chains), and the check that a kill left every version restorable."""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import harness as h


@dataclass
class ChainWorld:
    world: h.World
    states: dict[str, list[bytes]] = field(default_factory=dict)  # every state each transcript had

    def grow(self, rng: random.Random, records: int = 3) -> None:
        """Append a few records to every transcript (dated in the past, so it is due)."""
        for s in self.world.of_kind("claude-code"):
            n = len(self.states[s.session_id]) * 100
            extra = b"".join(h.claude_record(s.session_id, n + i, h.text_lines(rng, 4), 0) for i in range(records))
            with open(s.path, "ab") as fh:
                fh.write(extra)
            s.data = s.path.read_bytes()
            past = time.time() - (30 - len(self.states[s.session_id])) * h.DAY
            os.utime(s.path, (past, past))
            self.states[s.session_id].append(s.data)

    def sweep(self) -> None:
        with h.open_vault(self.world) as v:
            report = v.sweep(older_than=7, kinds=["claude-code"])
        assert not report.failed, report.failed


def build(root: Path, seed: int, rounds: int = 3, claude: int = 3, **settings: Any) -> ChainWorld:
    """A world whose transcripts were archived, then grown and swept ``rounds`` times."""
    world = h.build_world(root, native=2, claude=claude, seed=seed, **settings)
    h.archive_everything(world)
    cw = ChainWorld(world, {s.session_id: [s.data] for s in world.of_kind("claude-code")})
    rng = random.Random(seed)
    for _ in range(rounds):
        cw.grow(rng)
        cw.sweep()
    return cw


def check(cw: ChainWorld, may_vanish: bool = False) -> list[str]:
    """Everything wrong after an interrupted operation: verify not clean, a temporary
    file left, a version that does not rebuild to a state its transcript had, the same
    content archived twice, a live transcript changed, or (unless ``may_vanish``, after
    a prune) a transcript with no archived version."""
    problems = []
    with h.open_vault(cw.world) as v:
        report = v.verify()
        for what in ("missing", "corrupt", "orphaned", "temp_files", "pending_removal"):
            if getattr(report, what):
                problems.append(f"verify: {what} {getattr(report, what)}")
        problems += [f"temporary file left: {p}" for p in h.leftovers(cw.world)]
        for sid, states in cw.states.items():
            s = cw.world.sessions[sid]
            versions = [e for e in v.index.versions(sid) if e.status == "archived"]
            contents = set()
            for e in versions:
                try:
                    manifest, files = h.archive_members(v, e)
                except Exception as exc:
                    problems.append(f"{sid} v{e.version} does not rebuild: {exc}")
                    continue
                main = next((f for f in manifest.files if Path(f.origin) == s.path), None)
                if main is None or files.get(main.path) not in states:
                    problems.append(f"{sid} v{e.version} holds bytes the transcript never had")
                contents.add(e.content_sha256)
            if len(contents) != len(versions):
                problems.append(f"{sid} archived twice with the same content")
            if s.path.read_bytes() != states[-1]:
                problems.append(f"{sid}: the live transcript changed")
            if not versions and not may_vanish:
                problems.append(f"{sid} has no archived version")
    return problems
