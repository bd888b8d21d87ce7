"""Pane text for training the shipped dictionary (``bench.build_dictionary``).

Written independently of ``bench.world``/``bench.textgen`` (whose text the size
benchmarks measure): its own word list, its own code and tool-output templates. What it
should teach the dictionary is the shape a terminal pane has (shell prompts, source code
in a few languages as ``cat``/``sed``/``rg`` show it, test runners, git, package
managers, listings, a Claude Code pane's frame and tool lines), not any particular text.
"""

from __future__ import annotations

import random

WORDS = (
    "build test deploy config server client api web docs main feature fix update release cache user "
    "data model view route handler error warning info debug request response status file path module "
    "package install upgrade version branch commit merge remote origin local session queue token worker "
    "job task event stream buffer record index store table schema query result item entry key value "
    "node graph tree parser lexer token render layout widget panel window pane frame state context "
    "loader reader writer scanner builder factory manager service provider adapter client backend "
    "payload message channel socket retry timeout limit offset page cursor batch chunk size count "
    "name label title text line column width height color style theme icon action command option"
).split()
PY_TYPES = ("str", "int", "bool", "float", "bytes", "Path", "dict[str, Any]", "list[str]", "None")
TS_TYPES = ("string", "number", "boolean", "void", "unknown", "Record<string, string>", "string[]")


def word(r: random.Random) -> str:
    if r.random() < 0.25:  # words no dictionary can know, as real projects have
        return "".join(r.choice("bcdfghklmnprstvz") + r.choice("aeiou") for _ in range(r.randint(2, 4)))
    return r.choice(WORDS)


def ident(r: random.Random, n: int = 2) -> str:
    return "_".join(word(r) for _ in range(r.randint(1, n)))


def camel(r: random.Random) -> str:
    first, *rest = [word(r) for _ in range(r.randint(1, 3))]
    return first + "".join(x.title() for x in rest)


def sentence(r: random.Random, n: int) -> str:
    return " ".join(word(r) for _ in range(n)).capitalize()


def py_line(r: random.Random, indent: int) -> str:
    pad = "    " * indent
    a, b, c = ident(r), ident(r), ident(r)
    roll = r.randint(0, 15)
    return pad + (
        f"def {a}(self, {b}: {r.choice(PY_TYPES)}) -> {r.choice(PY_TYPES)}:"
        if roll == 0
        else f"{a} = self.{b}.get({c!r})"
        if roll == 1
        else f"if {a} is None:"
        if roll == 2
        else f"return {a}"
        if roll == 3
        else f"for {a} in {b}:"
        if roll == 4
        else f'raise ValueError(f"{sentence(r, 3).lower()}: {{{a}}}")'
        if roll == 5
        else f"from .{a} import {b}"
        if roll == 6
        else f"import {a}"
        if roll == 7
        else f'"""{sentence(r, r.randint(3, 9))}."""'
        if roll == 8
        else f"self.{a} = {b}"
        if roll == 9
        else f"{a}.append({b}({c}))"
        if roll == 10
        else f"class {camel(r).title()}({r.choice(('Base', 'Exception', 'Protocol', 'object'))}):"
        if roll == 11
        else f"with open({a}, {r.choice(('rb', 'w', 'r'))!r}) as fh:"
        if roll == 12
        else f"assert {a} == {b}"
        if roll == 13
        else f"logger.{r.choice(('info', 'debug', 'warning'))}({sentence(r, 4)!r}, {a})"
        if roll == 14
        else ""
    )


def ts_line(r: random.Random, indent: int) -> str:
    pad = "  " * indent
    a, b = camel(r), camel(r)
    roll = r.randint(0, 13)
    return pad + (
        f"export function {a}({b}: {r.choice(TS_TYPES)}): {r.choice(TS_TYPES)} {{"
        if roll == 0
        else f"const {a} = await {b}.{camel(r)}();"
        if roll == 1
        else f"if (!{a}) {{"
        if roll == 2
        else f"return {a};"
        if roll == 3
        else f"import {{ {a}, {b} }} from './{ident(r, 1)}';"
        if roll == 4
        else "}"
        if roll == 5
        else f"throw new Error(`{sentence(r, 3)}: ${{{a}}}`);"
        if roll == 6
        else f"const [{a}, set{b.title()}] = useState<{r.choice(TS_TYPES)}>();"
        if roll == 7
        else f"export interface {b.title()} {{"
        if roll == 8
        else f"{a}: {r.choice(TS_TYPES)};"
        if roll == 9
        else f"// {sentence(r, r.randint(3, 8))}"
        if roll == 10
        else f"expect({a}).toBe({b});"
        if roll == 11
        else f"console.log('{a}', {b});"
        if roll == 12
        else ""
    )


