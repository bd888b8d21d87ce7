"""asciinema recordings through the vault: swept in copy mode, restored and exported byte
for byte, with the metadata of hand-checked recordings in the index."""

from __future__ import annotations

import io

import pytest

from termvault.sources.asciinema import AsciinemaSource

from .support import sha256
from .test_asciinema import SERVER_V3, ZSH_OSC7, cast_layout

vault_module = pytest.importorskip("termvault.vault")


def test_every_recording_round_trips_byte_for_byte_with_its_metadata(corpus, home, user_home, tmp_path):
    root = user_home / ".local" / "share" / "asciinema"
    placed = cast_layout(corpus, root)
    ids = {
        u.files[0].origin: u.session_id
        for u in AsciinemaSource([root], home=home, env={"HOME": str(user_home)}).discover()
    }
    v = vault_module.Vault(home, sources={"asciinema": {"roots": [str(root)], "mode": "copy"}}, settle_seconds=0)
    try:
        report = v.sweep(kinds=["asciinema"], older_than=0)
        assert report.failed == []
        assert {e.session_id for e in report.archived} == set(ids.values())
        for copy, original in placed.items():
            sid = ids[copy]
            v.restore(sid, to=tmp_path / "restored")
            restored = tmp_path / "restored" / copy.relative_to(root).as_posix()
            assert sha256(restored.read_bytes()) == sha256(original.read_bytes()), copy.name
            buf = io.BytesIO()
            v.export(sid, buf, fmt="raw")
            assert buf.getvalue() == original.read_bytes(), copy.name
            assert copy.read_bytes() == original.read_bytes()  # copy mode leaves the source

        v3 = v.get(ids[root / "asciinema" / SERVER_V3])
        assert (v3.name, v3.source, v3.file_count) == ("bashing :)", "asciinema", 1)
        assert v3.last_command == "/bin/bash -l"
        assert v3.created_at == 1744302022
        assert abs(v3.last_activity_at - (1744302022 + 10.370343)) < 1e-6
        assert v3.meta["extra"]["cols"] == 96

        zsh = v.get(ids[root / "cirocosta" / ZSH_OSC7])
        assert zsh.working_directory == "/Users/cirocosta/Development/go/src/github.com/cirocosta/asciinema-edit"

        again = v.sweep(kinds=["asciinema"], older_than=0)
        assert again.archived == []  # unchanged files are not archived twice
    finally:
        v.close()
