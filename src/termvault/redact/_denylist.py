"""The denylist patterns of the detect-secrets plugins termvault runs, taken from
detect-secrets VERSION (scripts/denylist.py writes this file; do not edit).
"""

from __future__ import annotations

# fmt: off
VERSION = '1.5.0'
# (plugin module, detector class) -> ((pattern, flags), ...)
PATTERNS: dict[tuple[str, str], tuple[tuple[str, int], ...]] = {
    ('aws', 'AWSKeyDetector'): (
        ('(?:A3T[A-Z0-9]|ABIA|ACCA|AKIA|ASIA)[0-9A-Z]{16}', 32),
        ('aws.{0,20}?(?:key|pwd|pw|password|pass|token).{0,20}?[\\\'\\"]([0-9a-zA-Z/+]{40})[\\\'\\"]', 34),
    ),
    ('azure_storage_key', 'AzureStorageKeyDetector'): (
        ('AccountKey=[a-zA-Z0-9+\\/=]{88}', 32),
    ),
    ('discord', 'DiscordBotTokenDetector'): (
        ('[MNO][a-zA-Z\\d_-]{23,25}\\.[a-zA-Z\\d_-]{6}\\.[a-zA-Z\\d_-]{27}', 32),
    ),
    ('gitlab_token', 'GitLabTokenDetector'): (
        ('(glpat|gldt|glft|glsoat|glrt)-[A-Za-z0-9_\\-]{20,50}(?!\\w)', 32),
        ('GR1348941[A-Za-z0-9_\\-]{20,50}(?!\\w)', 32),
        ('glcbt-([0-9a-fA-F]{2}_)?[A-Za-z0-9_\\-]{20,50}(?!\\w)', 32),
        ('glimt-[A-Za-z0-9_\\-]{25}(?!\\w)', 32),
        ('glptt-[A-Za-z0-9_\\-]{40}(?!\\w)', 32),
        ('glagent-[A-Za-z0-9_\\-]{50,1024}(?!\\w)', 32),
        ('gloas-[A-Za-z0-9_\\-]{64}(?!\\w)', 32),
    ),
    ('mailchimp', 'MailchimpDetector'): (
        ('[0-9a-z]{32}-us[0-9]{1,2}', 32),
    ),
    ('npm', 'NpmDetector'): (
        ('\\/\\/.+\\/:_authToken=\\s*((npm_.+)|([A-Fa-f0-9-]{36})).*', 32),
    ),
    ('pypi_token', 'PypiTokenDetector'): (
        ('pypi-AgEIcHlwaS5vcmc[A-Za-z0-9-_]{70,}', 32),
        ('pypi-AgENdGVzdC5weXBpLm9yZw[A-Za-z0-9-_]{70,}', 32),
    ),
    ('sendgrid', 'SendGridDetector'): (
        ('SG\\.[a-zA-Z0-9_-]{22}\\.[a-zA-Z0-9_-]{43}', 32),
    ),
    ('square_oauth', 'SquareOAuthDetector'): (
        ('sq0csp-[0-9A-Za-z\\\\\\-_]{43}', 32),
    ),
    ('stripe', 'StripeDetector'): (
        ('(?:r|s)k_live_[0-9a-zA-Z]{24}', 32),
    ),
    ('telegram_token', 'TelegramBotTokenDetector'): (
        ('\\d{8,10}:[0-9A-Za-z_-]{35}', 32),
    ),
    ('twilio', 'TwilioKeyDetector'): (
        ('AC[a-z0-9]{32}', 32),
        ('SK[a-z0-9]{32}', 32),
    ),
}
