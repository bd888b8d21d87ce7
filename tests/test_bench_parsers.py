"""``python -m bench.parsers``: the parsers alone on the sample corpus, with a digest of
what they produce so two checkouts can be compared (no timing asserted)."""

from __future__ import annotations

import json
import re

from bench import parsers


def test_digests_name_every_unit_and_repeat(corpus, monkeypatch, capsys):
    monkeypatch.setenv("TERMVAULT_CORPUS", str(corpus))
    parsers.main(["--digest", "--rounds", "1"])
    first = capsys.readouterr().out.splitlines()
    assert first
    assert all(re.fullmatch(r"[0-9a-f]{64} \S.*", line) for line in first)
    assert any(".cast" in line for line in first) and any(".log" in line for line in first)
    parsers.main(["--digest", "--rounds", "1"])
    assert capsys.readouterr().out.splitlines() == first  # the same output, whatever the temporary folder


def test_cpu_seconds_per_source(corpus, monkeypatch, capsys):
    monkeypatch.setenv("TERMVAULT_CORPUS", str(corpus))
    parsers.main(["--json", "--rounds", "1"])
    spent = json.loads(capsys.readouterr().out)
    assert {"asciinema", "agent-log", "total"} <= spent.keys()
    assert spent["total"] >= max(v for k, v in spent.items() if k != "total")
