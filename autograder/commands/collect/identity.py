"""Who handed in an upload, as one person of the class, and when, as the LMS recorded it.

The name in an LMS download is the LMS's: Canvas's user id, Moodle's participant id (a number per
assignment: the grading worksheet's email says which person it is), nbgrader's exchange user name, or a
folder name. With a roster (``course/roster.csv``) each of them is looked up there and the upload is filed
under that roster student; a name the roster does not know, or knows twice, is not filed and the summary
says why. The submission time is the LMS's record (Canvas's submissions API ``submitted_at``, Moodle's
worksheet ``Last modified (submission)``), nbgrader's exchange folder name (when the folder belongs to that
user, as nbgrader's collect checks), or the instructor's ``--submitted-at``; never a file's or zip entry's
time, never a ``timestamp.txt`` a student uploaded.
"""

from __future__ import annotations

import pwd
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path

from autograder.commands.collect.layouts import Origin, Submitter
from autograder.coursedir.course import CourseDir
from autograder.coursedir.deadlines import parse_time
from autograder.coursedir.lms_files import (
    LmsTime,
    parse_moodle_time,
    read_canvas_submissions,
    read_moodle_worksheet,
)
from autograder.coursedir.roster import Roster, read_roster
from autograder.errors import CourseError

__all__ = ["LmsRecords", "exchange_owner_problem", "load_lms_records", "resolve", "trusted_time"]

_NO_TIME = ("no submission time the LMS vouches for (a file's or zip entry's time is not one, nor a "
            "timestamp.txt in the upload): no late penalty computed")


@dataclass
class LmsRecords:
    """What the LMS's own files say about this download."""

    roster: Roster | None = None
    canvas: dict[str, LmsTime] | None = None  # Canvas user id -> its submission
    moodle: dict[str, dict[str, str]] | None = None  # participant id -> worksheet row
    zone: tzinfo = UTC  # Moodle's worksheet times are in the downloading user's zone
    submitted_at: datetime | None = None  # the instructor's --submitted-at
    people: dict[Submitter, Submitter] = field(default_factory=dict)  # cache: LMS name -> roster person


def load_lms_records(
    course: CourseDir,
    canvas_submissions: Path | Sequence[Path] | None,
    moodle_worksheet: Path | None,
    zone: tzinfo,
    submitted_at: str | None,
) -> LmsRecords:
    """Read the roster and the LMS files given to ``collect`` (a CourseError names a bad one)."""
    lms = LmsRecords(roster=read_roster(course), zone=zone)
    files = [canvas_submissions] if isinstance(canvas_submissions, Path) else list(canvas_submissions or [])
    for path in files:  # one file per page of the API's answer
        lms.canvas = {**(lms.canvas or {}), **read_canvas_submissions(path)}
    if moodle_worksheet is not None:
        sheet = read_moodle_worksheet(moodle_worksheet)
        lms.moodle = {sheet.participant(r): r for r in sheet.rows}
    if submitted_at is not None:
        lms.submitted_at = parse_time(submitted_at, zone, "--submitted-at").replace(tzinfo=UTC)
    return lms


def resolve(raw: Submitter, lms: LmsRecords) -> Submitter:
    """The person ``raw`` (a name in the download) is: a roster student, or the LMS's stable id.

    A CourseError says why when the roster does not know the name or knows it twice.
    """
    if raw in lms.people:
        return lms.people[raw]
    key, name, what = raw.id, raw.name, f"{raw.label} in the download"
    if raw.format == "moodle" and lms.moodle is not None:
        row = lms.moodle.get(raw.id)
        if row is None:
            raise CourseError(f"{what}: participant {raw.id} is not in the grading worksheet; download the "
                              "worksheet of this assignment again")
        key, name = row.get("Email address", "").strip() or raw.id, row.get("Full name", "").strip() or raw.name
    if lms.roster is None:
        person = Submitter(key, name, raw.format)
    else:
        found = _find(lms.roster, key, name, raw, what)
        person = Submitter(found.id, found.name, raw.format)
    lms.people[raw] = person
    return person


def _find(roster: Roster, key: str, name: str, raw: Submitter, what: str):
    try:
        return roster.find(key, what)
    except CourseError:
        if raw.format == "moodle" and name and key == raw.id:  # no worksheet: the full name, when unique
            return roster.find(name, what)
        raise


def trusted_time(origin: Origin, raw: Submitter, lms: LmsRecords) -> tuple[datetime | None, str, str]:
    """``(time, where it comes from, why there is none)`` for the upload at ``origin`` by ``raw``."""
    if lms.submitted_at is not None:
        return lms.submitted_at, "the instructor (--submitted-at)", ""
    if origin.time is not None:
        return origin.time, origin.time_origin, ""
    if raw.format == "ngshare":  # no recorded time matched: time_origin holds why (collect/ngshare.py)
        return None, "", origin.time_origin or _NO_TIME
    if raw.format == "canvas":
        return _canvas_time(origin, raw, lms)
    if raw.format == "moodle":
        if lms.moodle is None:
            return None, "", ("Moodle's download carries no submission time: give collect the assignment's "
                              "grading worksheet (--moodle-worksheet); no late penalty computed")
        text = lms.moodle.get(raw.id, {}).get("Last modified (submission)", "")
        when = parse_moodle_time(text, lms.zone)
        if when is None:
            return None, "", (f"Moodle's worksheet gives no readable submission time ({text.strip()[:40]!r}): "
                              "no late penalty computed")
        return when, "Moodle's grading worksheet (Last modified (submission))", ""
    return None, "", _NO_TIME


def _canvas_time(origin: Origin, raw: Submitter, lms: LmsRecords) -> tuple[datetime | None, str, str]:
    if lms.canvas is not None:
        record = lms.canvas.get(raw.id)
        if record is not None and record.when is not None:
            return record.when, "Canvas's submissions API (submitted_at)", ""
        return None, "", (f"Canvas's submissions API file has no submitted_at for user {raw.id}: no late "
                          "penalty computed; save it again after the download")
    if origin.late_mark is False:
        return None, "Canvas (no LATE_ mark: handed in on time)", ""
    return None, "", ("Canvas marks it LATE_ but the download holds no submission time: save Canvas's "
                      "submissions API answer and collect again with --canvas-submissions; no late penalty "
                      "computed")


def exchange_owner_problem(folder: Path, user: str) -> str:
    """Why nbgrader's inbound ``folder`` claiming ``user`` is refused ("" when its owner is ``user``).

    As nbgrader's ``collect`` (``CollectApp.check_owner``) compares the folder's owner with the user name in
    its name; nbgrader only warns, a grade needs the refusal.
    """
    try:
        owner = pwd.getpwuid(folder.stat().st_uid).pw_name
    except (KeyError, OSError):
        owner = "an unknown user"
    if owner == user:
        return ""
    return (f"an nbgrader exchange folder that says it is {user}'s but belongs to {owner}; not filed "
            "(nbgrader's collect checks the owner too)")
