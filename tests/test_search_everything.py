"""Search finds every word a session holds (issue 15): whole tool outputs, short CJK
words, and says how many matched in all. Over the real corpus (Claude Code and Codex)."""

from __future__ import annotations

import sqlite3
import time

import pytest

from termvault import Vault
from termvault.index.query import leaves, parse

from .agents.support import CorpusHome, build_corpus_home
from .conftest import require_corpus
from .helpers import make_native

pytestmark = pytest.mark.corpus

# A Codex fixture whose one tool output is ~9,900 characters; this name occurs once in the
# corpus, past character 4,000 of that output (the old 2,000-character cap dropped it).
DEEP_WORD = "connectLinearIntegration"
DEEP_SESSION = "01998190-fba6-7f40-9309-dc4e48c5844a"


@pytest.fixture(scope="module")
def corpus_home(tmp_path_factory) -> CorpusHome:
    corpus = require_corpus()
    return build_corpus_home(tmp_path_factory.mktemp("search-home"), corpus)


@pytest.fixture
def vault(corpus_home: CorpusHome):
    with Vault(corpus_home.home, readonly=True) as v:
        yield v


def test_a_word_deep_in_a_long_tool_output_is_found_with_its_snippet(vault):
    hits = vault.search(DEEP_WORD)
    assert [h.entry.session_id for h in hits] == [DEEP_SESSION]
    assert DEEP_WORD in (hits[0].snippet or "")
    assert hits[0].highlights


def test_the_pages_the_index_uses_stay_under_six_tenths_of_the_archives(corpus_home: CorpusHome):
    # Pages in use: the file also keeps a free list left by full-text segment merges,
    # which SQLite reuses for later writes.
    archives = sum(p.stat().st_size for p in (corpus_home.home / "archive").rglob("*") if p.is_file())
    db = sqlite3.connect(corpus_home.home / "archive_index.sqlite3")
    try:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages, free, size = (
            db.execute(f"PRAGMA {p}").fetchone()[0] for p in ("page_count", "freelist_count", "page_size")
        )
    finally:
        db.close()
    assert (pages - free) * size < 0.6 * archives, (pages, free, size, archives)


# Japanese and Chinese in the corpus: a Claude Code viewer's mock session (Japanese) and a
# long Chinese-language session.
JAPANESE = "5c0375b4-57a5-4f26-b12d-d022ee4e51b7"
CHINESE = "2141d089-12fa-4a19-81f0-f622d6cb0407"
CHINESE_DOCS = "67beb7b7-b91d-4bf4-a20d-5840f38e4cf2"  # mentions 最 but never 最新


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("術", {JAPANESE}),  # one character
        ("最", {JAPANESE, CHINESE, CHINESE_DOCS}),
        ("最新", {JAPANESE, CHINESE}),  # two characters, inside longer runs in both
        ("技術", {JAPANESE}),
        ("最新の", {JAPANESE}),  # three characters: the phrase of pairs, in order
    ],
)
def test_short_cjk_words_inside_longer_runs_are_found(vault, query, expected):
    hits = vault.search(query)
    assert {h.entry.session_id for h in hits} == expected
    assert all(query in (h.snippet or "") for h in hits)


def test_cjk_query_terms_become_character_pairs_checked_in_the_frame():
    tree, terms = parse("最 最新版 python教程")
    found = list(leaves(tree))
    assert [leaf.tokens for leaf in found] == [["最"], ["最新", "新版"], ["python", "教程"]]
    assert terms == ["最", "最新版", "python教程"]
    assert found[0].check is None  # one character: its own token
    assert found[1].check is not None and found[1].check.search("这是最新版本") and not found[1].check.search("最新 版")


@pytest.mark.parametrize("query", ["the", "error", None])
def test_the_results_say_how_many_sessions_match_in_all(vault, query):
    everything = vault.search(query, limit=1000, snippets=False)
    first = vault.search(query, limit=3)
    assert len(everything) > 3
    assert len(first) == 3 and first.total == everything.total == len(everything)


@pytest.mark.parametrize(("query", "shown"), [("Next.js", "next.js"), ("src/app/api", "src/app/api")])
def test_a_dotted_or_path_term_is_snippeted_and_highlighted_as_written(vault, query, shown):
    hits = vault.search(query)
    assert len(hits) >= 5
    for hit in hits:
        snippet = hit.snippet or ""
        assert shown in snippet.lower(), snippet
        assert shown in [snippet[a:b].lower() for a, b in hit.highlights]


def test_a_phrase_query_snippets_the_phrase(vault):
    hits = vault.search('"Global Prisma client"')
    assert [h.entry.session_id for h in hits]
    for hit in hits:
        assert "global prisma client" in (hit.snippet or "").lower(), hit.snippet


def test_a_term_as_written_ranks_above_sessions_holding_only_its_parts(tmp_path):
    home = tmp_path / "home"
    now = time.time()
    # bm25 alone puts "parts" first: the words next and js, adjacent, many times.
    make_native(home, "parts", 10, now, output_snapshot="the next js file, next js again, next js " * 5)
    make_native(
        home, "written", 20, now, output_snapshot="a long note about many things; built with Next.js " + "x " * 300
    )
    with Vault(home, archive_days=7) as v:
        assert not v.sweep().failed
        assert [h.entry.session_id for h in v.search("Next.js")] == ["written", "parts"]
