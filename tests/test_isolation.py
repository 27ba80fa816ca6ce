"""A mistake costs points once, in the exercise where it lives (issue 12), graded for real.

One released course; for every graded notebook, one submission per answer cell and mistake (a hand-written
realistic mistake and a mutant of ``benchmarks/mutation.py``, see ``testkit/isolation_cases.py``; and two
answer cells that do not run at all) plus one correct submission each, graded in parallel by
``backprop-course``'s pipeline (nbgrader in the sandbox and the independent re-check; a cell keeps the lower
of the two scores). Each wrong submission must lose points in its own exercise's test cells and nowhere else.
"""

from __future__ import annotations

import time

import nbformat
import pytest

from autograder.commands.grade import grade, load_results
from autograder.commands.release import release
from autograder.commands.sample_class import solved
from autograder.coursedir.course import NOTEBOOKS_DIR, CourseDir
from testkit.isolation_cases import GRADED, broken_cells, exercise_tests, mistakes

pytestmark = pytest.mark.grading

MISTAKES = mistakes() + broken_cells()


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Release the course, hand in every planned submission, grade them all with 2 workers."""
    root = tmp_path_factory.mktemp("isolation")
    course = CourseDir.at(root / "course")
    release(course, NOTEBOOKS_DIR, progress=lambda m: None)
    for notebook in GRADED:
        for rel_path in sorted((course.release / notebook).glob("*.ipynb")):
            rel = nbformat.read(str(rel_path), as_version=4)
            src = nbformat.read(str(course.source / notebook / rel_path.name), as_version=4)
            plans = [(f"{notebook[:2]}-correct", {})] + [
                (m.student, {m.answer: m.rewrite}) for m in MISTAKES if m.notebook == notebook
            ]
            for student, mutate in plans:
                folder = course.submitted / student / notebook
                folder.mkdir(parents=True)
                nbformat.write(solved(rel, src, mutate=mutate), str(folder / rel_path.name))
    start = time.perf_counter()
    grade(course, workers=2, progress=lambda m: None)
    seconds = time.perf_counter() - start
    results = {r.student: r for r in load_results(course)}
    cells = sum(len(r.cells) for r in results.values())
    print(f"\nisolation: graded {len(results)} submissions ({cells} test cells) in {seconds:.1f} s")
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