def go_line(r: random.Random, indent: int) -> str:
    pad = "\t" * indent
    a, b = camel(r), camel(r)
    roll = r.randint(0, 7)
    return pad + (
        f"func ({a[0]} *{b.title()}) {a.title()}(ctx context.Context) error {{"
        if roll == 0
        else f'if err != nil {{\n{pad}\treturn fmt.Errorf("{a}: %w", err)\n{pad}}}'
        if roll == 1
        else f"{a}, err := {b}.{camel(r).title()}(ctx)"
        if roll == 2
        else "}"
        if roll == 3
        else f"fn {ident(r)}(&self, {ident(r, 1)}: &str) -> Result<{r.choice(('String', 'Vec<u8>', '()'))}> {{"
        if roll == 4
        else f"let {ident(r)} = {ident(r)}.{ident(r, 1)}()?;"
        if roll == 5
        else f"#[derive(Debug, Clone{r.choice(('', ', Serialize, Deserialize', ', PartialEq'))})]"
        if roll == 6
        else ""
    )


LANGS = {"py": py_line, "ts": ts_line, "tsx": ts_line, "go": go_line, "rs": go_line}


def source(r: random.Random, ext: str, n: int) -> list[str]:
    line, indent, out = LANGS[ext], 0, []
    for _ in range(n):
        indent = max(0, min(4, indent + r.choice((-1, 0, 0, 0, 1))))
        out.extend(line(r, indent).split("\n"))
    return out


def a_path(r: random.Random) -> tuple[str, str]:
    ext = r.choice(tuple(LANGS))
    top = r.choice(("src", "src", "lib", "app", "pkg", "internal", "tests", "components"))
    sub = r.choice(("", f"{ident(r, 1)}/"))
    return f"{top}/{sub}{ident(r)}.{ext}", ext


def hexid(r: random.Random, n: int) -> str:
    return "".join(r.choice("0123456789abcdef") for _ in range(n))


