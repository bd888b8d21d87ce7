"""What a command imports before it does anything: heavy libraries load only for the
commands that use them, so ``termvault --help`` starts quickly (timings are in
bench/startup.py, not asserted here)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("rich", "textual", "mcp", "jinja2", "markdown_it", "detect_secrets", "obstore", "filelock")

# Runs the real entry point in a fresh interpreter, then lists the top-level packages it loaded.
PROBE = """
import json, sys
sys.argv = ["termvault", *json.loads(sys.argv[1])]
from termvault.cli import main
try:
    main()
except SystemExit:
    pass
sys.__stderr__.write("\\nMODULES " + json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
"""


def loaded_packages(*args: str) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(list(args))], capture_output=True, text=True, timeout=60
    )
    marker = proc.stderr.rfind("MODULES ")
    assert marker >= 0, proc.stderr
    return set(json.loads(proc.stderr[marker + len("MODULES ") :]))


def test_help_imports_no_drawing_agent_or_template_library():
    loaded = loaded_packages("--help")
    assert "click" in loaded  # the probe really ran the CLI
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))


def test_a_command_help_and_the_version_import_no_drawing_library_either():
    for args in (("search", "--help"), ("sweep", "--help"), ("--version",)):
        loaded = loaded_packages(*args)
        assert loaded.isdisjoint(HEAVY), (args, sorted(loaded & set(HEAVY)))
