"""Synthetic Claude Code and Codex CLI sessions, record for record in the shapes the real
tools write (see the sample corpus): Claude Code transcripts with user/assistant records,
tool_use/tool_result blocks and sub-agent side chains; Codex rollouts with
session_meta/response_item/event_msg envelopes and encrypted reasoning."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from typing import Any

from . import textgen as tg
from .world import DAY, Project, World

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

CLAUDE_VERSIONS = ("1.0.98", "2.0.14", "2.0.27", "2.0.76", "2.1.14", "2.1.88")
CLAUDE_MODELS = (
    "claude-sonnet-4-5-20250929",
    "claude-opus-4-1-20250805",
    "claude-opus-4-5-20251101",
    "claude-haiku-4-5-20251001",
)
CLAUDE_TOOLS = ("Read", "Bash", "Edit", "Grep", "Glob", "Write", "TodoWrite", "Task")
CLAUDE_TOOL_WEIGHTS = (34, 26, 12, 9, 5, 4, 5, 5)
CODEX_VERSIONS = ("0.40.0", "0.47.0", "0.55.0", "0.77.0", "0.98.0")
CODEX_MODELS = ("gpt-5-codex", "gpt-5.1-codex", "gpt-5.2-codex")
_TODO_ACK = (
    "Todos have been modified successfully. Ensure that you continue to use the todo "
    "list to track your progress. Please proceed with the current tasks if applicable"
)


@dataclass
class Doc:
    """One file of the corpus: path relative to the fake home, bytes, last activity."""

    rel: str
    data: bytes
    mtime: float


_marks = itertools.count()


def _stand_in(splices: list[tuple[str, str]], encoded: str) -> str:
    """A placeholder for a value that is already JSON-encoded (``encoded``, quotes
    included); ``_apply`` swaps it in after the record is dumped. Re-encoding the same
    file text for every record that quotes it would dominate the generation time."""
    marker = f"\x02{next(_marks)}\x03"
    splices.append((_dumps(marker), encoded))
    return marker


def _apply(line: str, splices: list[tuple[str, str]]) -> str:
    """Swap in the placeholders ``line`` holds; the others stay pending."""
    kept = []
    for marker, encoded in splices:
        if marker in line:
            line = line.replace(marker, encoded, 1)
        else:
            kept.append((marker, encoded))
    splices[:] = kept
    return line


def _era(w: World, t: float, n: int) -> int:
    """Index into a version list by how far through the 18 months ``t`` falls."""
    frac = (t - (w.now - 548 * DAY)) / (548 * DAY)
    return min(n - 1, max(0, int(frac * n + w.rng.uniform(-0.5, 0.5))))


class ClaudeSession:
    """Builds one transcript (and the sub-agent transcripts its Task calls spawn)."""

    def __init__(
        self,
        w: World,
        p: Project,
        sid: str,
        start: float,
        target: int,
        needle: str | None = None,
        agent_id: str | None = None,
        task: str | None = None,
    ):
        r = w.rng
        self.w, self.p, self.r = w, p, r
        self.sid, self.t, self.target, self.needle = sid, start, target, needle
        self.agent_id, self.task = agent_id, task
        era = _era(w, start, len(CLAUDE_VERSIONS))
        self.modern = era >= 4
        self.model = r.choice(CLAUDE_MODELS)
        self.common: dict[str, Any] = {"isSidechain": agent_id is not None}
        if agent_id:
            self.common["agentId"] = agent_id
        self.common.update(
            userType="external", cwd=p.cwd, sessionId=sid, version=CLAUDE_VERSIONS[era], gitBranch=r.choice(p.branches)
        )
        self.lines: list[str] = []
        self.size = 0
        self.parent: str | None = None
        self.docs: list[Doc] = []
        self.splices: list[tuple[str, str]] = []

    def _emit(self, obj: dict[str, Any]) -> None:
        s = _dumps(obj)
        if self.splices:
            s = _apply(s, self.splices)
        self.lines.append(s)
        self.size += len(s)

    def _tick(self, lo: float, hi: float) -> None:
        self.t = self.w.clamp(self.t + self.r.uniform(lo, hi))

    def _user(self, content: Any, **extra: Any) -> None:
        u = tg.uuid4(self.r)
        rec = {
            "parentUuid": self.parent,
            **self.common,
            "type": "user",
            "message": {"role": "user", "content": content},
            "uuid": u,
            "timestamp": tg.iso_ms(self.t),
        }
        rec.update(extra)
        self._emit(rec)
        self.parent = u

    def _assistant(self, block: dict[str, Any], msg_id: str, req_id: str) -> None:
        r, u = self.r, tg.uuid4(self.r)
        usage = {
            "input_tokens": r.randint(1, 20),
            "cache_creation_input_tokens": r.randint(0, 20000),
            "cache_read_input_tokens": r.randint(0, 150000),
            "output_tokens": r.randint(1, 2000),
            "service_tier": "standard",
        }
        self._emit(
            {
                "parentUuid": self.parent,
                **self.common,
                "message": {
                    "model": self.model,
                    "id": msg_id,
                    "type": "message",
                    "role": "assistant",
                    "content": [block],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": usage,
                },
                "requestId": req_id,
                "type": "assistant",
                "uuid": u,
                "timestamp": tg.iso_ms(self.t),
            }
        )
        self.parent = u

    def _tool(self, name: str) -> tuple[dict[str, Any], Any, Any]:
        """(tool input, tool_result content, toolUseResult) for one call of ``name``."""
        w, p, r, v = self.w, self.p, self.r, self.w.vocab
        raw = self.splices
        if name == "Read":
            f = w.pick_file(p)
            n = len(f.lines)
            return (
                {"file_path": p.abs(f)},
                _stand_in(raw, f.j_numbered),
                {
                    "type": "text",
                    "file": {
                        "filePath": p.abs(f),
                        "content": _stand_in(raw, f.j_text),
                        "numLines": n,
                        "startLine": 1,
                        "totalLines": n,
                    },
                },
            )
        if name == "Bash":
            cmd, out, enc = w.shell(p, self.t)
            return (
                {"command": cmd, "description": v.sentence(r, r.randint(3, 7))[:-1]},
                _stand_in(raw, enc) if enc else out,
                {"stdout": _stand_in(raw, enc) if enc else out, "stderr": "", "interrupted": False, "isImage": False},
            )
        if name == "Edit":
            f = w.pick_file(p)
            i = r.randrange(max(1, len(f.lines)))
            k = r.randint(1, 8)
            old = f.lines[i : i + k]
            added = ("    # " if p.lang == "python" else "  // ") + v.sentence(r)
            snippet = "\n".join(
                f"{j:>6}\u2192{line}"
                for j, line in enumerate(
                    f.lines[max(0, i - 4) : i] + old + [added] + f.lines[i + k : i + k + 4], max(1, i - 3)
                )
            )
            return (
                {"file_path": p.abs(f), "old_string": "\n".join(old), "new_string": "\n".join(old + [added])},
                f"The file {p.abs(f)} has been updated. Here's the result of running `cat -n` on a snippet "
                f"of the edited file:\n{snippet}",
                {
                    "filePath": p.abs(f),
                    "oldString": "\n".join(old),
                    "newString": "\n".join(old + [added]),
                    "originalFile": _stand_in(raw, f.j_text),
                    "structuredPatch": [
                        {
                            "oldStart": i + 1,
                            "oldLines": len(old),
                            "newStart": i + 1,
                            "newLines": len(old) + 1,
                            "lines": [" " + x for x in old] + ["+" + added],
                        }
                    ],
                    "userModified": False,
                    "replaceAll": False,
                },
            )
        if name == "Grep":
            word = r.choice(p.idents)
            out = tg.grep_output(
                r, [(p.abs(x), x.lines) for x in r.sample(p.files, min(5, len(p.files)))], word, r.randint(1, 20)
            )
            return (
                {"pattern": word, "path": p.cwd, "output_mode": "content", "-n": True},
                out,
                {"mode": "content", "numFiles": 0, "filenames": [], "content": out, "numLines": out.count("\n") + 1},
            )
        if name == "Glob":
            names = [p.abs(x) for x in r.sample(p.files, min(len(p.files), r.randint(1, 15)))]
            return (
                {"pattern": "**/*" + names[0].rsplit(".", 1)[-1]},
                "\n".join(names),
                {"filenames": names, "durationMs": r.randint(3, 300), "numFiles": len(names), "truncated": False},
            )
        if name == "Write":
            path = f"{p.cwd}/src/{r.choice(p.idents)}.{'py' if p.lang == 'python' else 'ts'}"
            code = p.code.file(r.randint(1, 5)) if p.code else ""
            return (
                {"file_path": path, "content": code},
                f"File created successfully at: {path}",
                {"type": "create", "filePath": path, "content": code, "structuredPatch": []},
            )
        if name == "TodoWrite":
            todos = [
                {
                    "content": v.sentence(r, r.randint(4, 10))[:-1],
                    "status": r.choice(("pending", "in_progress", "completed")),
                    "activeForm": v.sentence(r, r.randint(3, 8))[:-1],
                }
                for _ in range(r.randint(2, 7))
            ]
            return {"todos": todos}, _TODO_ACK, {"oldTodos": [], "newTodos": todos}
        # Task: a sub-agent with its own side-chain transcript.
        agent_id = tg.hexid(r, 17)
        prompt = w.prompt(p)
        sub = ClaudeSession(
            w, p, self.sid, self.t, max(3000, int(self.target * r.uniform(0.05, 0.3))), agent_id=agent_id, task=prompt
        )
        base = f".claude/projects/{p.claude_dir}/{self.sid}/subagents/agent-{agent_id}"
        self.docs += sub.build(base + ".jsonl")
        self.docs.append(Doc(base + ".meta.json", b'{"agentType":"general-purpose"}', sub.t))
        self.t = max(self.t, sub.t)
        final = [{"type": "text", "text": w.answer(p)}]
        return (
            {"description": v.sentence(r, 4)[:-1], "prompt": prompt, "subagent_type": "general-purpose"},
            final,
            {
                "status": "completed",
                "prompt": prompt,
                "agentId": agent_id,
                "content": final,
                "totalDurationMs": r.randint(5000, 600000),
                "totalTokens": r.randint(2000, 90000),
                "totalToolUseCount": r.randint(1, 40),
            },
        )

    def build(self, rel: str) -> list[Doc]:
        """The transcript at ``rel`` (relative to the fake home) and any sub-agent files."""
        w, p, r = self.w, self.p, self.r
        if self.agent_id is None and r.random() < 0.25:
            for _ in range(r.randint(1, 6)):
                self._emit(
                    {"type": "summary", "summary": w.vocab.sentence(r, r.randint(3, 8))[:-1], "leafUuid": tg.uuid4(r)}
                )
        turn = 0
        last_prompt = ""
        while self.size < self.target:
            if turn:
                self._tick(20, 900 if r.random() < 0.95 else 6 * 3600)
            if self.agent_id is None and r.random() < 0.4:
                mid = tg.uuid4(r)
                self._emit(
                    {
                        "type": "file-history-snapshot",
                        "messageId": mid,
                        "snapshot": {"messageId": mid, "trackedFileBackups": {}, "timestamp": tg.iso_ms(self.t)},
                        "isSnapshotUpdate": False,
                    }
                )
            last_prompt = self.task if (self.task and not turn) else w.prompt(p, self.needle if not turn else None)
            self._user(last_prompt)
            turn += 1
            for _ in range(r.randint(1, 14)):
                msg_id, req_id = "msg_01" + tg.base62(r, 22), "req_011C" + tg.base62(r, 20)
                self._tick(1, 12)
                if r.random() < 0.2:
                    self._assistant(
                        {
                            "type": "thinking",
                            "thinking": w.vocab.paragraph(r, r.randint(1, 6)),
                            "signature": tg.blob(r, r.randint(150, 700)),
                        },
                        msg_id,
                        req_id,
                    )
                if r.random() < 0.5:
                    self._assistant({"type": "text", "text": w.vocab.sentence(r)}, msg_id, req_id)
                name = r.choices(CLAUDE_TOOLS, weights=CLAUDE_TOOL_WEIGHTS)[0]
                if name == "Task" and self.agent_id is not None:
                    name = "Read"
                tool_id = "toolu_01" + tg.base62(r, 22)
                inp, content, result = self._tool(name)
                self._assistant({"type": "tool_use", "id": tool_id, "name": name, "input": inp}, msg_id, req_id)
                self._tick(0.05, 20)
                self._user([{"tool_use_id": tool_id, "type": "tool_result", "content": content}], toolUseResult=result)
                if self.size >= self.target:
                    break
            self._tick(2, 40)
            self._assistant(
                {"type": "text", "text": w.answer(p)}, "msg_01" + tg.base62(r, 22), "req_011C" + tg.base62(r, 20)
            )
            if self.modern and r.random() < 0.3:
                self._emit(
                    {
                        "parentUuid": self.parent,
                        **self.common,
                        "type": "system",
                        "subtype": "stop_hook_summary",
                        "hookCount": 1,
                        "hookInfos": [{"command": "bash ~/.claude/hooks/stop.sh", "durationMs": r.randint(5, 900)}],
                        "hookErrors": [],
                        "preventedContinuation": False,
                        "stopReason": "",
                        "hasOutput": False,
                        "level": "suggestion",
                        "timestamp": tg.iso_ms(self.t),
                        "uuid": tg.uuid4(r),
                    }
                )
        if self.modern and self.agent_id is None:
            self._emit({"type": "last-prompt", "lastPrompt": last_prompt[:200], "sessionId": self.sid})
        data = ("\n".join(self.lines) + "\n").encode("utf-8")
        return [Doc(rel, data, self.t)] + self.docs


class CodexSession:
    """Builds one Codex CLI rollout file."""

    def __init__(self, w: World, p: Project, start: float, target: int, needle: str | None = None):
        r = w.rng
        self.w, self.p, self.r = w, p, r
        self.start, self.t, self.target, self.needle = start, start, target, needle
        self.sid = tg.uuid7(r, start)
        era = _era(w, start, len(CODEX_VERSIONS))
        self.version = CODEX_VERSIONS[era]
        self.new_shell = era >= 3
        self.model = CODEX_MODELS[min(era, 2)]
        self.lines: list[str] = []
        self.size = 0
        self.tokens = 0
        self.splices: list[tuple[str, str]] = []

    def _emit(self, kind: str, payload: dict[str, Any]) -> None:
        s = _dumps({"timestamp": tg.iso_ms(self.t), "type": kind, "payload": payload})
        if self.splices:
            s = _apply(s, self.splices)
        self.lines.append(s)
        self.size += len(s)

    def _tick(self, lo: float, hi: float) -> None:
        self.t = self.w.clamp(self.t + self.r.uniform(lo, hi))

    def _call(self) -> None:
        w, p, r = self.w, self.p, self.r
        call_id = "call_" + tg.base62(r, 24)
        if r.random() < 0.12:
            f = w.pick_file(p)
            i = r.randrange(max(1, len(f.lines)))
            patch = "\n".join(
                ["*** Begin Patch", f"*** Update File: {f.path}", "@@"]
                + ["-" + x for x in f.lines[i : i + 3]]
                + ["+" + x for x in f.lines[i : i + 3]]
                + ["+" + w.vocab.sentence(r), "*** End Patch"]
            )
            self._emit(
                "response_item",
                {
                    "type": "custom_tool_call",
                    "status": "completed",
                    "call_id": call_id,
                    "name": "apply_patch",
                    "input": patch,
                },
            )
            self._tick(0.01, 2)
            self._emit(
                "response_item",
                {
                    "type": "custom_tool_call_output",
                    "call_id": call_id,
                    "output": _dumps(
                        {
                            "output": f"Success. Updated the following files:\nM {f.path}\n",
                            "metadata": {"exit_code": 0, "duration_seconds": 0.0},
                        }
                    ),
                },
            )
            return
        cmd, out, enc = w.shell(p, self.t)
        secs = round(r.uniform(0, 9), 1)
        if self.new_shell:
            args: dict[str, Any] = {"command": cmd, "workdir": p.cwd}
            head = f"Exit code: 0\nWall time: {secs} seconds\nOutput:\n"
            output = _stand_in(self.splices, '"' + _dumps(head)[1:-1] + enc[1:-1] + '"') if enc else head + out
            name = "shell_command"
        else:
            args = {"command": ["bash", "-lc", cmd], "workdir": p.cwd}
            tail = ',"metadata":' + _dumps({"exit_code": 0, "duration_seconds": secs}) + "}"
            if enc:
                # The output is a JSON document inside a JSON string: encode the file twice, once.
                output = _stand_in(
                    self.splices, '"' + _dumps('{"output":')[1:-1] + w.reencoded(enc) + _dumps(tail)[1:-1] + '"'
                )
            else:
                output = '{"output":' + _dumps(out) + tail
            name = "shell"
        self._emit(
            "response_item", {"type": "function_call", "name": name, "arguments": _dumps(args), "call_id": call_id}
        )
        self._tick(0.05, 10)
        self._emit("response_item", {"type": "function_call_output", "call_id": call_id, "output": output})

    def build(self) -> Doc:
        w, p, r = self.w, self.p, self.r
        self._emit(
            "session_meta",
            {
                "id": self.sid,
                "timestamp": tg.iso_ms(self.t),
                "cwd": p.cwd,
                "originator": r.choice(("codex_cli_rs", "codex_vscode")),
                "cli_version": self.version,
                "instructions": w.codex_instructions if r.random() < 0.6 else None,
                "git": {"commit_hash": tg.hexid(r, 40), "branch": r.choice(p.branches), "repository_url": p.repo_url},
            },
        )
        self._emit(
            "response_item",
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": p.agents_md}]},
        )
        self._emit(
            "response_item",
            {
                "type": "message",
                "role": "user",
                "content": [
                    {
                        "type": "input_text",
                        "text": f"<environment_context>\n  <cwd>{p.cwd}</cwd>\n  <approval_policy>on-request</approval_policy>\n"
                        f"  <sandbox_mode>workspace-write</sandbox_mode>\n  <network_access>restricted</network_access>\n"
                        f"  <shell>zsh</shell>\n</environment_context>",
                    }
                ],
            },
        )
        turn = 0
        while self.size < self.target:
            self._tick(5 if not turn else 30, 900)
            prompt = w.prompt(p, self.needle if not turn else None)
            turn += 1
            self._emit("event_msg", {"type": "user_message", "message": prompt, "images": []})
            self._emit(
                "response_item",
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": prompt}]},
            )
            self._emit(
                "turn_context",
                {
                    "cwd": p.cwd,
                    "approval_policy": "on-request",
                    "sandbox_policy": {"type": "workspace-write", "network_access": False},
                    "model": self.model,
                    "effort": r.choice(("medium", "high")),
                    "summary": "auto",
                },
            )
            for _ in range(r.randint(1, 16)):
                self._tick(1, 15)
                title = f"**{w.vocab.sentence(r, r.randint(3, 7))[:-1]}**"
                self._emit("event_msg", {"type": "agent_reasoning", "text": title})
                self._emit(
                    "response_item",
                    {
                        "type": "reasoning",
                        "summary": [{"type": "summary_text", "text": title}],
                        "content": None,
                        "encrypted_content": "gAAAAAB" + tg.blob(r, r.randint(300, 1500)),
                    },
                )
                self._call()
                self.tokens += r.randint(500, 9000)
                usage = {
                    "input_tokens": self.tokens,
                    "cached_input_tokens": self.tokens * 9 // 10,
                    "output_tokens": r.randint(10, 900),
                    "reasoning_output_tokens": r.randint(0, 600),
                    "total_tokens": self.tokens + r.randint(10, 900),
                }
                self._emit(
                    "event_msg",
                    {
                        "type": "token_count",
                        "info": {"total_token_usage": usage, "last_token_usage": usage, "model_context_window": 272000},
                    },
                )
                if self.size >= self.target:
                    break
            self._tick(2, 30)
            answer = w.answer(p)
            self._emit("event_msg", {"type": "agent_message", "message": answer})
            self._emit(
                "response_item",
                {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": answer}]},
            )
        g = tg.iso_ms(self.start)
        day = g[:10].replace("-", "/")
        stamp = g[:19].replace(":", "-")
        rel = f".codex/sessions/{day}/rollout-{stamp}-{self.sid}.jsonl"
        return Doc(rel, ("\n".join(self.lines) + "\n").encode("utf-8"), self.t)
