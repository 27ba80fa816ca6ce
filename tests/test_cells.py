"""autograder.notebook.cells restates nbgrader 0.9.6's cell rules without importing nbgrader: they agree."""

import itertools

import nbformat
import pytest
from nbgrader import utils
from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions

from autograder.notebook import cells


def test_markers_and_code_stub_are_nbgraders_defaults():
    assert ClearSolutions.begin_solution_delimeter.default_value == cells.BEGIN_SOLUTION
    assert ClearSolutions.end_solution_delimeter.default_value == cells.END_SOLUTION
    assert ClearHiddenTests.begin_test_delimeter.default_value == cells.BEGIN_HIDDEN
    assert ClearHiddenTests.end_test_delimeter.default_value == cells.END_HIDDEN
    assert ClearSolutions().code_stub["python"] == cells.CODE_STUB


def _cells():
    """Code and markdown cells with every combination of grade/solution/locked absent, false or true."""
    values = (None, False, True)
    for cell_type, grade, solution, locked in itertools.product(("code", "markdown"), values, values, values):
        flags = {k: v for k, v in (("grade", grade), ("solution", solution), ("locked", locked)) if v is not None}
        yield {"cell_type": cell_type, "metadata": {"nbgrader": {**flags, "grade_id": "c", "points": 2}},
               "source": ""}
    yield {"cell_type": "code", "metadata": {}, "source": ""}
    yield {"cell_type": "markdown", "metadata": {"tags": ["x"]}, "source": ""}


@pytest.mark.parametrize("cell", list(_cells()))
@pytest.mark.parametrize("as_node", [False, True])
def test_cell_kinds_agree_with_nbgrader_utils(cell, as_node):
    node = nbformat.from_dict(cell)
    given = node if as_node else cell
    code = cell["cell_type"] == "code"
    grade, solution = bool(utils.is_grade(node)), bool(utils.is_solution(node))
    assert cells.is_graded(given) == grade
    assert cells.is_locked(given) == bool(utils.is_locked(node))
    assert cells.is_answer(given) == (code and solution and not grade)
    assert cells.is_test(given) == (code and grade and not solution)
    assert cells.is_manual(given) == (grade and solution)
    assert cells.points(given) == (2.0 if grade else 0.0)
