"""Where a Claude Code sub-agent run is shown: under the call whose result names its agent
id, else under the call that gave its prompt, else where it started in time."""

from __future__ import annotations

from pathlib import Path

from termvault.sources.claude_code import ClaudeCodeSource

from .support import MemoryFile, jsonl


def at(second: int) -> str:
    return f"2025-06-01T10:00:{second:02d}.000Z"


def task(uuid: str, second: int, call_id: str, description: str) -> dict:
    return {
        "type": "assistant",
        "uuid": uuid,
        "timestamp": at(second),
        "message": {
            "role": "assistant",
            "content": [
                {
                    "type": "tool_use",
                    "id": call_id,
                    "name": "Task",
                    "input": {"subagent_type": "Explore", "description": description, "prompt": "Look around"},
                }
            ],
        },
    }


def result(uuid: str, second: int, call_id: str, agent_id: str) -> dict:
    return {
        "type": "user",
        "uuid": uuid,
        "timestamp": at(second),
        "toolUseResult": {"agentId": agent_id},
        "message": {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call_id, "content": "done"}]},
    }


def agent_file(agent_id: str, second: int, reply: str) -> MemoryFile:
    records = [
        {
            "type": "user",
            "uuid": f"{agent_id}1",
            "isSidechain": True,
            "agentId": agent_id,
            "timestamp": at(second),
            "message": {"role": "user", "content": "Look around"},
        },
        {
            "type": "assistant",
            "uuid": f"{agent_id}2",
            "isSidechain": True,
            "agentId": agent_id,
            "timestamp": at(second + 1),
            "message": {"role": "assistant", "content": [{"type": "text", "text": reply}]},
        },
    ]
    return MemoryFile(f"p/s/subagents/agent-{agent_id}.jsonl", jsonl(*records))


def test_runs_go_under_the_call_naming_their_agent_id_and_strays_where_they_started():
    main = jsonl(
        {"type": "user", "uuid": "u0", "timestamp": at(0), "message": {"role": "user", "content": "Explore twice"}},
        task("a1", 1, "call-1", "first"),
        task("a2", 2, "call-2", "second"),
        result("r1", 20, "call-1", "bbb"),
        result("r2", 21, "call-2", "aaa"),
        {"type": "user", "uuid": "u3", "timestamp": at(40), "message": {"role": "user", "content": "And now?"}},
        {
            "type": "assistant",
            "uuid": "a3",
            "timestamp": at(50),
            "message": {"role": "assistant", "content": [{"type": "text", "text": "All done."}]},
        },
    )
    files = [
        MemoryFile("p/s.jsonl", main),
        agent_file("aaa", 3, "reply of aaa"),
        agent_file("bbb", 4, "reply of bbb"),
        agent_file("ccc", 45, "reply of ccc"),  # no call names it: a stray run
    ]
    messages = list(ClaudeCodeSource(home=Path("unused")).messages(files))
    shown = [(m.role, m.depth, m.text) for m in messages if m.role in ("tool", "subagent", "assistant", "user")]
    replies = [m.text for m in messages if m.role == "assistant"]
    # Both runs were given the same prompt: the agent ids in the results decide.
    assert replies[:2] == ["reply of bbb", "reply of aaa"]
    first_run = next(i for i, m in enumerate(messages) if m.role == "subagent")
    assert messages[first_run - 1].extra["call_id"] == "call-1"
    assert messages[first_run].name == "#1 Explore: first"
    # The stray run sits between the prompt before it and the reply after it.
    order = [t for _, _, t in shown if t in ("And now?", "reply of ccc", "All done.")]
    assert order == ["And now?", "reply of ccc", "All done."]
    stray = next(m for m in messages if m.role == "subagent" and m.depth == 1 and "#3" in (m.name or ""))
    assert stray.name.startswith("#3 agent")
