"""Escape-sequence stripping: what recorded terminal output looks like once searchable."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from termvault.ansi import OSC_PAYLOAD_CAP, AnsiStripper, normalize_newlines, osc7_path, strip_ansi

ESC = "\x1b"


def test_csi_colour_and_cursor_sequences_are_removed():
    text = f"{ESC}[1;31mred{ESC}[0m {ESC}[2K{ESC}[10;20Hmoved {ESC}[?2004hpaste"
    assert strip_ansi(text) == "red moved paste"


def test_24_bit_colour_in_semicolon_and_colon_forms_is_removed():
    text = f"{ESC}[38;2;255;128;0morange{ESC}[48:2::10:20:30m bg{ESC}[0m"
    assert strip_ansi(text) == "orange bg"


def test_osc_terminated_by_bel_is_removed_and_reported():
    seen: list[str] = []
    stripper = AnsiStripper(on_osc=seen.append)
    out = stripper.feed(f"before{ESC}]0;my title\x07after")
    assert out == "beforeafter"
    assert seen == ["0;my title"]


def test_osc_terminated_by_string_terminator_is_removed_and_reported():
    seen: list[str] = []
    stripper = AnsiStripper(on_osc=seen.append)
    out = stripper.feed(f"a{ESC}]7;file://host/home/me/proj{ESC}\\b")
    assert out == "ab"
    assert seen == ["7;file://host/home/me/proj"]


def test_osc_terminated_by_8_bit_string_terminator_is_removed():
    assert strip_ansi(f"a{ESC}]2;title\x9cb") == "ab"


def test_dcs_and_apc_strings_are_removed():
    assert strip_ansi(f"x{ESC}P1$r0m{ESC}\\y{ESC}_apc payload{ESC}\\z") == "xyz"


def test_charset_selection_sequences_are_removed():
    assert strip_ansi(f"{ESC}(Bplain{ESC})0line{ESC}(B{ESC}#8!") == "plainline!"


def test_two_character_escapes_are_removed():
    assert strip_ansi(f"{ESC}7saved{ESC}8{ESC}={ESC}>{ESC}Mtext") == "savedtext"


def test_lone_escape_before_newline_or_at_the_end_is_dropped_without_eating_text():
    assert strip_ansi(f"one{ESC}\ntwo{ESC}") == "one\ntwo"
    assert strip_ansi(f"a{ESC}{ESC}[31mb") == "ab"
    assert strip_ansi(f"a{ESC}éb") == "aéb"


def test_application_cursor_keys_are_removed_from_input():
    assert strip_ansi(f"ls{ESC}OA{ESC}[A\r") == "ls\r"


def test_other_control_characters_are_removed_but_layout_is_kept():
    assert strip_ansi("a\x00b\x07c\td\r\ne\x0ef\x7f") == "abc\td\r\nef"


def test_backspace_erases_the_previous_character():
    assert strip_ansi("lss\b -la") == "ls -la"


def test_malformed_csi_is_abandoned_and_the_rest_kept():
    assert strip_ansi(f"a{ESC}[12\nb") == "a\nb"


def test_8_bit_csi_is_removed():
    assert strip_ansi("a\x9b31mb") == "ab"


def test_sequences_split_across_chunks_are_stripped():
    seen: list[str] = []
    stripper = AnsiStripper(on_osc=seen.append)
    chunks = ["a\x1b", "[3", "1mb\x1b]7;file://h/ho", "me\x1b", "\\c"]
    assert "".join(stripper.feed(c) for c in chunks) == "abc"
    assert seen == ["7;file://h/home"]


def test_overlong_osc_payload_is_stripped_but_not_reported():
    seen: list[str] = []
    stripper = AnsiStripper(on_osc=seen.append)
    out = stripper.feed(f"a{ESC}]0;{'x' * (OSC_PAYLOAD_CAP + 10)}\x07b")
    assert out == "ab"
    assert seen == []


def test_osc7_path_decodes_the_announced_folder():
    assert osc7_path("7;file://laptop/Users/me/My%20Code") == "/Users/me/My Code"
    assert osc7_path("0;title") is None
    assert osc7_path("7;http://example.com/x") is None


def test_normalize_newlines_turns_cr_lf_and_lone_cr_into_lf():
    assert normalize_newlines("a\r\nb\rc\n") == "a\nb\nc\n"


_ALPHABET = st.sampled_from(list("ab ;[]()#?:0123456789m\\PX^_\x1b\x07\x9c\x9b\x9d\t\n\r\x00é€"))


@settings(max_examples=200, deadline=None)
@given(st.lists(_ALPHABET, max_size=200).map("".join))
def test_output_never_holds_escapes_or_invisible_controls(text):
    out = strip_ansi(text)
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]", out)


@settings(max_examples=200, deadline=None)
@given(st.lists(_ALPHABET, max_size=200).map("".join), st.lists(st.integers(0, 200), max_size=8))
def test_chunking_does_not_change_the_result(text, cuts):
    points = sorted({c for c in cuts if c <= len(text)})
    pieces = [text[a:b] for a, b in zip([0, *points], [*points, len(text)])]
    stripper = AnsiStripper()
    assert "".join(stripper.feed(p) for p in pieces) == strip_ansi(text)


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs"))))
def test_plain_printable_text_is_unchanged(text):
    assert strip_ansi(text) == text


@settings(max_examples=200, deadline=None)
@given(st.lists(_ALPHABET, max_size=200).map("".join))
def test_one_character_at_a_time_gives_the_same_result_and_osc_reports(text):
    whole: list[str] = []
    single: list[str] = []
    a, b = AnsiStripper(whole.append), AnsiStripper(single.append)
    assert "".join(b.feed(c) for c in text) == a.feed(text)
    assert single == whole
