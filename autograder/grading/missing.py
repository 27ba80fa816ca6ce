"""Roster students with no submission: a row in the record, so grades.csv, the report and the LMS files show them.

For every assignment someone handed in, each student of ``course/roster.csv`` without a submission of it
gets a result (a row of the record) whose status starts with :data:`MISSING`. What such a
student scores is the instructor's choice, ``missing = "zero"`` or ``missing = "blank"`` (the default) in
``deadlines.toml``: 0 points, or an empty cell (the LMS then keeps whatever it has).
"""

from __future__ import annotations

from autograder.coursedir.course import CourseDir
from autograder.coursedir.deadlines import read_deadlines
from autograder.coursedir.roster import read_roster
from autograder.coursedir.students import student_records
from autograder.grading.status import Status
from autograder.grading.worker import SubmissionResult

__all__ = ["MISSING", "is_blank", "is_missing", "missing_submissions"]

MISSING = "missing: no submission"
_BLANK = f"{MISSING} (left blank)"


def is_missing(result: SubmissionResult) -> bool:
    """Is this the row of a roster student who handed nothing in?"""
    return str(result.status).startswith(MISSING)


def is_blank(result: SubmissionResult) -> bool:
    """Is this a missing submission whose score cell stays empty (``missing = "blank"``)?"""
    return str(result.status) == _BLANK  # str(): the status as one line, whatever its type


def missing_submissions(course: CourseDir, graded: list[SubmissionResult]) -> list[SubmissionResult]:
    """A result for each roster student with no submission of an assignment others handed in."""
    roster = read_roster(course)
    if roster is None:
        return []
    policy = read_deadlines(course.deadlines_file).missing
    status = _BLANK if policy == "blank" else f"{MISSING} (scored 0)"
    folders = {r.get("id"): folder for folder, r in student_records(course).items()}
    have = {(r.student, r.assignment) for r in graded}
    max_score = {r.assignment: r.max_score for r in graded}
    out = []
    for assignment in (a for a in course.assignments() if a in max_score):
        for s in roster.students:
            folder = folders.get(s.id) or s.folder()
            if (folder, assignment) not in have:
                out.append(SubmissionResult(folder, assignment, "", 0.0, max_score[assignment],
                                            Status(reasons=[status])))
    return out
