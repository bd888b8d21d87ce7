"""`termvault resume`: a session deleted from the agent's folder comes back from the archive
and the agent's own resume command runs in the session's folder. The agents are stand-in
executables on PATH that record their arguments and working folder."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from termvault import Vault

from ..cli.support import API, make_native, run
from ..sources.test_claude_code import assistant, user

CLAUDE_ID = "7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f"
CODEX_ID = "01997e76-d124-7592-9cac-2ec05abbca08"


def stand_in(bin_dir: Path, name: str, exit_code: int = 0) -> Path:
    """An executable ``name`` that writes {argv, cwd} to ``$RECORD`` and exits ``exit_code``."""
    bin_dir.mkdir(exist_ok=True)
    path = bin_dir / name
    path.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        "with open(os.environ['RECORD'], 'w') as fh:\n"
        "    json.dump({'argv': sys.argv[1:], 'cwd': os.getcwd()}, fh)\n"
        f"sys.exit({exit_code})\n"
    )
    path.chmod(0o755)
    return path


@pytest.fixture
def project(tmp_path) -> Path:
    folder = tmp_path / "work" / "shop"
    folder.mkdir(parents=True)
    return folder.resolve()


@pytest.fixture
def agents_env(tmp_path, monkeypatch) -> dict[str, str]:
    monkeypatch.setenv("TERMVAULT_SETTLE_SECONDS", "0")  # sessions written a moment ago are due
    bin_dir = tmp_path / "bin"
    for name in ("claude", "codex", "gemini"):
        stand_in(bin_dir, name)
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "RECORD": str(tmp_path / "record.json")}


def claude_session(user_home: Path, project: Path) -> Path:
    folder = user_home / ".claude" / "projects" / str(project).replace("/", "-")
    folder.mkdir(parents=True)
    path = folder / f"{CLAUDE_ID}.jsonl"
    common = {"sessionId": CLAUDE_ID, "cwd": str(project)}
    path.write_text(
        "\n".join(
            [
                user("add a cart page to the shop", **common),
                assistant([{"type": "text", "text": "Added pages/cart.tsx."}], **common),
            ]
        )
        + "\n"
    )
    return path


def codex_session(user_home: Path, project: Path) -> Path:
    path = user_home / ".codex" / "sessions" / "2025" / "09" / "24" / f"rollout-2025-09-24T19-22-20-{CODEX_ID}.jsonl"
    path.parent.mkdir(parents=True)
    records = [
        {
            "timestamp": "2025-09-24T19:22:20Z",
            "type": "session_meta",
            "payload": {
                "id": CODEX_ID,
                "timestamp": "2025-09-24T19:22:20Z",
                "cwd": str(project),
                "cli_version": "0.40.0",
            },
        },
        {
            "timestamp": "2025-09-24T19:22:21Z",
            "type": "response_item",
            "payload": {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "fix the checkout"}],
            },
        },
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def archive_then_delete(home: Path, kind: str, transcript: Path) -> bytes:
    """Archive the agent's folder (copy mode), then delete the transcript there, as the
    agent's own cleanup would; return the bytes it held."""
    data = transcript.read_bytes()
    with Vault(home) as vault:
        report = vault.sweep(older_than=0, kinds=[kind])
    assert len(report.archived) == 1 and not report.failed, report
    transcript.unlink()
    return data


def recorded(env: dict[str, str]) -> dict:
    return json.loads(Path(env["RECORD"]).read_text())


def test_a_deleted_claude_code_session_is_restored_and_resumed_in_its_folder(home, user_home, project, agents_env):
    transcript = claude_session(user_home, project)
    data = archive_then_delete(home, "claude-code", transcript)

    out = run("resume", CLAUDE_ID[:8], env=agents_env)

    assert out.returncode == 0, out.stderr
    assert recorded(agents_env) == {"argv": ["--resume", CLAUDE_ID], "cwd": str(project)}
    assert transcript.read_bytes() == data  # back where Claude Code looks, byte for byte
    assert "Restored" in out.stderr and "(verified)" in out.stderr


