"""What decides whether a submission is graded again, and what a file that Python cannot parse becomes.

* The digest that says "unchanged since last graded" covers course_lib's code (the checkers and test-cell
  helpers decide grades), so a checker fix regrades every submission on the next ``grade`` (issue 21, 6).
* A parser bomb (a 300,000-term expression: ``ast.parse`` raises RecursionError) is that submission's
  needs-attention row, with its submission time kept (issue 21, 7).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from autograder.commands import grade as grade_module
from autograder.commands.grade import course_lib_digest, grade, load_results
from autograder.commands.release import release
from autograder.commands.sample_class import answer_cells, solved
from autograder.coursedir.course import CourseDir
from autograder.grading.scan import scan_source
from testkit.pipeline_fixture import make_course_notebooks


def bomb(terms: int) -> str:
    """A correct answer followed by an expression of ``terms`` terms (ast.parse: RecursionError)."""
    return "def double(x: float) -> float:\n    return 2 * x\n\n\nbig = " + "+".join(["1"] * terms) + "\n"

WHEN = "2026-12-01 10:00:00.000000 UTC"


def test_a_parser_bomb_is_one_flag_not_a_crash():
    flags = scan_source(bomb(300_000), "double-answer")
    assert len(flags) == 1 and "could not be parsed" in flags[0].what and "review" in flags[0].what


def test_course_lib_digest_changes_with_a_checker_and_not_with_bytecode(tmp_path):
    copy = tmp_path / "course_lib"
    shutil.copytree(Path(grade_module.__file__).parents[2] / "course_lib", copy,
                    ignore=shutil.ignore_patterns("__pycache__"))
    before = course_lib_digest(copy)
    (copy / "gradcheck" / "__pycache__").mkdir(exist_ok=True)
    (copy / "gradcheck" / "__pycache__" / "check.cpython-311.pyc").write_bytes(b"\0" * 16)
    assert course_lib_digest(copy) == before
    checker = copy / "gradcheck" / "tolerance.py"
    checker.write_text(checker.read_text() + "\n# a fix\n")
    assert course_lib_digest(copy) != before
    assert course_lib_digest() == course_lib_digest(Path(grade_module.__file__).parents[2] / "course_lib")


@pytest.mark.grading
def test_a_checker_fix_regrades_and_a_parser_bomb_keeps_its_time(tmp_path, monkeypatch):
    notebooks = make_course_notebooks(tmp_path)
    shutil.rmtree(notebooks / "02-square")
    course = CourseDir.at(tmp_path / "course")
    release(course, notebooks, progress=lambda m: None)
    rel = nbformat.read(str(course.release / "01-double" / "double.ipynb"), as_version=4)
    src = nbformat.read(str(course.source / "01-double" / "double.ipynb"), as_version=4)
    # 3,000 terms fail ast.parse as 300,000 do (the scan's unit test above), and the kernel sooner
    for student, code in (("honest", None), ("bomb", bomb(3_000))):
        nb = solved(rel, src)
        if code:
            answer_cells(nb)[0].source = code
        folder = course.submitted / student / "01-double"
        folder.mkdir(parents=True)
        nbformat.write(nb, str(folder / "double.ipynb"))
        (folder / "timestamp.txt").write_text(WHEN)
    printed: list[str] = []
    first = grade(course, workers=2, cell_timeout=5, sandbox=False, verify=False, progress=printed.append)
    results = {r.student: r for r in load_results(course)}
    assert first.graded == 2
    assert results["honest"].status.ok and results["honest"].score == results["honest"].max_score
    bombed = results["bomb"]
    assert bombed.timestamp.startswith("2026-12-01"), bombed
    assert not bombed.status.ok and "could not be parsed" in str(bombed.status), bombed.status
    assert any(r.student == "bomb" for r in first.attention)

    again = grade(course, workers=2, cell_timeout=5, sandbox=False, verify=False, progress=printed.append)
    assert again.graded == 0 and again.skipped == 2  # nothing changed
    monkeypatch.setattr(grade_module, "course_lib_digest", lambda folder=None: "a checker was fixed")
    fixed = grade(course, workers=2, cell_timeout=5, sandbox=False, verify=False, progress=printed.append)
    assert fixed.graded == 2 and fixed.skipped == 0
