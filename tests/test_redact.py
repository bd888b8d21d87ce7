"""Specification of secret redaction: what is hidden, what must stay readable."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from termvault.redact import KINDS, Secret, find_secrets, redact, shannon_entropy

# Fake credentials with the shape of real ones, built from pieces so the file itself does
# not look like a leaked key to a scanner.
ANTHROPIC = "sk-ant-api03-" + "Xy7Kp2Lm9QrT4vWz" * 6 + "-AbC1dEAA"
OPENAI_LEGACY = "sk-" + "T3BlbkFJ" + "aB3dE5gH7jK9mN1pQ3sT5vX7zA9cE1gI3kM"
OPENAI_PROJECT = "sk-proj-" + "Ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56Qr78St90_Uv-Wx12Yz"
GITHUB_CLASSIC_BODY = "16C7e42F292c6912E7710c838347Ae178B4a"
GITHUB_FINE = "github_pat_" + "11ABCDEFG0" + "abcdefghijKLMNOPQRST_" + "0123456789" * 6
AWS_ID = "AKIA" + "IOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY"
SLACK_BOT = "xoxb-" + "123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"
SLACK_HOOK_PATH = "T00000000/B00000000/" + "XXXXXXXXXXXXXXXXXXXXXXXX"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
PEM = "\n".join(
    [
        "-----BEGIN RSA PRIVATE KEY-----",
        "MIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi6n4bL5s0E2n1ZGQjXcY7vGh4K",
        "p9mHc0sL2aQ1bR3cT5dV7eX9fZ1gA3hC5iE7jG9kI1lK3mM5nO7pQ9rS1tU3vW5x",
        "Y7zA9bC1dE3fG5hI7jK9lM1nO3pQ5rS7tU9vW1xY3zA5bC7dE9fG1hI3jK5lM7==",
        "-----END RSA PRIVATE KEY-----",
    ]
)
RANDOM_VALUE = "Zx8Qp2Lm9Rt4Vb7Nc1Wd5Ke3"

UUID = "17fbecbf-929f-43c5-91a4-2a696361faa1"
GIT_SHA = "f221ddce8086a9092e14e374851ffeac54c5b268"
SHA256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
PNG_DATA_URL = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
    "YPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


def kinds(text: str) -> list[str]:
    return [s.kind for s in find_secrets(text)]


# ---------------------------------------------------------------------------------------
# Vendor token formats
# ---------------------------------------------------------------------------------------


def test_anthropic_key_is_redacted_with_its_own_kind():
    assert redact(f"key: {ANTHROPIC} ok") == "key: [REDACTED:anthropic-key] ok"


@pytest.mark.parametrize("key", [OPENAI_LEGACY, OPENAI_PROJECT])
def test_openai_keys_are_redacted(key):
    assert redact(f"use {key}\n") == "use [REDACTED:openai-key]\n"


def test_sk_inside_a_longer_word_or_without_digits_is_not_a_key():
    text = "see task-" + "a" * 30 + " and sk-learn-is-a-long-kebab-case-name-here"
    assert redact(text) == text


@pytest.mark.parametrize("prefix", ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"])
def test_github_classic_tokens_are_redacted(prefix):
    assert redact(f"token {prefix}{GITHUB_CLASSIC_BODY}.") == "token [REDACTED:github-token]."


def test_github_fine_grained_token_is_redacted():
    assert redact(f"GH={GITHUB_FINE} x") == "GH=[REDACTED:github-token] x"


def test_github_prefix_with_a_short_body_is_not_a_token():
    assert redact("ghp_short and gho_") == "ghp_short and gho_"


def test_aws_key_id_and_secret_in_a_credentials_file_are_redacted():
    text = f"[default]\naws_access_key_id = {AWS_ID}\naws_secret_access_key = {AWS_SECRET}\n"
    assert redact(text) == (
        "[default]\naws_access_key_id = [REDACTED:aws-key-id]\naws_secret_access_key = [REDACTED:aws-secret]\n"
    )


def test_aws_secret_in_env_and_json_assignments_is_redacted():
    assert redact(f"AWS_SECRET_ACCESS_KEY={AWS_SECRET}") == "AWS_SECRET_ACCESS_KEY=[REDACTED:aws-secret]"
    assert redact(f'{{"SecretAccessKey": "{AWS_SECRET}"}}') == '{"SecretAccessKey": "[REDACTED:aws-secret]"}'


def test_aws_temporary_key_id_and_the_secret_that_follows_it_on_the_line_are_redacted():
    assert redact(f"ASIA{AWS_ID[4:]},{AWS_SECRET}\n") == "[REDACTED:aws-key-id],[REDACTED:aws-secret]\n"


def test_aws_key_id_inside_a_longer_word_is_not_redacted():
    text = f"x{AWS_ID}y and {AWS_ID}abc"
    assert redact(text) == text


def test_slack_token_is_redacted():
    assert redact(f"SLACK={SLACK_BOT}") == "SLACK=[REDACTED:slack-token]"


@pytest.mark.parametrize("prefix", ["xoxa-", "xoxp-", "xoxr-", "xoxs-"])
def test_every_slack_token_prefix_is_redacted(prefix):
    assert kinds(f"{prefix}1234567890-abcdef") == ["slack-token"]


def test_slack_webhook_url_keeps_the_host_and_hides_the_path():
    text = f"curl -X POST https://hooks.slack.com/services/{SLACK_HOOK_PATH} -d x"
    assert redact(text) == "curl -X POST https://hooks.slack.com/services/[REDACTED:slack-webhook] -d x"


def test_jwt_is_redacted_whole():
    assert redact(f"Authorization: Bearer {JWT}\n") == "Authorization: Bearer [REDACTED:jwt]\n"


def test_bearer_token_that_is_not_a_jwt_is_redacted():
    assert redact("Authorization: Bearer abc123DEF456ghi789JKL") == "Authorization: Bearer [REDACTED:bearer-token]"


def test_the_word_bearer_in_prose_is_kept():
    text = "Send a bearer token in the Authorization header."
    assert redact(text) == text


# ---------------------------------------------------------------------------------------
# Private keys
# ---------------------------------------------------------------------------------------


def test_pem_private_key_block_is_redacted_across_lines():
    assert redact(f"cat id_rsa\n{PEM}\n$ next") == "cat id_rsa\n[REDACTED:private-key]\n$ next"


@pytest.mark.parametrize("label", ["", "EC ", "OPENSSH ", "ENCRYPTED "])
def test_every_pem_private_key_label_is_redacted(label):
    block = PEM.replace("RSA ", label)
    assert redact(block) == "[REDACTED:private-key]"


def test_pem_block_with_encryption_headers_is_redacted():
    lines = PEM.splitlines()
    block = "\n".join([lines[0], "Proc-Type: 4,ENCRYPTED", "DEK-Info: AES-128-CBC,3F17F5316E2BAC89", "", *lines[1:]])
    assert redact(block) == "[REDACTED:private-key]"


def test_pem_block_with_json_escaped_newlines_is_redacted():
    escaped = PEM.replace("\n", "\\n")
    assert redact(f'{{"key": "{escaped}\\n"}}') == '{"key": "[REDACTED:private-key]\\n"}'


def test_pem_block_cut_before_its_end_is_still_redacted_up_to_the_base64_lines():
    cut = "\n".join(PEM.splitlines()[:3])
    assert redact(cut + "\n\nThe output was truncated.") == "[REDACTED:private-key]\n\nThe output was truncated."


def test_code_that_mentions_pem_markers_is_not_redacted():
    text = 'if line.startswith("-----BEGIN RSA PRIVATE KEY-----"):\n    end = "-----END RSA PRIVATE KEY-----"'
    assert redact(text) == text


def test_public_keys_and_certificates_are_not_redacted():
    text = PEM.replace("RSA PRIVATE KEY", "PUBLIC KEY")
    assert redact(text) == text


# ---------------------------------------------------------------------------------------
# Assignments: the value goes, the name stays
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("DB_PASSWORD=hunter2", "DB_PASSWORD=[REDACTED:password]"),
        ("export PASSWORD='s3cr3t!'", "export PASSWORD='[REDACTED:password]'"),
        ('PGPASSWORD="pa ss"', 'PGPASSWORD="[REDACTED:password]"'),
        ("password=hunter2 ./run", "password=[REDACTED:password] ./run"),
        ("passwd: s3cret!", "passwd: [REDACTED:password]"),
        ('{"password": "hunter2", "user": "bob"}', '{"password": "[REDACTED:password]", "user": "bob"}'),
        ('{\\"password\\": \\"hunter2\\"}', '{\\"password\\": \\"[REDACTED:password]\\"}'),
        ('password: "correct horse"\nuser: bob', 'password: "[REDACTED:password]"\nuser: bob'),
        ("POSTGRES_PASSWORD: postgres", "POSTGRES_PASSWORD: [REDACTED:password]"),
        ("client_secret=abc123xyz", "client_secret=[REDACTED:secret]"),
        ("SECRET_KEY = 'django-insecure-9f8e7d'", "SECRET_KEY = '[REDACTED:secret]'"),
        ("GITHUB_TOKEN=abc123", "GITHUB_TOKEN=[REDACTED:token]"),
        ('"accessToken": "ya29.a0AfH6SM"', '"accessToken": "[REDACTED:token]"'),
        ("api_key=abc123def", "api_key=[REDACTED:api-key]"),
        ("X-Api-Key: k3y-value-1", "X-Api-Key: [REDACTED:api-key]"),
        ('apiKey: "pk_live_123"', 'apiKey: "[REDACTED:api-key]"'),
        ('config["password"] = "hunter2"', 'config["password"] = "[REDACTED:password]"'),
        ("https://x.io/cb?access_token=abc123&state=1", "https://x.io/cb?access_token=[REDACTED:token]&state=1"),
        ("mysql --password hunter2 db", "mysql --password [REDACTED:password] db"),
        ('passphrase := "open sesame"', 'passphrase := "[REDACTED:password]"'),
    ],
)
def test_assigned_secret_values_are_redacted_and_names_kept(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "password: string;",
        "  password?: string | null;",
        "def login(password: str) -> None:",
        "api_key = STRIPE_SECRET_KEY",
        "api_key = settings.STRIPE_SECRET_KEY",
        'token = os.getenv("TOKEN")',
        "login(user=user, password=password)",
        'password=""',
        "password=''",
        '{"password": ""}',
        "token=None",
        "token=${TOKEN}",
        "token=$TOKEN",
        'TOKEN="${GITHUB_TOKEN}"',
        "token: ${{ secrets.GITHUB_TOKEN }}",
        "password: {{ .Values.password }}",
        "password=<your-password>",
        'OPENAI_API_KEY="your_actual_openai_api_key_here"',
        "export OPENAI_API_KEY=your-key",
        '"jsonwebtoken": "^9.0.2"',
        '"max_tokens": 4096, "input_tokens": 12',
        "token_count=5 tokens=100 password_hash=abc123",
        "Bad activity token: android.os.BinderProxy@2bd79ce",
        "Skipping AppWindowToken{df0798e token=Token{78af589 ActivityRecord}}",
        "if password == 'x': pass",
        "GOOGLE_CLIENT_SECRET: process.env.GOOGLE_CLIENT_SECRET,",
        "password=[REDACTED:password]",
        "Enter your password: ",
    ],
)
def test_references_placeholders_types_and_empty_values_are_not_redacted(text):
    assert redact(text) == text


# ---------------------------------------------------------------------------------------
# URLs with credentials
# ---------------------------------------------------------------------------------------


def test_password_in_a_url_is_redacted_and_the_user_kept():
    assert redact("git clone https://alice:p4ss@github.com/a/b.git") == (
        "git clone https://alice:[REDACTED:url-password]@github.com/a/b.git"
    )
    assert redact("postgres://app:s3cret@db:5432/app") == "postgres://app:[REDACTED:url-password]@db:5432/app"


@pytest.mark.parametrize(
    "text",
    [
        "http://localhost:8080/@scope/pkg",
        "ssh://git@github.com:22/a/b",
        "https://user@example.com/",
        "https://user:${PASSWORD}@example.com/",
        "http://[::1]:8080/",
    ],
)
def test_urls_without_a_literal_password_are_kept(text):
    assert redact(text) == text


# ---------------------------------------------------------------------------------------
# High-entropy values in env-like assignments
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        (f"FOO_KEY={RANDOM_VALUE}", "FOO_KEY=[REDACTED:high-entropy]"),
        (f"export STRIPE_X={RANDOM_VALUE}\n", "export STRIPE_X=[REDACTED:high-entropy]\n"),
        (f'export X="{RANDOM_VALUE}"', 'export X="[REDACTED:high-entropy]"'),
        (f"env FOO={RANDOM_VALUE} ./app", "env FOO=[REDACTED:high-entropy] ./app"),
        (f"ENCRYPTION_KEY={SHA256}", "ENCRYPTION_KEY=[REDACTED:high-entropy]"),
        (f"export WEBHOOK_SIG={GIT_SHA}", "export WEBHOOK_SIG=[REDACTED:high-entropy]"),
    ],
)
def test_random_values_in_env_assignments_are_redacted(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        f"SESSION_ID={UUID}",
        f"GIT_SHA={GIT_SHA}",
        f"CHECKSUM={SHA256}",
        f"GIT_AUTHOR_COMMIT={GIT_SHA}",
        f"IMAGE={PNG_DATA_URL}",
        "MESSAGE=ThisIsARatherLongCamelCaseValue",
        "OUT_DIR=/home/user/projects/Very-Long-Name2/build/output",
        "SRC=src/components/buttons/primary/v2",
        "HOST=api.staging2.Example-Company.com",
        "export PATH=/usr/local/bin:/usr/bin:/bin",
        "LS_COLORS=rs=0:di=01;34:ln=01;36:mh=00:pi=40;33",
        f"self.value={RANDOM_VALUE}",
        f"?sig={RANDOM_VALUE}x",
    ],
)
def test_identifiers_paths_and_words_in_env_assignments_are_kept(text):
    assert redact(text) == text


def test_shannon_entropy_of_known_strings():
    assert shannon_entropy("") == 0.0
    assert shannon_entropy("aaaa") == 0.0
    assert shannon_entropy("abab") == pytest.approx(1.0)
    assert shannon_entropy("0123456789abcdef") == pytest.approx(4.0)


# ---------------------------------------------------------------------------------------
# False positives that must never be redacted, alone or in their usual context
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        UUID,
        f'{{"sessionId": "{UUID}", "uuid": "{UUID}"}}',
        GIT_SHA,
        f"commit {GIT_SHA}\nAuthor: A <a@example.com>",
        SHA256,
        f"sha256:{SHA256}  archive.tar.zst",
        PNG_DATA_URL,
        f'{{"type": "image", "source": {{"type": "base64", "data": "{PNG_DATA_URL[22:]}"}}}}',
        f'<img src="{PNG_DATA_URL}">',
        "interface Login { username: string; password: string }",
        "api_key = STRIPE_SECRET_KEY",
        'password=""',
        "token=None",
        "token=${TOKEN}",
        "token=$TOKEN",
        "The password policy requires a token from the secret store; ask the API key owner.",
        "I rotated the secret and the token, then updated the password manager.",
        "/home/someone/projects/a-very-long-project-name/src/components/AuthTokenProvider/index.tsx",
        "C:\\Users\\someone\\AppData\\Roaming\\Code\\User\\globalStorage\\state.vscdb",
        f"~/.claude/projects/-home-someone-work/{UUID}.jsonl",
        "~/.codex/sessions/2025/12/25/rollout-2025-12-25T22-45-23-019b55c1-d022-7061-bbb9-b0c90708472b.jsonl",
        "claude --resume 019b55c1-d022-7061-bbb9-b0c90708472b",
    ],
)
def test_common_false_positives_are_not_redacted(text):
    assert find_secrets(text) == []
    assert redact(text) == text


# ---------------------------------------------------------------------------------------
# Guarantees of the API
# ---------------------------------------------------------------------------------------

MIXED = "\n".join(
    [
        f"export ANTHROPIC_API_KEY={ANTHROPIC}",
        f'{{"password": "hunter2", "token": "{JWT}"}}',
        f"git push https://bob:{OPENAI_LEGACY}@github.com/x/y",
        PEM,
        f"FOO_KEY={RANDOM_VALUE}",
        "plain words stay",
    ]
)


def test_find_secrets_reports_sorted_non_overlapping_spans_with_known_kinds():
    secrets = find_secrets(MIXED)
    assert [s.kind for s in secrets] == [
        "anthropic-key",
        "password",
        "jwt",
        "openai-key",
        "private-key",
        "high-entropy",
    ]
    assert all(isinstance(s, Secret) and s.kind in KINDS for s in secrets)
    assert all(a.end <= b.start for a, b in zip(secrets, secrets[1:]))
    assert MIXED[secrets[0].start : secrets[0].end] == ANTHROPIC
    assert MIXED[secrets[2].start : secrets[2].end] == JWT


def test_overlapping_findings_are_merged_under_the_most_specific_kind():
    # The assignment rule and the vendor rule both see this value.
    assert find_secrets(f"OPENAI_API_KEY={OPENAI_PROJECT}") == [Secret("openai-key", 15, 15 + len(OPENAI_PROJECT))]


def test_redaction_is_idempotent():
    once = redact(MIXED)
    assert redact(once) == once
    for secret in (ANTHROPIC, JWT, OPENAI_LEGACY, "hunter2", RANDOM_VALUE, PEM.splitlines()[1]):
        assert secret not in once
    assert once.endswith("plain words stay")


def test_text_without_secrets_is_returned_unchanged():
    text = "ls -la\ntotal 0\n" * 100
    assert redact(text) == text
    assert redact("") == ""


def test_pathological_inputs_finish_and_redact_what_they_should():
    # Thousands of unterminated markers must not make the patterns backtrack for ever.
    assert redact("-----BEGIN RSA PRIVATE KEY-----\n" * 5000).count("[REDACTED") == 0
    assert redact("password:\n" * 50000) == "password:\n" * 50000
    assert redact("://a:" * 50000) == "://a:" * 50000
    assert redact("eyJ" + "a" * 200000) == "eyJ" + "a" * 200000


_SECRETS = [ANTHROPIC, OPENAI_PROJECT, "ghp_" + GITHUB_CLASSIC_BODY, GITHUB_FINE, AWS_ID, SLACK_BOT, JWT, PEM]


@settings(max_examples=50, deadline=None)
@given(
    before=st.text(alphabet=string.printable, max_size=200),
    after=st.text(alphabet=string.printable, max_size=200),
    secret=st.sampled_from(_SECRETS),
)
def test_a_secret_between_separators_never_survives_whatever_surrounds_it(before, after, secret):
    out = redact(f"{before} {secret}\n{after}")
    assert secret not in out
    assert "[REDACTED:" in out


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=500))
def test_redact_never_raises_and_is_idempotent_on_any_text(text):
    out = redact(text)
    assert isinstance(out, str)
    assert redact(out) == out
