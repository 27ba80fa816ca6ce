"""docs/instructor.md's "I fixed a test", run as written: grade notices the changed notebook and says what to run.

A small course (two assignments) is released and graded; a test of 01-double is then made stricter in the
notebooks folder. ``grade`` refuses to grade with the old release and prints the documented ``release``
command; the documented commands then regrade exactly 01-double's submissions, with the fixed test.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import nbformat
import pytest

from autograder.cli import main
from autograder.commands.sample_class import solved
from autograder.coursedir.course import CourseDir
from testkit.pipeline_fixture import make_course_notebooks

pytestmark = pytest.mark.grading

DOC = Path(__file__).resolve().parents[1] / "docs" / "instructor.md"


def recipe() -> list[list[str]]:
    """The commands of the section, as argument lists after ``.venv/bin/backprop-course``."""
    section = DOC.read_text(encoding="utf-8").split("## I fixed a test", 1)[1].split("\n## ", 1)[0]
    lines = [ln[2:].split() for ln in re.findall(r"(?m)^\$ .*$", section)]
    assert lines and all(ln[0] == ".venv/bin/backprop-course" for ln in lines), lines
    return [ln[1:] for ln in lines]


def _submit(course: CourseDir, student: str, assignment: str, notebook: str, answer: str | None) -> None:
    release = nbformat.read(course.release / assignment / f"{notebook}.ipynb", as_version=4)
    nb = solved(release, nbformat.read(course.source / assignment / f"{notebook}.ipynb", as_version=4))
    if answer:
        cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == f"{notebook}-answer")
        cell.source = answer
    (course.submitted / student / assignment).mkdir(parents=True)
    nbformat.write(nb, course.submitted / student / assignment / f"{notebook}.ipynb")


def _score(course: CourseDir, student: str, assignment: str) -> str:
    return next(r["score"] for r in csv.DictReader(course.grades_csv.open())
                if (r["student_id"], r["assignment"]) == (student, assignment))


def test_fixing_a_test_goes_as_the_guide_says(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BPC_COURSE_DIR", raising=False)
    monkeypatch.delenv("BPC_GRADEBOOK_URL", raising=False)
    notebooks = make_course_notebooks(tmp_path)
    assert main(["release", "--notebooks", "notebooks"]) == 0
    course = CourseDir.at(tmp_path / "course")
    _submit(course, "alice", "01-double", "double", "def double(x: float) -> float:\n    return 2 * abs(x)")
    _submit(course, "bob", "02-square", "square", None)
    assert main(["grade", "--workers", "2"]) in (0, 1)
    assert _score(course, "alice", "01-double") == "1"  # only the hidden test catches abs(): 1 of 3 points
    capsys.readouterr()

    # the fix: the second test now also checks a negative input
    path = notebooks / "01-double" / "double.ipynb"
    nb = nbformat.read(path, as_version=4)
    test2 = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "double-test2")
    test2.source = "assert math.isclose(double(0.5), 1.0) and math.isclose(double(-0.5), -1.0)"
    nbformat.write(nb, path)

    assert main(["grade"]) == 2  # nothing graded with the old release
    err = capsys.readouterr().err
    release_line = " ".join(["backprop-course", *recipe()[0]])
    assert "01-double" in err and "02-square" not in err and f"`{release_line}`" in err, err
    assert _score(course, "alice", "01-double") == "1"

    outputs = []
    for argv in recipe():
        assert main(argv) in (0, 1), argv
        outputs.append(capsys.readouterr().out)
    assert "graded 1, unchanged 1" in outputs[-1], outputs[-1]  # alice's 01-double only
    assert _score(course, "alice", "01-double") == "0"  # the fixed test counts
    assert main(["grade"]) in (0, 1)  # released: nothing to say any more
    assert "graded 0, unchanged 2" in capsys.readouterr().out
