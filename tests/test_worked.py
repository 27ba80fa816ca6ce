"""Worked derivations (cells tagged "worked-solution") never reach a student's release."""

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder.coursedir.course import CourseDir, nbgrader_config
from autograder.errors import CourseError
from autograder.notebook.worked import WORKED_TAG, RemoveWorkedSolutions, check_worked_cell, is_worked
from testkit.notebook_helpers import notebook_paths, read

FOLDED = "<details>\n<summary>Worked derivation (open after you have tried)</summary>\n\nσ' = σ(1 − σ)\n</details>"


def _worked(source: str = FOLDED, **meta) -> nbformat.NotebookNode:
    cell = new_markdown_cell(source)
    cell.metadata["tags"] = [WORKED_TAG]
    cell.metadata.update(meta)
    return cell


def test_the_release_preprocessor_drops_worked_cells_and_keeps_the_rest():
    nb = new_notebook(cells=[new_markdown_cell("# Title"), _worked(), new_code_cell("x = 1")])
    out, _ = RemoveWorkedSolutions().preprocess(nb, {})
    assert [c.source for c in out.cells] == ["# Title", "x = 1"]


@pytest.mark.parametrize(
    ("cell", "words"),
    [
        (new_code_cell("print('answer')", metadata={"tags": [WORKED_TAG]}), "markdown cell"),
        (_worked(nbgrader={"grade_id": "w", "locked": True}), "nbgrader metadata"),
        (_worked("σ' = σ(1 − σ)"), "not folded"),
    ],
)
def test_a_mistagged_worked_cell_stops_the_release_with_what_to_do(cell, words):
    with pytest.raises(CourseError, match=words):
        RemoveWorkedSolutions().preprocess(new_notebook(cells=[cell]), {})


def test_nbgraders_own_generate_assignment_is_configured_to_drop_them(tmp_path):
    cfg = nbgrader_config(CourseDir(tmp_path))
    names = cfg.GenerateAssignment.preprocessors
    assert names[0] == "autograder.notebook.worked.RemoveWorkedSolutions"
    short = [name.rsplit(".", 1)[1] for name in names]
    assert short.index("ClearSolutions") < short.index("SaveCells") < short.index("ClearHiddenTests")


def test_every_worked_cell_in_the_course_is_well_formed():
    for path in notebook_paths():
        nb = read(path)
        for index, cell in enumerate(nb.cells):
            if is_worked(cell):
                check_worked_cell(cell, f"{path.name} cell {index + 1}")
