"""What a command imports before it does anything: heavy libraries load only for the
commands that use them, and ``termvault --help``, ``--version`` and ``stats`` take the
quick path (``termvault.cli.quick``), which imports no click at all (timings are in
bench/startup.py, not asserted here; tests/cli/test_cli_quick.py compares the output)."""

from __future__ import annotations

import functools
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

# Runs the real entry point in a fresh interpreter, then lists the modules it loaded
# (json only afterwards: the quick paths must be seen not to load it).
PROBE = """
import sys
sys.argv = ["termvault", *sys.argv[1:]]
from termvault.cli import main
try:
    main()
except SystemExit:
    pass
loaded = sorted(sys.modules)
import json
sys.__stderr__.write("\\nMODULES " + json.dumps(loaded))
"""


BARE = """
import sys
loaded = sorted(sys.modules)
import json
sys.__stderr__.write("MODULES " + json.dumps(loaded))
"""


def _modules_after(probe: str, *args: str) -> set[str]:
    proc = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, timeout=60)
    marker = proc.stderr.rfind("MODULES ")
    assert marker >= 0, proc.stderr
    return set(json.loads(proc.stderr[marker + len("MODULES ") :]))


@functools.cache
def bare_python() -> frozenset[str]:
    """What this interpreter loads before running anything: an installation's own ``.pth``
    files may import pathlib, re or typing at start-up, and termvault is not to blame."""
    return frozenset(_modules_after(BARE))


def loaded_modules(*args: str) -> set[str]:
    """The modules the CLI loaded beyond what bare Python loads in this environment."""
    return _modules_after(PROBE, *args) - bare_python()


def loaded_packages(*args: str) -> set[str]:
    return {m.split(".")[0] for m in loaded_modules(*args)}


def among(loaded: set[str], names: tuple[str, ...]) -> list[str]:
    """The ``names`` loaded, as a package or any of its submodules."""
    return sorted(n for n in names if any(m == n or m.startswith(n + ".") for m in loaded))


# What Python itself does not load and the quick paths must not either: click, and the
# standard modules that cost as much as the rest of a quick start (typing alone is a
# quarter of it; pathlib brings re and urllib.parse).
NOT_QUICK = ("click", "typing", "pathlib", "re", "dataclasses", "logging", "json", "hashlib")


def test_help_and_version_import_no_click_nor_any_command():
    for args in (("--help",), ("-h",), ("--version",), ()):
        loaded = loaded_modules(*args)
        assert "termvault.cli.quick" in loaded  # the probe really ran the CLI
        assert among(loaded, (*NOT_QUICK, *HEAVY, "termvault.cli.app", "termvault.config", "sqlite3")) == [], args


def test_the_console_script_and_python_m_take_the_quick_path():
    probe = "import runpy, sys; sys.argv = ['termvault', '--version']\n"
    probe += "try:\n    runpy.run_module('termvault', run_name='__main__')\nexcept SystemExit:\n    pass\n"
    probe += "sys.stderr.write('CLICK %s' % ('click' in sys.modules))"
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert proc.stdout.startswith("termvault ") and proc.stderr.endswith("CLICK False"), proc.stderr
    # The console script names termvault.cli:main, the function the probe above runs.
    from importlib.metadata import entry_points

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "termvault"]
    assert script.value == "termvault.cli:main"


def test_help_imports_no_drawing_agent_or_template_library():
    loaded = loaded_packages("--help")
    assert "termvault" in loaded  # the probe really ran the CLI
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))


def test_help_loads_neither_the_commands_nor_the_index_nor_the_compressor():
    loaded = loaded_modules("--help")
    assert "termvault.cli" in loaded
    assert among(loaded, ("sqlite3", "termvault.vault", "termvault.index", "termvault.cli.query", *ARCHIVE_WORK)) == []
    # A command's own help (through click) loads its module, and still not the vault.
    loaded = loaded_modules("sweep", "--help")
    assert "termvault.cli.sweep" in loaded
    assert among(loaded, ("termvault.cli.query", "termvault.vault", "sqlite3", *ARCHIVE_WORK)) == []


def test_a_command_help_and_the_version_import_no_drawing_library_either():
    for args in (("search", "--help"), ("sweep", "--help"), ("--version",)):
        loaded = loaded_packages(*args)
        assert loaded.isdisjoint(HEAVY), (args, sorted(loaded & set(HEAVY)))


def test_stats_of_an_empty_home_reads_the_index_and_nothing_else(home):
    subprocess.run([sys.executable, "-m", "termvault", "--home", str(home), "sweep"], check=True, capture_output=True)
    for args in (("--home", str(home), "stats"), ("stats", "--json")):
        loaded = loaded_modules(*args)
        assert "sqlite3" in loaded and "termvault.index.totals" in loaded  # it really read the index
        quick_ok = ("json", "re") if "--json" in args else ()  # json loads re
        unwanted = [m for m in NOT_QUICK if m not in quick_ok]
        assert among(loaded, (*unwanted, *HEAVY, *ARCHIVE_WORK, "termvault.vault", "termvault.index.entries")) == []


def test_stats_through_click_reads_the_index_and_nothing_else(home):
    # -v is not a quick form: the click command runs, still without the archive work.
    subprocess.run([sys.executable, "-m", "termvault", "--home", str(home), "sweep"], check=True, capture_output=True)
    loaded = loaded_modules("-v", "--home", str(home), "stats")
    assert "click" in loaded and "termvault.ops.overview" in loaded
    assert among(loaded, (*HEAVY, *ARCHIVE_WORK)) == []


def test_stats_of_a_home_with_archives_draws_its_tables_without_rich_or_the_archive_format(archived):
    loaded = loaded_modules("--home", str(archived.home), "stats")
    assert "termvault.index.totals" in loaded
    assert among(loaded, (*NOT_QUICK, *HEAVY, *ARCHIVE_WORK)) == []
    # Through click (-v), rich draws the per-source and per-month tables.
    loaded = loaded_modules("-v", "--home", str(archived.home), "stats")
    assert "rich" in loaded
    assert among(loaded, ARCHIVE_WORK) == []
