"""The RE2 prefilters change nothing: redaction (``find_secrets``, ``redact``) and the
noise filter (``noise_free``, ``clean``) give exactly what the Python ``re`` code alone
gives, which stays the fallback when RE2 cannot be imported or is turned off."""

from __future__ import annotations

import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from termvault import redact
from termvault.index import fulltext, noisescan
from termvault.redact import engine, vendor

from .secrets_corpus import ORDINARY, SECRETS

re2 = pytest.importorskip("re2")


def reference_secrets(text: str) -> list[redact.Secret]:
    """Every rule and vendor plugin over the whole text, nothing skipped."""
    return redact._merge([s for rule in redact._rules() for s in rule(text)])


def reference_redact(text: str) -> str:
    out, pos = [], 0
    for s in reference_secrets(text):
        out += [text[pos : s.start], redact.marker(s.kind)]
        pos = s.end
    return "".join(out) + text[pos:] if out else text


def reference_clean(text: str, monkeypatch: pytest.MonkeyPatch) -> str:
    with monkeypatch.context() as m:
        _without_re2(m)
        return fulltext.clean(text)


def _without_re2(m: pytest.MonkeyPatch) -> None:
    """As on a machine without google-re2: its import fails; the caches forget it."""
    m.setitem(sys.modules, "re2", None)
    redact._gate.cache_clear()
    noisescan._compiled.cache_clear()


# Short texts skip RE2 (a call into it costs more than the Python check); the tests
# below put every text through it, but the corpus test, which keeps these as they are.
SHORT = (redact.GATE_MIN, noisescan.SHORT)


@pytest.fixture(autouse=True)
def _fresh_caches(monkeypatch):
    monkeypatch.setattr(redact, "GATE_MIN", 0)
    monkeypatch.setattr(noisescan, "SHORT", 0)
    redact._gate.cache_clear()
    noisescan._compiled.cache_clear()
    yield
    redact._gate.cache_clear()
    noisescan._compiled.cache_clear()


# Text of every kind the rules and the noise filter tell apart: known leaks, ordinary
# code and prose, noise tokens (hashes, base64, ids), Unicode look-alikes (Kelvin sign,
# long s, Arabic digits, NBSP), controls, CJK and long runs.
_PIECES = st.one_of(
    st.sampled_from([leak.line for leak in SECRETS]),
    st.sampled_from(ORDINARY),
    st.sampled_from(
        [
            " ",
            "\n",
            "\t",
            "=",
            ": ",
            "://",
            "--",
            "-p",
            "AKIA",
            "aws",
            "\u212aEY",
            "pa\u017f\u017fword",
            "\u0663\u0664\u0665\u0666\u0667\u0668\u0669\u0660",
            "\u00a0",
            "\u3000",
            "\x1b[31m",
            "\x00",
            "\r\n",
            "最新版本",
            "é",
            "a3f9c2e1d4b5a6f7",
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "aB3dE5fG7hJ9kL1m",
            "x" * 600,
            "QmFzZTY0IGVuY29kZWQgdGV4dCBoZXJlIQ==",
            "12345678901234",
            "getElementById",
            "mysql -uroot -pS3cr3t!x",
        ]
    ),
    st.text(max_size=30),
    st.text("abcdefXYZ0123456789_-=:/.+ \"'", max_size=60),
)
_TEXTS = st.lists(_PIECES, max_size=12).map("".join)


@settings(max_examples=500, deadline=None)
@given(_TEXTS)
def test_find_secrets_and_redact_with_re2_equal_every_rule_run_everywhere(text):
    assert redact._gate() is not None
    assert redact.find_secrets(text) == reference_secrets(text)
    assert redact.redact(text) == reference_redact(text)


@settings(max_examples=300, deadline=None)
@given(_TEXTS)
def test_the_gate_names_every_rule_that_finds_something(text):
    gate = redact._gate()
    may = gate(text)
    assert may is not None
    *rules, _vendor_find = redact._rules()
    for i, rule in enumerate(rules):
        if list(rule(text)):
            assert i in may, rule.__name__
    for j in range(len(vendor.PLUGINS)):
        if list(vendor.find(text, {j})):
            assert len(rules) + j in may, vendor.PLUGINS[j].kind


