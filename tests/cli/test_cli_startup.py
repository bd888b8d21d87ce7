"""What a command imports before it does anything: heavy libraries load only for the
commands that use them, so ``termvault --help`` and ``termvault stats`` start quickly
(timings are in bench/startup.py, not asserted here)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("rich", "textual", "mcp", "jinja2", "markdown_it", "detect_secrets", "obstore", "filelock")
# What only archiving, reading an archive or a source needs: the archive format and its
# compressor, the source plug-ins, the compiled secret rules, the operations beyond stats.
ARCHIVE_WORK = (
    "zstandard",
    "termvault.archive",
    "termvault.sources",
    "termvault.redact.rules",
    "termvault.ops.maintenance",
    "termvault.ops.sweep",
    "termvault.ops.export",
    "termvault.render",
)

# Runs the real entry point in a fresh interpreter, then lists the modules it loaded.
PROBE = """
import json, sys
sys.argv = ["termvault", *json.loads(sys.argv[1])]
from termvault.cli import main
try:
    main()
except SystemExit:
    pass
sys.__stderr__.write("\\nMODULES " + json.dumps(sorted(sys.modules)))
"""


def loaded_modules(*args: str) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(list(args))], capture_output=True, text=True, timeout=60
    )
    marker = proc.stderr.rfind("MODULES ")
    assert marker >= 0, proc.stderr
    return set(json.loads(proc.stderr[marker + len("MODULES ") :]))


def loaded_packages(*args: str) -> set[str]:
    return {m.split(".")[0] for m in loaded_modules(*args)}


def among(loaded: set[str], names: tuple[str, ...]) -> list[str]:
    """The ``names`` loaded, as a package or any of its submodules."""
    return sorted(n for n in names if any(m == n or m.startswith(n + ".") for m in loaded))


def test_help_imports_no_drawing_agent_or_template_library():
    loaded = loaded_packages("--help")
    assert "click" in loaded  # the probe really ran the CLI
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))


def test_help_loads_neither_the_commands_nor_the_index_nor_the_compressor():
    loaded = loaded_modules("--help")
    assert "termvault.cli" in loaded
    assert among(loaded, ("sqlite3", "termvault.vault", "termvault.index", "termvault.cli.query", *ARCHIVE_WORK)) == []
    # A command's own help loads its module, and still not the vault.
    loaded = loaded_modules("sweep", "--help")
    assert "termvault.cli.sweep" in loaded
    assert among(loaded, ("termvault.cli.query", "termvault.vault", "sqlite3", *ARCHIVE_WORK)) == []


def test_a_command_help_and_the_version_import_no_drawing_library_either():
    for args in (("search", "--help"), ("sweep", "--help"), ("--version",)):
        loaded = loaded_packages(*args)
        assert loaded.isdisjoint(HEAVY), (args, sorted(loaded & set(HEAVY)))


def test_stats_of_an_empty_home_reads_the_index_and_nothing_else(home):
    subprocess.run([sys.executable, "-m", "termvault", "--home", str(home), "sweep"], check=True, capture_output=True)
    loaded = loaded_modules("--home", str(home), "stats")
    assert "sqlite3" in loaded and "termvault.ops.overview" in loaded  # it really read the index
    assert among(loaded, (*HEAVY, *ARCHIVE_WORK)) == []


def test_stats_of_a_home_with_archives_draws_its_tables_without_the_archive_format(archived):
    loaded = loaded_modules("--home", str(archived.home), "stats")
    assert "rich" in loaded  # the per-source and per-month tables
    assert among(loaded, ARCHIVE_WORK) == []
