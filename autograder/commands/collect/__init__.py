"""`backprop-course collect SOURCE`: file student notebooks under ``submitted/<student>/<assignment>/``.

SOURCE is a folder or a zip (an LMS download). A file is filed by **where it came from**: its place in
SOURCE says which student handed it in and, where the layout says it, through which assignment's upload
slot. Accepted layouts (after an optional wrapper folder, see below):

* nbgrader's own: ``<student>/<assignment>/<notebook>.ipynb``, i.e. a copy of ``submitted/``, and the
  exchange's inbound layout ``<student>+<assignment>+<time>[+<random>]/...``;
* one folder per student: ``<student>/<file>.ipynb`` (the assignment from ``--assignment`` or the zip's name);
* Canvas's "Download Submissions" zip: flat files ``<name>_[LATE_]<user id>_<submission id>_<file>``
  (the student is Canvas's user id, its name part kept for the folder name);
* Moodle's "Download all submissions" zip: folders ``<Full Name>_<participant id>_assignsubmission_file_/``
  or flat files ``<Full Name>_<participant id>_assignsubmission_file_<file>``;
* any other flat file ``<student>_<anything>.ipynb`` (the student id is the text before the first ``_``);
* one notebook (an emailed one), whose student ``--student`` names;
* with ``--ngshare``: what ``nbgrader collect`` fetched from the hub's ngshare exchange,
  ``<student>/<assignment>/``, each checked against ngshare's own record (:mod:`.ngshare`).

A single top-level folder is unwrapped only when it holds per-student entries (folders that are not
assignments, or files named the LMS way); a student's own folder of assignments is never taken for one.

The assignment comes from the path (``<student>/<assignment>/``, nbgrader's inbound name), else
``--assignment``, else the zip's (or wrapper folder's) name when it names exactly one assignment. Only when
none of these says which assignment is the notebook's content (its nbgrader cell ids) used, and the summary
says so. When the slot and the content disagree (a finished 04 handed in through 01's slot), nothing is
filed: the summary names the file and the flag ``--accept-mismatch STUDENT/ASSIGNMENT`` that files it as
ASSIGNMENT once the instructor agrees. Inside an assignment, a renamed notebook is recognised by content.

Students stay distinct: with a roster (``course/roster.csv``, see :mod:`autograder.coursedir.roster`) every
name in the download is looked up there (Canvas's user id, Moodle's participant id through the grading
worksheet's email, an exchange user name, a folder name, an emailed notebook's ``--student``), and a name
it does not know, or knows twice, is not filed and the summary says why. Without one, the LMS's id is the
record. The folder name is a short transliteration with a hash when it had to change
(:func:`autograder.untrusted.for_filename`), and ``students.json`` maps each folder to the student's id and
name. A folder that already belongs to another student is refused. Each member is streamed with a size cap
(``--max-notebook-mb``, counting the bytes actually decompressed, so a zip bomb is refused after the cap,
never read whole). A bad entry is skipped with a reason and the rest is filed.

The submission time written to ``timestamp.txt`` (nbgrader's format, read by its late-penalty machinery)
is one the LMS vouches for (:mod:`autograder.commands.collect.identity`): Canvas's submissions API,
Moodle's grading worksheet, nbgrader's exchange folder name when the folder belongs to that user, or the
instructor's ``--submitted-at``. Never a file's or zip entry's time (Canvas stamps its whole zip with the
download's time) and never a ``timestamp.txt`` in a student's upload. Where there is none, no
``timestamp.txt`` is written and ``submission-times.json`` keeps why (``grade`` shows it). A resubmission
never destroys the earlier one: the earlier folder moves to ``archive/<student>/<assignment>/<time>/``.
"""

from __future__ import annotations

