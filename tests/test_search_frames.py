"""Full text kept as compressed frames by role stream (issues 15 and 18): role and tool
filters, regular expressions, typo-tolerant terms, where a hit is, what the index keeps
out, old versions taken out from their own frames, legacy archives, the migration from
the first full-text tables, and free pages given back."""

from __future__ import annotations

import gzip
import json
import sqlite3
import time
import uuid

import pytest

from termvault import SessionState, Vault
from termvault.errors import DataError, UsageError
from termvault.index import fulltext
from termvault.index.db import MIGRATIONS, Database

from .helpers import make_native

SID = str(uuid.UUID(int=7))
NOISE = "Zk9xQ2pLm4Rt7Vb1Nc8Hy3Ws"  # base64-like: random case, letters and digits


def record(**fields) -> str:
    return json.dumps(fields)


def transcript(sid: str, prompt: str, reply: str, command: str, output: str) -> str:
    common = {"sessionId": sid, "cwd": "/home/me/app"}
    call = {"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": command}}
    result = {"type": "tool_result", "tool_use_id": "t1", "content": output}
    lines = [
        record(type="user", timestamp="2025-04-02T09:00:00Z", message={"role": "user", "content": prompt}, **common),
        record(
            type="assistant",
            timestamp="2025-04-02T09:00:05Z",
            message={"id": "m1", "role": "assistant", "model": "m", "content": [{"type": "text", "text": reply}, call]},
            **common,
        ),
        record(type="user", timestamp="2025-04-02T09:00:09Z", message={"role": "user", "content": [result]}, **common),
    ]
    return "\n".join(lines) + "\n"


@pytest.fixture
def vault(user_home, home):
    projects = user_home / ".claude" / "projects" / "-work-app"
    projects.mkdir(parents=True)
    deep = "lorem ipsum dolor " * 1700  # past character 30,000 of the tool output
    output = f"collected 12 items\n{deep}marmalade_fixture FAILED at the end\ntoken {NOISE} done\n"
    (projects / f"{SID}.jsonl").write_text(
        transcript(
            SID, "please run pytest for the walrus module", "Running the walrus tests now.", "uv run pytest", output
        )
    )
    with Vault(home, settle_seconds=0) as v:
        assert not v.sweep(older_than=0, kinds=["claude-code"]).failed
        yield v


def ids(hits):
    return [h.entry.session_id for h in hits]


def test_a_word_at_character_30000_of_a_tool_output_is_found_in_its_turn(vault):
    (hit,) = vault.search("marmalade_fixture")
    assert "marmalade_fixture" in (hit.snippet or "")
    assert hit.role == "tool" and hit.tool == "Bash"
    assert hit.turn is not None and hit.offset is not None and hit.offset > 30_000
    turns = vault.messages(SID)
    assert turns[hit.turn].role == "tool_result" and "marmalade_fixture" in turns[hit.turn].text


@pytest.fixture(params=["chunks kept in memory", "chunks joined in SQL"])
def streams(request, monkeypatch):
    """Both ways a match finds its chunks' sessions and streams (a big index joins)."""
    from termvault.index import textindex

    if request.param == "chunks joined in SQL":
        monkeypatch.setattr(textindex, "MAP_CHUNKS", 0)


def test_role_filters_are_exact(vault, streams):
    assert ids(vault.search("walrus", role=["user"])) == [SID]  # the prompt
    assert ids(vault.search("walrus", role="assistant")) == [SID]  # the reply
    assert ids(vault.search("pytest", role=["tool"])) == [SID]  # the call's command
    assert ids(vault.search("marmalade", role=["user", "assistant"])) == []
    assert ids(vault.search("Running", role="user")) == []
    assert ids(vault.search("marmalade", role="assistant,tool")) == [SID]
    (hit,) = vault.search("walrus", role=["user"])
    assert hit.role == "user" and "walrus" in (hit.snippet or "")
    with pytest.raises(UsageError, match="Unknown role 'robot'"):
        vault.search("walrus", role=["robot"])


def test_the_tool_filter_keeps_that_tools_calls_and_results(vault, streams):
    assert ids(vault.search("marmalade", tool="Bash")) == [SID]
    assert ids(vault.search("marmalade", tool="bash")) == [SID]  # tool names fold case
    assert ids(vault.search("marmalade", tool="Edit")) == []
    assert ids(vault.search("walrus", tool="Bash")) == []  # in the prompt and reply only
    assert ids(vault.search(None, tool="Bash")) == [SID]  # the sessions that used it


