"""Settings resolve defaults < config.toml < TERMVAULT_* < arguments, with clear errors."""

from __future__ import annotations

import pytest

from termvault.config import Config, parse_size
from termvault.errors import ConfigError


def test_defaults(home):
    cfg = Config.load(home)
    assert (cfg.archive_days, cfg.interval_hours, cfg.verify, cfg.max_total_bytes) == (30, 24, True, None)


def test_home_comes_from_the_environment_by_default(home, monkeypatch):
    assert Config.load().home == home


def test_config_file_then_environment_then_arguments(home, monkeypatch):
    home.mkdir(parents=True)
    (home / "config.toml").write_text(
        'archive_days = 10\nlevel = 5\nmax_total_bytes = "2GB"\n[sources.claude-code]\nmode = "move"\nroots = ["~/x"]\n'
    )
    cfg = Config.load(home)
    assert (cfg.archive_days, cfg.level, cfg.max_total_bytes) == (10, 5, 2_000_000_000)
    assert cfg.source_config("claude-code").mode == "move"
    monkeypatch.setenv("TERMVAULT_ARCHIVE_DAYS", "12")
    assert Config.load(home).archive_days == 12
    assert Config.load(home, archive_days=3).archive_days == 3


@pytest.mark.parametrize(
    "text, message",
    [
        ("archive_days = -1", "at least"),
        ('codec = "lz4"', "must be one of"),
        ("level = 40", "zstd level"),
        ('max_total_bytes = "lots"', "size such as"),
        ('[sources.codex]\nmode = "shred"', "'move' or 'copy'"),
        ("colour = 1", "Unknown setting"),
        ("not toml [", "not valid TOML"),
        # TOML puts a line after [sources.X] into that section: the cap was silently not set.
        ('[sources.agent-log]\nroots = ["~/logs"]\nmax_total_bytes = "1GB"', "above the first"),
        ("[sources.codex]\nfull_text = false", "above the first"),
    ],
)
def test_bad_settings_name_the_setting(home, text, message):
    home.mkdir(parents=True)
    (home / "config.toml").write_text(text)
    with pytest.raises(ConfigError, match=message):
        Config.load(home)


def test_sizes():
    assert parse_size("1.5GiB") == int(1.5 * 1024**3)
    assert parse_size("500MB") == 500_000_000
    assert parse_size(None) is None and parse_size("none") is None


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            "[sources.codex]\narchive_dyas = 7",
            r"sources\.codex\.archive_dyas in .*config\.toml is not a setting of codex",
        ),
        (
            "[sources.aider]\nmax_dpeth = 2",
            r"they take mode, roots, archive_days, enabled, include_hidden, max_depth and skip",
        ),
    ],
)
def test_a_mistyped_source_setting_is_an_error_naming_it_not_silently_kept(home, section, message):
    from termvault.sources.configured import SourceSet

    home.mkdir(parents=True)
    (home / "config.toml").write_text(section)
    with pytest.raises(ConfigError, match=message):
        SourceSet(Config.load(home)).select()


def test_a_sources_own_settings_are_accepted(home):
    from termvault.sources.configured import SourceSet

    home.mkdir(parents=True)
    (home / "config.toml").write_text(
        '[sources.aider]\nmax_depth = 2\nskip = ["x"]\n[sources.gemini]\nmax_json_bytes = 9\n'
    )
    found = {cs.source.kind: cs.source.options for cs in SourceSet(Config.load(home)).select(include_undetected=True)}
    assert found["aider"] == {"max_depth": 2, "skip": ["x"]} and found["gemini"] == {"max_json_bytes": 9}
