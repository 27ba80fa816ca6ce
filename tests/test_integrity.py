"""Adversarial submissions: none can raise its own score, harm the grader, or touch other students' files.

Each attack is a wrong answer (double(x) returns 3*x) plus a trick that makes nbgrader's in-kernel tests
pass; the independent re-check must give it 0, and the grade must say why. Every case also checks that the
gradebook and the other students' files are unchanged by the attack.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import nbformat
import pytest

from autograder.commands.grade import grade, load_results
from autograder.commands.release import release
from autograder.commands.sample_class import answer_cells, solved
from autograder.coursedir.course import CourseDir
from testkit.pipeline_fixture import make_course_notebooks

pytestmark = pytest.mark.grading

WRONG = "def double(x: float) -> float:\n    return 3 * x\n"

ATTACKS = {
    # name: (answer cell code, expected words in the flags)
    "patch-math": ("import math\nmath.isclose = lambda *a, **k: True\n" + WRONG, "changes math.isclose"),
    "equal-to-anything": (
        "class Anything(float):\n    def __eq__(self, other):\n        return True\n"
        "def double(x: float) -> float:\n    return Anything(3 * x)\n",
        "overrides comparison",
    ),
    "redefine-test-names": ("class FakeMath:\n    def isclose(self, *a, **k):\n        return True\nmath = FakeMath()\n"
                            + WRONG.replace("3 * x", "3 * x if x != 3.0 else 6.0"), ""),
    "patch-builtins": ("import builtins\nbuiltins.AssertionError = type('Quiet', (Exception,), {})\n"
                       "builtins.abs = lambda v: 0\n" + WRONG, "imports builtins"),
    "patch-globals": ("globals()['math'] = type('M', (), {'isclose': staticmethod(lambda *a, **k: True)})\n"
                      + WRONG.replace("3 * x", "3 * x if x != 3.0 else 6.0"), "calls globals()"),
    "fake-score-output": ("print('Score: 3/3 -- all tests passed')\n" + WRONG, ""),
}
# Attacks on the grader and the other students; COURSE is replaced by the course folder's absolute path.
SANDBOX_ATTACKS = {
    "read-hidden-tests": ("import json\nSECRET = open('COURSE/source/01-double/double.ipynb').read()\n" + WRONG,
                          "calls open()"),
    "write-gradebook": ("open('COURSE/gradebook.db', 'wb').write(b'corrupted')\n" + WRONG, "calls open()"),
    "write-other-student": ("open('COURSE/submitted/honest/01-double/double.ipynb', 'w').write('{}')\n" + WRONG,
                            "calls open()"),
    "network": ("import socket\nsocket.create_connection(('127.0.0.1', 22), timeout=2)\n" + WRONG,
                "imports socket"),
    "fork-bomb": ("import os\nfor _ in range(2000):\n    if os.fork() == 0:\n        import time\n"
                  "        time.sleep(30)\n        os._exit(0)\n" + WRONG, "imports os"),
    "memory-bomb": ("hog = bytearray(16 * 2**30)\n" + WRONG, ""),
    "kill-kernel": ("import os\nos._exit(0)\n" + WRONG, "imports os"),
    "loop-at-import": ("while True:\n    pass\n" + WRONG, ""),
}


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(folder)).encode() + p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    root = tmp_path_factory.mktemp("integrity")
    notebooks = make_course_notebooks(root)
    course = CourseDir.at(root / "course")
    release(course, notebooks, progress=lambda m: None)
    rel = nbformat.read(str(course.release / "01-double" / "double.ipynb"), as_version=4)
    src = nbformat.read(str(course.source / "01-double" / "double.ipynb"), as_version=4)
    honest = course.submitted / "honest" / "01-double"
    honest.mkdir(parents=True)
    nbformat.write(solved(rel, src), str(honest / "double.ipynb"))
    for name, (code, _) in {**ATTACKS, **SANDBOX_ATTACKS}.items():
        nb = solved(rel, src)
        answer_cells(nb)[0].source = code.replace("COURSE", str(course.root))
        folder = course.submitted / name / "01-double"
        folder.mkdir(parents=True)
        nbformat.write(nb, str(folder / "double.ipynb"))
    before = _digest(course.submitted)
    grade(course, workers=2, cell_timeout=5, progress=lambda m: None)
    return course, before


@pytest.mark.parametrize("attack", list(SANDBOX_ATTACKS))
def test_an_attack_on_the_grader_is_stopped(attacked, attack):
    course, _ = attacked
    r = {r.student: r for r in load_results(course)}[attack]
    assert r.score == 0 and r.sandboxed, (attack, r.status, r.cells)
    expected_flag = SANDBOX_ATTACKS[attack][1]
    if expected_flag:
        assert any(expected_flag in f for f in r.flags), r.flags


def test_the_gradebook_survives_and_the_whole_class_is_graded(attacked):
    from nbgrader.api import Gradebook

    course, _ = attacked
    results = load_results(course)
    assert len(results) == 1 + len(ATTACKS) + len(SANDBOX_ATTACKS)  # more than a quarter misbehave
    with Gradebook(course.db_url, "backprop-course") as gb:
        honest = gb.find_submission("01-double", "honest")
        assert honest.score == 3
        assert {s.id for s in gb.students} == {r.student for r in results}
    assert (course.root / "gradebook.db").read_bytes()[:15] == b"SQLite format 3"
    assert "kill-kernel" in {r.student for r in results if "process ended" in str(r.status)}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_an_attack_does_not_raise_the_score(attacked, attack):
    course, _ = attacked
    results = {r.student: r for r in load_results(course)}
    r = results[attack]
    assert r.score == 0, (attack, r.cells)
    expected_flag = ATTACKS[attack][1]
    if expected_flag:
        assert any(expected_flag in f for f in r.flags), r.flags
    assert results["honest"].score == 3 and results["honest"].flags == []


def test_a_patched_checker_fails_and_is_flagged(attacked):
    """Test cells never run in the student's process: a patched math.isclose changes no verdict."""
    course, _ = attacked
    r = {r.student: r for r in load_results(course)}["patch-math"]
    assert any("changes math.isclose" in f for f in r.flags), r.flags
    cell = next(c for c in r.cells if c.cell == "double-test2")
    assert cell.score == 0 and cell.message  # the grader's own message (for the instructor)
    verdicts = {v["cell"]: v for v in r.verdicts}
    assert verdicts["double-test2"]["hidden"] == "failed" and verdicts["double-test2"]["points"] == cell.max_score
    assert "patch-math" in course.grades_csv.read_text()
    html = (course.feedback / "patch-math" / "01-double" / "double.html").read_text()
    assert "Score: 0.0 / 3.0" in html


def test_submissions_are_unchanged_by_grading(attacked):
    course, before = attacked
    assert _digest(course.submitted) == before


def test_scan_finds_nothing_in_the_course_solutions():
    from autograder.coursedir.course import NOTEBOOKS_DIR
    from autograder.grading.scan import scan_notebook

    for path in sorted(NOTEBOOKS_DIR.glob("*/*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        assert [str(f) for f in scan_notebook(nb)] == [], path.name


def test_the_recheck_passes_every_course_solution(tmp_path):
    """No false alarms: each source notebook's own solutions pass the independent re-check in full."""
    from autograder.coursedir.course import NOTEBOOKS_DIR, source_assignments
    from autograder.isolation.session import verify_notebook

    for assignment in source_assignments(NOTEBOOKS_DIR):
        for path in sorted((NOTEBOOKS_DIR / assignment).glob("*.ipynb")):
            verdicts, problem = verify_notebook(path, path, cell_timeout=60)
            assert problem == "", (path.name, problem)
            failed = {k: v.message for k, v in verdicts.items() if v.score < v.max_score}
            assert failed == {}, (path.name, failed)
            assert verdicts, path.name  # 05 included: every notebook is judged outside the student's process
    shutil.rmtree(tmp_path, ignore_errors=True)
