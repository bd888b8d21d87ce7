"""``search``, ``show`` and ``export``: tables, snippets, JSON shapes, prefixes, bad input."""

from __future__ import annotations

import json
import re
import time

import pytest

from .support import API, BLOG, DB, FRESH, invoke, run


# -- search -----------------------------------------------------------------------------
def test_search_without_query_lists_archived_sessions_newest_first(archived):
    result = invoke("search")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["ID", "NAME", "FOLDER", "LAST", "ACTIVITY", "SIZE", "RATIO", "SOURCE"]
    rows = lines[1:]
    assert [r.split()[0] for r in rows] == [API[:8], DB[:8], BLOG[:8]]
    first = rows[0]
    assert "api deploy" in first and "/home/me/src/api" in first and "native" in first
    assert re.search(r"\d+\.\d KiB", first) and re.search(r"\d+\.\dx", first)
    assert time.strftime("%Y-%m-%d", time.localtime(time.time() - 40 * 86400)) in first
    assert FRESH[:8] not in result.stdout


def test_search_shows_the_snippet_of_a_full_text_hit_under_its_row(archived):
    result = invoke("search", "connection refused")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[1].startswith(API[:8])
    assert lines[2].startswith("    ") and "connection refused" in lines[2]
    assert len(lines) == 3


def test_search_highlights_the_matched_words_in_colour(archived, monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.delenv("NO_COLOR", raising=False)
    result = invoke("search", "refused")
    snippet = result.stdout.splitlines()[2]
    assert re.search(r"\x1b\[[0-9;]*33[0-9;]*mrefused\x1b\[0m", snippet), repr(snippet)
    assert not re.search(r"\x1b\[[0-9;]*33[0-9;]*mStarting", snippet)


def test_search_json_lists_hits_with_their_metadata_and_snippet(archived):
    proc = run("search", "alembic", "--json")
    assert proc.returncode == 0, proc.stderr
    hits = json.loads(proc.stdout)
    assert [h["session_id"] for h in hits] == [DB]
    hit = hits[0]
    for key in (
        "name",
        "working_directory",
        "last_activity_at",
        "size_bytes",
        "original_size_bytes",
        "source",
        "version",
        "matched",
        "snippet",
        "pinned",
    ):
        assert key in hit
    assert hit["matched"] == "text" and "alembic" in hit["snippet"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--name", "BLOG"], {BLOG}),
        (["--dir", "src/"], {API, DB}),
        (["--source", "native"], {API, DB, BLOG}),
        (["--after", "45d"], {API}),
        (["--before", "7w"], {DB, BLOG}),
        (["--after", "8w", "--before", "45d"], {DB}),
        (["--limit", "1"], {API}),
    ],
)
def test_search_filters(archived, args, expected):
    hits = json.loads(invoke("search", *args, "--json").stdout)
    assert {h["session_id"] for h in hits} == expected


def test_search_says_how_many_matched_when_the_limit_cuts_the_list(archived):
    result = invoke("search", "--limit", "1")
    assert result.exit_code == 0, result.output
    assert "1 of 3 matching sessions shown; --limit 3 shows all." in result.stderr
    hits = json.loads(invoke("search", "--limit", "1", "--json").stdout)
    assert [(h["session_id"], h["total_matches"]) for h in hits] == [(API, 3)]
    assert "matching sessions shown" not in invoke("search").stderr  # all shown: nothing to say


def test_search_accepts_iso_dates(archived):
    day = time.strftime("%Y-%m-%d", time.localtime(time.time() - 45 * 86400))
    hits = json.loads(invoke("search", "--after", day, "--json").stdout)
    assert {h["session_id"] for h in hits} == {API}


def test_search_rejects_a_bad_date_as_a_usage_error(archived):
    result = invoke("search", "--after", "last tuesday")
    assert result.exit_code == 2
    assert result.stderr.startswith("termvault: ")
    assert "is not a date" in result.stderr
    proc = run("search", "--before", "2024-13-45")
    assert proc.returncode == 2
    assert "is not a date" in proc.stderr


def test_search_with_no_match_exits_1(archived):
    result = invoke("search", "nothing-like-this-anywhere")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "no archived session matches" in result.stderr
    assert json.loads(invoke("search", "zzzzqqq", "--json").stdout) == []


@pytest.mark.parametrize("query", ["NOT refused", "deploy OR NOT refused", "(NOT refused)"])
def test_a_not_with_nothing_before_it_is_a_usage_error_not_a_search_for_its_term(archived, query):
    # Dropping the NOT searched for the very word to leave out: the opposite of what was asked.
    result = invoke("search", query)
    assert result.exit_code == 2, result.output
    assert result.stdout == "" and "has no word before it" in result.stderr and "NOT docker" in result.stderr
    assert invoke("search", "connection NOT refused").exit_code == 1  # with a left side it leaves out


