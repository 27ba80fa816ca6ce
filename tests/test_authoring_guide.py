"""docs/authoring.md followed literally, and `backprop-course lint-source` held against the mutation benchmark.

* The guide's walkthrough: every ``$`` command and the ``change-points.py`` file, as printed, in a fresh
  folder, by the installed ``backprop-course`` (PATH holds the virtual environment's ``bin/``); then the
  released notebook is graded with a correct, a blank and a one-mistake submission.
* ``lint-source`` on 01-chain-rule (the smallest graded notebook) prints the figures ``python -m
  benchmarks.mutation --notebook 01`` prints.
* On a deliberately weak test (it checks only the shape of the gradient), ``lint-source`` lists the
  surviving mistakes as diffs and exits 1.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from autograder.commands.grade import grade, load_results
from autograder.commands.sample_class import solved
from autograder.coursedir.course import CourseDir

pytestmark = pytest.mark.grading

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DOC = ROOT / "docs" / "authoring.md"


def walkthrough() -> list[tuple[str, str, str]]:
    """The guide's steps in order: ("file", name, text) for a python block, ("run", command, "") per ``$`` line."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Add a notebook with two exercises", 1)[1].split("\n## ", 1)[0]
    steps: list[tuple[str, str, str]] = []
    for lang, body in re.findall(r"```(\w+)\n(.*?)```", section, re.S):
        if lang == "console":
            steps += [("run", line[2:].strip(), "") for line in body.splitlines() if line.startswith("$ ")]
        elif lang == "python":
            first, _, rest = body.partition("\n")
            steps.append(("file", first.lstrip("# ").strip(), rest))
    return steps


def _env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{BIN}:/usr/bin:/bin"}


def _run(command: str, cwd: Path) -> subprocess.CompletedProcess:
    start = time.perf_counter()
    done = subprocess.run(shlex.split(command), cwd=cwd, env=_env(), capture_output=True, text=True, timeout=3600)
    print(f"\n$ {command}  ({time.perf_counter() - start:.0f} s, exit {done.returncode})\n{done.stdout[-3000:]}"
          f"{done.stderr[-2000:]}")
    return done


def test_the_walkthrough_lists_every_step():
    steps = walkthrough()
    kinds = [k for k, _, _ in steps]
    assert kinds.count("run") == 6 and kinds.count("file") == 1, steps
    assert ("run", "backprop-course lint-source notebooks/06-cubes", "") in steps, steps


def test_the_guide_builds_releases_and_grades_a_notebook_with_two_exercises(tmp_path):
    for kind, what, text in walkthrough():
        if kind == "file":
            (tmp_path / what).write_text(text, encoding="utf-8")
            continue
        done = _run(what, tmp_path)
        assert done.returncode == 0, f"{what} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        if what.startswith("backprop-course lint-source") and "--structure-only" not in what:
            assert "cubes: killed 4/4 (0 equivalent; 4/4 of the others); 0 cost points in another exercise" in \
                done.stdout
            assert "correct answers: full marks (5/5)" in done.stdout and "blank notebook: 0/5 points" in done.stdout
            assert "Exercise 6.2 — the cube of a sine: 1/1 mistakes caught (100%)" in done.stdout
            assert re.search(r"\[\d+/6\] mutant-001", done.stdout)  # progress, one line per submission
    course = CourseDir.at(tmp_path / "course")
    release_nb = nbformat.read(str(course.release / "06-cubes" / "cubes.ipynb"), as_version=4)
    assert "BEGIN SOLUTION" not in str(release_nb) and "HIDDEN TESTS" not in str(release_nb)
    assert "Worked derivation" not in str(release_nb) and "Model answer" in str(release_nb)
    source_nb = nbformat.read(str(tmp_path / "notebooks" / "06-cubes" / "cubes.ipynb"), as_version=4)
    plans = {"correct": solved(release_nb, source_nb), "blank": release_nb,
             "one-mistake": solved(release_nb, source_nb, mutate={"d_cube-answer": lambda c: c.replace("3 *", "2 *")})}
    for student, nb in plans.items():
        (course.submitted / student / "06-cubes").mkdir(parents=True)
        nbformat.write(nb, str(course.submitted / student / "06-cubes" / "cubes.ipynb"))
    grade(course, workers=2, progress=lambda m: None)
    results = {r.student: r for r in load_results(course)}
    scores = {s: (r.score, r.max_score) for s, r in results.items()}
    print(f"\ngraded: {scores}")
    assert scores == {"correct": (6.0, 6.0), "blank": (0.0, 6.0), "one-mistake": (4.0, 6.0)}
    lost = {c.cell for c in results["one-mistake"].cells if c.score < c.max_score}
    assert lost == {"d_cube-test"}  # the mistake in 6.1 costs nothing in 6.2, which uses d_cube


