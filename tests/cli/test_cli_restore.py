"""``termvault restore``: back to the original path or a folder, verified, never
overwriting a different file unless asked."""

from __future__ import annotations

import json

from .support import API, BLOG, DB, invoke, run


def test_restore_puts_the_session_back_byte_for_byte(archived):
    path = archived.files[API]
    assert not path.exists()
    result = invoke("restore", API[:8])
    assert result.exit_code == 0, result.output
    assert path.read_bytes() == archived.originals[API]
    assert f"Restored {API} (version 1), verified:" in result.stdout
    assert "restored" in result.stdout and path.name in result.stdout


def test_restoring_again_reports_the_file_as_identical(archived):
    assert invoke("restore", API).exit_code == 0
    result = invoke("restore", API)
    assert result.exit_code == 0
    assert "Nothing to restore" in result.stdout
    assert "identical" in result.stdout and "already there" in result.stdout


def test_restore_refuses_to_overwrite_a_different_file_without_force(archived):
    path = archived.files[DB]
    path.write_text('{"session_id": "changed meanwhile"}')
    result = invoke("restore", DB)
    assert result.exit_code == 4
    assert "--force" in result.stderr
    assert result.stderr.startswith("termvault: ") and len(result.stderr.splitlines()) == 1
    assert path.read_text() == '{"session_id": "changed meanwhile"}'


def test_restore_with_force_sets_the_existing_file_aside(archived):
    path = archived.files[DB]
    path.write_text("mine")
    result = invoke("restore", DB, "--force")
    assert result.exit_code == 0
    assert path.read_bytes() == archived.originals[DB]
    aside = [p for p in path.parent.iterdir() if p.name.startswith(path.name + ".termvault-old-")]
    assert len(aside) == 1 and aside[0].read_text() == "mine"
    assert "set aside" in result.stdout and aside[0].name in result.stdout


def test_restore_to_another_folder_through_a_real_process(archived, tmp_path):
    target = tmp_path / "look"
    proc = run("restore", BLOG[:8], "--to", str(target), "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    restored = target / archived.files[BLOG].name
    assert data == {"session_id": BLOG, "version": 1, "restored": [str(restored)], "unchanged": [], "set_aside": []}
    assert restored.read_bytes() == archived.originals[BLOG]
    assert not archived.files[BLOG].exists()


def test_restore_of_an_unknown_id_exits_1(archived):
    result = invoke("restore", "0000")
    assert result.exit_code == 1
    assert "No archived session matches '0000'" in result.stderr


def test_restore_of_an_ambiguous_prefix_exits_2(archived):
    result = invoke("restore", "3f2")
    assert result.exit_code == 2
    assert not archived.files[API].exists() and not archived.files[DB].exists()


def test_a_restore_that_fails_its_hash_check_leaves_no_folder_behind(home, tmp_path):
    # The folders were made before the bytes were checked: a damaged archive left an
    # empty --to folder (and empty subfolders) where nothing had been restored.
    import os

    from termvault import Vault

    logs = tmp_path / "logs" / "deep"
    logs.mkdir(parents=True)
    (logs / "noise.log").write_bytes(os.urandom(3_000_000))  # stored, not compressed: a flip goes through
    os.utime(logs / "noise.log", (1.7e9, 1.7e9))
    with Vault(home, sources={"agent-log": {"roots": [str(tmp_path / "logs")]}}) as vault:
        (entry,) = vault.sweep(older_than=0, kinds=["agent-log"]).archived
    path = home / "archive" / entry.archive_path
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    target = tmp_path / "new" / "place"
    result = invoke("restore", entry.session_id, "--to", str(target))
    assert result.exit_code == 4, result.output
    assert not (tmp_path / "new").exists()


def test_show_of_a_session_archived_elsewhere_offers_the_restore_that_works(home, tmp_path):
    """A unit from another home or machine (copied in, or fetched from a remote's other
    host) names files outside this home's sources: `restore ID` refuses them, yet `show`
    said "the file is gone; `termvault restore ID` puts it back"."""
    import shutil

    from tests.helpers import make_native

    other = tmp_path / "other-home"
    make_native(other, "away", age_days=40)
    assert invoke("--home", str(other), "sweep").exit_code == 0
    shutil.copytree(other / "archive", home / "archive", dirs_exist_ok=True)
    assert invoke("reindex").exit_code == 0
    assert invoke("restore", "away").exit_code == 4  # outside every folder this home's sources read
    shown = invoke("show", "away").stdout
    assert "`termvault restore away` puts it back" not in shown
    assert "termvault restore away --to DIR" in shown
    to = tmp_path / "here"
    assert invoke("restore", "away", "--to", str(to)).exit_code == 0
