"""The wave source: Wave Terminal panes' circular ``term`` files read from real Wave-schema
databases, copied version by version and stitched into one continuous history."""

from __future__ import annotations

import io
import json
import logging
import os
import random
import sqlite3
from pathlib import Path

import pytest

from termvault.errors import DataError
from termvault.sources import filestore as fst
from termvault.sources.wave import WaveSource
from termvault.vault import Vault

from . import filestore_builder as b

SMALL_WINDOW = 2 * b.PART  # a small circular window keeps the wrap tests fast


def wave_data(user_home: Path) -> Path:
    data = user_home / ".local" / "share" / "waveterm"
    b.create_filestore(data / "db" / "filestore.db", b.WAVE)
    b.create_objects(data / "db" / "waveterm.db", b.WAVE)
    return data


def term_pane(data: Path, meta: dict | None = None, maxsize: int = b.WAVE_TERM_MAX, tab: str = "build") -> b.Pane:
    pane = b.add_pane(
        data / "db" / "waveterm.db", {"view": "term", "controller": "shell", **(meta or {})}, tab_name=tab
    )
    w = b.Writer(data / "db" / "filestore.db", b.WAVE)
    w.make_file(pane.block, "term", {"maxsize": maxsize, "circular": True})
    w.close()
    return pane


def pty_chunk(rng: random.Random, n: int, label: int) -> bytes:
    """Terminal output: coloured text, CR LF line ends, an OSC 7 folder announcement."""
    words = ["".join(rng.choice("abcdefghij ") for _ in range(rng.randint(5, 60))) for _ in range(64)]
    out = bytearray()
    while len(out) < n:
        out += f"\x1b[32m{label}:{len(out)}\x1b[0m {rng.choice(words)}\r\n".encode()
    return bytes(out[:n])


def open_vault() -> Vault:
    return Vault(settle_seconds=0)


def history(vault: Vault, session_id: str) -> bytes:
    out = io.BytesIO()
    vault.export(session_id, out, fmt="raw", file="history")
    return out.getvalue()


def test_found_in_the_default_data_folder_with_name_folder_and_command_from_the_object_store(user_home):
    data = wave_data(user_home)
    pane = term_pane(data, {"cmd:cwd": "/home/me/app", "cmd": "make", "cmd:args": ["test"]}, tab="build")
    w = b.Writer(data / "db" / "filestore.db", b.WAVE)
    w.append(pane.block, "term", b"\x1b[1mhello\x1b[0m from wave\r\n")
    # Files that are not a pane's scrollback are left alone.
    w.make_file(pane.block, "cache:term:full")
    w.append(pane.block, "cache:term:full", b"serialized xterm state")
    w.close()
    src = WaveSource(home=user_home / ".multi-term")
    assert src.detected()
    units = list(src.discover())
    assert [u.session_id for u in units] == [f"wave-{pane.block}"]
    with open_vault() as vault:
        report = vault.sweep(kinds=["wave"])
        assert len(report.archived) == 1 and not report.failed
        entry = vault.get(f"wave-{pane.block}")
        assert (entry.name, entry.working_directory, entry.last_command) == ("build", "/home/me/app", "make test")
        assert entry.meta["extra"]["line_count"] == 1
        out = io.BytesIO()
        vault.export(entry.session_id, out, fmt="raw", file=f"{pane.block}/term")
        assert out.getvalue() == b"\x1b[1mhello\x1b[0m from wave\r\n"
        text = io.BytesIO()
        vault.export(entry.session_id, text, fmt="text")
        assert "hello from wave" in text.getvalue().decode()
        assert "\x1b" not in text.getvalue().decode()


@pytest.mark.parametrize("variable", ["WAVETERM_DATA_HOME", "XDG_DATA_HOME"])
def test_data_folder_named_by_the_environment_is_found(user_home, monkeypatch, variable):
    base = user_home / "elsewhere"
    data = base if variable == "WAVETERM_DATA_HOME" else base / "waveterm"
    b.create_filestore(data / "db" / "filestore.db", b.WAVE)
    b.create_objects(data / "db" / "waveterm.db", b.WAVE)
    pane = term_pane(data)
    w = b.Writer(data / "db" / "filestore.db", b.WAVE)
    w.append(pane.block, "term", b"$ ls\r\n")
    w.close()
    monkeypatch.setenv(variable, str(base))
    assert [u.session_id for u in WaveSource(home=user_home / ".multi-term").discover()] == [f"wave-{pane.block}"]


