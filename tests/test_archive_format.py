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
    body = {"format": 1, "session_id": "s", "source": "native", "version": 1, "mode": "move",
            "root": "/tmp", "archived_at": 1.0, "meta": {}, "files": entries}
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


def test_archive_is_a_standard_tar_zst_whose_first_member_is_the_manifest(home):
    path = make_native(home, "s1", 20)
    v = Vault(home, archive_days=7)
    v.sweep()
    archive = v.archive_file(v.get("s1"))
    data = zstandard.ZstdDecompressor().stream_reader(open(archive, "rb")).read()
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile("termvault.json").read())
    assert names == ["termvault.json", path.name]
    assert manifest["format"] == 1 and manifest["session_id"] == "s1"
    (f,) = manifest["files"]
    assert set(f) >= {"path", "size", "mtime_ns", "sha256", "origin"}
    # The frame carries a content checksum (frame header descriptor bit 2).
    params = zstandard.get_frame_parameters(archive.read_bytes())
    assert params.has_checksum


@pytest.mark.skipif(shutil.which("zstd") is None, reason="the zstd command is not installed")
def test_tar_lists_an_archive(home):
    make_native(home, "s1", 20)
    v = Vault(home, archive_days=7)
    v.sweep()
    out = subprocess.run(["tar", "--zstd", "-tf", str(v.archive_file(v.get("s1")))], capture_output=True, text=True)
    assert out.stdout.splitlines()[0] == "termvault.json"


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
