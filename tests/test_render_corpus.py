"""Golden files and specifications of Markdown and HTML exports of real sessions.

The golden files in ``tests/golden`` hold each export's outline (its headings, folds and
their nesting, without the session's words) and the SHA-256 of the whole document. After
an intended change of the rendering, rewrite them with
``TERMVAULT_UPDATE_GOLDEN=1 python -m pytest tests/test_render_corpus.py`` and review the
outline diff.
"""

from __future__ import annotations

import json
import re

import pytest

from termvault.render import render
from termvault.sources.base import Message

from .render_corpus import (
    check_golden,
    html_outline,
    markdown_outline,
    rendered,
    session,
)

pytestmark = pytest.mark.corpus

GOLDEN_SESSIONS = ["claude-subagents-dir", "claude-sidechains", "claude-parallel", "codex-shell", "gemini-tools"]
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@pytest.fixture(autouse=True)
def _utc(utc_local_time):
    """Golden documents show times in UTC, whatever the host's zone."""


@pytest.mark.parametrize("key", GOLDEN_SESSIONS)
def test_markdown_of_real_sessions_matches_its_golden_file(corpus, key):
    doc = rendered(corpus, key, "markdown")
    check_golden(f"{key}.md.outline", doc, markdown_outline(doc))


@pytest.mark.parametrize("key", GOLDEN_SESSIONS)
def test_html_of_real_sessions_matches_its_golden_file(corpus, key):
    doc = rendered(corpus, key, "html")
    check_golden(f"{key}.html.outline", doc, html_outline(doc))


@pytest.mark.parametrize("key", GOLDEN_SESSIONS)
@pytest.mark.parametrize("fmt", ["markdown", "html"])  # text keeps terminal colours, by design
def test_document_exports_of_real_sessions_hold_no_control_character(corpus, key, fmt):
    assert not CONTROL.search(rendered(corpus, key, fmt))


# ---------------------------------------------------------------------------------------
# Sub-agents
# ---------------------------------------------------------------------------------------


def runs_in_order(messages: list[Message]) -> list[str]:
    """The agent label of each message in a run, consecutive repeats collapsed."""
    labels: list[str] = []
    for m in messages:
        if m.depth and (not labels or labels[-1] != m.agent):
            labels.append(m.agent or "")
    return labels


def test_parallel_sidechains_are_nested_under_their_task_calls_not_interleaved(corpus):
    source, refs = session(corpus, "claude-parallel")
    messages = list(source.messages(refs))
    labels = runs_in_order(messages)
    assert len(labels) == 3 and len(set(labels)) == 3  # each run contiguous, once
    # No sub-agent turn is shown as the user's.
    assert all(m.depth == 1 for m in messages if m.agent)
    prompts = [m for m in messages if m.role == "user" and m.depth == 0]
    assert not any(p.text.startswith(("Setup", "Create", "Build")) and len(p.text) > 300 for p in prompts)
    # Each run follows the Task call that gave it its prompt.
    for start in (i for i, m in enumerate(messages) if m.role == "subagent"):
        calls = [m for m in messages[:start] if m.role == "tool" and m.name == "Task" and m.depth == 0]
        given = calls[-1].extra["input"]
        run_prompt = messages[start + 1]
        assert run_prompt.role == "user" and run_prompt.text.strip() == given["prompt"].strip()
        assert given["description"] in messages[start].name


def test_sidechain_turns_render_under_a_sub_agent_heading_not_as_user_turns(corpus):
    md = rendered(corpus, "claude-parallel", "markdown")
    assert md.count("<details><summary>Sub-agent: #") == 3
    # Their turns sit one heading level below the conversation's.
    inside = md.split("<details><summary>Sub-agent: #1", 1)[1].split("</details><!-- end of sub-agent: #1", 1)[0]
    assert "\n### Task" in inside and "\n### Assistant" in inside
    assert "## User" not in inside and "### User" not in inside  # the user did not write it


def test_jsonl_export_flags_sub_agent_messages(corpus):
    lines = [json.loads(line) for line in rendered(corpus, "claude-sidechains", "jsonl").splitlines()]
    side = [r for r in lines if r.get("agent")]
    assert side and all(r["depth"] == 1 for r in side)
    assert sum(r["role"] == "subagent" for r in lines) == 5
    assert all("agent" not in r for r in lines if r["role"] == "user" and r["text"].startswith("/orchestrator"))


def test_a_subagents_folder_transcript_is_placed_where_it_was_spawned_not_appended(corpus):
    source, refs = session(corpus, "claude-subagents-dir")
    messages = list(source.messages(refs))
    start = next(i for i, m in enumerate(messages) if m.role == "subagent")
    assert start < len(messages) // 2  # the team was created early in the session
    times = [m.timestamp for m in messages[:start] if m.timestamp is not None]
    assert max(times) <= messages[start].timestamp