import tempfile
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from autograder.commands.collect.filing import (
    Candidate,
    file_submission,
    folder_for,
    identify_all,
    notebook_fingerprints,
)
from autograder.commands.collect.identity import (
    LmsRecords,
    exchange_owner_problem,
    load_lms_records,
    resolve,
    trusted_time,
)
from autograder.commands.collect.layouts import (
    FOLDER_NAME_LENGTH,
    MOODLE_FOLDER,
    OLDEST,
    Origin,
    Submitter,
    is_wrapper,
    named_assignment,
    origin_of,
    parse_inbound,
)
from autograder.commands.collect.ngshare import NGSHARE_SOURCE, NgshareRecord, exchange_time, ngshare_record
from autograder.commands.collect.sources import MIB, SourceEntry, TooBig, is_junk, open_entries, stage_entry
from autograder.commands.collect.summary import CollectReport
from autograder.commands.collect.summary import show as _show
from autograder.coursedir.course import CourseDir
from autograder.coursedir.roster import save_records
from autograder.coursedir.students import STUDENTS_FILE, student_records
from autograder.coursedir.submission_times import record_time
from autograder.errors import CourseError

__all__ = [
    "DEFAULT_MAX_NOTEBOOK_BYTES",
    "FOLDER_NAME_LENGTH",
    "MIB",
    "STUDENTS_FILE",
    "CollectReport",
    "collect",
    "notebook_fingerprints",
    "student_records",
]

DEFAULT_MAX_NOTEBOOK_BYTES = 50 * MIB
_MAX_TOTAL_FACTOR = 40  # all members together: at most 40 notebooks' worth of bytes


def _accepted(accept: Iterable[str]) -> set[tuple[str, str]]:
    pairs = set()
    for item in accept:
        student, sep, assignment = item.rpartition("/")
        if not sep or not student or not assignment:
            raise CourseError(f"--accept-mismatch {item!r}: write STUDENT/ASSIGNMENT, as the collect summary shows it")
        pairs.add((student, assignment))
    return pairs


def collect(
    course: CourseDir,
    source: Path,
    *,
    assignment: str | None = None,
    accept_mismatch: Iterable[str] = (),
    max_notebook_bytes: int = DEFAULT_MAX_NOTEBOOK_BYTES,
    timezone: str = "UTC",
    canvas_submissions: Path | Sequence[Path] | None = None,
    moodle_worksheet: Path | None = None,
    student: str | None = None,
    submitted_at: str | None = None,
    ngshare: bool = False,
) -> CollectReport:
    """File every notebook of ``source`` under ``course.submitted``; see the module docstring.

    ``assignment`` names the upload slot of a download that holds one assignment; ``accept_mismatch``
    holds ``STUDENT/ASSIGNMENT`` items: file that student's notebook as ASSIGNMENT although it was handed
    in through another assignment's slot. ``canvas_submissions`` (Canvas's submissions API answer, a file or
    one file per page) and
    ``moodle_worksheet`` (Moodle's grading worksheet) give the LMS's submission times and, for Moodle, who
    each participant is; ``timezone`` reads the worksheet's times and ``submitted_at``. ``student`` names
    the roster student a single notebook (an emailed one) belongs to; ``submitted_at`` is its time.
    ``ngshare``: ``source`` is what ``nbgrader collect`` fetched from ngshare; ngshare's record says who and when.
    """
    source = Path(source)
    if not source.exists():
        raise CourseError(f"{source} does not exist: give the folder or zip of student submissions")
    prints = notebook_fingerprints(course.source)
    if not prints:
        raise CourseError(f"no source notebooks in {course.source}: run `backprop-course release` first")
    _check_flags(prints, assignment, max_notebook_bytes, source, student)
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CourseError(f"--timezone {timezone!r} is not a time zone name (e.g. UTC, Europe/Berlin)") from exc
    accepted = _accepted(accept_mismatch)
    lms = load_lms_records(course, canvas_submissions, moodle_worksheet, zone, submitted_at)
    if student is not None:
        resolve(Submitter(student), lms)  # an unknown or ambiguous name stops here, before anything is read
    records = student_records(course)
    report = CollectReport()
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        entries = [e for e in open_entries(source, zone, report, stack, student) if not is_junk(e.parts)]
        base, default, default_how = _layout(entries, source, prints, assignment)
        root = source if source.is_dir() else None
        where = _Where(base, {a for a, _ in prints}, default, default_how, root, lms)
        if ngshare:
            where.ngshare = _ngshare_record(entries, where, root)
        candidates = _read_entries(entries, where, max_notebook_bytes, Path(tmp), report)
        chosen = identify_all(candidates, prints, accepted, report)
        _file_all(course, chosen, lms, records, report)
        save_records(course, records)
    return report


