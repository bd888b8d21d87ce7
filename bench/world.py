"""The fake user the synthetic corpus belongs to: their projects, source files, shell
commands and prompts.

Realism that matters for compression and search lives here: every project has a fixed
set of source files that agents read again and again across sessions (long-range
repetition), a shared system prompt, and its own identifiers that show up in prompts,
code and command outputs.
"""

from __future__ import annotations

import itertools
import json
import random
import re
from dataclasses import dataclass, field

from . import textgen as tg

DAY = 86400.0
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
# The windows agents page files through (`sed -n '1,200p' file`).
SED_WINDOWS = (80, 200, 400)
# How many distinct outputs each kind of repeatable command has per project.
OUTPUT_VARIANTS = {"grep": 24, "test": 8, "status": 6, "diff": 24, "log": 8, "ls": 4}


@dataclass
class SourceFile:
    """One file of a project; ``numbered`` is how Claude Code's Read tool shows it."""

    path: str  # relative to the project
    text: str
    lines: list[str]
    numbered: str
    # JSON-encoded forms (quotes included), computed once: these files are quoted again
    # and again in transcripts, and encoding them is most of the cost of writing a record.
    j_text: str = ""
    j_numbered: str = ""
    windows: dict[int, tuple[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.j_text = _dumps(self.text)
        self.j_numbered = _dumps(self.numbered)

    def window(self, end: int) -> tuple[str, str]:
        """The first ``end`` lines and their JSON encoding."""
        if end not in self.windows:
            text = "\n".join(self.lines[:end])
            self.windows[end] = (text, _dumps(text))
        return self.windows[end]


@dataclass
class Project:
    name: str
    cwd: str
    lang: str
    branches: list[str]
    repo_url: str
    idents: list[str]
    files: list[SourceFile]
    tests: list[str]
    agents_md: str
    file_weights: list[float] = field(default_factory=list)  # cumulative
    code: tg.CodeWriter | None = None
    # Outputs of repeatable commands (tests, git status, searches): a project's test run
    # prints much the same each time, and reusing them keeps generation cheap.
    outputs: dict[tuple[str, int], tuple[str, str, str]] = field(default_factory=dict)

    @property
    def claude_dir(self) -> str:
        """The folder name Claude Code uses for this cwd (non-alphanumerics become '-')."""
        return re.sub(r"[^A-Za-z0-9]", "-", self.cwd)

    def abs(self, f: SourceFile) -> str:
        return f"{self.cwd}/{f.path}"


class World:
    """Everything sessions are made from, built once per seed."""

    def __init__(self, rng: random.Random, total_bytes: int, now: float):
        self.rng, self.now = rng, now
        self._reencoded: dict[str, str] = {}
        self.memo: dict[object, object] = {}  # per-world caches of the session writers
        # A smaller corpus needs less material; this keeps tiny corpora quick to build.
        stream = int(min(400_000, max(60_000, total_bytes // 150)))
        self.vocab = tg.Vocabulary(rng, n_pseudo=6000, stream_len=stream)
        self.user = rng.choice(("alex", "sam", "jordan", "kim", "robin", "dev", "maria", "tomas"))
        self.home = rng.choice(("/home/", "/Users/")) + self.user
        self.host = rng.choice(("laptop", "workstation", "devbox", "mbp")) + "-" + tg.hexid(rng, 4)
        n_projects = max(3, min(40, int(total_bytes / 6e6) + 3))
        self.projects = [self._project() for _ in range(n_projects)]
        self.project_weights = list(itertools.accumulate(1.0 / (i + 1) ** 0.9 for i in range(n_projects)))
        self.claude_system = self.vocab.paragraph(rng, 40)
        self.codex_instructions = (
            "## Skills\n"
            + "\n".join(f"- {self.vocab.identifier(rng)}: {self.vocab.sentence(rng)}" for _ in range(12))
            + "\n\n"
            + self.vocab.paragraph(rng, 60)
        )

    def reencoded(self, encoded: str) -> str:
        """``encoded`` encoded again as the inside of a JSON string (cached)."""
        if encoded not in self._reencoded:
            self._reencoded[encoded] = _dumps(encoded)[1:-1]
        return self._reencoded[encoded]

    def pick_project(self) -> Project:
        return self.rng.choices(self.projects, cum_weights=self.project_weights)[0]

    def start_time(self, max_age_days: float = 548.0, min_age: float = 600.0) -> float:
        """A session start in the last 18 months, denser toward the present."""
        age = max_age_days * DAY * (1.0 - self.rng.random() ** 0.8)
        return self.now - max(age, min_age)

    def clamp(self, t: float) -> float:
        return min(t, self.now - 1.0)

    def session_size(self, median: float, cap: int) -> int:
        return int(min(cap, max(2000.0, self.rng.lognormvariate(0.0, 1.25) * median)))

    # -- projects ---------------------------------------------------------------------
    def _project(self) -> Project:
        r, v = self.rng, self.vocab
        name = f"{v.pseudo[r.randrange(3000)]}-{r.choice(('api', 'app', 'cli', 'web', 'core', 'tools', 'service', 'lab', 'sdk', 'dashboard'))}"
        cwd = f"{self.home}/{r.choice(('code', 'src', 'dev', 'work', 'projects'))}/{name}"
        lang = r.choice(("python", "python", "typescript"))
        idents = list(dict.fromkeys(v.identifier(r) for _ in range(260)))
        writer = tg.CodeWriter(r, v, lang, idents)
        ext = ".py" if lang == "python" else r.choice((".ts", ".tsx"))
        dirs = ["src/" + name.split("-")[0]] + [f"src/{r.choice(idents)}" for _ in range(4)]
        files: list[SourceFile] = []
        for _ in range(r.randint(15, 45)):
            path = f"{r.choice(dirs)}/{r.choice(idents)}{ext}"
            text = writer.file(max(1, int(r.lognormvariate(1.6, 0.8))))
            lines = text.split("\n")[:-1]
            numbered = "\n".join(f"{i:>6}\u2192{line}" for i, line in enumerate(lines, 1))
            files.append(SourceFile(path, text, lines, numbered))
        tests = [
            f"tests/test_{r.choice(idents)}.py" if lang == "python" else f"src/{r.choice(idents)}.test.ts"
            for _ in range(r.randint(4, 20))
        ]
        branches = ["main"] + [
            f"{r.choice(('feat', 'fix', 'chore'))}/{r.choice(idents).replace('_', '-')}" for _ in range(r.randint(1, 5))
        ]
        agents_md = (
            f"# AGENTS.md instructions for {cwd}\n\n<INSTRUCTIONS>\n"
            + "\n".join(f"- {v.sentence(r)}" for _ in range(r.randint(8, 30)))
            + "\n</INSTRUCTIONS>"
        )
        return Project(
            name=name,
            cwd=cwd,
            lang=lang,
            branches=branches,
            repo_url=f"git@github.com:{self.user}/{name}.git",
            idents=idents,
            files=files,
            tests=tests,
            agents_md=agents_md,
            code=writer,
            file_weights=list(itertools.accumulate(1.0 / (i + 1) for i in range(len(files)))),
        )

    def pick_file(self, p: Project) -> SourceFile:
        return self.rng.choices(p.files, cum_weights=p.file_weights)[0]

    # -- prose ------------------------------------------------------------------------
    def mentions(self, p: Project) -> list[str]:
        r = self.rng
        return [f"`{r.choice(p.idents)}`", f"`{self.pick_file(p).path}`", r.choice(p.idents)]

    def prompt(self, p: Project, needle: str | None = None) -> str:
        r, v = self.rng, self.vocab
        text = v.paragraph(r, r.choice((1, 1, 2, 3, 5)), self.mentions(p))
        if r.random() < 0.15:
            f = self.pick_file(p)
            i = r.randrange(len(f.lines) or 1)
            text += "\n\n```\n" + "\n".join(f.lines[i : i + r.randint(2, 12)]) + "\n```"
        if needle:
            text += f" (see {needle})"
        return text

    def answer(self, p: Project) -> str:
        r, v = self.rng, self.vocab
        parts = [v.paragraph(r, r.randint(1, 4), self.mentions(p))]
        if r.random() < 0.4:
            parts.append(
                "\n".join(f"- {v.sentence(r, insert=r.choice(self.mentions(p)))}" for _ in range(r.randint(2, 6)))
            )
        if r.random() < 0.2:
            f = self.pick_file(p)
            i = r.randrange(len(f.lines) or 1)
            parts.append(f"```{p.lang}\n" + "\n".join(f.lines[i : i + r.randint(3, 20)]) + "\n```")
        return "\n\n".join(parts)

    # -- shell ------------------------------------------------------------------------
    def shell(self, p: Project, t: float) -> tuple[str, str, str | None]:
        """A command a developer or agent runs in ``p``, what it prints, and that output
        JSON-encoded (None when not cached)."""
        r = self.rng
        roll = r.random()
        if roll < 0.28:
            f = self.pick_file(p)
            if r.random() < 0.5:
                return f"cat {f.path}", f.text, f.j_text
            end = r.choice(SED_WINDOWS)
            text, enc = f.window(end)
            return f"sed -n '1,{end}p' {f.path}", text, enc
        kind = (
            "grep"
            if roll < 0.45
            else "test"
            if roll < 0.6
            else "status"
            if roll < 0.7
            else "diff"
            if roll < 0.8
            else "log"
            if roll < 0.87
            else "ls"
        )
        key = (kind, int(r.random() * OUTPUT_VARIANTS[kind]))
        got = p.outputs.get(key)
        if got is None:
            cmd, out = self._run(p, kind, t)
            got = p.outputs[key] = (cmd, out, _dumps(out))
        return got

    def _run(self, p: Project, kind: str, t: float) -> tuple[str, str]:
        r = self.rng
        if kind == "grep":
            word = r.choice(p.idents)
            files = [(x.path, x.lines) for x in r.sample(p.files, min(6, len(p.files)))]
            return f'rg -n "{word}" src', tg.grep_output(r, files, word, r.randint(1, 25))
        if kind == "test":
            if p.lang == "python":
                tests = r.sample(p.tests, min(len(p.tests), r.randint(2, 12)))
                return "python -m pytest -q", tg.pytest_output(r, p.cwd, tests, self.vocab)
            return "npm run build", tg.build_log(r, self.vocab, [f.path for f in p.files])
        if kind == "status":
            return "git status", tg.git_status(r, r.choice(p.branches), [f.path for f in p.files])
        if kind == "diff":
            f = self.pick_file(p)
            return f"git diff {f.path}", tg.git_diff(r, f.path, f.lines)
        if kind == "log":
            n = r.randint(5, 30)
            return f"git log --oneline -{n}", tg.git_log(r, self.vocab, n)
        names = sorted({f.path.split("/")[-1] for f in r.sample(p.files, min(len(p.files), 12))})
        return "ls -la", tg.ls_listing(r, names + ["tests/", "README.md", "pyproject.toml"], t)
