"""The gradebook is the one record: final scores as nbgrader's gradebook holds them.

``grade`` saves what the autograder found for each submission (``.grading/results/``), and writes the cell
scores into nbgrader's gradebook. What an instructor adds afterwards lives only in the gradebook: manual
grades and extra credit from Formgrader (``Grade.manual_score``, ``Grade.extra_credit``; ``Grade.score``
is the manual score when one is set), comments, due dates and extensions. This module reads it back:

* :func:`refresh_record` brings the gradebook up to date — due dates and extensions from
  ``deadlines.toml`` (:mod:`autograder.coursedir.deadlines`), then every submission's late penalty from
  nbgrader's ``AssignLatePenalties`` with the late-submission plugin configured in the course's
  ``nbgrader_config.py`` (``c.LateSubmissionPlugin.penalty_method = "zero"``, or
  :class:`autograder.grading.late.PercentPerDay`) — and keeps a copy of the human part of each record
  (manual grades, extra credit, comments) under ``.grading/manual/``, so that moving to another ``--db``
  carries it;
* :func:`read_record` returns every graded submission with the gradebook's final score (score − late
  penalty, as ``nbgrader export`` computes it), per-cell scores, comments and what still needs a manual
  grade;
* :func:`update_record` does both, generates again every feedback page whose record changed
  (:func:`refresh_feedback`) and writes ``grades.csv`` (:func:`write_grades_csv`): ``grade``, ``export`` and
  ``report`` run it.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import datetime as dt
import hashlib
import io
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder.coursedir.course import CourseDir, instructor_config, nbgrader_api, nbgrader_config
from autograder.coursedir.database import open_gradebook, run_with_retries
from autograder.coursedir.deadlines import apply_deadlines, read_deadlines
from autograder.coursedir.roster import extension_keys
from autograder.coursedir.students import gradebook_name, student_records
from autograder.fsutil import atomic_write_text
from autograder.grading.feedback_page import make_self_contained
from autograder.grading.missing import is_blank, missing_submissions
from autograder.grading.verdicts import load_verdicts, page_verdicts
from autograder.grading.worker import SubmissionResult
from autograder.untrusted import for_csv

__all__ = ["Final", "feedback_state_path", "final_results", "late_lines", "load_results", "read_record",
           "record_digest", "refresh_feedback", "refresh_record", "restore_human_grades", "update_record",
           "write_grades_csv"]


@dataclass
class Final:
    """One submission as the gradebook holds it now.

    ``result`` is the autograder's result with the gradebook's scores in place (cells, score) and its status
    extended with what needs the instructor (a manual grade still to give); the rest is the gradebook's.
    """

    result: SubmissionResult
    raw_score: float = 0.0  # nbgrader's submission score: manual or auto per cell, plus extra credit
    late_penalty: float = 0.0
    timestamp: dt.datetime | None = None  # UTC, as nbgrader stores it
    due: dt.datetime | None = None  # the student's due date, extension included
    comments: dict[str, str] = field(default_factory=dict)  # "notebook:cell" -> the instructor's comment
    manual_needed: list[str] = field(default_factory=list)  # "notebook:cell" still to grade by hand
    in_gradebook: bool = True


def load_results(course: CourseDir) -> list[SubmissionResult]:
    """Every saved autograder result, sorted by student then assignment (what ``grade`` found)."""
    out = []
    for path in sorted((course.state / "results").glob("*/*.json")):
        try:
            out.append(SubmissionResult.from_json(json.loads(path.read_text())))
        except (ValueError, TypeError, KeyError):
            continue  # a damaged state file means that submission is graded again
    return sorted(out, key=lambda r: (r.student, r.assignment))


def _manual_path(course: CourseDir, student: str, assignment: str) -> Path:
    return course.state / "manual" / student / f"{assignment}.json"


def _write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (see :mod:`autograder.fsutil`)."""
    atomic_write_text(path, text)


def _write_json(path: Path, data: Any) -> None:
    _write_text(path, json.dumps(data, indent=1, sort_keys=True))


def late_penalties(course: CourseDir):
    """nbgrader's ``AssignLatePenalties`` with the course's settings and the instructor's ``nbgrader_config.py``."""
    from nbgrader.preprocessors import AssignLatePenalties

    cfg = nbgrader_config(course)
    cfg.merge(instructor_config(course))
    pre = AssignLatePenalties(config=cfg)
    pre.init_plugin()
    return pre


