"""Seeded text material for the synthetic corpus: words, prose, identifiers, code and the
outputs of common developer commands.

Everything is drawn from a ``random.Random`` passed in by the caller, so the same seed
gives the same text. Speed matters more than beauty here: prose is cut from a long
pre-sampled word stream, code from per-language line templates, so generating tens of
megabytes costs about a second.
"""

from __future__ import annotations

import base64
import itertools
import random
import time

# A hand-written vocabulary of developer English, most frequent first. The generated
# pseudo-words follow it, with Zipf-like frequencies over the whole list.
BASE_WORDS = """
the to a and of it in is that this for you i we can on be with not are as if or but
so now do have will should it's there what when how which need want use make add fix
run check update change remove move keep let me please also just then still again here
file files function test tests error errors code build value list name type path line
config data output input result results module class method field user users request
response server client page table query index session sessions archive search string
number time date log logs message messages command commands step steps issue bug case
cases new old first last next same other each all any only more some one two three
work works working fails failing failed passes passing broken missing wrong right
instead because after before while where into from by at up out about over without
write read open save load call return import export create delete rename refactor
clean handle parse render show hide sort filter merge split wrap print format validate
default option options flag flags setting settings version release branch commit
diff patch review comment docs readme example examples small large fast slow simple
better probably looks seems think sure okay thanks great good bad same different
""".split()

_ONSETS = ("b c d f g h j k l m n p r s t v w br cr dr fl gr pl pr st tr sh ch th sk sl sn sp").split() + [""]
_NUCLEI = "a e i o u ai ea io ou y ee oa".split()
_CODAS = ["", "", "", "n", "r", "s", "t", "l", "m", "x", "nd", "st", "ck", "ng", "rt"]

ANSI = (
    "\x1b[0m",
    "\x1b[1m",
    "\x1b[31m",
    "\x1b[32m",
    "\x1b[33m",
    "\x1b[34m",
    "\x1b[36m",
    "\x1b[1;32m",
    "\x1b[90m",
    "\x1b[38;5;208m",
)


class FastRandom(random.Random):
    """``random.Random`` with cheaper ``choice``/``randint``/``randrange``.

    The standard methods draw exact uniform integers through several Python-level calls;
    scaling one ``random()`` float is several times faster and equally deterministic,
    which is all a corpus generator needs.
    """

    def choice(self, seq):  # type: ignore[override]
        return seq[int(self.random() * len(seq))]

    def randint(self, a: int, b: int) -> int:  # type: ignore[override]
        return a + int(self.random() * (b - a + 1))

    def randrange(self, start: int, stop: int | None = None, step: int = 1) -> int:  # type: ignore[override]
        if stop is None:
            start, stop = 0, start
        if step != 1 or stop <= start:
            return super().randrange(start, stop, step)
        return start + int(self.random() * (stop - start))


def pseudo_word(rng: random.Random) -> str:
    return "".join(
        rng.choice(_ONSETS) + rng.choice(_NUCLEI) + rng.choice(_CODAS) for _ in range(rng.choice((1, 2, 2, 2, 3, 3, 4)))
    )


def uuid4(rng: random.Random) -> str:
    h = "%032x" % rng.getrandbits(128)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:32]}"


def uuid7(rng: random.Random, t: float) -> str:
    """A time-ordered id like the ones Codex puts in rollout file names."""
    h = "%012x" % int(t * 1000) + "%020x" % rng.getrandbits(80)
    return f"{h[:8]}-{h[8:12]}-7{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:32]}"


def hexid(rng: random.Random, n: int) -> str:
    return "%0*x" % (n, rng.getrandbits(4 * n))


_TO_B62 = bytes.maketrans(b"+/", b"Qz")


def base62(rng: random.Random, n: int) -> str:
    """``n`` random letters and digits (ids such as ``msg_01...``)."""
    return base64.b64encode(rng.randbytes(n)).translate(_TO_B62)[:n].decode("ascii")


def blob(rng: random.Random, n: int) -> str:
    """``n`` bytes of noise as URL-safe base64: signatures, encrypted reasoning."""
    return base64.urlsafe_b64encode(rng.randbytes(n)).decode("ascii")


def ms(t: float) -> int:
    """``t`` in whole milliseconds. The small bias makes a time already rounded to the
    millisecond (1.123 stored as 1.12299999...) come out as that millisecond."""
    return int(t * 1000 + 0.001)


_last_second: list = [None, ""]