def _check_flags(
    prints: dict[tuple[str, str], set[str]], assignment: str | None, cap: int, source: Path, student: str | None
) -> None:
    assignments = {a for a, _ in prints}
    if assignment is not None and assignment not in assignments:
        raise CourseError(f"--assignment {assignment!r} is not one of this course's assignments: "
                          f"{', '.join(sorted(assignments))}")
    if cap <= 0:
        raise CourseError("--max-notebook-mb must be positive")
    if source.suffix == ".ipynb" and student is None:
        raise CourseError(f"{source} is one notebook: say whose with --student (their roster id, email or name)")
    if student is not None and source.suffix != ".ipynb":
        raise CourseError("--student is for one notebook (an emailed one); an LMS download names its students")


@dataclass
class _Where:
    """What places an entry: the wrapper depth, the course's assignments, the default slot, the LMS records."""

    base: int
    assignments: set[str]
    default: str | None
    default_how: str
    root: Path | None  # the source folder (None for a zip: it keeps no owners)
    lms: LmsRecords
    ngshare: NgshareRecord | None = None  # with --ngshare: who handed in what, and when, as ngshare recorded it


def _ngshare_record(entries: list[SourceEntry], where: _Where, root: Path | None) -> NgshareRecord:
    """ngshare's record of the assignments the folder ``nbgrader collect`` wrote holds."""
    from autograder.settings import COURSE_ID

    if root is None:
        raise CourseError("--ngshare reads the folder `nbgrader collect` wrote, not a zip")
    return ngshare_record(COURSE_ID, {e.parts[where.base + 1] for e in entries if len(e.parts) > where.base + 2
                                      and e.parts[where.base + 1] in where.assignments})


def _layout(
    entries: list[SourceEntry], source: Path, prints: dict[tuple[str, str], set[str]], assignment: str | None
) -> tuple[int, str | None, str]:
    """How many leading path parts are a wrapper folder, and the default slot with how it was known."""
    assignments = {a for a, _ in prints}
    default, default_how = assignment, "--assignment"
    base = 0
    tops = {e.parts[0] for e in entries}
    if len(tops) == 1 and all(len(e.parts) > 1 for e in entries):
        top = next(iter(tops))
        notebooks = {nb for _, nb in prints}
        own = MOODLE_FOLDER.match(top) or parse_inbound(top, assignments)  # one student's LMS folder
        if not own and is_wrapper([e.parts[1:] for e in entries], assignments, notebooks):
            base = 1
            if default is None and (named := named_assignment(top, assignments)):
                default, default_how = named, f"the folder name {_show(top)}"
    if default is None and source.is_file() and (named := named_assignment(source.stem, assignments)):
        default, default_how = named, f"the zip's name {_show(source.name)}"
    return base, default, default_how


def _file_all(
    course: CourseDir,
    chosen: list[Candidate],
    lms: LmsRecords,
    records: dict[str, dict[str, str]],
    report: CollectReport,
) -> None:
    """File each student's notebooks of one assignment together, as one submission, with its LMS time."""
    by_submission: dict[tuple[Submitter, str], list[Candidate]] = {}
    for cand in chosen:
        by_submission.setdefault((cand.origin.student, cand.assignment), []).append(cand)
    for (student, assignment_id), files in sorted(by_submission.items(), key=lambda kv: (kv[0][0].id, kv[0][1])):
        folder = folder_for(student, records, course, report, files)
        if folder is None:
            continue
        newest = max(files, key=lambda c: c.origin.seen or OLDEST).origin
        when, how, missing = trusted_time(newest, newest.raw or student, lms)
        try:
            file_submission(course, folder, student, assignment_id, files, when, how or missing, report)
        except OSError as exc:
            report.skipped.append(f"{_show(student.label)}/{assignment_id}: could not be written "
                                  f"({exc.strerror or exc}); nothing of it was changed")
            continue
        if missing and (course.submitted / folder / assignment_id).is_dir():
            report.notes.append(f"{folder}/{assignment_id}: {missing}")
        record_time(course, folder, assignment_id, how, missing)


