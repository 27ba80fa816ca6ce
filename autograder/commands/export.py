"""`backprop-course export [--format csv|canvas|moodle]`: the gradebook's final grades, ready for an LMS.

Every format starts from the same record (:func:`autograder.grading.record.update_record`: manual grades,
extra credit, late penalties) and writes one row per student, one column per assignment, each cell through
:func:`autograder.untrusted.for_csv`:

* ``csv`` (default): ``grades.csv``, one row per student and assignment with every cell's score;
* ``canvas --lms-file <gradebook export>`` / ``moodle --lms-file <grading worksheet> --assignment A``: the
  LMS's own file filled in, to import as it is (:mod:`autograder.coursedir.lms_fill`; docs/instructor.md,
  "A semester with Canvas/Moodle");
* ``canvas``: ``grades-canvas.csv``, a new file in the layout of Canvas's gradebook import (Grades →
  Import): ``Student, ID, SIS User ID, SIS Login ID, Section``, then one column per assignment (Canvas
  makes a new assignment for a column name it does not know), and a ``Points Possible`` row;
* ``moodle``: ``grades-moodle.csv`` for Moodle's "Import grades from CSV file": ``Email address`` (map it
  to the user's email), ``Full name``, then one column per assignment.

Which LMS id a student folder stands for comes from ``students.json`` (written by ``collect``), overridden
by ``students.csv`` where present; the roster's students with no submission are rows too
(:mod:`autograder.grading.missing`). A submission with no grade yet leaves its cell empty.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from pathlib import Path

from autograder.coursedir.course import CourseDir
from autograder.coursedir.lms_files import read_canvas_gradebook, read_moodle_worksheet
from autograder.coursedir.lms_fill import Cell, canvas_column, fill_canvas, fill_moodle
from autograder.coursedir.roster import read_roster
from autograder.coursedir.students import student_records
from autograder.errors import CourseError
from autograder.fsutil import atomic_write_text
from autograder.grading.missing import is_blank, is_missing
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
        by_student.setdefault(r.student, {})[r.assignment] = "" if is_blank(r) else f"{r.score:g}"
    return [a for a in assignments if a in max_scores], max_scores, by_student


def _write(path: Path, rows: list[list[str]], safe: bool = False) -> Path:
    """Write ``rows`` (each cell through ``for_csv`` unless ``safe``: the LMS's own cells, kept as they are)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for row in rows:
        writer.writerow(row if safe else [for_csv(v) for v in row])
    return atomic_write_text(path, buf.getvalue())


def export(
    course: CourseDir,
    fmt: str = "csv",
    progress: Callable[[str], None] = print,
    *,
    lms_file: Path | None = None,
    columns: Sequence[str] = (),
    assignment: str | None = None,
) -> Path:
    """Bring the record up to date and write the grade file for ``fmt`` (see the module docstring).

    With ``lms_file`` (Canvas's gradebook export, or Moodle's grading worksheet of ``assignment``), that
    file is filled in (:mod:`autograder.coursedir.lms_fill`); ``columns`` holds ``ASSIGNMENT=Canvas title``.
    """
    if fmt not in FORMATS:
        raise CourseError(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")
    if lms_file is not None and fmt == "csv":
        raise CourseError("--lms-file is the LMS's own file: give --format canvas or --format moodle with it")
    if fmt == "moodle" and lms_file is not None and assignment not in course.assignments():
        raise CourseError(f"a Moodle worksheet is one assignment's: say which with --assignment (one of "
                          f"{', '.join(course.assignments())})")
    finals = update_record(course, progress)
    if not finals:
        raise CourseError(f"nothing graded yet in {course.root}: run `backprop-course grade` first")
    pending = [f.result for f in finals if not f.result.status.ok and not is_missing(f.result)]
    if pending:
        progress(f"note: {len(pending)} submission(s) need your attention; their grades may still change:")
        for r in pending:
            progress(for_terminal(f"  {r.student}/{r.assignment}: {r.status}"))
    if fmt == "csv":
        return course.grades_csv
    if lms_file is not None:
        return _fill(course, fmt, finals, lms_file, columns, assignment, progress)
    return _legacy(course, fmt, finals, progress)


def _cells(course: CourseDir, finals: list[Final]) -> dict[str, dict[str, Cell]]:
    """``{LMS id: {assignment: Cell}}`` for every row of the record (missing ones as the policy says)."""
    ids = {folder: r.get("id") or folder for folder, r in student_records(course).items()}
    roster = read_roster(course)
    for s in roster.students if roster else []:
        ids.setdefault(s.folder(), s.id)
    out: dict[str, dict[str, Cell]] = {}
    for f in finals:
        r = f.result
        if is_missing(r):
            cell = Cell("" if is_blank(r) else f"{r.score:g}", "No submission.")
        else:
            parts = [f"{r.score:g} of {r.max_score:g} points"]
            if f.late_penalty:
                parts.append(f"late penalty {f.late_penalty:g} points")
            parts += [f"{k}: {v}" for k, v in sorted(f.comments.items())]
            cell = Cell(f"{r.score:g}", "; ".join(parts) + ".")
        out.setdefault(ids.get(r.student, r.student), {})[r.assignment] = cell
    return out


def _fill(
    course: CourseDir,
    fmt: str,
    finals: list[Final],
    lms_file: Path,
    columns: Sequence[str],
    assignment: str | None,
    progress: Callable[[str], None],
) -> Path:
    cells = _cells(course, finals)
    if fmt == "canvas":
        book = read_canvas_gradebook(lms_file)
        titles = _titles(columns, course.assignments())
        graded = [a for a in course.assignments() if any(f.result.assignment == a for f in finals)]
        chosen = [assignment] if assignment else graded
        index = {a: canvas_column(book, a, titles.get(a), str(lms_file)) for a in chosen}
        rows, unlisted = fill_canvas(book, index, cells)
        for a, i in index.items():
            progress(for_terminal(f"{a} -> Canvas column {book.header[i]!r}"))
        out = course.root / "grades-canvas.csv"
    else:
        sheet = read_moodle_worksheet(lms_file)
        by_email = {r.get("Email address", "").strip().casefold(): sheet.participant(r) for r in sheet.rows}
        mine = {by_email.get(i.casefold(), f"(not in the worksheet) {i}"): c[assignment]
                for i, c in cells.items() if assignment in c}
        rows, unlisted = fill_moodle(sheet, mine)
        out = course.root / f"grades-moodle-{assignment}.csv"
    for who in unlisted:
        progress(for_terminal(f"note: {who} is in the record but not in {lms_file}: not in the file to import"))
    return _write(out, rows, safe=True)


def _titles(columns: Sequence[str], assignments: list[str]) -> dict[str, str]:
    out = {}
    for item in columns:
        name, sep, title = item.partition("=")
        if not sep or name not in assignments or not title.strip():
            raise CourseError(f"--column {item!r}: write ASSIGNMENT='Canvas title (id)', ASSIGNMENT one of "
                              f"{', '.join(assignments)}")
        out[name] = title.strip()
    return out


def _legacy(course: CourseDir, fmt: str, finals: list[Final], progress: Callable[[str], None]) -> Path:
    """A new file in the LMS's import layout (when the instructor has no LMS file to fill)."""
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
            rows.append([who["name"] or student, who["lms_id"], "", "", "",
                         *(scores.get(a, "") for a in assignments)])
        return _write(course.root / "grades-canvas.csv", rows)
    rows = [["Email address", "Full name", *assignments]]
    for student, scores in sorted(by_student.items()):
        who = lms(student)
        email = who["lms_id"] if "@" in who["lms_id"] else ""
        rows.append([email, who["name"] or student, *(scores.get(a, "") for a in assignments)])
    if any(not r[0] for r in rows[1:]):
        progress("note: some students have no email (Moodle's CSV import maps users by email here): give collect "
                 "the grading worksheet, or fill the worksheet instead (export --lms-file)")
    return _write(course.root / "grades-moodle.csv", rows)