def _figures(text: str) -> list[str]:
    return re.findall(r"^(\S+: killed \d+/\d+ \(\d+ equivalent; \d+/\d+ of the others\); \d+ cost points in "
                      r"another exercise)", text, re.M)


def test_lint_source_prints_the_mutation_benchmarks_figures_for_01():
    bench = subprocess.run([sys.executable, "-m", "benchmarks.mutation", "--notebook", "01"], cwd=ROOT, env=_env(),
                           capture_output=True, text=True, timeout=600)
    assert bench.returncode == 0, bench.stdout + bench.stderr
    lint = _run(f"backprop-course lint-source {ROOT / 'notebooks' / '01-chain-rule'}", ROOT)
    assert lint.returncode == 0, lint.stdout[-3000:] + lint.stderr[-3000:]
    assert _figures(bench.stdout) == _figures(lint.stdout) == [
        "chain-rule: killed 14/14 (0 equivalent; 14/14 of the others); 0 cost points in another exercise"]
    assert "correct answers: full marks (12/12)" in lint.stdout and "blank notebook: 0/12 points" in lint.stdout


def test_lint_source_lists_the_mistakes_a_shape_only_test_lets_through(tmp_path):
    notebook = tmp_path / "07-weak" / "weak.ipynb"
    _run(f"backprop-course new-exercise {notebook} --number 7.1 --title 'the square' --function d_square "
         "--expression 'u**2' --derivative '2 * u'", tmp_path)
    nb = nbformat.read(str(notebook), as_version=4)
    test = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "d_square-test")
    test.source = ("# Checks only the shape of the gradient\nassert np.shape(d_square(0.5)) == ()\n"
                   "### BEGIN HIDDEN TESTS\nwith hidden_case('a vector of points'):\n"
                   "    assert np.shape(d_square(np.ones(3))) == (3,)\n### END HIDDEN TESTS")
    nbformat.write(nb, str(notebook))
    done = _run(f"backprop-course lint-source {notebook}", tmp_path)
    assert done.returncode == 1
    assert "weak: killed 0/2 (0 equivalent; 0/2 of the others); 0 cost points in another exercise" in done.stdout
    assert "Exercise 7.1 — the square: 0/2 mistakes caught (0%)" in done.stdout
    assert done.stdout.count("SURVIVED in d_square-answer") == 2
    assert "-    return 2 * u\n      +    return 3 * u" in done.stdout  # each survivor as a diff


def test_release_prints_the_cause_nbgrader_logged(tmp_path):
    """Before: "Please see the above traceback" and no traceback; now the cause, the cell and what to run."""
    notebook = tmp_path / "notebooks" / "08-broken" / "broken.ipynb"
    _run(f"backprop-course new-exercise {notebook} --number 8.1 --title t --function d_sq --expression 'u**2' "
         "--derivative '2 * u'", tmp_path)
    nb = nbformat.read(str(notebook), as_version=4)
    worked = next(c for c in nb.cells if "worked-solution" in c.metadata.get("tags", []))
    worked.metadata["nbgrader"] = {"grade": False, "grade_id": "worked", "locked": True, "schema_version": 3,
                                   "solution": False}
    nbformat.write(nb, str(notebook))
    done = _run("backprop-course release --notebooks notebooks --course-dir course", tmp_path)
    assert done.returncode == 2
    assert "Please see the" not in done.stderr
    assert "broken.ipynb: cell 6 is tagged 'worked-solution' but has nbgrader metadata" in done.stderr
    assert "backprop-course lint-source" in done.stderr
    lint = _run("backprop-course lint-source notebooks/08-broken --structure-only", tmp_path)
    assert lint.returncode == 1 and "cell 6 (worked)" in lint.stdout and "fix:" in lint.stdout