def _human_part(submission: Any) -> dict[str, Any]:
    """Manual scores, extra credit and comments of one gradebook submission (JSON-ready)."""
    grades, comments = {}, {}
    for nb in submission.notebooks:
        for g in nb.grades:
            if g.manual_score is not None or g.extra_credit is not None:
                grades[f"{nb.name}:{g.name}"] = {"manual_score": g.manual_score, "extra_credit": g.extra_credit,
                                                 "needs_manual_grade": bool(g.needs_manual_grade)}
        for c in nb.comments:
            if c.manual_comment is not None:
                comments[f"{nb.name}:{c.name}"] = c.manual_comment
    return {"grades": grades, "comments": comments}


def restore_human_grades(course: CourseDir, gb: Any, student: str, assignment: str) -> bool:
    """Put the saved human part of a record into ``gb`` where ``gb`` has none (a new ``--db``).

    Returns whether anything was restored. Never overwrites a manual grade or comment ``gb`` already holds.
    """
    path = _manual_path(course, student, assignment)
    if not path.exists():
        return False
    try:
        saved = json.loads(path.read_text())
        grades, comments = saved["grades"], saved["comments"]
    except (ValueError, KeyError, TypeError):
        return False
    changed = False
    for nb in gb.find_submission(assignment, student).notebooks:
        for g in nb.grades:
            s = grades.get(f"{nb.name}:{g.name}")
            if s and g.manual_score is None and g.extra_credit is None:
                g.manual_score, g.extra_credit = s["manual_score"], s["extra_credit"]
                g.needs_manual_grade = bool(s.get("needs_manual_grade")) and g.manual_score is None
                changed = True
        for c in nb.comments:
            text = comments.get(f"{nb.name}:{c.name}")
            if text is not None and c.manual_comment is None:
                c.manual_comment = text
                changed = True
    return changed


def _name(student: Any, records: dict[str, dict[str, str]]) -> None:
    """Give a gradebook student with no name the one ``collect`` kept (Formgrader lists them by it)."""
    if student.first_name is None and student.last_name is None:
        student.first_name, student.last_name = gradebook_name(records.get(student.id), student.id)


def refresh_record(course: CourseDir) -> list[str]:
    """Apply ``deadlines.toml`` and the late-penalty policy to every submission in the gradebook.

    Also gives each student without a name in the gradebook the LMS's name from ``students.json`` and
    saves the human part of every record under ``.grading/manual/``. Returns problems to report
    (an extension that cannot be applied). A mistake in ``deadlines.toml`` or ``nbgrader_config.py`` is a
    CourseError naming it, before anything is written.
    """
    from nbgrader.api import MissingEntry

    deadlines = read_deadlines(course.deadlines_file, course.assignments(), extension_keys(course))
    records = student_records(course)
    penalties = late_penalties(course)
    applied_path = course.state / "deadlines-applied.json"
    try:
        before = {tuple(pair) for pair in json.loads(applied_path.read_text())}
    except (OSError, ValueError, TypeError):
        before = set()

    def run() -> tuple[list[str], dict[tuple[str, str], dict]]:
        humans = {}
        with open_gradebook(course.db_url) as gb:
            problems = apply_deadlines(gb, deadlines)
            for assignment, student in before - set(deadlines.extensions):
                with contextlib.suppress(MissingEntry):  # given by the file, no longer listed: taken back
                    gb.find_submission(assignment, student).extension = None
            for assignment in gb.assignments:
                for submission in assignment.submissions:
                    _name(submission.student, records)
                    seconds_late = submission.total_seconds_late
                    for nb in submission.notebooks:
                        nb.late_submission_penalty = None
                        if seconds_late > 0:
                            penalty = penalties.plugin_inst.late_submission_penalty(
                                submission.student.id, nb.score, seconds_late)
                            if penalty is not None:
                                nb.late_submission_penalty = penalties._check_late_penalty(nb, penalty)
                    humans[(submission.student.id, assignment.name)] = _human_part(submission)
            gb.db.commit()
        return problems, humans

    problems, humans = run_with_retries(run, course.db_url, "cannot update late penalties in the gradebook")
    _write_json(applied_path, sorted(deadlines.extensions))
    for (student, assignment), human in humans.items():
        path = _manual_path(course, student, assignment)
        if human["grades"] or human["comments"]:
            _write_json(path, human)
        elif path.exists():
            path.unlink()  # the instructor removed them: the gradebook is the record
    return problems


