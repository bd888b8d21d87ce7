"""A sweep of a transcript that only grew reads only what was appended (``ops.resume``):
what it finds must be exactly what reading the whole file finds."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest

from termvault import archive as arc
from termvault.index import fulltext
from termvault.model import SessionUnit
from termvault.ops import resume
from termvault.ops.text import parse, prepare_text
from termvault.sources import source_class
from termvault.sources.base import make_unit
from termvault.streams import DiskFile, HashingDiskFile
from termvault.vault import Vault

from .conftest import corpus_root, require_corpus
from .helpers import make_native
from .test_deltas import SID, TRANSCRIPT, Grower
from .test_search_frames import ids

STEPS = 6


def _corpus_files(folder: str) -> list[str]:
    """The corpus files of ``folder`` (none without the corpus: the tests then skip)."""
    return [p.name for p in sorted((corpus_root() / folder).glob("*.jsonl"))] or ["(no corpus)"]


def _unit(kind: str, root: Path, path: Path, sid: str) -> SessionUnit:
    unit = make_unit(kind, sid, root, [path])
    assert unit is not None
    return unit


def _whole(src, unit: SessionUnit, path: Path) -> tuple[dict, fulltext.Prepared]:
    refs = [DiskFile(unit.files[0].relpath, unit.files[0].size, path)]
    info = parse(src, refs, unit)
    return info.metadata(), prepare_text(src, refs, info)


def _same_text(a: fulltext.Prepared, b: fulltext.Prepared) -> bool:
    key = [(c.role, c.tool, c.turn, c.body, c.frame) for c in a.chunks]
    return key == [(c.role, c.tool, c.turn, c.body, c.frame) for c in b.chunks] and a.digest == b.digest


def _grow_and_compare(kind: str, data: bytes, tmp: Path, relpath: str, cuts: list[int]) -> tuple[int, int]:
    """Write ``data`` cut at each of ``cuts`` in turn, reading each version through
    ``resume`` with the previous one as its base, and check it against a whole read.
    Returns (versions that had a kept state to go on from, versions read from it)."""
    resume.forget()
    root, home = tmp / "root", tmp / "home"
    path = root / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    src = source_class(kind)([root], home=home)
    base: str | None = None
    before = None
    had = resumed = 0
    for n in cuts:
        path.write_bytes(data[:n])
        unit = _unit(kind, root, path, SID)
        ref = HashingDiskFile(unit.files[0].relpath, n, path, mark_at=before)
        kept = resume._STATES.get((str(home), SID))
        steps = kept.steps if kept is not None else -1
        done = resume.parse_and_prepare(home, src, unit, [ref], base, True)
        if done is not None:
            info, fts = done
            meta, prepared = _whole(src, unit, path)
            assert info.metadata() == meta, n
            assert fts is not None and _same_text(fts, prepared), n
            state = resume._STATES[(str(home), SID)]
            had += kept is not None
            resumed += kept is not None and state.steps == steps + 1
        base = arc.content_digest([(unit.files[0].relpath, hashlib.sha256(data[:n]).hexdigest())])
        before = n
    return had, resumed


@pytest.mark.parametrize("name", _corpus_files("claude_code_jsonl"))
def test_a_claude_code_transcript_read_in_parts_is_read_as_whole(name, tmp_path):
    data = (require_corpus() / "claude_code_jsonl" / name).read_bytes()
    # Cut anywhere (mostly inside a line: a record being written), then at the end.
    cuts = sorted({len(data) * i // STEPS for i in range(1, STEPS)} | {len(data)})
    had, resumed = _grow_and_compare("claude-code", data, tmp_path, f"-home-me-proj/{SID}.jsonl", cuts)
    if b'"isSidechain":true' not in data:  # the old layout nests runs anywhere: read whole
        assert resumed == had >= 1  # read in part from the first conversation on


@pytest.mark.parametrize("name", _corpus_files("codex_rollout_jsonl"))
def test_a_codex_rollout_read_in_parts_is_read_as_whole(name, tmp_path):
    data = (require_corpus() / "codex_rollout_jsonl" / name).read_bytes()
    cuts = sorted({len(data) * i // STEPS for i in range(1, STEPS)} | {len(data)})
    rel = f"2025/01/02/rollout-2025-01-02T03-04-05-{SID}.jsonl"
    had, resumed = _grow_and_compare("codex", data, tmp_path, rel, cuts)
    assert resumed == had >= 1


def test_a_rewritten_or_unfinished_file_is_read_whole(transcript, tmp_path):
    """A version whose first bytes differ from the state's, and one whose last line is a
    whole record without its newline yet, are read whole, and still right."""
    lines = transcript.splitlines(keepends=True)
    third = sum(len(x) for x in lines[: len(lines) // 3])
    rewritten = transcript[: third // 2] + b" " + transcript[third // 2 :]  # a byte inserted
    cases = [
        (transcript[:third], None),
        (transcript[: third * 2 - 1], None),  # ends in a cut line
        (rewritten[: third * 2 + 1], third * 2 - 1),  # not what the state read
        (rewritten[: len(rewritten) - 1], third * 2 + 1),  # the last record without "\n"
        (rewritten, len(rewritten) - 1),
    ]
    resume.forget()
    root, home = tmp_path / "root", tmp_path / "home"
    path = root / f"-home-me-proj/{SID}.jsonl"
    path.parent.mkdir(parents=True)
    src = source_class("claude-code")([root], home=home)
    base = None
    results = []
    for data, mark in cases:
        path.write_bytes(data)
        unit = _unit("claude-code", root, path, SID)
        ref = HashingDiskFile(unit.files[0].relpath, len(data), path, mark_at=mark)
        done = resume.parse_and_prepare(home, src, unit, [ref], base, True)
        if done is not None:
            meta, prepared = _whole(src, unit, path)
            assert done[0].metadata() == meta and done[1] is not None and _same_text(done[1], prepared)
        base = arc.content_digest([(unit.files[0].relpath, hashlib.sha256(data).hexdigest())])
        results.append(done is not None)
    # The rewritten version was read whole and began a new state; the one ending in a
    # whole record was left to the caller (its state stops at the newline before it),
    # and the last went on from there.
    assert results == [True, True, True, False, True]
    assert resume._STATES[(str(home), SID)].steps == 2


def test_a_grown_session_keeps_its_unchanged_chunks_and_its_index_matches_a_rebuilt_one(transcript, tmp_path):
    """Each sweep of a growing transcript writes only the text chunks that changed (the
    others keep their ids and FTS5 rows), and what the index holds then is what a
    reindex builds from the archives."""
    resume.forget()
    g = Grower(tmp_path, transcript)
    kept = written = 0
    with Vault(g.home) as v:
        old: dict[int, tuple] = {}
        for i in range(1, 9):
            g.write(transcript[: len(transcript) * i // 8])
            g.sweep(v)
            row = v.get(SID).row_id
            new = {
                r[0]: (r[1], r[2], r[3], fulltext.decompress(r[4]))
                for r in v.index.query(
                    "SELECT id, role, tool, turn, frame FROM text_chunks WHERE session_row = ?", (row,)
                )
            }
            assert all(new[k] == old[k] for k in new.keys() & old.keys())  # a kept id is the same chunk
            assert {new[k] for k in new.keys() - old.keys()} == set(new.values()) - set(old.values())
            kept += len(new.keys() & old.keys())
            written += len(new.keys() - old.keys())
            old = new
        assert kept and written
        assert v.index.query("SELECT COUNT(*) FROM text_chunks WHERE session_row != ?", (row,))[0][0] == 0
        swept = sorted(v.index.text_chunks(row))
        terms = sorted(map(tuple, v.index.query("SELECT term, doc, cnt FROM fts_terms")))
        assert ids(v.search("Fortune")) == [SID]
        v.reindex()
        row = v.get(SID).row_id
        assert sorted(v.index.text_chunks(row)) == swept
        assert sorted(map(tuple, v.index.query("SELECT term, doc, cnt FROM fts_terms"))) == terms  # no row left behind


@pytest.fixture
def transcript() -> bytes:
    path = require_corpus() / "claude_code_jsonl" / TRANSCRIPT
    if not path.exists():
        pytest.skip(f"{TRANSCRIPT} is not in the corpus")
    return path.read_bytes()


def test_a_sweep_that_changed_little_leaves_the_full_text_merge_to_fts5(home):
    """``settle`` rewrites the whole full-text index ('optimize') only once a tenth of its
    chunks changed since the last time: a sweep that re-indexed one session of thirty
    does not; the text is found either way."""
    now = time.time()
    for i in range(30):
        make_native(home, f"s{i}", 10, now, output_snapshot=f"session {i} alpha words")
    with Vault(home, archive_days=7) as v:
        merges: list[str] = []
        v.index.db.set_trace_callback(lambda sql: merges.append(sql) if "'optimize'" in sql else None)
        assert not v.sweep().failed
        assert len(merges) == 1  # everything was new
        make_native(home, "s3", 9, now, output_snapshot="session 3 now mentions bandicoot")
        assert not v.sweep().failed and v.get("s3").version == 2
        assert len(merges) == 1  # one chunk of thirty out, one in
        assert ids(v.search("bandicoot")) == ["s3"] and len(v.search("alpha", limit=100)) == 29
        with v.index.transaction():
            for e in v.index.latest_entries()[:5]:
                v.index.remove_text(e.row_id)
        v.index.settle()
        assert len(merges) == 2


def test_a_state_kept_without_full_text_holds_no_text(transcript, tmp_path):
    """Without full text nothing of a session's text is used: a kept state holds none
    (``resume._weight`` counts only the reader's filter then), and what it reads is
    still what a whole read gives."""
    resume.forget()
    root, home = tmp_path / "root", tmp_path / "home"
    path = root / f"-home-me-proj/{SID}.jsonl"
    path.parent.mkdir(parents=True)
    src = source_class("claude-code")([root], home=home)
    lines = transcript.splitlines(keepends=True)
    base, before = None, None
    for n in (len(lines) // 2, len(lines)):
        data = b"".join(lines[:n])
        path.write_bytes(data)
        unit = _unit("claude-code", root, path, SID)
        ref = HashingDiskFile(unit.files[0].relpath, len(data), path, mark_at=before)
        done = resume.parse_and_prepare(home, src, unit, [ref], base, False)
        assert done is not None and done[1] is None
        assert done[0].metadata() == _whole(src, unit, path)[0]
        state = resume._STATES[(str(home), SID)]
        assert state.text is None and state.reader.info().text == ""
        base = arc.content_digest([(unit.files[0].relpath, hashlib.sha256(data).hexdigest())])
        before = len(data)
    assert state.steps == 1
