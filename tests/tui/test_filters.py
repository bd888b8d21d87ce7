"""The browser's pure rules: date ranges, type-ahead queries, the filter cycle, and how
numbers, times and bars are shown."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from termvault.errors import UsageError
from termvault.tui.filters import (
    ALL,
    FOLDER,
    BrowserFilter,
    find_sessions,
    next_scope,
    parse_range,
    scope_label,
    scopes,
    typeahead_query,
)
from termvault.tui.formatting import (
    bar,
    human_size,
    relative_time,
    shorten_folder,
    truncate,
)

from .conftest import CLAUDE_ID, DAY, NOW


def utc(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_relative_age_means_the_last_n_days():
    assert parse_range("7d", NOW) == (NOW - 7 * DAY, None)


def test_a_closed_range_includes_its_whole_last_day():
    after, before = parse_range("2024-01-01..2024-02-01", NOW)
    assert after == utc("2024-01-01T00:00:00")
    assert utc("2024-02-01T23:59:59") <= before < utc("2024-02-02T00:00:00")


def test_open_ended_ranges_bound_one_side_only():
    assert parse_range("2024-03-01..", NOW) == (utc("2024-03-01T00:00:00"), None)
    after, before = parse_range("..2024-03-01", NOW)
    assert after is None and before > utc("2024-03-01T23:00:00")


def test_an_empty_range_has_no_bounds():
    assert parse_range("  ", NOW) == (None, None)


@pytest.mark.parametrize("text", ["yesterday", "2024-13-01", "2024-02-01..2024-01-01"])
def test_a_bad_range_is_a_usage_error_a_user_can_act_on(text):
    with pytest.raises(UsageError) as err:
        parse_range(text, NOW)
    assert str(err.value)


def test_the_last_word_typed_becomes_a_prefix():
    assert typeahead_query("deplo") == "deplo*"
    assert typeahead_query("login form") == "login form*"


def test_operators_quotes_identifiers_and_finished_words_are_left_alone():
    assert typeahead_query("login ") == "login"
    assert typeahead_query("a OR") == "a OR"
    assert typeahead_query('"login form"') == '"login form"'
    assert typeahead_query("src/login.tsx") == "src/login.tsx"
    assert typeahead_query("getUserById") == "getUserById"
    assert typeahead_query("deplo*") == "deplo*"


def test_the_filter_key_cycles_all_then_folder_then_each_source_then_all():
    kinds = ["native", "claude-code"]
    seen = [ALL]
    for _ in range(len(scopes(kinds))):
        seen.append(next_scope(seen[-1], kinds))
    assert seen == [ALL, FOLDER, "source:claude-code", "source:native", ALL]


def test_an_unknown_scope_cycles_back_to_all():
    assert next_scope("source:gone", ["native"]) == ALL


def test_scope_labels_name_the_folder_and_the_source():
    assert scope_label(ALL, "/x") == "all sessions"
    assert scope_label(FOLDER, "/srv/db") == "this folder (/srv/db)"
    assert scope_label("source:codex", "/x") == "source: codex"


def test_sizes_are_shown_in_binary_units_with_their_sign():
    assert human_size(313) == "313 B"
    assert human_size(1536) == "1.5 KiB"
    assert human_size(5 * 1024 * 1024) == "5.0 MiB"
    assert human_size(-434) == "-434 B"


def test_recent_times_are_relative_and_older_ones_are_dates():
    assert relative_time(NOW - 30, NOW) == "just now"
    assert relative_time(NOW - 90 * 60, NOW) == "1h ago"
    assert relative_time(NOW - 4 * DAY, NOW) == "4d ago"
    assert relative_time(NOW - 40 * DAY, NOW) == "2024-02-21"


def test_folders_are_shortened_from_the_left_and_home_becomes_tilde():
    assert shorten_folder("/home/me/projects/api", 40, home="/home/me") == "~/projects/api"
    assert shorten_folder("/srv/very/long/path/to/project", 12, home="/home/me") == "…/to/project"
    assert truncate("a  long\nname", 6) == "a lon…"


def test_bars_scale_to_the_largest_value_in_eighths():
    assert bar(10, 10, 4) == "████"
    assert bar(5, 10, 4) == "██"
    assert bar(1, 16, 2) == "▏"
    assert bar(0, 10, 4) == "" and bar(-3, 10, 4) == ""


def test_a_query_matches_sessions_by_name_or_by_folder(archiver):
    vault = archiver.vault
    by_folder = {e.session_id for e in find_sessions(vault, BrowserFilter(text="webapp"))}
    assert by_folder == {"release-21", CLAUDE_ID}
    by_name = {e.session_id for e in find_sessions(vault, BrowserFilter(text="Weekly"))}
    assert by_name == {"notes-weekly"}


def test_a_query_also_matches_the_full_text(archiver):
    found = [e.session_id for e in find_sessions(archiver.vault, BrowserFilter(text="preventDefault"))]
    assert found == [CLAUDE_ID]
    found = [e.session_id for e in find_sessions(archiver.vault, BrowserFilter(text="KeyErr"))]
    assert found == ["api-debug"]


def test_this_folder_scope_keeps_sessions_in_the_folder_and_below(archiver):
    flt = BrowserFilter(scope=FOLDER, cwd="/home/dev/projects")
    assert {e.session_id for e in find_sessions(archiver.vault, flt)} == {
        "api-debug",
        "deploy-staging",
        "release-21",
        CLAUDE_ID,
    }
    # With a query, the folder still applies.
    assert [e.session_id for e in find_sessions(archiver.vault, flt.with_text("notes"))] == []
