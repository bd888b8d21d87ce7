"""Full-text search: query forms, filters, ranking, snippets, substrings, redaction."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from termvault import Vault
from termvault.durations import parse_when
from termvault.errors import UsageError
from termvault.index.query import Leaf, Node, parse, parse_full
from termvault.ops.search import make_snippet

from .helpers import DAY, make_native

SESSIONS = {
    # id: (age days, folder, output)
    "k8s": (20, "/srv/infra", "kubectl apply failed; rolled back the deployment of api-gateway"),
    "web": (25, "/srv/web", "fixed the deploy script; npm run build passes; getUserById now cached"),
    "notes": (30, "/home/me/notes", "grocery list: apples, pears; nothing about servers"),
    "db": (40, "/srv/infra/db", "postgres vacuum, then deployment deployment deployment of the schema"),
    "secret": (
        45,
        "/srv/ops",
        "export OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD and then deploy",
    ),
    "paths": (50, "/srv/app", "edited src/app/api/routes.ts and src/lib/util.py"),
}


@pytest.fixture(scope="module")
def vault(tmp_path_factory):
    home = tmp_path_factory.mktemp("search") / "home"
    now = time.time()
    for sid, (age, folder, output) in SESSIONS.items():
        make_native(home, sid, age, now, name=f"{sid} session", working_directory=folder, output_snapshot=output)
    v = Vault(home, archive_days=7)
    assert not v.sweep().failed
    yield v
    v.close()


def ids(hits):
    return [h.entry.session_id for h in hits]


def test_a_word_matches_whole_words(vault):
    assert set(ids(vault.search("kubectl"))) == {"k8s"}


def test_a_phrase_matches_words_in_order(vault):
    assert ids(vault.search('"rolled back"')) == ["k8s"]
    assert ids(vault.search('"back rolled"')) == []


def test_a_prefix_matches_word_starts(vault):
    assert set(ids(vault.search("deplo*"))) == {"k8s", "web", "db", "secret"}


def test_boolean_operators(vault):
    assert set(ids(vault.search("deploy OR postgres"))) == {"web", "db", "secret"}
    assert set(ids(vault.search("deplo* AND NOT kubectl"))) == {"web", "db", "secret"}
    assert ids(vault.search("kubectl AND postgres")) == []


def test_text_combines_with_metadata_filters(vault):
    assert set(ids(vault.search("deplo*", working_dir="/srv/infra"))) == {"k8s", "db"}
    now = time.time()
    assert set(ids(vault.search("deplo*", after=now - 35 * DAY))) == {"k8s", "web"}
    assert ids(vault.search("deplo*", name="db")) == ["db"]
    vault.pin("web")
    try:
        assert ids(vault.search("deplo*", pinned=True)) == ["web"]
    finally:
        vault.unpin("web")


def test_ranking_is_bm25_with_recency_breaking_ties(vault):
    hits = vault.search("deployment")
    # "db" says deployment four times, "k8s" once: db ranks first.
    assert ids(hits) == ["db", "k8s"]
    assert hits[0].score <= hits[1].score


def test_snippets_highlight_the_matched_words(vault):
    (hit,) = vault.search("kubectl")
    assert "kubectl" in hit.snippet
    start, end = hit.highlights[0]
    assert hit.snippet[start:end].lower() == "kubectl"


def test_identifier_and_path_substrings_are_found(vault):
    assert ids(vault.search("UserById")) == ["web"]
    assert ids(vault.search("app/api/rout")) == ["paths"]


def test_secrets_never_enter_the_index_or_snippets(vault):
    assert ids(vault.search("sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD")) == []
    assert ids(vault.search("abcdefghijklmnopqrstuvwxyz0123456789ABCD")) == []
    (hit,) = vault.search("OPENAI_API_KEY")
    assert "sk-proj" not in (hit.snippet or "")


def test_an_empty_query_lists_newest_activity_first(vault):
    assert ids(vault.search(None)) == ["k8s", "web", "notes", "db", "secret", "paths"]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=40))
def test_any_user_query_is_valid_fts_syntax(vault, query):
    vault.search(query, snippets=False)  # must never raise an SQLite syntax error


def test_query_translation_makes_odd_tokens_phrases_of_their_words():
    tree, terms = parse('C++ "rolled back" deplo* AND NOT src/app')
    assert terms == ["C", "rolled", "back", "deplo", "src", "app"]
    assert isinstance(tree, Node) and tree.op == "AND"
    c, phrase, negated = tree.children
    assert isinstance(c, Leaf) and c.tokens == ["C"] and c.check is None
    assert isinstance(phrase, Leaf) and phrase.tokens == ["rolled", "back"] and phrase.check is not None
    assert phrase.check.search("we Rolled  back.") and not phrase.check.search("back rolled")
    assert not phrase.check.search("unrolled back")  # words start where the phrase starts
    assert isinstance(negated, Node) and negated.op == "NOT"
    deplo, path = negated.children
    assert isinstance(deplo, Leaf) and deplo.prefix and deplo.fts() == '"deplo"*'
    assert isinstance(path, Leaf) and path.fts() == '"src" AND "app"'


def test_make_snippet_windows_around_the_first_match():
    text = "x" * 500 + " the needle is here " + "y" * 500
    snippet, spans = make_snippet(text, ["needle"], width=80)
    assert snippet.startswith("…") and snippet.endswith("…")
    assert [snippet[a:b] for a, b in spans] == ["needle"]


def test_relative_and_iso_dates():
    now = 1_700_000_000.0
    assert parse_when("7d", now) == now - 7 * DAY
    assert parse_when("2w", now) == now - 14 * DAY
    assert parse_when("2024-05-01T00:00:00+00:00") == 1714521600.0
    with pytest.raises(UsageError, match="not a date"):
        parse_when("yesterday-ish")


@pytest.mark.parametrize("text", ["0001-01-01", "0001-01-01T00:00"])
def test_a_date_at_the_edge_of_the_calendar_is_a_usage_error_not_a_crash(text):
    # Year 1 in local time reaches before year 1 in UTC: datetime cannot say
    # it as a timestamp. The date filter of the browser, the command and the MCP server
    # all take this path.
    with pytest.raises(UsageError, match="too far"):
        parse_when(text)


def test_a_snippet_deep_in_a_large_text_shows_the_match_and_no_secret_beside_it(tmp_path):
    key = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    text = "filler words here\n" * 20_000 + f"export GITHUB_TOKEN={key} && deploy needleword now\n" + "tail\n" * 1000
    home = tmp_path / "home"
    make_native(home, "deep", 10, time.time(), output_snapshot=text)
    with Vault(home, archive_days=7) as v:
        assert not v.sweep().failed
        (hit,) = v.search("needleword")
        assert hit.snippet is not None and "needleword" in hit.snippet
        assert key not in hit.snippet and "[REDACTED" in hit.snippet
        assert hit.highlights  # the match is highlighted in the window cut around it
        # The frames hold the redacted text: neither they nor the file's bytes have the key.
        frames = "".join(t for *_, t in v.index.text_chunks(hit.entry.row_id))
        assert "needleword" in frames and key not in frames and "[REDACTED" in frames
    raw = b"".join(p.read_bytes() for p in home.glob("archive_index.sqlite3*"))
    assert key.encode() not in raw and b"A1b2C3d4E5f6" not in raw


@pytest.mark.parametrize(
    ("query", "dangling"),
    [
        ("NOT docker", True), ("a OR NOT b", True), ("(NOT b)", True), ("NOT NOT a", True),
        ("a NOT b", False), ("a AND NOT b", False), ("x (a NOT b)", False), ('"NOT b"', False),
        ("does not exist", False), ("NOT", False), ("a NOT", False),
    ],
)  # fmt: skip
def test_a_not_that_has_nothing_to_take_its_term_from_is_told_apart(query, dangling):
    assert parse_full(query)[2] is dangling  # and it still parses, as anything a user types
