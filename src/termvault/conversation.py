"""The conversation model every source produces and every view reads.

A source yields ``termvault.sources.base.Message`` records in display order. Their
``role`` is one of ``ROLES``:

- ``user``, ``assistant``: what a person typed and what the agent said;
- ``thinking``: the agent's reasoning (kept, shown folded);
- ``tool`` (a call, its raw input in ``extra["input"]``) and ``tool_result`` (``extra["error"]``
  is True when the tool failed); ``extra["call_id"]``, when the tool records one, pairs them;
- ``system`` (records the tool wrote about itself) and ``meta`` (scaffolding an agent adds
  around prompts: ``<system-reminder>``, command caveats, AGENTS.md preambles): folded
  away by the views but still there;
- ``subagent``: opens a sub-agent run nested under the call that spawned it. Its ``name``
  is the run's label; the run's own messages follow with ``depth`` one more than the
  call's and ``agent`` set to that label, until a message of smaller depth (or another
  ``subagent`` at the same depth) ends it;
- ``output``, ``input``, ``marker``: terminal recordings and events.

This module also turns a tool call's raw input into something a person reads
(``describe_tool``): a shell command as the command, a file write as its content with the
language of its extension, an edit or a patch as a diff.
"""

from __future__ import annotations

import difflib
import json
import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

ROLES: tuple[str, ...] = (
    "user",
    "assistant",
    "thinking",
    "tool",
    "tool_result",
    "system",
    "meta",
    "subagent",
    "output",
    "input",
    "marker",
)
# Roles that belong to the conversation proper (shown at the "conversation" detail level).
CONVERSATION_ROLES = frozenset({"user", "assistant", "subagent", "tool", "output", "input", "marker"})

DETAILS: tuple[str, ...] = ("prompts", "conversation", "all")

_SHELL_TOOLS = frozenset(
    {
        "bash",
        "shell",
        "shell_command",
        "exec_command",
        "local_shell",
        "local_shell_call",
        "run_shell_command",
        "container.exec",
        "run_terminal_cmd",
        "execute_command",
        "terminal",
        "powershell",
    }
)
_WRITE_TOOLS = frozenset({"write", "write_file", "create_file", "writefile", "notebookwrite"})
_EDIT_TOOLS = frozenset({"edit", "multiedit", "replace", "str_replace", "str_replace_editor", "edit_file"})
_PATCH_TOOLS = frozenset({"apply_patch", "applypatch"})
_AGENT_TOOLS = frozenset({"task", "agent"})
_TODO_TOOLS = frozenset({"todowrite", "write_todos", "update_plan"})
_PATH_KEYS = ("file_path", "path", "absolute_path", "filename", "notebook_path", "target_file")
_CONTENT_KEYS = ("content", "file_text", "contents", "text")

LANGUAGES: Mapping[str, str] = {
    ".py": "python",
    ".pyi": "python",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "jsx",
    ".ts": "typescript",
    ".tsx": "tsx",
    ".json": "json",
    ".jsonl": "json",
    ".md": "markdown",
    ".mdx": "markdown",
    ".sh": "sh",
    ".bash": "bash",
    ".zsh": "zsh",
    ".fish": "fish",
    ".yml": "yaml",
    ".yaml": "yaml",
    ".toml": "toml",
    ".ini": "ini",
    ".cfg": "ini",
    ".html": "html",
    ".htm": "html",
    ".css": "css",
    ".scss": "scss",
    ".rs": "rust",
    ".go": "go",
    ".java": "java",
    ".kt": "kotlin",
    ".swift": "swift",
    ".c": "c",
    ".h": "c",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".hpp": "cpp",
    ".cs": "csharp",
    ".rb": "ruby",
    ".php": "php",
    ".sql": "sql",
    ".lua": "lua",
    ".r": "r",
    ".vue": "vue",
    ".svelte": "svelte",
    ".xml": "xml",
    ".svg": "xml",
    ".dockerfile": "dockerfile",
    ".tf": "hcl",
    ".proto": "protobuf",
    ".graphql": "graphql",
    ".txt": "text",
    ".csv": "csv",
}
_NAMED_LANGUAGES = {"dockerfile": "dockerfile", "makefile": "makefile", "justfile": "make"}


def language_of(path: str | None) -> str:
    """The fenced-code language of a file name ("" when unknown)."""
    if not path:
        return ""
    name = PurePosixPath(path.replace("\\", "/")).name.lower()
    if name in _NAMED_LANGUAGES:
        return _NAMED_LANGUAGES[name]
    return LANGUAGES.get(PurePosixPath(name).suffix, "")


@dataclass
class ToolView:
    """A tool call as a person reads it. ``kind`` is command, file, diff, text or fields;
    ``body`` is shown in a fenced block of ``language`` (none for text); ``summary`` is
    one line naming what the call did."""

    kind: str
    summary: str
    body: str
    language: str = ""


