"""bench.search_compare builds its Claude Code home from the corpus as it says: copies with
fresh session ids, sub-agent folders kept under the new id, prompts varied, every record
still JSON, and termvault sweeps every copy as its own sessions."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from termvault import Vault

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # bench/ lives at the repository root, outside src/
    sys.path.insert(0, str(REPO))

from bench.search_compare import LEFT_OUT, build_home  # noqa: E402

pytestmark = pytest.mark.corpus


def test_the_home_holds_copies_with_fresh_ids_and_their_sub_agents(corpus, tmp_path):
    originals = {p.name for p in (corpus / "claude_code_jsonl").iterdir()}
    built = build_home(corpus, tmp_path / "home", target_bytes=1)  # one copy of everything
    assert built["copies"] == 1 and set(built["left_out"]) == set(LEFT_OUT)
    projects = tmp_path / "home" / ".claude" / "projects"
    files = sorted(p for p in projects.rglob("*") if p.is_file())
    assert len(files) == len(originals) - len(LEFT_OUT)
    assert sum(f.stat().st_size for f in files) == built["bytes"]
    # No file keeps its original session id; sub-agents sit under their parent's new id,
    # beside the parent's transcript when the corpus has it (one compaction agent's not).
    assert not any(old in str(f) for f in files for old in ("c8850e36-756d-40c3", "17fbecbf-929f-43c5"))
    sub_agents = [f for f in files if f.parent.name == "subagents"]
    with_parent = [f for f in sub_agents if (f.parents[2] / f"{f.parents[1].name}.jsonl").exists()]
    assert len(sub_agents) == 3 and len(with_parent) == 2
    prompts = 0
    for f in files:
        for line in f.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)  # every record still parses
            message = record.get("message") if isinstance(record, dict) else None
            if isinstance(message, dict) and message.get("role") == "user" and isinstance(message.get("content"), str):
                assert message["content"].endswith(" (copy0)")
                prompts += 1
    assert prompts > 10


def test_two_copies_sweep_into_twice_the_sessions(corpus, tmp_path):
    one = build_home(corpus, tmp_path / "one", target_bytes=1)
    two = build_home(corpus, tmp_path / "two", target_bytes=one["bytes"] + 1)
    assert two["copies"] == 2
    counts = []
    for name in ("one", "two"):
        projects = tmp_path / name / ".claude" / "projects"
        with Vault(
            tmp_path / f"vault-{name}", settle_seconds=0, sources={"claude-code": {"roots": [str(projects)]}}
        ) as v:
            report = v.sweep(older_than=0, kinds=["claude-code"])
            assert not report.failed
            counts.append(len(report.archived))
    assert counts[1] == 2 * counts[0]
