"""``termvault remote status | push | pull`` against a real S3 server, through the real
root command's options and error policy."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from termvault.cli import TermvaultGroup, cli
from termvault.cli.remote import remote_group

from ..helpers import make_native

# The root command with its global options and error policy, and the remote group; the
# shipped root registers the group itself (cli/app.py).
root = TermvaultGroup(
    name="termvault",
    params=cli.params,
    callback=cli.callback,
    commands={"remote": remote_group},
    context_settings=cli.context_settings,
)


def invoke(home, *args):
    result = CliRunner().invoke(root, ["--home", str(home), "remote", *args], env={"COLUMNS": None})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


@pytest.fixture
def configured(home, endpoint, bucket):
    """A home whose config.toml names the test bucket (host "alpha")."""
    home.mkdir(parents=True, mode=0o700)
    (home / "config.toml").write_text(
        f'remote = "s3://{bucket}/tv"\nremote_endpoint = "{endpoint}"\nremote_host = "alpha"\n'
    )
    return home


def test_status_without_a_remote_says_how_to_configure_one(home):
    result = invoke(home, "status")
    assert result.exit_code == 0
    assert 'remote = "s3://bucket/prefix"' in result.stdout


def test_status_shows_the_bucket_the_machines_and_the_counts(configured):
    from termvault.vault import Vault

    make_native(configured, "one", 40)
    with Vault(configured) as v:
        v.sweep()
    result = invoke(configured, "status")
    assert result.exit_code == 0, result.output
    assert "alpha" in result.stdout and "1 archived here: 1 verified in the remote, 0 pending" in result.stdout
    data = json.loads(invoke(configured, "status", "--json").stdout)
    assert data["reachable"] is True and data["hosts"] == ["alpha"] and data["verified"] == 1


def test_status_of_an_unreachable_remote_exits_1_naming_the_problem(configured, moto_port):
    text = (configured / "config.toml").read_text().replace(str(moto_port), "1")
    (configured / "config.toml").write_text(text)
    result = invoke(configured, "status")
    assert result.exit_code == 1
    assert "Reachable" in result.stdout and "no: Could not list the bucket" in result.stdout
    assert invoke(configured, "status", "--offline").exit_code == 0


def test_push_uploads_pending_versions_and_exits_1_while_some_remain(configured, moto_port, endpoint):
    from termvault.vault import Vault

    cfg = configured / "config.toml"
    good = cfg.read_text()
    cfg.write_text(good.replace(str(moto_port), "1"))
    make_native(configured, "one", 40)
    with Vault(configured) as v:
        v.sweep()  # the remote is unreachable: archived, not uploaded
    failed = invoke(configured, "push")
    assert failed.exit_code == 1 and "1 version still pending" in failed.stdout
    cfg.write_text(good)
    done = invoke(configured, "push", "--json")
    assert done.exit_code == 0
    report = json.loads(done.stdout)
    assert report["verified_count"] == 1 and report["pending_count"] == 0
    assert invoke(configured, "push").stdout.startswith("Nothing to upload")


def test_pull_fetches_an_evicted_version_into_the_cache(configured):
    from termvault.vault import Vault

    make_native(configured, "one", 40)
    make_native(configured, "two", 41)
    with Vault(configured) as v:
        v.sweep()
        v.prune(max_bytes=0)
        paths = [v.archive_file(v.get(s)) for s in ("one", "two")]
    assert not any(p.exists() for p in paths)
    result = invoke(configured, "pull", "one")
    assert result.exit_code == 0 and "Fetched one (version 1" in result.stdout
    assert paths[0].exists() and not paths[1].exists()
    assert "already here" in invoke(configured, "pull", "one").stdout
    assert "Fetched 1 version" in invoke(configured, "pull", "--all").stdout
    assert paths[1].exists()


def test_pull_needs_an_id_or_all(configured):
    result = invoke(configured, "pull")
    assert result.exit_code == 2 and "Give a session ID or --all" in result.output


@pytest.mark.parametrize("command", [[], ["status"], ["push"], ["pull"]])
def test_every_remote_command_has_help_with_an_example(home, command):
    result = invoke(home, *command, "--help")
    assert result.exit_code == 0 and "Example" in result.stdout