def test_a_durable_job_zone_is_not_a_separate_session(user_home):
    (user_home / ".multi-term").mkdir(mode=0o700, exist_ok=True)  # reading commands need a home
    data = wave_data(user_home)
    pane = term_pane(data)
    job = "9b1c3c1e-0000-4000-8000-000000000001"
    b.put_object(data / "db" / "waveterm.db", "job", {"oid": job})
    w = b.Writer(data / "db" / "filestore.db", b.WAVE)
    w.make_file(job, "term", {"maxsize": 10 * 1024 * 1024, "circular": True})
    for zone in (job, pane.block):
        w.append(zone, "term", b"job output\r\n")
    w.close()
    assert [u.session_id for u in WaveSource(home=user_home / ".multi-term").discover()] == [f"wave-{pane.block}"]


def test_stitched_history_equals_everything_written_across_several_wraps(user_home):
    data = wave_data(user_home)
    pane = term_pane(data, maxsize=SMALL_WINDOW)
    rng = random.Random(7)
    written = bytearray()
    w = b.Writer(data / "db" / "filestore.db", b.WAVE)
    with open_vault() as vault:
        for n in range(14):  # about 5 windows' worth, a sweep at least once per window
            chunk = pty_chunk(rng, rng.randint(10_000, SMALL_WINDOW - 1), n)
            w.append(pane.block, "term", chunk, ts=b.now_ms() - 60_000 + n)
            written += chunk
            assert not vault.sweep(kinds=["wave"]).failed
        row = b.file_row(data / "db" / "filestore.db", pane.block, "term")
        assert row["size"] == len(written) > 3 * SMALL_WINDOW  # it wrapped more than three times
        assert history(vault, f"wave-{pane.block}") == bytes(written)
        # Each version is the window as Wave held it, and says where it starts.
        for e in vault.index.versions(f"wave-{pane.block}"):
            extra = e.meta["extra"]
            assert extra["logical_size"] - extra["window_start"] == e.original_size_bytes <= SMALL_WINDOW
    w.close()


def test_the_real_two_mebibyte_window_wraps_and_stitches(user_home):
    data = wave_data(user_home)
    pane = term_pane(data)  # Wave's own opts: 2 MiB circular
    rng = random.Random(3)
    written = bytearray()
    w = b.Writer(data / "db" / "filestore.db", b.WAVE)
    with open_vault() as vault:
        for n in range(4):
            chunk = pty_chunk(rng, 1_500_000, n)
            w.append(pane.block, "term", chunk, ts=b.now_ms() - 60_000 + n)
            written += chunk
            vault.sweep(kinds=["wave"])
        assert history(vault, f"wave-{pane.block}") == bytes(written)
    w.close()


def test_a_window_lost_between_sweeps_is_reported_as_a_gap(user_home, caplog):
    data = wave_data(user_home)
    pane = term_pane(data, maxsize=SMALL_WINDOW)
    rng = random.Random(1)
    w = b.Writer(data / "db" / "filestore.db", b.WAVE)
    first = pty_chunk(rng, 50_000, 1)
    lost = pty_chunk(rng, 3 * SMALL_WINDOW, 2)  # scrolls out before any sweep sees it
    last = pty_chunk(rng, SMALL_WINDOW, 3)
    with open_vault() as vault:
        w.append(pane.block, "term", first, ts=b.now_ms() - 60_000)
        vault.sweep(kinds=["wave"])
        w.append(pane.block, "term", lost, ts=b.now_ms() - 60_000 + 1)
        w.append(pane.block, "term", last, ts=b.now_ms() - 60_000 + 2)
        vault.sweep(kinds=["wave"])
        with caplog.at_level(logging.WARNING):
            assert history(vault, f"wave-{pane.block}") == first + last
        assert f"{len(lost)} bytes of output (offsets {len(first)}-{len(first) + len(lost)})" in caplog.text
        text = io.BytesIO()
        vault.export(f"wave-{pane.block}", text, fmt="markdown")
        rendered = text.getvalue().decode()
        gap = len(lost)
        assert f"{gap} bytes of output were lost" in rendered
        assert f"offsets {len(first)}-{len(first) + gap}" in rendered
    w.close()


