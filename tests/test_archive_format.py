"""The archive unit format: self-describing, standard, and defensive when read."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tarfile

import pytest
import zstandard

from termvault import Vault
from termvault import archive as arc
from termvault.errors import DataError, IntegrityError

from .helpers import make_native


def build(tmp_path, files: dict[str, bytes], manifest_edit=None, extra_members=()):
    """Write an archive by hand (bypassing the writer) to test the reader's defences."""
    import hashlib

    entries = [
        {"path": p, "origin": f"/tmp/{p}", "size": len(b), "mtime_ns": 0, "sha256": hashlib.sha256(b).hexdigest()}
        for p, b in files.items()
    ]
    body = {
        "format": 1,
        "session_id": "s",
        "source": "native",
        "version": 1,
        "mode": "move",
        "root": "/tmp",
        "archived_at": 1.0,
        "meta": {},
        "files": entries,
    }
    if manifest_edit:
        manifest_edit(body)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in [("termvault.json", json.dumps(body).encode()), *files.items(), *extra_members]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path = tmp_path / "x.tar.zst"
    path.write_bytes(zstandard.ZstdCompressor(write_checksum=True).compress(raw.getvalue()))
    return path


SHIPPED = arc.DICTIONARY_DIR / arc.DEFAULT_DICTIONARY


def test_a_small_archive_is_a_standard_tar_zst_with_the_shipped_dictionary_named_in_its_frame(home):
    path = make_native(home, "s1", 20)
    v = Vault(home, archive_days=7)
    v.sweep()
    archive = v.archive_file(v.get("s1"))
    shipped = zstandard.ZstdCompressionDict(SHIPPED.read_bytes())
    params = zstandard.get_frame_parameters(archive.read_bytes())
    assert params.dict_id == shipped.dict_id() != 0
    # The frame carries a content checksum (frame header descriptor bit 2).
    assert params.has_checksum
    data = zstandard.ZstdDecompressor(dict_data=shipped).stream_reader(open(archive, "rb")).read()
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile("termvault.json").read())
    assert names == ["termvault.json", path.name]
    assert manifest["format"] == arc.LEAN_FORMAT and manifest["session_id"] == "s1"
    (f,) = manifest["files"]
    assert set(f) >= {"path", "size", "mtime_ns", "sha256"}
    # The origin left out of the manifest is root/path, and reads back as such.
    assert arc.read_manifest(archive).files[0].origin == str(path)


def test_units_written_with_an_earlier_shipped_dictionary_still_read_verify_restore_and_reindex(home, monkeypatch):
    """Format 3 units written before app-v2 name app-v1 in their frame; it still ships."""
    first = arc.DICTIONARY_DIR / "app-v1.zdict"
    old_id = zstandard.ZstdCompressionDict(first.read_bytes()).dict_id()
    assert old_id != zstandard.ZstdCompressionDict(SHIPPED.read_bytes()).dict_id()
    path = make_native(home, "old", 20)
    original = path.read_bytes()
    with monkeypatch.context() as m:  # the writer as it was before app-v2 shipped
        m.setattr("termvault.archive.format.DEFAULT_DICTIONARY", first.name)
        with Vault(home, archive_days=7) as v:
            v.sweep()
            unit = v.archive_file(v.get("old"))
    assert zstandard.get_frame_parameters(unit.read_bytes()).dict_id == old_id
    assert not path.exists()
    arc.format._DICTIONARIES.clear()  # a fresh process: nothing loaded yet
    with Vault(home, archive_days=7) as v:
        assert v.verify(read_data=True).clean
        v.config.index_path.unlink()
    with Vault(home, archive_days=7) as v:
        assert v.reindex() == 1
        assert v.get("old").archive_path == str(unit.relative_to(v.config.archive_dir))
        v.restore("old")
    assert path.read_bytes() == original


def test_a_large_archive_needs_no_dictionary(home):
    make_native(home, "big", 20, output_snapshot=[f"line {i} " + "x" * 60 for i in range(2000)])
    v = Vault(home, archive_days=7)
    v.sweep()
    archive = v.archive_file(v.get("big"))
    assert zstandard.get_frame_parameters(archive.read_bytes()).dict_id == 0
    data = zstandard.ZstdDecompressor().stream_reader(open(archive, "rb")).read()
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert tar.getnames()[0] == "termvault.json"