def shell_command(command: Any) -> str | None:
    """A shell command as typed: ``["bash", "-lc", "ls"]`` is ``ls``; any other argument
    list is quoted back into one line; a string is itself."""
    if isinstance(command, str):
        return command
    if isinstance(command, list) and command and all(isinstance(c, str) for c in command):
        shells = ("bash", "sh", "zsh", "/bin/bash", "/bin/sh", "/bin/zsh", "/usr/bin/bash", "pwsh", "powershell")
        if len(command) == 3 and command[0] in shells and command[1] in ("-c", "-lc", "-ic", "-Command", "-lic"):
            return command[2]
        return shlex.join(command)
    return None


def parse_input(value: Any) -> Any:
    """A call's input: a JSON object string (Codex ``arguments``) is decoded; anything
    else is returned as is."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except (ValueError, RecursionError):
            return value
    return value


def describe_tool(name: str | None, raw_input: Any, fallback: str = "") -> ToolView:
    """How to show a call of tool ``name`` with ``raw_input`` (a dict, a JSON string or
    patch text). ``fallback`` is the call's text when no input was recorded. Never raises."""
    try:
        return _describe(name or "", parse_input(raw_input if raw_input is not None else fallback))
    except (TypeError, ValueError, AttributeError, KeyError, RecursionError):
        return ToolView("text", _summary(fallback), fallback)


def _describe(name: str, data: Any) -> ToolView:
    key = name.lower().rsplit("__", 1)[-1]  # MCP tools: mcp__server__tool
    if isinstance(data, str):
        if key in _PATCH_TOOLS or data.lstrip().startswith("*** Begin Patch"):
            return ToolView("diff", _patch_summary(data), data, "diff")
        if key in _SHELL_TOOLS:
            return ToolView("command", _summary(data), data, "sh")
        return ToolView("text", _summary(data), data)
    if not isinstance(data, dict):
        text = _fields(data)
        return ToolView("fields", _summary(text), text)
    command = data.get("command", data.get("cmd"))
    if key in _PATCH_TOOLS or (isinstance(command, list) and command[:1] == ["apply_patch"] and len(command) == 2):
        patch = data.get("input") or data.get("patch") or (command[1] if isinstance(command, list) else "")
        if isinstance(patch, str) and patch:
            return ToolView("diff", _patch_summary(patch), patch, "diff")
    if key in _SHELL_TOOLS or (command is not None and key not in _EDIT_TOOLS and shell_command(command)):
        cmd = shell_command(command)
        if cmd is not None:
            note = data.get("description") or data.get("justification")
            summary = _summary(cmd)
            body = cmd if not isinstance(note, str) or not note else f"# {_one_line(note)}\n{cmd}"
            return ToolView("command", summary, body, "sh")
    path = next((data[k] for k in _PATH_KEYS if isinstance(data.get(k), str)), None)
    if key in _WRITE_TOOLS and path:
        content = next((data[k] for k in _CONTENT_KEYS if isinstance(data.get(k), str)), "")
        return ToolView("file", path, content, language_of(path))
    if key in _EDIT_TOOLS and path:
        edits = listed if isinstance(listed := data.get("edits"), list) else [data]
        diff = "".join(_edit_diff(path, e) for e in edits if isinstance(e, dict))
        if diff:
            return ToolView("diff", path, diff, "diff")
    if key in _AGENT_TOOLS:
        label = data.get("subagent_type") or data.get("name") or "agent"
        desc = data.get("description") or ""
        prompt = given if isinstance(given := data.get("prompt"), str) else ""
        return ToolView("text", _one_line(f"{label}: {desc}" if desc else str(label)), prompt)
    if key in _TODO_TOOLS:
        items = data.get("todos") or data.get("plan")
        if isinstance(items, list):
            lines = list(_todo_lines(items))
            return ToolView("text", f"{len(lines)} item{'s' if len(lines) != 1 else ''}", "\n".join(lines))
    text = _fields(data)
    # Tools name their main argument first (pattern, query, file_path, url).
    summary = next((v for v in data.values() if isinstance(v, str) and v.strip()), "") or path or text
    return ToolView("fields", _summary(str(summary)), text)


def _todo_lines(items: list[Any]) -> Iterator[str]:
    marks = {"completed": "[x]", "in_progress": "[~]", "pending": "[ ]"}
    for item in items:
        if isinstance(item, dict):
            text = item.get("content") or item.get("step") or item.get("description") or ""
            yield f"- {marks.get(str(item.get('status')), '[ ]')} {_one_line(str(text))}"