def test_an_empty_tool_name_is_a_usage_error_not_ignored(archived):
    result = invoke("search", "refused", "--tool", " ")
    assert result.exit_code == 2 and "--tool needs a tool's name" in result.stderr


def test_search_regex_fuzzy_and_role_options(archived):
    hits = json.loads(invoke("search", r"connection \w+d", "--regex", "--json").stdout)
    assert [h["session_id"] for h in hits] == [API] and hits[0]["matched"] == "regex"
    assert "connection refused" in hits[0]["snippet"] and hits[0]["turn"] is not None
    hits = json.loads(invoke("search", "refusd", "--fuzzy", "--json").stdout)
    assert [h["session_id"] for h in hits] == [API]
    # A shell session's output is nobody's prompt or reply: a role filter leaves it out.
    assert invoke("search", "refused", "--role", "user", "--role", "assistant").exit_code == 1
    bad = invoke("search", "refused(", "--regex")
    assert bad.exit_code == 2 and "is not a valid regular expression" in bad.stderr
    bad = invoke("search", "refused", "--role", "robot")
    assert bad.exit_code == 2 and "Unknown role 'robot'" in bad.stderr


def test_search_rejects_a_zero_limit(archived):
    assert invoke("search", "--limit", "0").exit_code == 2


def test_search_ids_are_long_enough_to_be_unique(archived, home):
    from termvault import Vault

    from .support import make_native

    # Another session sharing the first 9 characters of API.
    twin = API[:9] + "ffff-0000-0000-000000000000"
    make_native(home, twin, 70, name="twin")
    with Vault(home) as v:
        v.sweep()
    rows = invoke("search").stdout.splitlines()[1:]
    shown = {r.split()[0] for r in rows}
    assert API[:10] in shown and twin[:10] in shown


# -- show -------------------------------------------------------------------------------
def test_show_by_prefix_prints_metadata_and_files(archived):
    result = invoke("show", "3f2a")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert API in out
    assert "api deploy" in out and "docker compose up -d" in out and "native (move mode)" in out
    assert "Version        1 of 1" in out
    assert archived.files[API].name in out
    assert "FILE" in out and "SHA256" in out


