"""The agentmux source: agent output and shell scrollback read from real AgentMux-schema
databases (both generations), copy mode, and AgentMux's own archive/restore in move mode."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from termvault.sources.agentmux import AgentMuxSource
from termvault.vault import Vault

from . import filestore_builder as b

DAY_MS = 86_400_000
GENERATIONS = [b.AGENTMUX_V1, b.AGENTMUX_V2]
REPO = Path(__file__).resolve().parents[2]


def agentmux_data(root: Path, kind: str) -> Path:
    b.create_filestore(root / "db" / "filestore.db", kind)
    b.create_objects(root / "db" / "objects.db", kind)
    return root


def conversation(turns: int) -> bytes:
    """Claude stream-json as AgentMux stores it: the init record, AgentMux's own user input
    line, assistant text and tool use, the tool result, the final result."""
    lines = [{"type": "system", "subtype": "init", "cwd": "/src/app", "model": "claude-test", "session_id": "s1"}]
    for n in range(turns):
        lines += [
            {"type": "user", "message": {"role": "user", "content": f"question {n}: why does the build fail?"}},
            {
                "type": "assistant",
                "message": {
                    "model": "claude-test",
                    "content": [
                        {"type": "text", "text": f"answer {n}: " + "the linker cannot find libfoo. " * 20},
                        {"type": "tool_use", "id": f"t{n}", "name": "Bash", "input": {"command": f"ls build/{n}"}},
                    ],
                },
            },
            {
                "type": "user",
                "message": {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": f"t{n}", "content": f"build/{n}/out.o"}],
                },
            },
        ]
    lines.append({"type": "result", "subtype": "success", "result": "done", "total_cost_usd": 0.25})
    return b"".join(json.dumps(x).encode() + b"\n" for x in lines)


def agent_block(
    data: Path,
    kind: str,
    body: bytes,
    *,
    idle_days: float = 10,
    meta: dict | None = None,
    activity: bool = True,
    tab: str = "fix the build",
) -> b.Pane:
    last = b.now_ms() - int(idle_days * DAY_MS)
    block_meta = {
        "view": "agent",
        "controller": "persistent",
        "agentId": "claude",
        "cmd": "claude",
        "cmd:cwd": "/src/app",
    }
    if activity:
        block_meta.update(
            {
                "session:start_ts_ms": last - 60_000,
                "session:last_activity_ms": last,
                "session:line_count": body.count(b"\n"),
            }
        )
    block_meta.update(meta or {})
    pane = b.add_pane(data / "db" / "objects.db", block_meta, tab_name=tab)
    w = b.Writer(data / "db" / "filestore.db", kind)
    w.make_file(pane.block, "output", ts=last)
    if body:
        w.append(pane.block, "output", body, ts=last)
    w.close()
    return pane


def move_vault(**kw) -> Vault:
    return Vault(sources={"agentmux": {"mode": "move"}}, settle_seconds=0, **kw)


def raw(vault: Vault, session_id: str, version: int | None = None) -> bytes:
    out = io.BytesIO()
    vault.export(session_id, out, fmt="raw", version=version)
    return out.getvalue()


def sid(pane: b.Pane, name: str = "output") -> str:
    return f"agentmux-{pane.block}-{name}"


# -- discovery and copy mode -----------------------------------------------------------------
@pytest.mark.parametrize("kind", GENERATIONS)
def test_multi_part_agent_output_is_archived_byte_for_byte_with_metadata_from_the_stores(user_home, kind):
    data = agentmux_data(user_home / ".agentmux", kind)
    body = conversation(250)
    assert len(body) > 3 * b.PART
    pane = agent_block(data, kind, body)
    with Vault(settle_seconds=0) as vault:
        report = vault.sweep(kinds=["agentmux"])
        assert [e.session_id for e in report.archived] == [sid(pane)] and not report.failed
        entry = vault.get(sid(pane))
        assert (entry.name, entry.working_directory, entry.last_command, entry.mode) == (
            "fix the build",
            "/src/app",
            "claude",
            "copy",
        )
        block = b.get_object(data / "db" / "objects.db", "block", pane.block)
        assert entry.last_activity_at == pytest.approx(block["meta"]["session:last_activity_ms"] / 1000)
        assert entry.created_at == pytest.approx(block["meta"]["session:start_ts_ms"] / 1000)
        assert entry.meta["extra"]["line_count"] == body.count(b"\n")
        assert raw(vault, sid(pane)) == body
        md = io.BytesIO()
        vault.export(sid(pane), md, fmt="markdown")
        text = md.getvalue().decode()
        assert "## User\n\nquestion 0: why does the build fail?" in text
        assert "answer 249: the linker cannot find libfoo." in text
        assert "Bash" in text and "build/3/out.o" in text
        assert [h.entry.session_id for h in vault.search("libfoo")] == [sid(pane)]
    # Copy mode changes nothing in AgentMux.
    assert b.read_file(data / "db" / "filestore.db", pane.block, "output") == (len(body), body)


def test_a_grown_file_becomes_a_new_version_and_an_unchanged_one_does_not(user_home):
    data = agentmux_data(user_home / ".agentmux", b.AGENTMUX_V2)
    body = conversation(3)
    pane = agent_block(data, b.AGENTMUX_V2, body)
    with Vault(settle_seconds=0) as vault:
        assert len(vault.sweep(kinds=["agentmux"]).archived) == 1
        assert len(vault.sweep(kinds=["agentmux"]).archived) == 0
        w = b.Writer(data / "db" / "filestore.db", b.AGENTMUX_V2)
        w.append(pane.block, "output", b'{"type":"result","result":"again"}\n', ts=b.now_ms() - DAY_MS)
        w.close()
        assert [e.version for e in vault.sweep(kinds=["agentmux"]).archived] == [2]
        assert raw(vault, sid(pane), 1) == body
        assert raw(vault, sid(pane), 2) == body + b'{"type":"result","result":"again"}\n'


def test_shell_scrollback_the_channel_layout_the_data_dir_variable_and_the_global_store_are_found(
    user_home, monkeypatch
):
    root = user_home / ".agentmux"
    channel = agentmux_data(root / "channels" / "stable" / "versions" / "0.40.1" / "data", b.AGENTMUX_V2)
    shell = b.add_pane(
        channel / "db" / "objects.db", {"view": "term", "controller": "shell", "cmd:cwd": "/tmp"}, tab_name="shell"
    )
    w = b.Writer(channel / "db" / "filestore.db", b.AGENTMUX_V2)
    w.make_file(shell.block, "term")
    w.append(shell.block, "term", b"\x1b[32m$\x1b[0m make\r\nok\r\n")
    w.close()
    shared = root / "shared" / "agents" / "transcripts" / "filestore.db"
    b.create_filestore(shared, b.AGENTMUX_V2)
    w = b.Writer(shared, b.AGENTMUX_V2)
    w.make_file("agent:reviewer:current", "output")
    w.append("agent:reviewer:current", "output", conversation(1))
    w.make_file("agent:reviewer:current", "output.tsidx")
    w.append("agent:reviewer:current", "output.tsidx", b'{"off":0,"ms":1}\n')
    w.close()
    elsewhere = agentmux_data(user_home / "custom-data", b.AGENTMUX_V1)
    custom = agent_block(elsewhere, b.AGENTMUX_V1, conversation(1))
    monkeypatch.setenv("AGENTMUX_DATA_DIR", str(elsewhere))
    found = {u.session_id: u for u in AgentMuxSource(home=user_home / ".multi-term").discover()}
    assert set(found) == {sid(shell, "term"), "agentmux-agent-reviewer-current-output", sid(custom)}
    assert found["agentmux-agent-reviewer-current-output"].hints["name"] == "reviewer"
    with Vault(settle_seconds=0) as vault:
        assert len(vault.sweep(kinds=["agentmux"]).archived) == 3
        text = io.BytesIO()
        vault.export(sid(shell, "term"), text, fmt="text")
        assert "$ make\nok" in text.getvalue().decode()


@pytest.mark.parametrize("kind", GENERATIONS)
def test_an_agent_block_with_zero_lines_is_not_archived(user_home, kind):
    data = agentmux_data(user_home / ".agentmux", kind)
    empty = agent_block(data, kind, b"")
    blank = agent_block(data, kind, b"\n  \n\n")
    real = agent_block(data, kind, conversation(1))
    ids = {u.session_id for u in AgentMuxSource(home=user_home / ".multi-term").discover()}
    assert sid(real) in ids and sid(empty) not in ids and sid(blank) not in ids


def test_a_block_without_activity_meta_is_dated_by_the_file(user_home):
    data = agentmux_data(user_home / ".agentmux", b.AGENTMUX_V1)
    pane = agent_block(data, b.AGENTMUX_V1, conversation(1), activity=False, idle_days=3)
    row = b.file_row(data / "db" / "filestore.db", pane.block, "output")
    with move_vault() as vault:
        assert vault.sweep(kinds=["agentmux"]).archived == []  # 3 days idle < AgentMux's 7
        report = vault.sweep(kinds=["agentmux"], older_than=2)
        entry = vault.get(sid(pane))
        assert [e.session_id for e in report.archived] == [sid(pane)]
        assert entry.last_activity_at == pytest.approx(row["modts"] / 1000)
        assert entry.created_at == pytest.approx(row["createdts"] / 1000)


def test_move_mode_defaults_to_agentmuxs_seven_days(user_home):
    agentmux_data(user_home / ".agentmux", b.AGENTMUX_V2)
    with move_vault() as vault:
        (cs,) = vault.sources(["agentmux"])
        assert (cs.mode, cs.archive_days) == ("move", 7.0)


# -- move mode -------------------------------------------------------------------------------
def agentmux_restore(objects: Path, filestore: Path, block: str, kind: str) -> None:
    """What AgentMux's own restore does: read session:archive_path as gzip, recreate the
    output file from it, clear the three keys."""
    obj = b.get_object(objects, "block", block)
    data = gzip.decompress(Path(obj["meta"]["session:archive_path"]).read_bytes())
    conn = b.connect(filestore)
    conn.execute("DELETE FROM db_file_data WHERE zoneid = ? AND name = 'output'", (block,))
    conn.execute("DELETE FROM db_wave_file WHERE zoneid = ? AND name = 'output'", (block,))
    conn.close()
    w = b.Writer(filestore, kind)
    w.make_file(block, "output")
    w.append(block, "output", data)
    w.close()
    meta = {k: v for k, v in obj["meta"].items() if not k.startswith("session:archive")}
    b.put_object(objects, "block", {**{k: v for k, v in obj.items() if k != "_version_column"}, "meta": meta})


@pytest.mark.parametrize("kind", GENERATIONS)
def test_move_round_trip_leaves_the_file_byte_identical_and_the_meta_as_agentmux_restore_does(user_home, kind):
    data = agentmux_data(user_home / ".agentmux", kind)
    objects, filestore = data / "db" / "objects.db", data / "db" / "filestore.db"
    body = conversation(80)
    pane = agent_block(data, kind, body)
    before = b.get_object(objects, "block", pane.block)
    with move_vault() as vault:
        report = vault.sweep(kinds=["agentmux"])
        assert [e.session_id for e in report.archived] == [sid(pane)]
        assert report.to_dict()["source_bytes_freed"] == len(body) == report.bytes_freed
        assert b.file_row(filestore, pane.block, "output") is None
        meta = b.get_object(objects, "block", pane.block)["meta"]
        assert meta["session:archived_bytes"] == len(body)
        assert abs(meta["session:archived_at"] - b.now_ms()) < 60_000
        companion = Path(meta["session:archive_path"])
        assert companion.name == f"{pane.block}.jsonl.gz" and companion.is_absolute()
        assert gzip.decompress(companion.read_bytes()) == body  # what AgentMux's restore reads
        assert raw(vault, sid(pane)) == body  # export works once the live file is gone

        result = vault.restore(sid(pane))
        assert result.restored and not result.unchanged
    size, stored = b.read_file(filestore, pane.block, "output")
    assert (size, stored) == (len(body), body)
    parts = (
        b.connect(filestore)
        .execute("SELECT partidx, length(data) FROM db_file_data WHERE zoneid = ? ORDER BY partidx", (pane.block,))
        .fetchall()
    )
    assert [p[1] for p in parts[:-1]] == [b.PART] * (len(parts) - 1)  # 64 KiB parts, as AgentMux writes
    after = b.get_object(objects, "block", pane.block)
    assert after["meta"] == before["meta"]  # the archive keys are gone, the rest untouched
    assert after["_version_column"] > before["_version_column"]


def test_agentmuxs_own_restore_reads_the_companion(user_home):
    data = agentmux_data(user_home / ".agentmux", b.AGENTMUX_V2)
    objects, filestore = data / "db" / "objects.db", data / "db" / "filestore.db"
    body = conversation(5)
    pane = agent_block(data, b.AGENTMUX_V2, body)
    with move_vault() as vault:
        vault.sweep(kinds=["agentmux"])
    agentmux_restore(objects, filestore, pane.block, b.AGENTMUX_V2)
    assert b.read_file(filestore, pane.block, "output") == (len(body), body)
    # And termvault sees the restored file as the version it already has.
    with move_vault() as vault:
        report = vault.sweep(kinds=["agentmux"])
        assert report.archived == [] and report.unchanged == 1


def test_move_mode_moves_only_agent_output_and_copies_shell_scrollback(user_home):
    data = agentmux_data(user_home / ".agentmux", b.AGENTMUX_V2)
    shell = b.add_pane(data / "db" / "objects.db", {"view": "term", "controller": "shell"})
    w = b.Writer(data / "db" / "filestore.db", b.AGENTMUX_V2)
    w.make_file(shell.block, "term", ts=b.now_ms() - 10 * DAY_MS)
    w.append(shell.block, "term", b"$ ls\r\n", ts=b.now_ms() - 10 * DAY_MS)
    w.close()
    with move_vault() as vault:
        report = vault.sweep(kinds=["agentmux"])
        assert [e.session_id for e in report.archived] == [sid(shell, "term")]
        assert report.source_bytes_freed == 0
    assert b.file_row(data / "db" / "filestore.db", shell.block, "term") is not None


def test_bytes_freed_counts_moved_sources_and_pruned_archives_separately(user_home):
    data = agentmux_data(user_home / ".agentmux", b.AGENTMUX_V2)
    old = agent_block(data, b.AGENTMUX_V2, conversation(30), idle_days=30)
    new = agent_block(data, b.AGENTMUX_V2, conversation(30), idle_days=10)
    sizes = {p.block: b.file_row(data / "db" / "filestore.db", p.block, "output")["size"] for p in (old, new)}
    with move_vault(max_total_bytes=1) as vault:  # small units are tiny with the shipped dictionary
        report = vault.sweep(kinds=["agentmux"])
        d = report.to_dict()
        assert d["source_bytes_freed"] == sum(sizes.values())
        assert d["pruned_count"] >= 1 and d["archive_bytes_freed"] > 0
        assert d["bytes_freed"] == d["source_bytes_freed"] + d["archive_bytes_freed"]
        assert d["pruned_raw_bytes"] >= sizes[old.block]


# -- a writer process and crashes --------------------------------------------------------------
def writer(db: Path, kind: str, zone: str, count: int) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen(
        [sys.executable, "-m", "tests.sources.filestore_builder", "append", str(db), kind, zone, "output", str(count)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=env,
    )


def lines_in(data: bytes) -> set[int]:
    out = set()
    for line in data.splitlines():
        rec = json.loads(line)
        out.add(int(rec["message"]["content"][0]["text"].split()[1]))
    return out


@pytest.mark.parametrize("mode", ["copy", "move"])
def test_every_line_a_writer_process_commits_during_sweeps_is_archived_or_still_live(user_home, mode):
    data = agentmux_data(user_home / ".agentmux", b.AGENTMUX_V2)
    pane = b.add_pane(data / "db" / "objects.db", {"view": "agent", "agentId": "claude"})
    filestore = data / "db" / "filestore.db"
    proc = writer(filestore, b.AGENTMUX_V2, pane.block, 400)
    moved = 0
    with Vault(sources={"agentmux": {"mode": mode}}, settle_seconds=0) as vault:
        while proc.poll() is None:
            report = vault.sweep(kinds=["agentmux"], older_than=0)
            assert not [f for f in report.failed if "damaged" in f.reason]
            moved += report.source_bytes_freed
        committed = {int(n) for n in proc.stdout.read().split()}
        assert proc.wait() == 0 and committed == set(range(400))
        vault.sweep(kinds=["agentmux"], older_than=0)
        kept: set[int] = set()
        versions = vault.index.versions(sid(pane))
        assert len(versions) >= 2
        for e in versions:
            content = raw(vault, sid(pane), e.version)
            assert content.endswith(b"\n")  # whole committed appends only, never a torn read
            kept |= lines_in(content)
    live = b.read_file(filestore, pane.block, "output")
    if live is not None:
        kept |= lines_in(live[1])
    assert committed <= kept
    if mode == "move":
        assert moved > 0  # files really were deleted while the writer appended


MOVE_STEPS = [
    "write-member",
    "fsync",
    "rename",
    "fsync-dir",
    "verify",
    "index",
    "delete-source",
    "agentmux-companion",
    "agentmux-meta",
    "agentmux-delete",
]

KILL_SCRIPT = """
import os, signal, sys
from termvault.vault import Vault
step = sys.argv[1]
def fault(name):
    if name == step:
        os.kill(os.getpid(), signal.SIGKILL)
