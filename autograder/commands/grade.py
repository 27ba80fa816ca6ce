"""`backprop-course grade`: autograde every submission, N at a time, resumably, into one gradebook.

For each ``submitted/<student>/<assignment>`` whose content (or the assignment's source) changed since
it was last graded, a worker process runs nbgrader's autograde in a scratch course (see
:mod:`autograder.grading.worker`). As each one finishes, this process — the only writer — merges its scores into
the gradebook, moves its autograded notebooks and feedback into the course folder, and saves its result
under ``.grading/results/``. An interrupted run therefore loses at most the submissions in flight, and
the next run grades only what is left.

The gradebook is the one record: after grading, :func:`autograder.grading.record.update_record` applies due
dates, extensions and late penalties there, writes ``grades.csv`` from it (manual grades, extra credit and
late penalties included), and generates again, with nbgrader's ``generate_feedback``, every feedback page
whose record changed since it was written (a manual grade, a comment, a penalty).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.util
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder.coursedir.course import CourseDir, nbgrader_api
from autograder.coursedir.database import ensure_gradebook, open_gradebook, run_with_retries, safe_url
from autograder.coursedir.deadlines import read_deadlines
from autograder.coursedir.lock import holds_grade_lock
from autograder.coursedir.released import changed_since_release, release_command
from autograder.coursedir.submission_times import missing_time_reason
from autograder.errors import CourseError, SandboxUnavailable
from autograder.fsutil import atomic_write_text
from autograder.grading.feedback_page import make_self_contained
from autograder.grading.parts import Part, in_part
from autograder.grading.pool import JobFailure, run_pool
from autograder.grading.record import (
    feedback_state_path,
    late_lines,
    load_results,
    restore_human_grades,
    update_record,
)
from autograder.grading.scan import UNPARSABLE
from autograder.grading.status import Status
from autograder.grading.verdicts import save_verdicts, worker_verdicts
from autograder.grading.worker import CellResult, Job, SubmissionResult, grade_submission
from autograder.isolation.sandbox import parallel_bounded, sandbox_available, sandbox_summary
from autograder.untrusted import for_terminal

__all__ = ["GradeSummary", "course_lib_digest", "grade", "load_results", "parse_timestamp"]

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
    skip = {".ipynb_checkpoints", "__pycache__"}
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not skip & set(p.parts)):
        h.update(str(path.relative_to(folder)).encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def course_lib_digest(folder: Path | None = None) -> str:
    """sha256 of course_lib's package files (``folder``: the installed package by default), bytecode left out.

    Its checkers (``gradcheck``, ``chain_checks``, ``param_checks``), the test-cell helpers (``isolation``,
    ``notebook``, ``params``) and the models the tests compare with decide grades as much as the notebooks
    do: a fix to any of them makes every submission "changed since last graded".
    """
    if folder is None:
        spec = importlib.util.find_spec("course_lib")
        if spec is None or not spec.submodule_search_locations:
            return "no course_lib"
        folder = Path(next(iter(spec.submodule_search_locations)))
    return _digest_folder(Path(folder))


def _result_path(course: CourseDir, student: str, assignment: str) -> Path:
    return course.state / "results" / student / f"{assignment}.json"


def _write_atomic(path: Path, text: str) -> None:
    atomic_write_text(path, text)


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


def parse_timestamp(text: str, now: dt.datetime | None = None) -> tuple[dt.datetime | None, str]:
    """A submission's ``timestamp.txt`` as nbgrader reads it (naive UTC), or None and what is wrong with it.

    Empty, unreadable, before 2000 or more than a day in the future: the time is not used (so no late
    penalty is computed) and the reason becomes that submission's needs-attention note.
    """
    from nbgrader.utils import parse_utc

    text = (text or "").strip()
    if not text:
        return None, ""
    try:
        when = parse_utc(text)
    except (ValueError, OverflowError, TypeError):
        return None, f"timestamp.txt is not a date and time ({text[:60]!r}): no late penalty computed; fix it"
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    if when.year < 2000 or when > now + dt.timedelta(days=1):
        return None, (f"timestamp.txt says {when:%Y-%m-%d %H:%M} UTC, which cannot be a submission time: no "
                      "late penalty computed; fix it")
    return when, ""


def _record(course: CourseDir, result: SubmissionResult, restore: bool = False) -> None:
    """Write one result's scores into the course gradebook (and note which gradebook in ``result``).

    Another grader may write the same gradebook at the same time (two ``grade`` runs on one PostgreSQL
    database): a lost race (the student or submission row another run inserted first, a deadlock) is
    retried in a new session, a bounded number of times (:func:`autograder.coursedir.database.run_with_retries`).
    With ``restore`` (a new ``--db``), the manual grades and comments saved from the earlier gradebook are
    put back (:func:`autograder.grading.record.restore_human_grades`).
    """
    when, problem = parse_timestamp(result.timestamp)
    result.status.add_reason(problem or ("" if when else _missing_time(course, result.student, result.assignment)))
    kwargs = {"timestamp": when} if when else {}
    run_with_retries(lambda: _write_scores(course, result, kwargs, restore), course.db_url,
                     f"cannot write {result.student}/{result.assignment} into the gradebook")
    result.gradebook = safe_url(course.db_url)


def _missing_time(course: CourseDir, student: str, assignment: str) -> str:
    """Why a submission of an assignment with a due date has no trusted time ("" when that costs nothing)."""
    from nbgrader.api import MissingEntry

    reason = missing_time_reason(course, student, assignment)
    if not reason or assignment in read_deadlines(course.deadlines_file).due:
        return reason

    def due() -> bool:
        with open_gradebook(course.db_url) as gb:
            try:
                return gb.find_assignment(assignment).duedate is not None
            except MissingEntry:
                return False

    return reason if run_with_retries(due, course.db_url, "cannot read the gradebook") else ""


def _saved_gradebook(course: CourseDir, student: str, assignment: str) -> str:
    """The gradebook the saved result of this submission was recorded in ("" when none)."""
    try:
        return str(json.loads(_result_path(course, student, assignment).read_text()).get("gradebook") or "")
    except (OSError, ValueError, AttributeError):
        return ""


def _merge(course: CourseDir, result: SubmissionResult) -> None:
    """Record a new result in the gradebook (:func:`_record`) and move its notebooks and feedback into place.

    A submission graded again into another gradebook than before (a new ``--db``) takes its manual grades
    and comments along.
    """
    earlier = _saved_gradebook(course, result.student, result.assignment)
    _record(course, result, restore=earlier not in ("", safe_url(course.db_url)))
    for kind, src in (("autograded", result.autograded), ("feedback", result.feedback)):
        dest = course.root / kind / result.student / result.assignment
        if dest.exists():
            shutil.rmtree(dest)
        if src and Path(src).exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(src, dest)
        setattr(result, kind, str(dest) if dest.exists() else "")
    if result.feedback:
        make_self_contained(Path(result.feedback), course.state / "mathjax")
        feedback_state_path(course, result.student, result.assignment).unlink(missing_ok=True)


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


def _check_released(course: CourseDir, assignments: Sequence[str]) -> None:
    """A CourseError saying what to run when a source notebook changed since it was released.

    Grading goes by ``course/source/``, the copy ``release`` made: a test fixed in the notebooks folder
    counts only once it is released again (then the changed assignments' submissions are graded again).
    """
    notebooks, changed = changed_since_release(course, list(assignments))
    if notebooks is not None and changed:
        raise CourseError(f"the source notebooks of {', '.join(changed)} changed in {notebooks} since the last "
                          f"release, and grading now would use the released version: run "
                          f"`{release_command(course, notebooks)}` first, then grade again (only the submissions "
                          f"of {', '.join(changed)} are graded again)")


def _bar(done: int, total: int, width: int = 24) -> str:
    filled = int(width * done / total) if total else width
    return "[" + "#" * filled + "." * (width - filled) + f"] {done}/{total}"


@holds_grade_lock  # one grade run per course at a time (coursedir/lock.py)
def grade(
    course: CourseDir,
    *,
    workers: int | None = None,
    assignments: Sequence[str] | None = None,
    students: Sequence[str] | None = None,
    part: Part | None = None,
    force: bool = False,
    cell_timeout: int = 30,
    submission_timeout: float = 600.0,
    verify: bool = True,
    sandbox: bool = True,
    progress: Callable[[str], None] = print,
) -> GradeSummary:
    """Grade every new or changed submission; see the module docstring. Returns what it did.

    ``students`` and ``part`` (K of N, :mod:`autograder.grading.parts`) choose whose submissions are graded.
    """
    start = time.perf_counter()
    known = course.assignments()
    if not known:
        raise CourseError(f"no assignments in {course.source}: run `backprop-course release` first")
    chosen = list(assignments or known)
    unknown = [a for a in chosen if a not in known]
    if unknown:
        raise CourseError(f"unknown assignment {', '.join(unknown)}; the course has {', '.join(known)}")
    _check_gradebook(course, chosen)
    _check_released(course, chosen)
    if sandbox:
        workers = _sandbox_workers(workers, progress)
    template = _template_db(course, known)
    settings = f"{GRADER_VERSION}|{cell_timeout}|{verify}|{sandbox}|{course_lib_digest()}|"
    jobs, unchanged, remerge = _plan(course, _student_dirs(course, students, part), chosen, settings, force,
                                     {"template_db": str(template), "cell_timeout": cell_timeout, "verify": verify,
                                      "sandbox": sandbox})
    n_workers = max(1, workers or os.cpu_count() or 1)
    progress(f"grading {len(jobs)} submission(s) with {n_workers} worker(s); {unchanged} unchanged since last "
             f"graded (use --force to regrade them)")
    _remerge(course, remerge, progress)
    try:
        course.state.mkdir(parents=True, exist_ok=True)
        run_pool(grade_submission, jobs, n_workers, submission_timeout, _on_result(course, len(jobs), progress),
                 log=str(course.state / "workers.log"))
    finally:
        finals = update_record(course, progress)
    late = late_lines(finals)
    if late:
        progress(f"late: {len(late)} submission(s) (penalty from nbgrader's late-submission plugin; see "
                 "deadlines.toml and nbgrader_config.py)")
        for line in late:
            progress(for_terminal(line))
    attention = [f.result for f in finals if not f.result.status.ok]
    return GradeSummary(len(jobs), unchanged, attention, time.perf_counter() - start)


def _sandbox_workers(workers: int | None, progress: Callable[[str], None]) -> int | None:
    """Check the sandbox can be had, say which limits hold, and return the workers it allows."""
    ok, why = sandbox_available()
    if not ok:
        raise SandboxUnavailable(f"cannot sandbox the students' code here: {why}. Install bubblewrap "
                                 "(apt-get install bubblewrap) and grade as root or where unprivileged user "
                                 "namespaces are allowed, or pass --no-sandbox to grade without it (grades.csv "
                                 "and the report then mark those grades).")
    summary = sandbox_summary()
    if (workers is None or workers > 1) and not parallel_bounded():
        workers = 1  # per-process limits only: side by side, submissions would share (and break) them
        summary += ("; grading ONE submission at a time: without per-submission cgroups, CPU has no "
                    "per-submission quota and memory is only watched, so submissions side by side could starve "
                    "each other")
    progress(summary)
    return workers


def _student_dirs(course: CourseDir, students: Sequence[str] | None, part: Part | None = None) -> list[Path]:
    """The students' folders under ``submitted/`` (only ``students`` when given, an unknown one an error; only
    those in ``part`` when given)."""
    dirs = sorted(p for p in course.submitted.glob("*") if p.is_dir()) if course.submitted.exists() else []
    if students:
        missing = sorted(set(students) - {p.name for p in dirs})
        if missing:
            raise CourseError(f"no submissions from {', '.join(missing)} in {course.submitted}")
        dirs = [p for p in dirs if p.name in set(students)]
    return [p for p in dirs if in_part(p.name, part)]


def _plan(
    course: CourseDir, student_dirs: list[Path], chosen: list[str], settings: str, force: bool, fields: dict[str, Any]
) -> tuple[list[Job], int, list[SubmissionResult]]:
    """The jobs to grade, how many submissions are unchanged, and the unchanged ones not yet in this gradebook.

    A submission is unchanged when the digest of the settings, its assignment's source (tests) and its own
    files equals the one saved when it was last graded; ``settings`` holds course_lib's digest too. ``fields``
    are the :class:`Job` fields every job shares (the template gradebook, the cell timeout, the mode).
    """
    jobs: list[Job] = []
    unchanged = 0
    remerge: list[SubmissionResult] = []
    gradebook = safe_url(course.db_url)
    for student_dir in student_dirs:
        for assignment in chosen:
            folder = student_dir / assignment
            if not folder.is_dir():
                continue
            h = hashlib.sha256(settings.encode())
            _digest_folder(course.source / assignment, h)
            digest = _digest_folder(folder, h)
            saved = _saved_if_unchanged(_result_path(course, student_dir.name, assignment), digest, force)
            if saved is not None:
                unchanged += 1
                if saved.get("gradebook") != gradebook:  # graded, but not yet in this --db
                    remerge.append(SubmissionResult.from_json(saved))
                continue
            jobs.append(Job(
                student=student_dir.name,
                assignment=assignment,
                submission=str(folder),
                source=str(course.source),
                scratch=str(course.state / "work" / f"{student_dir.name}__{assignment}"),
                notebooks=tuple(sorted(p.stem for p in (course.source / assignment).glob("*.ipynb"))),
                digest=digest,
                **fields,
            ))
    return jobs, unchanged, remerge


def _saved_if_unchanged(saved: Path, digest: str, force: bool) -> dict | None:
    """The saved result when it was graded from exactly ``digest`` (and ``force`` is off), else None."""
    if force or not saved.exists():
        return None
    try:
        data = json.loads(saved.read_text())
    except (ValueError, TypeError):
        return None
    return data if isinstance(data, dict) and data.get("digest") == digest else None


def _remerge(course: CourseDir, remerge: list[SubmissionResult], progress: Callable[[str], None]) -> None:
    """Record already graded submissions in a gradebook that lacks them (a new ``--db``)."""
    for result in remerge:
        try:
            _record(course, result, restore=True)  # its files are in place since it was first graded
            result.status.not_recorded = ""
        except Exception as exc:  # noqa: BLE001 - one submission never stops the class (see _isolated)
            _not_recorded(result, exc)
        _write_atomic(_result_path(course, result.student, result.assignment), json.dumps(result.to_json(), indent=1))
    if remerge:
        progress(f"recorded {len(remerge)} already graded submission(s) in the gradebook {safe_url(course.db_url)}")


def _on_result(
    course: CourseDir, total: int, progress: Callable[[str], None]
) -> Callable[[Job, SubmissionResult | JobFailure], None]:
    """What the pool calls with each submission's outcome: record it on its own, save it, say it."""
    done = 0

    def on_result(job: Job, outcome: SubmissionResult | JobFailure) -> None:
        nonlocal done
        failed = isinstance(outcome, JobFailure)
        if isinstance(outcome, JobFailure):
            outcome = _failed_result(course, job, outcome.reason)
        _unparsable_needs_attention(outcome)
        try:  # each result is merged on its own: one that cannot be recorded is that submission's row only
            _merge(course, outcome)
        except Exception as exc:  # noqa: BLE001 - whatever one submission holds, the class's grading goes on
            _not_recorded(outcome, exc)
        save_verdicts(course, job.student, job.assignment, None if failed else worker_verdicts(outcome, job.scratch))
        _write_atomic(_result_path(course, job.student, job.assignment), json.dumps(outcome.to_json(), indent=1))
        shutil.rmtree(job.scratch, ignore_errors=True)
        done += 1
        flag = "" if outcome.status.ok else f"  NEEDS ATTENTION: {outcome.status}"
        progress(for_terminal(f"{_bar(done, total)} {job.student}/{job.assignment}: "
                              f"{outcome.score:g}/{outcome.max_score:g} ({outcome.seconds:.1f} s){flag}"))

    return on_result


