"""Names a package offers without importing them up front (PEP 562), so that importing
the package stays fast: ``termvault``, ``termvault.compat``, ``termvault.redact`` and
``termvault.index``. Imports nothing but ``importlib`` and ``sys`` (not even ``typing``:
the quick ``termvault --help`` and ``stats`` start through here)."""

from __future__ import annotations

import importlib
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any


def exports(package: str, where: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: each name in ``where`` is imported from
    the module given for it when first asked for, then kept in the package."""

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
