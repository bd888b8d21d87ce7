"""Settings: defaults < config.toml < TERMVAULT_* variables < explicit arguments.

``config.toml`` lives in the home folder (or is named with ``--config``)::

    archive_days = 30          # native sessions inactive this long are archived
    interval_hours = 24        # background / daemon sweep interval
    level = 6                  # zstd level at sweep time, 1..22
    verify = true              # read every archive back before a source is removed
    full_text = true           # index each session's text for full-text search
    delta_max_links = 250      # appended versions in a row before one is stored whole (0: never deltas)
    max_total_bytes = "2GB"    # storage cap for prune; absent = no cap
    settle_seconds = 600       # a file written to this recently is left for later
    max_expand_bytes = "64GB"  # refuse archives that claim to expand past this

    # Optional remote tier: archives also go to S3-compatible storage and the disk becomes
    # a cache. Credentials come from the AWS_* variables or the AWS profile.
    remote = "s3://bucket/prefix"
    remote_endpoint = "https://minio.example:9000"  # MinIO, R2, GCS...; absent = AWS
    remote_region = "eu-west-1"                     # absent = AWS_REGION or the profile's
    remote_host = "laptop"                          # this machine's folder (default: hostname)

    [sources.claude-code]
    mode = "copy"              # move | copy
    roots = ["~/.claude/projects"]
    archive_days = 0           # copy sources keep a copy as soon as a session settles
    enabled = true
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .errors import ConfigError

DEFAULT_HOME = "~/.multi-term"
CONFIG_NAME = "config.toml"
MODES = ("move", "copy")
CODECS = ("zstd",)

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?i?b?)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1000, "m": 1000**2, "g": 1000**3, "t": 1000**4, "p": 1000**5}


def parse_size(value: Any, what: str = "size") -> int | None:
    """Parse ``2GB``, ``1.5 GiB``, ``500M`` or an integer of bytes; None/"" means no limit."""
    if value is None or value == "" or (isinstance(value, str) and value.lower() in ("none", "off")):
        return None
    if isinstance(value, bool):
        raise ConfigError(f"{what} must be a size such as 2GB, not {value!r}.")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ConfigError(f"{what} must not be negative ({value}).")
        return int(value)
    m = _SIZE.match(str(value))
    if not m:
        raise ConfigError(f"{what} must be a size such as 500MB, 2GB or 1.5GiB, not {value!r}.")
    number, unit = float(m.group(1)), (m.group(2) or "").lower()
    binary = "i" in unit
    base = unit[:1] if unit[:1] in "kmgtp" else ""
    mult = 1024 ** ("kmgtp".index(base) + 1) if binary and base else _UNITS[base]
    return int(number * mult)


def parse_bool(value: Any, what: str) -> bool:
    if isinstance(value, bool):
        return value
    s = str(value).strip().lower()
    if s in ("1", "true", "yes", "on"):
        return True
    if s in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{what} must be true or false, not {value!r}.")


@dataclass
class SourceConfig:
    kind: str
    mode: str | None = None  # None = the source's default_mode
    roots: list[str] = field(default_factory=list)
    archive_days: float | None = None  # None = global (move) or 0 (copy)
    enabled: bool = True
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Config:
    home: Path
    archive_days: float = 30.0
    interval_hours: float = 24.0
    level: int = 6
    verify: bool = True
    full_text: bool = True
    # A version of a file that only grew stores what was appended and names its base;
    # after this many links in a row the next version is stored whole (0: always whole).
    delta_max_links: int = 250
    max_total_bytes: int | None = None
    settle_seconds: float = 600.0
    max_expand_bytes: int = 64 * 1000**3
    remote: str | None = None
    remote_endpoint: str | None = None
    remote_region: str | None = None
    remote_host: str | None = None
    sources: dict[str, SourceConfig] = field(default_factory=dict)
    config_file: Path | None = None

    @property
    def archive_dir(self) -> Path:
        return self.home / "archive"

    @property
    def history_dir(self) -> Path:
        return self.home / "history"

    @property
    def index_path(self) -> Path:
        return self.home / "archive_index.sqlite3"

    def source_config(self, kind: str) -> SourceConfig:
        return self.sources.get(kind) or SourceConfig(kind=kind)

    def with_overrides(self, **overrides: Any) -> Config:
        cfg = replace(self, sources=dict(self.sources))
        _apply(cfg, overrides, "argument")
        return cfg

    @classmethod
    def load(
        cls,
        home: Path | str | None = None,
        config_file: Path | str | None = None,
        env: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> Config:
        """Resolve the home and settings. Raises ConfigError naming the bad setting."""
        env = os.environ if env is None else env
        home_path = Path(os.path.expanduser(str(home or env.get("TERMVAULT_HOME") or DEFAULT_HOME)))
        cfg = cls(home=home_path.absolute())
        cfg.sources["native"] = SourceConfig(kind="native", roots=[str(cfg.history_dir)])
        path = Path(config_file or env.get("TERMVAULT_CONFIG") or cfg.home / CONFIG_NAME)
        if config_file and not path.is_file():
            raise ConfigError(f"The config file {path} does not exist.")
        if path.is_file():
            import tomllib  # lazy: parsed only when a settings file exists

            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise ConfigError(f"{path} is not valid TOML: {exc}.") from exc
            cfg.config_file = path
            _apply(cfg, data, str(path))
        env_values = {
            key[len("TERMVAULT_") :].lower(): value
            for key, value in env.items()
            if key.startswith("TERMVAULT_") and key not in ("TERMVAULT_HOME", "TERMVAULT_CONFIG", "TERMVAULT_CORPUS")
        }
        _apply(cfg, env_values, "environment", strict=False)
        _apply(cfg, overrides, "argument")
        return cfg


def _apply(cfg: Config, data: Mapping[str, Any], origin: str, strict: bool = True) -> None:
    for key, value in data.items():
        if value is None and origin == "argument":
            continue
        where = f"{key} (from {origin})"
        if key == "archive_days":
            cfg.archive_days = _number(value, where, minimum=0)
        elif key == "interval_hours":
            cfg.interval_hours = _number(value, where, minimum=0.0001)
        elif key == "settle_seconds":
            cfg.settle_seconds = _number(value, where, minimum=0)
        elif key == "codec":
            # Archives are zstd by format; older config files may still name it.
            if value not in CODECS:
                raise ConfigError(f"{where} must be one of {', '.join(CODECS)}, not {value!r}.")
        elif key == "level":
            level = int(_number(value, where, minimum=1))
            if level > 22:
                raise ConfigError(f"{where} must be a zstd level from 1 to 22, not {value!r}.")
            cfg.level = level
        elif key == "verify":
            cfg.verify = parse_bool(value, where)
        elif key == "full_text":
            cfg.full_text = parse_bool(value, where)
        elif key == "delta_max_links":
            cfg.delta_max_links = int(_number(value, where, minimum=0))
        elif key == "max_total_bytes":
            cfg.max_total_bytes = parse_size(value, where)
        elif key == "max_expand_bytes":
            size = parse_size(value, where)
            cfg.max_expand_bytes = size if size is not None else cfg.max_expand_bytes
        elif key in ("remote", "remote_endpoint", "remote_region", "remote_host"):
            setattr(cfg, key, _remote_setting(key, value, where))
        elif key == "sources":
            if not isinstance(value, Mapping):
                raise ConfigError(f"{where} must be a table of [sources.KIND] sections.")
            for kind, section in value.items():
                cfg.sources[kind] = _source_config(kind, section, origin, cfg.sources.get(kind))
        elif strict:
            raise ConfigError(f"Unknown setting {key!r} in {origin}.")


def _source_config(kind: str, section: Any, origin: str, base: SourceConfig | None) -> SourceConfig:
    if not isinstance(section, Mapping):
        raise ConfigError(f"[sources.{kind}] in {origin} must be a table.")
    sc = replace(base) if base else SourceConfig(kind=kind)
    for key, value in section.items():
        where = f"sources.{kind}.{key} (from {origin})"
        if key == "mode":
            if value not in MODES:
                raise ConfigError(f"{where} must be 'move' or 'copy', not {value!r}.")
            sc.mode = value
        elif key in ("roots", "root"):
            roots = [value] if isinstance(value, (str, Path)) else value
            if not isinstance(roots, list) or not all(isinstance(r, (str, Path)) for r in roots):
                raise ConfigError(f"{where} must be a folder or a list of folders.")
            sc.roots = [str(r) for r in roots]
        elif key == "archive_days":
            sc.archive_days = _number(value, where, minimum=0)
        elif key == "enabled":
            sc.enabled = parse_bool(value, where)
        elif key in _HOME_SETTINGS:
            raise ConfigError(
                f"{where}: {key} is a setting of the whole home, not of a source; write it above the first "
                f"[section] of the file (below [sources.{kind}] it belongs to that section and would do nothing)."
            )
        else:
            sc.options[key] = value
    return sc


# The top-level settings (``_apply``) that mean nothing inside a [sources.KIND] section;
# archive_days is both.
_HOME_SETTINGS = frozenset(
    {
        "interval_hours", "settle_seconds", "codec", "level", "verify", "full_text", "delta_max_links",
        "max_total_bytes", "max_expand_bytes", "remote", "remote_endpoint", "remote_region", "remote_host",
    }
)  # fmt: skip


_REMOTE_FORMS = {
    "remote": (r"s3a?://[^/\s]+(/\S*)?", "an s3://bucket/prefix address"),
    "remote_endpoint": (r"https?://\S+", "an http:// or https:// address"),
    "remote_region": (r"[A-Za-z0-9-]+", "a region name such as eu-west-1"),
    "remote_host": (r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}", "a name of letters, digits, '.', '_' and '-'"),
}


def _remote_setting(key: str, value: Any, where: str) -> str | None:
    """A remote setting, checked for form; "" (or none/off) turns it off."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "off")):
        return None
    pattern, form = _REMOTE_FORMS[key]
    if not isinstance(value, str) or not re.fullmatch(pattern, value.strip()):
        raise ConfigError(f"{where} must be {form}, not {value!r}.")
    return value.strip()


def _number(value: Any, where: str, minimum: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where} must be a number, not {value!r}.") from None
    if number < minimum:
        raise ConfigError(f"{where} must be at least {minimum}, not {value!r}.")
    return number
