"""Fixtures for the command-line tests: a temporary home filled with real native sessions,
before and after a sweep."""

from __future__ import annotations

from pathlib import Path

import pytest

from .support import API, BLOG, DB, FRESH, Demo, make_native


@pytest.fixture
def demo(home: Path) -> Demo:
    d = Demo(home)
    d.files[API] = make_native(
        home,
        API,
        40,
        name="api deploy",
        working_directory="/home/me/src/api",
        last_command="docker compose up -d",
        output_snapshot="Starting api ... done\nLogs: connection refused on port 5432\n" * 30,
    )
    d.files[DB] = make_native(
        home,
        DB,
        50,
        name="db migration",
        working_directory="/home/me/src/db",
        last_command="alembic upgrade head",
        output_snapshot="INFO Running upgrade 1a2b -> 3c4d, add users table\n" * 30,
    )
    d.files[BLOG] = make_native(
        home,
        BLOG,
        60,
        name="blog build",
        working_directory="/home/me/www/blog",
        last_command="hugo --minify",
        output_snapshot="Total in 812 ms\n" * 30,
    )
    d.files[FRESH] = make_native(home, FRESH, 0, name="today", working_directory="/home/me")
    d.originals = {sid: p.read_bytes() for sid, p in d.files.items()}
    return d


@pytest.fixture
def archived(demo: Demo) -> Demo:
    """The demo home after a sweep: API, DB and BLOG archived (their sources removed),
    FRESH still live."""
    demo.sweep()
    return demo
