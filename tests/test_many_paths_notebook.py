"""Notebook 03 (issue 16): the prompts ask for what the student derives, the answers come folded after.

Pure reading of the source notebook (no kernel): the setup is three statements, the check helpers are
out of the reader's way, each graded answer's derivation is a worked cell after its tests, every "Your
turn" has a model answer, and no cell that reaches a student's release states a graded answer.
"""

from __future__ import annotations

import ast
import re

from autograder.notebook.worked import is_worked
from testkit.isolation_cases import source_path
from testkit.notebook_helpers import EXERCISE_RE, is_answer, is_test, nbgrader_meta, read

NB = read(source_path("03-many-paths"))
CELLS = NB.cells


def _gid(cell) -> str:
    return nbgrader_meta(cell).get("grade_id", "")


def _index(grade_id: str) -> int:
    return next(i for i, c in enumerate(CELLS) if _gid(c) == grade_id)


def _released_text() -> str:
    """Every cell a student receives, with solution regions and hidden tests cut out."""
    hidden = re.compile(r"### BEGIN (SOLUTION|HIDDEN TESTS).*?### END (SOLUTION|HIDDEN TESTS)\n?", re.S)
    return "\n".join(hidden.sub("", c.source) for c in CELLS if not is_worked(c))


def test_the_setup_cell_is_three_statements_of_course_lib_lesson():
    setup = CELLS[_index("setup")]
    statements = ast.parse(setup.source).body
    assert len([line for line in setup.source.splitlines() if line.strip()]) <= 4, setup.source
    assert [ast.unparse(s) for s in statements] == [
        "import numpy as np", "from course_lib.lesson import start", "start('many-paths')"]
    imports = CELLS[_index("imports")].source
    assert "def " not in imports and "from course_lib.params import" in imports


def test_the_check_helpers_are_hidden_just_before_the_first_exercise():
    helpers = _index("check-helpers")
    first_exercise = next(i for i, c in enumerate(CELLS) if c.cell_type == "markdown"
                          and any(EXERCISE_RE.match(line) for line in c.source.splitlines()))
    assert helpers == first_exercise - 1
    assert CELLS[helpers].metadata["jupyter"] == {"source_hidden": True}
    prose_before = [c for c in CELLS[:helpers] if c.cell_type == "markdown"]
    assert len(prose_before) >= 3, "the network and the paths are introduced before any plumbing"


def test_each_graded_exercise_ends_with_a_folded_worked_derivation():
    answers = [i for i, c in enumerate(CELLS) if is_answer(c)]
    assert [_gid(CELLS[i]) for i in answers] == ["paths-answer", "notes-terms-answer", "notes-answer", "delta-answer",
                                                   "deltas-answer"]
    worked = [i for i, c in enumerate(CELLS) if is_worked(c)]
    assert len(worked) == 4  # 3.1, 3.2, 3.3, 3.4
    for i in worked:
        assert is_test(CELLS[i - 1]), f"worked cell {i} comes right after a test cell"
        assert CELLS[i].source.startswith("<details>\n<summary>Worked derivation (open after you have tried)</summary>")
        assert "nbgrader" not in CELLS[i].metadata


def test_every_your_turn_has_a_locked_model_answer_right_after():
    turns = [i for i, c in enumerate(CELLS) if c.cell_type == "markdown" and "**Your turn" in c.source]
    assert turns
    for i in turns:
        answer = CELLS[i + 1]
        assert answer.source.startswith("<details>\n<summary>Model answer (open after you have tried)</summary>")
        assert nbgrader_meta(answer)["locked"] and not is_worked(answer)


def test_no_graded_answer_reaches_the_release():
    """Before issue 16 the 3.2 prompt said "term 3 is term 1 again" and the text gave δ2 = ŷ − y."""
    released = _released_text()
    for answer in ("term 3 is term 1 again", "term 3 = term 1", "(1, 3)", "hat y_k - y_k", r"\hat y - y",
                   "yhat - y", "via_yhat2 + via_yhat1 + via_yhat2", "two factors simplify"):
        assert answer not in released, answer
    # the worked cells (dropped from the release) do give them
    worked = "\n".join(c.source for c in CELLS if is_worked(c))
    assert "`(1, 3)`" in worked and r"\hat y_k - y_k" in worked


def test_the_prompts_ask_for_a_derivation_and_the_notes_dependency_order_is_explicit():
    prompt_31 = CELLS[_index("text-04")].source
    assert "**Find the paths.**" in prompt_31 and "**Multiply**" in prompt_31
    assert r"\hat y_k(1-\hat y_k)" not in prompt_31  # the products are derived, not given
    order = CELLS[_index("text-08")].source
    assert "dependency order" in order and r"x \to a_1 \to h_1 \to a_2 \to \hat y \to L" in order
    assert "notes' own later formula" in CELLS[_index("text-05")].source  # the garbled sentence, rewritten
