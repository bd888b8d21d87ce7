"""Versions that cost what changed: a transcript that only grew is stored as what was
appended, every version still restores byte for byte, and chains stay whole."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import shutil
import struct
import tarfile
import time
from pathlib import Path

import pytest
import zstandard

from termvault import archive as arc
from termvault.archive import tailunit
from termvault.errors import DataError, TermvaultError
from termvault.ops import deltas
from termvault.vault import Vault

TRANSCRIPT = "aistrad__work__.claude__projects__-home-aiscend-work__2141d089-12fa-4a19-81f0-f622d6cb0407.jsonl"
SID = "2141d089-12fa-4a19-81f0-f622d6cb0407"
DAY = 86400.0


class Grower:
    """A Claude Code projects folder holding one transcript that a test grows (or
    rewrites) between sweeps of a copy-mode home."""

    def __init__(self, root: Path, data: bytes, **settings):
        self.data = data
        self.projects = root / "user" / ".claude" / "projects"
        self.path = self.projects / "-home-me-proj" / f"{SID}.jsonl"
        self.path.parent.mkdir(parents=True)
        self.home = root / "home"
        self.home.mkdir(mode=0o700)
        lines = [f"{k} = {json.dumps(v)}" for k, v in {"settle_seconds": 0, **settings}.items()]
        lines += ["[sources.claude-code]", f"roots = [{json.dumps(str(self.projects))}]", 'mode = "copy"']
        (self.home / "config.toml").write_text("\n".join(lines) + "\n")
        self.states: list[bytes] = []
        self._tick = time.time() - 40 * DAY

    def write(self, data: bytes) -> None:
        self.path.write_bytes(data)
        self._tick += 60
        os.utime(self.path, (self._tick, self._tick))
        self.states.append(data)

    def sweep(self, v: Vault) -> None:
        report = v.sweep(older_than=0, kinds=["claude-code"])
        assert not report.failed, report.failed

    def grow(self, v: Vault, steps: int) -> None:
        for i in range(1, steps + 1):
            self.write(self.data[: len(self.data) * i // steps])
            self.sweep(v)


def restored(v: Vault, version: int, to: Path) -> bytes:
    shutil.rmtree(to, ignore_errors=True)
    v.restore(SID, version=version, to=to)
    return (to / "-home-me-proj" / f"{SID}.jsonl").read_bytes()


@pytest.fixture
def transcript(corpus) -> bytes:
    path = corpus / "claude_code_jsonl" / TRANSCRIPT
    if not path.exists():
        pytest.skip(f"{TRANSCRIPT} is not in the corpus")
    return path.read_bytes()


def test_every_version_of_a_20_link_chain_restores_byte_for_byte(transcript, tmp_path):
    g = Grower(tmp_path, transcript)
    with Vault(g.home) as v:
        g.grow(v, 21)
        rows = v.index.versions(SID)
        assert len(rows) == 21
        manifests = [v.store.manifest(e) for e in rows]
        assert manifests[0].base is None and manifests[0].format == arc.LEAN_FORMAT
        assert all(m.base is not None and m.format == arc.TAIL_FORMAT for m in manifests[1:])
        assert manifests[-1].base.depth == 20
        for e, state in zip(rows, g.states, strict=True):
            assert restored(v, e.version, tmp_path / "out") == state
        # Every reader sees whole files: export, the full text, the turns.
        out = io.BytesIO()
        v.export(SID, out, fmt="raw", version=11)
        assert out.getvalue() == g.states[10]
        assert v.verify().clean
    stored = sum(e.size_bytes for e in rows)
    assert stored < 2 * len(zstandard.ZstdCompressor(level=6).compress(transcript))


def test_a_version_that_only_grew_is_a_tail_unit_readable_with_zstd_alone(transcript, tmp_path):
    """Format 4, taken apart here with zstandard and the shipped dictionary only: a
    skippable frame holding the compact header that names the base, then the tail as a
    frame compressed with the base file's last bytes as its dictionary."""
    g = Grower(tmp_path, transcript)
    with Vault(g.home) as v:
        g.grow(v, 2)
        first, second = v.index.versions(SID)
        data = v.archive_file(second).read_bytes()
        assert v.store.manifest(second).format == arc.TAIL_FORMAT
        whole = v.store.manifest(second).meta
    magic, length = struct.unpack("<II", data[:8])
    assert magic == 0x184D2A5B  # a zstd skippable frame: any zstd decoder passes over it
    assert data[8] == 1  # the header's codec: a zstd frame made with the shipped template
    template = (arc.DICTIONARY_DIR / "tail-header-v1.raw").read_bytes()
    dobj = zstandard.ZstdDecompressor(
        dict_data=zstandard.ZstdCompressionDict(template, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
    ).decompressobj()
    header = json.loads(dobj.decompress(data[9 : 8 + length]))
    file_sha, base_sha, member_sha = (dobj.unused_data[i : i + 32].hex() for i in (0, 32, 64))
    assert header["f"] == 4 and header["s"] == SID and header["v"] == 2 and header["b"] == [1, 1]
    (f,) = header["files"]
    half = len(transcript) // 2
    # The window: the base's last TAIL_WINDOW bytes, stated since it is not the default.
    assert f["n"] == len(transcript) and f["bn"] == half and f["w"] == min(half, deltas.TAIL_WINDOW)
    assert (
        file_sha == hashlib.sha256(transcript).hexdigest() and base_sha == hashlib.sha256(transcript[:half]).hexdigest()
    )
    assert arc.content_digest([(f["p"], base_sha)]) == first.content_sha256  # the base it names
    member = data[8 + length :]
    assert len(member) == f["zn"] and hashlib.sha256(member).hexdigest() == member_sha
    window = zstandard.ZstdCompressionDict(transcript[half - f["w"] : half], dict_type=zstandard.DICT_TYPE_RAWCONTENT)
    assert zstandard.ZstdDecompressor(dict_data=window).stream_reader(member).read() == transcript[half:]
    # The header's metadata is only what changed; the rest is the base's, read back whole.
    inherited = set(whole) - set(header["meta"])
    assert inherited and all(whole[k] == first.meta[k] for k in inherited)
    assert whole == {k: val for k, val in second.meta.items() if k not in arc.ROW_ONLY_META}


def test_a_version_with_a_new_file_is_still_a_delta_tar(tmp_path):
    """Only a version whose files are exactly its base's is a tail unit; one that adds a
    file is a format 3 delta tar (``tar --zstd -tf`` lists it) and restores the same."""
    g = Grower(tmp_path, b"")
    sub = g.path.parent / SID / "subagents" / "agent-a1.jsonl"
    with Vault(g.home) as v:
        g.write(_records(0, 20))
        g.sweep(v)
        g.write(_records(0, 40))
        sub.parent.mkdir(parents=True)
        sub.write_bytes(_records(100, 5, sidechain=True))
        os.utime(sub, (g._tick, g._tick))
        g.sweep(v)
        rows = v.index.versions(SID)
        m = v.store.manifest(rows[-1])
        assert len(rows) == 2 and m.base is not None and m.format == arc.LEAN_FORMAT
        out = tmp_path / "out"
        v.restore(SID, version=2, to=out)
        assert (out / "-home-me-proj" / f"{SID}.jsonl").read_bytes() == g.states[-1]
        assert not tailunit.sniff(v.archive_file(rows[-1]))
        assert v.verify().clean


def _records(start: int, n: int, sidechain: bool = False) -> bytes:
    return b"".join(
        json.dumps({
            "type": "user" if i % 2 == 0 else "assistant", "sessionId": SID, "isSidechain": sidechain,
            "uuid": f"00000000-0000-0000-0000-{i:012d}", "timestamp": f"2025-03-01T10:{i % 60:02d}:00Z",
            "message": {"role": "user" if i % 2 == 0 else "assistant", "content": f"step {i}: {'words ' * (i % 7)}"},
        }).encode() + b"\n"
        for i in range(start, start + n)
    )  # fmt: skip


def test_a_rewritten_file_gets_a_full_version_that_restores_exactly(transcript, tmp_path):
    g = Grower(tmp_path, transcript)
    with Vault(g.home) as v:
        g.grow(v, 2)
        rewritten = transcript[:1000].replace(b"a", b"b", 3) + transcript[1000 : len(transcript) // 3]
        g.write(rewritten)  # shorter and changed near the start: not an append
        g.sweep(v)
        g.write(rewritten + b'{"type":"user"}\n')  # and then it grows again
        g.sweep(v)
        rows = v.index.versions(SID)
        assert [v.store.manifest(e).format for e in rows] == [arc.LEAN_FORMAT, arc.TAIL_FORMAT] * 2
        assert v.store.manifest(rows[3]).base.version == 3
        for e, state in zip(rows, g.states, strict=True):
            assert restored(v, e.version, tmp_path / "out") == state
        assert v.verify().clean


def test_a_corrupted_base_is_reported_for_every_version_built_on_it(transcript, tmp_path):
    g = Grower(tmp_path, transcript)
    with Vault(g.home) as v:
        g.grow(v, 5)
        rows = v.index.versions(SID)
        base = v.archive_file(rows[1])
        data = bytearray(base.read_bytes())
        data[len(data) // 2] ^= 0x10
        base.write_bytes(bytes(data))
        report = v.verify()
    corrupt = dict(report.corrupt)
    assert set(corrupt) == {e.archive_path for e in rows[1:]}
    for e in rows[2:]:
        assert "version 2 of" in corrupt[e.archive_path] or "version" in corrupt[e.archive_path]
    assert report.ok == 1


def test_a_missing_base_is_reported_for_every_version_built_on_it(transcript, tmp_path):
    g = Grower(tmp_path, transcript)
    with Vault(g.home) as v:
        g.grow(v, 4)
        rows = v.index.versions(SID)
        v.archive_file(rows[0]).unlink()
        report = v.verify()
        with pytest.raises(Exception, match="missing"):
            restored(v, rows[3].version, tmp_path / "out")
    assert report.missing == [rows[0].archive_path]
    assert {p for p, _ in report.corrupt} == {e.archive_path for e in rows[1:]}


def test_reindex_rebuilds_chains_from_the_archive_folder_alone(transcript, tmp_path):
    g = Grower(tmp_path, transcript)
    with Vault(g.home) as v:
        g.grow(v, 6)
        before = [(e.version, e.content_sha256, e.meta) for e in v.index.versions(SID)]
    for suffix in ("", "-wal", "-shm"):
        Path(f"{g.home / 'archive_index.sqlite3'}{suffix}").unlink(missing_ok=True)
    with Vault(g.home) as v:
        assert v.reindex() == 6
        assert [(e.version, e.content_sha256, e.meta) for e in v.index.versions(SID)] == before
        for e, state in zip(v.index.versions(SID), g.states, strict=True):
            assert restored(v, e.version, tmp_path / "out") == state
        assert v.verify().clean


def test_long_chains_are_compacted_into_a_full_version(transcript, tmp_path):
    g = Grower(tmp_path, transcript, delta_max_links=3)
    with Vault(g.home) as v:
        g.grow(v, 9)
        rows = v.index.versions(SID)
        depths = [(v.store.manifest(e).base.depth if v.store.manifest(e).base else 0) for e in rows]
        assert depths == [0, 1, 2, 3, 0, 1, 2, 3, 0]
        for e, state in zip(rows, g.states, strict=True):
            assert restored(v, e.version, tmp_path / "out") == state


def test_prune_deletes_whole_chains_and_never_leaves_a_version_without_its_base(transcript, tmp_path):
    g = Grower(tmp_path, transcript, delta_max_links=3)
    with Vault(g.home) as v:
        g.grow(v, 7)  # two chains: versions 1-4 and 5-7
        rows = v.index.versions(SID)
        first_chain = sum(e.size_bytes for e in rows[:4])
        report = v.prune(max_bytes=sum(e.size_bytes for e in rows) - 1)
        assert sorted(e.version for e in report.pruned) == [1, 2, 3, 4]
        assert [e.version for e in report.pruned] == [4, 3, 2, 1]  # newest first
        assert report.total_before - report.total_after == first_chain
        kept = [e for e in v.index.versions(SID) if e.status == "archived"]
        assert [e.version for e in kept] == [5, 6, 7]
        for e in kept:
            assert restored(v, e.version, tmp_path / "out") == g.states[e.version - 1]
        assert v.verify().clean


def test_an_archive_written_in_the_first_format_stays_readable(tmp_path):
    """A unit as termvault wrote it before deltas existed (format 1, built here by hand
    with tarfile and zstandard) is adopted, verified and restored."""
    projects = tmp_path / "user" / ".claude" / "projects"
    origin = projects / "-p" / "s1.jsonl"
    data = b'{"type":"user","sessionId":"s1","message":{"role":"user","content":"hi"}}\n'
    body = {
        "format": 1, "session_id": "s1", "source": "claude-code", "version": 1, "mode": "copy",
        "root": str(projects), "archived_at": 1_700_000_000.0, "meta": {"name": "old one"},
        "files": [{"path": "-p/s1.jsonl", "origin": str(origin), "size": len(data), "mtime_ns": 1_700_000_000_000_000_000,
                   "sha256": __import__("hashlib").sha256(data).hexdigest(), "mode": 0o600}],
    }  # fmt: skip
    home = tmp_path / "home"
    unit = home / "archive" / "2023" / "11" / "1700000000_s1.tar.zst"
    unit.parent.mkdir(parents=True)
    manifest = json.dumps(body).encode()
    with (
        unit.open("wb") as fh,
        zstandard.ZstdCompressor(level=3, write_checksum=True).stream_writer(fh) as zw,
        tarfile.open(fileobj=zw, mode="w|", format=tarfile.PAX_FORMAT) as tar,
    ):
        for name, payload in ((arc.MANIFEST_NAME, manifest), ("-p/s1.jsonl", data)):
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    with Vault(home) as v:
        assert v.reindex() == 1
        e = v.get("s1")
        assert v.store.manifest(e).format == 1 and e.name == "old one"
        v.restore("s1", to=tmp_path / "out")
        assert (tmp_path / "out" / "-p" / "s1.jsonl").read_bytes() == data
        assert v.verify().clean


def test_delta_tars_written_before_tail_units_still_restore(tmp_path):
    """Units the previous writer made (tests/golden/deltas_v2: a whole version 1, a
    format 2 delta tar, a format 3 delta tar on it) are adopted, verified, restored byte
    for byte, and a version that grows on them is a tail unit built on the old chain."""
    golden = Path(__file__).parent / "golden" / "deltas_v2"
    states = [(golden / f"v{n}.jsonl").read_bytes() for n in (1, 2, 3)]
    sid = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
    g = Grower(tmp_path, b"")
    g.path = g.path.with_name(f"{sid}.jsonl")
    home = g.home
    shutil.copytree(golden / "2025", home / "archive" / "2025")
    with Vault(home) as v:
        assert v.reindex() == 3
        rows = v.index.versions(sid)
        assert [v.store.manifest(e).format for e in rows] == [arc.LEAN_FORMAT, arc.DELTA_FORMAT, arc.LEAN_FORMAT]
        assert [v.store.manifest(e).base.version if v.store.manifest(e).base else 0 for e in rows] == [0, 1, 2]
        assert rows[2].meta["name"] == "fixture session"  # inherited from the base
        for e, state in zip(rows, states, strict=True):
            out = tmp_path / f"out{e.version}"
            v.restore(sid, version=e.version, to=out)
            assert (out / "-home-me-proj" / f"{sid}.jsonl").read_bytes() == state
        assert v.verify().clean
        grown = states[2] + states[2][: len(states[0])].replace(b"step", b"more")
        g.write(grown)
        g.sweep(v)
        newest = v.get(sid)
        m = v.store.manifest(newest)
        assert newest.version == 4 and m.format == arc.TAIL_FORMAT and m.base.version == 3
        out = tmp_path / "out4"
        v.restore(sid, version=4, to=out)
        assert (out / "-home-me-proj" / f"{sid}.jsonl").read_bytes() == grown
        assert v.verify().clean


def _damaged(data: bytes, how: str) -> bytes:
    length = struct.unpack("<I", data[4:8])[0]
    if how == "header byte":
        return data[:20] + bytes([data[20] ^ 0x01]) + data[21:]
    if how in ("file hash", "base hash", "member hash"):  # the raw sha256s end the header
        at = 8 + length - {"file hash": 80, "base hash": 48, "member hash": 16}[how]
        return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]
    if how == "member byte":
        return data[:-10] + bytes([data[-10] ^ 0x01]) + data[-9:]
    if how == "truncated":
        return data[:-7]
    if how == "cut in the header":
        return data[: 8 + length // 2]
    if how == "bytes appended":
        return data + b"\0"
    assert how == "huge header"
    return data[:4] + struct.pack("<I", 0xFFFFFFFF) + data[8:]


@pytest.mark.parametrize(
    "how",
    [
        "header byte",
        "file hash",
        "base hash",
        "member hash",
        "member byte",
        "truncated",
        "cut in the header",
        "bytes appended",
        "huge header",
    ],  # fmt: skip
)
def test_a_damaged_tail_unit_is_reported_by_name_and_its_base_stays_whole(transcript, tmp_path, how):
    g = Grower(tmp_path, transcript)
    with Vault(g.home) as v:
        g.grow(v, 3)
        rows = v.index.versions(SID)
        path = v.archive_file(rows[1])
        path.write_bytes(_damaged(path.read_bytes(), how))
        report = v.verify()
        corrupt = dict(report.corrupt)
        assert set(corrupt) == {rows[1].archive_path, rows[2].archive_path}  # it, and what is built on it
        assert "version 2 of" in corrupt[rows[2].archive_path]
        with pytest.raises(TermvaultError, match=r"(?i)v2\.tar\.zst|version 2 of|sha256"):
            restored(v, 3, tmp_path / "out")
        assert restored(v, 1, tmp_path / "out") == g.states[0]
        if how in ("file hash", "base hash"):
            return  # a stated hash changed: caught against the index and the chain, above
        with pytest.raises(TermvaultError, match=r"v2\.tar\.zst"):
            tailunit.read(path)  # on its own too, naming the file


def test_a_tail_unit_header_round_trips_what_its_manifest_says(tmp_path):
    """Through write_archive and read_manifest: a renamed origin, a mode, extra, several
    files, and metadata that changed, stayed or went away (inherited from the base except
    the keys it no longer has)."""
    base_files = {"a.jsonl": b"one\n" * 50, "sub/b.log": b"two\n" * 30}
    grown = {"a.jsonl": base_files["a.jsonl"] + b"three\n", "sub/b.log": base_files["sub/b.log"]}
    base_meta = {"name": "kept", "model": "gone later", "message_count": 3}
    files, sources = [], []
    for path, data in grown.items():
        before = base_files[path]
        member = arc.format.tail_compressor(before, 6).compress(data[len(before) :])
        d = arc.FileDelta(len(before), _sha(before), _sha(data[len(before) :]), len(before), len(member), _sha(member))
        origin = "/elsewhere/a.jsonl" if path == "a.jsonl" else f"/r/{path}"
        files.append(arc.ManifestFile(path, origin, len(data), 1_700_000_000_123_456_789, _sha(data), 0o640, d))
        sources.append(arc.SourceFile(files[-1], lambda m=member: io.BytesIO(m)))
    base = arc.BaseRef("s-1", 4, arc.content_digest((p, _sha(b)) for p, b in base_files.items()), 4)
    m = arc.Manifest("s-1", "codex", 5, "copy", "/r", 1_700_000_001.5, {"name": "kept", "message_count": 4}, files,
                     extra={"note": "é"}, base=base)  # fmt: skip
    m.share_meta(base_meta)
    target = tmp_path / "u.tar.zst"
    arc.write_archive(target, m, sources)
    assert tailunit.sniff(target)
    back = arc.read_manifest(target)
    assert back.format == arc.TAIL_FORMAT and back.base == base and back.content_sha256 == m.content_sha256
    assert [(f.path, f.origin, f.size, f.mtime_ns, f.mode, f.delta) for f in back.files] == [
        (f.path, f.origin, f.size, f.mtime_ns, f.mode, dataclasses.replace(f.delta, tail_sha256="")) for f in files
    ]
    assert (back.session_id, back.source, back.version, back.mode, back.root, back.archived_at, back.extra) == (
        "s-1", "codex", 5, "copy", "/r", 1_700_000_001.5, {"note": "é"}
    )  # fmt: skip
    assert back.meta == {"message_count": 4}  # only what changed is stored
    back.inherit_meta({**base_meta, arc.BASE_META: {"version": 3}})
    assert back.meta == {"name": "kept", "message_count": 4}  # "model" went away; row-only keys stay out
    seen = {}
    arc.read_archive(target, lambda f, s: seen.update({f.path: s.read()}))
    assert seen == {f.path: s.opener().read() for f, s in zip(files, sources, strict=True)}


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def test_every_byte_of_a_tail_unit_header_flipped_is_refused_cleanly_or_read_as_stated(tmp_path):
    """No flipped byte in a header makes the reader fail with anything but DataError (a
    flip in the raw hashes reads, as other hashes, which the chain then refuses)."""
    data = b"x" * 4000
    member = arc.format.tail_compressor(data[:3000], 6).compress(data[3000:])
    d = arc.FileDelta(3000, _sha(data[:3000]), _sha(data[3000:]), 3000, len(member), _sha(member))
    f = arc.ManifestFile("p/s.jsonl", "/r/p/s.jsonl", 4000, 1, _sha(data), 0o600, d)
    m = arc.Manifest("s", "claude-code", 2, "copy", "/r", 1.0, {"name": "n"}, [f],
                     base=arc.BaseRef("s", 1, arc.content_digest([("p/s.jsonl", d.base_sha256)]), 1))  # fmt: skip
    header = tailunit.encode(m)
    assert tailunit.decode(header[8:], "u").content_sha256 == m.content_sha256
    hashes_from = len(header) - 96
    for i in range(len(header)):
        broken = header[:i] + bytes([header[i] ^ 0x20]) + header[i + 1 :]
        try:
            back = tailunit.header_from_prefix(broken, "u", complete=True)
        except DataError as exc:
            assert "u" in str(exc)
            continue
        assert back is not None and i >= hashes_from, i  # only a hash may change silently


def test_the_header_template_and_the_unstated_window_never_change():
    """Every tail unit ever written decodes with this template (codec byte 1) and, where
    its header states no window, with 8 MiB at most: a new template needs a new codec
    byte, and DELTA_WINDOW may change only because units state a window that differs."""
    assert _sha(tailunit.TEMPLATE.read_bytes()) == "c4bf05b51c06f6ee1cbc5f6e35badbf5537c43bea7505d2d38bc1f99b57a6035"
    assert tailunit.HEADER_CODEC == b"\x01" and tailunit.STATED_WINDOW == 8 * 1024 * 1024
