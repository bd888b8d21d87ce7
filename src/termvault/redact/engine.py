"""A compiled multi-pattern prefilter for the redaction rules (Google's RE2).

Each rule and each vendor plugin finds a secret only where one of its patterns matches
somewhere in the text. ``Gate`` derives from those Python patterns, mechanically, RE2
patterns that match a SUPERSET of what they match (look-arounds, anchors and word
boundaries dropped, counted repeats widened, every class given all non-ASCII characters
unless it can hold none), puts them in one ``re2.Set`` and answers, in one linear pass
over the text's UTF-8 bytes, which rules could find anything. The others are skipped:
they would find nothing, so the result is the same as running them all. The rules
themselves still run in Python ``re``, with their exact semantics.

RE2 is optional: when ``google-re2`` cannot be imported, a pattern cannot be translated,
the text is not valid UTF-8 (lone surrogates) or the set's automaton runs out of memory,
every rule runs, as without the prefilter. ``TERMVAULT_RE2=0`` turns it off.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Sequence
from typing import Any

# Counted repeats are widened to keep the set's automaton small: {m,n} becomes
# {min(m, CAP),n}, or {min(m, CAP),} when n > CAP (a superset either way). With the
# counts as written (16, 32, 40 characters...) the automaton of all the patterns together
# outgrew its memory on most texts; at 4 the set gates the real corpus in 0.027 CPU
# seconds (8 at 0.037, 16 at 0.076) and lets about one text in six through to the rules.
_CAP = 4
_NON_ASCII = r"\x{80}-\x{10FFFF}"
_CATEGORY = {
    "CATEGORY_DIGIT": r"\d",
    "CATEGORY_NOT_DIGIT": r"\D",
    "CATEGORY_SPACE": r"\s",
    "CATEGORY_NOT_SPACE": r"\S",
    "CATEGORY_WORD": r"\w",
    "CATEGORY_NOT_WORD": r"\W",
}
_FLAGS = re.IGNORECASE | re.DOTALL | re.ASCII | re.UNICODE


class Untranslatable(ValueError):
    """A pattern construct the superset translation does not handle (a back-reference)."""


def enabled() -> bool:
    return os.environ.get("TERMVAULT_RE2", "1").strip().lower() not in ("0", "false", "no", "off")


def import_re2() -> Any:
    """The ``re2`` module, or None when it is not installed (or turned off)."""
    if not enabled():
        return None
    try:
        import re2  # lazy: a compiled dependency, optional at run time
    except ImportError:
        return None
    return re2


# ---------------------------------------------------------------------------------------
# Python pattern -> RE2 superset
# ---------------------------------------------------------------------------------------


def superset(pattern: re.Pattern[str]) -> str:
    """An RE2 pattern (for UTF-8 text) that matches somewhere in every text where
    ``pattern`` (a ``str`` pattern) matches somewhere, also within any slice of it."""
    from re import _parser  # type: ignore[attr-defined]  # the stdlib's own parse tree

    tree = _parser.parse(pattern.pattern, pattern.flags)
    return _seq(_from_first_literal(list(tree)), pattern.flags & _FLAGS)


def _from_first_literal(nodes: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """``nodes`` without the character classes (and repeats of one) that lead them, when a
    literal follows: what is left matches inside every match of the whole (a superset).
    A pattern led by a class is tried by RE2's automaton at every character of a run of
    that class, all at once, and each combination is a state built on first use: the
    set's first pass over the real corpus cost 0.071 CPU s with them, 0.033 s without
    (later passes 0.023 and 0.017 s)."""
    single = ("IN", "ANY", "NOT_LITERAL")
    for i, (op, av) in enumerate(nodes):
        name = str(op)
        if name == "LITERAL":
            return nodes[i:]
        repeated = name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT") and len(av[2]) == 1
        if not (name in single or (repeated and str(av[2][0][0]) in single)):
            break
    return nodes


def _seq(nodes: list[tuple[Any, Any]], flags: int) -> str:
    return "".join(_node(op, av, flags) for op, av in nodes)


def _node(op: Any, av: Any, flags: int) -> str:
    name = str(op)
    if name in ("LITERAL", "NOT_LITERAL", "ANY", "IN"):
        return _char_class(name, av, flags)
    if name == "BRANCH":
        return "(?:" + "|".join(_seq(list(p), flags) for p in av[1]) + ")"
    if name == "SUBPATTERN":
        _group, add, delete, p = av
        return "(?:" + _seq(list(p), (flags | add) & ~delete & _FLAGS) + ")"
    if name == "ATOMIC_GROUP":
        return "(?:" + _seq(list(av), flags) + ")"
    if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
        lo, hi, p = av
        inner = "(?:" + _seq(list(p), flags) + ")"
        lo = min(lo, _CAP)
        if hi > _CAP:  # (MAXREPEAT, unbounded, too)
            return inner + ("*" if lo == 0 else "+" if lo == 1 else f"{{{lo},}}")
        return inner + f"{{{lo},{hi}}}"
    if name in ("AT", "ASSERT", "ASSERT_NOT"):
        return ""  # an assertion only removes matches: without it, a superset
    if name == "GROUPREF":
        return r"(?s:.)*"  # what a group matched: some text
    raise Untranslatable(name)


def _py_class(name: str, av: Any) -> tuple[str, bool]:
    """The node as a Python pattern of one character, and whether it may match a
    non-ASCII character (when not ignoring case)."""
    if name == "LITERAL":
        return re.escape(chr(av)), av >= 0x80
    if name == "NOT_LITERAL":
        return "[^" + re.escape(chr(av)) + "]", True
    if name == "ANY":
        return ".", True
    parts: list[str] = []
    wide = False
    for op, item in av:
        kind = str(op)
        if kind == "NEGATE":
            parts.insert(0, "^")
            wide = True
        elif kind == "LITERAL":
            parts.append(re.escape(chr(item)))
            wide |= item >= 0x80
        elif kind == "RANGE":
            parts.append(re.escape(chr(item[0])) + "-" + re.escape(chr(item[1])))
            wide |= item[1] >= 0x80
        elif kind == "CATEGORY":
            parts.append(_CATEGORY[str(item)])
            wide = True
        else:
            raise Untranslatable(kind)
    return "[" + "".join(parts) + "]", wide


def _char_class(name: str, av: Any, flags: int) -> str:
    """An RE2 class holding exactly the ASCII characters the node matches (asked of
    Python ``re`` itself) and, if it may match any, every non-ASCII character."""
    source, wide = _py_class(name, av)
    wide = wide or bool(flags & re.IGNORECASE)  # (K matches the Kelvin sign, s the long s)
    if name == "LITERAL" and not wide:
        return _hex(av)
    return _re2_class(source, flags, wide)


@functools.lru_cache(maxsize=256)
def _re2_class(source: str, flags: int, wide: bool) -> str:
    one = re.compile(source, flags)
    members = [c for c in range(128) if one.fullmatch(chr(c))]
    ranges: list[tuple[int, int]] = []
    for c in members:
        if ranges and ranges[-1][1] == c - 1:
            ranges[-1] = (ranges[-1][0], c)
        else:
            ranges.append((c, c))
    body = "".join(_hex(a) if a == b else f"{_hex(a)}-{_hex(b)}" for a, b in ranges)
    if wide:
        body += _NON_ASCII
    return f"[{body}]" if body else r"[^\x00-\x{10FFFF}]"


def _hex(c: int) -> str:
    return f"\\x{{{c:x}}}"


# ---------------------------------------------------------------------------------------
# The gate
# ---------------------------------------------------------------------------------------


class Gate:
    """Which of some groups of Python patterns may match in a text (one RE2 pass)."""

    def __init__(self, re2: Any, groups: Sequence[Sequence[re.Pattern[str]]]) -> None:
        options = re2.Options()
        options.max_mem = 16 << 20
        options.log_errors = False
        options.never_capture = True
        self._set = re2.Set.SearchSet(options)
        self._owner: list[int] = []  # set index -> group
        self.always: set[int] = set()  # groups with a pattern RE2 cannot take: always run
        for g, patterns in enumerate(groups):
            if not patterns:
                self.always.add(g)
            for p in patterns:
                try:
                    translated = superset(p)
                    self._set.Add(translated)
                except Exception:  # Untranslatable, or re2.error: a pattern RE2 refuses
                    self.always.add(g)
                    continue
                self._owner.append(g)
        # Matches at the end of every text: missing from an answer only when the set's
        # automaton gave up (out of memory), and then every group runs.
        self._sentinel = self._set.Add(r"\z")
        self._set.Compile()
        self.groups = len(groups)

    def __call__(self, text: str) -> set[int] | None:
        """The groups that may match in ``text``; None: any may (run them all)."""
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:
            return None
        hits = self._set.Match(data) or []
        if self._sentinel not in hits:
            return None
        out = {self._owner[i] for i in hits if i != self._sentinel}
        out |= self.always
        return out


def rule_patterns() -> dict[str, tuple[re.Pattern[str], ...]]:
    """For each of termvault's rules (by function name): its patterns, one of which
    matches wherever the rule finds a secret."""
    from . import rules as r  # lazy: loaded with the gate, on the first text

    return {
        "_rule_pem": (r._PEM,),
        "_rule_sk": (r._SK,),
        "_rule_github": (r._GITHUB,),
        "_rule_aws": (r._AWS_ID,),
        "_rule_slack": (r._SLACK, r._SLACK_HOOK),
        "_rule_jwt": (r._JWT,),
        "_rule_prefixed": tuple(p for p, _kind, _group in r._PREFIXED),
        "_rule_url": (r._URL_CREDS,),
        "_rule_bearer": (r._BEARER, r._BASIC),
        # The command's name, then its flag within the rest of the command (``args``).
        "_rule_commands": tuple(
            re.compile(command.pattern.split("(?P<args>")[0] + r"[^\n;&|]*(?:" + flag.pattern + ")")
            for command, flag, _kind in r._COMMANDS
        ),
        "_rule_assignment": (r._ASSIGNMENT, r._FLAG),
        "_rule_env_entropy": (r._ENV_VALUE,),
    }
