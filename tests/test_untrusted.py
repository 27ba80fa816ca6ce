"""Student text made safe for each destination (autograder/untrusted.py)."""

import pytest

from autograder.untrusted import for_csv, for_filename, for_html, for_terminal, printable


def test_lone_surrogates_become_replacement_characters():
    s = printable("grade\ud800id")
    assert s == "grade\ufffdid"
    s.encode("utf-8")  # would raise UnicodeEncodeError before


@pytest.mark.parametrize("evil", ["\x1b[2J", "\x1b]0;title\x07", "a\x9bb", "\x00"])
def test_terminal_escapes_are_shown_not_obeyed(evil):
    out = for_terminal(f"Needs your attention: 4{evil}")
    assert "\x1b" not in out and "\x07" not in out and "\x9b" not in out and "\x00" not in out
    assert out.startswith("Needs your attention: 4")


def test_newlines_are_shown_unless_kept():
    assert for_terminal("a\nb") == "a\\nb"
    assert for_terminal("a\nb", keep_newlines=True) == "a\nb"


@pytest.mark.parametrize("cell", ['=HYPERLINK("http://x","y")', "+1+cmd", "-2+3", "@SUM(A1)", "\t=1"])
def test_csv_formulas_are_neutralised(cell):
    assert for_csv(cell).startswith("'")


@pytest.mark.parametrize("number", ["-1.5", "+2", "3", "-4e-3"])
def test_csv_numbers_keep_their_sign(number):
    assert for_csv(number) == number


def test_html_is_escaped():
    assert for_html('<img src=x onerror="alert(1)">') == "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;"


def test_filenames_are_short_distinct_and_safe():
    a, b = for_filename("Anna Müller"), for_filename("Anna Möller")
    assert a != b and a.startswith("Anna-Muller-") and b.startswith("Anna-Moller-")
    assert for_filename("s01") == "s01"
    long = for_filename("x" * 300)
    assert len(long) <= 64 and long != for_filename("x" * 299)
    for evil in ("..", ".", "", "../../etc/passwd", "a/b", "\ud800"):
        name = for_filename(evil)
        assert name not in (".", "..", "") and "/" not in name
