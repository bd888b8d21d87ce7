"""The core never imports the shells: a library user pays for no UI framework."""

from __future__ import annotations

import json
import subprocess
import sys


def test_the_core_package_imports_without_textual_click_or_rich():
    code = (
        "import json, sys\n"
        "import termvault, termvault.vault, termvault.archiver, termvault.storage, termvault.ops.search\n"
        "termvault.SessionArchiver, termvault.Vault\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'click', 'rich'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_importing_the_browser_does_import_textual():
    # The check above is only meaningful if this is how the UI gets textual.
    code = "import sys, termvault.tui; print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
