"""Source plug-ins. Kinds are registered under the ``termvault.sources`` entry point group,
so another package can add a kind; the built-in kinds are also known without installing."""

from __future__ import annotations

import importlib
import logging
from functools import lru_cache

from ..errors import ConfigError
from .base import Message, Source

log = logging.getLogger(__name__)

BUILTIN: dict[str, str] = {
    "native": "termvault.sources.native:NativeSource",
    "claude-code": "termvault.sources.claude_code:ClaudeCodeSource",
    "codex": "termvault.sources.codex:CodexSource",
    "gemini": "termvault.sources.gemini:GeminiSource",
    "aider": "termvault.sources.aider:AiderSource",
    "asciinema": "termvault.sources.asciinema:AsciinemaSource",
    "agent-log": "termvault.sources.agent_log:AgentLogSource",
    "agentmux": "termvault.sources.agentmux:AgentMuxSource",
    "wave": "termvault.sources.wave:WaveSource",
}


@lru_cache(maxsize=1)
def registry() -> dict[str, str]:
    """kind -> "module:Class" for every known kind (built-ins, then entry points)."""
    kinds = dict(BUILTIN)
    try:
        from importlib.metadata import entry_points

        for ep in entry_points(group="termvault.sources"):
            kinds.setdefault(ep.name, ep.value)
    except Exception:  # a broken third-party distribution must not stop termvault
        log.warning("could not read termvault.sources entry points", exc_info=True)
    return kinds


def available_kinds() -> list[str]:
    return list(registry())


def is_known(kind: str) -> bool:
    """Whether ``kind`` names a source; a built-in kind is known without reading the
    entry points (importlib.metadata is slow to load: every command checks its settings)."""
    return kind in BUILTIN or kind in registry()


def unknown_kind_message(kind: str, where: str = "") -> str:
    """``Unknown source kind 'claude' ...; did you mean 'claude-code'?`` and the known kinds."""
    import difflib

    kinds = available_kinds()
    close = difflib.get_close_matches(kind, kinds, n=1, cutoff=0.5)
    close = close or [k for k in kinds if k.startswith(kind) or kind.startswith(k)][:1]
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return (
        f"Unknown source kind {kind!r}{where}{hint} Known kinds are: {', '.join(kinds)}."
        if hint
        else f"Unknown source kind {kind!r}{where}; known kinds are: {', '.join(kinds)}."
    )


def source_class(kind: str) -> type[Source]:
    """The Source subclass for ``kind``; ConfigError names the known kinds otherwise."""
    # A built-in kind needs no entry-point scan (importlib.metadata is slow to load and
    # the built-ins win over entry points anyway).
    target = BUILTIN.get(kind) or registry().get(kind)
    if target is None:
        raise ConfigError(unknown_kind_message(kind))
    module_name, _, attr = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"The source kind {kind!r} could not be loaded ({exc}).") from exc
    return cls


__all__ = ["Message", "Source", "available_kinds", "is_known", "registry", "source_class"]
