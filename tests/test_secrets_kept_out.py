"""Nothing secret reaches the index or anything shown: after a sweep of a home whose native
sessions (name, folder, last command, output), Claude Code transcripts and Codex rollouts
hold the credentials of the secrets corpus, the index file and its WAL, ``search --json``,
``show`` and the text, Markdown and JSON Lines exports hold none of them, while the
ordinary lines of the corpus come through untouched. The archives keep every byte."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import time
from pathlib import Path

import pytest

from termvault import Vault

from .cli.support import invoke, make_native
from .secrets_corpus import ORDINARY, SECRETS

DAY = 86400.0
SINGLE = [leak for leak in SECRETS if "\n" not in leak.line]
ALL_SECRETS = sorted({s for leak in SECRETS for s in leak.secrets})
# The words FTS5 would index for a secret: its alphanumeric runs, case-folded.
PIECES = sorted({p.lower() for s in ALL_SECRETS for p in re.findall(r"[A-Za-z0-9]{8,}", s)})
LEAK_BY_FAMILY = {leak.family: leak for leak in SINGLE}
# The example: two secrets in one native session's last command.
LAST_COMMAND = next(leak for leak in SINGLE if leak.line.startswith("export GITHUB_TOKEN="))


def _old(path: Path) -> None:
    stamp = time.time() - 2 * DAY
    os.utime(path, (stamp, stamp))


def _claude_session(user_home: Path) -> Path:
    sid = "5e1c2d3a-0b4c-4d5e-8f60-718293a4b5c6"
    path = user_home / ".claude" / "projects" / "-home-me-work" / f"{sid}.jsonl"
    path.parent.mkdir(parents=True)
    records = []
    for i, leak in enumerate(SECRETS):
        ts = f"2025-03-01T10:{i // 60:02d}:{i % 60:02d}Z"
        base = {"sessionId": sid, "cwd": "/home/me/work", "timestamp": ts, "uuid": f"u{i}"}
        records.append({**base, "type": "user", "message": {"role": "user", "content": leak.line}})
        records.append(
            {
                **base,
                "type": "assistant",
                "message": {
                    "id": f"m{i}",
                    "role": "assistant",
                    "model": "claude-sonnet-4-5",
                    "content": [
                        {"type": "text", "text": f"Noted: {leak.line}"},
                        {"type": "tool_use", "id": f"t{i}", "name": "Bash", "input": {"command": leak.line}},
                    ],
                },
            }
        )
        records.append(
            {
                **base,
                "type": "user",
                "message": {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": f"t{i}", "content": leak.line}],
                },
            }
        )
    records.append({"type": "custom-title", "sessionId": sid, "customTitle": LEAK_BY_FAMILY["stripe"].line})
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    _old(path)
    return path


def _codex_session(user_home: Path) -> Path:
    sid = "019b55c1-d022-7061-bbb9-b0c90708472b"
    path = user_home / ".codex" / "sessions" / "2025" / "12" / "25" / f"rollout-2025-12-25T22-45-23-{sid}.jsonl"
    path.parent.mkdir(parents=True)
    token = LEAK_BY_FAMILY["github"].secrets[0]
    records = [
        {
            "timestamp": "2025-12-25T13:45:23.750Z",
            "type": "session_meta",
            "payload": {
                "id": sid,
                "timestamp": "2025-12-25T13:45:23.746Z",
                "cwd": "/home/me/infra",
                "originator": "codex_cli_rs",
                "cli_version": "0.77.0",
                "git": {
                    "branch": "main",
                    "repository_url": f"https://x-access-token:{token}@github.com/acme/infra.git",
                },
            },
        }
    ]
    for i, leak in enumerate(SINGLE):
        ts = f"2025-12-25T13:{46 + i // 60:02d}:{i % 60:02d}.000Z"
        records.append(
            {"timestamp": ts, "type": "event_msg", "payload": {"type": "user_message", "message": leak.line}}
        )
        records.append(
            {
                "timestamp": ts,
                "type": "response_item",
                "payload": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": leak.line}]},
            }
        )
        records.append(
            {
                "timestamp": ts,
                "type": "response_item",
                "payload": {
                    "type": "function_call",
                    "name": "shell_command",
                    "call_id": f"c{i}",
                    "arguments": json.dumps({"command": leak.line, "workdir": "/home/me/infra"}),
                },
            }
        )
        records.append(
            {
                "timestamp": ts,
                "type": "response_item",
                "payload": {"type": "function_call_output", "call_id": f"c{i}", "output": leak.line},
            }
        )
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    _old(path)
    return path


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """A home swept with leaking sessions of three kinds; the vault still open, so its WAL
    holds the last writes. Yields (vault, {kind: session id}, {path: bytes archived})."""
    base = tmp_path_factory.mktemp("leaky")
    user_home = base / "user"
    user_home.mkdir()
    home = user_home / ".multi-term"
    mp = pytest.MonkeyPatch()
    mp.setenv("HOME", str(user_home))
    mp.setenv("TERMVAULT_HOME", str(home))
    try:
        natives = {
            "native": make_native(
                home,
                "a1b2c3d4-0000-4000-8000-000000000001",
                40,
                name=LEAK_BY_FAMILY["slack"].line,
                last_command=LAST_COMMAND.line,
                working_directory="/home/me/clones/" + LEAK_BY_FAMILY["redis"].line,
                output_snapshot="\n".join([leak.line for leak in SECRETS] + ORDINARY),
            ),
            "native-2": make_native(
                home,
                "a1b2c3d4-0000-4000-8000-000000000002",
                40,
                name=LEAK_BY_FAMILY["anthropic"].line,
                last_command=LEAK_BY_FAMILY["mysql"].line,
                working_directory="/home/me/www",
                output_snapshot="\n".join(ORDINARY),
            ),
        }
        files = {**natives, "claude-code": _claude_session(user_home), "codex": _codex_session(user_home)}
        originals = {p: p.read_bytes() for p in files.values()}
        vault = Vault(home, settle_seconds=0)
        report = vault.sweep()
        assert not report.failed, report.failed
        ids = {e.source: e.session_id for e in report.archived if e.source != "native"}
        ids.update(
            {kind: next(e.session_id for e in report.archived if e.session_id in str(p)) for kind, p in natives.items()}
        )
        assert set(ids) == set(files), ids
        yield vault, ids, originals
        vault.close()
    finally:
        mp.undo()


def _leaked(text: str) -> list[str]:
    return [s for s in ALL_SECRETS if s in text]


def test_the_corpus_is_big_enough_to_mean_something():
    families = {leak.family for leak in SECRETS}
    assert len(SECRETS) >= 60 and len(families) >= 25 and len(ORDINARY) >= 200


def test_the_index_file_and_its_wal_hold_no_secret(swept):
    vault, _, _ = swept
    index = vault.config.index_path
    raw = index.read_bytes()
    wal = Path(str(index) + "-wal")
    raw += wal.read_bytes() if wal.exists() else b""
    text = raw.decode("utf-8", "replace")
    assert not _leaked(text)
    folded = text.lower()
    assert [p for p in PIECES if p in folded] == []


def test_the_full_text_tables_hold_no_word_of_a_secret(swept):
    vault, _, _ = swept
    db = sqlite3.connect(vault.config.index_path)
    try:
        assert db.execute("SELECT COUNT(*) FROM fts_text").fetchone()[0] >= 4
        words = [
            p
            for p in PIECES
            if db.execute("SELECT COUNT(*) FROM fts_text WHERE fts_text MATCH ?", (f'"{p}"',)).fetchone()[0]
        ]
    finally:
        db.close()
    # The frames snippets and phrase checks read: decompressed, still no piece of a secret.
    frames = "".join(t for e in vault.index.latest_entries() for *_, t in vault.index.text_chunks(e.row_id)).lower()
    assert "[redacted:" in frames
    substrings = [p for p in PIECES if p in frames]
    assert words == [] and substrings == []


def test_metadata_is_stored_redacted_and_still_readable(swept):
    vault, ids, _ = swept
    entry = vault.get(ids["native"])
    assert entry.last_command.startswith("export GITHUB_TOKEN=[REDACTED:")
    assert "psql postgres://admin:[REDACTED:url-password]@db" in entry.last_command
    assert entry.working_directory.startswith("/home/me/clones/")
    assert "://:[REDACTED:url-password]@redis.example.com" in entry.working_directory
    codex = vault.get(ids["codex"])
    assert codex.meta["extra"]["repository_url"].endswith("@github.com/acme/infra.git")
    assert "[REDACTED:" in codex.meta["extra"]["repository_url"]
    assert "[REDACTED:" in vault.get(ids["claude-code"]).name


def test_search_json_shows_no_secret(swept):
    vault, ids, _ = swept
    home = str(vault.home)
    listing = invoke("--home", home, "search", "--json", "--limit", "100")
    assert listing.exit_code == 0, listing.output
    assert {h["session_id"] for h in json.loads(listing.output)} >= set(ids.values())
    assert not _leaked(listing.output)
    for query in ("password", "token", "curl", "export", "key"):
        hits = invoke("--home", home, "search", query, "--json", "--limit", "100")
        assert hits.exit_code == 0, (query, hits.output)
        assert not _leaked(hits.output), query
        plain = invoke("--home", home, "search", query, "--limit", "100")
        assert not _leaked(plain.output), query


def test_show_shows_no_secret(swept):
    vault, ids, _ = swept
    for sid in ids.values():
        for args in ((), ("--json",)):
            result = invoke("--home", str(vault.home), "show", sid, *args)
            assert result.exit_code == 0, result.output
            assert not _leaked(result.output), (sid, args)


@pytest.mark.parametrize("fmt", ["text", "markdown", "jsonl"])
def test_rendered_exports_show_no_secret_and_every_ordinary_line(swept, fmt):
    vault, ids, _ = swept
    for kind, sid in ids.items():
        result = invoke("--home", str(vault.home), "export", sid, "--format", fmt)
        assert result.exit_code == 0, result.output
        assert not _leaked(result.output), (kind, fmt)
    if fmt != "jsonl":  # JSON escapes some characters of the ordinary lines
        out = invoke("--home", str(vault.home), "export", ids["native-2"], "--format", fmt).output
        assert [line for line in ORDINARY if line.strip() not in out] == []


def test_raw_archives_and_raw_exports_stay_exact(swept, tmp_path):
    vault, ids, originals = swept
    claude = next(p for p in originals if p.suffix == ".jsonl" and ".claude" in p.parts)
    result = invoke("--home", str(vault.home), "export", ids["claude-code"])
    assert result.stdout_bytes == originals[claude]
    vault.restore(ids["codex"], to=tmp_path / "codex")
    restored = next((tmp_path / "codex").rglob("*.jsonl"))
    assert restored.read_bytes() == next(b for p, b in originals.items() if "rollout" in p.name)


def test_reindex_redacts_metadata_read_from_raw_manifests(swept, tmp_path):
    vault, ids, _ = swept
    assert LAST_COMMAND.secrets[0] in json.dumps(vault.manifest(ids["native"]).meta)  # the archive keeps it
    count = vault.reindex()
    assert count >= len(ids)
    assert vault.get(ids["native"]).last_command.startswith("export GITHUB_TOKEN=[REDACTED:")
    test_the_index_file_and_its_wal_hold_no_secret(swept)


def test_an_index_written_before_metadata_was_redacted_is_redacted_when_opened(tmp_path):
    from termvault.index import ArchiveIndex
    from termvault.index.db import MIGRATIONS

    path = tmp_path / "archive_index.sqlite3"
    created = ArchiveIndex(path)
    created.quick_check()  # the connection (and the schema) is made on first use
    created.close()
    db = sqlite3.connect(path)
    db.execute(
        "INSERT INTO sessions (session_id, version, source, name, name_fold, working_directory, last_command, "
        "last_activity_at, archived_at, original_size, archive_size, archive_path, meta) "
        "VALUES ('s1', 1, 'native', ?, ?, '/home/me', ?, 1, 1, 1, 1, 'a/b.tar.zst', ?)",
        (
            LAST_COMMAND.line,
            LAST_COMMAND.line.casefold(),
            LAST_COMMAND.line,
            json.dumps({"first_prompt": LAST_COMMAND.line, "count": 2}),
        ),
    )
    db.execute("DELETE FROM schema_migrations WHERE name = ?", (MIGRATIONS[5].__name__,))  # as before the upgrade
    db.commit()
    db.close()
    index = ArchiveIndex(path)
    try:
        entry = index.get_entry("s1")
    finally:
        index.close()
    assert entry.name.startswith("export GITHUB_TOKEN=[REDACTED:") and entry.meta["count"] == 2
    assert not _leaked(entry.last_command + json.dumps(entry.meta))
    raw = path.read_bytes() + (Path(str(path) + "-wal").read_bytes() if Path(str(path) + "-wal").exists() else b"")
    assert not _leaked(raw.decode("utf-8", "replace"))


def test_previews_of_every_session_show_no_secret(swept):
    vault, ids, _ = swept
    for kind, sid in ids.items():
        turns = vault.messages(sid)
        shown = "\n".join(f"{t.name or ''} {t.text}" for t in turns if isinstance(t.text, str))
        assert "[REDACTED:" in shown and not _leaked(shown), kind