def test_a_regex_finds_text_and_names_and_a_bad_one_is_a_clear_error(vault):
    (hit,) = vault.search(r"marmalade_\w+ FAILED", regex=True)
    assert hit.matched == "regex" and "marmalade_fixture FAILED" in (hit.snippet or "")
    assert ids(vault.search(r"\bcollected \d+ items", regex=True)) == [SID]  # scanned: no 3-letter literal
    assert ids(vault.search(r"marmalade_\w+ PASSED", regex=True)) == []
    assert ids(vault.search(r"please run py\w+", regex=True)) == [SID]  # a name (the first prompt)
    with pytest.raises(UsageError, match=r"--regex: 'marmalade\(' is not a valid regular expression"):
        vault.search("marmalade(", regex=True)


def test_fuzzy_terms_find_a_word_a_typo_away(vault):
    assert ids(vault.search("pytst")) == []
    assert ids(vault.search("pytst", fuzzy=True)) == [SID]
    assert ids(vault.search("marmelade_fixture", fuzzy=True)) == [SID]


def test_noisy_tokens_stay_out_of_the_index_and_a_regex_finds_them_in_the_archive(vault):
    assert ids(vault.search(NOISE)) == []
    words = {t for t, _ in vault.index.query("SELECT term, doc FROM fts_terms")}
    assert NOISE.lower() not in words and "marmalade" in words
    frames = "".join(t for *_, t in vault.index.text_chunks(vault.get(SID).row_id))
    assert NOISE not in frames and "token  done" in frames
    (hit,) = vault.search(NOISE, regex=True)
    assert NOISE in (hit.snippet or "")


def test_the_cleaner_drops_soup_and_keeps_words_names_hashes_and_numbers():
    kept = "getUserById NSScrollWheel utf8mb4 sha256 deadbeefcafe1234 550e8400 XMLHttpRequest python3.11 404 8080"
    assert fulltext.clean(kept) == kept
    for soup in ("EebWgNcDFlKqCD", "a1B2c3D4e5F6", "1733312345678", "x9Kq2LmPz8RtYw3VbN7Hc"):
        assert fulltext.clean(f"before {soup} after") == "before  after", soup


def test_prepare_is_plain_data_split_by_role_and_tool():
    import pickle

    class Turn:
        def __init__(self, role, text, name=None, extra=None):
            self.role, self.text, self.name, self.extra = role, text, name, extra or {}

    turns = [
        Turn("user", "fix the \x1b[31mbuild\x1b[0m please"),
        Turn("assistant", "ok"),
        Turn("tool", "make", name="Bash", extra={"call_id": "c1"}),
        Turn("tool_result", "make: done", extra={"call_id": "c1"}),
        Turn("tool", '{"file_path": "a.py"}', name="Read", extra={"call_id": "c2"}),
        Turn("tool_result", "     1→import os\n     2→\n    10→x = 1  # 3→4", extra={"call_id": "c2"}),
    ]
    prepared = pickle.loads(pickle.dumps(fulltext.prepare(turns)))
    streams = {(c.role, c.tool): fulltext.decompress(c.frame) for c in prepared.chunks}
    assert set(streams) == {("user", ""), ("assistant", ""), ("tool", "Bash"), ("tool", "Read")}
    assert streams[("user", "")] == "\x1e0\x1ffix the build please\n"  # escape sequences out
    assert streams[("tool", "Bash")] == "\x1e2\x1fBash\nmake\n\x1e3\x1fmake: done\n"
    # A file read's line numbers are left out (they are most of what does not compress).
    assert streams[("tool", "Read")].endswith("\x1e5\x1fimport os\n\nx = 1  # 3→4\n")
    assert all("\x1e" not in c.body for c in prepared.chunks)


def test_a_new_version_takes_the_old_versions_text_out_of_the_index(home, streams):
    now = time.time()
    make_native(home, "s1", 10, now, output_snapshot="the first draft mentions aardvark")
    with Vault(home, archive_days=7) as v:
        assert not v.sweep().failed
        assert ids(v.search("aardvark")) == ["s1"]
        first = v.get("s1").row_id
        make_native(home, "s1", 9, now, output_snapshot="the second draft mentions bandicoot")
        assert not v.sweep().failed
        assert v.get("s1").version == 2
        assert ids(v.search("aardvark")) == [] and ids(v.search("bandicoot")) == ["s1"]
        assert v.index.text_chunks(first) == []  # no frames left for the old version
        words = {t for t, _ in v.index.query("SELECT term, doc FROM fts_terms")}
        assert "aardvark" not in words and "bandicoot" in words  # gone from FTS5 too