def _read_entries(
    entries: list[SourceEntry], where: _Where, cap: int, tmp: Path, report: CollectReport
) -> list[Candidate]:
    """Stage every notebook (streamed, capped) of a known student; skip the rest with a reason."""
    candidates: list[Candidate] = []
    budget = cap * _MAX_TOTAL_FACTOR
    for n, entry in enumerate(entries):
        parts = entry.parts[where.base:]
        rel = "/".join(entry.parts)
        if parts[-1] == "timestamp.txt" and where.ngshare is not None:
            continue  # nbgrader collect wrote it from ngshare's answer: it only picks which recorded time
        if parts[-1] == "timestamp.txt":
            report.notes.append(f"{_show(rel)}: a timestamp.txt in the upload is the student's text, never a "
                                "submission time; ignored")
            continue
        if not parts[-1].endswith(".ipynb"):
            report.skipped.append(f"{_show(rel)}: not a notebook (.ipynb); nothing to grade")
            continue
        origin = _place(entry, where, report)
        if origin is None:
            continue
        total = f"not unpacked, the download gave more than {cap * _MAX_TOTAL_FACTOR / MIB:g} MiB of notebooks " \
                "(split it, or raise --max-notebook-mb)"
        if budget <= 0:
            report.skipped.append(f"{_show(rel)}: {total}")
            continue
        staged = tmp / f"{n}.ipynb"
        try:
            digest = stage_entry(entry, staged, min(cap, budget))
        except TooBig:
            staged.unlink(missing_ok=True)
            report.skipped.append(f"{_show(rel)}: {total}" if budget < cap else
                                  f"{_show(rel)}: larger than {cap / MIB:g} MiB once unpacked (refused after "
                                  "that many bytes; --max-notebook-mb raises the limit for one notebook)")
            continue
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, NotImplementedError) as exc:
            staged.unlink(missing_ok=True)
            report.skipped.append(f"{_show(rel)}: cannot be unpacked ({_show(exc, 120)}); ask for it again")
            continue
        budget -= staged.stat().st_size
        candidates.append(Candidate(rel, origin, staged, digest))
    return candidates


def _place(entry: SourceEntry, where: _Where, report: CollectReport) -> Origin | None:
    """The origin of a notebook entry, its student looked up as a person; None (and why) when there is none."""
    parts = entry.parts[where.base:]
    rel = "/".join(entry.parts)
    origin = origin_of(parts, where.assignments, where.default, where.default_how)
    if origin is None:
        report.skipped.append(f"{_show(rel)}: no student id (use <student>/<file>.ipynb or "
                              "<student>_<file>.ipynb, or the LMS's download as it is)")
        return None
    if origin.student.format == "nbgrader-exchange":
        problem = ("a zip keeps no owner, so nbgrader's exchange time in its name is not used"
                   if where.root is None else
                   exchange_owner_problem(where.root.joinpath(*entry.parts[:where.base + 1]), origin.student.id))
        if problem and where.root is not None:
            report.skipped.append(f"{_show(rel)}: {problem}")
            return None
        if problem:
            origin.time = None
    if where.ngshare is not None and not _from_ngshare(origin, entry, where, report):
        return None
    origin.seen = entry.mtime
    origin.raw = origin.student
    try:
        origin.student = resolve(origin.student, where.lms)
    except CourseError as exc:
        report.skipped.append(f"{_show(rel)}: {_show(str(exc), 300)}")
        return None
    return origin


def _from_ngshare(origin: Origin, entry: SourceEntry, where: _Where, report: CollectReport) -> bool:
    """Check a notebook of ``nbgrader collect``'s ngshare folder against ngshare's record; set its time."""
    parts, rel = entry.parts[where.base:], "/".join(entry.parts)
    if where.ngshare is None or where.root is None or len(parts) < 3 or origin.assignment != parts[1]:
        report.skipped.append(f"{_show(rel)}: not in the layout nbgrader collect writes (<student>/<assignment>/)")
        return False
    login = parts[0]
    folder = where.root.joinpath(*entry.parts[:where.base + 2])
    when, problem = exchange_time(where.ngshare, folder, login, parts[1])
    if when is None and problem.startswith("ngshare has no submission"):
        report.skipped.append(f"{_show(rel)}: {problem}")
        return False
    origin.student = Submitter(login, format="ngshare")
    origin.time, origin.time_origin = when, (NGSHARE_SOURCE if when else problem)  # no time: why not
    return True
