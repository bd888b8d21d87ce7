"""The remote settings: the address, this machine's folder, and credentials from the
standard AWS profile files when the environment holds none."""

from __future__ import annotations

import pytest

from termvault.archive.objects import RemoteSpec, _profile_settings, default_host, parse_key
from termvault.config import Config
from termvault.errors import ConfigError


def test_the_address_splits_into_bucket_and_prefix_and_the_host_defaults_to_this_machine(home):
    spec = RemoteSpec.from_config(Config.load(home, remote="s3://my-bucket/team/termvault/"))
    assert (spec.bucket, spec.prefix, spec.host) == ("my-bucket", "team/termvault", default_host())
    assert spec.display("h/2024/01/x.tar.zst") == "s3://my-bucket/team/termvault/h/2024/01/x.tar.zst"
    assert RemoteSpec.from_config(Config.load(home)) is None


@pytest.mark.parametrize(
    "key, value",
    [
        ("remote", "http://bucket/prefix"),
        ("remote", "s3://"),
        ("remote_host", "../up"),
        ("remote_host", "a/b"),
        ("remote_endpoint", "minio:9000"),
        ("remote_region", "eu west"),
    ],
)
def test_malformed_remote_settings_are_refused_naming_the_setting(home, key, value):
    with pytest.raises(ConfigError, match=key):
        Config.load(home, **{key: value})


def test_an_empty_remote_setting_turns_the_remote_off(home):
    assert Config.load(home, env={"TERMVAULT_REMOTE": ""}).remote is None


def test_keys_come_from_the_named_profile_when_the_environment_has_none(user_home, monkeypatch):
    aws = user_home / ".aws"
    aws.mkdir()
    (aws / "credentials").write_text(
        "[default]\naws_access_key_id = D\naws_secret_access_key = DS\n"
        "[work]\naws_access_key_id = W\naws_secret_access_key = WS\n"
        "aws_session_token = WT\n"
    )
    (aws / "config").write_text("[profile work]\nregion = eu-west-3\n")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.setenv("AWS_PROFILE", "work")
    assert _profile_settings() == {
        "access_key_id": "W",
        "secret_access_key": "WS",
        "session_token": "WT",
        "region": "eu-west-3",
    }
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "from-env")  # the environment wins; the profile fills gaps
    assert _profile_settings() == {"region": "eu-west-3"}


def test_only_unit_keys_are_recognised_in_a_listing():
    assert parse_key("laptop/2024/05/1714000000_abc.tar.zst") == ("laptop", "2024/05/1714000000_abc.tar.zst")
    for other in (
        "laptop/2024/05/.tv-tmp-1-x.tar.zst",
        "laptop/notes.txt",
        "2024/05/x.tar.zst",
        "laptop/2024/05/sub/x.tar.zst",
        "../2024/05/x.tar.zst",
    ):
        assert parse_key(other) is None
