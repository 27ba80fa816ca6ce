"""Notebook 01 (the chain rule) asks students to derive, then check (issue 16).

What the student reads before trying never states a result they are graded on: the local derivatives of
Exercise 1.2 and the products of Exercises 1.3 and 1.4 are only in the folded worked derivations (tagged
``worked-solution``), which ``backprop-course release`` leaves out. Every "Your turn" question has a folded
model answer, which the release keeps. The setup cell is the course's three-line one and the self-check
helpers sit, collapsed, just before the first exercise.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
import pytest

from autograder.notebook.worked import is_worked
from testkit.notebook_helpers import EXERCISE_RE, is_answer, is_test, nbgrader_meta, read

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = "01-chain-rule"
SOURCE = ROOT / "notebooks" / ASSIGNMENT / "chain-rule.ipynb"

#: Results the exercises grade, as they would be written in the notebook's markdown or code: none may appear
#: in a cell a student reads (markdown, setup, helpers, visible tests) outside the worked derivations.
GRADED_RESULTS = {
    "d(u²)/du = 2u (1.2)": [r"\frac{d}{du}u^2 = 2u", r"= 2u", "2u,", "lambda u: 2 * u"],
    "d(e^u)/du = e^u (1.2)": [r"\frac{d}{du}e^{u} = e^{u}", "(math.exp, math.exp"],
    "d(1/u)/du = -1/u² (1.2)": [r"-\frac{1}{u^2}", r"-\frac{1}{h_2^2}", r"-\frac{1}{h_2^{2}}", "-1/h_2^2",
                                "-1 / u**2", "-1/u²"],
    "dy/dx of example 1 (1.3)": [r"e^{h_2}\cdot e^{h_1}", r"e^{e^{x^2}}\cdot e^{x^2}\cdot 2x",
                                 "math.exp(math.exp(x**2)) * math.exp(x**2)"],
    "dy/dx of example 2 (1.4)": [r"-\frac{2x}{e^{x^2}}", "-2 * x / math.exp(x**2)"],
    "example 2's last step (1.1)": [r"y = \frac{1}{h_2}", "y = 1/h2", "y = 1 / h2"],
}

HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS\n?", re.S)
SOLUTION = re.compile(r"### BEGIN SOLUTION.*?### END SOLUTION\n?", re.S)
MODEL_ANSWER = "<details>\n<summary>Model answer (open after you have tried)</summary>"


def _student_text(nb) -> str:
    """What a student of the released notebook can read: everything but worked cells, solutions, hidden tests."""
    parts = []
    for cell in nb.cells:
        if is_worked(cell):
            continue
        source = SOLUTION.sub("", cell.source) if is_answer(cell) else cell.source
        parts.append(HIDDEN.sub("", source) if is_test(cell) else source)
    return "\n".join(parts)


def test_no_graded_result_is_printed_outside_the_worked_derivations():
    nb = read(SOURCE)
    readable = _student_text(nb)
    leaks = {what: [s for s in spellings if s in readable] for what, spellings in GRADED_RESULTS.items()}
    assert not any(leaks.values()), f"the notebook gives away what it grades: {leaks}"
    worked = "\n".join(c.source for c in nb.cells if is_worked(c))
    for what, spellings in GRADED_RESULTS.items():  # the patterns are live: the worked cells do state them
        if "(1.2)" in what or "(1.3)" in what or "(1.4)" in what:
            assert any(s in worked for s in spellings), f"no worked derivation states {what}"


def _exercise_of_each_cell(nb) -> list[str | None]:
    current, out = None, []
    for cell in nb.cells:
        if cell.cell_type == "markdown" and not is_worked(cell):
            for line in cell.source.splitlines():
                match = EXERCISE_RE.match(line.strip())
                if match:
                    current = match["number"]
                elif line.startswith("## "):
                    current = None
        out.append(current)
    return out


def test_each_derived_exercise_has_its_worked_derivation_right_after_its_tests():
    nb = read(SOURCE)
    where = _exercise_of_each_cell(nb)
    worked = {}
    for index, cell in enumerate(nb.cells):
        if is_worked(cell):
            assert is_test(nb.cells[index - 1]), (
                f"worked cell {index} does not follow a test cell"
            )
            worked[where[index]] = index
    assert set(worked) == {"1.1", "1.2", "1.3", "1.4", "1.5"}, worked
    for number, index in worked.items():  # after the *last* test cell of its exercise
        later_tests = [i for i, c in enumerate(nb.cells) if is_test(c) and where[i] == number and i > index]
        assert not later_tests, f"Exercise {number}: test cells after its worked derivation: {later_tests}"


def test_every_your_turn_question_has_a_locked_folded_model_answer():
    nb = read(SOURCE)
    questions = [i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and "**Your turn" in c.source]
    assert len(questions) >= 2, questions
    for index in questions:
        following = nb.cells[index + 1:index + 3]  # the question, its scratch code cell, then the answer
        answers = [c for c in following if c.cell_type == "markdown" and c.source.startswith(MODEL_ANSWER)]
        assert answers, f"the Your-turn question in cell {index} has no model answer right after it"
        meta = nbgrader_meta(answers[0])
        assert meta.get("locked") and not meta.get("grade") and re.match(r"^text-\d+$", meta["grade_id"]), meta
        assert answers[0].source.rstrip().endswith("</details>")


def test_setup_is_the_three_line_start_and_the_helpers_wait_collapsed_before_exercise_1_1():
    nb = read(SOURCE)
    setup = next(c for c in nb.cells if nbgrader_meta(c).get("grade_id") == "setup")
    lines = [line for line in setup.source.splitlines() if line.strip()]
    assert lines == ["import numpy as np", "from course_lib.lesson import start",
                     'start("chain-rule")'], lines
    assert "sys.path" not in "\n".join(c.source for c in nb.cells)
    index = next(i for i, c in enumerate(nb.cells) if nbgrader_meta(c).get("grade_id") == "check-helpers")
    helpers = nb.cells[index]
    assert helpers.metadata.get("jupyter", {}).get("source_hidden") is True
    assert EXERCISE_RE.match(nb.cells[index + 1].source.splitlines()[0]), "helpers right before Exercise 1.1"
    assert not any(EXERCISE_RE.match(line) for c in nb.cells[:index] for line in c.source.splitlines())


def test_the_backward_section_states_upstream_times_local_and_dependency_order():
    nb = read(SOURCE)
    backward = next(c.source for c in nb.cells if c.source.startswith("## Backward"))
    assert "upstream" in backward and "local" in backward and "dependency order" in backward
    assert "reverse" in backward


def test_the_digits_sentence_matches_the_finite_difference_table():
    """The closing summary says what the table shows (9 to 12 of 16 digits kept), not "half the digits"."""
    text = "\n".join(c.source for c in read(SOURCE).cells if c.cell_type == "markdown")
    assert "half the digits" not in text
    assert "two thirds of the digits" in text


@pytest.mark.grading
def test_the_release_drops_the_worked_derivations_and_keeps_the_model_answers(tmp_path):
    from autograder.commands.release import release
    from autograder.coursedir.course import CourseDir

    notebooks = tmp_path / "notebooks"
    shutil.copytree(SOURCE.parent, notebooks / ASSIGNMENT)
    course = CourseDir.at(tmp_path / "course")
    release(course, notebooks, progress=lambda m: None)
    released = nbformat.read(str(course.release / ASSIGNMENT / SOURCE.name), as_version=4)
    source = read(SOURCE)
    text = "\n".join(c.source for c in released.cells)
    worked = [c for c in source.cells if is_worked(c)]
    assert worked and not any(is_worked(c) for c in released.cells)
    assert "Worked derivation" not in text
    for cell in worked:
        body = cell.source.split("</summary>", 1)[1].strip().removesuffix("</details>").strip()
        assert body[:200] not in text
    assert text.count(MODEL_ANSWER) == sum(c.source.startswith(MODEL_ANSWER) for c in source.cells) >= 2
    assert len(released.cells) == len(source.cells) - len(worked)
    leaks = {what: [s for s in spellings if s in text] for what, spellings in GRADED_RESULTS.items()}
    assert not any(leaks.values()), leaks


def test_the_checkers_sign_advice_in_01_gives_no_local_derivative_away():
    """A sign slip anywhere in 01 (here in d_square) is told to check rising/falling, not shown d(1/u)/du."""
    from course_lib.gradcheck import check_derivative

    report = check_derivative(lambda u: u**2, lambda u: -2 * u, [0.7, -1.3], name="d(u²)/du", context="chain-rule")
    text = str(report)
    assert not report.passed and "the sign is flipped" in text, text
    assert "rising or falling" in text
    assert "1/u²" not in text and "1/u^2" not in text
