"""Write (or ``--check``) ``src/termvault/redact/_denylist.py``: the patterns of the
detect-secrets plugins termvault runs (``redact.vendor.PLUGINS``), as the installed
detect-secrets has them, with that release's version.

Importing detect-secrets costs about 0.09 CPU seconds (its package imports its scanner,
filters and plugin registry), paid by every process that redacts: the sweep's worker
processes each, ``search`` and ``export``. With this snapshot ``redact.vendor`` compiles
the same patterns without importing it, as long as the installed release is the one the
snapshot was taken from; any other release is imported and used as before.

    python scripts/denylist.py          # write it
    python scripts/denylist.py --check  # exit 1 if it differs from the installed release
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET = REPO / "src" / "termvault" / "redact" / "_denylist.py"


def render() -> str:
    sys.path.insert(0, str(REPO / "src"))
    from termvault.redact import vendor

    version = vendor.installed_version()
    lines = [
        '"""The denylist patterns of the detect-secrets plugins termvault runs, taken from',
        "detect-secrets VERSION (scripts/denylist.py writes this file; do not edit).",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "# fmt: off",
        f"VERSION = {version!r}",
        "# (plugin module, detector class) -> ((pattern, flags), ...)",
        "PATTERNS: dict[tuple[str, str], tuple[tuple[str, int], ...]] = {",
    ]
    for module, detector in dict.fromkeys((p.module, p.detector) for p in vendor.PLUGINS):
        lines.append(f"    ({module!r}, {detector!r}): (")
        for pattern in vendor.imported_denylist(module, detector):
            lines.append(f"        ({pattern.pattern!r}, {int(pattern.flags)}),")
        lines.append("    ),")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not TARGET.exists() or TARGET.read_text(encoding="utf-8") != text:
            print(f"{TARGET.relative_to(REPO)} is stale: run python scripts/denylist.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
