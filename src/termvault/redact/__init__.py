"""Secret detection and redaction: the one package that knows what a secret looks like.

``redact(text)`` replaces each secret with ``[REDACTED:<kind>]``; ``find_secrets(text)``
returns where they are; ``redact_data(value)`` redacts every string inside a JSON-like
value (metadata). They run over every session's searchable text and metadata before it
is indexed and over every rendered export, so they are built for speed.

Two sets of rules run together:

- vendor token formats from the detect-secrets package's plugins (``vendor``), so new
  formats arrive with that maintained project rather than a private list;
- termvault's own rules (``rules``) where detect-secrets falls short: whole blocks of
  private keys, formats it lacks (Google, Hugging Face, npm, Discord webhooks, Slack app
  tokens), credentials typed on command lines (``mysql -pPW``, ``curl -u user:pw``,
  ``sshpass -p``), assignments (``password=...``, ``"token": "..."``, YAML ``passwd:``)
  and high-entropy values in env-like assignments.

A caller may rely on:

- kinds are short stable names, listed in ``KINDS``;
- overlapping findings are merged (the union is redacted) and reported under the most
  specific kind, so no part of a secret found by any rule survives;
- redaction is idempotent: ``redact(redact(t)) == redact(t)``;
- for assignments (``password=...``, ``"token": "..."``) only the value is replaced, the
  name stays readable;
- references and placeholders are left alone: ``$TOKEN``, ``${TOKEN}``, ``None``,
  ``""``, a bare identifier such as ``api_key = STRIPE_SECRET_KEY`` or a type annotation
  such as ``password: string``; so are hashes, UUIDs and ordinary base64.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ..lazy import exports

if TYPE_CHECKING:
    from .rules import Secret

# The rules (some fifty compiled patterns) load on the first text that may hold a secret:
# a command that only reads the index, e.g. ``termvault stats``, never compiles them.

# Most specific first: when findings overlap, the merged span takes the earliest kind.
KINDS: tuple[str, ...] = (
    "private-key",
    "anthropic-key",
    "openai-key",
    "github-token",
    "gitlab-token",
    "aws-key-id",
    "aws-secret",
    "stripe-key",
    "google-api-key",
    "huggingface-token",
    "npm-token",
    "pypi-token",
    "sendgrid-key",
    "twilio-key",
    "mailchimp-key",
    "square-secret",
    "telegram-token",
    "azure-storage-key",
    "discord-token",
    "discord-webhook",
    "slack-token",
    "slack-webhook",
    "jwt",
    "url-password",
    "bearer-token",
    "api-key",
    "password",
    "secret",
    "token",
    "high-entropy",
)
_RANK = {kind: i for i, kind in enumerate(KINDS)}


def marker(kind: str) -> str:
    """The replacement written in place of a secret of ``kind``."""
    return f"[REDACTED:{kind}]"


def redact(text: str) -> str:
    """``text`` with every secret replaced by ``[REDACTED:<kind>]``; the same object when
    nothing was found. ``None`` or an empty string is returned unchanged."""
    if not text:
        return text
    secrets = find_secrets(text)
    if not secrets:
        return text
    out: list[str] = []
    pos = 0
    for s in secrets:
        out.append(text[pos : s.start])
        out.append(marker(s.kind))
        pos = s.end
    out.append(text[pos:])
    return "".join(out)


def redact_data(value: Any) -> Any:
    """``value`` with every string in it redacted: dicts (values only; keys are names),
    lists and tuples are walked, other values returned as they are. A new container is
    built only where something changed."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        out = {k: redact_data(v) for k, v in value.items()}
        return value if all(out[k] is value[k] for k in value) else out
    if isinstance(value, (list, tuple)):
        items = [redact_data(v) for v in value]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else type(value)(items)
    return value


