"""Vendor token formats, from the plugins of the detect-secrets package.

detect-secrets (Yelp) keeps one plugin per credential format, each with a ``denylist`` of
patterns. termvault runs those patterns itself rather than through detect-secrets'
scanner, because redaction needs each secret's position in a long text while the scanner
reports values per line of a file, after filters tuned for source code.

What is added here, per plugin (``PLUGINS``):

- ``anchors``: cheap patterns, mostly literals, one of which every match contains; the
  plugin's own patterns run only in a ``window`` around each anchor hit (six times
  cheaper than running them over the whole text, see BENCHMARKS.md);
- ``tail``: the characters a real token goes on with after the fixed length a pattern
  matches (Stripe keys grew past the 24 characters of the plugin's pattern), so no part
  of a key is left readable;
- ``check``: a validation that keeps look-alikes out (a hex dump is no Telegram token);
- the span redacted: a group of the pattern, or what follows a label.

Plugins left out, each scan of the text being a cost paid at every sweep:

- formats ``rules`` already finds with more context: GitHub, OpenAI and Slack tokens,
  JWTs, passwords in URLs (``rules`` also takes an empty user name and keeps a Slack
  webhook's host readable), AWS key ids starting AKIA or ASIA (``rules`` also hides the
  secret key beside one), private keys (the plugin finds the header line only; ``rules``
  hides the whole block);
- high-entropy strings (they flag hashes) and keyword (``rules`` handles assignments
  with fewer false positives); public IP addresses (not secrets);
- IBM, Cloudant, Softlayer and Artifactory: each costs more than all of redaction on
  ordinary text, for formats that ``rules``' assignment rule mostly covers.

The plugins' patterns are compiled on first use from ``_denylist``, a snapshot of them
taken from the installed release by ``scripts/denylist.py`` (importing detect-secrets costs
about 0.09 CPU seconds, paid by every sweep worker process and every ``search``); when
another release is installed, it is imported and its own patterns are used.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import threading
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass

from .rules import Secret

_ALNUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_URLSAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"


def _mixed_case_after_colon(token: str) -> bool:
    body = token.split(":", 1)[-1]
    return any(c.isupper() for c in body) and any(c.islower() for c in body)


@dataclass(frozen=True)
class Plugin:
    """How termvault runs one detect-secrets plugin (see the module docstring)."""

    module: str
    detector: str
    kind: str
    # Patterns (most often plain literals) one of which every match contains: the plugin's
    # own patterns run only in a window of (characters before, characters after) each hit.
    anchors: tuple[str, ...]
    window: tuple[int, int]
    patterns: tuple[int, ...] | None = None  # indexes into the denylist; None: all
    group: int = 0
    label: str = ""  # only what follows this label in the match is the secret
    tail: str = ""
    check: Callable[[str], bool] | None = None
    after_word: bool = False  # may follow a word directly (Telegram's URLs: /bot<token>)


_LIT = re.escape

PLUGINS: tuple[Plugin, ...] = (
    Plugin("aws", "AWSKeyDetector", "aws-key-id", ("A3T", "ABIA", "ACCA"), (0, 20), patterns=(0,)),
    Plugin("aws", "AWSKeyDetector", "aws-secret", ("aws", "AWS", "Aws"), (0, 90), patterns=(1,), group=1),
    Plugin(
        "azure_storage_key",
        "AzureStorageKeyDetector",
        "azure-storage-key",
        ("AccountKey=",),
        (0, 100),
        label="AccountKey=",
    ),
    Plugin("discord", "DiscordBotTokenDetector", "discord-token", (r"\.[a-zA-Z\d_-]{6}\.",), (28, 30)),
    Plugin("gitlab_token", "GitLabTokenDetector", "gitlab-token", (r"gl[a-z]{2,5}-", "GR1348941"), (0, 1100)),
    Plugin("mailchimp", "MailchimpDetector", "mailchimp-key", (r"-us[0-9]",), (33, 3)),
    Plugin("npm", "NpmDetector", "npm-token", (":_authToken=",), (300, 300), group=1),
    Plugin("pypi_token", "PypiTokenDetector", "pypi-token", ("pypi-Ag",), (0, 100), tail=_URLSAFE),
    Plugin("sendgrid", "SendGridDetector", "sendgrid-key", (_LIT("SG."),), (0, 70), tail=_URLSAFE),
    Plugin("square_oauth", "SquareOAuthDetector", "square-secret", ("sq0csp-",), (0, 50), tail=_URLSAFE),
    Plugin("stripe", "StripeDetector", "stripe-key", ("k_live_",), (1, 31), tail="".join(sorted(_ALNUM))),
    Plugin(
        "telegram_token",
        "TelegramBotTokenDetector",
        "telegram-token",
        (r":[0-9A-Za-z_-]{35}",),
        (11, 1),
        tail=_URLSAFE,
        check=_mixed_case_after_colon,
        after_word=True,
    ),
    Plugin("twilio", "TwilioKeyDetector", "twilio-key", ("AC", "SK"), (0, 34)),
)


@dataclass(frozen=True)
class _Loaded:
    plugin: Plugin
    anchors: tuple[re.Pattern[str], ...]
    patterns: tuple[re.Pattern[str], ...]
    tail: frozenset[str]


_loaded: tuple[_Loaded, ...] | None = None
_lock = threading.Lock()


def installed_version() -> str | None:
    """The installed detect-secrets release, read from its ``__version__.py`` without
    importing the package (which costs about 0.09 CPU seconds); None if not found."""
    spec = importlib.util.find_spec("detect_secrets")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        try:
            with open(os.path.join(folder, "__version__.py"), encoding="utf-8") as fh:
                m = re.search(r"""VERSION\s*=\s*['"]([^'"]+)['"]""", fh.read())
        except OSError:
            continue
        if m:
            return m.group(1)
    return None


def imported_denylist(module: str, detector: str) -> tuple[re.Pattern[str], ...]:
    """A plugin's denylist, imported from detect-secrets."""
    return tuple(getattr(importlib.import_module(f"detect_secrets.plugins.{module}"), detector).denylist)


