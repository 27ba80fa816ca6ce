"""A semester with Canvas or Moodle: true submission times, one identity per person, grades that import.

Every LMS file is built as the LMS builds it (testkit/lms_fixtures.py). The import checks follow each LMS's
documented matching rules: Canvas's gradebook import matches a column by ``Title (id)`` (else the exact
title; anything else becomes a new assignment) and a student by ``ID``, skipping the Points Possible row;
Moodle's "Upload grading worksheet" reads ``Identifier`` (``Participant <n>``), ``Grade`` and ``Last
modified (grade)`` (a row whose grade changed in Moodle since then is skipped) and the feedback columns by
their names. Fast tier: no kernel; the export reads a record handed to it.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import shutil
from pathlib import Path

import pytest

import autograder.commands.export as export_module
from autograder.cli import main
from autograder.commands.collect import collect
from autograder.coursedir.course import CourseDir
from autograder.coursedir.deadlines import read_deadlines
from autograder.coursedir.lms_files import read_csv_rows
from autograder.coursedir.roster import Roster, RosterStudent, read_roster, roster_from_file, write_roster
from autograder.coursedir.students import student_records
from autograder.errors import CourseError
from autograder.grading.late import PercentPerDay
from autograder.grading.missing import missing_submissions
from autograder.grading.record import Final, write_grades_csv
from autograder.grading.worker import SubmissionResult
from testkit.lms_fixtures import (
    CanvasSubmission,
    MoodleSubmission,
    canvas_gradebook,
    canvas_import,
    canvas_submissions_json,
    canvas_zip,
    moodle_upload,
    moodle_worksheet,
    moodle_zip,
)
from testkit.pipeline_fixture import make_course_notebooks

UTC = dt.UTC
DUE = dt.datetime(2026, 10, 5, 23, 59, tzinfo=UTC)


@pytest.fixture
def course(tmp_path: Path) -> CourseDir:
    notebooks = make_course_notebooks(tmp_path / "repo")
    c = CourseDir.at(tmp_path / "course")
    shutil.copytree(notebooks, c.source)
    return c


def nb(course: CourseDir, assignment: str) -> bytes:
    name = {"01-double": "double", "02-square": "square"}[assignment]
    return (course.source / assignment / f"{name}.ipynb").read_bytes()


def stamp(course: CourseDir, folder: str, assignment: str) -> str | None:
    path = course.submitted / folder / assignment / "timestamp.txt"
    return path.read_text().strip() if path.exists() else None


def canvas_class(course: CourseDir, tmp_path: Path) -> tuple[list[CanvasSubmission], Path]:
    """Anna handed in on time; Ben handed in on time, then again a day late (Canvas keeps the newest)."""
    subs = [CanvasSubmission("Müller, Anna", 4711, 501, "double.ipynb", nb(course, "01-double"),
                             dt.datetime(2026, 10, 5, 20, 0, tzinfo=UTC), DUE),
            CanvasSubmission("Berg, Ben", 4712, 502, "double-1.ipynb", nb(course, "01-double"),
                             dt.datetime(2026, 10, 6, 21, 0, tzinfo=UTC), DUE)]
    book = canvas_gradebook(tmp_path / "gradebook.csv", [("Müller, Anna", 4711, "S1", "amueller"),
                                                         ("Berg, Ben", 4712, "S2", "bberg"),
                                                         ("Cole, Cleo", 4713, "S3", "ccole")],
                            [("Double", 88001, 3.0), ("Square", 88002, 3.0)])
    return subs, book


def test_canvas_times_come_from_its_api_never_from_the_zip(course, tmp_path):
    subs, book = canvas_class(course, tmp_path)
    write_roster(course, roster_from_file(book))
    assert [s.id for s in read_roster(course).students] == ["4712", "4713", "4711"]  # no Canvas test student
    # downloaded two days after the deadline: every zip entry carries the download's time
    zipped = canvas_zip(tmp_path / "backprop-double submissions.zip", subs, dt.datetime(2026, 10, 7, 9, 0))
    api = canvas_submissions_json(tmp_path / "canvas-01.json", subs, 88001, unsubmitted=[4713])
    report = collect(course, zipped, assignment="01-double", canvas_submissions=api)
    folders = {r["id"]: f for f, r in student_records(course).items()}
    assert set(folders) == {"4711", "4712"} and not report.skipped
    assert stamp(course, folders["4711"], "01-double") == "2026-10-05 20:00:00.000000 UTC"  # on time
    assert stamp(course, folders["4712"], "01-double") == "2026-10-06 21:00:00.000000 UTC"
    # the late resubmission is charged one started day (10 %), not the two the zip's time would give
    late = (dt.datetime(2026, 10, 6, 21, 0) - DUE.replace(tzinfo=None)).total_seconds()
    assert PercentPerDay().late_submission_penalty("4712", 3.0, late) == pytest.approx(0.3)


def test_a_download_after_the_deadline_charges_nobody_on_time_even_without_the_api_file(course, tmp_path):
    subs, book = canvas_class(course, tmp_path)
    zipped = canvas_zip(tmp_path / "double submissions.zip", subs, dt.datetime(2026, 10, 7, 9, 0))
    report = collect(course, zipped, assignment="01-double")
    folders = {r["id"]: f for f, r in student_records(course).items()}
    assert stamp(course, folders["4711"], "01-double") is None  # no time: no penalty can be computed
    times = json.loads((course.root / "submission-times.json").read_text())
    assert times[folders["4711"]]["01-double"] == {"source": "Canvas (no LATE_ mark: handed in on time)",
                                                   "missing": ""}
    assert "Canvas marks it LATE_" in times[folders["4712"]]["01-double"]["missing"]
    assert sum("Canvas marks it LATE_" in n for n in report.notes) == 1  # only Ben's needs the instructor


def moodle_download(course: CourseDir, tmp_path: Path, assignment: str, anna: int, bob: int, when: dt.datetime):
    subs = [MoodleSubmission("Anna Müller", anna, "anna@uni.example",
                             {f"{assignment.split('-')[1]}.ipynb": nb(course, assignment),
                              "timestamp.txt": b"2026-01-01 00:00:00 UTC"}, when),  # backdated by Anna
            MoodleSubmission("Bob Stone", bob, "bob@uni.example", {}, None)]
    zipped = moodle_zip(tmp_path / f"CS101-{assignment}-{anna}.zip", subs, dt.datetime(2026, 10, 9, 8, 0))
    sheet = moodle_worksheet(tmp_path / f"worksheet-{assignment}.csv", subs, 3.0)
    return zipped, sheet


def test_one_moodle_student_across_two_assignments_is_one_person(course, tmp_path):
    z1, s1 = moodle_download(course, tmp_path, "01-double", 1001, 1002, dt.datetime(2026, 10, 5, 21, 0, tzinfo=UTC))
    z2, s2 = moodle_download(course, tmp_path, "02-square", 2417, 2418, dt.datetime(2026, 10, 12, 9, 30, tzinfo=UTC))
    assert main(["roster", str(s1), "--course-dir", str(course.root)]) == 0
    assert [s.id for s in read_roster(course).students] == ["anna@uni.example", "bob@uni.example"]
    collect(course, z1, moodle_worksheet=s1)
    collect(course, z2, moodle_worksheet=s2)
    records = student_records(course)
    assert [r["id"] for r in records.values()] == ["anna@uni.example"]  # one person, not one per assignment
    (folder,) = records
    assert sorted(p.name for p in (course.submitted / folder).iterdir()) == ["01-double", "02-square"]
    # the worksheet's time, never the timestamp.txt Anna uploaded nor the zip's
    assert stamp(course, folder, "01-double") == "2026-10-05 21:00:00.000000 UTC"
    assert stamp(course, folder, "02-square") == "2026-10-12 09:30:00.000000 UTC"


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a folder to another user needs root")
def test_an_exchange_folder_owned_by_another_user_is_refused(course, tmp_path):
    inbound = tmp_path / "inbound"
    forged = inbound / "alice+01-double+2026-10-01 10:00:00.000000 UTC+abc"
    honest = inbound / "nobody+01-double+2026-10-02 10:00:00.000000 UTC+def"
    for folder in (forged, honest):
        folder.mkdir(parents=True)
        (folder / "double.ipynb").write_bytes(nb(course, "01-double"))
        shutil.chown(folder, "nobody")  # alice's name on a folder that user nobody wrote
    report = collect(course, inbound)
    assert any("says it is alice's but belongs to nobody" in s for s in report.skipped)
    assert not (course.submitted / "alice").exists()
    assert stamp(course, "nobody", "01-double") == "2026-10-02 10:00:00.000000 UTC"


def test_names_map_to_the_roster_with_clear_errors(course, tmp_path):
    subs, book = canvas_class(course, tmp_path)
    write_roster(course, roster_from_file(book))
    collect(course, canvas_zip(tmp_path / "d.zip", subs[:1], dt.datetime(2026, 10, 7)), assignment="01-double")
    emailed = tmp_path / "anna-late.ipynb"
    emailed.write_bytes(nb(course, "02-square"))
    # an emailed notebook joins the folder Canvas's download made, by roster id, email or name
    report = collect(course, emailed, student="Müller, Anna", submitted_at="2026-10-12 10:00")
    (folder,) = student_records(course)
    assert (course.submitted / folder / "02-square" / "square.ipynb").exists() and not report.skipped
    assert stamp(course, folder, "02-square") == "2026-10-12 10:00:00.000000 UTC"
    with pytest.raises(CourseError, match=r"'Mueller, Ana' is not in the roster.*nearest roster ids: 4711"):
        collect(course, emailed, student="Mueller, Ana")
    write_roster(course, Roster([*read_roster(course).students, RosterStudent("4799", "Müller, Anna")]))
    # a download's student the roster does not know is not filed, and the summary says whom it is near
    stranger = CanvasSubmission("Muller, Ana", 4771, 503, "double.ipynb", nb(course, "01-double"),
                                dt.datetime(2026, 10, 5, 20, 0, tzinfo=UTC), DUE)
    report = collect(course, canvas_zip(tmp_path / "e.zip", [stranger], dt.datetime(2026, 10, 7)),
                     assignment="01-double")
    assert not report.placed and "'4771' is not in the roster" in report.skipped[0]
    assert "nearest roster ids: 4713, 4712, 4711" in report.skipped[0]
    with pytest.raises(CourseError, match="is the name of 2 students"):
        collect(course, emailed, student="Anna Müller")


def test_an_unknown_extension_key_is_an_error_naming_the_nearest_roster_ids(course, tmp_path):
    _, book = canvas_class(course, tmp_path)
    write_roster(course, roster_from_file(book))
    course.deadlines_file.write_text('[due]\n"01-double" = "2026-10-05 23:59"\n'
                                     '[extensions."01-double"]\n"4711" = "2 days"\n"4721" = "1 day"\n')
    from autograder.coursedir.roster import extension_keys
    with pytest.raises(CourseError, match=r"\[extensions.01-double\] 4721: '4721' is not a student in the "
                                          r"roster; nearest roster ids: 47"):
        read_deadlines(course.deadlines_file, course.assignments(), extension_keys(course))
    course.deadlines_file.write_text('[extensions."01-double"]\n"4711" = "2 days"\n')
    deadlines = read_deadlines(course.deadlines_file, course.assignments(), extension_keys(course))
    assert list(deadlines.extensions) == [("01-double", roster_from_file(book).by_id()["4711"].folder())]


def graded(folder: str, assignment: str, score: float, status: str = "ok") -> Final:
    return Final(SubmissionResult(folder, assignment, "d", score, 3.0, status), raw_score=score)


@pytest.mark.parametrize("policy,cell", [("zero", "0"), ("blank", "")])
def test_a_roster_student_with_no_submission_is_a_missing_row(course, tmp_path, policy, cell):
    _, book = canvas_class(course, tmp_path)
    roster = roster_from_file(book)
    write_roster(course, roster)
    course.deadlines_file.write_text(f'missing = "{policy}"\n')
    folders = {s.id: s.folder() for s in roster.students}
    finals = [graded(folders["4711"], "01-double", 3.0), graded(folders["4712"], "01-double", 2.0)]
    finals += [Final(r, in_gradebook=False) for r in missing_submissions(course, [f.result for f in finals])]
    rows = {r["student_id"]: r for r in csv.DictReader(write_grades_csv(course, finals).open())}
    assert rows[folders["4713"]]["score"] == cell
    assert rows[folders["4713"]]["status"].startswith("missing: no submission")


def test_the_canvas_gradebook_export_is_filled_and_imports_as_it_is(course, tmp_path, monkeypatch):
    _, book = canvas_class(course, tmp_path)
    roster = roster_from_file(book)
    write_roster(course, roster)
    folders = {s.id: s.folder() for s in roster.students}
    finals = [graded(folders["4711"], "01-double", 3.0), graded(folders["4712"], "01-double", 2.7)]
    finals += [Final(r, in_gradebook=False) for r in missing_submissions(course, [f.result for f in finals])]
    monkeypatch.setattr(export_module, "update_record", lambda c, p: finals)
    with pytest.raises(CourseError, match=r"no column for 01-double.*'Double \(88001\)'"):
        export_module.export(course, "canvas", lms_file=book, progress=lambda m: None)
    out = export_module.export(course, "canvas", lms_file=book, columns=["01-double=Double"], progress=print)
    imported = canvas_import(book, out)
    assert imported == {("4711", "88001"): "3", ("4712", "88001"): "2.7"}  # Cleo (blank) and Canvas's test
    # student keep what Canvas has
    out = export_module.export(course, "canvas", lms_file=book, columns=["01-double=Double (88001)"])
    assert read_csv_rows(out)[0][5:] == ["Double (88001)"]  # Canvas's own header: matched by its id


def test_the_moodle_worksheet_is_filled_and_uploads_as_it_is(course, tmp_path, monkeypatch):
    z1, s1 = moodle_download(course, tmp_path, "01-double", 1001, 1002, dt.datetime(2026, 10, 5, 21, 0, tzinfo=UTC))
    write_roster(course, roster_from_file(s1))
    collect(course, z1, moodle_worksheet=s1)
    (folder,) = student_records(course)
    course.deadlines_file.write_text('missing = "zero"\n')
    finals = [graded(folder, "01-double", 2.5)]
    finals[0].late_penalty = 0.5
    finals += [Final(r, in_gradebook=False) for r in missing_submissions(course, [f.result for f in finals])]
    monkeypatch.setattr(export_module, "update_record", lambda c, p: finals)
    with pytest.raises(CourseError, match="say which with --assignment"):
        export_module.export(course, "moodle", lms_file=s1)
    out = export_module.export(course, "moodle", lms_file=s1, assignment="01-double")
    assert moodle_upload(s1, out) == {"1001": ("2.5", "2.5 of 3 points; late penalty 0.5 points."),
                                      "1002": ("0", "No submission.")}


def test_grade_notes_a_missing_trusted_time_where_a_due_date_makes_it_matter(course, tmp_path):
    from autograder.commands.grade import _missing_time

    zipped = canvas_zip(tmp_path / "double submissions.zip", canvas_class(course, tmp_path)[0],
                        dt.datetime(2026, 10, 7, 9, 0))
    collect(course, zipped, assignment="01-double")
    folders = {r["id"]: f for f, r in student_records(course).items()}
    course.deadlines_file.write_text('[due]\n"01-double" = "2026-10-05 23:59"\n')
    assert "Canvas marks it LATE_" in _missing_time(course, folders["4712"], "01-double")
    assert _missing_time(course, folders["4711"], "01-double") == ""  # on time by Canvas's own mark


def test_canvas_api_pages_are_read_together(course, tmp_path):
    subs, _ = canvas_class(course, tmp_path)
    pages = [canvas_submissions_json(tmp_path / f"page{i}.json", [s], 88001) for i, s in enumerate(subs, 1)]
    zipped = canvas_zip(tmp_path / "double submissions.zip", subs, dt.datetime(2026, 10, 7, 9, 0))
    args = [a for p in pages for a in ("--canvas-submissions", str(p))]
    assert main(["collect", str(zipped), "--assignment", "01-double", *args, "--course-dir", str(course.root)]) == 0
    folders = {r["id"]: f for f, r in student_records(course).items()}
    assert stamp(course, folders["4711"], "01-double") == "2026-10-05 20:00:00.000000 UTC"
    assert stamp(course, folders["4712"], "01-double") == "2026-10-06 21:00:00.000000 UTC"
