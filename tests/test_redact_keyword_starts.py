"""The assignment rules try their patterns only where a name can start
(``rules.keyword_starts``): the matches are those of a scan of every position."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from termvault.redact import find_secrets, rules

_piece = st.one_of(
    st.sampled_from(
        [
            "password", "PASSWORD", "Passwd", "passphrase", "secret", "SECRET_KEY", "secretKey",
            "secret-access-key", "private_key", "PrivateKey", "token", "Token", "api_key", "API-Key",
            "apiKey", "pass", "api", "tok", "--", "-", "=", ":", ":=", "=>", " ", "\\t", "\\n", '"',
            "'", "\\\\", "]", "hunter2", "s3cr3t-V4lue", "${VAR}", "none", "İ", "ß", "K",
        ]
    ),
    st.text(st.characters(codec="utf-8"), max_size=5),
)  # fmt: skip
_text = st.lists(_piece, max_size=30).map("".join)


def _spans(ms):
    return [(m.span(), m.groupdict()) for m in ms]


@settings(max_examples=800, deadline=None)
@given(_text)
def test_matches_from_the_keyword_starts_are_a_full_scan(text):
    starts = rules.keyword_starts(text)
    assert _spans(rules.matches_from(rules._ASSIGNMENT, text, starts)) == _spans(rules._ASSIGNMENT.finditer(text))
    flags = None if starts is None else [i - 2 for i in starts if i >= 2 and text.startswith("--", i - 2)]
    assert _spans(rules.matches_from(rules._FLAG, text, flags)) == _spans(rules._FLAG.finditer(text))


def test_a_text_whose_lowercase_is_longer_is_scanned_whole():
    text = "İ password=hunter2 --token s3cr3tvalue"
    assert rules.keyword_starts(text) is None
    assert [s.kind for s in find_secrets(text)] == ["password", "token"]


def test_overlapping_names_are_all_tried():
    # "passecret": a "secret" starts inside "pass"; both positions are candidates.
    assert rules.keyword_starts("passecret=x") == [0, 3]
    assert _spans(rules.matches_from(rules._ASSIGNMENT, "xpassecret=abc", rules.keyword_starts("xpassecret=abc"))) == (
        _spans(rules._ASSIGNMENT.finditer("xpassecret=abc"))
    )