def test_legacy_archives_are_in_the_full_text(home):
    (home / "archive" / "2020" / "09").mkdir(parents=True)
    old = SessionState("legacy1", name="Old one", modified_at=1_600_000_000.0, output_snapshot="capybara rodeo")
    with gzip.open(home / "archive" / "2020" / "09" / "1600000000_legacy1.json.gz", "wb") as fh:
        fh.write(old.to_json())
    with Vault(home) as v:
        v.sweep()  # imports the older app's archives
        (hit,) = v.search("capybara")
        assert hit.entry.session_id == "legacy1" and "capybara rodeo" in (hit.snippet or "")
        v.reindex()
        assert ids(v.search("capybara")) == ["legacy1"]


def test_a_v6_index_migrates_and_reindex_gives_its_text_back(home, caplog):
    make_native(home, "s1", 10, time.time(), output_snapshot="the quokka was here")
    index_file = home / "archive_index.sqlite3"
    home.mkdir(parents=True, exist_ok=True)
    # An index as version 6 left it: the first full-text tables, with text in them.
    conn = sqlite3.connect(index_file, isolation_level=None)
    conn.execute(
        "CREATE TABLE schema_migrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
    )
    for n, fn in enumerate(MIGRATIONS[:6], start=1):
        fn(conn)
        conn.execute("INSERT INTO schema_migrations VALUES (?, ?, 0)", (n, fn.__name__))
    conn.close()
    with Vault(home, readonly=True) as v:  # a read does not migrate: it says what to run
        with pytest.raises(DataError, match="predates this version's full-text format: run `termvault reindex`"):
            v.search("quokka")
    with Vault(home, archive_days=7) as v:
        assert not v.sweep().failed
        assert ids(v.search("quokka")) == ["s1"]
    # Back to the old tables with text, as an upgraded home has them.
    conn = sqlite3.connect(index_file, isolation_level=None)
    conn.execute("DELETE FROM schema_migrations WHERE id = 7")
    for table in ("fts_text", "fts_terms", "text_chunks"):
        conn.execute(f"DROP TABLE {table}")
    MIGRATIONS[2](conn)
    conn.execute("UPDATE sessions SET text_sha256 = 'x'")
    conn.close()
    with caplog.at_level("WARNING"), Vault(home) as v:
        assert ids(v.search("quokka")) == []  # the old text could not come over
        assert "run `termvault reindex`" in caplog.text
        v.reindex()
        assert ids(v.search("quokka")) == ["s1"]


def test_settle_merges_and_gives_free_pages_back(home):
    import random

    rng = random.Random(4)
    now = time.time()
    for i in range(30):
        words = " ".join("".join(rng.choice("abcdefghij") for _ in range(6)) for _ in range(3000))
        make_native(home, f"s{i}", 10, now, output_snapshot=f"session {i} alpha {words}")
    with Vault(home, archive_days=7) as v:
        assert not v.sweep().failed
        index = v.index
        assert index.query("PRAGMA auto_vacuum")[0][0] == 2  # incremental, set at creation
        with index.transaction():
            for e in index.latest_entries()[:20]:
                index.remove_text(e.row_id)
        pages = index.query("PRAGMA page_count")[0][0]
        index.settle()  # the merge frees the pages of the segments and delete markers it replaces
        assert index.query("PRAGMA freelist_count")[0][0] == 0
        assert index.query("PRAGMA page_count")[0][0] < 0.6 * pages
        assert index.quick_check() == ["ok"]
        assert len(v.search("alpha", limit=100)) == 10


def test_opening_a_new_index_file_sets_incremental_auto_vacuum(tmp_path):
    db = Database(tmp_path / "i.sqlite3")
    assert db.query("PRAGMA auto_vacuum")[0][0] == 2
    db.close()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("数据", {"zh", "zh2"}),  # two characters
        ("数据库", {"zh"}),  # "zh2" holds both of its pairs, not the word: the frame check says no
        ("数据库迁移", {"zh"}),  # five
        ("数据库迁移脚本", {"zh"}),  # six
        ("東京都", {"ja"}),
        ("迁移数据", set()),  # every pair but one is there, not this run of characters
        ("脚本数据库", set()),
    ],
)
def test_cjk_words_of_two_to_six_characters_are_found_in_order(home, query, expected):
    now = time.time()
    make_native(home, "zh", 10, now, output_snapshot="运行数据库迁移脚本以后，检查数据。")
    make_native(home, "ja", 11, now, output_snapshot="東京都の天気は晴れです")
    make_native(home, "zh2", 12, now, output_snapshot="数据很多，证据库存不足")
    with Vault(home, archive_days=7) as v:
        assert not v.sweep().failed
        hits = v.search(query)
        assert {h.entry.session_id for h in hits} == expected
        assert all(query in (h.snippet or "") for h in hits)


