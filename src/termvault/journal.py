"""The crash journal: a file present while a write operation runs. Finding it when a home
opens means a run died; it names the folders that run put temporary files in (outside the
home too), so reconciliation can clean them."""

from __future__ import annotations

import json
import os
from pathlib import Path

from .fsutil import append_durably

JOURNAL = ".journal"


class Journal:
    def __init__(self, home: Path):
        self.path = home / JOURNAL

    def exists(self) -> bool:
        return self.path.exists()

    def begin(self, what: str) -> None:
        self.path.unlink(missing_ok=True)
        append_durably(self.path, f"{os.getpid()} {what}\n")

    def end(self) -> None:
        self.path.unlink(missing_ok=True)

    def record_folder(self, folder: Path) -> None:
        """Record a folder about to receive temporary files (durably, once per run)."""
        line = f"folder {json.dumps(str(folder))}\n"
        # Each write operation starts a new journal, so whether the folder is recorded is a
        # question for the journal itself, not for a memory of earlier operations.
        try:
            if line in self.path.read_text(encoding="utf-8"):
                return
        except (OSError, UnicodeDecodeError):
            pass
        append_durably(self.path, line)

    def leftovers(self, prefix: str) -> list[Path]:
        """Files starting with ``prefix`` in the folders the journal names."""
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            return []
        found: list[Path] = []
        for line in lines:
            if not line.startswith("folder "):
                continue
            try:
                folder = Path(json.loads(line[len("folder ") :]))
                found.extend(p for p in folder.iterdir() if p.name.startswith(prefix) and p.is_file())
            except (OSError, ValueError, TypeError):
                continue
        return found
