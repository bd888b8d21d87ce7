"""Agent pane logs through the vault: swept from <home>/logs in copy mode, restored and
exported byte for byte, with times from the logs' own timestamps in the index."""

from __future__ import annotations

import io
import json

import pytest

from termvault.sources.agent_log import AgentLogSource

from .support import local
from .test_agent_log import HADOOP, ZOOKEEPER, logs_layout

vault_module = pytest.importorskip("termvault.vault")


def test_every_log_round_trips_byte_for_byte_with_its_metadata(corpus, home, tmp_path):
    logs = home / "logs"
    placed = logs_layout(corpus, logs)
    pane = logs / "agents" / "claude-2.jsonl"
    pane.parent.mkdir()
    pane.write_bytes(
        json.dumps(
            {"ts": "2024-05-01T10:00:00Z", "role": "user", "text": "refactor the parser", "cwd": "/srv/app"}
        ).encode()
        + b"\n"
        + json.dumps({"ts": "2024-05-01T10:05:00Z", "role": "assistant", "text": "done"}).encode()
        + b"\n"
    )
    placed[pane] = pane
    (logs / "empty.log").write_bytes(b"")
    units = list(AgentLogSource(home=home).discover())
    ids = {u.files[0].relpath: u.session_id for u in units}
    v = vault_module.Vault(home, sources={"agent-log": {"roots": [str(logs)], "mode": "copy"}}, settle_seconds=0)
    try:
        report = v.sweep(kinds=["agent-log"], older_than=0)
        assert report.failed == []
        assert {e.session_id for e in report.archived} == set(ids.values())  # not the empty log
        assert len(ids) == len(placed)
        for unit in units:
            v.restore(unit.session_id, to=tmp_path / "restored")
            f = unit.files[0]
            assert (tmp_path / "restored" / f.relpath).read_bytes() == placed[f.origin].read_bytes(), f.relpath
            buf = io.BytesIO()
            v.export(unit.session_id, buf, fmt="raw")
            assert buf.getvalue() == placed[f.origin].read_bytes()

        hadoop = v.get(ids[HADOOP])
        assert hadoop.name == "logpai__loghub__Hadoop__Hadoop_2k" and hadoop.source == "agent-log"
        assert hadoop.created_at == local("2015-10-18 18:01:47.978")
        assert hadoop.last_activity_at == local("2015-10-18 18:10:55.202")
        assert v.get(ids[ZOOKEEPER]).last_activity_at == local("2015-08-25 11:26:28.145")

        agent = v.get(ids["agents/claude-2.jsonl"])
        assert (agent.name, agent.working_directory) == ("claude-2", "/srv/app")
        assert agent.last_command == "refactor the parser"
        assert agent.last_activity_at == 1714557900
    finally:
        v.close()
