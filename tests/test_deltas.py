"""Versions that cost what changed: a transcript that only grew is stored as what was
appended, every version still restores byte for byte, and chains stay whole."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
import time
from pathlib import Path

import pytest
import zstandard

from termvault import archive as arc
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
        assert all(m.base is not None and m.format >= arc.DELTA_FORMAT for m in manifests[1:])
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


def test_a_delta_unit_is_a_standard_tar_zst_naming_its_base(transcript, tmp_path):
    g = Grower(tmp_path, transcript)
    with Vault(g.home) as v:
        g.grow(v, 2)
        first, second = v.index.versions(SID)
        path = v.archive_file(second)
    with zstandard.ZstdDecompressor().stream_reader(path.open("rb")) as zr, tarfile.open(fileobj=zr, mode="r|") as tar:
        names, body = [], None
        for member in tar:
            names.append(member.name)
            if member.name == arc.MANIFEST_NAME:
                body = json.loads(tar.extractfile(member).read())
    assert names == [arc.MANIFEST_NAME, f"-home-me-proj/{SID}.jsonl"]
    assert body["format"] >= 2 and body["base"]["version"] == 1
    assert body["base"]["content_sha256"] == first.content_sha256
    (f,) = body["files"]
    assert f["size"] == len(transcript) and f["delta"]["base_size"] == len(transcript) // 2
    if shutil.which("tar") and shutil.which("zstd"):
        listing = subprocess.run(["tar", "--zstd", "-tf", str(path)], capture_output=True, text=True, check=True)
        assert listing.stdout.split() == names


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
        assert [v.store.manifest(e).base is not None for e in rows] == [False, True, False, True]
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
