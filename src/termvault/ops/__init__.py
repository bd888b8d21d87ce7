"""Operations on a home: sweep, restore, export, search, verify, repair, reindex, prune,
the remote tier. Each takes the parts it needs (a ``Context``), never the vault.

A submodule is imported when first named (``ops.sweep``; PEP 562): the vault reaches every
operation through this package, and a command loads only the ones it runs."""

from __future__ import annotations

import importlib
from types import ModuleType


def __getattr__(name: str) -> ModuleType:
    if name.startswith("_"):
        raise AttributeError(name)
    try:
        return importlib.import_module(f"{__name__}.{name}")  # lazy: see above
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}.{name}":
            raise
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
