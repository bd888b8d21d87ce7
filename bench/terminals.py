"""Synthetic terminal-side sessions: the multi-terminal app's native SessionState files,
asciinema v2 recordings and Aider chat histories."""

from __future__ import annotations

import json
import random

from . import textgen as tg
from .agents import Doc
from .world import DAY, Project, World

_dumps = json.JSONEncoder(ensure_ascii=False).encode
_KEYS = {chr(c): _dumps(chr(c)) for c in range(32, 127)}


def _relcwd(w: World, p: Project) -> str:
    return "~" + p.cwd[len(w.home) :]


def native_session(w: World, p: Project, start: float, target: int, needle: str | None = None) -> Doc:
    """One ``history/{int(modified_at)}_{session_id}.json`` file (SessionState JSON)."""
    r = w.rng
    sid = tg.uuid4(r)
    prompt = f"{w.user}@{w.host}:{_relcwd(w, p)}$ "
    t, size, count, last = start, 0, 0, ""
    parts: list[str] = []
    while size < target:
        t = w.clamp(t + r.uniform(2, 240))
        if needle and count == 0:
            cmd, out = f"export TICKET={needle}", ""
        else:
            cmd, out, _ = w.shell(p, t)
        chunk = f"{prompt}{cmd}\n{out}\n" if out else f"{prompt}{cmd}\n"
        parts.append(chunk)
        size += len(chunk)
        count += 1
        last = cmd
    t = round(t, 3)
    roll = r.random()
    name = (
        p.name
        if roll < 0.4
        else f"{p.name}: {w.vocab.sentence(r, r.randint(2, 5))[:-1]}"
        if roll < 0.85
        else f"Terminal {r.randint(1, 60)}"
    )
    conversation = f"{w.home}/.claude/projects/{p.claude_dir}/{tg.uuid4(r)}.jsonl" if r.random() < 0.3 else None
    state = {
        "session_id": sid,
        "name": name,
        "working_directory": p.cwd,
        "created_at": round(start, 3),
        "modified_at": t,
        "command_count": count,
        "last_command": last,
        "conversation_file": conversation,
        "output_snapshot": "".join(parts),
        "is_active": w.now - t < DAY,
    }
    data = json.dumps(state, indent=2, ensure_ascii=False).encode("utf-8")
    return Doc(f".multi-term/history/{int(t)}_{sid}.json", data, t)


def _paint(r: random.Random, line: str) -> str:
    if line and r.random() < 0.25:
        return r.choice(tg.ANSI[1:]) + line + "\x1b[0m"
    return line


def _terminal_text(w: World, out: str) -> str:
    """``out`` as a terminal shows it: CRLF line ends, some lines coloured. Memoised,
    since the same outputs recur (and a recurring output looks the same each time)."""
    key = ("terminal", out)
    text = w.memo.get(key)
    if text is None:
        text = w.memo[key] = "\r\n".join(_paint(w.rng, x) for x in out.split("\n")) + "\r\n"
    return text