def iso_ms(t: float) -> str:
    """UTC ISO-8601 with milliseconds and a Z, as agent tools write timestamps."""
    m = ms(t)
    sec = m // 1000
    if _last_second[0] != sec:  # consecutive records mostly share the second's prefix
        _last_second[:] = [sec, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))]
    return "%s.%03dZ" % (_last_second[1], m % 1000)


def plain_time(t: float) -> str:
    g = time.gmtime(t)
    return "%04d-%02d-%02d %02d:%02d:%02d" % g[:6]


class Vocabulary:
    """Ranked words plus a long Zipf-sampled text that prose is cut from.

    Prose is made of fragments (a few consecutive words) cut from the text at random
    offsets, so short word sequences recur, as they do in real prompts, while longer
    passages rarely do. Cutting slices of one prepared string is what makes prose cheap.
    """

    def __init__(self, rng: random.Random, n_pseudo: int = 6000, stream_len: int = 400_000):
        seen = set(BASE_WORDS)
        pseudo: list[str] = []
        while len(pseudo) < n_pseudo:
            w = pseudo_word(rng)
            if len(w) > 2 and w not in seen:
                seen.add(w)
                pseudo.append(w)
        self.pseudo = pseudo
        self.words = BASE_WORDS + pseudo
        # An urn holding each word about 4000/rank times: drawing from it uniformly gives
        # Zipf frequencies, and uniform draws are much cheaper than weighted ones.
        urn: list[str] = []
        for rank, word in enumerate(self.words, 1):
            urn += [word] * max(1, round(4000 / rank**1.05))
        words = rng.choices(urn, k=stream_len)
        # Sentence breaks baked into the text: a capital after, a stop at the end.
        i = 0
        while i < stream_len:
            words[i] = words[i].capitalize()
            i += 5 + int(rng.random() * 18)
            words[min(i, stream_len) - 1] += rng.choice(".......?:!")
        self.text = " ".join(words)
        self.starts = list(itertools.accumulate((len(w) + 1 for w in words), initial=0))
        self.n_words = stream_len

    def fragment(self, rng: random.Random, n: int) -> str:
        """``n`` consecutive words of the text."""
        o = int(rng.random() * (self.n_words - n))
        return self.text[self.starts[o] : self.starts[o + n] - 1]

    def sentence(self, rng: random.Random, n: int | None = None, insert: str | None = None) -> str:
        """A sentence-like string of about ``n`` words, ending with one punctuation mark."""
        n = n or 5 + int(rng.random() * 18)
        if n > 9:
            k = n // 2
            parts = [self.fragment(rng, k), self.fragment(rng, n - k)]
        else:
            parts = [self.fragment(rng, n)]
        if insert:
            parts.insert(int(rng.random() * (len(parts) + 1)), insert)
        s = " ".join(parts).rstrip(".?:!")
        return s[:1].upper() + s[1:] + rng.choice(".....?:!")

    def paragraph(self, rng: random.Random, n: int, inserts: list[str] | None = None) -> str:
        """About ``n`` sentences' worth of prose, with ``inserts`` (identifiers, paths)
        mixed in now and then."""
        parts: list[str] = []
        left, rand = n * 13, rng.random
        while left > 0:
            k = 4 + int(rand() * 11)
            parts.append(self.fragment(rng, k))
            left -= k
            if inserts and rand() < 0.12:
                parts.append(inserts[int(rand() * len(inserts))])
        s = " ".join(parts).rstrip(".?:!")
        return s[:1].upper() + s[1:] + "."

    def identifier(self, rng: random.Random) -> str:
        parts = [
            self.pseudo[int(rng.random() ** 2 * 2500)] if rng.random() < 0.5 else rng.choice(BASE_WORDS[40:])
            for _ in range(rng.choice((1, 2, 2, 3)))
        ]
        return "_".join(parts)


def camel(name: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in name.split("_"))


def lower_camel(name: str) -> str:
    c = camel(name)
    return c[:1].lower() + c[1:]


# -- code ------------------------------------------------------------------------------