@settings(max_examples=300, deadline=None)
@given(_TEXTS)
def test_each_translated_pattern_matches_wherever_its_python_pattern_does(text):
    # Also inside any slice: the vendor plugins run their patterns in windows.
    patterns = [p for group in engine.rule_patterns().values() for p in group]
    patterns += [p for item in vendor.loaded() for p in item.patterns]
    for p in patterns:
        for lo, hi in ((0, len(text)), (1, len(text) - 1)):
            if p.search(text, lo, max(lo, hi)):
                assert re2.search(engine.superset(p), text), p.pattern


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        (r"aws.{0,3}key", "AWS \u212aEY"),  # IGNORECASE: the Kelvin sign is a K
        (r"pass", "PA\u017fS"),  # and the long s an s
        (r"\d{4}:x", "\u0661\u0662\u0663\u0664:x"),  # Unicode digits
        (r"a\sb", "a\u00a0b"),  # Unicode spaces
        (r"[^a]{3}b", "\u00e9\u00e9\u00e9b"),
        (r"(?<![a-z])tok(?!x)en", "-token"),  # look-arounds dropped
        (r"(['\"]?)v\1", "'v'"),  # a back-reference
        (r"\bword\b", "a word"),
        (r"x{100,2000}", "x" * 150),  # counts widened
    ],
)
def test_translation_keeps_unicode_and_case_folding_semantics(pattern, text):
    import re

    flags = re.IGNORECASE if pattern.startswith(("aws", "pass")) else 0
    p = re.compile(pattern, flags)
    assert p.search(text)
    assert re2.search(engine.superset(p), text)


@settings(max_examples=500, deadline=None)
@given(_TEXTS)
def test_noise_free_with_re2_equals_the_split_of_the_whole_text(text):
    assert noisescan._compiled() is not None
    assert fulltext.noise_free(text) == fulltext.noise_free_everywhere(text) == fulltext._NOISE.sub("", text)


@settings(max_examples=200, deadline=None)
@given(_TEXTS)
def test_clean_with_re2_equals_clean_without(text):
    with pytest.MonkeyPatch.context() as m:
        assert fulltext.clean(text) == reference_clean(text, m)


# Runs of letters and digits in up to four parts (each letters, digits or lowercase hex)
# of 1-16 characters: the lengths and letter/digit changes the noise rules count.
_PART = st.sampled_from(["abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789", "abcdef0123456789"])
_RUN = st.lists(_PART.flatmap(lambda a: st.text(a, min_size=1, max_size=16)), min_size=1, max_size=4).map("".join)


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.tuples(_RUN, st.sampled_from([" ", "-", "é", "\n", "_", ""])), max_size=8))
def test_noise_free_with_re2_on_runs_of_every_shape(parts):
    text = "".join(run + sep for run, sep in parts)
    assert fulltext.noise_free(text) == fulltext.noise_free_everywhere(text)


def test_noise_free_at_the_edges_of_the_text_and_of_regions():
    for text in (
        "aB3dE5fG7hJ9",
        "aB3dE5fG7hJ9 x",
        "x aB3dE5fG7hJ9",
        "aB3dE5fG7hJ9-aB3dE5fG7hJ9",
        "12345678a",  # hex with a letter: kept; all digits: noise
        # 20 characters with a digit and two changes at most, no 7 digits in a row: the
        # shapes only the 20-character rule removes
        "abcdefg123456hijklmn",
        "123456abcdefgh123456",
        "abcdefghijklmn123456",
        "123456abcdefghijklmn",
        "abcdefg123456hijklm",  # 19: kept
        "12345678 a",
        "é12345678é",
        "a" * 7 + "1",
        "",
        " ",
        "\n",
    ):
        assert fulltext.noise_free(text) == fulltext.noise_free_everywhere(text), text