def test_a_format_1_manifest_reads_as_written(tmp_path):
    body = {
        "format": 1,
        "session_id": "old1",
        "source": "native",
        "version": 1,
        "mode": "move",
        "root": "/r",
        "archived_at": 1.5,
        "meta": {"name": "n"},
        "files": [{"path": "a.json", "origin": "/elsewhere/a.json", "size": 2, "mtime_ns": 1, "sha256": "0" * 64}],
    }
    m = arc.Manifest.from_json(json.dumps(body).encode(), "old unit")
    assert m.meta == {"name": "n"} and m.files[0].origin == "/elsewhere/a.json"
    # Written again, it stays a format 1 manifest (nothing left out).
    assert json.loads(m.to_json())["files"][0]["origin"] == "/elsewhere/a.json"


def test_format_2_leaves_out_empty_metadata_and_reads_it_back(tmp_path):
    meta = {"name": "n", "first_prompt": None, "model": None, "parse_warnings": 0, "message_count": 3}
    m = arc.Manifest(
        "s", "native", 1, "move", "/r", 1.0, dict(meta), [arc.ManifestFile("a.json", "/r/a.json", 2, 1, "0" * 64)]
    )
    stored = json.loads(m.to_json())
    assert stored["meta"] == {"name": "n", "message_count": 3}
    assert "origin" not in stored["files"][0]
    back = arc.Manifest.from_json(m.to_json(), "unit")
    assert {k: back.meta[k] for k in meta} == meta
    assert back.files[0].origin == "/r/a.json"


@pytest.mark.skipif(shutil.which("zstd") is None, reason="the zstd command is not installed")
def test_zstd_with_the_shipped_dictionary_and_tar_list_an_archive(home):
    make_native(home, "s1", 20)
    v = Vault(home, archive_days=7)
    v.sweep()
    unit = str(v.archive_file(v.get("s1")))
    raw = subprocess.run(["zstd", "-d", "-q", "-c", "-D", str(SHIPPED), unit], capture_output=True, check=True)
    out = subprocess.run(["tar", "-t"], input=raw.stdout, capture_output=True)
    assert out.stdout.decode().splitlines()[0] == "termvault.json"


def test_reader_accepts_a_well_formed_handmade_archive(tmp_path):
    path = build(tmp_path, {"a.json": b"{}", "dir/b.txt": b"hello"})
    seen = {}
    arc.read_archive(path, lambda e, s: seen.__setitem__(e.path, s.read()))
    assert seen == {"a.json": b"{}", "dir/b.txt": b"hello"}


@pytest.mark.parametrize("bad_path", ["../escape", "/etc/passwd", "a/../../b", "a//b", "a\\b"])
def test_manifest_paths_that_leave_the_folder_are_refused(tmp_path, bad_path):
    path = build(tmp_path, {"ok": b"x"}, manifest_edit=lambda b: b["files"][0].update(path=bad_path))
    with pytest.raises(DataError):
        arc.read_archive(path)


def test_a_member_the_manifest_does_not_list_is_refused(tmp_path):
    path = build(tmp_path, {"ok": b"x"}, extra_members=[("sneaky", b"y")])
    with pytest.raises(IntegrityError, match="does not list"):
        arc.read_archive(path)


def test_an_altered_member_is_detected(tmp_path):
    path = build(tmp_path, {"ok": b"x"}, manifest_edit=lambda b: b["files"][0].update(sha256="0" * 64))
    with pytest.raises(IntegrityError):
        arc.read_archive(path)


def test_an_archive_claiming_to_expand_past_the_limit_is_refused(tmp_path):
    path = build(tmp_path, {"big": b"x" * 1000})
    with pytest.raises(DataError, match="decompression bomb"):
        arc.read_archive(path, max_expand=100)


def test_a_truncated_archive_is_reported_as_corrupt(tmp_path):
    path = build(tmp_path, {"ok": b"x" * 100000})
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(DataError, match="corrupt or truncated"):
        arc.read_archive(path)


