"""Search quality over the real corpus (issue 15): each query names the sessions it must
find, by the corpus file they were archived from, and the suite reports recall (expected
sessions found / expected). Every source of the corpus is laid out where its tool keeps
it and swept into one vault per module.

The queries cover phrases, identifiers deep in tool output, paths, error messages, CJK
words of two to six characters, typos (``fuzzy``), regular expressions and the role and
tool filters. ``python -m tests.test_search_quality`` prints the recall table that
BENCHMARKS.md shows.
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import zstandard

from termvault import Vault

from .conftest import corpus_root, require_corpus
from .sources.test_agent_log import logs_layout
from .sources.test_aider import aider_layout
from .sources.test_asciinema import cast_layout
from .sources.test_claude_code import claude_layout
from .sources.test_codex import codex_layout
from .sources.test_gemini import gemini_layout

pytestmark = pytest.mark.corpus


@dataclass
class QualityHome:
    home: Path
    files: dict[str, str]  # session id -> the corpus file its main file was copied from

    def open(self) -> Vault:
        return Vault(self.home, readonly=True)


def build_home(base: Path, corpus: Path) -> QualityHome:
    """Every corpus file where its tool keeps it, swept into a vault at ``base/vault``."""
    user = base / "user"
    roots = {
        "claude-code": user / ".claude" / "projects",
        "codex": user / ".codex",
        "gemini": user / ".gemini" / "tmp",
        "asciinema": user / "casts",
        "aider": user / "code-roots",
        "agent-log": user / "logs",
    }
    claude_layout(corpus, roots["claude-code"])
    codex_layout(corpus, roots["codex"])
    gemini_layout(corpus, roots["gemini"])
    cast_layout(corpus, roots["asciinema"])
    aider_layout(corpus, roots["aider"])
    logs_layout(corpus, roots["agent-log"])
    sources: dict[str, Any] = {kind: {"roots": [str(root)]} for kind, root in roots.items()}
    sources["codex"] = {"roots": [str(roots["codex"] / "sessions"), str(roots["codex"] / "archived_sessions")]}
    home = base / "vault"
    with Vault(home, settle_seconds=0, archive_days=0, sources=sources) as vault:
        report = vault.sweep(older_than=0, kinds=list(roots))
        assert not report.failed, [f"{f.session_id}: {f.reason}" for f in report.failed]
        by_sha = {_sha(p): p.name for p in corpus.rglob("*") if p.is_file()}
        files = {}
        for hit in vault.search(None, limit=10_000):
            manifest = vault.manifest(hit.entry.session_id, hit.entry.version)
            main = Path(manifest.root) / manifest.files[0].path
            files[hit.entry.session_id] = by_sha.get(_sha(main), main.name)
    return QualityHome(home, files)


def _sha(path: Path) -> str:
    data = path.read_bytes()
    if path.suffix == ".zst":
        data = zstandard.ZstdDecompressor().decompressobj().decompress(data)
    return hashlib.sha256(data).hexdigest()


# -- the queries ----------------------------------------------------------------------------
# Sessions by the corpus file they came from (a fragment of its name found in one file only).
EQ_MAIN = "c8850e36-756d-40c3-964a-04ec6cfd7a25.jsonl"  # Claude Code, Task sub-agents, Edit errors
EQ_COMPACT = "agent-acompact-5bfd067acc2eb843.jsonl"  # a compaction sub-agent on its own
JA_CLAUDE_MD = "5c0375b4-57a5-4f26-b12d-d022ee4e51b7"  # Japanese prompt and answer
TODO_APP = "fe5e1c67-53e7-4862-81ae-d0e013e3270b"  # "create TODO app by Next.js"
CN_FRONTEND = "2141d089-12fa-4a19-81f0-f622d6cb0407"  # Chinese, large tool results
EDGE = "edge_cases.jsonl"
VOICE_1 = "019b55c1-d022-7061-bbb9-b0c90708472b"  # Codex, 1.9 MB, Japanese prompts
VOICE_2 = "019b5669-8da8-7bc3-bed8-e1c1b805dad5"  # Codex, one 39,814-character git diff output
PAPER2MD = "019a5eb7-01fe-7ec2-983f-a7d864b9d4d9"
QNA = "019a0132-695f-78d0-b253-7059e96d3e64"
DASH_1 = "01997e76-d124-7592-9cac-2ec05abbca08"  # Codex fixtures of one TypeScript monorepo
DASH_2 = "01997ea4-a70d-7da3-8c20-c736db82a7c5"
DASH_3 = "0199812e-64f0-7f73-91fc-095dda01c36e"
DASH_4 = "01998190-fba6-7f40-9309-dc4e48c5844a"
DASH_5 = "019982b8-3422-79e0-8b3b-05abaf4f3c3e"
MAC_LOG = "Mac__Mac_2k.log"


@dataclass(frozen=True)
class Query:
    kind: str
    text: str
    expected: tuple[str, ...]  # every one must be found
    options: dict[str, Any] = field(default_factory=dict)  # Vault.search keywords
    absent: tuple[str, ...] = ()  # must not be found (the filters' point)
    first: bool = False  # the expected sessions rank above every other hit
    note: str = ""

    @property
    def label(self) -> str:
        extra = " ".join(f"{k}={v}" for k, v in self.options.items())
        return f"{self.text} {extra}".strip()


QUERIES = [
    Query("phrase", '"create TODO app"', (TODO_APP,)),
    Query("phrase", '"File has been modified since read"', (EQ_MAIN,), note="a tool error"),
    Query("phrase", '"app router"', (JA_CLAUDE_MD, CN_FRONTEND, TODO_APP)),
    Query("deep identifier", "ea85ade", (VOICE_2,), note="at character ~34,000 of a Codex tool output"),
    Query("deep identifier", "c6814de", (VOICE_2,), note="at character ~8,200 of the same output"),
    Query("deep identifier", "CursorIntegrationCard", (DASH_3,), note="at character ~8,200 of a 10,240 one"),
    Query("deep identifier", "connectLinearIntegration", (DASH_4,), note="past character 4,000"),
    Query("deep identifier", "mockGetTeamDashboardMetrics", (DASH_1,)),
    Query("path", "src/app/api/dashboard", (DASH_1, DASH_2), first=True),
    Query("path", "apps/spectora-labs/src/domain", (DASH_1, DASH_3, DASH_4, DASH_5), first=True),
    Query("dotted", "Next.js", (JA_CLAUDE_MD, TODO_APP, CN_FRONTEND)),
    Query("error", '"Path does not exist"', (EQ_MAIN, EQ_COMPACT)),
    Query("error", '"Failed to spawn"', (VOICE_1,)),
    Query("error", '"command not found"', (EDGE, VOICE_1)),
    Query("error", "Operation not permitted", (QNA, DASH_3, MAC_LOG)),
    Query("cjk", "最新", (JA_CLAUDE_MD, CN_FRONTEND), note="two characters inside longer runs"),
    Query("cjk", "構造", (JA_CLAUDE_MD, VOICE_1)),
    Query("cjk", "アップデート", (JA_CLAUDE_MD,), note="six characters"),
    Query("cjk", "技術スタック", (JA_CLAUDE_MD,)),
    Query("fuzzy", "pytst", (VOICE_1, VOICE_2, PAPER2MD), {"fuzzy": True}, note="pytest"),
    Query("fuzzy", "reazonspeach", (VOICE_1, VOICE_2), {"fuzzy": True}, note="reazonspeech"),
    Query("fuzzy", "mDNSResponer", (MAC_LOG,), {"fuzzy": True}, note="mDNSResponder"),
    Query("regex", r"index 0000000\.\.ea85ad[0-9a-f]", (VOICE_2,), {"regex": True}),
    Query("regex", r"reazonspeech-nemo-v\d", (VOICE_1, VOICE_2), {"regex": True}),
    Query("regex", r"useTeamWith\w+\.ts", (DASH_1, DASH_2, DASH_3), {"regex": True}),
    Query("role", '"create TODO app"', (TODO_APP,), {"role": ["user"]}, note="only in a prompt"),
    Query("role", "アップデート", (JA_CLAUDE_MD,), {"role": ["user"]}),
    Query("role", "技術スタック", (JA_CLAUDE_MD,), {"role": ["assistant"]}, note="only in an answer"),
    Query("role", "createWebhookRoute", (DASH_4,), {"role": ["tool"]}, note="only in tool output"),
    Query("role", "createWebhookRoute", (), {"role": ["user"]}, absent=(DASH_4,), note="not in a prompt"),
    Query("tool", "lambda_type", (EQ_MAIN,), {"tool": "Edit"}),
]


# -- measuring ------------------------------------------------------------------------------
@dataclass
class Outcome:
    query: Query
    found: list[str]  # the expected sessions found (their fragments)
    missing: list[str]
    unwanted: list[str]  # absent ones found
    misranked: bool  # ``first`` and another hit ranked above an expected one
    unshown: list[str]  # expected hits whose snippet highlights nothing
    error: str = ""


def session_of(home: QualityHome, fragment: str) -> str:
    ids = [sid for sid, name in home.files.items() if fragment in name]
    assert len(ids) == 1, f"{fragment!r} names {len(ids)} archived sessions: {ids}"
    return ids[0]


def run_query(home: QualityHome, vault: Vault, q: Query) -> Outcome:
    try:
        hits = vault.search(q.text, limit=50, **q.options)
    except Exception as exc:  # an option the search does not know yet: nothing found
        return Outcome(q, [], list(q.expected), [], False, [], f"{type(exc).__name__}: {exc}")
    rank = {h.entry.session_id: n for n, h in enumerate(hits)}
    wanted = {f: session_of(home, f) for f in q.expected}
    found = [f for f, sid in wanted.items() if sid in rank]
    missing = [f for f in q.expected if f not in found]
    unwanted = [f for f in q.absent if session_of(home, f) in rank]
    misranked = q.first and sorted(rank[wanted[f]] for f in found) != list(range(len(found)))
    shown = {h.entry.session_id: h for h in hits}
    unshown = [f for f in found if not shown[wanted[f]].highlights]
    return Outcome(q, found, missing, unwanted, misranked, unshown)


@pytest.fixture(scope="module")
def quality_home(tmp_path_factory) -> QualityHome:
    corpus = require_corpus()
    return build_home(tmp_path_factory.mktemp("quality"), corpus)


@pytest.fixture(scope="module")
def quality_vault(quality_home):
    with quality_home.open() as vault:
        yield vault


@pytest.mark.parametrize("q", QUERIES, ids=[f"{q.kind}: {q.label}" for q in QUERIES])
def test_each_query_finds_its_sessions_and_shows_the_match(quality_home, quality_vault, q):
    out = run_query(quality_home, quality_vault, q)
    assert not out.error, out.error
    assert not out.missing, f"{q.label!r} did not find {out.missing}"
    assert not out.unwanted, f"{q.label!r} found {out.unwanted}, which its filters exclude"
    assert not out.misranked, f"{q.label!r} ranked another session above one holding it as written"
    assert not out.unshown, f"{q.label!r}: the snippets of {out.unshown} highlight nothing"


def test_the_queries_cover_every_kind_and_recall_is_complete(quality_home, quality_vault):
    kinds = {q.kind for q in QUERIES}
    assert len(QUERIES) >= 20
    assert {"phrase", "deep identifier", "path", "error", "cjk", "fuzzy", "regex", "role"} <= kinds
    cjk_lengths = {len(q.text) for q in QUERIES if q.kind == "cjk"}
    assert min(cjk_lengths) == 2 and max(cjk_lengths) == 6
    outcomes = [run_query(quality_home, quality_vault, q) for q in QUERIES]
    expected = sum(len(o.query.expected) for o in outcomes)
    found = sum(len(o.found) for o in outcomes)
    assert found / expected == 1.0, recall_table(outcomes)


def recall_table(outcomes: list[Outcome]) -> str:
    """Recall per kind of query, as BENCHMARKS.md shows it, then each query that missed."""
    rows = ["| kind | queries | expected sessions | found | recall |", "|---|---:|---:|---:|---:|"]
    kinds = dict.fromkeys(o.query.kind for o in outcomes)
    for kind in [*kinds, "all"]:
        part = [o for o in outcomes if kind in ("all", o.query.kind)]
        want = sum(len(o.query.expected) for o in part)
        got = sum(len(o.found) for o in part)
        name = f"**{kind}**" if kind == "all" else kind
        rows.append(f"| {name} | {len(part)} | {want} | {got} | {got / want if want else 1:.0%} |")
    for o in outcomes:
        problems = [
            f"missed {', '.join(o.missing)}" if o.missing else "",
            f"found excluded {', '.join(o.unwanted)}" if o.unwanted else "",
            "ranked below partial matches" if o.misranked else "",
            f"no highlight for {', '.join(o.unshown)}" if o.unshown else "",
            o.error,
        ]
        if any(problems):
            rows.append(f"- `{o.query.label}`: " + "; ".join(p for p in problems if p))
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    """Print the recall table over the corpus ($TERMVAULT_CORPUS or ../shared/corpus)."""
    corpus = Path(argv[0]) if argv else corpus_root()
    with tempfile.TemporaryDirectory(prefix="search-quality-") as tmp:
        home = build_home(Path(tmp), corpus)
        with home.open() as vault:
            outcomes = [run_query(home, vault, q) for q in QUERIES]
    print(recall_table(outcomes))
    return 0 if all(not o.missing for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
