"""Notebook 02 (the sigmoid chain) asks students to derive, then check (issue 16): read, not executed.

The prompts of Exercise 2.2-2.5 ask for what the student must work out and never print it; the worked
derivations come folded after each attempt; every question has a model answer; the numbers the text quotes
are those of the chain at the table's point.
"""

import copy
import re

import pytest

from autograder.notebook.worked import is_worked
from course_lib import models
from testkit.isolation_cases import source_path
from testkit.notebook_helpers import EXERCISE_RE, exercises, is_answer, is_test, nbgrader_meta, read, run_in_process

NB = read(source_path("02-sigmoid-chain"))
CELLS = NB.cells


def _by_id(grade_id: str):
    return next(c for c in CELLS if nbgrader_meta(c).get("grade_id") == grade_id)


def _index(grade_id: str) -> int:
    return next(i for i, c in enumerate(CELLS) if nbgrader_meta(c).get("grade_id") == grade_id)


#: what the 2.2-2.5 prompts used to print (the factors and products the student is asked for)
ANSWERS = [r"y(1-y)", r"h_2(1-h_2)", r"h_1(1-h_1)", r"-1/y", r"\sigma(a)\,(1", r"\sigma(a)(1",
           r"\frac{dL}{dy}\cdot\frac{dy}{dh_2}", r"\frac{dL}{dy}\cdot\frac{dy}{dw_3}"]


@pytest.mark.parametrize("prompt", ["text-04", "text-16", "text-06", "text-07", "text-08"])
def test_the_prompts_ask_for_the_factors_without_printing_them(prompt):
    source = _by_id(prompt).source.replace(" ", "")
    printed = [a for a in ANSWERS if a.replace(" ", "") in source]
    assert not printed, f"{prompt} prints {printed}"


def test_the_answer_cells_docstrings_do_not_give_the_products():
    for grade_id in ("dsigmoid-answer", "local-answer", "grad-w1-answer", "grad-w2-answer", "grad-w3-answer"):
        docstring = _by_id(grade_id).source.split('"""')[1]
        for answer in ("dL/dy ·", "(1 - ", "(1 − ", "y(1"):
            assert answer not in docstring, (grade_id, answer)


@pytest.mark.parametrize("last_test", ["dsigmoid-test", "weight-derivatives-test", "grad-w1-test", "grad-w2-test",
                                       "grad-w3-test"])
def test_a_folded_worked_derivation_follows_each_derivation_exercise(last_test):
    after = CELLS[_index(last_test) + 1]
    assert is_worked(after), f"no worked derivation right after {last_test}"
    assert after.source.startswith("<details>\n<summary>Worked derivation (open after you have tried)</summary>")
    assert "nbgrader" not in after.metadata


def test_the_worked_derivations_hold_the_answers_the_prompts_leave_out():
    worked = "\n".join(c.source for c in CELLS if is_worked(c))
    for answer in (r"\sigma(a)\,\bigl(1 - \sigma(a)\bigr)", "y(1-y)\\,w_3", "h_1(1-h_1)\\,x",
                   'return d["dL_dy"] * d["dy_dh2"] * d["dh2_dh1"] * d["dh1_dw1"]'):
        assert answer in worked, answer


def test_every_question_has_a_locked_model_answer_after_it():
    questions = [i for i, c in enumerate(CELLS) if c.cell_type == "markdown"
                 and re.search(r"\*\*(Your turn|Explore)\b", c.source)]
    questions += [i for i, c in enumerate(CELLS) if c.cell_type == "code" and "# Your turn" in c.source]
    assert len(questions) == 3, questions
    for i in questions:
        following = CELLS[i + 1] if CELLS[i + 1].cell_type == "markdown" else CELLS[i + 2]  # after its widget
        meta = nbgrader_meta(following)
        assert following.source.startswith("<details>\n<summary>Model answer (open after you have tried)</summary>")
        assert following.source.rstrip().endswith("</details>")
        assert meta.get("locked") and re.fullmatch(r"text-\d\d", meta["grade_id"]), meta
        assert not is_worked(following)


