"""Redaction over the secrets corpus: every family of credential is hidden wherever it
appears in a line, and ordinary code, hashes, UUIDs and base64 are never touched."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from termvault.redact import KINDS, find_secrets, redact

from .secrets_corpus import FAMILIES, ORDINARY, SECRETS, Leak


@pytest.mark.parametrize("leak", SECRETS, ids=lambda leak: leak.family)
def test_every_credential_of_the_corpus_is_redacted(leak: Leak):
    out = redact(leak.line)
    assert [s for s in leak.secrets if s in out] == [], out
    assert "[REDACTED:" in out


@pytest.mark.parametrize("leak", SECRETS, ids=lambda leak: leak.family)
def test_redacting_a_credential_twice_changes_nothing(leak: Leak):
    once = redact(leak.line)
    assert redact(once) == once


@pytest.mark.parametrize("line", ORDINARY)
def test_ordinary_code_hashes_uuids_and_base64_are_left_alone(line: str):
    assert redact(line) == line


def test_ordinary_lines_are_left_alone_in_one_text_too():
    text = "\n".join(ORDINARY)
    assert find_secrets(text) == []


def test_credentials_among_ordinary_lines_are_all_found_and_nothing_else_changes():
    lines = [line for pair in zip(ORDINARY, [leak.line for leak in SECRETS]) for line in pair]
    out = redact("\n".join(lines))
    assert [s for leak in SECRETS for s in leak.secrets if s in out] == []
    kept = out.split("\n")
    assert all(line in kept for line in ORDINARY[: len(SECRETS)])


@pytest.mark.parametrize(
    "family, kind",
    [
        ("stripe", "stripe-key"),
        ("google", "google-api-key"),
        ("huggingface", "huggingface-token"),
        ("npm", "npm-token"),
        ("gitlab", "gitlab-token"),
        ("sendgrid", "sendgrid-key"),
        ("twilio", "twilio-key"),
        ("discord-webhook", "discord-webhook"),
        ("discord-bot", "discord-token"),
        ("pypi", "pypi-token"),
        ("mailchimp", "mailchimp-key"),
        ("square", "square-secret"),
        ("telegram", "telegram-token"),
        ("azure-storage", "azure-storage-key"),
        ("redis", "url-password"),
        ("mysql", "password"),
        ("curl-user", "password"),
        ("sshpass", "password"),
        ("secret-key-base", "secret"),
    ],
)
def test_each_family_is_reported_under_its_own_kind(family: str, kind: str):
    leak = next(leak for leak in SECRETS if leak.family == family)
    assert kind in [s.kind for s in find_secrets(leak.line)]


def test_the_corpus_covers_at_least_25_families_with_60_credentials_and_200_ordinary_lines():
    assert len(FAMILIES) >= 25 and len(SECRETS) >= 60 and len(ORDINARY) >= 200


def test_a_stripe_key_longer_than_the_plugin_pattern_is_hidden_to_its_end():
    key = next(leak for leak in SECRETS if leak.family == "stripe").secrets[0]
    assert len(key) > 8 + 24
    assert redact(f"key {key} end") == "key [REDACTED:stripe-key] end"


def test_vendor_formats_come_from_the_detect_secrets_plugins():
    from detect_secrets.plugins.stripe import StripeDetector

    from termvault.redact import vendor

    stripe = next(item for item in vendor.loaded() if item.plugin.kind == "stripe-key")
    assert stripe.patterns == tuple(StripeDetector.denylist)
    assert {item.plugin.kind for item in vendor.loaded()} <= set(KINDS)


def test_the_denylist_snapshot_holds_the_installed_releases_patterns():
    """``redact._denylist`` (written by scripts/denylist.py) is what the installed
    detect-secrets has: same release, same patterns and flags for every plugin run."""
    import re

    from termvault.redact import _denylist, vendor

    if _denylist.VERSION != vendor.installed_version():
        # A newer release than the snapshot's (run scripts/denylist.py): its own patterns are used.
        assert vendor._denylists() is vendor.imported_denylist
        return
    for p in vendor.PLUGINS:
        snapshot = tuple(re.compile(s, f) for s, f in _denylist.PATTERNS[(p.module, p.detector)])
        assert snapshot == vendor.imported_denylist(p.module, p.detector), p.detector


def test_redaction_does_not_import_detect_secrets_while_the_snapshot_matches():
    import subprocess
    import sys

    from termvault.redact import _denylist, vendor

    if _denylist.VERSION != vendor.installed_version():
        pytest.skip("the installed detect-secrets is newer than the snapshot: run scripts/denylist.py")

    code = (
        "import sys; from termvault.redact import redact; "
        "print(redact('key AKIAIOSFODNN7EXAMPLE, sk_live_' + 'a1B2c3D4e5F6g7H8i9J0k1L2m3')); "
        "print(sorted(m for m in sys.modules if m.startswith('detect_secrets')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["key [REDACTED:aws-key-id], [REDACTED:stripe-key]", "[]"]


def test_another_detect_secrets_release_is_imported_and_its_patterns_used(monkeypatch):
    from termvault.redact import vendor

    asked: list[tuple[str, str]] = []
    real = vendor.imported_denylist

    def spy(module: str, detector: str):
        asked.append((module, detector))
        return real(module, detector)

    monkeypatch.setattr(vendor, "installed_version", lambda: "0.0.0-not-the-snapshot")
    monkeypatch.setattr(vendor, "imported_denylist", spy)
    monkeypatch.setattr(vendor, "_loaded", None)
    assert redact("key AKIAIOSFODNN7EXAMPLE end") == "key [REDACTED:aws-key-id] end"
    assert {m for m, _ in asked} == {p.module for p in vendor.PLUGINS}


def test_a_hex_dump_is_not_a_telegram_token():
    line = "01000010:6005-08b4-0001-00c6-0006-3000-0000-0000-0000"
    assert redact(line) == line


def test_command_line_passwords_that_are_references_or_prompts_stay():
    for line in (
        "mysql -u root -p app",
        'sshpass -p "$SSHPASS" ssh host',
        'curl -u "$USER:$PASS" https://x',
        "docker login -u me -p ${REGISTRY_PASSWORD} ghcr.io",
        "mysql -u root -p -h db",
    ):
        assert redact(line) == line, line


def test_a_token_used_as_a_url_user_keeps_the_host_readable():
    key = "gho_" + "Ab1" * 12
    assert redact(f"https://x-access-token:{key}@github.com/acme/infra.git") == (
        "https://x-access-token:[REDACTED:github-token]@github.com/acme/infra.git"
    )


def test_redact_data_redacts_every_string_of_nested_metadata_and_keeps_the_rest():
    from termvault.redact import redact_data

    leak = SECRETS[0]
    meta = {"name": leak.line, "count": 3, "extra": {"urls": [leak.line, "plain"], "ok": None}}
    out = redact_data(meta)
    assert out["count"] == 3 and out["extra"]["ok"] is None and out["extra"]["urls"][1] == "plain"
    assert leak.secrets[0] not in repr(out)
    assert meta["name"] == leak.line  # the input is not changed
    plain = {"name": "deploy", "tags": ["a", "b"]}
    assert redact_data(plain) is plain


@pytest.mark.parametrize("line", [leak.line for leak in SECRETS] + ORDINARY[:60])
def test_the_quick_check_for_short_texts_never_hides_a_finding(line: str):
    from termvault.redact import SHORT_TEXT

    padded = line + " " * (SHORT_TEXT + 1)  # long: every rule runs
    assert redact(line).rstrip() == redact(padded).rstrip()


_FILLER = st.sampled_from(
    ["", " ", "\n", "=", ":", "@", "-", "--", "://", "key", "Token", "PASS", "api", "aws", "x" * 30, "a=b", "é"]
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from([leak.line for leak in SECRETS]),
            st.sampled_from(ORDINARY),
            _FILLER,
            st.text(max_size=40),
        ),
        max_size=8,
    )
)
def test_the_quick_check_agrees_with_every_rule_on_short_texts_with_embedded_secrets(parts):
    # Short texts go through the quick check; the rules run on them only if it says a
    # secret may be there. It must never say no where a rule finds one.
    from termvault.redact import SHORT_TEXT, _merge, _rules

    text = "".join(parts)[:SHORT_TEXT]
    everything = _merge([s for rule in _rules() for s in rule(text)])
    assert find_secrets(text) == everything


@pytest.mark.parametrize(
    "line",
    ["apiKey: 'Xy7!pq'", "API-Key: hunter2!", "passwd: 'a b!'", "secret => 'q!w'", 'Token: "x!y"', "privateKey: '#k!'"],
)
def test_the_quick_check_lets_short_assignments_through_by_their_names(line: str):
    from termvault.redact import may_hold_secret

    assert find_secrets(line), line  # each is a secret the assignment rule finds
    assert may_hold_secret(line)
