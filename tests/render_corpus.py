"""Sessions of the shared corpus as the sources see them, for the rendering tests: file
refs named the way each tool lays its files out (corpus names encode the original path
with ``__`` for ``/``), and a Claude Code session with three parallel sub-agents built
from real sidechain records (the corpus has sub-agents that ran one after another only).
Nothing is copied into the repository: golden files hold outlines and digests."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from html.parser import HTMLParser
from pathlib import Path

from termvault.model import FileRef
from termvault.render import render
from termvault.sources.base import Source
from termvault.sources.claude_code import ClaudeCodeSource
from termvault.sources.codex import CodexSource
from termvault.sources.gemini import GeminiSource
from termvault.streams import DiskFile

from .sources.support import MemoryFile

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("TERMVAULT_UPDATE_GOLDEN") == "1"

TEAM = "ahmedarafa994__eq-prediction__.claude__projects__-teamspace-studios-this-studio__c8850e36-756d-40c3-964a-04ec6cfd7a25"
TODO = "d-kimuson__claude-code-viewer__mock-global-claude-dir__projects__sample-project__fe5e1c67-53e7-4862-81ae-d0e013e3270b"
CODEX_SHELL = (
    "brianlan__paper2md__.codex__sessions__2025__11__07__"
    "rollout-2025-11-07T22-27-23-019a5eb7-01fe-7ec2-983f-a7d864b9d4d9"
)
CODEX_AGENTS_MD = (
    "0h-n0__local-voice-assistant-codex__.codex__sessions__2025__12__26__"
    "rollout-2025-12-26T01-48-36-019b5669-8da8-7bc3-bed8-e1c1b805dad5"
)
GEMINI_TOOLS = "kenn-io__agentsview__internal__parser__testdata__gemini__tool_calls_with_results"


def disk(corpus: Path, folder: str, name: str, relpath: str) -> DiskFile:
    path = corpus / folder / name
    return DiskFile(relpath, path.stat().st_size, path)


def session(corpus: Path, key: str) -> tuple[Source, list[FileRef]]:
    """The source and file refs of one of the sessions the tests render."""
    home = Path("/nonexistent")
    if key == "claude-subagents-dir":
        folder = "claude_code_jsonl"
        agent = "agent-a21da85a6149b64db"
        refs = [
            disk(corpus, folder, f"{TEAM}.jsonl", "p/c8850e36.jsonl"),
            disk(corpus, folder, f"{TEAM}__subagents__{agent}.jsonl", f"p/c8850e36/subagents/{agent}.jsonl"),
            disk(corpus, folder, f"{TEAM}__subagents__{agent}.meta.json", f"p/c8850e36/subagents/{agent}.meta.json"),
        ]
        return ClaudeCodeSource(home=home), refs
    if key == "claude-sidechains":
        return ClaudeCodeSource(home=home), [disk(corpus, "claude_code_jsonl", f"{TODO}.jsonl", "p/fe5e1c67.jsonl")]
    if key == "claude-parallel":
        return ClaudeCodeSource(home=home), [MemoryFile("p/parallel.jsonl", parallel_sidechains(corpus))]
    if key == "codex-shell":
        return CodexSource(home=home), [disk(corpus, "codex_rollout_jsonl", f"{CODEX_SHELL}.jsonl", "s/rollout.jsonl")]
    if key == "codex-agents-md":
        return CodexSource(home=home), [
            disk(corpus, "codex_rollout_jsonl", f"{CODEX_AGENTS_MD}.jsonl", "s/rollout.jsonl")
        ]
    if key == "gemini-tools":
        ref = disk(corpus, "gemini_cli_json", f"{GEMINI_TOOLS}.json", "p/chats/session-2024-01-01T10-00-9f3a1c2e.json")
        return GeminiSource(home=home), [ref]
    raise KeyError(key)


def rendered(corpus: Path, key: str, fmt: str, detail: str = "all") -> str:
    source, refs = session(corpus, key)
    return "".join(render(source.messages(refs), fmt, {"name": key, "source": source.kind}, detail=detail))


def parallel_sidechains(corpus: Path) -> bytes:
    """A transcript in the old layout where three Task sub-agents ran at once: the first
    three Task calls of a real session and their real sidechain records, the calls made in
    one reply and the sub-agents' records interleaved in time, as Claude Code writes them
    when sub-agents run in parallel."""
    lines = (corpus / "claude_code_jsonl" / f"{TODO}.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    main = [r for r in records if not r.get("isSidechain")]
    root: dict[str, str] = {}
    chains: dict[str, list[dict]] = {}
    for r in records:
        if r.get("isSidechain"):
            parent = r.get("parentUuid")
            root[r["uuid"]] = root.get(parent, r["uuid"]) if parent else r["uuid"]
            chains.setdefault(root[r["uuid"]], []).append(r)
    runs = list(chains.values())[:3]
    calls, results = [], []
    for r in main:
        content = (r.get("message") or {}).get("content")
        if (
            r["type"] == "assistant"
            and isinstance(content, list)
            and any(b.get("type") == "tool_use" and b.get("name") == "Task" for b in content)
        ):
            calls.append(r)
        elif (
            r["type"] == "user"
            and isinstance(content, list)
            and calls
            and len(results) < len(calls)
            and any(b.get("type") == "tool_result" and b.get("tool_use_id") in _task_ids(calls) for b in content)
        ):
            results.append(r)
        if len(results) == 3:
            break
    first_call = main.index(calls[0])
    head = main[:first_call]
    interleaved = [r for group in _round_robin(runs) for r in group]
    start = head[-1]["timestamp"]
    for n, r in enumerate(interleaved):
        r["timestamp"] = _later(start, 10 + n)
    for n, r in enumerate(calls[:3]):
        r["timestamp"] = _later(start, 1 + n)
    for n, r in enumerate(results[:3]):
        r["timestamp"] = _later(start, 10 + len(interleaved) + n)
    out = head + calls[:3] + interleaved + results[:3]
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in out).encode("utf-8")


def _task_ids(calls: list[dict]) -> set[str]:
    return {b["id"] for r in calls for b in r["message"]["content"] if b.get("type") == "tool_use"}


def _round_robin(runs: list[list[dict]]) -> Iterable[list[dict]]:
    for i in range(max(len(r) for r in runs)):
        yield [run[i] for run in runs if i < len(run)]


def _later(iso: str, seconds: int) -> str:
    from datetime import datetime, timedelta

    t = datetime.fromisoformat(iso.replace("Z", "+00:00")) + timedelta(seconds=seconds)
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# ---------------------------------------------------------------------------------------
# Golden outlines
# ---------------------------------------------------------------------------------------


def markdown_outline(doc: str) -> list[str]:
    """The structure of a Markdown export without its words: headings (role and time),
    folded blocks (kind and tool name), fence languages."""
    out = []
    fence = None
    for line in doc.splitlines():
        if fence is not None:
            if line.strip() == fence:
                fence = None
            continue
        if line.startswith("```"):
            fence = "`" * (len(line) - len(line.lstrip("`")))
            lang = line.lstrip("`")
            out.append(f"fence {lang}".rstrip())
        elif line.startswith("#"):
            hashes = line.split(" ", 1)[0]
            words = line[len(hashes) :].strip().split(" (")[0]
            role = words if words in ("User", "Task", "Assistant", "Output", "Input", "System") else "…"
            out.append(f"{hashes} {role}")
        elif line.startswith("<details><summary>"):
            summary = line[len("<details><summary>") :]
            kind = summary.split(":")[0]
            out.append(f"details {kind}")
        elif line.startswith("</details>"):
            out.append("/details")
    return out


class _Outline(HTMLParser):
    KEEP = frozenset({"section", "details", "summary", "h1", "h2", "h3", "pre", "nav", "li", "main"})

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self.depth = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.KEEP:
            cls = dict(attrs).get("class") or ""
            self.lines.append("  " * self.depth + tag + (f".{cls.replace(' ', '.')}" if cls else ""))
        if tag in ("section", "details", "nav", "main"):
            self.depth += 1

    def handle_endtag(self, tag):
        if tag in ("section", "details", "nav", "main"):
            self.depth -= 1


def html_outline(doc: str) -> list[str]:
    """The element structure of an HTML export (sections, folds and their nesting)."""
    parser = _Outline()
    parser.feed(doc)
    return parser.lines


def check_golden(name: str, doc: str, outline: list[str]) -> None:
    """Compare ``doc`` with the golden file ``name``: its outline line by line (a readable
    difference), then its SHA-256. ``TERMVAULT_UPDATE_GOLDEN=1`` rewrites the file."""
    digest = hashlib.sha256(doc.encode("utf-8")).hexdigest()
    path = GOLDEN / name
    text = f"sha256 {digest}\n" + "\n".join(outline) + "\n"
    if UPDATE or not path.exists():
        if not UPDATE:
            raise AssertionError(f"no golden file {path.name}; run with TERMVAULT_UPDATE_GOLDEN=1 to write it")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    expected = path.read_text(encoding="utf-8").splitlines()
    assert outline == expected[1:], f"the structure of {name} changed"
    assert expected[0] == f"sha256 {digest}", (
        f"the text of {name} changed (same structure); if intended, rerun with TERMVAULT_UPDATE_GOLDEN=1"
    )