# ---------------------------------------------------------------------------------------
# Tool calls as a person reads them
# ---------------------------------------------------------------------------------------


def test_codex_shell_calls_show_the_command_not_its_json(corpus):
    md = rendered(corpus, "codex-shell", "markdown")
    assert '"command":' not in md and '["bash", "-lc"' not in md and '[\\"bash\\"' not in md
    assert "<details><summary>tool shell: ls</summary>\n\n```sh\nls\n```" in md


def test_codex_apply_patch_is_shown_as_a_diff(corpus):
    md = rendered(corpus, "codex-shell", "markdown")
    block = md.split("<details><summary>tool apply_patch: ", 1)[1]
    assert block.split("\n\n", 1)[1].startswith("```diff\n*** Begin Patch\n*** ")


def test_codex_preambles_are_folded_and_the_prompt_comes_first(corpus):
    md = rendered(corpus, "codex-agents-md", "markdown")
    headings = [line for line in markdown_outline(md) if line.startswith("## ")]
    assert headings[0] == "## User"
    assert "<details><summary>Scaffolding (AGENTS.md)" in md
    assert "<details><summary>Scaffolding (environment context)" in md
    assert "# AGENTS.md instructions" not in md.split("<details><summary>Scaffolding (AGENTS.md)")[0]


def test_claude_write_shows_the_file_content_in_a_fence_of_its_language(corpus):
    md = rendered(corpus, "claude-subagents-dir", "markdown")
    write = md.split(
        "<details><summary>tool Write: /teamspace/studios/this_studio/insight/fixes/__init__.py</summary>", 1
    )[1]
    assert write.startswith("\n\n```python\n# Gain optimization fixes for the IDSP EQ estimator.\n#\n")
    assert "\\n" not in write.split("```\n", 1)[0]


def test_claude_edit_is_shown_as_a_unified_diff(corpus):
    md = rendered(corpus, "claude-sidechains", "markdown")
    edit = md.split("<details><summary>tool Edit: ", 1)[1].split("</details>", 1)[0]
    body = edit.split("```diff\n", 1)[1]
    assert body.startswith("--- a/") and "\n+++ b/" in body and "\n@@ " in body
    assert any(line.startswith("-") for line in body.splitlines()[3:])
    assert any(line.startswith("+") for line in body.splitlines()[3:])


def test_claude_bash_call_shows_its_command_with_its_description_as_a_comment(corpus):
    md = rendered(corpus, "claude-sidechains", "markdown")
    assert "```sh\n# List top-level directory contents\nls -la /path/to/Demo\n```" in md or (
        re.search(r"```sh\n# [^\n]+\n[^\n`]+\n```", md)
    )


def test_gemini_tool_call_shows_the_command_and_its_result(corpus):
    md = rendered(corpus, "gemini-tools", "markdown")
    assert "<details><summary>tool run_command: ls -la</summary>\n\n```sh\nls -la\n```" in md
    assert "drwxr-xr-x" in md
    assert "<details><summary>Thinking (gemini-2.5-pro)</summary>" in md and "**Planning**" in md


# ---------------------------------------------------------------------------------------
# Thinking, scaffolding, headings
# ---------------------------------------------------------------------------------------


def test_claude_thinking_is_kept_folded(corpus):
    source, refs = session(corpus, "claude-subagents-dir")
    thinking = [m for m in source.messages(refs) if m.role == "thinking"]
    assert len(thinking) >= 20
    md = rendered(corpus, "claude-subagents-dir", "markdown")
    assert md.count("<details><summary>Thinking") == len(thinking)
    html = rendered(corpus, "claude-subagents-dir", "html")
    assert html.count('<details class="thinking">') == len(thinking)


def test_scaffolding_tags_are_folded_out_of_user_turns(corpus):
    md = rendered(corpus, "claude-sidechains", "markdown")
    turns = md.split("\n## User")[1:]
    for turn in turns:
        shown = turn.split("\n## ", 1)[0].split("<details>", 1)[0]
        for tag in ("<command-name>", "<command-message>", "<local-command-caveat>", "<system-reminder>"):
            assert tag not in shown
    assert "/orchestrator" in md  # the command itself is the prompt
    assert "<details><summary>Scaffolding (command)" in md  # and what wrapped it is reachable


