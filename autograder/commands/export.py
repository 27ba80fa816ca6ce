"""`backprop-course export [--format csv|canvas|moodle]`: the gradebook's final grades, ready for an LMS.

Every format starts from the same record (:func:`autograder.grading.record.update_record`: manual grades,
extra credit, late penalties) and writes one row per student, one column per assignment, each cell through
:func:`autograder.untrusted.for_csv`:

* ``csv`` (default): ``grades.csv``, one row per student and assignment with every cell's score;
* ``canvas``: ``grades-canvas.csv`` in the layout of Canvas's gradebook import (Grades → Import):
  ``Student, ID, SIS User ID, SIS Login ID, Section``, then one column per assignment, and a
  ``Points Possible`` row. Canvas matches a row to a student by ``ID`` (the LMS id) or ``SIS Login ID``,
  and makes a new assignment for a column name it does not know;
* ``moodle``: ``grades-moodle.csv`` for Moodle's "Import grades from CSV file": an ``ID number`` column
  (map it to "ID number" in the import form), ``Username``, then one column per assignment (map each to
  its grade item, or "new grade item").

Which LMS id a student folder stands for comes from ``students.csv`` in the course folder (written by
``collect``: columns ``student_id`` and ``lms_id``, optionally ``name``); a student it does not list keeps
the folder name as its id. A submission with no grade yet leaves its cell empty (Canvas then keeps the
grade it has).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable
from pathlib import Path

from autograder.coursedir.course import CourseDir
from autograder.coursedir.students import student_records
from autograder.errors import CourseError
from autograder.grading.record import Final, update_record
from autograder.untrusted import for_csv, for_terminal

__all__ = ["FORMATS", "export", "read_students"]

FORMATS = ("csv", "canvas", "moodle")


def read_students(course: CourseDir) -> dict[str, dict[str, str]]:
    """``{student folder: {"lms_id": ..., "name": ...}}``: the LMS ids ``collect`` kept (``students.json``),
    overridden by an instructor's ``students.csv`` (columns student_id, lms_id, optional name) where present."""
    found = {folder: {"lms_id": r.get("id") or folder, "name": r.get("name") or ""}
             for folder, r in student_records(course).items()}
    path = course.students_csv
    if not path.exists():
        return found
    try:
        rows = list(csv.DictReader(path.open(encoding="utf-8", newline="")))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CourseError(f"{path} cannot be read ({exc}): it needs columns student_id and lms_id") from None
    if rows and not {"student_id", "lms_id"} <= set(rows[0]):
        raise CourseError(f"{path} has columns {', '.join(rows[0])}; it needs student_id and lms_id")
    found.update({r["student_id"]: {"lms_id": r.get("lms_id") or r["student_id"], "name": r.get("name") or ""}
                  for r in rows if r.get("student_id")})
    return found


def _table(course: CourseDir, finals: list[Final]) -> tuple[list[str], dict[str, float], dict[str, dict[str, str]]]:
    assignments = course.assignments()
    max_scores: dict[str, float] = {}
    by_student: dict[str, dict[str, str]] = {}
    for f in finals:
        r = f.result
        max_scores[r.assignment] = r.max_score
        by_student.setdefault(r.student, {})[r.assignment] = f"{r.score:g}"
    return [a for a in assignments if a in max_scores], max_scores, by_student


def _write(path: Path, rows: list[list[str]]) -> Path:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for row in rows:
        writer.writerow([for_csv(v) for v in row])
    tmp = path.with_name(f"{path.name}.{os.getpid()}.part")
    tmp.write_text(buf.getvalue(), encoding="utf-8")
    os.replace(tmp, path)
    return path


def export(course: CourseDir, fmt: str = "csv", progress: Callable[[str], None] = print) -> Path:
    """Bring the record up to date and write the grade file for ``fmt`` (see the module docstring)."""
    if fmt not in FORMATS:
        raise CourseError(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")
    finals = update_record(course, progress)
    if not finals:
        raise CourseError(f"nothing graded yet in {course.root}: run `backprop-course grade` first")
    pending = [f.result for f in finals if not f.result.status.startswith("ok")]
    if pending:
        progress(f"note: {len(pending)} submission(s) need your attention; their grades may still change:")
        for r in pending:
            progress(for_terminal(f"  {r.student}/{r.assignment}: {r.status}"))
    if fmt == "csv":
        return course.grades_csv
    students = read_students(course)
    if not students:
        progress("note: no LMS ids from collect (students.json) or students.csv: each student's LMS id is taken "
                 "to be their folder name")
    assignments, max_scores, by_student = _table(course, finals)

    def lms(student: str) -> dict[str, str]:
        return students.get(student, {"lms_id": student, "name": ""})

    if fmt == "canvas":
        rows = [["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *assignments],
                ["Points Possible", "", "", "", "", *(f"{max_scores[a]:g}" for a in assignments)]]
        for student, scores in sorted(by_student.items()):
            who = lms(student)
            rows.append([who["name"] or student, who["lms_id"], "", student, "",
                         *(scores.get(a, "") for a in assignments)])
        return _write(course.root / "grades-canvas.csv", rows)
    rows = [["ID number", "Username", *assignments]]
    for student, scores in sorted(by_student.items()):
        rows.append([lms(student)["lms_id"], student, *(scores.get(a, "") for a in assignments)])
    return _write(course.root / "grades-moodle.csv", rows)
