"""The command as a whole: help, version, completion, usage errors and the error policy."""

from __future__ import annotations

import click
import pytest

from termvault import __version__
from termvault.cli import COMMANDS, cli

from .support import API, invoke, run

ALL_COMMANDS = cli.list_commands(click.Context(cli))


def test_every_documented_command_exists():
    assert set(ALL_COMMANDS) == {
        "sweep",
        "search",
        "show",
        "export",
        "restore",
        "stats",
        "verify",
        "prune",
        "pin",
        "unpin",
        "reindex",
        "import-legacy",
        "daemon",
        "browse",
        "sources",
        "remote",
        "mcp",
        "resume",
    }


@pytest.mark.parametrize("name", ALL_COMMANDS)
def test_the_listed_summary_of_each_lazy_command_is_its_own(name):
    # `termvault --help` lists the table's summaries without importing the commands: each
    # must read as the command's own help would, at any width.
    command = cli.get_command(click.Context(cli), name)
    assert command is not None and command.name == name
    listed = click.Command(name, help=COMMANDS[name].summary)
    for limit in (20, 45, 80, 200):
        assert listed.get_short_help_str(limit) == command.get_short_help_str(limit), limit


@pytest.mark.parametrize("command", [[], *([c] for c in ALL_COMMANDS)], ids=lambda c: " ".join(c) or "termvault")
def test_every_command_help_exits_zero_and_shows_an_example(command):
    result = invoke(*command, "--help")
    assert result.exit_code == 0, result.output
    assert "Example" in result.stdout
    assert "termvault" in result.stdout


def test_help_and_version_through_a_real_process():
    helped = run("--help")
    assert helped.returncode == 0
    assert "Example" in helped.stdout and "sweep" in helped.stdout
    assert "_TERMVAULT_COMPLETE=bash_source termvault" in helped.stdout
    version = run("--version")
    assert version.returncode == 0
    assert version.stdout.strip() == f"termvault {__version__}"


def test_version_in_process():
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"termvault {__version__}"


def test_bash_completion_script_is_generated_by_the_documented_variable():
    proc = run(env={"_TERMVAULT_COMPLETE": "bash_source"})
    assert proc.returncode == 0
    assert "_termvault_completion" in proc.stdout
    assert "complete " in proc.stdout


def test_completion_offers_archived_session_ids_for_a_prefix(archived):
    proc = run(env={"_TERMVAULT_COMPLETE": "bash_complete", "COMP_WORDS": "termvault show 3f2a", "COMP_CWORD": "2"})
    assert proc.returncode == 0
    assert f"plain,{API}" in proc.stdout.splitlines()


def test_completion_of_subcommands():
    proc = run(env={"_TERMVAULT_COMPLETE": "bash_complete", "COMP_WORDS": "termvault sw", "COMP_CWORD": "1"})
    assert "plain,sweep" in proc.stdout.splitlines()


def test_an_unknown_command_is_a_usage_error_in_one_sentence():
    result = invoke("frobnicate")
    assert result.exit_code == 2
    assert result.stderr.startswith("termvault: ")
    assert "frobnicate" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_an_unknown_option_is_a_usage_error_through_a_real_process():
    proc = run("sweep", "--no-such-option")
    assert proc.returncode == 2
    assert proc.stderr.startswith("termvault: ")
    assert "--no-such-option" in proc.stderr
    assert "termvault sweep --help" in proc.stderr


def test_verbose_and_quiet_together_are_refused():
    result = invoke("-v", "--quiet", "stats")
    assert result.exit_code == 2
    assert "cannot be used together" in result.stderr


def test_a_library_error_is_one_sentence_without_traceback(archived):
    result = invoke("show", "nope")
    assert result.exit_code == 1
    assert result.stderr == "termvault: No archived session matches 'nope'.\n"


def test_verbose_adds_the_traceback_to_an_error(archived):
    proc = run("-v", "show", "nope")
    assert proc.returncode == 1
    assert "Traceback (most recent call last)" in proc.stderr
    assert proc.stderr.rstrip().endswith("termvault: No archived session matches 'nope'.")


def test_an_unreadable_config_file_is_a_usage_error_naming_it(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("archive_days = [\n")
    result = invoke("--config", str(bad), "stats")
    assert result.exit_code == 2
    assert str(bad) in result.stderr
    assert "not valid TOML" in result.stderr


def test_home_option_overrides_the_environment(tmp_path, home):
    other = tmp_path / "elsewhere"
    result = invoke("--home", str(other), "sweep", "--json")  # a sweep creates its home
    assert result.exit_code == 0
    assert other.is_dir()
    assert not home.exists()


def test_termvault_alone_shows_the_help_as_a_usage_error():
    result = invoke()
    assert result.exit_code == 2
    assert result.stderr.startswith("Usage: termvault")
    assert "\nCommands:\n" in result.stderr


def test_a_missing_argument_names_it_and_the_help_to_read():
    result = invoke("show")
    assert result.exit_code == 2
    assert result.stderr == "termvault: Missing argument 'ID'. See 'termvault show --help'.\n"


@pytest.mark.parametrize(
    "args",
    [("--home", "", "sweep"), ("--home", " ", "stats"), ("restore", "x", "--to", ""), ("export", "x", "-o", "")],
)
def test_an_empty_path_option_is_a_usage_error_not_the_working_folder(args, tmp_path, monkeypatch):
    # `termvault --home "$TV_HOME" sweep` with the variable unset made the working folder
    # a termvault home (archive/, history/, the index and a lock, written there).
    monkeypatch.chdir(tmp_path)
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert "empty path" in result.stderr
    assert list(tmp_path.iterdir()) == []
