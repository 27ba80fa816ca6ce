"""Notebook 04's structure for issue 16: derive then check, the notes' Δ notation, model answers, folded helpers.

Reads the source notebook only (no kernel): fast checks that the prompts ask instead of tell, that every
answer comes after the attempt, and that the notes' notation is used as the notes use it.
"""

from __future__ import annotations

import re

import pytest

from autograder.notebook.worked import RemoveWorkedSolutions, is_worked
from testkit.notebook_helpers import is_answer, is_test, nbgrader_meta, notebook_paths, read

PATH = next(p for p in notebook_paths() if p.parent.name == "04-all-parameters")
MATRIX_FORMS = [r"G_2^{\top} H_1", r"G_1^{\top} X", r"(\hat Y - Y)/m", r"(G_2 W_2)\odot", r"\Delta_2^{\top}"]


@pytest.fixture(scope="module")
def cells():
    return read(PATH).cells


def _gid(cell) -> str | None:
    return nbgrader_meta(cell).get("grade_id")


def _index(cells, grade_id: str) -> int:
    return next(i for i, c in enumerate(cells) if _gid(c) == grade_id)


def test_the_4_1_prompt_asks_for_the_matrix_forms_and_only_the_worked_cell_gives_them(cells):
    visible = "\n".join(c.source for c in cells if not is_worked(c) and not is_answer(c))
    for form in MATRIX_FORMS:
        assert form not in visible, f"a prompt gives the matrix form {form!r}"
    prompt = cells[_index(cells, "text-03")].source
    assert "what is its shape" in prompt and "Where does the $\\frac1m$ go" in prompt
    assert prompt.count("| ? | ? |") == 6, "the table for the student's own derivation has 6 empty rows"
    worked = [c.source for c in cells if is_worked(c)]
    assert any(all(form in w for form in MATRIX_FORMS[:4]) for w in worked), "the worked cell derives all forms"


def test_each_worked_derivation_comes_right_after_its_exercises_tests_and_leaves_the_release(cells):
    worked = [i for i, c in enumerate(cells) if is_worked(c)]
    assert [_gid(cells[i - 1]) for i in worked] == ["backward-sizes-test", "step-properties-test"]
    for i in worked:
        assert cells[i].source.startswith("<details>\n<summary>Worked derivation (open after you have tried)</summary>")
        assert "nbgrader" not in cells[i].metadata
    released, _ = RemoveWorkedSolutions().preprocess(read(PATH), {})
    assert len(released.cells) == len(cells) - len(worked)
    assert not any("Worked derivation" in c.source for c in released.cells)


def test_every_your_turn_question_is_followed_by_a_locked_model_answer(cells):
    questions = [i for i, c in enumerate(cells) if c.cell_type == "markdown" and "**Your turn" in c.source]
    assert len(questions) == 2
    for i in questions:
        answer = next(c for c in cells[i + 1:] if c.cell_type == "markdown")
        assert answer.source.startswith("<details>\n<summary>Model answer (open after you have tried)</summary>")
        assert answer.source.rstrip().endswith("</details>")
        meta = nbgrader_meta(answer)
        assert meta["locked"] and not meta["grade"] and not meta["solution"] and meta["grade_id"].startswith("text-")


def test_the_notes_delta_is_the_update_s_derivative_and_g_the_pre_activations(cells):
    text = "\n".join(c.source for c in cells)
    assert "∇θ" not in text and r"\nabla_\theta L" in text  # named once, as another book's name for Δθ
    assert r"but $\Delta\theta$, still remains the same" in cells[0].source  # quoted as the notes write it
    assert r"\Delta_2" not in text and r"\Delta_1" not in text  # Δ no longer names ∂L/∂A
    assert r"G_2 = \partial L/\partial A_2" in text
    example = cells[_index(cells, "notes-example-demo")].source
    assert "Δw_111" in example and "Δb_12" in example and "w'_111 = w_111 − η·Δw_111" in example


def test_the_learning_rate_experiment_draws_three_runs_with_text(cells):
    demo = cells[_index(cells, "learning-rate-demo")].source
    assert re.search(r"for lr in \(0\.1, 2\.0, 100\.0\)", demo)
    assert "draw_loss_curves(" in demo and "print(fig.alt_text)" in demo


def test_setup_is_three_lines_and_the_helpers_are_folded_just_before_exercise_4_1(cells):
    setup = cells[_index(cells, "setup")].source
    assert [line for line in setup.splitlines() if line.strip()] == [
        "import numpy as np", "from course_lib.lesson import start",
        'start("all-parameters")  # run this cell first (Shift+Enter): it loads the course\'s tools']
    helpers = _index(cells, "check-helpers")
    assert cells[helpers].metadata["jupyter"] == {"source_hidden": True}
    assert cells[helpers + 1].source.startswith("## Exercise 4.1")
    assert not any(is_answer(c) or is_test(c) for c in cells[:helpers])
