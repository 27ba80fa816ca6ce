"""The planned mistakes, graded for real once: each costs points in its own exercise only, and `check` agrees.

One released course; for every graded notebook, one submission per answer cell and mistake (a hand-written
realistic mistake and a mutant of ``benchmarks/mutation.py``, see ``testkit/isolation_cases.py``; and two
answer cells that do not run at all), one correct submission each, and two that leave an early exercise
unanswered, graded in parallel by ``backprop-course``'s pipeline (nbgrader in the sandbox and the independent
re-check; a cell keeps the lower of the two scores).

- A mistake costs points once (issue 12): each wrong submission loses points in its own exercise's test
  cells and nowhere else.
- ``backprop-course check`` predicts the grade (issue 23): the hand-written mistakes in every answer cell of
  02 and in 01's local derivatives, 02's answer cell that does not run, and the unanswered submissions are
  also checked as a student checks them (the release, without hidden tests). On every test cell that
  ``check`` judges, both give the same points; a cell ``check`` cannot judge yet is shown as "not judged
  yet", never as 0. ``ALL_MISTAKES=1`` in the environment checks every other planned mistake and mutant of
  01 and 02 too (each check runs the notebook in a kernel: about 10 minutes more).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import nbformat
import pytest

from autograder.commands.grade import grade, load_results
from autograder.commands.release import release
from autograder.commands.sample_class import solved
from autograder.coursedir.course import NOTEBOOKS_DIR, CourseDir
from autograder.student.check import check_notebook, format_check
from testkit.isolation_cases import GRADED, Mistake, broken_cells, exercise_tests, mistakes

pytestmark = pytest.mark.grading

MISTAKES = mistakes() + broken_cells()
#: answer cells left as released (unanswered): the exercises that call them must still be judged or waiting
UNANSWERED = {"01-unanswered-local": ("01-chain-rule", {"local-answer"}),
              "02-unanswered-forward": ("02-sigmoid-chain", {"forward-answer"})}
CHECKED_NOTEBOOKS = ("01-chain-rule", "02-sigmoid-chain")
ALL = os.environ.get("ALL_MISTAKES") == "1"
#: the submissions `check` also runs (each is a kernel run of its own)
CHECKED: list[str] = [
    m.student for m in MISTAKES
    if m.notebook in CHECKED_NOTEBOOKS and (ALL or m.student in {"01-local-answer-hand", "02-forward-answer-broken"}
                                            or (m.notebook == "02-sigmoid-chain" and m.student.endswith("-hand")))
] + list(UNANSWERED)


@pytest.fixture(scope="module")
def handed_in(tmp_path_factory) -> tuple[CourseDir, dict[str, Path]]:
    """The released course with every planned submission handed in: (course, student -> notebook path)."""
    course = CourseDir.at(tmp_path_factory.mktemp("planned") / "course")
    release(course, NOTEBOOKS_DIR, progress=lambda m: None)
    paths = {}
    for notebook in GRADED:
        for rel_path in sorted((course.release / notebook).glob("*.ipynb")):
            rel = nbformat.read(str(rel_path), as_version=4)
            src = nbformat.read(str(course.source / notebook / rel_path.name), as_version=4)
            plans = [(f"{notebook[:2]}-correct", {}, set())] + [
                (m.student, {m.answer: m.rewrite}, set()) for m in MISTAKES if m.notebook == notebook
            ] + [(student, {}, skip) for student, (nb, skip) in UNANSWERED.items() if nb == notebook]
            for student, mutate, skip in plans:
                folder = course.submitted / student / notebook
                folder.mkdir(parents=True)
                paths[student] = folder / rel_path.name
                nbformat.write(solved(rel, src, skip=skip, mutate=mutate), str(paths[student]))
    return course, paths


@pytest.fixture(scope="module")
def graded(handed_in):
    """Every planned submission graded with 2 workers: student -> result."""
    course, _ = handed_in
    start = time.perf_counter()
    grade(course, workers=2, progress=lambda m: None)
    seconds = time.perf_counter() - start
    results = {r.student: r for r in load_results(course)}
    cells = sum(len(r.cells) for r in results.values())
    print(f"\nplanned mistakes: graded {len(results)} submissions ({cells} test cells) in {seconds:.1f} s")
    for student, r in results.items():  # what each mistake now costs, and where (`pytest -s` shows it)
        print(f"  {student}: {r.score:g}/{r.max_score:g}", *(f"\n    {c}: {m[:300]}" for c, m in _lost(r).items()))
    return results


def _lost(result) -> dict[str, str]:
    return {c.cell: c.message for c in result.cells if c.score < c.max_score}


def test_the_plan_covers_every_answer_cell_of_every_graded_notebook():
    planned = {(m.notebook, m.answer) for m in MISTAKES}
    expected = {(nb, a) for nb in GRADED for a in exercise_tests(nb)}
    assert planned == expected
    assert len(mistakes()) == 2 * len(expected)
    assert len({m.student for m in MISTAKES}) == len(MISTAKES)


@pytest.mark.parametrize("notebook", GRADED)
def test_correct_answers_get_full_marks(graded, notebook):
    r = graded[f"{notebook[:2]}-correct"]
    assert r.cells and _lost(r) == {}, _lost(r)
    assert r.score == r.max_score


@pytest.mark.parametrize("mistake", MISTAKES, ids=[f"{m.student}:{m.name}" for m in MISTAKES])
def test_a_mistake_costs_points_only_in_its_own_exercise(graded, mistake):
    r = graded[mistake.student]
    own = exercise_tests(mistake.notebook)[mistake.answer]
    lost = _lost(r)
    assert lost, f"{mistake.name}: no test cell lost points"
    elsewhere = {cell: message for cell, message in lost.items() if cell not in own}
    assert not elsewhere, f"{mistake.name} in {mistake.answer} also cost points in {elsewhere}"


# ----------------------------------------------------------------------------- the cases issue 12 reports
def _result(graded, notebook, answer):
    return graded[f"{notebook[:2]}-{answer}-hand"]


def test_04_a_backward_bug_no_longer_fails_the_step_tests(graded):
    r = _result(graded, "04-all-parameters", "backward-answer")
    lost = _lost(r)
    assert set(lost) == {"backward-test", "backward-sizes-test"}, lost
    assert "subtract" not in " ".join(lost.values())
    assert r.score == 10 - 5  # before: 2/10 (the step tests said "subtract" although the update was right)


def test_02_a_wrong_grad_w1_costs_points_in_exercise_2_3_only(graded):
    r = _result(graded, "02-sigmoid-chain", "grad-w1-answer")
    assert set(_lost(r)) == {"grad-w1-test"}, _lost(r)  # before: grad-w3-test and gd-test failed too


def test_02_a_wrong_forward_cache_costs_points_in_exercise_2_1_only(graded):
    r = _result(graded, "02-sigmoid-chain", "forward-answer")
    lost = _lost(r)
    assert set(lost) == {"forward-test"}, lost  # before: every later exercise failed
    assert "a2 = w2·h1: the second neuron reads h1, not x" in lost["forward-test"]


def test_03_a_wrong_3_1_leaves_3_2_and_the_second_layer_alone(graded):
    r = _result(graded, "03-many-paths", "paths-answer")
    lost = _lost(r)
    # before: 3.2 failed with a raw ValueError (not enough values to unpack) and paths-second-layer-test
    # with a NameError (check_paths_by_hand was defined only in the previous cell's hidden block)
    assert set(lost) == {"paths-first-layer-test"}, lost
    assert "should list 2 product(s), one per path from w_131 to L" in lost["paths-first-layer-test"]


@pytest.mark.parametrize("answer", ["forward-answer", "local-answer"])
def test_01_a_forward_or_local_derivative_slip_leaves_1_3_and_1_4_alone(graded, answer):
    r = _result(graded, "01-chain-rule", answer)
    assert not {"backward-exp-exp-test", "backward-inv-exp-test"} & set(_lost(r)), _lost(r)


def test_01_the_empty_chain_is_named(graded):
    r = _result(graded, "01-chain-rule", "chain-answer")
    lost = _lost(r)
    assert set(lost) == {"chain-test"}, lost
    message = lost["chain-test"]
    assert "the chain x (no steps: y = x, dy/dx = 1) raised IndexError" in message, message
    assert "An empty chain has no last step" in message



# ----------------------------------------------------------------------------- check predicts the grade
@pytest.fixture(scope="module")
def both(handed_in, graded):
    """student -> (the grader's cell scores, check's results) for every checked submission."""
    _, paths = handed_in
    return {student: ({c.cell: c.score for c in graded[student].cells}, check_notebook(paths[student]))
            for student in CHECKED}


def test_the_checked_plan_is_the_one_issue_23_reports():
    checked: list[Mistake] = [m for m in MISTAKES if m.student in CHECKED]
    assert {m.notebook for m in checked} == set(CHECKED_NOTEBOOKS)
    assert ALL or {m.answer for m in checked if m.notebook == "02-sigmoid-chain"} == set(
        exercise_tests("02-sigmoid-chain"))


@pytest.mark.parametrize("student", CHECKED)
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