def run_command(r: random.Random, user: str, t: float) -> tuple[str, list[str]]:
    """A command and what it printed."""
    roll = r.random()
    path, ext = a_path(r)
    if roll < 0.2:
        lines = source(r, ext, r.randint(5, 60))
        if r.random() < 0.5:
            return f"cat {path}", lines
        return f"sed -n '1,{len(lines)}p' {path}", lines
    if roll < 0.32:
        w = ident(r, 1)
        out = []
        for _ in range(r.randint(1, 15)):
            p, e = a_path(r)
            code = source(r, e, 1)[0].strip() or w
            out.append(f"{p}:{r.randint(1, 900)}:{code}")
        return r.choice((f'rg -n "{w}" src', f"grep -rn {w} .", f"git grep {w}")), out
    if roll < 0.45:
        n = r.randint(3, 40)
        tests = [f"tests/test_{ident(r)}.py" for _ in range(r.randint(1, 6))]
        out = [
            "============================= test session starts ==============================",
            f"platform linux -- Python 3.{r.randint(10, 13)}.{r.randint(0, 9)}, pytest-{r.randint(7, 8)}.{r.randint(0, 4)}.{r.randint(0, 3)}, pluggy-1.5.0",
            f"rootdir: /home/{user}/{ident(r, 1)}",
            f"collected {n} items",
            "",
        ]
        out += [
            f"{t_} {'.' * r.randint(1, 20)}{r.choice(('', '', 'F', 's'))}  [{r.randint(1, 100):3d}%]" for t_ in tests
        ]
        if r.random() < 0.4:
            name = ident(r)
            out += [
                "",
                "=================================== FAILURES ===================================",
                f"_________________________________ test_{name} _________________________________",
                "",
                f"    def test_{name}():",
                f">       assert {ident(r)}() == {r.randint(0, 99)}",
                f"E       AssertionError: assert {r.randint(0, 99)} == {r.randint(0, 99)}",
                "",
                f"{tests[0]}:{r.randint(5, 300)}: AssertionError",
                "=========================== short test summary info ============================",
                f"FAILED {tests[0]}::test_{name} - AssertionError: assert {r.randint(0, 9)} == {r.randint(0, 9)}",
            ]
        out.append(
            f"{'=' * r.randint(10, 30)} {n} passed{r.choice(('', f', {r.randint(1, 3)} failed', f', {r.randint(1, 4)} skipped'))} in {r.uniform(0.1, 30):.2f}s {'=' * r.randint(10, 30)}"
        )
        return r.choice(("pytest -q", "python -m pytest", "pytest -x tests/", "uv run pytest")), out
    if roll < 0.55:
        branch = r.choice(("main", "master", "dev", f"feature/{ident(r)}", f"fix/{ident(r)}"))
        out = [f"On branch {branch}"]
        if r.random() < 0.5:
            out += [f"Your branch is {r.choice(('up to date with', 'ahead of'))} 'origin/{branch}'.", ""]
        mods = [a_path(r)[0] for _ in range(r.randint(0, 6))]
        if mods:
            out += ["Changes not staged for commit:", '  (use "git add <file>..." to update what will be committed)']
            out += [f"\t{r.choice(('modified:   ', 'deleted:    ', 'new file:   '))}{m}" for m in mods]
            out += ["", 'no changes added to commit (use "git add" and/or "git commit -a")']
        else:
            out.append("nothing to commit, working tree clean")
        return "git status", out
    if roll < 0.66:
        body = source(r, ext, r.randint(4, 20))
        out = [
            f"diff --git a/{path} b/{path}",
            f"index {hexid(r, 7)}..{hexid(r, 7)} 100644",
            f"--- a/{path}",
            f"+++ b/{path}",
            f"@@ -{r.randint(1, 400)},{r.randint(3, 20)} +{r.randint(1, 400)},{r.randint(3, 20)} @@ {source(r, ext, 1)[0].strip()}",
        ]
        out += [r.choice((" ", " ", " ", "+", "-")) + x for x in body]
        return r.choice(("git diff", f"git diff {path}", "git diff --cached", "git show")), out
    if roll < 0.74:
        out = []
        for _ in range(r.randint(2, 10)):
            if r.random() < 0.5:
                out.append(
                    f"{hexid(r, 7)} {r.choice(('fix', 'feat', 'chore', 'refactor', 'docs', 'test'))}: {sentence(r, r.randint(3, 8)).lower()}"
                )
            else:
                out += [
                    f"commit {hexid(r, 40)}",
                    f"Author: {user.title()} <{user}@{r.choice(('example.com', 'gmail.com', 'corp.dev'))}>",
                    f"Date:   {r.choice(('Mon', 'Tue', 'Wed', 'Thu', 'Fri'))} {r.choice(('Jan', 'Mar', 'Jun', 'Sep', 'Nov'))} {r.randint(1, 28)} {r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d} 2025 +0000",
                    "",
                    f"    {sentence(r, r.randint(3, 9))}",
                    "",
                ]
        return r.choice(("git log --oneline -10", "git log -3", "git log --oneline")), out
    if roll < 0.82:
        out = [f"total {r.randint(8, 400)}"]
        for _ in range(r.randint(2, 14)):
            d = r.random() < 0.3
            out.append(
                f"{'drwxr-xr-x' if d else '-rw-r--r--'}  {r.randint(1, 9):2d} {user}  {r.choice(('staff', user))}  {r.randint(64, 99999):6d} "
                f"{r.choice(('Jan', 'Feb', 'Apr', 'May', 'Jul', 'Oct', 'Dec'))} {r.randint(1, 28):2d} {r.randint(0, 23):02d}:{r.randint(0, 59):02d} "
                f"{ident(r) if d else a_path(r)[0].rsplit('/', 1)[-1]}"
            )
        return r.choice(("ls -la", "ls -l", "ll", f"ls -la {ident(r, 1)}")), out
    if roll < 0.92:
        pkg = ident(r, 1)
        out = r.choice(
            (
                [f"   Compiling {ident(r, 1)} v0.{r.randint(1, 20)}.{r.randint(0, 9)}" for _ in range(r.randint(1, 8))]
                + [f"    Finished `dev` profile [unoptimized + debuginfo] target(s) in {r.uniform(0.5, 60):.2f}s"],
                [
                    f"added {r.randint(1, 900)} packages, and audited {r.randint(1, 900)} packages in {r.randint(1, 30)}s",
                    "",
                    f"{r.randint(10, 200)} packages are looking for funding",
                    "  run `npm fund` for details",
                    "",
                    "found 0 vulnerabilities",
                ],
                [
                    f"Collecting {pkg}",
                    f"  Downloading {pkg}-{r.randint(0, 9)}.{r.randint(0, 20)}.{r.randint(0, 9)}-py3-none-any.whl ({r.randint(10, 900)} kB)",
                    f"Successfully installed {pkg}-{r.randint(0, 9)}.{r.randint(0, 20)}.{r.randint(0, 9)}",
                ],
                [f"ok  \tgithub.com/{user}/{pkg}/{ident(r, 1)}\t{r.uniform(0, 3):.3f}s" for _ in range(r.randint(1, 6))]
                + ["PASS"],
                [
                    f"{a_path(r)[0]}({r.randint(1, 300)},{r.randint(1, 80)}): error TS{r.randint(2000, 2800)}: Property '{camel(r)}' does not exist on type '{camel(r).title()}'."
                ],
            )
        )
        return r.choice(
            ("cargo build", "npm install", f"pip install {pkg}", "go test ./...", "npx tsc --noEmit", "npm run build")
        ), out
    return r.choice(
        (f"cd {ident(r, 1)}", "clear", f"vim {path}", f"code {path}", "cd ..", f"export {ident(r).upper()}=1")
    ), []