_PY_BODY = (
    "    {a} = {b}.{f}({c})",
    "    if {a} is None:",
    "        return {b}",
    "    for {a} in {b}:",
    "        {c}.append({a})",
    "    {a}: {T} = {n}",
    "    return {a}",
    "    # {s}",
    '    logger.debug("{s} %s", {a})',
    '    with open({a}, "rb") as fh:',
    "        {b} = fh.read()",
    '    raise {C}Error(f"{s}: {{{a}!r}}")',
    "    {a} = [{b} for {b} in {c} if {b}.{f}]",
    "    self.{a} = {b}",
    "    try:",
    "        {a} = {f}({b}, {c}={n})",
    "    except {C}Error:",
    "        continue",
    "",
)
_TS_BODY = (
    "  const {A} = await {B}.{F}({C});",
    "  if (!{A}) {{",
    "    return {B};",
    "  }}",
    "  for (const {A} of {B}) {{",
    "    {C}.push({A});",
    "  }}",
    "  // {s}",
    "  let {A}: {T} = {n};",
    "  return {{ ...{A}, {B}: {C} }};",
    "  console.log(`{s} ${{{A}}}`);",
    '  throw new {C}Error("{s}");',
    "  setState((prev) => ({{ ...prev, {A}: {B} }}));",
    "",
)
_PY_TYPES = ("int", "str", "bool", "float", "list[str]", "dict[str, Any]", "Path", "bytes")
_TS_TYPES = ("string", "number", "boolean", "string[]", "Record<string, unknown>", "Promise<void>")


class CodeWriter:
    """Writes code-like files for one project from its identifiers."""

    def __init__(self, rng: random.Random, vocab: Vocabulary, lang: str, idents: list[str]):
        self.rng, self.vocab, self.lang, self.idents = rng, vocab, lang, idents
        self.names = idents if lang == "python" else [lower_camel(i) for i in idents]
        body = _PY_BODY if lang == "python" else _TS_BODY
        self.types = _PY_TYPES if lang == "python" else _TS_TYPES
        # Templates name their slots a b c f (identifiers), n (a number), s (prose), T (a type).
        self.body = [
            (t.replace("{A}", "{a}").replace("{B}", "{b}").replace("{C}", "{c}").replace("{F}", "{f}"), "{s}" in t)
            for t in body
        ]

    def _fill(self, template: str, prose: bool) -> str:
        r, ids = self.rng, self.names
        return template.format(
            a=r.choice(ids),
            b=r.choice(ids),
            c=r.choice(ids),
            f=r.choice(ids),
            n=r.randint(0, 4096),
            s=self.vocab.fragment(r, r.randint(3, 9)) if prose else "",
            T=r.choice(self.types),
        )

    def file(self, n_blocks: int) -> str:
        r, ids = self.rng, self.idents
        lines: list[str] = []
        if self.lang == "python":
            lines += ['"""' + self.vocab.sentence(r) + '"""', "", "from __future__ import annotations", ""]
            lines += [f"from .{r.choice(ids)} import {r.choice(ids)}, {r.choice(ids)}" for _ in range(r.randint(1, 5))]
            lines += ["", "logger = logging.getLogger(__name__)", ""]
            for _ in range(n_blocks):
                if r.random() < 0.2:
                    lines += [
                        "",
                        f"class {camel(r.choice(ids))}({camel(r.choice(ids))}):",
                        f'    """{self.vocab.sentence(r)}"""',
                        "",
                    ]
                args = ", ".join(f"{r.choice(ids)}: {r.choice(_PY_TYPES)}" for _ in range(r.randint(0, 3)))
                lines.append(f"def {r.choice(ids)}({args}) -> {r.choice(_PY_TYPES)}:")
                if r.random() < 0.5:
                    lines.append(f'    """{self.vocab.sentence(r)}"""')
                lines += [self._fill(*r.choice(self.body)) for _ in range(r.randint(3, 14))]
                lines += ["", ""]
        else:
            lines += [
                f'import {{ {camel(r.choice(ids))} }} from "./{lower_camel(r.choice(ids))}";'
                for _ in range(r.randint(1, 6))
            ]
            lines.append("")
            for _ in range(n_blocks):
                args = ", ".join(f"{lower_camel(r.choice(ids))}: {r.choice(_TS_TYPES)}" for _ in range(r.randint(0, 3)))
                lines.append(
                    f"export {'async ' if r.random() < 0.4 else ''}function {lower_camel(r.choice(ids))}({args}) {{"
                )
                lines += [self._fill(*r.choice(self.body)) for _ in range(r.randint(3, 14))]
                lines += ["}", ""]
        return "\n".join(lines) + "\n"


# -- command outputs -------------------------------------------------------------------


