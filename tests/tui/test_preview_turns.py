"""The preview shows the conversation model: sub-agent runs indented under their opening
line, thinking and scaffolding folded, tool calls as a person reads them."""

from __future__ import annotations

from termvault.sources.base import Message
from termvault.tui.preview import render_turn

T0 = 1714564800.0


def plain(message: Message, fold: bool = True) -> str:
    return render_turn(message, fold).plain


def test_a_sub_agent_run_is_labelled_and_its_turns_indented():
    opening = Message("subagent", "Check the config", T0, name="#1 Explore: Check the config", depth=1, agent="x")
    task = Message("user", "Read config.yaml and report", T0, depth=1, agent="x")
    reply = Message("assistant", "It sets debug: true\nand nothing else", T0, depth=1, agent="x")
    assert plain(opening).startswith("┌ sub-agent #1 Explore: Check the config")
    assert plain(task).startswith("│ ▌ Task")
    assert "\n│ It sets debug: true\n│ and nothing else" in plain(reply)


def test_thinking_and_scaffolding_fold_to_one_line():
    thinking = Message("thinking", "First I will look\nat the tests\nthen the code", T0)
    assert plain(thinking) == "  ✻ thinking  First I will look  (+2 lines)\n"
    assert "then the code" in plain(thinking, fold=False)
    meta = Message("meta", "Caveat: the messages below\nwere generated", T0, name="local-command-caveat")
    assert plain(meta, fold=False) == "  ⋯ local-command-caveat  Caveat: the messages below  (+1 lines)\n"


def test_a_codex_shell_call_shows_the_command():
    call = Message(
        "tool",
        '{"command":["bash","-lc","ls -la"]}',
        T0,
        name="shell",
        extra={"input": {"command": ["bash", "-lc", "ls -la"]}},
    )
    assert plain(call) == "  ▸ shell  ls -la\n"
    failed = Message("tool_result", "boom", T0, name="shell", extra={"error": True})
    assert plain(failed).startswith("    ↳ shell error  boom")
