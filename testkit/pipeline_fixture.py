"""A tiny two-assignment course for fast end-to-end tests of the grading pipeline.

Same nbgrader structure as the real notebooks (answer cells, test cells with visible and hidden tests,
a locked setup cell), but each notebook runs in well under a second.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

if TYPE_CHECKING:
    from autograder.coursedir.course import CourseDir


def _cell(kind: str, source: str, grade_id: str, points: float = 0) -> nbformat.NotebookNode:
    meta = {"schema_version": 3, "grade_id": grade_id, "locked": kind != "answer",
            "solution": kind == "answer", "grade": kind == "test"}
    if kind == "test":
        meta["points"] = points
    cell = new_markdown_cell(source) if kind == "markdown" else new_code_cell(source)
    cell.metadata["nbgrader"] = meta
    return cell


def make_course_notebooks(root: Path) -> Path:
    """Write ``root/notebooks/{01-double,02-square}/*.ipynb`` and return the notebooks folder."""
    specs = {
        "01-double": ("double", "2 * x", "2.0 * x + 0.0"),
        "02-square": ("square", "x ** 2", "x * x"),
    }
    folder = root / "notebooks"
    for assignment, (fn, body, hidden_body) in specs.items():
        nb = new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                   "language": "python"}})
        nb.cells = [
            _cell("markdown", f"# {fn}\n\nWrite `{fn}(x)`.", "intro"),
            _cell("setup", "import math", "setup"),
            _cell("answer", f"def {fn}(x: float) -> float:\n    ### BEGIN SOLUTION\n    return {body}\n"
                  "    ### END SOLUTION", f"{fn}-answer"),
            _cell("test", f"assert {fn}(3.0) == {hidden_body.replace('x', '3.0')}, "
                  f"'{fn}(3.0) should be ' + str({hidden_body.replace('x', '3.0')})\n"
                  f"### BEGIN HIDDEN TESTS\nassert {fn}(-1.5) == {hidden_body.replace('x', '(-1.5)')}, "
                  f"'SECRET_HIDDEN_CHECK {fn}(-1.5)'\n### END HIDDEN TESTS", f"{fn}-test", 2),
            _cell("test", f"assert math.isclose({fn}(0.5), {hidden_body.replace('x', '0.5')})", f"{fn}-test2", 1),
        ]
        (folder / assignment).mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, str(folder / assignment / f"{fn}.ipynb"))
    return folder


def released_course(root: Path, folder: str = "course",
                    edit: Callable[[Path], None] | None = None) -> tuple[CourseDir, Path]:
    """The tiny course released: notebooks written under ``root`` (``edit`` may change them first), released
    into the course folder ``root/folder``. Returns ``(course, notebooks folder)``.

    The start of every grading test's module fixture (tests/test_pipeline.py, test_postgres.py,
    test_sandbox.py, test_class_attacks_and_odd_files.py).
    """
    from autograder.commands.release import release
    from autograder.coursedir.course import CourseDir

    notebooks = make_course_notebooks(root)
    if edit is not None:
        edit(notebooks)
    course = CourseDir.at(root / folder)
    release(course, notebooks, progress=lambda m: None)
    return course, notebooks
