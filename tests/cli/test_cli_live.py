"""``export`` and ``show`` of a session a source still holds (not archived yet), with the
line and byte counts AgentMux's export reports."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from termvault.cli import cli

from .support import FRESH, make_native


def test_export_json_of_a_live_native_session_counts_its_bytes_and_non_empty_lines(home: Path, tmp_path: Path):
    path = make_native(home, FRESH, 0, output_snapshot="line one\n\nline two\n")
    data = path.read_bytes()
    runner = CliRunner()
    got = runner.invoke(cli, ["export", FRESH, "--json"])
    assert got.exit_code == 0, got.output
    body = json.loads(got.output)
    non_empty = sum(1 for line in data.split(b"\n") if line.strip())
    assert (body["live"], body["bytes"], body["line_count"]) == (True, len(data), non_empty)
    assert body["content"].encode() == data
    out = tmp_path / "live.json"
    got = runner.invoke(cli, ["export", FRESH, "--json", "-o", str(out)])
    assert got.exit_code == 0, got.output
    assert out.read_bytes() == data and json.loads(got.output)["output"] == str(out)


def test_show_of_a_live_session_says_it_is_not_archived_yet(home: Path):
    make_native(home, FRESH, 0, name="today's work")
    got = CliRunner().invoke(cli, ["show", FRESH])
    assert got.exit_code == 0, got.output
    assert "live, not archived yet" in got.output and "today's work" in got.output
    as_json = json.loads(CliRunner().invoke(cli, ["show", FRESH, "--json"]).output)
    assert (as_json["status"], as_json["name"], as_json["source"]) == ("live", "today's work", "native")
