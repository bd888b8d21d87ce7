"""What a search keeps between searches while the index is unchanged (the rows it may
show, the entries shown, decompressed frames), where a hit is when the text before it is
not ASCII (a snippet decodes only the bytes around its match), and how an unchecked
remainder of a common phrase is estimated (issue 15)."""

from __future__ import annotations

import time

import pytest

from termvault import Vault
from termvault.index import framecache, fulltext, query, textindex

from .helpers import make_native


def ids(hits):
    return sorted(h.entry.session_id for h in hits)


@pytest.fixture
def reads(monkeypatch):
    """How many frames searches read from the index's table."""
    count = [0]
    frames = textindex.frames

    def counted(index, chunk_ids):
        got = frames(index, chunk_ids)
        count[0] += len(got)
        return got

    monkeypatch.setattr(textindex, "frames", counted)
    return count


def test_a_search_again_reads_no_frame_and_a_sweep_is_seen_at_once(home, reads):
    now = time.time()
    make_native(home, "s1", 10, now, output_snapshot="the walrus said hello world")
    with Vault(home, archive_days=7) as v:
        assert not v.sweep().failed
        first = v.search('"hello world"')
        assert ids(first) == ["s1"] and "hello world" in (first[0].snippet or "")
        read = reads[0]
        assert read > 0
        again = v.search('"hello world"')
        assert reads[0] == read  # the frames were kept
        assert [h.snippet for h in again] == [h.snippet for h in first]
        make_native(home, "s2", 9, now, output_snapshot="a second hello world appears")
        assert not v.sweep().failed
        after = v.search('"hello world"')
        assert ids(after) == ["s1", "s2"] and all("hello world" in (h.snippet or "") for h in after)


def test_without_the_frame_cache_every_search_reads_its_frames(home, reads, monkeypatch):
    monkeypatch.setattr(framecache, "FRAME_CACHE_BYTES", 0)
    make_native(home, "s1", 10, time.time(), output_snapshot="the walrus said hello world")
    with Vault(home, archive_days=7) as v:
        assert not v.sweep().failed
        v.search('"hello world"')
        read = reads[0]
        assert ids(v.search('"hello world"')) == ["s1"] and reads[0] == 2 * read


def test_the_frame_cache_stays_within_its_budget(monkeypatch):
    monkeypatch.setattr(framecache, "FRAME_CACHE_BYTES", 100)
    cache = framecache.FrameCache()
    for chunk in range(10):
        cache.put(chunk, (0, "tool", "Bash"), b"x" * 30)
    assert cache.get(0) is None and cache.get(9) is not None  # the oldest went first
    cache.put_folded(9, b"y" * 30)
    kept = [c for c in range(10) if cache.get(c) is not None]
    assert kept == [8, 9]  # 30 + 60 bytes


def test_an_entry_changed_by_its_caller_is_not_changed_for_the_next_search(home):
    make_native(home, "s1", 10, time.time(), output_snapshot="the walrus said hello world", name="walrus chat")
    with Vault(home, archive_days=7) as v:
        assert not v.sweep().failed
        (hit,) = v.search("walrus")
        hit.entry.name = "changed"
        hit.entry.meta["x"] = 1
        (again,) = v.search("walrus")
        assert again.entry.name == "walrus chat" and "x" not in again.entry.meta


def test_the_offset_of_a_hit_counts_characters_when_the_text_before_it_is_not_ascii(home):
    before = "日本語のテキスト 🚀 " * 300 + "ü" * 50  # 3- and 4-byte characters, 2-byte ones
    make_native(home, "s1", 10, time.time(), output_snapshot=before + " marmalade here")
    with Vault(home, archive_days=7) as v:
        assert not v.sweep().failed
        (hit,) = v.search("marmalade")
        assert "marmalade" in (hit.snippet or "") and hit.snippet.startswith("…")
        texts = [t for _, _, _, t in v.index.text_chunks(v.get("s1").row_id) if "marmalade" in t]
        text = texts[0]
        at = text.index("marmalade")
        marks = [m for m in fulltext.MARK.finditer(text) if m.start() <= at]
        assert hit.turn == int(marks[-1].group(1)) and hit.offset == at - marks[-1].end()
        start, end = hit.highlights[0]
        assert hit.snippet[start:end] == "marmalade"


@pytest.mark.parametrize(
    ("held", "checked", "candidates", "expected"),
    [
        (1, 2, [1, 1, 1, 1], 2),  # half the chunks held it: half the sessions of one chunk
        (1, 4, [1, 1, 2], 1),  # 0.25 + 0.25 + 0.4375
        (10, 100, [1] * 50, 5),
        (10, 100, [8] * 50, 28),  # a session of 8 candidates: 1 - 0.9^8 = 0.57
        (0, 200, [3, 3], 0),
        (5, 5, [2, 1], 2),  # every chunk held it
    ],
)
def test_the_unchecked_remainder_is_estimated_per_candidate_chunk(held, checked, candidates, expected):
    assert query.expected_holders(held, checked, candidates) == expected


def test_a_snippet_shows_the_first_match_in_any_case_however_deep_in_its_frame(home):
    text = "lorem " * 7000 + "the MarMalade one " + "filler " * 1000 + "the marmalade two"
    make_native(home, "s1", 10, time.time(), output_snapshot=text)
    with Vault(home, archive_days=7) as v:
        assert not v.sweep().failed
        (hit,) = v.search("marmalade")
        assert "MarMalade one" in (hit.snippet or "") and "two" not in hit.snippet
        start, end = hit.highlights[0]
        assert hit.snippet[start:end] == "MarMalade"
        assert hit.offset is not None and hit.offset > 40_000
