"""The gradebook is the one record: manual grades, comments, extra credit, deadlines and late penalties.

One small course is graded once per module: a notebook with two autograded test cells (3 points) and a
free-text answer graded by hand (2 points). Manual grades are set the way Formgrader sets them (its
``PUT /formgrader/api/grade/<id>`` handler: ``manual_score``, ``extra_credit``, ``needs_manual_grade``;
its comment handler: ``manual_comment``), through nbgrader's own ``Gradebook``.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_markdown_cell

from autograder.cli import main
from autograder.commands.grade import grade, parse_timestamp
from autograder.commands.release import release
from autograder.commands.sample_class import solved
from autograder.coursedir.course import CourseDir
from autograder.coursedir.database import open_gradebook
from autograder.errors import CourseError
from testkit.pipeline_fixture import make_course_notebooks

pytestmark = pytest.mark.grading

BIN = Path(sys.executable).parent
DOC = Path(__file__).resolve().parents[1] / "docs" / "instructor.md"
INSTRUCTOR_LINES = [
    "# my own settings",
    "c = get_config()  # noqa: F821",
    'c.LateSubmissionPlugin.penalty_method = "zero"',
]
DEADLINES = """
timezone = "UTC"
[due]
"01-double" = "2026-01-10 12:00"
[extensions."01-double"]
carol = "3 days"
"""
SUBMITTED = {  # student: (timestamp.txt, free-text answer or None for unanswered)
    "alice": ("2026-01-09 10:00:00.000000 UTC", "Doubling is linear, so its derivative is 2 everywhere."),
    "bob": ("2026-01-12 12:00:00.000000 UTC", None),  # two days late: penalty "zero"
    "carol": ("2026-01-12 12:00:00.000000 UTC", None),  # two days late, but a three-day extension
    "dave": ("yesterday-ish", None),  # a malformed timestamp: a note, never fatal
}
GRADE_OUTPUT: list[str] = []  # what the fixture's `grade` printed
LATE_AND_WRONG = ("erin", "2026-01-12 12:00:00.000000 UTC")  # right at the visible check, wrong at the hidden one


def _add_free_text_cell(notebooks: Path) -> None:
    path = notebooks / "01-double" / "double.ipynb"
    nb = nbformat.read(path, as_version=4)
    cell = new_markdown_cell("Explain in one sentence why the derivative of `double` is constant.\n\n"
                             "### BEGIN SOLUTION\nIt is linear.\n### END SOLUTION")
    cell.metadata["nbgrader"] = {"schema_version": 3, "grade_id": "explain", "grade": True, "solution": True,
                                 "locked": False, "points": 2}
    nb.cells.append(cell)
    nbformat.write(nb, path)


def _submission(course: CourseDir, answer: str | None) -> nbformat.NotebookNode:
    rel = nbformat.read(course.release / "01-double" / "double.ipynb", as_version=4)
    nb = solved(rel, nbformat.read(course.source / "01-double" / "double.ipynb", as_version=4))
    if answer is not None:
        next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "explain").source = answer
    return nb


def _rows(course: CourseDir) -> dict[str, dict[str, str]]:
    return {r["student_id"]: r for r in csv.DictReader(course.grades_csv.open())}


def _set_like_formgrader(course: CourseDir, student: str, cell: str, score: float, extra: float,
                         comment: str) -> None:
    """What Formgrader's grade and comment handlers do, through nbgrader's Gradebook."""
    with open_gradebook(course.db_url) as gb:
        nb = gb.find_submission_notebook("double", "01-double", student)
        grade_row = next(g for g in nb.grades if g.name == cell)
        grade_row = gb.find_grade_by_id(grade_row.id)
        grade_row.manual_score = score
        grade_row.extra_credit = extra
        grade_row.needs_manual_grade = grade_row.manual_score is None and grade_row.auto_score is None
        comment_row = gb.find_comment_by_id(next(c for c in nb.comments if c.name == cell).id)
        comment_row.manual_comment = comment
        gb.db.commit()


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("record")
    notebooks = make_course_notebooks(root)
    _add_free_text_cell(notebooks)
    course = CourseDir.at(root / "course")
    (course.root / "nbgrader_config.py").write_text("\n".join(INSTRUCTOR_LINES) + "\n")
    release(course, notebooks, progress=lambda m: None)
    config_after_first_release = (course.root / "nbgrader_config.py").read_text()
    release(course, notebooks, progress=lambda m: None)
    course.deadlines_file.write_text(DEADLINES)
    for student, (stamp, answer) in SUBMITTED.items():
        folder = course.submitted / student / "01-double"
        folder.mkdir(parents=True)
        nbformat.write(_submission(course, answer), folder / "double.ipynb")
        (folder / "timestamp.txt").write_text(stamp + "\n")
    student, stamp = LATE_AND_WRONG
    nb = _submission(course, None)
    next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "double-answer").source = (
        "def double(x: float) -> float:\n    return 2 * abs(x)")
    (course.submitted / student / "01-double").mkdir(parents=True)
    nbformat.write(nb, course.submitted / student / "01-double" / "double.ipynb")
    (course.submitted / student / "01-double" / "timestamp.txt").write_text(stamp + "\n")
    summary = grade(course, workers=2, cell_timeout=10, progress=GRADE_OUTPUT.append)
    before = _rows(course)
    return course, summary, before, config_after_first_release


def test_release_keeps_the_instructors_settings(graded):
    course, _, _, first = graded
    text = (course.root / "nbgrader_config.py").read_text()
    for line in INSTRUCTOR_LINES:
        assert line in text
    assert text == first  # a second release changes nothing
    assert text.count("backprop-course settings") == 2  # one block: its begin and end lines
    assert text.index('penalty_method = "zero"') > text.index("<<< backprop-course settings")  # the instructor's wins


def test_a_free_text_answer_needs_a_manual_grade(graded):
    _, summary, before, _ = graded
    alice = before["alice"]
    assert alice["double:explain"] == "0" and alice["score"] == "3" and alice["max_score"] == "5"
    assert alice["status"].startswith("needs a manual grade in Formgrader: double:explain")
    assert "alice" in {r.student for r in summary.attention}
    assert before["carol"]["status"] == "ok"  # an unanswered free-text cell is 0 (nbgrader: no response)


def test_late_penalty_and_extension(graded):
    _, _, before, _ = graded
    bob, carol = before["bob"], before["carol"]
    assert (bob["raw_score"], bob["late_penalty"], bob["score"]) == ("3", "3", "0")
    assert bob["submitted"] == "2026-01-12 12:00:00 UTC" and bob["due"] == "2026-01-10 12:00:00 UTC"
    assert (carol["raw_score"], carol["late_penalty"], carol["score"]) == ("3", "0", "3")
    assert carol["due"] == "2026-01-13 12:00:00 UTC"


def test_grade_lists_the_late_submissions_as_the_guide_says(graded):
    late = GRADE_OUTPUT[GRADE_OUTPUT.index(next(ln for ln in GRADE_OUTPUT if ln.startswith("late: "))):]
    assert late[0].startswith("late: 2 submission(s)")
    assert "  bob/01-double: handed in 2026-01-12 12:00 UTC, due 2026-01-10 12:00 UTC, penalty 3 point(s)" in late
    assert "  erin/01-double: handed in 2026-01-12 12:00 UTC, due 2026-01-10 12:00 UTC, penalty 1 point(s)" in late
    assert not any("carol" in ln for ln in late)  # her extension makes her on time
    assert "late" in DOC.read_text().split("$ .venv/bin/backprop-course grade", 1)[1].split("\n\n")[1]


def test_a_malformed_timestamp_is_a_note_not_a_failure(graded):
    _, summary, before, _ = graded
    dave = before["dave"]
    assert dave["score"] == "3" and dave["late_penalty"] == "0" and dave["submitted"] == ""
    assert "timestamp.txt is not a date and time" in dave["status"]
    assert "dave" in {r.student for r in summary.attention}
    assert parse_timestamp("2026-01-09 10:00:00.000000 UTC")[1] == ""
    assert "cannot be a submission time" in parse_timestamp("2999-01-01 00:00:00 UTC")[1]


def test_a_manual_grade_reaches_grades_csv_report_feedback_and_nbgraders_export(graded, capsys):
    course, _, _, _ = graded
    _set_like_formgrader(course, "alice", "explain", 1.5, 0.5, "Right: linear means constant slope.")
    assert main(["export", "--course-dir", str(course.root)]) == 0
    alice = _rows(course)["alice"]
    assert alice["double:explain"] == "2" and alice["score"] == "5" and alice["status"] == "ok"
    assert "linear" in alice["comments"]
    assert main(["report", "--course-dir", str(course.root)]) == 0
    out = capsys.readouterr().out
    assert "alice/01-double" not in out.split("Needs your attention")[1]
    assert "bob/01-double: handed in 2026-01-12 12:00 UTC, due 2026-01-10 12:00 UTC, penalty 3" in out
    page = (course.feedback / "alice" / "01-double" / "double.html").read_text()
    assert "Score: 5.0 / 5.0" in page and "constant slope" in page
    assert "../mathjax/MathJax.js" in page and "cdnjs" not in page and "pre-wrap" in page
    assert (course.feedback / "alice" / "01-double" / "../mathjax/MathJax.js").resolve().is_file()
    assert (course.feedback / "alice" / "mathjax" / "config" / "TeX-AMS-MML_HTMLorMML-full.js").is_file()
    bob_page = (course.feedback / "bob" / "01-double" / "double.html").read_text()
    assert "Late submission penalty" in bob_page
    # nbgrader's own export agrees with grades.csv
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(course.root)}
    subprocess.run([str(BIN / "nbgrader"), "export", "--to", "nbexport.csv"], cwd=course.root, env=env,
                   check=True, capture_output=True, timeout=120)
    theirs = {r["student_id"]: r for r in csv.DictReader((course.root / "nbexport.csv").open())}
    ours = _rows(course)
    for student in SUBMITTED:
        assert float(theirs[student]["score"]) == float(ours[student]["score"]), student
        assert float(theirs[student]["late_submission_penalty"]) == float(ours[student]["late_penalty"]), student


def test_a_regenerated_page_keeps_each_test_cells_diagnosis(graded):
    course, _, before, _ = graded
    erin = before["erin"]
    assert (erin["raw_score"], erin["late_penalty"], erin["score"]) == ("1", "1", "0")
    page = course.feedback / "erin" / "01-double" / "double.html"
    first = page.read_text()  # generated again from the gradebook by `grade` itself, for the late penalty
    assert "Late submission penalty" in first and "Details are not shown" not in first
    assert "the hidden tests failed" in first and "SECRET_HIDDEN_CHECK" not in first
    _set_like_formgrader(course, "erin", "explain", 1.0, 0.0, "Say why doubling is linear.")
    assert main(["export", "--course-dir", str(course.root)]) == 0
    again = page.read_text()  # a manual grade and a comment: the page is generated again
    assert "Say why doubling is linear." in again and "Details are not shown" not in again
    assert "the hidden tests failed" in again and again.count("passed (1/1 points)") == 1


def test_an_extension_given_later_lifts_the_penalty_without_regrading(graded):
    course, _, _, _ = graded
    course.deadlines_file.write_text(DEADLINES + 'bob = "2026-01-12 18:00"\n')
    try:
        assert main(["export", "--course-dir", str(course.root)]) == 0
        bob = _rows(course)["bob"]
        assert (bob["late_penalty"], bob["score"], bob["due"]) == ("0", "3", "2026-01-12 18:00:00 UTC")
        assert "Late submission penalty" not in (course.feedback / "bob" / "01-double" / "double.html").read_text()
    finally:
        course.deadlines_file.write_text(DEADLINES)
        assert main(["export", "--course-dir", str(course.root)]) == 0
    assert _rows(course)["bob"]["score"] == "0"


def test_a_bad_deadlines_file_is_one_clear_error(graded, capsys):
    course, _, _, _ = graded
    course.deadlines_file.write_text('[due]\n"09-nothing" = "2026-01-10 12:00"\n')
    try:
        assert main(["export", "--course-dir", str(course.root)]) == 2
        err = capsys.readouterr().err
        assert "has no assignment '09-nothing'" in err and "Traceback" not in err
        course.deadlines_file.write_text('[due]\n"01-double" = "next friday"\n')
        assert main(["export", "--course-dir", str(course.root)]) == 2
        assert "is not a date and time" in capsys.readouterr().err
    finally:
        course.deadlines_file.write_text(DEADLINES)


def test_another_database_carries_manual_grades_and_comments(graded, tmp_path):
    course, _, _, _ = graded
    _set_like_formgrader(course, "alice", "explain", 1.5, 0.5, "Right: linear means constant slope.")
    assert main(["export", "--course-dir", str(course.root)]) == 0  # the record is saved with the course
    other = f"sqlite:///{tmp_path / 'other.db'}"
    moved = CourseDir.at(course.root, other)
    release(moved, course.root.parent / "notebooks", progress=lambda m: None)
    summary = grade(moved, workers=1, cell_timeout=10, progress=lambda m: None)
    assert summary.graded == 0  # nothing regraded
    with open_gradebook(other) as gb:
        nb = gb.find_submission_notebook("double", "01-double", "alice")
        g = next(g for g in nb.grades if g.name == "explain")
        assert (g.manual_score, g.extra_credit, g.needs_manual_grade) == (1.5, 0.5, False)
        assert next(c for c in nb.comments if c.name == "explain").manual_comment.startswith("Right")
    assert _rows(moved)["alice"]["score"] == "5"
    release(course, course.root.parent / "notebooks", progress=lambda m: None)  # back to its own gradebook


def test_deadlines_file_errors_name_the_entry(tmp_path):
    from autograder.coursedir.deadlines import read_deadlines

    path = tmp_path / "deadlines.toml"
    path.write_text('timezone = "Mars/Olympus"\n')
    with pytest.raises(CourseError, match="not a time zone name"):
        read_deadlines(path)
    path.write_text('timezone = "Europe/Berlin"\n[due]\na = "2026-06-01 12:00"\n[extensions.a]\nx = "2 days"\n'
                    'y = "2026-06-05 12:00"\nz = "soon"\n')
    with pytest.raises(CourseError, match=r"\[extensions.a\] z: 'soon' is neither a length"):
        read_deadlines(path, ["a"])
    path.write_text('timezone = "Europe/Berlin"\n[due]\na = "2026-06-01 12:00"\n[extensions.a]\nx = "2 days"\n')
    d = read_deadlines(path, ["a"])
    assert str(d.due["a"]) == "2026-06-01 10:00:00"  # Berlin summer time is UTC+2
    assert d.extensions[("a", "x")].days == 2


def test_lms_files_for_canvas_and_moodle(graded):
    course, _, _, _ = graded
    course.students_csv.write_text('student_id,lms_id,name\nalice,1001,"=HYPERLINK(""http://x"")"\n')
    try:
        assert main(["export", "--course-dir", str(course.root), "--format", "canvas"]) == 0
        canvas = list(csv.reader((course.root / "grades-canvas.csv").open()))
        assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "01-double"]
        assert canvas[1] == ["Points Possible", "", "", "", "", "5"]
        rows = {r[1]: r for r in canvas[2:]}  # Canvas matches a row by ID; no invented SIS Login ID
        assert rows["1001"][:4] == ["'=HYPERLINK(\"http://x\")", "1001", "", ""]  # a formula never reaches the LMS
        assert rows["bob"][:2] == ["bob", "bob"] and rows["bob"][5] == "0"  # late: penalty "zero"
        final = _rows(course)
        assert all(rows[{"alice": "1001"}.get(s, s)][5] == final[s]["score"] for s in SUBMITTED)
        assert main(["export", "--course-dir", str(course.root), "--format", "moodle"]) == 0
        moodle = list(csv.reader((course.root / "grades-moodle.csv").open()))
        assert moodle[0] == ["Email address", "Full name", "01-double"]  # Moodle's import maps users by email
        assert ["", "'=HYPERLINK(\"http://x\")", final["alice"]["score"]] in moodle
    finally:
        course.students_csv.unlink()
