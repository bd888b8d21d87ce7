"""The quick paths (``termvault.cli.quick``) print exactly what the click group prints:
each case runs the real entry point and the click group alone in fresh processes, with
the same arguments and environment, and compares stdout, stderr and the exit status
byte for byte; and it checks which of the two answered (whether click was imported)."""

from __future__ import annotations

import fcntl
import json
import os
import pathlib
import pty
import select
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from termvault.cli import quick

ROOT = Path(__file__).resolve().parents[2]

# The real entry point (quick path first), or the click group alone; either way the
# modules loaded and the exit status go to the file named by PROBE_OUT.
PROBE = """
import json, os, sys
args = json.loads(sys.argv[1])
sys.argv = ["termvault", *args]
code = 0
try:
    if {click!r}:
        from termvault.cli.app import cli
        cli.main(args=args, prog_name="termvault")
    else:
        from termvault.cli import main
        main()
except SystemExit as exc:
    code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
sys.stdout.flush()
with open(os.environ["PROBE_OUT"], "w") as f:
    json.dump({{"code": code, "click": "click" in sys.modules}}, f)
"""


def _env(tmp_path: Path, **changes: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env["PROBE_OUT"] = str(tmp_path / "probe.json")
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def run(tmp_path: Path, args: list[str], click: bool, **env: str | None) -> tuple[bytes, bytes, int, bool]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.format(click=click), json.dumps(args)],
        capture_output=True,
        env=_env(tmp_path, **env),
        timeout=60,
    )
    probe = json.loads((tmp_path / "probe.json").read_text())
    return proc.stdout, proc.stderr, probe["code"], probe["click"]


def same_as_click(tmp_path: Path, args: list[str], quick_path: bool = True, **env: str | None) -> bytes:
    """Run both; assert identical output and status, and that the entry point answered
    without click exactly when ``quick_path``. Returns the output."""
    out, err, code, used_click = run(tmp_path, args, click=False, **env)
    want_out, want_err, want_code, _ = run(tmp_path, args, click=True, **env)
    assert (out, err, code) == (want_out, want_err, want_code), args
    assert used_click is not quick_path, (args, "the quick path should have answered" if quick_path else "click")
    return out + err


# -- help and version ---------------------------------------------------------------------
@pytest.mark.parametrize("columns", [None, "", "20", "60", "79", "80", "81", "99", "100", "300", "wide"])
def test_help_is_clicks_at_every_width_without_a_terminal(tmp_path, columns):
    for args in (["--help"], ["-h"]):
        text = same_as_click(tmp_path, args, COLUMNS=columns)
        assert text.startswith(b"Usage: termvault [OPTIONS] COMMAND [ARGS]...")


def test_bare_termvault_shows_the_help_as_click_does(tmp_path):
    text = same_as_click(tmp_path, [], COLUMNS="90")
    assert b"Commands:" in text


def test_version_is_clicks(tmp_path):
    assert same_as_click(tmp_path, ["--version"]).startswith(b"termvault ")


def test_the_stored_help_covers_every_width_and_matches_click():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import cli_docs
    finally:
        sys.path.pop(0)
    from termvault.cli import _help

    assert (ROOT / "src" / "termvault" / "cli" / "_help.py").read_text() == cli_docs.help_module()
    for width in range(40, 120):
        stored = _help.text(width)
        if width < 50 or width > _help.MAX_WIDTH - 2:
            assert stored is None
        else:
            assert stored == cli_docs.group_help(width)


def test_help_width_follows_columns_as_shutil_does(monkeypatch):
    import shutil

    from termvault.cli._help import MAX_WIDTH

    for columns in ("1", "50", "77", "101", "nonsense", "0", "-5"):
        monkeypatch.setenv("COLUMNS", columns)
        expected = max(min(shutil.get_terminal_size().columns, MAX_WIDTH) - 2, 50)
        assert quick.help_width() == expected, columns


# -- stats --------------------------------------------------------------------------------
def _swept(home: Path) -> None:
    subprocess.run([sys.executable, "-m", "termvault", "--home", str(home), "sweep"], check=True, capture_output=True)


def test_stats_of_an_empty_home_in_every_accepted_form(tmp_path, home):
    _swept(home)
    forms = [
        ["stats"],
        ["--home", str(home), "stats"],
        [f"--home={home}", "stats"],
        ["stats", "--home", str(home)],
        ["-q", "stats", "--json"],
        ["stats", "--json", "--quiet"],
        ["--home", str(home), "stats", "--json"],
    ]
    for args in forms:
        text = same_as_click(tmp_path, args)
        assert b"total_sessions" in text if "--json" in args else b"The archive is empty" in text


def test_stats_of_a_relative_or_unnormalised_home(tmp_path, home, monkeypatch):
    _swept(home)
    monkeypatch.chdir(home.parent)
    same_as_click(tmp_path, ["--home", f"./{home.name}//", "stats"])
    same_as_click(tmp_path, ["stats", "--json"], TERMVAULT_HOME=f"{home.parent}/./{home.name}/")


def test_stats_of_a_home_with_archives(tmp_path, archived):
    for args in (["stats"], ["stats", "--json"]):
        text = same_as_click(tmp_path, args, COLUMNS="60")
        assert b"native" in text
    assert b"SOURCE" in same_as_click(tmp_path, ["stats"], COLUMNS=None)