with Vault(sources={"agentmux": {"mode": "move"}}, settle_seconds=0, fault=fault) as vault:
    vault.sweep(kinds=["agentmux"])
"""


@pytest.mark.parametrize("step", MOVE_STEPS)
def test_sigkill_at_any_step_of_a_move_leaves_the_file_or_a_verified_archive_with_its_meta(user_home, step):
    data = agentmux_data(user_home / ".agentmux", b.AGENTMUX_V2)
    objects, filestore = data / "db" / "objects.db", data / "db" / "filestore.db"
    body = conversation(40)
    pane = agent_block(data, b.AGENTMUX_V2, body)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-c", KILL_SCRIPT, step], env=env, cwd=REPO, timeout=120)
    assert done.returncode == -9

    def check_safe() -> None:
        live = b.read_file(filestore, pane.block, "output")
        meta = b.get_object(objects, "block", pane.block)["meta"]
        if live is not None:
            assert live == (len(body), body)
        else:
            assert gzip.decompress(Path(meta["session:archive_path"]).read_bytes()) == body
            assert meta["session:archived_bytes"] == len(body)
            with move_vault() as vault:
                assert raw(vault, sid(pane)) == body
        if "session:archive_path" in meta:
            assert gzip.decompress(Path(meta["session:archive_path"]).read_bytes()) == body

    check_safe()
    # The next run finishes the move.
    with move_vault() as vault:
        vault.sweep(kinds=["agentmux"])
        assert vault.verify().clean
        assert raw(vault, sid(pane)) == body
    check_safe()
    assert b.read_file(filestore, pane.block, "output") is None


def test_move_mode_never_deletes_a_file_that_changed_after_it_was_read(user_home):
    data = agentmux_data(user_home / ".agentmux", b.AGENTMUX_V2)
    objects, filestore = data / "db" / "objects.db", data / "db" / "filestore.db"
    body = conversation(4)
    pane = agent_block(data, b.AGENTMUX_V2, body)
    extra = b'{"type":"result","result":"late"}\n'

    def fault(step: str) -> None:
        if step == "agentmux-companion":  # the archive is written and indexed: AgentMux appends now
            w = b.Writer(filestore, b.AGENTMUX_V2)
            w.append(pane.block, "output", extra)
            w.close()

    with move_vault(fault=fault) as vault:
        report = vault.sweep(kinds=["agentmux"])
        assert [e.session_id for e in report.archived] == [sid(pane)] and report.source_bytes_freed == 0
    assert b.read_file(filestore, pane.block, "output") == (len(body) + len(extra), body + extra)
    assert "session:archived_at" not in b.get_object(objects, "block", pane.block)["meta"]
    assert not list((user_home / ".multi-term" / "companions" / "agentmux").glob("*.gz"))
    time.sleep(0.01)
    with move_vault() as vault:
        vault.sweep(kinds=["agentmux"], older_than=0)
        assert raw(vault, sid(pane)) == body + extra
    assert b.read_file(filestore, pane.block, "output") is None


def test_a_filestore_from_a_newer_agentmux_is_refused_with_a_sentence_naming_it(user_home, caplog):
    import logging

    from termvault.errors import DataError
    from termvault.sources.filestore import FileStore

    data = agentmux_data(user_home / ".agentmux", b.AGENTMUX_V2)
    pane = agent_block(data, b.AGENTMUX_V2, conversation(1))
    db = data / "db" / "filestore.db"
    conn = b.connect(db)
    conn.execute("PRAGMA user_version = 2")
    conn.close()
    with pytest.raises(DataError, match=r"filestore\.db has schema version 2, newer than termvault knows"):
        FileStore(db, "AgentMux", wrap_parts=False).files()
    with caplog.at_level(logging.WARNING), Vault(settle_seconds=0) as vault:
        assert vault.sweep(kinds=["agentmux"]).archived == []
    assert str(db) in caplog.text
    assert b.file_row(db, pane.block, "output") is not None  # and nothing in it was touched