def _denylists() -> Callable[[str, str], tuple[re.Pattern[str], ...]]:
    """Where the plugins' patterns come from: the snapshot ``_denylist`` taken from the
    installed release (``scripts/denylist.py``), else detect-secrets itself."""
    from . import _denylist  # lazy: read on the first redaction only, with its patterns

    if installed_version() != _denylist.VERSION:
        return imported_denylist
    return lambda module, detector: tuple(re.compile(p, f) for p, f in _denylist.PATTERNS[(module, detector)])


def loaded() -> tuple[_Loaded, ...]:
    """The plugins' patterns, compiled once per process."""
    global _loaded
    if _loaded is None:
        with _lock:
            if _loaded is None:
                out = []
                denylist_of = _denylists()
                for p in PLUGINS:
                    denylist = denylist_of(p.module, p.detector)
                    chosen = denylist if p.patterns is None else tuple(denylist[i] for i in p.patterns)
                    out.append(_Loaded(p, tuple(map(re.compile, p.anchors)), chosen, frozenset(p.tail)))
                _loaded = tuple(out)
    return _loaded


def find(text: str, plugins: Collection[int] | None = None) -> Iterator[Secret]:
    """The vendor-format secrets in ``text`` (unsorted, possibly overlapping); only those
    of the ``plugins`` named (indexes into ``PLUGINS``) when given."""
    n = len(text)
    for i, item in enumerate(loaded()):
        if plugins is not None and i not in plugins:
            continue
        before, after = item.plugin.window
        for anchor in item.anchors:
            for hit in anchor.finditer(text):
                lo, hi = max(0, hit.start() - before), min(n, hit.end() + after)
                for pattern in item.patterns:
                    for m in pattern.finditer(text, lo, hi):
                        yield from _secret(item, text, m)


def _secret(item: _Loaded, text: str, m: re.Match[str]) -> Iterator[Secret]:
    p = item.plugin
    start, end = m.span(p.group)
    if start < 0 or start == end:
        return
    if p.label:
        at = text.find(p.label, start, end)
        if at >= 0:
            start = at + len(p.label)
    if item.tail:
        n = len(text)
        while end < n and text[end] in item.tail:
            end += 1
    # A match glued to a longer word is part of something else (an identifier, a hash).
    if p.group == 0 and not p.label:
        if start > 0 and text[start - 1] in _ALNUM and not (p.after_word and text[start - 1].isalpha()):
            return
        if end < len(text) and text[end] in _ALNUM:
            return
    if p.check is not None and not p.check(text[start:end]):
        return
    yield Secret(p.kind, start, end)
