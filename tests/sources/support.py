"""Helpers shared by the source tests: in-memory and on-disk file refs, time helpers,
copying a corpus folder into a fake tool tree, parsing a unit the way a sweep and a
preview do, and the malformed-input strategies and mutations of the robustness tests."""

from __future__ import annotations

import functools
import hashlib
import io
import json
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from hypothesis import strategies as st

from termvault.model import FileRef, SessionInfo, SessionUnit
from termvault.sources.base import Message, Source
from termvault.streams import DiskFile

# ---------------------------------------------------------------------------------------
# Files and units
# ---------------------------------------------------------------------------------------


@dataclass
class MemoryFile:
    """A FileRef over bytes, as an archive member is read."""

    relpath: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)

    def open(self):
        return io.BytesIO(self.data)


def refs_of(unit) -> list[DiskFile]:
    """The files of a discovered unit as the parser reads them from disk."""
    return [DiskFile(f.relpath, f.size, f.origin) for f in unit.files]


def corpus_ref(corpus: Path, folder: str, name: str) -> DiskFile:
    """A FileRef over one corpus file, named by its bare file name."""
    path = corpus / folder / name
    return DiskFile(name, path.stat().st_size, path)


def copy_corpus(folder: Path, dest_of: Callable[[Path], Path]) -> dict[Path, Path]:
    """Copy every file of a corpus ``folder`` (in name order) to ``dest_of(file)``,
    creating folders as needed. Returns {copy: corpus file}."""
    placed: dict[Path, Path] = {}
    for src in sorted(folder.iterdir()):
        dest = dest_of(src)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
        placed[dest] = src
    return placed


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sweep_copies(home: Path, source: Source):
    """Discover ``source``'s units, then sweep its roots in copy mode into a vault at
    ``home``. Returns (vault, sweep report, {session id: unit}); the caller closes the vault."""
    from termvault.vault import Vault

    units = {u.session_id: u for u in source.discover()}
    config = {"roots": [str(r) for r in source.roots], "mode": "copy"}
    vault = Vault(home, sources={source.kind: config}, settle_seconds=0)
    return vault, vault.sweep(kinds=[source.kind], older_than=0), units


def restore_every_unit(vault, units: Mapping[str, SessionUnit], out: Path) -> dict[Path, bytes]:
    """Restore each unit from ``vault`` into ``out/<session id>`` and return the restored
    bytes of every file, keyed by the file's origin."""
    restored: dict[Path, bytes] = {}
    for sid, unit in units.items():
        vault.restore(sid, to=out / sid)
        for f in unit.files:
            restored[f.origin] = (out / sid / f.relpath).read_bytes()
    return restored


# ---------------------------------------------------------------------------------------
# Times
# ---------------------------------------------------------------------------------------


def utc(text: str) -> float:
    """UNIX seconds of an ISO-8601 time ending in ``Z`` (or with an offset)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def local(text: str) -> float:
    """UNIX seconds of a naive ISO-8601 time read in the local zone, as the sources read
    tools that write local times (aider, terminal logs)."""
    return datetime.fromisoformat(text).timestamp()


# ---------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------


def jsonl(*records) -> bytes:
    """One JSON line per record."""
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def parse_and_render(source: Source, *refs: FileRef) -> tuple[SessionInfo, list[Message]]:
    """What a sweep and a preview ask of ``source`` for one unit: its metadata and all of
    its rendered messages."""
    return source.parse(list(refs)), list(source.messages(list(refs)))


def parse_checked(source: Source, ref: FileRef) -> tuple[SessionInfo, list[Message]]:
    """``parse_and_render``, then check what the index needs: metadata that serialises
    as JSON and text that encodes as UTF-8."""
    info, msgs = parse_and_render(source, ref)
    json.dumps(info.metadata())
    info.text.encode("utf-8")
    return info, msgs


@functools.cache
def small_corpus_files(folder: Path, pattern: str, max_bytes: int) -> tuple[bytes, ...]:
    """The bytes of the corpus files in ``folder`` matching ``pattern`` up to ``max_bytes``
    each, in name order (read once per test process: hypothesis tests draw from them)."""
    return tuple(p.read_bytes() for p in sorted(folder.glob(pattern)) if p.stat().st_size <= max_bytes)


# ---------------------------------------------------------------------------------------
# Malformed input
# ---------------------------------------------------------------------------------------


def json_records(fields: Sequence[str], words: Sequence[str]) -> st.SearchStrategy[dict]:
    """JSON objects that look like a tool's records: keys from ``fields``, values of any
    JSON type (NaN included) nested up to a few levels, strings often from ``words``."""
    values = st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=True)
        | st.text(max_size=20)
        | st.sampled_from(list(words)),
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(st.sampled_from(list(fields)), children, max_size=5)
        ),
        max_leaves=20,
    )
    return st.dictionaries(st.sampled_from(list(fields)), values, max_size=6)


def mutate_lines(data: st.DataObject, original: bytes, records: st.SearchStrategy[dict]) -> tuple[bytes, int]:
    """``original`` with one to five of its lines damaged, each by cutting out a span,
    inserting junk bytes, replacing it by a record drawn from ``records`` or emptying it.
    Returns the damaged bytes and the number of damaged lines."""
    lines = original.split(b"\n")
    mutated = 0
    for _ in range(data.draw(st.integers(1, 5))):
        i = data.draw(st.integers(0, len(lines) - 1))
        op = data.draw(st.sampled_from(["cut", "insert", "record", "drop"]))
        line = lines[i]
        if op == "cut":
            a = data.draw(st.integers(0, len(line)))
            lines[i] = line[:a] + line[a + data.draw(st.integers(1, 50)) :]
        elif op == "insert":
            junk = data.draw(st.binary(min_size=1, max_size=20)).replace(b"\n", b"")
            a = data.draw(st.integers(0, len(line)))
            lines[i] = line[:a] + junk + line[a:]
        elif op == "record":
            lines[i] = json.dumps(data.draw(records)).encode()
        else:
            lines[i] = b""
        mutated += 1
    return b"\n".join(lines), mutated


def parse_damaged(
    parse: Callable[[bytes], tuple[SessionInfo, list[Message]]],
    original: bytes,
    data: st.DataObject,
    records: st.SearchStrategy[dict],
) -> tuple[SessionInfo, SessionInfo, int]:
    """Parse ``original`` and a copy damaged by ``mutate_lines``: (metadata of the
    original, metadata of the damaged copy, number of damaged lines)."""
    damaged, mutated = mutate_lines(data, original, records)
    return parse(original)[0], parse(damaged)[0], mutated


def assert_prefix_metadata(cut: SessionInfo, full: SessionInfo) -> None:
    """What parsing the start of a file may give: at most one more warning (the cut line),
    no more messages or tool calls, and times inside the full file's span."""
    assert cut.parse_warnings <= full.parse_warnings + 1
    assert cut.message_count <= full.message_count
    assert cut.tool_call_count <= full.tool_call_count
    if cut.created_at is not None:
        assert full.created_at <= cut.created_at <= cut.last_activity_at <= full.last_activity_at
