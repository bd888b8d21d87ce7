"""The preview shows the conversation model: sub-agent runs indented under their opening
line, thinking and scaffolding folded, tool calls as a person reads them."""

from __future__ import annotations

from termvault.index import ArchiveEntry
from termvault.sources.base import Message
from termvault.tui.preview import MAX_PREVIEW_CHARS, render_session, render_turn

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


def test_one_huge_turn_is_cut_at_the_preview_budget_and_points_to_the_pager():
    # A terminal session's output is one turn: 17 MB of it went whole into the preview,
    # which stayed at "Loading…" for over 30 s of CPU at 700 MB (the cut came only
    # between turns).
    entry = ArchiveEntry("big", "big", T0, T0, "2024/05/1_big.tar.zst", 1, 1, "/w", None, source="native")
    output = "".join(f"line {n} of the build log\n" for n in range(100_000))
    turns = [Message("input", "make", T0), Message("output", output, T0), Message("input", "ls", T0)]

    text = render_session(entry, turns).plain

    assert len(text) < MAX_PREVIEW_CHARS + 1000
    assert "line 0 of the build log\n" in text and "line 99999 " not in text
    assert text.rstrip().endswith("press o to read it all in the pager")