def read_record(course: CourseDir) -> list[Final]:
    """Every graded submission as the gradebook holds it (see :class:`Final`), by student then assignment.

    A saved result that is not in this gradebook (grading into it was interrupted) keeps the autograder's
    scores and says so in ``in_gradebook``.
    """
    from nbgrader.api import MissingEntry

    results = load_results(course)

    def run() -> list[Final]:
        out = []
        with open_gradebook(course.db_url) as gb:
            for r in results:
                final = Final(copy.deepcopy(r), raw_score=r.score)
                try:
                    submission = gb.find_submission(r.assignment, r.student)
                except MissingEntry:
                    final.in_gradebook = False
                    out.append(final)
                    continue
                grades = {}
                for nb in submission.notebooks:
                    for g in nb.grades:
                        grades[(nb.name, g.name)] = g
                        if g.needs_manual_grade:
                            final.manual_needed.append(f"{nb.name}:{g.name}")
                    for c in nb.comments:
                        text = c.manual_comment if c.manual_comment is not None else ""
                        if text.strip():
                            final.comments[f"{nb.name}:{c.name}"] = text
                for cell in final.result.cells:
                    g = grades.get((cell.notebook, cell.cell))
                    if g is not None:
                        cell.score = float(g.score)
                        cell.manual = bool(g.needs_manual_grade)
                final.raw_score = float(submission.score)
                final.late_penalty = float(submission.late_submission_penalty or 0.0)
                final.result.score = round(max(0.0, final.raw_score - final.late_penalty), 6)
                final.result.max_score = float(submission.max_score)
                final.timestamp = submission.timestamp
                final.due = submission.duedate
                final.manual_needed.sort()
                final.result.status.manual_needed = list(final.manual_needed)
                out.append(final)
        return out

    return run_with_retries(run, course.db_url, "cannot read the gradebook")


def record_digest(cells: list[tuple[str, str, float]], comments: dict[str, str], penalty: float) -> str:
    """A fingerprint of what a feedback page shows: cell scores, the instructor's comments, the late penalty."""
    h = hashlib.sha256()
    for nb, cell, score in sorted(cells):
        h.update(f"{nb}:{cell}={score:.6g};".encode())
    for key in sorted(comments):
        h.update(f"{key}#{comments[key]};".encode())
    h.update(f"penalty={penalty:.6g}".encode())
    return h.hexdigest()


def _utc(when: dt.datetime | None) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S UTC") if when else ""


def final_results(course: CourseDir, finals: list[Final] | None = None) -> list[SubmissionResult]:
    """Every graded submission with the gradebook's final scores (see :func:`autograder.grading.record.read_record`)."""
    return [f.result for f in (read_record(course) if finals is None else finals)]


def write_grades_csv(course: CourseDir, finals: list[Final] | None = None) -> Path:
    """``grades.csv`` from the gradebook: one row per student and assignment, one column per graded cell.

    ``score`` is the final score (raw score − late penalty, as ``nbgrader export`` computes it); the cells
    hold the gradebook's scores (a manual grade where one is set, extra credit added). Every cell passes
    through :func:`autograder.untrusted.for_csv`.
    """
    finals = read_record(course) if finals is None else finals
    order = {name: i for i, name in enumerate(course.assignments())}
    columns: list[str] = []
    for f in sorted(finals, key=lambda f: order.get(f.result.assignment, 99)):
        for c in f.result.cells:
            col = f"{c.notebook}:{c.cell}"
            if col not in columns:
                columns.append(col)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    header = ["student_id", "assignment", "score", "max_score", *columns, "raw_score", "late_penalty", "submitted",
              "due", "comments", "status", "flags", "sandboxed"]
    writer.writerow([for_csv(h) for h in header])
    for f in finals:
        r = f.result
        cells = {f"{c.notebook}:{c.cell}": f"{c.score:g}" for c in r.cells}
        comments = " | ".join(f"{k}: {v}" for k, v in sorted(f.comments.items()))
        score = "" if is_blank(r) else f"{r.score:g}"
        row = [r.student, r.assignment, score, f"{r.max_score:g}", *(cells.get(c, "") for c in columns),
               f"{f.raw_score:g}", f"{f.late_penalty:g}", _utc(f.timestamp), _utc(f.due), comments,
               r.status.text(), " | ".join(r.flags), "yes" if r.sandboxed else "NO"]
        writer.writerow([for_csv(v) for v in row])
    _write_text(course.grades_csv, buf.getvalue())
    return course.grades_csv