def _unparsable_needs_attention(result: SubmissionResult) -> None:
    """A cell Python's parser gives up on (a parser bomb: RecursionError, MemoryError) needs the instructor."""
    bombs = [f for f in result.flags if UNPARSABLE in f]
    if bombs:
        result.status.add_reason(f"{bombs[0]}{f' (and {len(bombs) - 1} more)' if len(bombs) > 1 else ''}")


def _not_recorded(result: SubmissionResult, exc: Exception) -> None:
    """Mark ``result`` as not in the gradebook (the next ``grade`` run records it again), needing attention."""
    result.gradebook = ""
    if not result.status.not_recorded:
        result.status.not_recorded = for_terminal(f"{type(exc).__name__}: {exc}"[:300])


def _failed_result(course: CourseDir, job: Job, reason: str) -> SubmissionResult:
    """A zero score with the reason, for a submission whose grading was stopped or crashed.

    The graded cells come from the job's template gradebook (a local SQLite file, never the course's).
    """

    result = SubmissionResult(job.student, job.assignment, job.digest, status=Status(reasons=[reason]))
    with open_gradebook(f"sqlite:///{job.template_db}") as gb:
        for name in job.notebooks:
            for cell in sorted(gb.find_notebook(name, job.assignment).grade_cells, key=lambda c: c.name):
                result.cells.append(CellResult(name, cell.name, 0.0, float(cell.max_score)))
    result.max_score = sum(c.max_score for c in result.cells)
    return result


def _write_scores(course: CourseDir, result: SubmissionResult, kwargs: dict, restore: bool) -> None:
    """One attempt of :func:`_record`, in a new session: all of it commits, or none.

    As nbgrader's autograde does: a manually graded cell keeps no auto score and needs a manual grade until
    the instructor gives one, and a cell whose manual grade is already set is marked for review
    (``needs_manual_grade``), never overwritten: the manual grade stays the cell's score.
    """

    scores = {(c.notebook, c.cell): c for c in result.cells}
    with open_gradebook(course.db_url) as gb:
        gb.update_or_create_student(result.student)
        gb.update_or_create_submission(result.assignment, result.student, **kwargs)
        for notebook in {c.notebook for c in result.cells}:
            nb = gb.find_submission_notebook(notebook, result.assignment, result.student)
            for grade in nb.grades:
                cell = scores.get((notebook, grade.name))
                if cell is not None:
                    grade.auto_score = None if getattr(cell, "manual", False) else cell.score
                    grade.needs_manual_grade = grade.manual_score is not None or grade.auto_score is None
        if restore:
            restore_human_grades(course, gb, result.student, result.assignment)
        gb.db.commit()


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use `backprop-course grade`")
