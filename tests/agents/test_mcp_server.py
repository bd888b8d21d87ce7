"""`termvault mcp` as a real subprocess, driven by the MCP SDK's own stdio client, over a
home built from the shared corpus (Claude Code and Codex) plus one session holding
planted secrets."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytest.importorskip("mcp", reason="the MCP SDK is part of the test extra")

from ..conftest import require_corpus
from ..sources.test_claude_code import TODO
from .support import (
    SECRET_FOLDER,
    SECRET_ID,
    SECRET_PIECES,
    CorpusHome,
    McpClient,
    answer,
    build_corpus_home,
    error_text,
)

pytestmark = pytest.mark.corpus

READ_TOOLS = {"search_sessions", "recent_sessions", "show_session", "read_session"}


@pytest.fixture(scope="module")
def corpus_home(tmp_path_factory) -> CorpusHome:
    corpus = require_corpus()
    return build_corpus_home(tmp_path_factory.mktemp("mcp-home"), corpus)


@pytest.fixture(scope="module")
def client(corpus_home):
    """One `termvault mcp` (default options: read-only) for the whole module."""
    with McpClient(corpus_home.env()) as c:
        yield c


def test_the_server_lists_read_only_tools_with_described_schemas_and_no_restore(client):
    tools = {t.name: t for t in client.tools()}

    assert set(tools) == READ_TOOLS
    for tool in tools.values():
        assert tool.annotations.read_only_hint is True
        assert len(tool.description) > 80, tool.name  # written for a model, not a placeholder
        props = tool.input_schema["properties"]
        assert props and all(p.get("description") for p in props.values()), tool.name
    search = tools["search_sessions"].input_schema["properties"]
    assert {"query", "source", "folder", "after", "before", "role", "limit"} <= set(search)
    assert search["limit"]["maximum"] == 50
    read = tools["read_session"].input_schema
    assert read["required"] == ["session_id"]
    assert {"first_turn", "last_turn", "detail", "cursor", "max_chars"} <= set(read["properties"])


def test_search_finds_corpus_sessions_with_ids_names_folders_times_and_snippets(client):
    hits = answer(client.call("search_sessions", {"query": "TODO app", "source": "claude-code", "limit": 5}))["results"]

    todo = next(h for h in hits if h["id"] == TODO)
    assert todo["name"] == "/orchestrator create TODO app by Next.js"
    assert todo["source"] == "claude-code" and todo["folder"] == "/path/to/Demo"
    assert todo["started"] == "2025-09-03T00:52:31Z" and todo["last_activity"] == "2025-09-03T01:02:03Z"
    assert todo["matched"] == "text" and "TODO app" in todo["snippet"]
    assert all(h["source"] == "claude-code" for h in hits)


def test_search_filters_by_source_folder_and_dates(client):
    future = client.call("search_sessions", {"query": "TODO app", "after": "2999-01-01"})
    codex = answer(client.call("search_sessions", {"source": "codex", "limit": 50}))["results"]
    # A bare date as the upper bound includes that whole day.
    by_folder = answer(client.call("search_sessions", {"folder": "/path/to/Demo", "before": "2025-09-03"}))

    assert answer(future) == {"count": 0, "results": []}
    assert codex and all(r["source"] == "codex" for r in codex)
    assert [r["last_activity"] for r in codex] == sorted((r["last_activity"] for r in codex), reverse=True)
    assert TODO in {r["id"] for r in by_folder["results"]}


def test_bad_search_arguments_come_back_as_sentences_the_model_can_act_on(client):
    bad_source = error_text(client.call("search_sessions", {"query": "todo", "source": "gemini-pro"}))
    bad_date = error_text(client.call("search_sessions", {"query": "todo", "after": "last tuesday"}))
    too_many = error_text(client.call("search_sessions", {"query": "todo", "limit": 5000}))

    assert "Unknown source 'gemini-pro'" in bad_source and "claude-code" in bad_source
    assert "is not a date" in bad_date and "30d" in bad_date
    assert "limit" in too_many


def test_arguments_at_the_edge_of_their_range_are_sentences_not_crashes(client):
    # Each of these ended in an exception inside the server: the model saw only "Error
    # executing tool show_session", with nothing to act on.
    year_one = error_text(client.call("search_sessions", {"query": "todo", "before": "0001-01-01"}))
    huge_version = error_text(client.call("show_session", {"session_id": TODO, "version": 10**20}))
    huge_cursor = error_text(client.call("read_session", {"session_id": TODO, "cursor": f"{10**20}:0"}))

    assert "'0001-01-01' is too far in the past" in year_one
    assert f"No archived session version {10**20} matches" in huge_version
    assert f"No archived session version {10**20} matches" in huge_cursor


def test_a_role_filter_finds_the_turn_where_the_user_asked(client):
    [hit] = [
        h
        for h in answer(client.call("search_sessions", {"query": "rotate credentials", "role": "user"}))["results"]
        if h["id"] == SECRET_ID
    ]
    not_by_user = answer(client.call("search_sessions", {"query": "rotated", "role": "user"}))["results"]
    by_agent = answer(client.call("search_sessions", {"query": "rotated", "role": "assistant"}))["results"]

    assert hit["turn"] == 2 and "rotate the staging credentials" in hit["snippet"]
    assert SECRET_ID not in {h["id"] for h in not_by_user}
    assert SECRET_ID in {h["id"] for h in by_agent}
    assert "needs a query" in error_text(client.call("search_sessions", {"role": "user"}))


def test_recent_sessions_lists_one_project_folder_and_below_newest_first(client):
    exact = answer(client.call("recent_sessions", {"folder": SECRET_FOLDER}))
    parent = answer(client.call("recent_sessions", {"folder": "/home/dev/"}))
    partial_name = answer(client.call("recent_sessions", {"folder": "/home/de"}))
    demo = answer(client.call("recent_sessions", {"folder": "/path/to/Demo", "limit": 2}))["results"]

    assert [r["id"] for r in exact["results"]] == [SECRET_ID]
    assert SECRET_ID in {r["id"] for r in parent["results"]}
    assert partial_name["results"] == []  # a folder, not a substring of one
    assert len(demo) == 2 and all(r["folder"] == "/path/to/Demo" for r in demo)
    assert demo[0]["last_activity"] >= demo[1]["last_activity"]


def test_show_gives_metadata_and_the_outline_of_prompts_by_turn(client):
    data = answer(client.call("show_session", {"session_id": TODO[:8]}))

    assert data["id"] == TODO and data["versions"] == 1 and data["model"] == "claude-sonnet-4-20250514"
    assert data["turns"] == len(data["prompts"]) == 7
    assert [p["turn"] for p in data["prompts"]] == list(range(1, 8))
    assert data["prompts"][0] == {
        "turn": 1,
        "time": "2025-09-03T00:52:31Z",
        "prompt": "/orchestrator create TODO app by Next.js",
    }
    assert all(len(p["prompt"]) <= 160 for p in data["prompts"])
    missing = error_text(client.call("show_session", {"session_id": "no-such-session"}))
    assert "No archived session matches 'no-such-session'" in missing


def _read_all(client, **args) -> list[dict]:
    pages = []
    while True:
        page = answer(client.call("read_session", args))
        pages.append(page)
        if page["next_cursor"] is None or len(pages) == 1000:
            return pages
        args["cursor"] = page["next_cursor"]


def test_a_long_session_is_read_in_bounded_pages_that_join_up(client):
    pages = _read_all(client, session_id=TODO, detail="full", max_chars=2000)
    whole = "".join(p["markdown"] for p in _read_all(client, session_id=TODO, detail="full", max_chars=40000))

    assert len(pages) > 5 and pages[-1]["next_cursor"] is None
    assert all(0 < len(p["markdown"]) <= 2000 for p in pages)
    assert "".join(p["markdown"] for p in pages) == whole
    assert whole.startswith("# /orchestrator create TODO app by Next.js\n")
    assert "<details><summary>tool Task" in whole  # full detail has the tool calls, folded
    assert {p["version"] for p in pages} == {1} and pages[0]["total_turns"] == 7


def test_a_turn_range_at_a_lower_detail_reads_only_those_turns(client):
    second = answer(client.call("read_session", {"session_id": SECRET_ID, "first_turn": 2, "last_turn": 2}))
    prompts = answer(client.call("read_session", {"session_id": SECRET_ID, "detail": "prompts"}))["markdown"]

    body = second["markdown"].split("\n## ", 1)[1]  # past the header (which names the session)
    assert "now rotate the staging credentials" in body and "Rotated; the old staging key" in body
    assert "deploy the payments service" not in body
    assert "deploy the payments service" in prompts and "now rotate" in prompts
    assert "## Assistant" not in prompts and "Rotated;" not in prompts
    past_end = error_text(client.call("read_session", {"session_id": SECRET_ID, "first_turn": 9}))
    assert "has turns 0 to 2; there is no turn 9" in past_end
    assert "not a cursor" in error_text(client.call("read_session", {"session_id": SECRET_ID, "cursor": "page 2"}))


def test_a_planted_secret_never_appears_in_any_tool_result(client):
    calls = [
        ("search_sessions", {"query": "staging"}),
        ("search_sessions", {"query": "payments", "role": "user"}),
        ("search_sessions", {"query": "rotated", "role": "tool"}),
        ("search_sessions", {"folder": "payments"}),
        ("recent_sessions", {"folder": SECRET_FOLDER}),
        ("show_session", {"session_id": SECRET_ID}),
        *[
            ("read_session", {"session_id": SECRET_ID, "detail": d, "max_chars": n})
            for d in ("prompts", "conversation", "full")
            for n in (500, 8000)
        ],
        # Searching for the secret itself finds nothing that shows it.
        *[("search_sessions", {"query": piece}) for piece in SECRET_PIECES],
    ]

    results = [client.call(tool, args) for tool, args in calls]

    assert all(not r.is_error for r in results), [r.content for r in results if r.is_error]
    dumped = [r.model_dump_json() for r in results]
    assert SECRET_ID in dumped[0]  # the session really was reached...
    for text in dumped:
        for piece in SECRET_PIECES:
            assert piece not in text and piece not in str(json.loads(text)), (piece, text[:300])
    assert sum(text.count("[REDACTED:") for text in dumped) >= 8  # ...and its secrets shown as markers


def test_restore_is_refused_by_default_and_nothing_is_written(client, corpus_home):
    original = corpus_home.secret_file.read_bytes()
    corpus_home.secret_file.unlink()
    try:
        refused = client.call("restore_session", {"session_id": SECRET_ID})

        assert "Unknown tool: restore_session" in error_text(refused)
        assert not corpus_home.secret_file.exists()
    finally:
        corpus_home.secret_file.write_bytes(original)


def test_with_allow_restore_a_missing_session_is_restored_verified_and_a_live_file_is_kept(corpus_home):
    original = corpus_home.secret_file.read_bytes()
    newer = original + b'{"type": "user"}\n'
    corpus_home.secret_file.unlink()
    try:
        with McpClient(corpus_home.env(), "--allow-restore") as writer:
            names = {t.name for t in writer.tools()}
            restored = answer(writer.call("restore_session", {"session_id": SECRET_ID[:8]}))
            back = corpus_home.secret_file.read_bytes()
            again = answer(writer.call("restore_session", {"session_id": SECRET_ID}))
            corpus_home.secret_file.write_bytes(newer)  # the agent went on writing
            conflict = error_text(writer.call("restore_session", {"session_id": SECRET_ID}))

        assert names == READ_TOOLS | {"restore_session"}
        assert restored["id"] == SECRET_ID and restored["restored"] == [str(corpus_home.secret_file)]
        assert back == original
        assert again["already_there"] == [str(corpus_home.secret_file)] and again["restored"] == []
        assert "already exists and differs" in conflict
        assert corpus_home.secret_file.read_bytes() == newer
    finally:
        corpus_home.secret_file.write_bytes(original)


def test_without_the_sdk_installed_the_command_says_how_to_get_it(tmp_path):
    code = "import sys; sys.modules['mcp'] = None\nfrom termvault.cli import main\nmain(['mcp'])\n"
    env = {"HOME": str(tmp_path), "TERMVAULT_HOME": str(tmp_path / "tv"), "PATH": "/usr/bin:/bin"}

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)

    assert out.returncode == 4
    assert "pip install 'termvault[mcp]'" in out.stderr and out.stdout == ""


def test_the_other_commands_never_import_the_sdk():
    code = (
        "import sys\nfrom termvault.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('MCP', 'mcp' in sys.modules)\n"
    )

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)

    assert "resume" in out.stdout and out.stdout.strip().endswith("MCP False")
