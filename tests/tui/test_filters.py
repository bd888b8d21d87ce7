"""The browser's pure rules: date ranges, the search it runs (the command's), the filter
cycle, and how numbers, times and bars are shown."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from termvault.errors import UsageError
from termvault.tui.filters import (
    ALL,
    FOLDER,
    BrowserFilter,
    count_label,
    find_sessions,
    next_scope,
    parse_range,
    scope_label,
    scopes,
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


@pytest.mark.parametrize("text", ["yesterday", "2024-13-01", "2024-02-01..2024-01-01", "0001-01-01", "..0001-01-01"])
def test_a_bad_range_is_a_usage_error_a_user_can_act_on(text):
    with pytest.raises(UsageError) as err:
        parse_range(text, NOW)
    assert str(err.value)


def test_the_count_says_how_many_are_shown_of_how_many_match():
    assert count_label(50, 212) == "50 of 212"
    assert count_label(50, 212, estimated=True) == "50 of about 212"
    assert count_label(3, 3) == "3 sessions"
    assert count_label(1, 1) == "1 session"
    assert count_label(0, 0) == "0 sessions"


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


def test_a_query_finds_what_termvault_search_finds_in_the_same_order(archiver):
    # The browser's text is the command's query: a word of a session's text, a word the
    # typing has not finished (found as a substring when no word matches), a phrase, an
    # identifier, a prefix.
    vault = archiver.vault
    for query in ("release", "preventDefault", "KeyErr", '"form resets"', "deplo", "deplo*"):
        found = find_sessions(vault, BrowserFilter(text=query))
        assert [h.entry.session_id for h in found] == [h.entry.session_id for h in vault.search(query)], query
    assert [h.entry.session_id for h in find_sessions(vault, BrowserFilter(text="deplo"))] == ["deploy-staging"]


def test_the_hits_carry_their_snippet_and_how_many_match_in_all(archiver):
    found = find_sessions(archiver.vault, BrowserFilter(text="preventDefault"))
    assert found.total == 1
    assert "preventDefault" in (found[0].snippet or "") and found[0].highlights
    assert find_sessions(archiver.vault, BrowserFilter()).total == 6


def test_this_folder_scope_keeps_sessions_in_the_folder_and_below(archiver):
    flt = BrowserFilter(scope=FOLDER, cwd="/home/dev/projects")
    assert {h.entry.session_id for h in find_sessions(archiver.vault, flt)} == {
        "api-debug",
        "deploy-staging",
        "release-21",
        CLAUDE_ID,
    }
    # With a query, the folder still applies.
    assert list(find_sessions(archiver.vault, flt.with_text("notes"))) == []