def test_restore_to_wave_itself_is_refused_but_restore_to_a_folder_works(user_home, tmp_path):
    data = wave_data(user_home)
    pane = term_pane(data)
    w = b.Writer(data / "db" / "filestore.db", b.WAVE)
    w.append(pane.block, "term", b"some output\r\n")
    w.close()
    with open_vault() as vault:
        vault.sweep(kinds=["wave"])
        with pytest.raises(DataError, match="--to DIR"):
            vault.restore(f"wave-{pane.block}")
        result = vault.restore(f"wave-{pane.block}", to=tmp_path / "out")
        assert (tmp_path / "out" / pane.block / "term").read_bytes() == b"some output\r\n"
        assert result.restored


def test_reading_uses_a_read_only_connection_that_never_changes_the_database(user_home):
    data = wave_data(user_home)
    pane = term_pane(data)
    w = b.Writer(data / "db" / "filestore.db", b.WAVE)
    w.append(pane.block, "term", b"x" * 100_000)
    w.close()
    db = data / "db" / "filestore.db"
    conn = fst.connect(db, "Wave")
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        conn.execute("DELETE FROM db_wave_file")
    conn.close()


def test_a_newer_schema_a_damaged_file_and_a_lock_each_get_a_sentence_naming_the_database(
    user_home, monkeypatch, caplog
):
    data = wave_data(user_home)
    db = data / "db" / "filestore.db"
    conn = b.connect(db)
    conn.execute("UPDATE schema_migrations SET version = 7")
    conn.close()
    with pytest.raises(DataError, match=r"filestore\.db is at migration 7, newer than termvault knows"):
        fst.FileStore(db, "Wave", True).files()
    with caplog.at_level(logging.WARNING):
        assert list(WaveSource(home=user_home / ".multi-term").discover()) == []
    assert str(db) in caplog.text

    damaged = user_home / "damaged.db"
    damaged.write_bytes(b"this is not a database" * 200)
    with pytest.raises(DataError, match="damaged.db is damaged"):
        fst.FileStore(damaged, "Wave", True).files()

    locked = user_home / "locked.db"
    b.create_filestore(locked, b.WAVE)
    holder = sqlite3.connect(locked, isolation_level=None)
    holder.execute("PRAGMA journal_mode = DELETE")
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    monkeypatch.setattr(fst, "BUSY_TIMEOUT", 0.2)
    with pytest.raises(DataError, match="locked.db stayed locked by another program"):
        fst.FileStore(locked, "Wave", True).files()
    holder.execute("ROLLBACK")
    holder.close()


def test_show_and_export_of_a_live_pane_give_line_and_byte_counts(user_home):
    from click.testing import CliRunner

    from termvault.cli import cli as main

    data = wave_data(user_home)
    pane = term_pane(data)
    w = b.Writer(data / "db" / "filestore.db", b.WAVE)
    output = b"one\r\n\r\ntwo\r\n  \r\nthree"
    w.append(pane.block, "term", output)
    w.close()
    Path(os.environ["TERMVAULT_HOME"]).mkdir(parents=True, exist_ok=True, mode=0o700)  # reading needs a home
    runner = CliRunner()
    got = runner.invoke(main, ["export", f"wave-{pane.block}", "--json"])
    assert got.exit_code == 0, got.output
    data_out = json.loads(got.output)
    assert (data_out["live"], data_out["bytes"], data_out["line_count"]) == (True, len(output), 3)
    shown = runner.invoke(main, ["show", f"wave-{pane.block}", "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["status"] == "live"
