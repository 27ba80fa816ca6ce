"""Which cells grading needs: the static analysis, and that skipping the rest never changes a grade.

The grader skips locked cells no test or student cell depends on (drawings, widgets). These tests check the
analysis on small cases, on every course notebook (what is skipped, and that nothing skipped is read
later), and by executing real submissions both ways: every graded cell must score the same.
"""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest
from hypothesis import given
from hypothesis import strategies as st
from nbformat.v4 import new_code_cell, new_notebook
from nbgrader.utils import determine_grade
from traitlets.config import Config

from autograder.commands.sample_class import flip_sign, solved
from autograder.coursedir.course import NOTEBOOKS_DIR, source_assignments
from autograder.isolation.sandbox import SKIPPED_NOTE, CappedExecute, skipped_cells
from autograder.notebook.dependencies import _statements, cell_names, imported_modules, needed_cells


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def test_assignments_imports_definitions_and_mutations_define_names():
    defined, used = cell_names("import numpy as np\nfrom math import exp\ndef f(x):\n    return exp(x)\n"
                               "y = f(2)\nd['k'] = 1\nobj.attr = 2\nrng.normal()\n")
    assert {"np", "exp", "f", "y", "d", "obj", "rng"} <= defined
    assert "x" in used and "exp" in used


def test_a_module_function_computes_but_a_settings_call_changes_the_module():
    modules = imported_modules(["import numpy as np\nimport warnings"])
    assert modules == {"np", "warnings"}
    assert "np" not in cell_names("x = np.linspace(0, 1, 5)", modules)[0]
    assert "np" in cell_names("np.random.seed(0)", modules)[0]
    assert "np" in cell_names("np.set_printoptions(precision=3)", modules)[0]
    assert "warnings" in cell_names("warnings.filterwarnings('ignore')", modules)[0]
    # a name that is imported and also assigned is not treated as a module: its method calls count
    assert imported_modules(["import numpy as np", "np = object()"]) == set()


def test_only_cells_nothing_later_reads_are_skipped():
    cells = [
        (False, "import numpy as np"),  # read by the test
        (False, "fig = draw(np.linspace(0, 1, 5))\ndisplay(fig)"),  # read by nobody: skipped
        (False, "SEED = 3"),  # read by the test
        (False, "rng.normal()"),  # changes rng, which the test reads
        (False, "def broken(:"),  # cannot be parsed: kept
        (True, "assert f(SEED, rng) == np.float64(1)"),
    ]
    assert needed_cells(cells) == [True, False, True, True, True, True]
    # a later student cell reading the drawing's name keeps it
    assert needed_cells([*cells[:2], (True, "print(fig)")]) == [True, True, True]


STATEMENTS = ["x = 1", "y = f(x,\n      2)", "s = 'é → σ(1−σ)'", "if x:\n    z = 'ü'\nelse:\n    z = 2",
              "def g(a):\n    return a  # ∂L/∂w", 't = """a\nb"""', "u = [1,\r\n 2]", "w = 3; v = 4", "\x0c", "pass"]


@given(st.lists(st.sampled_from(STATEMENTS), min_size=1, max_size=8),
       st.sampled_from(["\n", "\r\n", "\r", "\n\n", "\n\x0c\n"]), st.booleans())
def test_statements_are_the_sources_segments(parts, newline, trailing):
    # a cell is split into lines once; each statement must be exactly what ast.get_source_segment gives
    code = newline.join(parts) + (newline if trailing else "")
    try:
        tree = ast.parse(code)
    except SyntaxError:
        assert _statements(code) is None
        return
    assert _statements(code) == [ast.get_source_segment(code, node) for node in tree.body]


def _course_notebooks() -> list[Path]:
    return [nb for name in source_assignments(NOTEBOOKS_DIR) for nb in sorted((NOTEBOOKS_DIR / name).glob("*.ipynb"))]