def test_without_re2_everything_runs_in_python(monkeypatch):
    text = "\n".join([leak.line for leak in SECRETS] + ORDINARY + ["id aB3dE5fG7hJ9kL1m and 12345678901234"])
    expected = (redact.find_secrets(text), redact.redact(text), fulltext.noise_free(text), fulltext.clean(text))
    assert redact._gate() is not None and noisescan._compiled() is not None
    with monkeypatch.context() as m:
        _without_re2(m)
        assert redact._gate() is None
        assert noisescan._compiled() is None
        got = (redact.find_secrets(text), redact.redact(text), fulltext.noise_free(text), fulltext.clean(text))
    assert got == expected
    assert expected[0] == reference_secrets(text)


def test_a_binding_laid_out_otherwise_falls_back_to_the_whole_split(monkeypatch):
    monkeypatch.delattr(re2, "_re2")  # its private module cannot be imported
    monkeypatch.setitem(sys.modules, "re2._re2", None)
    noisescan._compiled.cache_clear()
    assert noisescan._compiled() is None
    text = "x aB3dE5fG7hJ9 and 12345678901234 " * 10
    assert fulltext.noise_free(text) == fulltext.noise_free_everywhere(text)


def test_the_switch_turns_re2_off(monkeypatch):
    monkeypatch.setenv("TERMVAULT_RE2", "0")
    assert engine.import_re2() is None
    assert redact._gate() is None
    assert noisescan._compiled() is None
    assert redact.find_secrets("password=hunter2!x") == reference_secrets("password=hunter2!x")


def test_an_automaton_that_gives_up_runs_every_rule():
    gate = redact._gate()

    class GaveUp:
        def Match(self, data):
            return []  # what RE2's set answers when its automaton ran out of memory

    gate._set = GaveUp()
    assert gate("password=hunter2!x") is None
    assert redact.find_secrets("password=hunter2!x") == reference_secrets("password=hunter2!x")


def test_lone_surrogates_run_every_rule():
    text = "password=hunter2!x \ud800"
    assert redact._gate()(text) is None
    assert redact.find_secrets(text) == reference_secrets(text)
    assert fulltext.noise_free(text + " aB3dE5fG7hJ9") == fulltext.noise_free_everywhere(text + " aB3dE5fG7hJ9")


def test_every_rule_and_plugin_is_gated():
    gate = redact._gate()
    assert gate.always == set()
    assert gate.groups == len(redact._rules()) - 1 + len(vendor.PLUGINS)
    assert set(engine.rule_patterns()) == {rule.__name__ for rule in redact._rules()[:-1]}


def test_the_real_corpus_gives_the_same_with_and_without_re2(corpus, monkeypatch):
    monkeypatch.setattr(redact, "GATE_MIN", SHORT[0])
    monkeypatch.setattr(noisescan, "SHORT", SHORT[1])
    paths = sorted(p for p in corpus.rglob("*") if p.is_file())
    texts = [p.read_bytes().decode("utf-8", "replace") for p in paths]
    with_re2 = [(redact.find_secrets(t), redact.redact(t), fulltext.noise_free(t), fulltext.clean(t)) for t in texts]
    with monkeypatch.context() as m:
        _without_re2(m)
        without = [(redact.find_secrets(t), redact.redact(t), fulltext.noise_free(t), fulltext.clean(t)) for t in texts]
    for path, a, b in zip(paths, with_re2, without, strict=True):
        assert a == b, path.name
    for path, t, a in zip(paths, texts, with_re2, strict=True):
        assert a[0] == reference_secrets(t), path.name


def test_the_clean_bench_compares_with_and_without_re2(corpus, monkeypatch):
    from bench import clean_bench

    # (it sets both for its process; restored after the test)
    monkeypatch.setenv("TERMVAULT_SWEEP_WORKERS", "0")
    monkeypatch.setenv("TERMVAULT_RE2", "1")
    result = clean_bench.run(corpus, rounds=1)
    assert result["texts"] > 0 and result["chars"] > 0
    assert set(result["functions"]) == {"clean, 1st pass", "clean, 2nd pass", "find_secrets", "noise_free"}
    assert all(row["python_best_s"] > 0 and row["re2_best_s"] > 0 for row in result["functions"].values())
    assert redact._gate() is not None  # left on