def cast_session(w: World, p: Project, start: float, target: int, needle: str | None = None) -> Doc:
    """One asciinema v2 recording: a shell where commands are typed key by key."""
    r = w.rng
    header = {
        "version": 2,
        "width": r.choice((80, 100, 120, 144, 160, 208)),
        "height": r.choice((24, 30, 40, 50)),
        "timestamp": int(start),
        "env": {"SHELL": r.choice(("/bin/zsh", "/bin/bash")), "TERM": "xterm-256color"},
    }
    if r.random() < 0.5:
        header["title"] = w.vocab.sentence(r, r.randint(2, 6))[:-1]
    lines = [json.dumps(header)]
    size = len(lines[0])
    prompt = f"\x1b[1;32m{w.user}@{w.host}\x1b[0m:\x1b[1;34m{_relcwd(w, p)}\x1b[0m$ "
    if r.random() < 0.5:  # zsh-style shells announce the cwd with OSC 7 before each prompt
        prompt = f"\x1b]7;file://{w.host}{p.cwd}\x07" + prompt
    et = 0.0
    keys = _KEYS

    def ev(text: str) -> None:
        nonlocal size
        s = f'[{et:.6f}, "o", {_dumps(text)}]'
        lines.append(s)
        size += len(s)

    first = True
    while size < target:
        et += r.uniform(0.2, 4.0)
        ev(prompt)
        if first and needle:
            cmd, out = f"echo {needle}", needle
        else:
            cmd, out, _ = w.shell(p, start + et)
        first = False
        rand = r.random
        for ch in cmd:  # typed key by key: one tiny event each, as real recordings have
            et += 0.03 + rand() * 0.22
            s = f'[{et:.6f}, "o", {keys.get(ch) or _dumps(ch)}]'
            lines.append(s)
            size += len(s)
        et += r.uniform(0.1, 0.6)
        ev("\r\n")
        # Output arrives in chunks of whole lines, a kilobyte or so each.
        text = _terminal_text(w, out)
        pos, n = 0, len(text)
        while pos < n:
            cut = text.find("\r\n", pos + int(rand() * 1500))
            cut = n if cut < 0 else cut + 2
            et += 0.001 + rand() * 0.3
            ev(text[pos:cut])
            pos = cut
    end = w.clamp(start + et)
    stamp = tg.iso_ms(start)[:10]
    return Doc(f"recordings/{stamp}-{p.name}-{tg.hexid(r, 6)}.cast", ("\n".join(lines) + "\n").encode("utf-8"), end)


def aider_chat(w: World, p: Project, start: float, target: int, needle: str | None = None) -> tuple[str, str, float]:
    """One Aider chat session as appended to ``.aider.chat.history.md``, the matching
    ``.aider.input.history`` lines, and the session's end time."""
    r, v = w.rng, w.vocab
    model = r.choice(("gpt-4o", "openrouter/openai/gpt-4o-mini", "gemini/gemini-2.5-pro", "sonnet"))
    out = [
        f"\n# aider chat started at {tg.plain_time(start)}\n",
        f"> {w.home}/.local/bin/aider --model {model}  ",
        f"> Aider v0.{r.randint(70, 86)}.{r.randint(0, 3)}  ",
        f"> Model: {model} with diff edit format  ",
        f"> Git repo: .git with {len(p.files) + r.randint(0, 200)} files  ",
        "> Repo-map: using 4096 tokens, auto refresh  ",
        "",
    ]
    inputs: list[str] = []
    size, t, first = sum(map(len, out)), start, True
    while size < target:
        t = w.clamp(t + r.uniform(20, 600))
        prompt = w.prompt(p, needle if first else None)
        first = False
        plines = prompt.split("\n")
        inputs.append(f"\n# {tg.plain_time(t)}.{r.randint(0, 999999):06d}\n" + "".join(f"+{x}\n" for x in plines))
        block = ["".join(f"#### {x}  \n" for x in plines), v.paragraph(r, r.randint(1, 4), w.mentions(p)), ""]
        for _ in range(r.randint(0, 3)):
            f = w.pick_file(p)
            i = r.randrange(max(1, len(f.lines)))
            old = f.lines[i : i + r.randint(1, 10)]
            block += [
                f.path,
                f"```{p.lang}",
                "<<<<<<< SEARCH",
                *old,
                "=======",
                *old,
                ("    # " if p.lang == "python" else "  // ") + v.sentence(r),
                ">>>>>>> REPLACE",
                "```",
                "",
                f"> Applied edit to {f.path}  ",
            ]
        block += [
            f"> Tokens: {r.uniform(1, 30):.1f}k sent, {r.randint(50, 3000)} received. "
            f"Cost: ${r.uniform(0, 0.2):.5f} message, ${r.uniform(0, 2):.5f} session.  ",
            f"> Commit {tg.hexid(r, 7)} {r.choice(('feat', 'fix', 'refactor'))}: {v.sentence(r, r.randint(3, 9))[:-1]}  ",
            "",
        ]
        text = "\n".join(block)
        out.append(text)
        size += len(text)
    return "\n".join(out) + "\n", "".join(inputs), t