def test_stats_with_columns_zero_prints_its_tables(tmp_path, archived):
    """COLUMNS=0 means "not set" (as shutil reads it), not a console zero cells wide
    that prints every table as nothing: both paths print the whole tables."""
    for columns in ("0", "00"):
        text = same_as_click(tmp_path, ["stats"], COLUMNS=columns)
        assert b"SOURCE" in text and b"MONTH (UTC)" in text and b"native" in text


def test_stats_falls_back_to_click_for_what_it_does_not_know(tmp_path, archived):
    home = str(archived.home)
    # Options the quick path does not take, and usage errors: click answers, as always.
    for args in (["stats", "--bogus"], ["stats", "--help"], ["-v", "stats"], ["stats", "extra"], ["--home"]):
        same_as_click(tmp_path, args, quick_path=False)
    # A home that is missing, or a file: click's own errors.
    same_as_click(tmp_path, ["--home", str(archived.home / "nope"), "stats"], quick_path=False)
    same_as_click(tmp_path, ["--home", str(archived.home / "archive_index.sqlite3"), "stats"], quick_path=False)
    # Settings may change what stats shows: Config decides.
    (archived.home / "config.toml").write_text('max_total_bytes = "1MB"\n')
    assert b"Storage cap" in same_as_click(tmp_path, ["--home", home, "stats"], quick_path=False)
    (archived.home / "config.toml").unlink()
    same_as_click(tmp_path, ["stats"], quick_path=False, TERMVAULT_MAX_TOTAL_BYTES="1MB")
    # Completion is click's.
    same_as_click(tmp_path, ["stats"], quick_path=False, _TERMVAULT_COMPLETE="bash_source")
    # Rich forced to style its tables.
    same_as_click(tmp_path, ["stats"], quick_path=False, FORCE_COLOR="1")


def test_stats_of_a_lost_index_warns_through_click(tmp_path, archived):
    (archived.home / "archive_index.sqlite3").unlink()
    for suffix in ("-wal", "-shm"):
        (archived.home / f"archive_index.sqlite3{suffix}").unlink(missing_ok=True)
    same_as_click(tmp_path, ["stats"], quick_path=False)  # no index file: the full path


# -- on a terminal ------------------------------------------------------------------------
def _on_a_terminal(
    tmp_path: Path, args: list[str], click: bool, columns: int, TERM: str = "xterm-256color"
) -> tuple[bytes, bool]:
    """Output of the probe run with stdin, stdout and stderr on a pseudo-terminal of
    ``columns`` columns (and no COLUMNS variable)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-c", PROBE.format(click=click), json.dumps(args)],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=_env(tmp_path, COLUMNS=None, LINES=None, TERM=TERM, NO_COLOR=None),
    )
    os.close(follower)
    chunks = []
    while True:
        ready, _, _ = select.select([leader], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the follower side closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=30)
    os.close(leader)
    return b"".join(chunks), json.loads((tmp_path / "probe.json").read_text())["click"]


@pytest.mark.parametrize("columns", [72, 100])
def test_on_a_terminal_help_and_stats_match_click(tmp_path, home, columns):
    _swept(home)
    for args in (["--help"], ["stats"]):
        out, used_click = _on_a_terminal(tmp_path, args, click=False, columns=columns)
        want, _ = _on_a_terminal(tmp_path, args, click=True, columns=columns)
        assert out == want, args
        assert not used_click, args
    # The labels are bold on a terminal, as click.style draws them.
    assert quick.BOLD.encode() + b"Home" in out


@pytest.mark.parametrize("term", ["xterm-256color", "dumb"])
def test_on_a_terminal_the_tables_match_rich(tmp_path, archived, term):
    out, used_click = _on_a_terminal(tmp_path, ["stats"], click=False, columns=90, TERM=term)
    want, _ = _on_a_terminal(tmp_path, ["stats"], click=True, columns=90, TERM=term)
    assert out == want and not used_click
    assert (quick.BOLD.encode() + b"SOURCE" in out) is (term != "dumb")  # rich draws bold headers


# -- the pieces ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path", ["/", "//", "///", "//a//b/", "/a/./b/.", "a", "./a", "a/", ".", "./", "a/../b", "/x/.hidden/..", "~x"]
)
def test_paths_read_as_pathlib_reads_them(path):
    assert quick.pure_path(path) == str(pathlib.PurePosixPath(path))
    assert quick.absolute_path(path) == str(pathlib.Path(path).absolute())


def test_the_quick_path_shares_the_constants_of_the_full_one():
    from termvault import config
    from termvault.cli import context

    assert quick.DEFAULT_HOME == config.DEFAULT_HOME
    assert quick.PROG == context.PROG


def test_columns_zero_fits_the_tables_as_if_it_were_not_set(monkeypatch):
    from termvault.cli.context import AppState

    monkeypatch.delenv("COLUMNS", raising=False)
    unset = AppState().width
    for value in ("0", "-1"):
        monkeypatch.setenv("COLUMNS", value)
        assert AppState().width == unset
    monkeypatch.setenv("COLUMNS", "72")
    assert AppState().width == 72
