"""`backprop-course grade`: autograde every submission, N at a time, resumably, into one gradebook.

For each ``submitted/<student>/<assignment>`` whose content (or the assignment's source) changed since
it was last graded, a worker process runs nbgrader's autograde in a scratch course (see
:mod:`autograder.grading.worker`). As each one finishes, this process — the only writer — merges its scores into
the gradebook, moves its autograded notebooks and feedback into the course folder, and saves its result
under ``.grading/results/``. An interrupted run therefore loses at most the submissions in flight, and
the next run grades only what is left. ``grades.csv`` is rebuilt from the saved results.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from autograder.coursedir.course import CourseDir, nbgrader_api
from autograder.coursedir.database import ensure_gradebook, open_gradebook, run_with_retries, safe_url
from autograder.errors import CourseError
from autograder.grading.pool import JobFailure, run_pool
from autograder.grading.worker import CellResult, Job, SubmissionResult, grade_submission
from autograder.isolation.sandbox import sandbox_available, sandbox_summary

__all__ = ["GradeSummary", "grade", "load_results", "write_grades_csv"]

GRADER_VERSION = "1"


@dataclass
class GradeSummary:
    """What one ``grade`` run did."""

    graded: int
    skipped: int
    attention: list[SubmissionResult]  # every saved result (this run or earlier) whose status is not "ok"
    seconds: float


def _digest_folder(folder: Path, h: hashlib._Hash | None = None) -> str:
    h = h or hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and ".ipynb_checkpoints" not in p.parts):
        h.update(str(path.relative_to(folder)).encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def _result_path(course: CourseDir, student: str, assignment: str) -> Path:
    return course.state / "results" / student / f"{assignment}.json"


def load_results(course: CourseDir) -> list[SubmissionResult]:
    """Every saved result, sorted by student then assignment."""
    out = []
    for path in sorted((course.state / "results").glob("*/*.json")):
        try:
            out.append(SubmissionResult.from_json(json.loads(path.read_text())))
        except (ValueError, TypeError, KeyError):
            continue  # a damaged state file means that submission is graded again
    return sorted(out, key=lambda r: (r.student, r.assignment))


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.part")  # two graders in one folder never share it
    tmp.write_text(text)
    os.replace(tmp, path)


def write_grades_csv(course: CourseDir) -> Path:
    """``grades.csv``: one row per student and assignment, one column per graded cell, and a status."""
    results = load_results(course)
    order = {name: i for i, name in enumerate(course.assignments())}
    columns: list[str] = []
    for r in sorted(results, key=lambda r: order.get(r.assignment, 99)):
        for c in r.cells:
            col = f"{c.notebook}:{c.cell}"
            if col not in columns:
                columns.append(col)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["student_id", "assignment", "score", "max_score", *columns, "status", "flags", "sandboxed"])
    for r in results:
        cells = {f"{c.notebook}:{c.cell}": f"{c.score:g}" for c in r.cells}
        writer.writerow(
            [r.student, r.assignment, f"{r.score:g}", f"{r.max_score:g}", *(cells.get(c, "") for c in columns),
             r.status, " | ".join(r.flags), "yes" if r.sandboxed else "NO"]
        )
    _write_atomic(course.grades_csv, buf.getvalue())
    return course.grades_csv


def _template_db(course: CourseDir, assignments: Sequence[str]) -> Path:
    """A gradebook that knows every assignment (built once per version of source/, then reused)."""
    digest = _digest_folder(course.source)[:16]
    folder = course.state / "template" / digest
    db = folder / "gradebook.db"
    if db.exists():
        return db
    # built in a private folder, then renamed into place: another grader in this course folder may be
    # building the same template right now, and must never read a half-built one
    part = folder.with_name(f"{digest}.{os.getpid()}.part")
    if part.exists():
        shutil.rmtree(part)
    part.mkdir(parents=True)
    (part / "source").symlink_to(course.source, target_is_directory=True)
    api = nbgrader_api(CourseDir(part, f"sqlite:///{part / 'gradebook.db'}"))
    for name in assignments:
        result = api.generate_assignment(name, force=True, create=True)
        if not result["success"]:
            shutil.rmtree(part, ignore_errors=True)
            raise CourseError(f"nbgrader cannot build assignment {name} from {course.source}: "
                              f"{(result.get('error') or '').strip().splitlines()[-1:]}")
    if folder.exists() and not db.exists():  # a template left half-built by an older grader
        shutil.rmtree(folder)
    try:
        part.rename(folder)
    except OSError:  # another grader finished first: use its template
        shutil.rmtree(part, ignore_errors=True)
        if not db.exists():
            raise
    return db


def _record(course: CourseDir, result: SubmissionResult) -> None:
    """Write one result's scores into the course gradebook (and note which gradebook in ``result``).

    Another grader may write the same gradebook at the same time (two ``grade`` runs on one PostgreSQL
    database): a lost race (the student or submission row another run inserted first, a deadlock) is
    retried in a new session, a bounded number of times (:func:`autograder.coursedir.database.run_with_retries`).
    """
    from nbgrader.utils import parse_utc


    kwargs = {"timestamp": parse_utc(result.timestamp)} if result.timestamp else {}
    run_with_retries(lambda: _write_scores(course.db_url, result, kwargs), course.db_url,
                     f"cannot write {result.student}/{result.assignment} into the gradebook")
    result.gradebook = safe_url(course.db_url)


def _merge(course: CourseDir, result: SubmissionResult) -> None:
    """Record a new result in the gradebook (:func:`_record`) and move its notebooks and feedback into place."""
    _record(course, result)
    for kind, src in (("autograded", result.autograded), ("feedback", result.feedback)):
        dest = course.root / kind / result.student / result.assignment
        if dest.exists():
            shutil.rmtree(dest)
        if src and Path(src).exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(src, dest)
        setattr(result, kind, str(dest) if dest.exists() else "")


def _check_gradebook(course: CourseDir, assignments: Sequence[str]) -> None:
    """A CourseError saying what to do unless the gradebook can be reached and knows every assignment."""
    from nbgrader.api import MissingEntry


    ensure_gradebook(course.db_url)

    def missing() -> list[str]:
        out = []
        with open_gradebook(course.db_url) as gb:
            for name in assignments:
                try:
                    gb.find_assignment(name)
                except MissingEntry:
                    out.append(name)
        return out

    unknown = run_with_retries(missing, course.db_url, "cannot read the gradebook")
    if unknown:
        raise CourseError(f"the gradebook does not know assignment {', '.join(unknown)}: run `backprop-course "
                          "release` first (with the same --db; it records each assignment)")


def _bar(done: int, total: int, width: int = 24) -> str:
    filled = int(width * done / total) if total else width
    return "[" + "#" * filled + "." * (width - filled) + f"] {done}/{total}"


def grade(
    course: CourseDir,
    *,
    workers: int | None = None,
    assignments: Sequence[str] | None = None,
    students: Sequence[str] | None = None,
    force: bool = False,
    cell_timeout: int = 30,
    submission_timeout: float = 600.0,
    verify: bool = True,
    sandbox: bool = True,
    progress: Callable[[str], None] = print,
) -> GradeSummary:
    """Grade every new or changed submission; see the module docstring. Returns what it did."""
    start = time.perf_counter()
    known = course.assignments()
    if not known:
        raise CourseError(f"no assignments in {course.source}: run `backprop-course release` first")
    chosen = list(assignments or known)
    unknown = [a for a in chosen if a not in known]
    if unknown:
        raise CourseError(f"unknown assignment {', '.join(unknown)}; the course has {', '.join(known)}")
    _check_gradebook(course, chosen)
    if sandbox:

        ok, why = sandbox_available()
        if not ok:
            raise CourseError(f"cannot sandbox the students' code here: {why}. Install bubblewrap "
                              "(apt-get install bubblewrap) and grade as root or where unprivileged user "
                              "namespaces are allowed, or pass --no-sandbox to grade without it (grades.csv "
                              "and the report then mark those grades).")
        progress(sandbox_summary())
    template = _template_db(course, known)

    jobs: list[Job] = []
    skipped = 0
    remerge: list[SubmissionResult] = []
    gradebook = safe_url(course.db_url)
    student_dirs = sorted(p for p in course.submitted.glob("*") if p.is_dir()) if course.submitted.exists() else []
    if students:
        missing = sorted(set(students) - {p.name for p in student_dirs})
        if missing:
            raise CourseError(f"no submissions from {', '.join(missing)} in {course.submitted}")
        student_dirs = [p for p in student_dirs if p.name in set(students)]
    for student_dir in student_dirs:
        for assignment in chosen:
            folder = student_dir / assignment
            if not folder.is_dir():
                continue
            h = hashlib.sha256(f"{GRADER_VERSION}|{cell_timeout}|{verify}|{sandbox}|".encode())
            _digest_folder(course.source / assignment, h)
            digest = _digest_folder(folder, h)
            saved = _result_path(course, student_dir.name, assignment)
            if not force and saved.exists():
                try:
                    data = json.loads(saved.read_text())
                    if data.get("digest") == digest:
                        skipped += 1
                        if data.get("gradebook") != gradebook:  # graded, but not yet in this --db
                            remerge.append(SubmissionResult.from_json(data))
                        continue
                except (ValueError, TypeError):
                    pass
            jobs.append(Job(
                student=student_dir.name,
                assignment=assignment,
                submission=str(folder),
                source=str(course.source),
                template_db=str(template),
                scratch=str(course.state / "work" / f"{student_dir.name}__{assignment}"),
                notebooks=tuple(sorted(p.stem for p in (course.source / assignment).glob("*.ipynb"))),
                cell_timeout=cell_timeout,
                digest=digest,
                verify=verify,
                sandbox=sandbox,
            ))
    n_workers = max(1, workers or os.cpu_count() or 1)
    progress(f"grading {len(jobs)} submission(s) with {n_workers} worker(s); {skipped} unchanged since last "
             f"graded (use --force to regrade them)")
    for result in remerge:
        _record(course, result)  # its files are in place since it was first graded
        _write_atomic(_result_path(course, result.student, result.assignment), json.dumps(result.to_json(), indent=1))
    if remerge:
        progress(f"recorded {len(remerge)} already graded submission(s) in the gradebook {gradebook}")
    done = 0

    def on_result(job: Job, outcome: SubmissionResult | JobFailure) -> None:
        nonlocal done
        if isinstance(outcome, JobFailure):
            outcome = _failed_result(course, job, outcome.reason)
        _merge(course, outcome)
        _write_atomic(_result_path(course, job.student, job.assignment), json.dumps(outcome.to_json(), indent=1))
        shutil.rmtree(job.scratch, ignore_errors=True)
        done += 1
        flag = "" if outcome.status.startswith("ok") else f"  NEEDS ATTENTION: {outcome.status}"
        progress(f"{_bar(done, len(jobs))} {job.student}/{job.assignment}: "
                 f"{outcome.score:g}/{outcome.max_score:g} ({outcome.seconds:.1f} s){flag}")

    try:
        course.state.mkdir(parents=True, exist_ok=True)
        log = str(course.state / "workers.log")
        run_pool(grade_submission, jobs, n_workers, submission_timeout, on_result, log=log)
    finally:
        write_grades_csv(course)
    attention = [r for r in load_results(course) if not r.status.startswith("ok")]
    return GradeSummary(len(jobs), skipped, attention, time.perf_counter() - start)


def _failed_result(course: CourseDir, job: Job, reason: str) -> SubmissionResult:
    """A zero score with the reason, for a submission whose grading was stopped or crashed.

    The graded cells come from the job's template gradebook (a local SQLite file, never the course's).
    """

    result = SubmissionResult(job.student, job.assignment, job.digest, status=reason)
    with open_gradebook(f"sqlite:///{job.template_db}") as gb:
        for name in job.notebooks:
            for cell in sorted(gb.find_notebook(name, job.assignment).grade_cells, key=lambda c: c.name):
                result.cells.append(CellResult(name, cell.name, 0.0, float(cell.max_score)))
    result.max_score = sum(c.max_score for c in result.cells)
    return result


def _write_scores(db_url: str, result: SubmissionResult, kwargs: dict) -> None:
    """One attempt of :func:`_record`, in a new session: all of it commits, or none."""

    scores = {(c.notebook, c.cell): c for c in result.cells}
    with open_gradebook(db_url) as gb:
        gb.update_or_create_student(result.student)
        gb.update_or_create_submission(result.assignment, result.student, **kwargs)
        for notebook in {c.notebook for c in result.cells}:
            nb = gb.find_submission_notebook(notebook, result.assignment, result.student)
            for grade in nb.grades:
                cell = scores.get((notebook, grade.name))
                if cell is not None:
                    grade.auto_score = cell.score
                    grade.needs_manual_grade = False
        gb.db.commit()


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use `backprop-course grade`")
