"""Presentation helpers: sizes, durations, tables that fit, and the terminal progress bar."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from termvault.cli.format import Column, home_display, human_size, ratio, table_lines
from termvault.durations import parse_duration
from termvault.errors import UsageError

from .support import drain_pty


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0 B"),
        (512, "512 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (1536, "1.5 KiB"),
        (int(1.2 * 1024**2), "1.2 MiB"),
        (3 * 1024**3, "3.0 GiB"),
        (None, "-"),
    ],
)
def test_human_size_uses_binary_units_with_one_decimal(n, text):
    assert human_size(n) == text


def test_ratio_is_original_over_compressed():
    assert ratio(700, 100) == "7.0x"
    assert ratio(0, 0) == "-"


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("30d", 30 * 86400),
        ("12h", 12 * 3600),
        ("2w", 14 * 86400),
        ("0", 0),
        ("90min", 5400),
        ("45s", 45),
        ("1.5d", 1.5 * 86400),
        ("3mo", 90 * 86400),
        ("1y", 365 * 86400),
        ("2 days", 2 * 86400),
    ],
)
def test_parse_duration_reads_one_grammar_of_number_and_unit(value, seconds):
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["", "d", "30x", "-1d", "thirty days"])
def test_parse_duration_refuses_what_is_not_a_duration(value):
    with pytest.raises(UsageError, match="30d"):
        parse_duration(value)


@pytest.mark.parametrize(
    ("value", "hint"), [("24", "24d for days or 24h for hours"), ("3m", "3min for minutes or 3mo")]
)
def test_parse_duration_refuses_a_bare_number_and_the_ambiguous_m_with_a_suggestion(value, hint):
    with pytest.raises(UsageError, match=hint):
        parse_duration(value)


def test_table_fits_the_width_by_cutting_flexible_columns_paths_from_the_left():
    columns = [Column("ID"), Column("NAME", flex=True), Column("FOLDER", flex=True, cut="left")]
    rows = [["abc", "a rather long session name", "/home/me/projects/some/deep/folder/api"]]
    lines = [l.plain for l in table_lines(columns, rows, width=50)]
    assert all(len(l) <= 50 for l in lines)
    assert lines[1].startswith("abc  ")
    assert lines[1].rstrip().endswith("folder/api")
    assert "…" in lines[1]


def test_table_is_never_cut_when_it_fits():
    columns = [Column("A"), Column("B", justify="right")]
    lines = [l.plain for l in table_lines(columns, [["x", "10"], ["long", "1"]], width=200)]
    assert lines == ["A      B", "x     10", "long   1"]


def test_home_display_abbreviates_the_users_home(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert home_display(tmp_path / ".multi-term") == "~/.multi-term"
    assert home_display("/elsewhere") == "/elsewhere"


def test_sweep_shows_a_progress_bar_on_a_terminal(demo):
    pty = pytest.importorskip("pty")
    master, slave = pty.openpty()
    env = dict(os.environ, COLUMNS="120", TERM="xterm")
    proc = subprocess.Popen(
        [sys.executable, "-m", "termvault", "sweep"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
        text=True,
        env=env,
    )
    os.close(slave)
    seen = drain_pty(master)
    out, _ = proc.communicate(timeout=120)
    os.close(master)
    terminal = seen.decode(errors="replace")
    assert proc.returncode == 0
    assert "\x1b[" in terminal  # drawn with terminal control sequences, not plain lines
    assert "sessions" in terminal or "Looking for due sessions" in terminal
    assert "[1/3]" not in terminal
    assert "archived    3 sessions" in out
