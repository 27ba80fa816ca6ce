"""The pieces behind issue 13, without a kernel: the wire's strict decoder, reading notebooks however they were
saved, dropping foreign nbgrader metadata, and what feedback may say (autograder.grading.feedback)."""

from __future__ import annotations

import copy
import json
import math

import nbformat
import numpy as np
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder.grading.feedback import answer_note, safe_markdown, verdict_text
from autograder.isolation.wire import DECODE_DEPTH, MAX_DEPTH, WireError, decode, encode
from autograder.notebook.reading import NOT_ANSWERED, drop_foreign_metadata, read_notebook


# ---------------------------------------------------------------------------------------------- the wire
def _nested(depth: int):
    v: object = 1.5
    for _ in range(depth):
        v = [v]
    return v


def test_the_decoder_is_stricter_than_the_encoder():
    assert DECODE_DEPTH < MAX_DEPTH
    deepest = encode(_nested(MAX_DEPTH))  # the encoder allows it ...
    with pytest.raises(WireError):
        decode(deepest)  # ... the decoder does not
    ok = decode(encode(_nested(DECODE_DEPTH)))
    encode([ok])  # whatever decodes can be sent back inside an argument list


@pytest.mark.parametrize("depth", range(DECODE_DEPTH - 3, MAX_DEPTH + 2))
def test_every_decodable_value_can_be_encoded_again_as_an_argument(depth):
    for wrap in (lambda v: v, lambda v: {"__tuple__": [v]}, lambda v: {"__dict__": [["k", v]]}):
        data = wrap(encode(_nested(min(depth, MAX_DEPTH))))
        try:
            value = decode(data)
        except WireError:
            continue
        encode([value], {})  # never raises for a decoded value


@pytest.mark.parametrize("data", [
    {"__float__": "nan", "extra": 1},                                       # keys beyond the tagged form
    {"__complex__": ["1", 2.0]},                                           # a string where a number belongs
    {"__complex__": [1.0]},
    {"__ndarray__": ["1", "2"], "dtype": "<f8", "shape": [2]},             # numpy would parse the strings
    {"__ndarray__": [1.0], "dtype": "|O", "shape": [1]},                   # object arrays run code on use
    {"__ndarray__": [1.0], "dtype": "<f8", "shape": [-1]},
    {"__ndarray__": [1.0], "dtype": "not a dtype", "shape": [1]},
    {"__ndarray__": [True], "dtype": "<f8", "shape": [1]},
    {"__dict__": [["a"]]},
    {"__dict__": [[{"__tuple__": [[1]]}, 1]]},                              # an unhashable key
    {"__tuple__": "abc"},
    {"__callable__": 1, "name": "f"},                                      # no callables expected here
    {"__other__": 1},
])
def test_malformed_values_are_refused(data):
    with pytest.raises(WireError):
        decode(data)


def test_well_formed_values_round_trip():
    value = {"a": (1, 2.5, complex(1, -2)), 3: [np.arange(6.0).reshape(2, 3), float("nan")],
             "c": np.array([1 + 2j, 3j])}
    back = decode(json.loads(json.dumps(encode(value), allow_nan=False)))
    assert back["a"] == value["a"] and back[3][0].shape == (2, 3) and math.isnan(back[3][1])
    assert np.array_equal(back["c"], value["c"])


# ------------------------------------------------------------------------------------- reading notebooks
def _honest() -> nbformat.NotebookNode:
    nb = new_notebook()
    cell = new_code_cell("def double(x):\n    return 2 * x\n")
    cell.metadata["nbgrader"] = {"schema_version": 3, "grade_id": "double-answer", "solution": True,
                                 "grade": False, "locked": False}
    nb.cells = [new_markdown_cell("# ünïcode"), cell]
    return nb


@pytest.mark.parametrize("encoding, prefix, note", [
    ("utf-8", b"", ""),
    ("utf-8", b"\xef\xbb\xbf", "saved as UTF-8 with a byte-order mark"),
    ("utf-16", b"", "saved as UTF-16"),
    ("utf-16-le", b"", "saved as UTF-16-LE"),
    ("utf-32", b"", "saved as UTF-32"),
])
def test_notebooks_in_any_json_encoding_are_read(tmp_path, encoding, prefix, note):
    path = tmp_path / "nb.ipynb"
    path.write_bytes(prefix + nbformat.writes(_honest()).encode(encoding))
    nb, problem, notes = read_notebook(path)
    assert problem == "" and nb.cells[0].source == "# ünïcode"
    assert notes == ([note] if note else [])


@pytest.mark.parametrize("version", [3, 2])
def test_older_nbformat_versions_are_converted(tmp_path, version):
    path = tmp_path / "nb.ipynb"
    try:
        old = nbformat.writes(nbformat.convert(copy.deepcopy(_honest()), version), version=version)
    except (ValueError, NotImplementedError, AttributeError):
        pytest.skip(f"nbformat cannot write version {version}")
    path.write_text(old)
    nb, problem, notes = read_notebook(path)
    assert problem == "" and nb.nbformat == 4
    assert any(c.metadata.get("nbgrader", {}).get("grade_id") == "double-answer" for c in nb.cells)
    assert notes == [f"saved as nbformat {version} (converted to 4)"]