def feedback_state_path(course: CourseDir, student: str, assignment: str) -> Path:
    """Where the fingerprint of what a feedback page shows is kept (see :func:`refresh_feedback`)."""
    return course.state / "feedback" / student / f"{assignment}.txt"


def refresh_feedback(course: CourseDir, finals: list[Final], progress: Callable[[str], None] = print) -> int:
    """Generate again, from the gradebook, every feedback page whose record changed since it was written.

    A manual grade, extra credit, a comment or a late penalty then reaches the student's page (nbgrader's
    ``generate_feedback`` on the course folder, with the course's settings). Each test cell keeps the
    diagnosis the grader gave it (:mod:`autograder.grading.verdicts`), with the record's score. Returns how
    many pages were rewritten.
    """
    api = None
    done = 0
    saved = {(x.student, x.assignment): x for x in load_results(course)}
    page_file = course.state / "feedback" / f"page-verdicts.{os.getpid()}.json"  # read by HideHiddenTests
    try:
        for f in finals:
            r = f.result
            if not f.in_gradebook or not (course.autograded / r.student / r.assignment).is_dir():
                continue
            now = record_digest([(c.notebook, c.cell, c.score) for c in r.cells], f.comments, f.late_penalty)
            state = feedback_state_path(course, r.student, r.assignment)
            raw = saved.get((r.student, r.assignment), r)
            written = state.read_text().strip() if state.exists() else record_digest(
                [(c.notebook, c.cell, c.score) for c in raw.cells], {}, 0.0)
            if written == now:
                continue
            api = api or nbgrader_api(course, extra={"HideHiddenTests.verdicts": str(page_file)})
            verdicts = load_verdicts(course, r.student, r.assignment)
            if verdicts is None:
                page_file.unlink(missing_ok=True)
            else:
                scores = {(c.notebook, c.cell): (c.score, c.max_score) for c in r.cells}
                _write_json(page_file, page_verdicts(verdicts, scores))
            out = api.generate_feedback(r.assignment, r.student, force=True)
            if out["success"]:
                make_self_contained(course.feedback / r.student / r.assignment, course.state / "mathjax")
                _write_text(state, now + "\n")
                done += 1
            else:
                progress(f"  could not update the feedback of {r.student}/{r.assignment}: "
                         f"{((out.get('error') or out.get('log') or '').strip().splitlines() or ['?'])[-1][:200]}")
    finally:
        page_file.unlink(missing_ok=True)
    return done


def late_lines(finals: list[Final]) -> list[str]:
    """One line per submission handed in after its due date (extension included), with its penalty."""
    return [f"  {f.result.student}/{f.result.assignment}: handed in {f.timestamp:%Y-%m-%d %H:%M} UTC, due "
            f"{f.due:%Y-%m-%d %H:%M} UTC, penalty {f.late_penalty:g} point(s)"
            for f in finals if f.timestamp and f.due and f.timestamp > f.due]


def update_record(course: CourseDir, progress: Callable[[str], None] = print) -> list[Final]:
    """Apply deadlines and late penalties in the gradebook, refresh changed feedback, write ``grades.csv``.

    Returns the final record (what ``grades.csv`` holds). Run by ``grade``, ``export`` and ``report``.
    """
    for problem in refresh_record(course):
        progress(f"  deadlines: {problem}")
    finals = read_record(course)
    finals += [Final(r, in_gradebook=False) for r in missing_submissions(course, [f.result for f in finals])]
    n = refresh_feedback(course, finals, progress)
    if n:
        progress(f"updated {n} feedback page(s) from the gradebook (manual grades, comments or late penalties)")
    write_grades_csv(course, finals)
    return finals
