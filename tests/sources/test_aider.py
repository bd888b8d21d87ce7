"""The aider source: discovery of project folders under the home (pruned walk), one unit
per folder with run boundaries in the metadata, hand-checked metadata of real chat
histories, and robustness against any bytes."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from termvault.fsutil import validate_id
from termvault.sources import source_class
from termvault.sources.aider import CHAT_NAME, INPUT_NAME, AiderSource
from termvault.sources.base import MAX_LINE_BYTES

from .support import MemoryFile, copy_corpus, local, parse_and_render, refs_of

# corpus file -> (project folder under the fake home, file name)
LAYOUT = {
    "AbdulAlkawasmeh__metadata-aider__.aider.chat.history.md": ("code/metadata-aider", CHAT_NAME),
    "AbdulAlkawasmeh__metadata-aider__.aider.input.history": ("code/metadata-aider", INPUT_NAME),
    "AndrewJacop__doc_processor__.aider.chat.history.md": ("code/doc_processor", CHAT_NAME),
    "BeehiveInnovations__zen-mcp-server__.aider.chat.history.md": ("git/github/zen-mcp-server", CHAT_NAME),
    "kenn-io__agentsview__internal__parser__testdata__aider__myrepo__.aider.chat.history.md": ("myrepo", CHAT_NAME),
}


# ---------------------------------------------------------------------------------------
# Helpers (also used by the round-trip test)
# ---------------------------------------------------------------------------------------


def aider_layout(corpus: Path, home: Path) -> dict[Path, Path]:
    """Copy every aider corpus file into a project folder under ``home``. {copy: corpus file}"""
    return copy_corpus(corpus / "aider_history_md", lambda src: home.joinpath(*LAYOUT[src.name]))


def src(user_home: Path | None = None, **kw) -> AiderSource:
    return AiderSource(home=Path("unused"), env={"HOME": str(user_home or "/nonexistent")}, **kw)


def history(text: str, name: str = f"proj/{CHAT_NAME}") -> MemoryFile:
    return MemoryFile(name, text.encode())


def write(path: Path, text: str = "# aider chat started at 2026-01-01 10:00:00\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# ---------------------------------------------------------------------------------------
# Discovery
# ---------------------------------------------------------------------------------------


def test_the_kind_is_registered_under_its_name():
    assert source_class("aider") is AiderSource
    assert AiderSource.default_mode == "copy"


def test_the_default_root_is_the_home_folder(user_home):
    assert src(user_home).roots == [user_home]


def test_every_corpus_file_is_discovered_one_unit_per_project_folder(corpus, user_home):
    placed = aider_layout(corpus, user_home)
    units = list(src(user_home).discover())
    assert len(units) == len({p.parent for p in placed}) == len(placed) - 1
    assert {f.origin for u in units for f in u.files} == set(placed)
    for unit in units:
        assert unit.root == user_home
        assert all(user_home / f.relpath == f.origin for f in unit.files)
        assert validate_id(unit.session_id).startswith("aider-")
        assert unit.hints["working_directory"] == str(unit.files[0].origin.parent)
        assert unit.files[0].relpath.endswith(CHAT_NAME)  # the chat history comes first
    pair = next(u for u in units if len(u.files) == 2)
    assert [f.relpath for f in pair.files] == [f"code/metadata-aider/{CHAT_NAME}", f"code/metadata-aider/{INPUT_NAME}"]
    assert len({u.session_id for u in units}) == len(units)


def test_bulky_hidden_and_deep_folders_are_not_walked(user_home):
    write(user_home / "node_modules" / "pkg" / CHAT_NAME)
    write(user_home / "proj" / ".git" / CHAT_NAME)
    write(user_home / ".cache" / "x" / CHAT_NAME)
    write(user_home / "proj" / ".venv" / CHAT_NAME)
    write(user_home / "a" / "b" / "c" / "d" / "e" / "f" / "g" / CHAT_NAME)  # 7 folders deep
    kept = write(user_home / "a" / "b" / "c" / "d" / "e" / "f" / CHAT_NAME)  # 6 folders deep
    assert [u.files[0].origin for u in src(user_home).discover()] == [kept]


def test_walk_options_include_hidden_folders_skip_names_and_change_the_depth(user_home):
    hidden = write(user_home / ".config" / "proj" / CHAT_NAME)
    skipped = write(user_home / "archive" / "old" / CHAT_NAME)
    assert {u.files[0].origin for u in src(user_home, options={"include_hidden": True}).discover()} == {hidden, skipped}
    assert list(src(user_home, options={"skip": ["archive"]}).discover()) == []
    assert list(src(user_home, options={"max_depth": 1}).discover()) == []


def test_an_input_history_alone_is_a_unit_that_keeps_its_id_when_the_chat_appears(user_home):
    write(user_home / "proj" / INPUT_NAME, "# 2026-01-02 09:00:00.5\n+fix the tests\n")
    (alone,) = src(user_home).discover()
    info = src().parse(refs_of(alone))
    assert info.first_prompt == info.last_command == "fix the tests"
    assert info.last_activity_at == local("2026-01-02 09:00:00.5")
    write(user_home / "proj" / CHAT_NAME)
    (both,) = src(user_home).discover()
    assert both.session_id == alone.session_id and len(both.files) == 2


def test_symbolic_links_are_not_followed(user_home, tmp_path):
    write(tmp_path / "elsewhere" / CHAT_NAME)
    os.symlink(tmp_path / "elsewhere", user_home / "linked")
    (user_home / "proj").mkdir()
    os.symlink(tmp_path / "elsewhere" / CHAT_NAME, user_home / "proj" / CHAT_NAME)
    assert list(src(user_home).discover()) == []


def test_configured_roots_give_relative_working_directories(tmp_path):
    write(tmp_path / "projects" / CHAT_NAME)
    write(tmp_path / "projects" / "app" / CHAT_NAME)
    units = sorted(src(roots=[tmp_path / "projects"]).discover(), key=lambda u: u.files[0].relpath)
    assert [u.files[0].relpath for u in units] == [CHAT_NAME, f"app/{CHAT_NAME}"]
    assert [src().parse(refs_of(u)).working_directory for u in units] == [".", "app"]


# ---------------------------------------------------------------------------------------
# Metadata of real histories, checked by hand
# ---------------------------------------------------------------------------------------


def corpus_unit(corpus: Path, user_home: Path, folder: str):
    aider_layout(corpus, user_home)
    return next(u for u in src(user_home).discover() if u.files[0].relpath.startswith(folder + "/"))


def test_runs_prompts_and_edits_of_a_three_run_history(corpus, user_home):
    info = src().parse(refs_of(corpus_unit(corpus, user_home, "myrepo")))
    assert info.name == info.first_prompt == "add a retry to the webhook"
    assert info.last_command == "make the timeout configurable"
    assert info.working_directory == "myrepo"
    assert info.created_at == local("2026-06-09 14:01:00")
    assert info.last_activity_at == local("2026-06-09 16:00:00")
    assert info.extra["run_count"] == 3
    assert [(r["line"], r["started"]) for r in info.extra["runs"]] == [
        (2, "2026-06-09 14:01:00"),
        (18, "2026-06-09 15:30:00"),
        (25, "2026-06-09 16:00:00"),
    ]
    assert info.extra["runs"][1]["started_at"] == local("2026-06-09 15:30:00")
    assert (info.message_count, info.tool_call_count, info.parse_warnings) == (6, 3, 0)
    assert "exponential backoff" in info.text


def test_messages_start_each_run_with_a_marker(corpus, user_home):
    messages = list(src().messages(refs_of(corpus_unit(corpus, user_home, "myrepo"))))
    assert [m.role for m in messages] == [
        "marker",
        "user",
        "assistant",
        "user",
        "assistant",
        "system",
        "marker",
        "user",
        "assistant",
        "system",
        "marker",
    ]
    assert messages[5].text.splitlines()[0] == "Applied edit to src/webhook.py"
    assert messages[7].timestamp == local("2026-06-09 15:30:00")


def test_the_input_history_beside_the_chat_extends_the_last_activity(corpus, user_home):
    info = src().parse(refs_of(corpus_unit(corpus, user_home, "code/metadata-aider")))
    assert info.first_prompt.startswith("Please create an .aidar.json file in the root directory")
    assert info.last_command == (
        "write a README file in the root project directory describing the summary of the project"
    )
    assert info.model == "openrouter/openai/gpt-4o-mini"
    assert info.created_at == local("2025-12-03 14:43:45")
    assert info.last_activity_at == local("2025-12-03 21:29:00.153483")  # the last typed "Y"
    assert info.extra["input_entries"] == 20 and info.tool_call_count == 18


def test_commands_are_not_titles_and_ask_counts_as_a_prompt(corpus, user_home):
    zen = src().parse(refs_of(corpus_unit(corpus, user_home, "git/github/zen-mcp-server")))
    assert zen.first_prompt is None  # only /add and /copy-context were typed
    assert zen.name == "zen-mcp-server"
    assert zen.last_command.startswith("/copy-context")
    assert zen.model == "gemini/gemini-2.5-pro-preview-06-05" and zen.extra["run_count"] == 4
    doc = src().parse(refs_of(corpus_unit(corpus, user_home, "code/doc_processor")))
    assert doc.first_prompt.startswith("can you tell me the steps you would take to implement")
    assert doc.model == "openai/google_genai.gemini-2.5-pro-preview-05-06"


def test_every_corpus_history_parses_without_warnings(corpus, user_home):
    aider_layout(corpus, user_home)
    for unit in src(user_home).discover():
        info = src().parse(refs_of(unit))
        assert info.parse_warnings == 0 and info.message_count > 0 and info.text


# ---------------------------------------------------------------------------------------
# Robustness
# ---------------------------------------------------------------------------------------


def test_a_multi_line_prompt_is_one_message():
    text = "# aider chat started at 2026-01-01 10:00:00\n\n#### first line  \n####   \n#### second  \n\nok\n"
    info = src().parse([history(text)])
    assert info.first_prompt == "first line\n\nsecond" and info.message_count == 2


def test_bad_dates_and_undecodable_lines_are_counted():
    data = b"# aider chat started at yesterday\n#### caf\xe9\n\nreply\n"
    info = src().parse([MemoryFile(f"p/{CHAT_NAME}", data)])
    assert info.parse_warnings == 2 and info.first_prompt == "caf\ufffd"
    assert info.created_at is None and info.extra["runs"][0]["started_at"] is None


def test_an_overlong_line_is_skipped_with_a_warning():
    data = b"#### hi\n\n" + b"x" * (MAX_LINE_BYTES + 3) + b"\nafter\n"
    info = src().parse([MemoryFile(f"p/{CHAT_NAME}", data)])
    assert info.parse_warnings == 1 and "after" in info.text


def test_malformed_input_history_lines_are_counted():
    data = b"# 2026-01-01 10:00:00\n+ok\nstray line\n# not a date\n+second\n"
    info = src().parse([MemoryFile(f"p/{INPUT_NAME}", data)])
    assert info.parse_warnings == 2 and info.last_command == "second"


def test_empty_files_and_empty_units_give_empty_metadata():
    assert src().parse([]).message_count == 0
    info = src().parse([MemoryFile(f"p/{CHAT_NAME}", b""), MemoryFile(f"p/{INPUT_NAME}", b"")])
    assert (info.message_count, info.parse_warnings, info.created_at) == (0, 0, None)
    assert list(src().messages([MemoryFile(f"p/{CHAT_NAME}", b"")])) == []


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=2000), st.sampled_from([CHAT_NAME, INPUT_NAME]))
def test_any_bytes_parse_and_render_without_raising(data, name):
    info, _ = parse_and_render(src(), MemoryFile(f"p/{name}", data))
    assert info.parse_warnings >= 0


_LINES = st.one_of(
    st.sampled_from(
        [
            "",
            "####",
            "#### /ask why",
            "#### /add x",
            "> Model: m with diff",
            "> Applied edit to f",
            ">",
            "# aider chat started at 2026-01-01 10:00:00",
            "# aider chat started at 2026-13-45 99:00:00",
        ]
    ),
    st.text(max_size=40),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_LINES, max_size=40))
def test_structured_garbage_never_raises_and_counts_every_run(lines):
    text = "\n".join(lines)
    info, _ = parse_and_render(src(), history(text))
    assert info.extra["run_count"] == sum(1 for line in text.split("\n") if line.startswith("# aider chat started at "))