@pytest.mark.parametrize("data, words", [
    (b"\x00\x01\x02 not json", "not"),
    (b'{"cells": 3}', "not a notebook"),
    (b"[1, 2]", "not a notebook"),
    (b'\xff\xfe\xff\xfe{"', "not"),
])
def test_what_is_not_a_notebook_says_so(tmp_path, data, words):
    path = tmp_path / "nb.ipynb"
    path.write_bytes(data)
    nb, problem, _ = read_notebook(path)
    assert nb is None and words in problem


def test_foreign_and_repeated_nbgrader_metadata_is_dropped():
    nb = _honest()
    foreign = new_code_cell("def square(x):\n    return x * x\n")
    foreign.metadata["nbgrader"] = {"grade_id": "square-answer", "solution": True, "grade": False}
    no_id = new_markdown_cell("notes")
    no_id.metadata["nbgrader"] = {"task": True, "points": 1}
    not_a_dict = new_markdown_cell("odd")
    not_a_dict.metadata["nbgrader"] = "x"
    nb.cells += [foreign, no_id, not_a_dict, nbformat.from_dict(json.loads(json.dumps(nb.cells[1])))]
    dropped = drop_foreign_metadata(nb, {"double-answer", "double-test"})
    assert dropped == [3, 4, 5, 6]
    assert nb.cells[1].metadata["nbgrader"]["grade_id"] == "double-answer"
    assert all("nbgrader" not in c.metadata for c in nb.cells[2:])


# ------------------------------------------------------------------------------------- what feedback says
def test_a_hidden_failure_shows_no_message_of_the_hidden_part():
    text = verdict_text(0, 2, {"score": 2, "message": ""},
                        {"score": 0, "message": "AssertionError: SECRET double(-1.5)"}, True)
    assert "hidden tests failed" in text and "SECRET" not in text and "-1.5" not in text


def test_a_visible_failure_shows_its_message_and_not_answered_in_the_courses_words():
    assert "should be 6" in verdict_text(0, 2, {"score": 0, "message": "AssertionError: should be 6"},
                                         {"score": 0, "message": "AssertionError: SECRET"}, True)
    assert NOT_ANSWERED in verdict_text(0, 2, {"score": 0, "message": "NotImplementedError: "}, None, True)


def test_unverifiable_and_unchecked_cells_say_so():
    assert "could not be checked" in verdict_text(0, 2, None, {"score": 0, "unverifiable": True}, True)
    text = verdict_text(2, 2, None, None, False)
    assert text.startswith("✓ passed") and "without the grader's re-check" in text


def test_a_message_is_shortened_and_shown_without_control_characters():
    text = verdict_text(0, 1, {"message": "ValueError: \x1b[2J" + "x" * 10_000}, None, True)
    assert "\x1b" not in text and len(text) < 3200


@pytest.mark.parametrize("source", [
    "<script>alert(1)</script>", '<img src=x onerror="alert(1)">', "[x](javascript:alert(1))",
    "[x]( JavaScript:alert(1))", "![x](data:text/html;base64,PHNjcmlwdD4=)", "<svg onload=alert(1)>",
    "[x](java&#115;cript:alert(1))", "[x][r]\n\n[r]: javascript:alert(1)", "[x](//evil.example/a)",
    "<!-- x --><script>alert(1)</script>", "[x](<javascript:alert(1)>)",
])
def test_student_markdown_cannot_become_markup(source):
    from nbconvert.filters.markdown import markdown2html

    html = markdown2html(safe_markdown(source))
    assert "<script" not in html and "<img src=\"x\" onerror" not in html and "<svg" not in html
    assert "javascript:" not in html.lower().replace(" ", "") and 'src="data:' not in html
    assert 'href="//' not in html


def test_ordinary_markdown_keeps_its_links_math_and_text():
    from nbconvert.filters.markdown import markdown2html

    html = markdown2html(safe_markdown("See [the notes](https://example.org/a?b=1) and [below](#x): $a < b$, "
                                       "$\\begin{pmatrix} a & b \\end{pmatrix}$ & more"))
    assert 'href="https://example.org/a?b=1"' in html and 'href="#x"' in html
    assert "a &lt; b" in html and "a &amp; b" in html


def test_answer_notes_come_from_the_source_alone():
    assert answer_note("def f(:\n    pass").startswith("SyntaxError: ")
    assert NOT_ANSWERED in answer_note("def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()")
    assert answer_note("def f(x):\n    return 2 * x") == ""
    assert answer_note("%matplotlib inline\nx = 1") == ""


# ------------------------------------------------------------------------------------------ the static scan
def test_the_scan_flags_a_hand_written_finite_difference_step_but_not_every_evasion():
    from autograder.grading.scan import scan_source

    plain = "def backward(p):\n    h = 1e-6\n    return (loss(p + h) - loss(p - h)) / (2 * h)\n"
    assert any("tiny number 1e-06" in str(f) for f in scan_source(plain, "backward-answer"))
    evasive = plain.replace("1e-6", "10 ** -6")  # out of reach: documented in the README
    assert scan_source(evasive, "backward-answer") == []