def test_setup_is_three_statements_and_the_check_helpers_sit_folded_before_the_first_exercise():
    setup = _by_id("setup").source
    assert [line for line in setup.splitlines() if line] == [
        "import numpy as np", "from course_lib.lesson import start", 'start("sigmoid-chain")']
    helpers = _index("check-helpers")
    assert CELLS[helpers].metadata["jupyter"] == {"source_hidden": True}
    first_exercise = next(i for i, c in enumerate(CELLS) if c.cell_type == "markdown"
                          and any(EXERCISE_RE.match(line) for line in c.source.splitlines()))
    assert helpers == first_exercise - 1
    assert len(CELLS[helpers].source.splitlines()) <= 110


def test_exercise_2_2_holds_the_sigma_prime_part_and_its_points():
    ex = next(e for e in exercises(NB) if e.number == "2.2")
    assert ex.answer_ids == ["dsigmoid-answer", "local-answer"]
    assert ex.tests == {"dsigmoid-test": 1, "dL-dy-test": 1, "unit-derivatives-test": 1,
                        "weight-derivatives-test": 1}
    assert sum(is_answer(c) for c in CELLS) == 7 and sum(is_test(c) for c in CELLS) == 9


def test_the_saturation_text_quotes_the_chain_at_the_tables_point():
    x, w1, w2, w3 = 1.0, 0.5, 4.0, -3.0
    nodes = models.sigmoid_chain(x, w1, w2, w3)
    h1, h2, y = (nodes[k].value for k in ("h1", "h2", "y"))
    d1, d2, d3 = h1 * (1 - h1), h2 * (1 - h2), y * (1 - y)
    grad_w1 = -1 / y * d3 * w3 * d2 * w2 * d1 * x
    grad_w3 = -1 / y * d3 * h2
    text = _by_id("text-11").source
    table = _by_id("saturation-table").source
    assert 'x, w = 1.0, {"w1": 0.5, "w2": 4.0, "w3": -3.0}' in table
    product = d1 * d2 * d3
    quoted = {f"{d1:.3f}": "σ'(a1)", f"{d2:.4f}": "σ'(a2)", f"{d3:.4f}": "σ'(a3)", f"{product:.5f}": "their product",
              r"\tfrac{1}{1100}": "1/product", f"{w3 * w2 * x:.0f}": "w3·w2·x", f"{-1 / y:.1f}": "dL/dy",
              f"{grad_w1:.2f}": "dL/dw1", f"{grad_w3:.2f}": "dL/dw3"}
    assert round(1 / product, -2) == 1100
    for number, what in quoted.items():
        assert number in text, (what, number)
    assert "scaled down by" not in text  # the old claim, which left out the weights' factor w2·w3 = −12


def test_the_loss_landscape_plot_names_w1_on_its_axis():
    plot = _by_id("saturation-plot").source
    assert 'variable="w1"' in plot and 'name="L"' in plot
    assert "L(w_1)" in _by_id("text-12").source


@pytest.mark.kernel  # runs notebook cells (in-process)
@pytest.mark.parametrize(("cheat", "words"), [
    ("return numerical_gradient(sigmoid, a)", "AutodiffDisabledError"),
    ("return sigmoid(a)", "σ' is not σ: differentiate σ(a) = 1/(1 + e^(−a)), chain rule"),
    ("return 1 - sigmoid(a)", "your d_sigmoid returns 1 − σ(a), only part of the derivative"),
    ("return -sigmoid(a) * (1 - sigmoid(a))", "the sign is flipped"),
])
def test_d_sigmoid_is_judged_by_its_own_check_with_the_likely_mistake(cheat, words):
    cells = []
    for cell in CELLS:
        if nbgrader_meta(cell).get("grade_id") == "dsigmoid-answer":
            cell = copy.deepcopy(cell)
            cell.source = f'def d_sigmoid(a: float) -> float:\n    """σ\'(a)."""\n    {cheat}\n'
        cells.append(cell)
    results = run_in_process(cells, cwd=source_path("02-sigmoid-chain").parent)
    failed = {gid: r.error for gid, r in results.items() if not r.passed}
    assert set(failed) == {"dsigmoid-test"}, failed
    assert words in failed["dsigmoid-test"], failed["dsigmoid-test"]
    assert "dL/dy = −1/y" not in failed["dsigmoid-test"]  # advice in σ's own words, not the chain's
    assert "σ(a)(1 − σ(a))" not in failed["dsigmoid-test"]  # the graded formula is never stated