def test_past_its_budget_of_frame_checks_a_phrase_total_is_estimated_and_says_so(home, monkeypatch):
    from termvault.index import query

    now = time.time()
    for i in range(6):
        text = "the quick fox jumps" if i % 2 == 0 else "the fox is quick, jumps"
        make_native(home, f"s{i}", 10 + i, now, output_snapshot=text)
    with Vault(home, archive_days=7) as v:
        assert not v.sweep().failed
        exact = v.search('"quick fox"')
        assert len(exact) == 3 and exact.total == 3 and not exact.estimated
        monkeypatch.setattr(query, "MAX_CHECKS", 2)
        assert v.search('"quick fox"').total == 3  # the page is not full: every candidate checked
        bounded = v.search('"quick fox"', limit=1)
        assert bounded.estimated and len(bounded) == 1
        assert all("quick fox" in (h.snippet or "") for h in bounded)  # what is shown was checked
        assert 2 <= bounded.total <= 5  # the rest counted at the rate of those checked


def test_a_phrase_snippet_shows_the_phrase_as_whole_words(home):
    text = "first we ran the tests twice " + "filler " * 200 + "then the test failed for real"
    make_native(home, "p", 10, time.time(), output_snapshot=text)
    with Vault(home, archive_days=7) as v:
        assert not v.sweep().failed
        (hit,) = v.search('"the test"')
        assert "the test failed" in (hit.snippet or "")
        assert [hit.snippet[a:b] for a, b in hit.highlights if " " in hit.snippet[a:b]] == ["the test"]


def test_a_damaged_frame_costs_its_text_only(home):
    now = time.time()
    make_native(home, "s1", 10, now, output_snapshot="the wombat burrows deep")
    with Vault(home, archive_days=7) as v:
        assert not v.sweep().failed
        with v.index.transaction():
            v.index.execute("UPDATE text_chunks SET frame = ?", (b"not a zstd frame",))
        (hit,) = v.search("wombat")  # found through FTS5; no snippet from a damaged frame
        assert hit.entry.session_id == "s1"
        assert v.search('"wombat burrows"') == []  # a phrase needs the frame
        make_native(home, "s1", 9, now, output_snapshot="the numbat digs")
        assert not v.sweep().failed  # the old version's text goes without its frame
        assert ids(v.search("numbat")) == ["s1"] and ids(v.search("wombat")) == []


def test_a_term_as_written_only_late_candidates_hold_is_found_past_the_check_budget(home, monkeypatch):
    # Small chunks: the newest session gives 300+ candidate chunks (``src`` and ``app``
    # apart), checked first; only three older sessions, each one chunk, hold ``src/app``.
    monkeypatch.setattr(fulltext, "CHUNK_CHARS", 120)
    now = time.time()
    make_native(home, "big", 10, now, output_snapshot="the src folder holds one app only. " * 1200)
    for i in range(3):
        make_native(home, f"late{i}", 20 + i, now, output_snapshot=f"open src/app/page{i}.tsx to edit it")
    with Vault(home, archive_days=7) as v:
        assert not v.sweep().failed
        chunks = v.index.query("SELECT COUNT(*) FROM text_chunks")[0][0]
        assert chunks > 300
        found = v.search("src/app")
        assert {h.entry.session_id for h in found} == {"late0", "late1", "late2"}
        assert found.total == 3 and not found.estimated
        assert all("src/app" in (h.snippet or "") for h in found)
        page = v.search("src/app", limit=2)  # the page is full once two are found
        assert len(page) == 2 and {h.entry.session_id for h in page} <= {"late0", "late1", "late2"}
        assert page.total >= 2
        # Not the phrase, as the right side of NOT: every candidate is checked.
        assert {h.entry.session_id for h in v.search("app NOT src/app")} == {"big"}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("weight_norm", {"upper", "plain"}),  # any case; not inside a longer word ("éweight_norm")
        ('"Café Crème"', {"accented"}),  # letters with a case outside ASCII: checked in the text
        ('"norm weight"', set()),
    ],
)
def test_a_phrase_checked_in_frame_bytes_keeps_word_boundaries_and_case(home, query, expected):
    now = time.time()
    make_native(home, "upper", 10, now, output_snapshot="call WEIGHT_NORM(x) here")
    make_native(home, "plain", 11, now, output_snapshot="torch weight_norm: ok")
    make_native(home, "glued", 12, now, output_snapshot="the éweight_norm token and a weight, a norm")
    make_native(home, "accented", 13, now, output_snapshot="un CAFÉ CRÈME, merci")
    with Vault(home, archive_days=7) as v:
        assert not v.sweep().failed
        assert {h.entry.session_id for h in v.search(query)} == expected
