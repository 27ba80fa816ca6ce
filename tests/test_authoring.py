"""The author's tools without grading: lint-source's structure checks, nbgrader's real cause of a failed
release, the new-exercise template (scored by its mutants in-process), and each mutant's diff."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from autograder.authoring.mutants import mutants_of_cell
from autograder.authoring.mutation import score_notebook
from autograder.authoring.structure import check_structure
from autograder.authoring.template import new_exercise
from autograder.cli import main
from autograder.coursedir.nbgrader_log import failure_cause
from autograder.errors import CourseError

ROOT = Path(__file__).resolve().parents[1]

#: What nbgrader 0.9.6's generate_assignment logged for a worked cell with nbgrader metadata (shortened frames)
LOG = """[INFO] Updating/creating assignment '01-chain-rule': {}
[INFO] Converting notebook /tmp/course/source/./01-chain-rule/chain-rule.ipynb
[ERROR] There was an error processing assignment: /tmp/course/source/./01-chain-rule
[ERROR] Traceback (most recent call last):
      File "/venv/nbgrader/converters/base.py", line 390, in convert_notebooks
        self.convert_single_notebook(notebook_filename)
      File "/venv/nbconvert/preprocessors/base.py", line 48, in __call__
        return self.preprocess(nb, resources)
               ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
      File "/repo/autograder/notebook/worked.py", line 40, in check_worked_cell
        raise CourseError(f"{where} is tagged {WORKED_TAG!r} but has nbgrader metadata: remove it (a worked "
    autograder.errors.CourseError: cell 9 is tagged 'worked-solution' but has nbgrader metadata: remove it

[ERROR] There was an error processing assignment '01-chain-rule' for student '.'
[ERROR] Please see the the above traceback for details on the specific errors on the above failures.
"""


def test_the_cause_of_a_failed_release_is_read_from_nbgraders_log():
    assert failure_cause(LOG) == ["chain-rule.ipynb: cell 9 is tagged 'worked-solution' but has nbgrader metadata: "
                                  "remove it"]
    old = "autograder.errors.CourseError: cell 9 is tagged 'worked-solution' but has nbgrader metadata: remove it"
    validation = LOG.replace(old, "nbgrader.validator.ValidationError: Duplicate grade id: d-exp-test")
    assert failure_cause(validation) == ["chain-rule.ipynb: ValidationError: Duplicate grade id: d-exp-test"]
    assert failure_cause("[INFO] nothing went wrong\n") == []


@pytest.mark.parametrize("folder", ["00-start-here", "01-chain-rule", "02-sigmoid-chain", "03-many-paths",
                                    "04-all-parameters", "05-write-the-engine"])
def test_the_course_notebooks_have_no_structural_error(folder):
    for path in (ROOT / "notebooks" / folder).glob("*.ipynb"):
        errors = [p for p in check_structure(path) if p.severity == "error"]
        assert not errors, "\n".join(map(str, errors))


@pytest.fixture
def cubes(tmp_path) -> Path:
    path = tmp_path / "06-cubes" / "cubes.ipynb"
    new_exercise(path, number="6.1", title="the cube", function="d_cube", expression="u**3", derivative="3 * u**2")
    new_exercise(path, number="6.2", title="the cube of a sine", function="d_cube_sin", expression="np.sin(u)**3",
                 derivative="d_cube(math.sin(u)) * math.cos(u)", points=3, uses=["d_cube"])
    return path


def test_a_new_exercise_has_every_part_and_no_structural_problem(cubes):
    nb = nbformat.read(str(cubes), as_version=4)
    assert check_structure(cubes) == []
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
    for part in ("d_cube_sin-text", "d_cube_sin-answer", "d_cube_sin-test", "d_cube_sin-model-answer", "setup"):
        assert part in ids
    test = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "d_cube_sin-test")
    assert "def _reference_d_cube(u: float) -> float:" in test.source and "use_references(globals()" in test.source
    assert 'hidden_case("' in test.source and "judge_alone(globals(), \"d_cube_sin\", USES)" in test.source
    assert sum("worked-solution" in c.metadata.get("tags", []) for c in nb.cells) == 2


def test_a_new_exercises_tests_catch_every_mutant_and_a_mistake_costs_points_once(cubes):
    score = score_notebook(cubes)
    assert score.total == 4 and len(score.killed) == 4, score
    assert score.leaked == {}  # a wrong d_cube fails 6.1 only: 6.2 is judged with the reference


def test_new_exercise_refuses_what_it_cannot_build(cubes):
    with pytest.raises(CourseError, match="no answer cell of this notebook defines d_tanh"):
        new_exercise(cubes, number="6.3", title="t", function="d_x", expression="u", derivative="1", uses=["d_tanh"])
    with pytest.raises(CourseError, match="already has cells d_cube-answer"):
        new_exercise(cubes, number="6.3", title="t", function="d_cube", expression="u", derivative="1")
    with pytest.raises(CourseError, match="not a Python expression"):
        new_exercise(cubes, number="6.3", title="t", function="d_y", expression="u**", derivative="1")


def _edit(path: Path, grade_id: str, change) -> None:
    nb = nbformat.read(str(path), as_version=4)
    change(next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id), nb)
    nbformat.write(nb, str(path))


def test_structure_errors_name_the_cell_and_the_fix(cubes, capsys):
    _edit(cubes, "d_cube-test", lambda c, nb: c.metadata.nbgrader.update(points=5))
    _edit(cubes, "d_cube_sin-answer", lambda c, nb: setattr(c, "source", c.source.replace("### END SOLUTION", "")))
    _edit(cubes, "d_cube-text", lambda c, nb: nb.cells.insert(nb.cells.index(c) + 1, nbformat.v4.new_markdown_cell(
        "<details>\n<summary>The answer</summary>\n\n3u²\n</details>")))
    found = {(p.where, p.what.split(":")[0]) for p in check_structure(cubes) if p.severity == "error"}
    assert ("cell 3 (d_cube-text)", "Exercise 6.1's heading says 2 points, its test cells give 5 (d_cube-test") in found
    assert any(w == "cell 12 (d_cube_sin-answer)" and "markers do not pair up" in what for w, what in found)
    assert any(w == 'cell 4 ("<details>")' and "between a graded exercise's heading and its tests" in what
               for w, what in found)
    assert main(["lint-source", str(cubes.parent), "--structure-only"]) == 1
    out = capsys.readouterr().out
    assert "fix: make the heading's points the sum of its test cells' points" in out
    assert "fix the errors first" in out


def test_a_mutant_shows_its_change_as_a_diff():
    source = "def f(s):\n    ### BEGIN SOLUTION\n    return s * (1 - s)\n    ### END SOLUTION\n"
    sigma = next(m for m in mutants_of_cell("nb", "f-answer", source) if m.kind == "sigma")
    assert sigma.diff.splitlines()[-2:] == ["-    return s * (1 - s)", "+    return s"]


def test_the_cli_starts_a_notebook_with_new_exercise(tmp_path, capsys):
    path = tmp_path / "06-x" / "x.ipynb"
    assert main(["new-exercise", str(path), "--number", "6.1", "--title", "t", "--function", "d_sq",
                 "--expression", "u**2", "--derivative", "2 * u"]) == 0
    assert f"added Exercise 6.1 to {path}" in capsys.readouterr().out
    assert main(["lint-source", str(path), "--structure-only"]) == 0


def test_testkit_imports_nothing_from_benchmarks():
    """The mutation engine is package code now (issue 24, item 8): testkit and the CLI share it."""
    import ast

    for path in sorted((ROOT / "testkit").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [
                node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(n == "benchmarks" or n.startswith("benchmarks.") for n in names), path.name


def test_a_graded_mistake_reads_the_grader_status_as_its_text():
    """lint-source's mistake grading reads the grader's Status by its fields, so a grader failure is recognised
    and a normal grading is not (it used to call str methods on the Status)."""
    from autograder.authoring.graded import _graded, _grader_failed
    from autograder.grading.status import Status
    from autograder.grading.worker import CellResult, SubmissionResult

    cell = CellResult("nb", "test_a", 1.0, 1.0, "")
    ok = _graded("correct", None, SubmissionResult("s", "a", "", 1.0, 1.0, Status(), [cell]))
    assert ok.status.ok and str(ok.status) == "ok" and not _grader_failed(ok)
    failed = _graded("correct", None, SubmissionResult(
        "s", "a", "", 0.0, 1.0, Status(reasons=["nbgrader could not grade it: boom"]), [cell]))
    assert str(failed.status).startswith("nbgrader could not grade it") and _grader_failed(failed)


def test_a_release_failure_without_a_traceback_shows_nbgraders_last_error_line(tmp_path, monkeypatch):
    """When nbgrader's log names no cause, its error's last line is shown as text (not a Python list)."""
    from autograder.authoring import graded

    class _Api:
        def generate_assignment(self, *args, **kwargs):
            return {"success": False, "log": "", "error": "Traceback...\nValueError: no cell metadata"}

    monkeypatch.setattr(graded, "nbgrader_api", lambda course: _Api())
    folder = tmp_path / "ps1"
    folder.mkdir()
    with pytest.raises(CourseError) as err:
        graded.release_in_scratch(folder, tmp_path / "scratch")
    assert str(err.value).endswith("ps1:\n  ValueError: no cell metadata")


def test_a_worked_derivation_with_nbgrader_metadata_is_named_with_its_fix(cubes):
    _edit(cubes, "d_cube-test", lambda c, nb: nb.cells[nb.cells.index(c) + 1].metadata.update(
        nbgrader={"grade": False, "grade_id": "worked", "locked": True, "schema_version": 3, "solution": False}))
    [problem] = check_structure(cubes)
    assert (problem.where, problem.what) == ("cell 6 (worked)", "is tagged 'worked-solution' but has nbgrader metadata")
    assert problem.fix.startswith("remove it (a worked derivation is left out of the release")