# Metadata (names, folders, commands) and most turns of a conversation are short and hold
# nothing; one scan for what each rule needs somewhere in a secret (its vendor prefix or
# anchor, a command-line flag, ``://`` before a URL's password, ``=`` before a long
# env-like value) answers most of them at once, and the names an assignment needs are
# looked for in the lowercased text. A new rule must add its trigger here
# (tests/test_redact_corpus.py checks every known leak both ways).
SHORT_TEXT = 4096
_MAYBE = re.compile(
    r"-[pu]|earer|Basic|sk-|gh[pousr]_|github_pat_|A3T|ABIA|ACCA|AKIA|ASIA|xox|xapp|"
    r"hooks\.slack|eyJ|AIza|hf_|npm_|discord|SG\.|sq0csp|k_live_|pypi-|AC|SK|-us[0-9]|"
    r"gl[a-z]{2,5}-|GR1348941|PRIVATE KEY|\.[a-zA-Z\d_-]{6}\.|://|AccountKey=|:_authToken=|"
    r":[0-9A-Za-z_-]{35}|=[ \t]*[\"']?[A-Za-z0-9+/_~-]{20}"
)
# Every name the assignment rules take (password, passwd, passphrase, secret..., token,
# private_key, api_key in any case) holds one of these; so does an AWS secret's label.
_MAYBE_WORDS = ("pass", "secret", "token", "private", "api", "aws")


# Texts this long or longer ask the RE2 prefilter (``engine``) which rules can match, when
# it is installed; shorter ones (names, short commands) the quick check, which costs less
# than a call into RE2 there (1.3 against 1.4 microseconds at 16 characters of session
# text; at 64, 2.1 against 2.8 with the quick check first, 4.1 without RE2).
GATE_MIN = 32


def may_hold_secret(text: str) -> bool:
    """False only if no rule can find anything in ``text`` (a quick check)."""
    if _MAYBE.search(text) is not None:
        return True
    low = text.lower()
    return any(word in low for word in _MAYBE_WORDS)


def find_secrets(text: str) -> list[Secret]:
    """Every secret in ``text``, sorted by position, non-overlapping."""
    if not text:
        return []
    gate = _gate() if len(text) >= GATE_MIN else None
    may = None if gate is None else gate(text)  # which rules can find anything (None: any)
    if may is None and len(text) <= SHORT_TEXT and not may_hold_secret(text):
        return []
    if may is not None and not may:
        return []
    return _merge(_run(text, may))


def _run(text: str, may: set[int] | None) -> list[Secret]:
    """What the rules find: all of them (``may`` None), or those ``may`` names (indexes
    into ``RULES``, then one per vendor plugin after them)."""
    found: list[Secret] = []
    *rules, vendor_find = _rules()
    for i, rule in enumerate(rules):
        if may is None or i in may:
            found.extend(rule(text))
    plugins = None if may is None else {i - len(rules) for i in may if i >= len(rules)}
    if plugins is None or plugins:
        found.extend(vendor_find(text, plugins))  # type: ignore[call-arg]
    return found


@functools.cache
def _rules() -> tuple[Callable[[str], Iterable[Secret]], ...]:
    """termvault's rules, then the vendor formats: loaded once, on first use."""
    from . import vendor  # lazy: see the note at the top
    from .rules import RULES  # lazy: see the note at the top

    return (*RULES, vendor.find)


@functools.cache
def _gate() -> Any:
    """The RE2 prefilter over the rules and the vendor plugins (``engine.Gate``), or None
    when RE2 is not available: built once, on first use."""
    from . import engine, vendor  # lazy: see the note at the top

    re2 = engine.import_re2()
    if re2 is None:
        return None
    of_rule = engine.rule_patterns()
    groups: list[tuple[re.Pattern[str], ...]] = [of_rule.get(rule.__name__, ()) for rule in _rules()[:-1]]
    groups += [item.patterns for item in vendor.loaded()]
    try:
        return engine.Gate(re2, groups)
    except Exception:  # re2.error: the set does not compile; run every rule
        return None


def _merge(found: list[Secret]) -> list[Secret]:
    if len(found) < 2:
        return found
    found.sort(key=lambda s: (s.start, -s.end))
    merged = [found[0]]
    for s in found[1:]:
        last = merged[-1]
        if s.start < last.end:
            kind = s.kind if _RANK[s.kind] < _RANK[last.kind] else last.kind
            merged[-1] = dataclasses.replace(last, kind=kind, end=max(last.end, s.end))
        else:
            merged.append(s)
    return merged


__getattr__ = exports(__name__, {"Secret": "termvault.redact.rules", "shannon_entropy": "termvault.redact.rules"})

__all__ = ["KINDS", "Secret", "find_secrets", "marker", "may_hold_secret", "redact", "redact_data", "shannon_entropy"]
