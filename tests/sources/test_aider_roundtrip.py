"""Aider histories through the vault: each project folder swept in copy mode as one unit,
restored and exported byte for byte, and archived again only when a run is appended."""

from __future__ import annotations

import io

import pytest

from termvault.sources.aider import CHAT_NAME, AiderSource

from .support import local
from .test_aider import aider_layout

vault_module = pytest.importorskip("termvault.vault")


def test_every_history_round_trips_byte_for_byte_with_its_metadata(corpus, home, user_home, tmp_path):
    placed = aider_layout(corpus, user_home)
    units = list(AiderSource([user_home], home=home, env={"HOME": str(user_home)}).discover())
    ids = {u.files[0].relpath.rsplit("/", 1)[0]: u.session_id for u in units}
    v = vault_module.Vault(home, sources={"aider": {"roots": [str(user_home)], "mode": "copy"}}, settle_seconds=0)
    try:
        report = v.sweep(kinds=["aider"], older_than=0)
        assert report.failed == []
        assert {e.session_id for e in report.archived} == set(ids.values())
        for unit in units:
            v.restore(unit.session_id, to=tmp_path / unit.session_id)
            for f in unit.files:
                assert (tmp_path / unit.session_id / f.relpath).read_bytes() == placed[f.origin].read_bytes()
            buf = io.BytesIO()
            v.export(unit.session_id, buf, fmt="raw")
            assert buf.getvalue() == placed[unit.files[0].origin].read_bytes()

        pair = v.get(ids["code/metadata-aider"])
        assert pair.file_count == 2 and pair.source == "aider"
        assert pair.name.startswith("Please create an .aidar.json file")
        assert pair.created_at == local("2025-12-03 14:43:45")
        assert pair.last_activity_at == local("2025-12-03 21:29:00.153483")
        assert pair.last_command.startswith("write a README file")
        assert pair.meta["extra"]["run_count"] == 1

        runs = v.get(ids["myrepo"])
        # The source gives it relative to the root; the vault makes it absolute.
        assert runs.working_directory == str(user_home / "myrepo")
        assert [r["started"] for r in runs.meta["extra"]["runs"]] == [
            "2026-06-09 14:01:00",
            "2026-06-09 15:30:00",
            "2026-06-09 16:00:00",
        ]

        # A new run appended to one history makes a new version of that unit only.
        history = user_home / "myrepo" / CHAT_NAME
        with history.open("a") as fh:
            fh.write("\n# aider chat started at 2026-06-10 09:00:00\n\n#### one more thing  \n\nDone.\n")
        again = v.sweep(kinds=["aider"], older_than=0)
        assert [(e.session_id, e.version) for e in again.archived] == [(ids["myrepo"], 2)]
        assert v.get(ids["myrepo"]).last_command == "one more thing"
        v.restore(ids["myrepo"], version=1, to=tmp_path / "v1")
        assert (tmp_path / "v1" / "myrepo" / CHAT_NAME).read_bytes() == placed[history].read_bytes()
    finally:
        v.close()
