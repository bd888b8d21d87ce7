"""A sweep with full text off parses for the metadata alone (``sources.base.without_text``):
the parsers' text collectors keep nothing, and every unit's metadata is the same as
when its text is collected."""

from __future__ import annotations

import json
from pathlib import Path

from bench.real_corpus import place
from termvault.ops import sweep as sweep_ops
from termvault.ops.text import parse
from termvault.sources.base import TextCollector, without_text
from termvault.streams import HashingDiskFile
from termvault.vault import Vault


def test_collectors_keep_nothing_inside_without_text_only():
    with without_text():
        off = TextCollector()
        off.add("some words")
        off.add_lines(["a line", "another"])
    on = TextCollector()
    on.add("some words")
    assert off.text() == "" and off.size == 0
    assert on.text() == "some words"


def _parsed(cs, unit, text: bool):
    refs = [HashingDiskFile(f.relpath, f.size, f.origin, opener=f.reader) for f in unit.files]
    if text:
        return parse(cs.source, refs, unit)
    with without_text():
        return parse(cs.source, refs, unit)


def test_metadata_without_text_is_the_same_on_the_corpus(corpus: Path, tmp_path: Path):
    roots = place(corpus, tmp_path / "user")
    with Vault(
        tmp_path / "vault",
        settle_seconds=0,
        archive_days=0,
        full_text=False,
        sources={kind: {"roots": r} for kind, r in roots.items()},
    ) as vault:
        due, _ = sweep_ops.plan(vault.ctx, older_than=0, kinds=list(roots))
        assert {cs.source.kind for cs, _ in due} >= {"claude-code", "codex", "asciinema", "aider", "agent-log"}
        texts = 0
        for cs, unit in due:
            full = _parsed(cs, unit, True)
            bare = _parsed(cs, unit, False)
            assert bare.text == ""
            assert sweep_ops.prepare_whole(cs, unit, False).info.text == ""  # what a sweep's worker does
            texts += bool(full.text)
            assert json.dumps(bare.metadata(), sort_keys=True) == json.dumps(full.metadata(), sort_keys=True), (
                unit.session_id
            )
        assert texts > len(due) // 2  # the comparison is against parses that did collect text