def test_a_deleted_codex_session_is_restored_and_resumed_with_its_uuid(home, user_home, project, agents_env):
    transcript = codex_session(user_home, project)
    data = archive_then_delete(home, "codex", transcript)

    out = run("resume", CODEX_ID, env=agents_env)

    assert out.returncode == 0, out.stderr
    assert recorded(agents_env) == {"argv": ["resume", CODEX_ID], "cwd": str(project)}
    assert transcript.read_bytes() == data


def test_print_restores_and_prints_the_command_without_running_it(home, user_home, project, agents_env):
    transcript = codex_session(user_home, project)
    data = archive_then_delete(home, "codex", transcript)

    out = run("resume", CODEX_ID, "--print", env=agents_env)

    assert out.returncode == 0, out.stderr
    assert out.stdout == f"cd {project} && codex resume {CODEX_ID}\n"
    assert not Path(agents_env["RECORD"]).exists()
    assert transcript.read_bytes() == data


def test_a_newer_live_transcript_is_left_as_it_is(home, user_home, project, agents_env):
    transcript = claude_session(user_home, project)
    with Vault(home) as vault:
        vault.sweep(older_than=0, kinds=["claude-code"])
    newer = transcript.read_bytes() + (user("and a checkout page", ts="2025-03-01T11:00:00Z") + "\n").encode()
    transcript.write_bytes(newer)

    out = run("resume", CLAUDE_ID, env=agents_env)

    assert out.returncode == 0, out.stderr
    assert transcript.read_bytes() == newer
    assert "Restored" not in out.stderr
    assert recorded(agents_env)["argv"] == ["--resume", CLAUDE_ID]


def test_the_agents_exit_status_is_termvaults(home, user_home, project, agents_env, tmp_path):
    stand_in(tmp_path / "bin", "claude", exit_code=3)
    archive_then_delete(home, "claude-code", claude_session(user_home, project))

    out = run("resume", CLAUDE_ID, env=agents_env)

    assert out.returncode == 3
    assert recorded(agents_env)["cwd"] == str(project)


def test_an_agent_missing_from_path_is_named_with_the_command_to_run(home, user_home, project, agents_env, tmp_path):
    (tmp_path / "bin" / "claude").unlink()
    archive_then_delete(home, "claude-code", claude_session(user_home, project))

    out = run("resume", CLAUDE_ID, env=agents_env)

    assert out.returncode == 1
    assert "claude is not on PATH" in out.stderr and f"claude --resume {CLAUDE_ID}" in out.stderr


def test_a_session_whose_folder_is_gone_says_so_and_print_still_works(home, user_home, project, agents_env):
    transcript = claude_session(user_home, project)
    archive_then_delete(home, "claude-code", transcript)
    project.rmdir()

    out = run("resume", CLAUDE_ID, env=agents_env)
    printed = run("resume", CLAUDE_ID, "--print", env=agents_env)

    assert out.returncode == 1 and f"The folder {project} of {CLAUDE_ID} does not exist here" in out.stderr
    assert not Path(agents_env["RECORD"]).exists()
    assert printed.returncode == 0 and printed.stdout.strip().endswith(f"claude --resume {CLAUDE_ID}")
    assert transcript.exists()  # restored either way: the agent can use it once the folder is back


def test_a_kind_without_resume_is_refused_with_a_sentence(home, agents_env):
    make_native(home, API, 40)
    with Vault(home) as vault:
        vault.sweep()

    out = run("resume", API[:8], env=agents_env)

    assert out.returncode == 2
    assert f"{API} is a native session, and native has no resume command" in out.stderr
    assert "termvault export" in out.stderr
    assert not Path(agents_env["RECORD"]).exists()


def test_an_unknown_id_is_not_found(home, agents_env):
    home.mkdir(parents=True, exist_ok=True, mode=0o700)  # an existing home (a missing one is its own error)
    out = run("resume", "feedface", env=agents_env)

    assert out.returncode == 1 and "No archived session matches 'feedface'" in out.stderr