def test_show_json_has_entry_versions_and_files(archived):
    proc = run("show", API[:6], "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["session_id"] == API and data["version"] == 1
    assert data["versions"][0]["version"] == 1
    assert len(data["files"]) == 1
    f = data["files"][0]
    assert f["path"] == archived.files[API].name
    assert f["origin"] == str(archived.files[API])
    assert f["size"] == len(archived.originals[API])
    import hashlib

    assert f["sha256"] == hashlib.sha256(archived.originals[API]).hexdigest()


def test_show_an_ambiguous_prefix_lists_the_candidates_and_exits_2(archived):
    result = invoke("show", "3f2")
    assert result.exit_code == 2
    assert API in result.stderr and DB in result.stderr


def test_show_an_unknown_id_exits_1(archived):
    result = invoke("show", "deadbeef")
    assert result.exit_code == 1
    assert result.stderr == "termvault: No archived session matches 'deadbeef'.\n"


def test_show_a_version_that_does_not_exist_exits_1(archived):
    result = invoke("show", API, "--version", "7")
    assert result.exit_code == 1
    assert "version 7" in result.stderr


def test_show_refuses_an_id_with_a_path_separator(archived):
    result = invoke("show", "../../etc")
    assert result.exit_code in (1, 2)
    assert result.stderr.startswith("termvault: ")


# -- export -----------------------------------------------------------------------------
def test_export_raw_to_stdout_is_byte_identical(archived):
    result = invoke("export", API[:8])
    assert result.exit_code == 0
    assert result.stdout_bytes == archived.originals[API]


def test_export_raw_to_a_file_through_a_real_process(archived, tmp_path):
    target = tmp_path / "out" / "api.json"
    target.parent.mkdir()
    proc = run("export", DB[:8], "-o", str(target))
    assert proc.returncode == 0, proc.stderr
    assert target.read_bytes() == archived.originals[DB]
    assert [p.name for p in target.parent.iterdir()] == ["api.json"]  # no temporary file left
    assert "Wrote" in proc.stdout


def test_export_replaces_an_existing_file_atomically_with_force(archived, tmp_path):
    target = tmp_path / "api.json"
    target.write_text("old content")
    assert invoke("export", API, "--output", str(target), "--force").exit_code == 0
    assert target.read_bytes() == archived.originals[API]


def test_export_of_an_unknown_id_creates_no_file(archived, tmp_path):
    target = tmp_path / "none.json"
    result = invoke("export", "nope", "-o", str(target))
    assert result.exit_code == 1
    assert list(tmp_path.iterdir()) == []


def test_export_of_a_file_the_session_does_not_have_exits_1(archived):
    result = invoke("export", API, "--file", "no/such.json")
    assert result.exit_code == 1
    assert "no/such.json" in result.stderr


def test_export_file_with_a_rendered_format_is_a_usage_error_not_ignored(archived):
    # --file picks one file of a raw export; `--format md --file X` printed the whole
    # session as if --file had not been given, X existing or not.
    result = invoke("export", API, "--format", "md", "--file", "no/such.json")
    assert result.exit_code == 2 and result.stdout == ""
    assert "--file" in result.stderr and "raw" in result.stderr


def test_export_detail_without_a_rendered_format_is_a_usage_error_not_the_raw_bytes(archived):
    # `export ID --detail prompts` printed the whole raw transcript, secrets and all,
    # to someone who asked for their prompts only.
    result = invoke("export", API, "--detail", "prompts")
    assert result.exit_code == 2 and result.stdout == ""
    assert "--detail" in result.stderr and "--format" in result.stderr
    assert invoke("export", API, "--detail", "prompts", "--format", "text").exit_code == 0


def test_export_into_a_missing_folder_names_the_folder_not_a_temporary_file(archived, tmp_path):
    # It said "Cannot use .../nodir/.x.md.798tmhbj.part: no such file or directory".
    result = invoke("export", API, "--format", "md", "-o", str(tmp_path / "nodir" / "x.md"))
    assert result.exit_code == 1
    assert "nodir does not exist" in result.stderr and ".part" not in result.stderr
    assert not (tmp_path / "nodir").exists()


def test_export_rejects_an_unknown_format(archived):
    result = invoke("export", API, "--format", "pdf")
    assert result.exit_code == 2


@pytest.mark.parametrize("fmt", ["text", "markdown", "jsonl", "html"])
def test_export_readable_formats_render_the_session(archived, fmt):
    pytest.importorskip("termvault.render", reason="the renderer (termvault.render) is not installed yet")
    result = invoke("export", API, "--format", fmt)
    assert result.exit_code == 0, result.stderr
    assert "connection refused" in result.stdout


def test_export_html_to_a_file_is_one_self_contained_page(archived, tmp_path):
    target = tmp_path / "api.html"
    result = invoke("export", API, "--format", "html", "-o", str(target))
    assert result.exit_code == 0, result.stderr
    page = target.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "connection refused" in page
    assert "<script" not in page and "<link" not in page


def test_export_detail_prompts_leaves_the_terminal_output_out(archived):
    everything = invoke("export", API, "--format", "markdown", "--detail", "all").stdout
    prompts = invoke("export", API, "--format", "markdown", "--detail", "prompts").stdout
    assert "connection refused" in everything and "connection refused" not in prompts
    assert "## Input" in prompts and "docker compose up -d" in prompts  # what was typed
    assert invoke("export", API, "--format", "markdown", "--detail", "some").exit_code == 2


def test_export_redacts_unless_told_not_to(demo):
    secret = "sk-ant-api03-" + "Xy7Kp2Lm9QrT4vWz" * 6
    from .support import make_native

    make_native(demo.home, "0ddba11-5ec2-4e7a-9c3d-aa00bb11cc22", 40, output_snapshot=f"key {secret}\n")
    demo.sweep()
    redacted = invoke("export", "0ddba11", "--format", "text").stdout
    kept = invoke("export", "0ddba11", "--format", "text", "--no-redact").stdout
    assert secret not in redacted and "[REDACTED" in redacted
    assert secret in kept


def test_search_before_a_bare_date_includes_that_whole_day(archived):
    day = time.strftime("%Y-%m-%d", time.localtime(time.time() - 40 * 86400))  # API's last activity
    hits = json.loads(invoke("search", "--before", day, "--json").stdout)
    assert {h["session_id"] for h in hits} == {API, DB, BLOG}
    hits = json.loads(invoke("search", "--after", day, "--before", day, "--json").stdout)
    assert {h["session_id"] for h in hits} == {API}


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_a_rendered_export_says_when_records_could_not_be_read(home, tmp_path, fmt):
    # A transcript with a record too damaged to read rendered as if it were whole: a
    # 50 MB line or a cut-off record vanished from a markdown export without a word.
    import os

    from termvault import Vault

    projects = tmp_path / "projects" / "-p"
    projects.mkdir(parents=True)
    sid = "5e55a0c1-0000-4000-8000-000000000001"
    good = json.dumps(
        {"type": "user", "timestamp": "2025-01-01T00:00:00Z", "message": {"role": "user", "content": "hi"}}
    )
    (projects / f"{sid}.jsonl").write_text(good + '\n{"type": "user", "message": {"role": "us\n')
    os.utime(projects / f"{sid}.jsonl", (time.time() - 3600, time.time() - 3600))
    with Vault(home, sources={"claude-code": {"roots": [str(tmp_path / "projects")]}}) as vault:
        assert vault.sweep(older_than=0, kinds=["claude-code"]).archived
    result = invoke("export", sid, "--format", fmt)
    assert result.exit_code == 0, result.stderr
    assert "hi" in result.stdout and "Parse warnings" in result.stdout and "raw export" in result.stdout