def pytest_output(rng: random.Random, cwd: str, tests: list[str], vocab: Vocabulary) -> str:
    n = len(tests)
    lines = [
        "=" * 29 + " test session starts " + "=" * 30,
        "platform linux -- Python 3.11.7, pytest-8.3.2, pluggy-1.5.0",
        f"rootdir: {cwd}",
        "configfile: pyproject.toml",
        f"collected {n * 7} items",
        "",
    ]
    failed = 0
    for i, t in enumerate(tests):
        marks = "".join("F" if rng.random() < 0.04 else "." for _ in range(7))
        failed += marks.count("F")
        lines.append(f"{t} {marks:<50} [{(i + 1) * 100 // n:3d}%]")
    if failed:
        lines += ["", "=" * 36 + " FAILURES " + "=" * 36]
        for _ in range(failed):
            lines += [
                f"____ test_{vocab.identifier(rng)} ____",
                "",
                f"    def test_{vocab.identifier(rng)}():",
                f">       assert {vocab.identifier(rng)}() == {rng.randint(0, 99)}",
                f"E       AssertionError: {vocab.sentence(rng)}",
                "",
            ]
    tail = f"{n * 7 - failed} passed" + (f", {failed} failed" if failed else "")
    lines.append("=" * 20 + f" {tail} in {rng.uniform(0.2, 40):.2f}s " + "=" * 20)
    return "\n".join(lines)


def git_status(rng: random.Random, branch: str, paths: list[str]) -> str:
    lines = [
        f"On branch {branch}",
        "Changes not staged for commit:",
        '  (use "git add <file>..." to update what will be committed)',
        "",
    ]
    lines += [f"\tmodified:   {p}" for p in rng.sample(paths, min(len(paths), rng.randint(1, 6)))]
    return "\n".join(lines) + "\n"


def git_log(rng: random.Random, vocab: Vocabulary, n: int) -> str:
    return "\n".join(f"{hexid(rng, 7)} {vocab.sentence(rng, rng.randint(3, 9))[:-1]}" for _ in range(n))


def git_diff(rng: random.Random, path: str, lines: list[str]) -> str:
    if not lines:
        return ""
    start = rng.randrange(len(lines))
    chunk = lines[start : start + rng.randint(4, 30)]
    out = [
        f"diff --git a/{path} b/{path}",
        f"index {hexid(rng, 7)}..{hexid(rng, 7)} 100644",
        f"--- a/{path}",
        f"+++ b/{path}",
        f"@@ -{start + 1},{len(chunk)} +{start + 1},{len(chunk) + 1} @@",
    ]
    for line in chunk:
        roll = rng.random()
        out.append(("-" if roll < 0.15 else "+" if roll < 0.3 else " ") + line)
    return "\n".join(out)


def ls_listing(rng: random.Random, names: list[str], t: float) -> str:
    g = time.gmtime(t)
    month = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()[g.tm_mon - 1]
    lines = [f"total {rng.randint(8, 400)}"]
    for n in names:
        d = n.endswith("/")
        lines.append(
            f"{'drwxr-xr-x' if d else '-rw-r--r--'}  {rng.randint(1, 9):>2} dev  staff "
            f"{rng.randint(64, 90000):>6} {month} {g.tm_mday:>2} {g.tm_hour:02d}:{g.tm_min:02d} {n.rstrip('/')}"
        )
    return "\n".join(lines)


def grep_output(rng: random.Random, files: list[tuple[str, list[str]]], word: str, n: int) -> str:
    out = []
    for _ in range(n):
        path, lines = rng.choice(files)
        if lines:
            i = rng.randrange(len(lines))
            out.append(f"{path}:{i + 1}:{lines[i]}")
    return "\n".join(out) if out else f"No matches found for {word}"


def build_log(rng: random.Random, vocab: Vocabulary, paths: list[str]) -> str:
    lines = ["> build", "> tsc -p . && vite build", ""]
    for p in rng.sample(paths, min(len(paths), rng.randint(2, 12))):
        lines.append(f"  {p}  {rng.uniform(0.3, 300):.2f} kB │ gzip: {rng.uniform(0.1, 90):.2f} kB")
    if rng.random() < 0.3:
        p = rng.choice(paths)
        lines.append(
            f"{p}({rng.randint(1, 400)},{rng.randint(1, 80)}): error TS{rng.randint(2000, 2999)}: {vocab.sentence(rng)}"
        )
    lines.append(f"✓ built in {rng.uniform(0.5, 30):.2f}s")
    return "\n".join(lines)