def shell_pane(r: random.Random, user: str, cwd: str, n: int, t: float) -> tuple[list[str], int, str | None]:
    host = r.choice(("laptop", "mbp", "dev", "workstation", "box"))
    tail = cwd.split(user, 1)[1] if user in cwd else cwd
    prompt = r.choice(
        (f"{user}@{host}:~{tail}$ ", f"➜  {tail.rsplit('/', 1)[-1]} git:(main) ", f"({tail.rsplit('/', 1)[-1]}) $ ")
    )
    lines: list[str] = []
    count, last = 0, None
    while len(lines) < n + 5:
        t += r.uniform(2, 300)
        cmd, out = run_command(r, user, t)
        lines.append(prompt + cmd)
        lines.extend(out)
        count, last = count + 1, cmd
    return lines, count, last


def _box(width: int, rows: list[str]) -> list[str]:
    inner = width - 2
    return (
        ["╭" + "─" * inner + "╮"]
        + ["│ " + x[: inner - 2].ljust(inner - 2) + " │" for x in rows]
        + ["╰" + "─" * inner + "╯"]
    )


def claude_pane(r: random.Random, user: str, cwd: str, n: int, t: float) -> tuple[list[str], int, str | None]:
    width = r.choice((60, 80, 100, 120))
    lines = _box(
        width,
        ["✻ Welcome to Claude Code!", "", "  /help for help, /status for your current setup", "", f"  cwd: {cwd}"],
    ) + [""]
    count, last = 0, None
    while len(lines) < n + 8:
        prompt = sentence(r, r.randint(3, 14)).lower()
        lines += [f"> {prompt}", ""]
        count, last = count + 1, prompt
        for _ in range(r.randint(1, 5)):
            path = a_path(r)[0]
            tool = r.choice(("Read", "Update", "Bash", "Search", "Write", "List"))
            if tool == "Bash":
                cmd, out = run_command(r, user, t)
                first = next((x for x in out if x.strip()), "(no content)")
                lines += [f"● Bash({cmd[:60]})", f"  ⎿  {first[: width - 6]}"]
                if len(out) > 1 and r.random() < 0.5:
                    lines += [f"     {x[: width - 6]}" for x in out[1:4]] + [
                        f"     … +{r.randint(2, 80)} lines (ctrl+r to expand)"
                    ]
            elif tool == "Read":
                lines += [f"● Read({path})", f"  ⎿  Read {r.randint(10, 900)} lines (ctrl+r to expand)"]
            elif tool == "Update":
                lines += [
                    f"● Update({path})",
                    f"  ⎿  Updated {path} with {r.randint(1, 40)} additions and {r.randint(0, 20)} removals",
                ]
            elif tool == "Write":
                lines += [f"● Write({path})", f"  ⎿  Wrote {r.randint(5, 300)} lines to {path}"]
            elif tool == "List":
                lines += [
                    f"● List({path.rsplit('/', 1)[0]})",
                    f"  ⎿  Listed {r.randint(2, 90)} paths (ctrl+r to expand)",
                ]
            else:
                lines += [f'● Search(pattern: "{ident(r)}")', f"  ⎿  Found {r.randint(1, 40)} files (ctrl+r to expand)"]
            lines.append("")
        lines += [f"● {sentence(r, r.randint(5, 20))}.", ""]
    lines += _box(width, [">"]) + [r.choice(("  ? for shortcuts", "  ⏵⏵ auto-accept edits on (shift+tab to cycle)"))]
    return lines, count, last