@pytest.mark.parametrize("path", _course_notebooks(), ids=lambda p: p.parent.name)
def test_course_notebooks_skip_drawings_and_never_a_test_or_an_answer(path):
    nb = nbformat.read(str(path), as_version=4)
    skipped = skipped_cells(nb)
    assert skipped, "nothing skipped: the grader would run every drawing and widget"
    for i in skipped:
        meta = _meta(nb.cells[i])
        assert meta.get("locked") and not meta.get("grade") and not meta.get("solution"), nb.cells[i].source
    # nothing a skipped cell defines is read by a later cell that runs
    modules = imported_modules(c.source for c in nb.cells if c.cell_type == "code")
    for i in skipped:
        defined, _ = cell_names(nb.cells[i].source, modules)
        for j in range(i + 1, len(nb.cells)):
            if nb.cells[j].cell_type == "code" and j not in skipped:
                reads = cell_names(nb.cells[j].source, modules)[1]
                assert not defined & reads, (nb.cells[i].source[:60], nb.cells[j].source[:60], defined & reads)


def _grades(nb) -> dict[str, float]:
    return {_meta(c)["grade_id"]: determine_grade(c)[0] for c in nb.cells
            if _meta(c).get("grade") and not _meta(c).get("solution")}


def _execute(nb, skip: bool, folder: Path):
    cfg = Config()
    cfg.Execute.kernel_name = "python3"
    cfg.Execute.timeout = 60
    cfg.CappedExecute.skip_unneeded = skip
    nb = nbformat.from_dict(nb)
    CappedExecute(config=cfg).preprocess(nb, {"metadata": {"path": str(folder)}})
    return nb


@pytest.mark.kernel
@pytest.mark.parametrize("assignment", source_assignments(NOTEBOOKS_DIR))
def test_skipping_never_changes_a_grade(assignment, tmp_path):
    """Correct and wrong submissions (signs flipped, last answer left blank), executed both ways."""
    from nbgrader.preprocessors import ClearSolutions

    for path in sorted((NOTEBOOKS_DIR / assignment).glob("*.ipynb")):
        source = nbformat.read(str(path), as_version=4)
        released, _ = ClearSolutions().preprocess(nbformat.from_dict(source), {})
        answer_ids = [_meta(c)["grade_id"] for c in released.cells
                      if c.cell_type == "code" and _meta(c).get("solution") and not _meta(c).get("grade")]
        for label, nb in (("correct", solved(released, source)),
                          ("wrong", solved(released, source, skip=set(answer_ids[-1:]),
                                           mutate=dict.fromkeys(answer_ids, flip_sign)))):
            full = _execute(nb, False, tmp_path)
            fast = _execute(nb, True, tmp_path)
            assert _grades(fast) == _grades(full), (assignment, label)
            notes = sum(1 for c in fast.cells if c.cell_type == "code" and c.outputs
                        and c.outputs[0].get("text") == SKIPPED_NOTE)
            assert notes == len(skipped_cells(nb)) > 0
            if label == "wrong":
                assert sum(_grades(full).values()) < sum(determine_grade(c)[1] for c in full.cells
                                                        if _meta(c).get("grade") and not _meta(c).get("solution"))


@pytest.mark.kernel
def test_a_skip_execution_tag_cannot_switch_off_a_test(tmp_path):
    """nbclient skips cells tagged 'skip-execution', and nbgrader keeps a test cell's tags: a student could
    tag a test and pass it. The grader's Execute removes the tag, so the test runs (and fails here)."""
    test = new_code_cell("assert 1 == 2, 'the test ran'", metadata={
        "tags": ["skip-execution"],
        "nbgrader": {"grade": True, "solution": False, "locked": True, "grade_id": "t", "points": 1,
                     "schema_version": 3}})
    nb = _execute(new_notebook(cells=[new_code_cell("x = 1"), test]), True, tmp_path)
    assert determine_grade(nb.cells[1]) == (0, 1)
    assert "the test ran" in str(nb.cells[1].outputs)
