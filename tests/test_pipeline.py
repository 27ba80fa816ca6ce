"""End to end: the instructor's real commands on a small course with every kind of submission."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autograder.cli import main
from autograder.commands.collect import collect
from autograder.commands.grade import grade, load_results
from autograder.commands.release import release
from autograder.commands.sample_class import make_sample_class
from autograder.coursedir.course import CourseDir
from autograder.errors import CourseError
from testkit.pipeline_fixture import make_course_notebooks, released_course

pytestmark = pytest.mark.grading

ASSIGNMENTS = ["01-double", "02-square"]
KINDS = ["correct", "blank", "invalid-json", "syntax-error", "kernel-death", "deleted-test", "renamed",
         "stray-file", "exception", "infinite-loop", "huge-output", "extra-cells"]
EXE = Path(sys.executable).parent / "backprop-course"


@pytest.fixture(scope="module")
def course_setup(tmp_path_factory):
    """Released course + collected class of every kind, graded once with 2 workers."""
    root = tmp_path_factory.mktemp("pipeline")
    course, notebooks = released_course(root)
    incoming = root / "incoming"
    make_sample_class(course.release, course.source, incoming, ASSIGNMENTS, KINDS)
    # a notebook handed in under the wrong assignment, put straight into submitted/
    wrong = course.submitted / "s99-wrong-assignment" / "01-double"
    wrong.mkdir(parents=True)
    shutil.copy(incoming / "s01-correct" / "02-square" / "square.ipynb", wrong / "square.ipynb")
    report = collect(course, incoming)
    summary = grade(course, workers=2, cell_timeout=4, progress=lambda m: None)
    return root, course, notebooks, report, summary


def by_student(course):
    return {(r.student, r.assignment): r for r in load_results(course)}


def test_release_has_no_solutions_or_hidden_tests(course_setup):
    _, course, _, _, _ = course_setup
    for name in ASSIGNMENTS:
        zip_path = course.release / f"{name}.zip"
        with zipfile.ZipFile(zip_path) as zf:
            text = "".join(zf.read(n).decode() for n in zf.namelist() if n.endswith(".ipynb"))
        assert "NotImplementedError" in text
        for secret in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "SECRET_HIDDEN_CHECK", "return 2 * x", "return x ** 2"):
            assert secret not in text, (name, secret)


def test_collect_files_every_notebook_and_says_what_it_skipped(course_setup):
    _, course, _, report, _ = course_setup
    assert any("notes.txt: not a notebook" in s for s in report.skipped)
    assert any("double (1) final.ipynb" in p and "by content" in p for p in report.placed)
    assert (course.submitted / "s07-renamed" / "01-double" / "double.ipynb").exists()
    assert (course.submitted / "s03-invalid-json" / "02-square" / "square.ipynb").exists()  # by file name


EXPECTED = {  # kind: (score per assignment, status starts with)
    "correct": (3, "ok"),
    "blank": (0, "ok (unanswered"),
    "invalid-json": (0, "double.ipynb is not valid JSON"),
    "syntax-error": (0, "SyntaxError"),
    "kernel-death": (0, "the student's process died"),
    "deleted-test": (3, "ok"),
    "renamed": (3, "ok"),
    "stray-file": (3, "ok"),
    "exception": (0, "ok (ValueError: not finished in answer cell"),
    "infinite-loop": (3, "answer cell double-answer timed out"),  # the function was defined before the loop
    "huge-output": (3, "ok"),
    "extra-cells": (3, "ok"),
}


def test_every_kind_gets_its_score_and_reason(course_setup):
    _, course, _, _, summary = course_setup
    results = by_student(course)
    for i, kind in enumerate(KINDS, 1):
        score, status = EXPECTED[kind]
        r = results[(f"s{i:02d}-{kind}", "01-double")]
        assert (r.score, r.max_score) == (score, 3), (kind, r)
        assert str(r.status).startswith(status), (kind, str(r.status))
    wrong = results[("s99-wrong-assignment", "01-double")]
    assert wrong.score == 0 and "double.ipynb is missing (found square.ipynb)" in str(wrong.status)
    attention = {(r.student, r.assignment) for r in summary.attention}
    assert ("s05-kernel-death", "02-square") in attention and ("s01-correct", "01-double") not in attention


def test_grades_csv(course_setup):
    _, course, _, _, _ = course_setup
    rows = list(csv.DictReader(course.grades_csv.open()))
    assert list(rows[0])[:4] == ["student_id", "assignment", "score", "max_score"]
    assert list(rows[0])[-3:] == ["status", "flags", "sandboxed"]
    assert {"double:double-test", "double:double-test2", "square:square-test"} <= set(rows[0])
    correct = next(r for r in rows if r["student_id"] == "s01-correct" and r["assignment"] == "01-double")
    assert correct["double:double-test"] == "2" and correct["double:double-test2"] == "1"
    assert correct["square:square-test"] == ""  # not this assignment's cell
    assert len(rows) == len(KINDS) * 2 + 1


def test_feedback_shows_the_message_but_never_the_hidden_tests(course_setup):
    _, course, _, _, _ = course_setup
    pages = list(course.feedback.glob("*/*/*.html"))
    assert len(pages) >= 10
    for page in pages:
        html = page.read_text()
        assert "SECRET_HIDDEN_CHECK" not in html and "BEGIN HIDDEN TESTS" not in html, page
    blank = (course.feedback / "s02-blank" / "01-double" / "double.html").read_text()
    assert "not answered yet" in blank
    # the autograded notebook the instructor keeps still has the hidden tests
    graded = (course.autograded / "s01-correct" / "01-double" / "double.ipynb").read_text()
    assert "SECRET_HIDDEN_CHECK" in graded


def test_students_files_are_never_changed(course_setup):
    root, course, _, _, _ = course_setup
    for path in (root / "incoming").rglob("*.ipynb"):
        student, assignment = path.relative_to(root / "incoming").parts[:2]
        filed = course.submitted / student / assignment
        assert filed.exists()
    original = (root / "incoming" / "s03-invalid-json" / "01-double" / "double.ipynb").read_text()
    assert (course.submitted / "s03-invalid-json" / "01-double" / "double.ipynb").read_text() == original


def test_rerun_grades_only_what_changed_and_resubmission_is_archived(course_setup, tmp_path):
    root, shared, _, _, _ = course_setup
    # a private copy of the graded course: other tests read the shared one as grading left it
    course = CourseDir.at(shutil.copytree(shared.root, tmp_path / "course"))
    again = grade(course, workers=2, cell_timeout=4, progress=lambda m: None)
    assert again.graded == 0 and again.skipped == len(KINDS) * 2 + 1
    # s02 resubmits a correct 01-double
    new = tmp_path / "resubmit" / "s02-blank" / "01-double"
    new.mkdir(parents=True)
    shutil.copy(root / "incoming" / "s01-correct" / "01-double" / "double.ipynb", new / "double.ipynb")
    report = collect(course, tmp_path / "resubmit")
    assert len(report.archived) == 1
    archived = list((course.archive / "s02-blank" / "01-double").glob("*/double.ipynb"))
    assert len(archived) == 1 and "NotImplementedError" in archived[0].read_text()
    assert collect(course, tmp_path / "resubmit").unchanged  # the same files again: nothing moves
    third = grade(course, workers=1, cell_timeout=4, progress=lambda m: None)
    assert third.graded == 1
    assert by_student(course)[("s02-blank", "01-double")].score == 3


def _scores(course):
    return {k: (r.score, [c.score for c in r.cells], str(r.status)) for k, r in by_student(course).items()}


#: the kinds one worker grades again: every way a submission ends (full marks, unanswered, an exception,
#: a process that died, a notebook that is not JSON, a missing notebook); the slow kinds (a loop held to the cell
#: limit, huge output) are graded by the module's two workers only
ONE_WORKER = ("s01-correct", "s02-blank", "s03-invalid-json", "s05-kernel-death", "s09-exception",
              "s99-wrong-assignment")


def test_one_worker_gives_the_same_grades_and_interrupted_runs_resume(course_setup, tmp_path):
    root, course, notebooks, _, _ = course_setup
    reference = {key: value for key, value in _scores(course).items() if key[0] in ONE_WORKER}
    copy = CourseDir.at(tmp_path / "copy")
    release(copy, notebooks, progress=lambda m: None)
    for student in ONE_WORKER:
        shutil.copytree(course.submitted / student, copy.submitted / student)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    cmd = [str(EXE), "grade", "--course-dir", str(copy.root), "--workers", "1", "--cell-timeout", "4"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    seen = 0
    for line in proc.stdout:
        seen += bool(re.search(r"\] \d+/\d+ s\d\d", line))
        if seen == 3:
            proc.send_signal(signal.SIGINT)
            break
    proc.wait(60)
    saved = load_results(copy)
    assert 3 <= len(saved) < len(reference), "interrupted after three submissions"
    finish = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert finish.returncode == 1  # some submissions need attention
    assert f"unchanged {len(saved)}" in finish.stdout
    assert _scores(copy) == reference


def test_check_command_for_students(course_setup, capsys):
    root, _, _, _, _ = course_setup
    assert main(["check", str(root / "incoming" / "s01-correct" / "01-double" / "double.ipynb")]) == 0
    assert "total: 3/3 on the visible tests" in capsys.readouterr().out
    assert main(["check", str(root / "incoming" / "s02-blank" / "02-square" / "square.ipynb")]) == 1
    out = capsys.readouterr().out
    assert "square-test   0/2" in out and "not answered yet" in out and "hidden tests" in out
    assert main(["check", str(root / "incoming" / "s03-invalid-json" / "01-double" / "double.ipynb")]) == 2
    assert "not valid JSON" in capsys.readouterr().err


def test_report_and_export(course_setup, capsys):
    _, course, _, _, _ = course_setup
    assert main(["report", "--course-dir", str(course.root)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"(?m)^  double\s+\d", out) and "Needs your attention" in out and "process died" in out
    assert (course.root / "report.png").stat().st_size > 1000
    assert (course.root / "report-exercises.png").stat().st_size > 1000
    assert "80-100%" in (course.root / "report.txt").read_text()
    course.grades_csv.unlink()
    assert main(["export", "--course-dir", str(course.root)]) == 0
    assert course.grades_csv.exists()


def test_clear_errors_for_instructor_mistakes(tmp_path, capsys):
    assert main(["collect", str(tmp_path / "nowhere"), "--course-dir", str(tmp_path / "c")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["grade", "--course-dir", str(tmp_path / "c")]) == 2
    assert "run `backprop-course release` first" in capsys.readouterr().err
    with pytest.raises(CourseError, match="neither a folder nor a zip"):
        (tmp_path / "x.txt").write_text("hi")
        course = CourseDir.at(tmp_path / "c2")
        (course.source / "01-a").mkdir(parents=True)
        make_course_notebooks(tmp_path / "n")
        shutil.copytree(tmp_path / "n" / "notebooks" / "01-double", course.source / "01-double")
        collect(course, tmp_path / "x.txt")


def test_collect_reads_an_lms_zip_with_flat_names(course_setup, tmp_path):
    root, course, notebooks, _, _ = course_setup
    fresh = CourseDir.at(tmp_path / "c")
    release(fresh, notebooks, progress=lambda m: None)
    zip_path = tmp_path / "lms.zip"
    with zipfile.ZipFile(zip_path, "w") as zf:
        zf.write(root / "incoming" / "s01-correct" / "01-double" / "double.ipynb", "download/alice_12_double.ipynb")
        zf.write(root / "incoming" / "s01-correct" / "02-square" / "square.ipynb", "download/bob_77_sq.ipynb")
        zf.writestr("download/../../escape.ipynb", json.dumps({"cells": []}))
    report = collect(fresh, zip_path)
    assert (fresh.submitted / "alice" / "01-double" / "double.ipynb").exists()
    assert (fresh.submitted / "bob" / "02-square" / "square.ipynb").exists()
    assert not (tmp_path / "escape.ipynb").exists() and not (tmp_path.parent / "escape.ipynb").exists()
    assert len(report.placed) == 2


@pytest.mark.timeout(300)  # a hang that the submission timeout failed to stop ends the test (pytest-timeout)
def test_a_hanging_submission_is_stopped_and_the_class_goes_on(course_setup, tmp_path):
    _, course, notebooks, _, _ = course_setup
    fresh = CourseDir.at(tmp_path / "c")
    release(fresh, notebooks, progress=lambda m: None)
    for student in ("s01-correct", "s10-infinite-loop"):
        shutil.copytree(course.submitted / student / "01-double", fresh.submitted / student / "01-double")
    # the cell limit (120 s) is far past the submission's (25 s, ten times what the correct one needs when quiet)
    summary = grade(fresh, workers=2, cell_timeout=120, submission_timeout=25, progress=lambda m: None)
    results = by_student(fresh)
    assert results[("s01-correct", "01-double")].score == 3
    hung = results[("s10-infinite-loop", "01-double")]
    assert hung.score == 0 and "per-submission limit of 25 s" in str(hung.status)
    assert summary.attention == [hung]


def test_the_demo_grade_table(course_setup):
    from autograder.commands.demo import grade_table

    _, course, _, _, _ = course_setup
    table = grade_table(course)
    lines = table.splitlines()
    assert lines[0].split() == ["student", "01-double", "02-square", "total"]
    correct = next(ln for ln in lines if ln.startswith("s01-correct"))
    assert correct.split()[1:] == ["3/3", "3/3", "6/6"]
    assert "! needs attention:" in table and "s05-kernel-death/01-double: the student's process died" in table