def test_a_newer_format_asks_to_upgrade(tmp_path):
    path = build(tmp_path, {"ok": b"x"}, manifest_edit=lambda b: b.update(format=99))
    with pytest.raises(DataError, match="newer termvault"):
        arc.read_manifest(path)


def test_writer_refuses_a_file_that_changed_after_it_was_hashed(tmp_path):
    src = tmp_path / "f"
    src.write_bytes(b"abc")
    entry = arc.ManifestFile("f", str(src), 3, 0, "0" * 64)
    m = arc.Manifest("s", "native", 1, "move", str(tmp_path), 1.0, {}, [entry])
    target = tmp_path / "out" / "x.tar.zst"
    with pytest.raises(IntegrityError, match="changed while"):
        arc.write_archive(target, m, [arc.SourceFile(entry, lambda: open(src, "rb"))])
    assert not target.exists() and list(target.parent.iterdir()) == []


@pytest.mark.parametrize("size", [3_000, 200_000])  # with the shipped dictionary, and without
def test_an_archive_packed_in_memory_is_byte_for_byte_what_the_writer_writes(tmp_path, size):
    import hashlib

    src = tmp_path / "f"
    data = (b"line of a session 0123456789\n" * (size // 29 + 1))[:size]
    src.write_bytes(data)
    entry = arc.ManifestFile("f", str(src), size, 1_700_000_000 * 10**9, hashlib.sha256(data).hexdigest())
    m = arc.Manifest("s", "native", 1, "move", str(tmp_path), 1.0, {"name": "n"}, [entry])
    files = [arc.SourceFile(entry, lambda: open(src, "rb"))]
    written = arc.write_archive(tmp_path / "a" / "x.tar.zst", m, files)
    packed = arc.pack_archive(m, files)
    assert packed.data == written.path.read_bytes()
    assert packed.sha256 == written.archive_sha256
    steps: list[str] = []
    again = arc.write_packed(tmp_path / "b" / "x.tar.zst", packed, 1, fault=steps.append)
    assert again.path.read_bytes() == packed.data and again.archive_sha256 == written.archive_sha256
    assert steps == ["write-member", "fsync", "rename", "fsync-dir"]  # the writer's steps
    assert arc.read_archive(again.path).manifest.content_sha256 == m.content_sha256


def test_packing_refuses_a_file_that_changed_after_it_was_hashed(tmp_path):
    src = tmp_path / "f"
    src.write_bytes(b"abc")
    entry = arc.ManifestFile("f", str(src), 3, 0, "0" * 64)
    m = arc.Manifest("s", "native", 1, "move", str(tmp_path), 1.0, {}, [entry])
    with pytest.raises(IntegrityError, match="changed while"):
        arc.pack_archive(m, [arc.SourceFile(entry, lambda: open(src, "rb"))])


def test_a_reused_compressor_writes_the_bytes_a_fresh_one_does(tmp_path, monkeypatch):
    import hashlib

    def archive(name: str, data: bytes) -> bytes:
        src = tmp_path / name
        src.write_bytes(data)
        entry = arc.ManifestFile(name, str(src), len(data), 0, hashlib.sha256(data).hexdigest())
        m = arc.Manifest(name, "native", 1, "move", str(tmp_path), 1.0, {}, [entry])
        return arc.pack_archive(m, [arc.SourceFile(entry, lambda: open(src, "rb"))]).data

    inputs = {"a": b"first session\n" * 300, "b": bytes(range(256)) * 40, "c": b"third\n" * 20_000}
    reused = [archive(k, v) for k, v in inputs.items()] + [archive(k, v) for k, v in inputs.items()]
    monkeypatch.setattr(arc.format, "unit_compressor", lambda size, level: _fresh(size, level))
    fresh = [archive(k, v) for k, v in inputs.items()] * 2
    assert reused == fresh


def _fresh(size: int, level: int):
    small = size <= arc.SMALL_UNIT
    return arc.format._new_compressor(small, max(level, arc.format.SMALL_LEVEL) if small else level)
