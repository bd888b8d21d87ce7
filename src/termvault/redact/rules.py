"""termvault's own detection rules: formats detect-secrets does not cover, assignments
(``password=...``, ``"token": "..."``), command-line credentials and high-entropy values
in env-like assignments. ``termvault.redact`` runs them together with the vendor formats.

Each rule is a function ``text -> Iterator[Secret]`` over a precompiled pattern that starts
with a literal or a small character set (which lets ``re`` skip ahead in C); Python code
runs only on candidate matches, which are rare.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

# Bits per character above which a long value in an env-like assignment counts as random.
ENTROPY_THRESHOLD = 3.5
# A lower bar when the variable name itself says it holds a credential (FOO_KEY, X_TOKEN).
ENTROPY_THRESHOLD_NAMED = 3.0
MIN_ENTROPY_LENGTH = 20


@dataclass(frozen=True, slots=True)
class Secret:
    """A secret found in a text: ``text[start:end]`` is what ``redact`` replaces."""

    kind: str
    start: int
    end: int


def shannon_entropy(value: str) -> float:
    """Shannon entropy of ``value`` in bits per character (0.0 for an empty string)."""
    n = len(value)
    if not n:
        return 0.0
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


# ---------------------------------------------------------------------------------------
# Helpers shared by the rules
# ---------------------------------------------------------------------------------------

_ALNUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_TOKEN_CHARS = _ALNUM | {"_", "-"}


def _starts_word(text: str, i: int, chars: frozenset[str] = _ALNUM) -> bool:
    """True when ``text[i]`` is not glued to a preceding character of ``chars``.

    Rules check this in Python rather than with a leading ``\\b`` because a leading
    assertion stops ``re`` from jumping to the literal prefix, which costs 30x in speed.
    """
    return i == 0 or text[i - 1] not in chars


def _has_digit(s: str) -> bool:
    return any(c.isdigit() for c in s)


def _has_alpha(s: str) -> bool:
    return any(c.isalpha() for c in s)


def _mixed_case(s: str) -> bool:
    return any(c.isupper() for c in s) and any(c.islower() for c in s)


Rule = Callable[[str], Iterator[Secret]]


# ---------------------------------------------------------------------------------------
# Vendor token formats
# ---------------------------------------------------------------------------------------

_SK = re.compile(r"sk-[A-Za-z0-9_-]{20,}")


def _rule_sk(text: str) -> Iterator[Secret]:
    """Anthropic ``sk-ant-...`` and OpenAI ``sk-...`` / ``sk-proj-...`` keys."""
    for m in _SK.finditer(text):
        if not _starts_word(text, m.start(), _TOKEN_CHARS):
            continue
        body = m.group()[3:]
        # A real key has digits and letters; this keeps kebab-case words (sk-learn-...) out.
        if not (_has_digit(body) and _has_alpha(body)):
            continue
        kind = "anthropic-key" if body.startswith("ant-") else "openai-key"
        yield Secret(kind, m.start(), m.end())


_GITHUB = re.compile(r"g(?:h[pousr]_[A-Za-z0-9]{36,255}|ithub_pat_[A-Za-z0-9_]{22,255})(?![A-Za-z0-9])")


def _rule_github(text: str) -> Iterator[Secret]:
    for m in _GITHUB.finditer(text):
        if _starts_word(text, m.start()) and _has_digit(m.group()):
            yield Secret("github-token", m.start(), m.end())


_AWS_ID = re.compile(r"A[KS]IA[0-9A-Z]{16}(?![0-9A-Za-z])")
_AWS_SECRET_NEAR = re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
_HEX_ONLY = re.compile(r"[0-9a-fA-F-]+")


def _rule_aws(text: str) -> Iterator[Secret]:
    """AWS access key ids, and a 40-character secret that follows one on the same line
    (credentials CSV files, ``aws configure list`` output, pasted key pairs)."""
    for m in _AWS_ID.finditer(text):
        if not _starts_word(text, m.start()):
            continue
        yield Secret("aws-key-id", m.start(), m.end())
        line_end = text.find("\n", m.end(), m.end() + 200)
        near = _AWS_SECRET_NEAR.search(text, m.end(), line_end if line_end >= 0 else m.end() + 200)
        if near and _mixed_case(near.group()) and not _HEX_ONLY.fullmatch(near.group()):
            yield Secret("aws-secret", near.start(), near.end())


_SLACK = re.compile(r"x(?:ox[abposr]|app)-[A-Za-z0-9-]{10,}")
_SLACK_HOOK = re.compile(r"hooks\.slack\.com/(?:services|workflows|triggers)/([A-Za-z0-9_/-]{8,})")


def _rule_slack(text: str) -> Iterator[Secret]:
    for m in _SLACK.finditer(text):
        if _starts_word(text, m.start()) and _has_digit(m.group()):
            yield Secret("slack-token", m.start(), m.end())
    for m in _SLACK_HOOK.finditer(text):
        yield Secret("slack-webhook", m.start(1), m.end(1))


_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")


def _rule_jwt(text: str) -> Iterator[Secret]:
    for m in _JWT.finditer(text):
        if _starts_word(text, m.start(), _TOKEN_CHARS):
            yield Secret("jwt", m.start(), m.end())


# The body allows only what a key block holds (header lines such as "Proc-Type: ...",
# then base64 with real or JSON-escaped newlines), so a BEGIN line quoted in code is not
# joined to an END line further down, and the search for END stops at the first "-":
# linear time even over thousands of BEGIN lines. Without an END (the text was cut), the
# block runs over the base64 lines that follow.
_NL = r"(?:\r?\n|(?:\\r)?\\n)"
_PEM_HEADERS = rf"(?:{_NL}[A-Za-z-]+:[^\r\n\\]*)*"
_PEM = re.compile(
    r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
    + _PEM_HEADERS
    + r"(?:[A-Za-z0-9+/=\s\\]{0,65536}?-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
    + rf"|(?:{_NL}[ \t]*)*(?:{_NL}[A-Za-z0-9+/=]{{16,}})+)"
)


def _rule_pem(text: str) -> Iterator[Secret]:
    for m in _PEM.finditer(text):
        yield Secret("private-key", m.start(), m.end())


_URL_CREDS = re.compile(r"://([^\s:/@\"'<>\[\]]{0,256}):([^\s/@\"'<>\[\]]{1,256})@")


def _rule_url(text: str) -> Iterator[Secret]:
    """The password of ``scheme://user:password@host`` (or ``redis://:password@host``);
    the user name stays."""
    for m in _URL_CREDS.finditer(text):
        if m.group(2)[0] not in "${%":
            yield Secret("url-password", m.start(2), m.end(2))


# "earer" is a literal prefix re can jump to; the B/b is checked behind it (a pattern
# starting with [Bb] is scanned position by position, five times slower).
_BEARER = re.compile(r"earer(?<=[Bb]earer)[ \t]+([A-Za-z0-9._~+/-]{16,}=*)")
_BASIC = re.compile(r"Basic[ \t]+([A-Za-z0-9+/]{16,}=*)")


def _rule_bearer(text: str) -> Iterator[Secret]:
    """``Authorization: Bearer <token>`` / ``Basic <base64>`` credentials."""
    for pattern, offset in ((_BEARER, 1), (_BASIC, 0)):
        for m in pattern.finditer(text):
            value = m.group(1)
            if _starts_word(text, m.start() - offset) and _has_digit(value) and _has_alpha(value):
                yield Secret("bearer-token", m.start(1), m.end(1))


# ---------------------------------------------------------------------------------------
# Assignments: password=..., "token": "...", api_key: ..., --password ...
# ---------------------------------------------------------------------------------------

# (words, kind): the name must END with one of these (DB_PASSWORD, accessToken,
# aws_secret_access_key); names that merely contain them (max_tokens, token_count,
# password_hash) are not assignments of a secret.
_KEYWORDS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("password",), "password"),
    (("passwd",), "password"),
    (("passphrase",), "password"),
    (("secret",), "secret"),
    (("secret", "key"), "secret"),
    (("secret", "key", "base"), "secret"),
    (("secret", "access", "key"), "aws-secret"),
    (("private", "key"), "private-key"),
    (("token",), "token"),
    (("api", "key"), "api-key"),
)


def _spellings(words: tuple[str, ...]) -> set[str]:
    """snake/kebab/flat in lower, UPPER and Title case, plus camelCase."""
    sep = "[_-]?"
    return {
        sep.join(words),
        sep.join(w.upper() for w in words),
        sep.join(w.capitalize() for w in words),
        words[0] + sep.join(w.capitalize() for w in words[1:]) if len(words) > 1 else words[0],
    }


def _keyword_alternatives() -> tuple[str, dict[str, str]]:
    spellings: set[str] = set()
    kinds: dict[str, str] = {}
    for words, kind in _KEYWORDS:
        spellings |= _spellings(words)
        kinds["".join(words)] = kind
    spellings.add("API[_-]?Key")
    # Grouped by first letter: ``re`` then scans for {p,P,s,S,t,T,a,A} in C and tries a
    # handful of alternatives at each hit instead of all of them (twice as fast). Order
    # does not matter: the separator required after the name makes the match unambiguous.
    by_first: dict[str, list[str]] = {}
    for s in sorted(spellings):
        by_first.setdefault(s[0], []).append(s[1:])
    return "|".join(f"{c}(?:{'|'.join(rest)})" for c, rest in by_first.items()), kinds


_KW_ALTS, _KW_KINDS = _keyword_alternatives()
_ASSIGNMENT = re.compile(
    rf"(?P<kw>{_KW_ALTS})"
    r"(?P<q>\\?[\"'])?\]?"
    r"(?P<sp1>[ \t]*)(?P<sep>:=|=>|[:=](?!=))(?P<sp2>[ \t]*)"
    r"(?:\\(?P<eq>[\"'])(?P<ev>[^\"'\\\r\n]{1,512})"
    r"|\"(?P<dv>(?:[^\"\\\r\n]|\\[^\r\n]){1,512})"
    r"|'(?P<sv>(?:[^'\\\r\n]|\\[^\r\n]){1,512})"
    r"|(?P<uv>[^\s\"'`,;&|)}\]\\]{1,512}))"
)
# `--password hunter2` on a command line.
_FLAG = re.compile(rf"--(?P<kw>{_KW_ALTS})[ \t]+(?P<uv>[^\s\"'`,;&|)}}\]\\-][^\s\"'`,;&|)}}\]\\]{{0,511}})")

_NULLISH = frozenset(
    [
        "none",
        "null",
        "nil",
        "true",
        "false",
        "undefined",
        "string",
        "str",
        "bool",
        "boolean",
        "int",
        "number",
        "any",
        "object",
        "optional",
        "required",
        "redacted",
        "hidden",
    ]
)
_QUOTED_SKIP_START = ("$", "%", "{", "<", "*", "[REDACTED")
_UNQUOTED_SKIP_START = tuple("$%{<[(*#!=>?@")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
# Package versions ("jsonwebtoken": "^9.0.2").
_VERSION = re.compile(r"[\^~<>=v]*\d+(?:\.[0-9A-Za-z-]+)+")
# Documentation placeholders (your_api_key_here, <token>, your-key).
_PLACEHOLDER = re.compile(
    r"(?i)[a-z_ .-]*(?<![a-z])(?:your|here|example|placeholder|dummy|sample|xxx+)(?![a-z])[a-z_ .-]*"
)
# A bare name (STRIPE_SECRET_KEY) names a value held elsewhere; so does an attribute path
# (settings.api_key, process.env.X, android.os.BinderProxy@2bd7); a call, subscript or
# object literal (os.getenv(, request.form[, AppWindowToken{9f4e) computes one.
_IDENT = re.compile(r"[A-Za-z_]+")
_DOTTED = re.compile(r"[A-Za-z_]+(?:\.[A-Za-z_]+)+")
_CALL = re.compile(r"[A-Za-z_][\w.]*[(\[{]")


def _assignment_kind(keyword: str) -> str:
    flat = keyword.replace("_", "").replace("-", "").lower()
    return _KW_KINDS.get(flat, "secret")


def _is_literal_secret(value: str, quoted: bool, env_style: bool) -> bool:
    """Whether an assigned value is a literal worth hiding rather than a reference,
    placeholder, type or empty value."""
    v = value.strip()
    if not v or v.lower() in _NULLISH or _VERSION.fullmatch(v) or _PLACEHOLDER.fullmatch(v):
        return False
    if quoted:
        return not v.startswith(_QUOTED_SKIP_START)
    if v.startswith(_UNQUOTED_SKIP_START) or _NUMBER.fullmatch(v) or _CALL.match(v):
        return False
    if _DOTTED.match(v):
        return False
    # In a shell or env file (NAME=value, YAML KEY: value) every word is a literal; in code
    # (api_key = STRIPE_SECRET_KEY, password: string) a bare name is a reference.
    return env_style or not _IDENT.fullmatch(v)


def _in_url_userinfo(text: str, at: int) -> bool:
    """Whether ``text[at]`` is inside a URL's ``user:password@`` part (a ``://`` before it
    with no white space between)."""
    start = max(0, at - 256)
    chunk = text[start:at]
    cut = max(chunk.rfind(c) for c in " \t\n\"'")
    return "://" in chunk[cut + 1 :]


# Every spelling of an assignment's name starts with one of these, lowercased: a match of
# ``_ASSIGNMENT`` (or ``_FLAG``, two characters earlier) can start only where one does.
# ``str.find`` finds them in C far faster than ``re`` tries the names' first letters
# (``p``, ``s``, ``t``, ``a``: a few characters in ten) position by position.
_KW_STARTS = ("pass", "secret", "private", "token", "api")
_KW_STARTS_BYTES = tuple(w.encode("ascii") for w in _KW_STARTS)


def keyword_starts(text: str) -> list[int] | None:
    """The sorted positions where a name ``_ASSIGNMENT`` takes may start; None when the
    lowercased text is longer (a character like ``İ``: positions would shift)."""
    # An ASCII text is lowercased and searched as bytes (same positions; both in C and
    # several times cheaper than ``str.lower`` and ``str.find``).
    if text.isascii():
        return _found(text.encode("ascii").lower(), _KW_STARTS_BYTES)
    low = text.lower()
    return _found(low, _KW_STARTS) if len(low) == len(text) else None


def _found(low: Any, words: tuple[Any, ...]) -> list[int]:
    """Every position of each of ``words`` in ``low`` (str or bytes, as they are), sorted."""
    at: list[int] = []
    for word in words:
        i = low.find(word)
        while i >= 0:
            at.append(i)
            i = low.find(word, i + 1)
    at.sort()
    return at


def matches_from(pattern: re.Pattern[str], text: str, starts: list[int] | None) -> Iterator[re.Match[str]]:
    """``pattern.finditer(text)`` for a pattern whose matches can only start at ``starts``
    (all of them; None: anywhere): tried there only, left to right, never inside the
    previous match."""
    if starts is None:
        yield from pattern.finditer(text)
        return
    end = 0
    for i in starts:
        if i >= end and (m := pattern.match(text, i)) is not None:
            yield m
            end = m.end()


def _rule_assignment(text: str) -> Iterator[Secret]:
    starts = keyword_starts(text)
    for m in matches_from(_ASSIGNMENT, text, starts):
        group = next(g for g in ("ev", "dv", "sv", "uv") if m.group(g) is not None)
        value = m.group(group)
        keyword = m.group("kw")
        env_style = (
            keyword.isupper()
            and m.group("q") is None
            and (m.group("sep") == ":" or not (m.group("sp1") or m.group("sp2")))
        )
        if group == "uv" and m.group("sep") == ":" and _in_url_userinfo(text, m.start()):
            continue  # https://x-access-token:<token>@host: the URL rule hides the token only
        if _is_literal_secret(value, group != "uv", env_style):
            yield Secret(_assignment_kind(keyword), m.start(group), m.end(group))
    flags = None if starts is None else [i - 2 for i in starts if i >= 2 and text.startswith("--", i - 2)]
    for m in matches_from(_FLAG, text, flags):
        if _is_literal_secret(m.group("uv"), False, False):
            yield Secret(_assignment_kind(m.group("kw")), m.start("uv"), m.end("uv"))


# ---------------------------------------------------------------------------------------
# High-entropy values in env-like assignments (FOO_KEY=..., export X="...")
# ---------------------------------------------------------------------------------------

# Anchored on "=" (a cheap literal); the name before it is checked only for candidates.
# The value alphabet is base64/base64url, so paths with dots, URLs, host names and
# data: URLs never qualify.
_ENV_VALUE = re.compile(rf"=[ \t]*[\"']?([A-Za-z0-9+/_~-]{{{MIN_ENTROPY_LENGTH},}}={{0,3}})(?=[\s\"';&|)]|\Z)")
_ENV_NAME = re.compile(r"(?:^|(?<=[\s;&|(`]))([A-Za-z_][A-Za-z0-9_]*)[ \t]*\Z", re.MULTILINE)
# Whole words of the name only: AUTHOR, COMPASS and DESIGN hold no credential.
_SECRETISH_NAME = re.compile(
    r"(?i)(?:^|_)(?:key|apikey|secret|token|pass(?:word|wd|phrase)?|pwd|auth|creds?|"
    r"credentials?|salt|sig|signature|private)(?:_|$)"
)
_PATH_SEGMENT = re.compile(r"[A-Za-z0-9][a-z0-9_~-]*")


def _looks_like_path(v: str) -> bool:
    if v[0] in "/~.-":
        return True
    parts = v.split("/")
    # Base64 has capitals scattered everywhere; path segments are lower-case words.
    return len(parts) > 2 and all(_PATH_SEGMENT.fullmatch(p) for p in parts if p)


def _rule_env_entropy(text: str) -> Iterator[Secret]:
    for m in _ENV_VALUE.finditer(text):
        eq = m.start()
        name = _ENV_NAME.search(text, max(0, eq - 128), eq)
        if name is None:
            continue
        value = m.group(1)
        if _looks_like_path(value):
            continue
        entropy = shannon_entropy(value)
        if _SECRETISH_NAME.search(name.group(1)):
            ok = entropy >= ENTROPY_THRESHOLD_NAMED and (_has_digit(value) or _mixed_case(value))
        else:
            # UUIDs, git and sha256 digests are hex: identifiers, not credentials.
            ok = (
                entropy >= ENTROPY_THRESHOLD
                and _has_digit(value)
                and _mixed_case(value)
                and not _HEX_ONLY.fullmatch(value)
            )
        if ok:
            yield Secret("high-entropy", m.start(1), m.end(1))


# ---------------------------------------------------------------------------------------
# Vendor formats detect-secrets does not know (termvault.redact.vendor runs its plugins)
# ---------------------------------------------------------------------------------------

# (pattern, kind, group): prefixed tokens; each must not be glued to a word before it.
_PREFIXED: tuple[tuple[re.Pattern[str], str, int], ...] = (
    (re.compile(r"AIza[0-9A-Za-z_-]{35}"), "google-api-key", 0),
    # Hugging Face user access tokens: hf_ and 34 letters (older ones also digits).
    (re.compile(r"hf_[A-Za-z0-9]{30,}"), "huggingface-token", 0),
    (re.compile(r"npm_[A-Za-z0-9]{36,}"), "npm-token", 0),
    (re.compile(r"discord(?:app)?\.com/api/webhooks/[0-9]{5,30}/([A-Za-z0-9_-]{20,})"), "discord-webhook", 1),
)


def _rule_prefixed(text: str) -> Iterator[Secret]:
    for pattern, kind, group in _PREFIXED:
        for m in pattern.finditer(text):
            value = m.group(group)
            if group == 0 and not (_starts_word(text, m.start(), _TOKEN_CHARS) and _mixed_case(value)):
                continue
            yield Secret(kind, m.start(group), m.end(group))


# ---------------------------------------------------------------------------------------
# Credentials typed on a command line
# ---------------------------------------------------------------------------------------

# The rest of a shell command: up to the next separator or line end.
_ARGS = r"(?P<args>[^\n;&|]{0,500})"
# (command pattern, flag pattern inside its arguments): the flag's value is the secret.
# mysql/mariadb take the password glued to -p (a lone -p prompts for it); the others take
# it glued or as the next word.
_VALUE = r"(?P<v>'[^'\n]+'|\"[^\"\n]+\"|[^\s'\"]+)"
_COMMANDS: tuple[tuple[re.Pattern[str], re.Pattern[str], str], ...] = (
    (re.compile(r"mysql[a-z]*\b" + _ARGS), re.compile(r"(?:^|[ \t])-p" + _VALUE), "password"),
    (re.compile(r"mariadb[a-z-]*\b" + _ARGS), re.compile(r"(?:^|[ \t])-p" + _VALUE), "password"),
    (re.compile(r"sshpass\b" + _ARGS), re.compile(r"(?:^|[ \t])-p[ \t]*" + _VALUE), "password"),
    # docker/podman/helm registry login -u me -p PASSWORD
    (re.compile(r"login\b" + _ARGS), re.compile(r"(?:^|[ \t])-p[ \t]+" + _VALUE), "password"),
    (re.compile(r"twine\b" + _ARGS), re.compile(r"(?:^|[ \t])-p[ \t]+" + _VALUE), "password"),
    # curl -u user:password / --user user:password: the part after the first colon.
    (
        re.compile(r"curl\b" + _ARGS),
        re.compile(r"(?:^|[ \t])(?:-u|--user)(?:[ \t]+|=)?(['\"]?)[^\s:'\"\[]*:(?P<v>[^\s'\"]+)\1"),
        "password",
    ),
)
_REFERENCE_START = tuple("$%{<`-[")  # [ : already [REDACTED:...]


def _rule_commands(text: str) -> Iterator[Secret]:
    for command, flag, kind in _COMMANDS:
        for m in command.finditer(text):
            if not _starts_word(text, m.start(), _TOKEN_CHARS | {"/", "."}):
                continue
            base = m.start("args")
            for f in flag.finditer(m.group("args")):
                start, end = f.span("v")
                value = f.group("v")
                if value[0] in "'\"":
                    start, end, value = start + 1, end - 1, value[1:-1]
                if value.startswith(_REFERENCE_START) or _PLACEHOLDER.fullmatch(value):
                    continue
                yield Secret(kind, base + start, base + end)


RULES: tuple[Rule, ...] = (
    _rule_pem,
    _rule_sk,
    _rule_github,
    _rule_aws,
    _rule_slack,
    _rule_jwt,
    _rule_prefixed,
    _rule_url,
    _rule_bearer,
    _rule_commands,
    _rule_assignment,
    _rule_env_entropy,
)