def test_gemini_sessions_resume_by_their_full_session_id(home, user_home, project, agents_env):
    sid = "3b2f7c9e-5d41-4e8a-a1c2-9f0e8d7c6b5a"
    chats = user_home / ".gemini" / "tmp" / "shop" / "chats"
    chats.mkdir(parents=True)
    (chats.parent / ".project_root").write_text(str(project))
    session = {
        "sessionId": sid,
        "projectHash": "shop",
        "startTime": "2025-10-01T09:00:00Z",
        "lastUpdated": "2025-10-01T09:05:00Z",
        "messages": [{"id": "1", "type": "user", "timestamp": "2025-10-01T09:00:00Z", "content": "hi"}],
    }
    transcript = chats / "session-2025-10-01T09-00-3b2f7c9e.json"
    transcript.write_text(json.dumps(session))
    archive_then_delete(home, "gemini", transcript)

    out = run("resume", "gemini-", "--print", env=agents_env)

    assert out.returncode == 0, out.stderr
    assert out.stdout == f"cd {project} && gemini --resume {sid}\n"
    assert transcript.exists()


@pytest.mark.corpus
def test_corpus_sessions_deleted_from_the_agents_folders_come_back_for_print(home, user_home, corpus, agents_env):
    from ..sources.test_claude_code import TODO, claude_layout
    from ..sources.test_codex import PAPER, codex_layout

    claude_files = claude_layout(corpus, user_home / ".claude" / "projects")
    codex_files = codex_layout(corpus, user_home / ".codex")
    with Vault(home) as vault:
        assert not vault.sweep(older_than=0, kinds=["claude-code", "codex"]).failed
    todo = next(p for p in claude_files if p.name == f"{TODO}.jsonl")
    paper = next(p for p in codex_files if PAPER in p.name)
    originals = {todo: todo.read_bytes(), paper: paper.read_bytes()}
    todo.unlink()
    paper.unlink()

    claude = run("resume", TODO[:8], "--print", env=agents_env)
    codex = run("resume", PAPER[:8], "--print", env=agents_env)

    assert claude.stdout == f"cd /path/to/Demo && claude --resume {TODO}\n", claude.stderr
    assert codex.stdout == f"cd /home/rlan/projects/paper2md && codex resume {PAPER}\n", codex.stderr
    assert {p: p.read_bytes() for p in originals} == originals


def test_a_session_id_shaped_like_an_option_is_never_passed_to_the_agent(home, user_home, project, agents_env):
    # The agent's session id comes from a file name (Claude Code) or the file's content
    # (Gemini): a transcript named `--dangerously-skip-permissions.jsonl` made resume run
    # `claude --resume --dangerously-skip-permissions`, and a sessionId "--yolo" made
    # `gemini --resume --yolo`: an option the user never asked for.
    folder = user_home / ".claude" / "projects" / str(project).replace("/", "-")
    folder.mkdir(parents=True)
    common = {"sessionId": "x", "cwd": str(project)}
    (folder / "--dangerously-skip-permissions.jsonl").write_text(user("hostile name", **common) + "\n")
    chats = user_home / ".gemini" / "tmp" / "shop" / "chats"
    chats.mkdir(parents=True)
    (chats.parent / ".project_root").write_text(str(project))
    message = {"id": "1", "type": "user", "timestamp": "2025-10-01T09:00:00Z", "content": "hi"}
    session = {"sessionId": "--yolo", "projectHash": "shop", "startTime": "2025-10-01T09:00:00Z", "messages": [message]}
    (chats / "session-2025-10-01T09-00-yolo.json").write_text(json.dumps(session))
    with Vault(home) as vault:
        report = vault.sweep(older_than=0, kinds=["claude-code", "gemini"])
        ids = {e.source: e.session_id for e in report.archived}
    assert set(ids) == {"claude-code", "gemini"}, report

    for kind in ("claude-code", "gemini"):
        out = run("resume", "--", ids[kind], env=agents_env)

        assert out.returncode != 0 and "cannot be resumed" in out.stderr, (kind, out.stdout, out.stderr)
        assert not Path(agents_env["RECORD"]).exists()
