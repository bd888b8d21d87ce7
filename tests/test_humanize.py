"""The shared human-readable formats: sizes in either unit set, local times that never
raise, and the home folder shown as ``~``; and the module stays free of UI frameworks."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from termvault.humanize import BINARY_UNITS, SHORT_UNITS, human_size, local_time, tilde_home


@pytest.mark.parametrize(
    ("n", "binary", "short"),
    [
        (0, "0 B", "0 B"),
        (1023, "1023 B", "1023 B"),
        (1536, "1.5 KiB", "1.5 KB"),
        (-434, "-434 B", "-434 B"),
        (-1536, "-1.5 KiB", "-1.5 KB"),
        (None, "-", "-"),
    ],
)
def test_human_size_names_powers_of_1024_with_the_given_units(n, binary, short):
    assert human_size(n) == human_size(n, BINARY_UNITS) == binary
    assert human_size(n, SHORT_UNITS) == short


def test_sizes_beyond_the_last_unit_stay_in_it():
    assert human_size(2 * 1024**5, SHORT_UNITS) == "2048.0 TB"
    assert human_size(2 * 1024**5) == "2.0 PiB"


def test_local_time_shows_minutes_or_seconds_and_never_raises():
    ts = time.mktime((2024, 5, 1, 10, 0, 7, 0, 0, -1))
    assert local_time(ts) == "2024-05-01 10:00"
    assert local_time(ts, seconds=True) == "2024-05-01 10:00:07"
    assert local_time(None) == local_time(1e300) == local_time(float("nan")) == "-"


@pytest.mark.parametrize(
    ("path", "home", "shown"),
    [
        ("/home/me/x", "/home/me", "~/x"),
        ("/home/me", "/home/me", "~"),
        ("/home/me/x", "/home/me/", "~/x"),
        ("/home/meg/x", "/home/me", "/home/meg/x"),
        ("/srv/x", "/home/me", "/srv/x"),
        ("/srv/x", "/", "/srv/x"),
        ("/srv/x", "", "/srv/x"),
    ],
)
def test_tilde_home_replaces_only_a_whole_leading_home_folder(path, home, shown):
    assert tilde_home(path, home) == shown


def test_the_module_imports_no_ui_framework():
    code = (
        "import json, sys, termvault.humanize\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'click', 'rich'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
