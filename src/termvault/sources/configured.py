"""The sources of one home: every known kind, with the mode and age threshold its
settings give it, and which of them a sweep covers."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..config import Config
from ..errors import ConfigError, NotFoundError, TermvaultError
from . import available_kinds, is_known, source_class, unknown_kind_message
from .base import Source

log = logging.getLogger(__name__)


@dataclass
class ConfiguredSource:
    source: Source
    mode: str
    archive_days: float
    configured: bool


class SourceSet:
    def __init__(self, config: Config):
        self.config = config
        self._all: dict[str, ConfiguredSource] | None = None
        for kind in config.sources:
            # A misspelt [sources.KIND] section would otherwise be accepted and never swept.
            if not is_known(kind):
                raise ConfigError(unknown_kind_message(kind, f" in [sources.{kind}] of the settings"))

    def _load(self) -> dict[str, ConfiguredSource]:
        if self._all is None:
            found: dict[str, ConfiguredSource] = {}
            for kind in available_kinds():
                sc = self.config.source_config(kind)
                try:
                    cls = source_class(kind)
                except TermvaultError:
                    if kind in self.config.sources:
                        raise
                    log.warning("source kind %s could not be loaded", kind)
                    continue
                unknown = sorted(set(sc.options) - cls.option_names)
                if unknown:
                    raise ConfigError(_unknown_option(kind, unknown[0], cls.option_names, self.config.config_file))
                src = cls(sc.roots or None, home=self.config.home, options=sc.options)
                mode = sc.mode or cls.default_mode
                days = sc.archive_days
                if days is None:
                    days = (cls.move_archive_days or self.config.archive_days) if mode == "move" else 0.0
                found[kind] = ConfiguredSource(src, mode, days, kind in self.config.sources)
            self._all = found
        return self._all

    def select(self, kinds: Sequence[str] | None = None, include_undetected: bool = False) -> list[ConfiguredSource]:
        """The sources a sweep covers: configured ones, and every other known kind whose
        default folder exists. ``kinds`` restricts (unknown kinds raise ConfigError)."""
        known = self._load()
        chosen = []
        for kind in kinds or list(known):
            if kind not in known:
                source_class(kind)  # raises ConfigError naming the known kinds
                continue
            cs = known[kind]
            if not self.config.source_config(kind).enabled and not kinds:
                continue
            auto = cs.source.auto_detect and cs.source.detected()
            if kinds or include_undetected or cs.configured or auto:
                chosen.append(cs)
        return chosen

    def get(self, kind: str) -> Source:
        for cs in self.select([kind], include_undetected=True):
            return cs.source
        raise NotFoundError(f"No source of kind {kind!r} is available.")

    def allowed_roots(self) -> list[Path]:
        """Folders a restore to the original location may write into: the history folder
        and the roots of every source (configured, or the default of one swept when
        detected), deepest first."""
        roots = {Path(os.path.abspath(self.config.history_dir))}
        for cs in self.select(include_undetected=True):
            # A default root as wide as the whole home (aider's) counts only once configured.
            if cs.configured or cs.source.auto_detect:
                roots.update(Path(os.path.abspath(r)) for r in cs.source.roots)
        return sorted(roots, key=lambda p: len(p.parts), reverse=True)


def _unknown_option(kind: str, key: str, own: frozenset[str], origin: Path | None) -> str:
    takes = ["mode", "roots", "archive_days", "enabled", *sorted(own)]
    where = f" in {origin}" if origin else ""
    return (
        f"sources.{kind}.{key}{where} is not a setting of {kind} sources (a typo?); "
        f"they take {', '.join(takes[:-1])} and {takes[-1]}."
    )
