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


def test_a_sweep_reads_a_recording_once_and_its_screen_text_is_searchable(home, user_home, tmp_path, monkeypatch):
    # A recording's messages are terminal output, never a conversation: the sweep searches
    # the text its parser made and must not read the file a second time for messages.
    root = user_home / "casts"
    root.mkdir(parents=True)
    (root / "demo.cast").write_text(
        '{"version": 2, "width": 80, "height": 24, "timestamp": 1700000000}\n'
        '[0.5, "o", "$ make flibbertigibbet\\r\\n"]\n'
        '[1.0, "o", "\\u001b[31mbuild failed: quuxotic error\\u001b[0m\\r\\n"]\n'
    )
    calls: list[str] = []
    real = AsciinemaSource.messages

    def counting(self, files):
        calls.append("messages")
        return real(self, files)

    monkeypatch.setattr(AsciinemaSource, "messages", counting)
    v = vault_module.Vault(home, sources={"asciinema": {"roots": [str(root)], "mode": "copy"}}, settle_seconds=0)
    try:
        report = v.sweep(kinds=["asciinema"], older_than=0)
        assert report.failed == [] and len(report.archived) == 1
        assert calls == []
        hits = v.search("quuxotic")
        assert [h.entry.session_id for h in hits] == [report.archived[0].session_id]
        assert hits[0].snippet is not None and "quuxotic" in hits[0].snippet and "\x1b" not in hits[0].snippet
    finally:
        v.close()