def _edit_diff(path: str, edit: Mapping[str, Any]) -> str:
    old, new = edit.get("old_string", edit.get("old_str")), edit.get("new_string", edit.get("new_str"))
    if not isinstance(old, str) or not isinstance(new, str):
        return ""
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        f"a/{path.lstrip('/')}",
        f"b/{path.lstrip('/')}",
        n=3,
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


_PATCH_FILE = re.compile(r"^\*\*\* (?:Add|Update|Delete) File: (.+)$", re.M)


def _patch_summary(patch: str) -> str:
    files = _PATCH_FILE.findall(patch[:200_000])
    if files:
        return ", ".join(f.strip() for f in files[:3]) + (f" (+{len(files) - 3} more)" if len(files) > 3 else "")
    return _summary(patch)


def _fields(data: Any, indent: str = "") -> str:
    """A JSON value as ``key: value`` lines; multi-line strings as indented blocks."""
    if isinstance(data, dict):
        out = []
        for k, v in data.items():
            if isinstance(v, str) and "\n" in v:
                out.append(f"{indent}{k}: |\n" + "\n".join(f"{indent}  {line}" for line in v.splitlines()))
            elif isinstance(v, (dict, list)) and v:
                out.append(f"{indent}{k}:\n" + _fields(v, indent + "  "))
            else:
                out.append(f"{indent}{k}: {_scalar(v)}")
        return "\n".join(out)
    if isinstance(data, list):
        out = []
        for v in data:
            if isinstance(v, (dict, list)) and v:
                inner = _fields(v, indent + "  ")
                out.append(f"{indent}- " + inner.lstrip())
            else:
                out.append(f"{indent}- {_scalar(v)}")
        return "\n".join(out)
    return indent + _scalar(data)


def _scalar(v: Any) -> str:
    if isinstance(v, str):
        return v
    return json.dumps(v, ensure_ascii=False)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _summary(text: str, limit: int = 200) -> str:
    line = " ".join(text[: limit * 4].split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


# ---------------------------------------------------------------------------------------
# Scaffolding: what agents wrap around a person's words
# ---------------------------------------------------------------------------------------

SCAFFOLD_TAGS: tuple[str, ...] = (
    "system-reminder",
    "local-command-caveat",
    "local-command-stdout",
    "local-command-stderr",
    "command-message",
    "command-name",
    "command-args",
    "command-contents",
    "user-prompt-submit-hook",
    "environment_context",
    "user_instructions",
    "INSTRUCTIONS",
    "ide_selection",
    "ide_opened_file",
    "ide_diagnostics",
    "permissions instructions",
    "collaboration_mode",
    "turn_aborted",
    "teammate-message",
)
_SCAFFOLD = re.compile(r"<(" + "|".join(re.escape(t) for t in SCAFFOLD_TAGS) + r")(?:\s[^>]*)?>(.*?)</\1>\s*", re.S)


def split_scaffolding(text: str) -> tuple[str, list[tuple[str, str]]]:
    """``text`` without the agent scaffolding blocks it holds, and those blocks as
    (tag, content) pairs in order, so a view can fold them away and still show them."""
    found: list[tuple[str, str]] = []

    def keep(match: re.Match[str]) -> str:
        found.append((match.group(1), match.group(2).strip()))
        return ""

    if "<" not in text:
        return text, found
    return _SCAFFOLD.sub(keep, text).strip(), found


# ---------------------------------------------------------------------------------------
# Markdown inside messages
# ---------------------------------------------------------------------------------------

_FENCE_OPEN = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_ATX = re.compile(r"^( {0,3})(#{1,6})(?=\s|$)")


def demote_headings(text: str, levels: int = 2) -> str:
    """``text`` (Markdown) with every ATX heading outside code fences ``levels`` deeper
    (at most level 6, past which it becomes bold text), so a message's headings sit below
    the turn headings of the document."""
    if "#" not in text:
        return text
    out: list[str] = []
    fence: str | None = None
    for line in text.split("\n"):
        m = _FENCE_OPEN.match(line)
        if fence is None and m:
            fence = m.group(1)
        elif fence is not None and line.strip().startswith(fence[0] * len(fence)) and not line.strip().strip(fence[0]):
            fence = None
        elif fence is None:
            h = _ATX.match(line)
            if h:
                depth = len(h.group(2)) + levels
                rest = line[h.end() :].strip().rstrip("#").strip()
                line = f"{h.group(1)}{'#' * depth} {rest}" if depth <= 6 else f"{h.group(1)}**{rest}**"
        out.append(line)
    return "\n".join(out)


__all__ = [
    "CONVERSATION_ROLES",
    "DETAILS",
    "ROLES",
    "ToolView",
    "demote_headings",
    "describe_tool",
    "language_of",
    "parse_input",
    "shell_command",
    "split_scaffolding",
]