def test_headings_inside_messages_sit_below_the_turn_headings(corpus):
    md = rendered(corpus, "claude-sidechains", "markdown")
    fence = None
    for line in md.splitlines()[1:]:
        if fence is None and line.startswith("```"):
            fence = line[: len(line) - len(line.lstrip("`"))]
        elif fence is not None and line == fence:
            fence = None
        elif fence is None:
            assert not re.match(r"#{1} ", line), line
            if re.match(r"## ", line):
                assert re.match(r"## (User|Assistant|System|Output)", line), line


# ---------------------------------------------------------------------------------------
# Detail levels
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["markdown", "html", "text"])
def test_prompts_detail_shows_only_the_users_prompts(corpus, fmt):
    source, refs = session(corpus, "claude-sidechains")
    prompts = [m.text for m in source.messages(refs) if m.role == "user" and m.depth == 0]
    doc = rendered(corpus, "claude-sidechains", fmt, detail="prompts")
    full = rendered(corpus, "claude-sidechains", fmt, detail="all")
    assert len(doc) < len(full) // 10
    assert "Assistant" not in doc and "ASSISTANT" not in doc and "tool " not in doc
    first_line = prompts[1].splitlines()[0]
    assert first_line[:40] in doc


def test_conversation_detail_keeps_replies_and_sub_agents_but_not_tool_output(corpus):
    conversation = rendered(corpus, "claude-sidechains", "markdown", detail="conversation")
    everything = rendered(corpus, "claude-sidechains", "markdown", detail="all")
    assert "## Assistant" in conversation and conversation.count("Sub-agent: #") == 5
    assert "<details><summary>tool" not in conversation and "- `Task` " in conversation
    assert "Thinking" not in conversation and "Scaffolding" not in conversation
    assert len(conversation) < len(everything) // 2


# ---------------------------------------------------------------------------------------
# HTML: self-contained, escaped, redacted
# ---------------------------------------------------------------------------------------


def test_html_export_fetches_nothing(corpus):
    doc = rendered(corpus, "claude-subagents-dir", "html")
    assert not re.search(r"<(script|link|img|iframe|object|embed|audio|video|source)\b", doc, re.I)
    assert "url(" not in doc and "@import" not in doc
    assert "Content-Security-Policy" in doc and "default-src 'none'" in doc


def test_html_escapes_every_text_and_redacts_secrets():
    secret = "sk-ant-api03-" + "Xy7Kp2Lm9QrT4vWz" * 6
    hostile = f'<script>alert(1)</script> <img src="http://x/y.png"> {secret}'
    messages = [
        Message("user", hostile, 1714564800.0),
        Message("assistant", hostile + "\n\n![pic](http://example.org/a.png)", 1714564801.0),
        Message("thinking", hostile, 1714564801.0),
        Message("tool", hostile, 1714564802.0, name="<b>Bash</b>", extra={"input": {"command": hostile}}),
        Message("tool_result", hostile, 1714564803.0, name="Bash"),
        Message("meta", hostile, 1714564803.0, name="system-reminder"),
        Message("subagent", hostile, 1714564804.0, name=f"<i>{secret}</i>", depth=1, agent="x"),
        Message("user", hostile, 1714564805.0, depth=1, agent="x"),
        Message("output", "\x1b[31mred\x1b[0m " + hostile, 1714564806.0),
    ]
    doc = "".join(render(messages, "html", {"name": hostile}))
    assert "<script" not in doc and "<img" not in doc and "<b>Bash" not in doc and "<i>" not in doc
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in doc
    assert secret[:20] not in doc and "[REDACTED:anthropic-key]" in doc
    assert "\x1b" not in doc and "[31m" not in doc
    kept = "".join(render(messages, "html", {"name": "x"}, redact_secrets=False))
    assert secret in kept


def test_html_table_of_contents_links_every_prompt(corpus):
    source, refs = session(corpus, "claude-subagents-dir")
    prompts = [m for m in source.messages(refs) if m.role == "user" and m.depth == 0]
    doc = rendered(corpus, "claude-subagents-dir", "html")
    toc = doc.split('<nav class="toc"', 1)[1].split("</nav>", 1)[0]
    anchors = re.findall(r'href="#(prompt-\d+)"', toc)
    assert len(anchors) == len(prompts) > 1
    for anchor in anchors:
        assert f'id="{anchor}"' in doc


def test_html_folds_are_closed_by_default_and_sub_agents_nest(corpus):
    doc = rendered(corpus, "claude-parallel", "html")
    assert "<details" in doc and not re.search(r"<details[^>]*\bopen\b", doc)
    outline = html_outline(doc)
    subagents = [line for line in outline if line.strip() == "details.subagent"]
    assert len(subagents) == 3
    # The sub-agents' tool calls are inside their runs.
    assert any(line.startswith("    details.tool") for line in outline)
