"""The cheap tests ``fulltext.clean`` runs before its costly patterns decide exactly what
the patterns alone would: the indexed text is the same with and without them."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from termvault.index import fulltext

# The noise pattern as it was before its lowercase-run guard (the guard must only make it
# give up sooner, never change what it removes).
_ALNUM = "A-Za-z0-9"
_SOUP = "(?:[a-z][A-Z]{2}|[A-Z][a-z][A-Z])"
UNGUARDED_NOISE = re.compile(
    rf"(?<![{_ALNUM}])(?=[{_ALNUM}]{{8}})(?![0-9]*+[a-f][0-9a-f]*+(?![A-Za-z]))"
    r"(?:(?=[A-Za-z]++[0-9]++[A-Za-z]++[0-9]|[0-9]++[A-Za-z]++[0-9]++[A-Za-z])"
    rf"|(?=[{_ALNUM}]{{20}})(?=[A-Za-z]*+[0-9])|(?=[{_ALNUM}]*?[0-9]{{7}})"
    rf"|(?=(?>[{_ALNUM}]*?{_SOUP})[{_ALNUM}]*?{_SOUP}))[{_ALNUM}]++"
)

# Words of every shape the noise rules tell apart: lowercase, camelCase, hex, digits,
# random case, mixed letters and digits; joined by separators.
_word = st.one_of(
    st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=24),
    st.text("abcdef0123456789", min_size=1, max_size=40),
    st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=24),
    st.text("abcXYZ0123456789", min_size=1, max_size=30),
    st.text("0123456789", min_size=1, max_size=16),
    st.text(st.characters(codec="utf-8"), max_size=6),
)
_text = st.lists(st.tuples(_word, st.sampled_from([" ", "\n", "-", "_", ".", "/", "é", ""])), max_size=40).map(
    lambda parts: "".join(w + sep for w, sep in parts)
)


@settings(max_examples=400, deadline=None)
@given(_text)
def test_the_guarded_noise_pattern_removes_what_the_unguarded_one_does(text):
    assert fulltext._NOISE.sub("", text) == UNGUARDED_NOISE.sub("", text)


@settings(max_examples=600, deadline=None)
@given(_text)
def test_noise_free_removes_what_the_noise_pattern_does(text):
    # The split on the character before each token against the look-behind pattern, and
    # against the unguarded one (noise at the start, at the end, tokens one separator apart).
    assert fulltext.noise_free(text) == fulltext._NOISE.sub("", text) == UNGUARDED_NOISE.sub("", text)


def test_noise_free_at_the_edges():
    for text in ("aB3dE5fG7hJ9", "aB3dE5fG7hJ9 x", "x aB3dE5fG7hJ9", "aB3dE5fG7hJ9-aB3dE5fG7hJ9", "", " ", "\n"):
        assert fulltext.noise_free(text) == fulltext._NOISE.sub("", text), text


def test_noise_free_on_the_corpus(corpus):
    for path in sorted(p for p in corpus.rglob("*") if p.is_file()):
        text = path.read_text(encoding="utf-8", errors="replace")
        assert fulltext.noise_free(text) == UNGUARDED_NOISE.sub("", text), path.name


def test_the_noise_guard_keeps_the_documented_cases():
    kept = "implementation deadbeef01 getElementById 2f1c3e9a8b7d6c5e"
    assert fulltext._NOISE.sub("", kept) == kept
    for noise in ("aB3dE5fG7hJ9", "Zm9vYmFyYmF6cXV4eHl6", "x12345678y", "QwErTyUiOpAsDf"):
        assert fulltext._NOISE.sub("", f"a {noise} b") == "a  b", noise


_controls = st.text(
    st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from(["\x1b", "\x00", "\x07", "\x7f", "\x85", "\x9b", "\u202e", "\u2066", "\t", "\n", "\r"]),
    ),
    max_size=60,
)


@settings(max_examples=500, deadline=None)
@given(st.one_of(_controls, _controls.map(lambda t: t.encode("ascii", "ignore").decode("ascii"))))
def test_the_control_prefilter_agrees_with_the_control_pattern(text):
    assert fulltext.has_controls(text) == (fulltext._CONTROLS.search(text) is not None)


@settings(max_examples=200, deadline=None)
@given(_controls, st.integers(0, 700))
def test_the_blob_test_agrees_with_the_blob_pattern(text, run):
    text = text + " " + "x" * run + " " + text
    split_says = max(map(len, text.split()), default=0) >= fulltext.MAX_CHUNK_LENGTH
    assert split_says == (fulltext._BLOB.search(text) is not None) == fulltext.has_blob(text)


_spaced = st.lists(
    st.tuples(
        st.integers(0, 600),
        st.sampled_from([" ", "\n", "\r", "\t", "\x0b", "\x0c", "\x1c", "\x85", "\u2028", "\u3000", "\n\n", "é"]),
    ),
    max_size=6,
).map(lambda parts: "".join("x" * n + sep for n, sep in parts))


@settings(max_examples=300, deadline=None)
@given(_spaced)
def test_the_line_first_blob_test_agrees_with_the_blob_pattern(text):
    assert fulltext.has_blob(text) == (fulltext._BLOB.search(text) is not None)
