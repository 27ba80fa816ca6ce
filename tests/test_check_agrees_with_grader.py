"""`backprop-course check` predicts the grade: on the planned-mistake set, graded for real and checked.

The hand-written mistakes of ``testkit/isolation_cases.py`` in every answer cell of 02 and in 01's local
derivatives (the two cases issue 23 reports), 02's answer cell that does not run, and submissions that leave
an early exercise unanswered are each graded by the grader (nbgrader in the sandbox and the re-check) and
checked as a student checks them (the release, without hidden tests). On every test cell that ``check``
judges, both give the same points; a cell ``check`` cannot judge yet is shown as "not judged yet", never as
0 (issue 23, item 3). ``ALL_MISTAKES=1`` in the environment adds every other planned mistake and mutant of
01 and 02 (about 40 minutes on two loaded cores).
"""

from __future__ import annotations

import os

import nbformat
import pytest

from autograder.commands.grade import grade, load_results
from autograder.commands.release import release
from autograder.commands.sample_class import solved
from autograder.coursedir.course import NOTEBOOKS_DIR, CourseDir
from autograder.student.check import check_notebook, format_check
from testkit.isolation_cases import Mistake, broken_cells, mistakes

pytestmark = pytest.mark.grading

NOTEBOOKS = ("01-chain-rule", "02-sigmoid-chain")
ALL = os.environ.get("ALL_MISTAKES") == "1"
#: answer cells left as released (unanswered): the exercises that call them must still be judged or waiting
UNANSWERED = {"01-unanswered-local": ("01-chain-rule", {"local-answer"}),
              "02-unanswered-forward": ("02-sigmoid-chain", {"forward-answer"})}
PLAN: list[Mistake] = [
    m for m in mistakes() + broken_cells()
    if m.notebook in NOTEBOOKS and (ALL or m.student in {"01-local-answer-hand", "02-forward-answer-broken"}
                                    or (m.notebook == "02-sigmoid-chain" and m.student.endswith("-hand")))
]


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """student -> (the grader's cell scores, check's results) for every planned submission."""
    course = CourseDir.at(tmp_path_factory.mktemp("agree") / "course")
    release(course, NOTEBOOKS_DIR, progress=lambda m: None)
    handed_in = {}
    for notebook in NOTEBOOKS:
        (rel_path,) = sorted((course.release / notebook).glob("*.ipynb"))
        rel = nbformat.read(str(rel_path), as_version=4)
        src = nbformat.read(str(course.source / notebook / rel_path.name), as_version=4)
        plans = [(m.student, {m.answer: m.rewrite}, set()) for m in PLAN if m.notebook == notebook]
        plans += [(student, {}, skip) for student, (nb, skip) in UNANSWERED.items() if nb == notebook]
        for student, mutate, skip in plans:
            folder = course.submitted / student / notebook
            folder.mkdir(parents=True)
            nbformat.write(solved(rel, src, skip=skip, mutate=mutate), str(folder / rel_path.name))
            handed_in[student] = folder / rel_path.name
    grade(course, workers=2, progress=lambda m: None)
    graded = {r.student: {c.cell: c.score for c in r.cells} for r in load_results(course)}
    return {student: (graded[student], check_notebook(path)) for student, path in handed_in.items()}


STUDENTS = [m.student for m in PLAN] + list(UNANSWERED)


@pytest.mark.parametrize("student", STUDENTS)
def test_check_gives_the_graders_points_on_every_exercise_it_judges(both, student):
    grader, checked = both[student]
    assert grader and checked
    disagree = {r.grade_id: (r.points, grader[r.grade_id]) for r in checked
                if r.judged and r.points != grader[r.grade_id]}
    assert not disagree, f"check vs grader: {disagree}\n{format_check(checked)}"
    assert all(r.judged or "cannot be judged on its own yet" in r.message for r in checked)


def test_a_wrong_forward_cache_leaves_the_update_judged_not_zero(both):
    """Before: 2.3-2.6 showed 0 ("cannot be judged on its own yet") while the grader gave them full points."""
    grader, checked = both["02-forward-answer-hand"]
    results = {r.grade_id: r for r in checked}
    assert results["gd-test"].judged and results["gd-test"].points == grader["gd-test"] == 2
    waiting = {gid for gid, r in results.items() if not r.judged}
    assert waiting == {"grad-w1-test", "grad-w2-test", "grad-w3-test"}, format_check(checked)
    rows = {line.split()[0]: line for line in format_check(checked).splitlines() if line.split()}
    for gid in waiting:
        assert f"-/{results[gid].max_points:g}" in rows[gid] and rows[gid].endswith("not judged yet"), rows[gid]


def test_an_unanswered_earlier_exercise_is_not_judged_yet_never_zero(both):
    grader, checked = both["02-unanswered-forward"]
    results = {r.grade_id: r for r in checked}
    assert results["forward-test"].points == 0
    for gid in ("grad-w1-test", "grad-w2-test", "grad-w3-test"):
        assert not results[gid].judged, format_check(checked)
        assert grader[gid] == results[gid].max_points  # the grader judges them with the notes' functions
