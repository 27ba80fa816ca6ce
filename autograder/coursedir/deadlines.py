"""Due dates and per-student extensions: the instructor's ``deadlines.toml``, written into nbgrader's gradebook.

nbgrader keeps a due date on each assignment (``Assignment.duedate``; Formgrader and ``nbgrader db assignment
add --duedate`` set it) and an extension on each submission (``SubmittedAssignment.extension``; only its
Python API sets it). ``deadlines.toml`` in the course folder is a plain file for both, applied by
``release``, ``grade``, ``export`` and ``report`` (:func:`apply_deadlines`)::

    timezone = "Europe/Berlin"          # for times written without an offset (default "UTC")
    missing = "zero"                    # a roster student with no submission scores 0 (default "blank")

    [due]
    "01-chain-rule" = "2026-10-05 23:59"

    [extensions."01-chain-rule"]
    alice = "2 days"                    # a length: minutes, hours, days or weeks
    bob = "2026-10-09 12:00"            # or the student's own due time

A student is named by their id in ``course/roster.csv`` (with a roster, an unknown name is an error naming
the nearest roster ids), else by their folder under ``submitted/``.
An assignment the file names gets the file's due date (the file wins over Formgrader for it); one it does
not name keeps whatever the gradebook holds. An extension is recorded once the student has a submission;
one the file gave and no longer lists is taken back (:func:`autograder.grading.record.refresh_record`).
The late-penalty *policy* is nbgrader's own setting in ``nbgrader_config.py`` (docs/instructor.md).
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import tomllib
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder.errors import CourseError

__all__ = ["Deadlines", "apply_deadlines", "parse_time", "read_deadlines"]

_LENGTH = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(minute|hour|day|week)s?\s*$", re.I)


@dataclass
class Deadlines:
    """What ``deadlines.toml`` says: due times (UTC, naive, as nbgrader stores them) and extensions."""

    due: dict[str, dt.datetime] = field(default_factory=dict)
    # (assignment, student) -> a length of time, or the student's own due time (UTC, naive)
    extensions: dict[tuple[str, str], dt.timedelta | dt.datetime] = field(default_factory=dict)
    missing: str = "blank"  # what a roster student without a submission scores: "zero" or "blank"


def parse_time(value: Any, tz: dt.tzinfo, where: str) -> dt.datetime:
    """``value`` (a TOML date-time or text such as ``2026-10-05 23:59``) as a naive UTC datetime."""
    if isinstance(value, dt.datetime):
        when = value
    elif isinstance(value, dt.date):
        when = dt.datetime.combine(value, dt.time(23, 59, 59))
    elif isinstance(value, str):
        try:
            when = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise CourseError(f"{where}: {value!r} is not a date and time; write it like \"2026-10-05 23:59\" "
                              "(or with an offset, \"2026-10-05 23:59+02:00\")") from None
    else:
        raise CourseError(f"{where}: expected a date and time such as \"2026-10-05 23:59\", got {value!r}")
    if when.tzinfo is None:
        when = when.replace(tzinfo=tz)
    return when.astimezone(dt.UTC).replace(tzinfo=None)


def _extension(value: Any, tz: dt.tzinfo, where: str) -> dt.timedelta | dt.datetime:
    if isinstance(value, str) and (m := _LENGTH.match(value)):
        return dt.timedelta(**{f"{m.group(2).lower()}s": float(m.group(1))})
    if isinstance(value, str | dt.date | dt.datetime):
        try:
            return parse_time(value, tz, where)
        except CourseError:
            pass
    raise CourseError(f"{where}: {value!r} is neither a length (\"2 days\", \"12 hours\") nor a due time "
                      "(\"2026-10-09 12:00\")")


def read_deadlines(
    path: Path, assignments: list[str] | None = None, students: Mapping[str, str] | None = None
) -> Deadlines:
    """``path`` read and checked (an empty :class:`Deadlines` when it does not exist).

    A mistake (bad TOML, an unknown assignment, a time that is not one) is a CourseError naming the entry.
    ``students`` (from the roster: :func:`autograder.coursedir.roster.extension_keys`) maps each name an
    extension may use to the student's folder; a key it does not hold is an error naming the nearest ones.
    """
    if not path.exists():
        return Deadlines()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CourseError(f"{path} is not valid TOML ({exc}); see docs/instructor.md for its format") from None
    unknown_keys = set(data) - {"timezone", "due", "extensions", "missing"}
    if unknown_keys:
        raise CourseError(f"{path}: unknown setting {', '.join(sorted(unknown_keys))}; the file holds "
                          "timezone, missing, [due] and [extensions.<assignment>]")
    if data.get("missing", "blank") not in ("zero", "blank"):
        raise CourseError(f"{path}: missing = {data['missing']!r}; write missing = \"zero\" (a student with no "
                          "submission scores 0) or missing = \"blank\" (their cell stays empty)")
    try:
        tz = zoneinfo.ZoneInfo(str(data.get("timezone", "UTC")))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise CourseError(f"{path}: timezone {data.get('timezone')!r} is not a time zone name "
                          "(use one like \"UTC\" or \"Europe/Berlin\")") from None

    def check_assignment(name: str, where: str) -> None:
        if assignments is not None and name not in assignments:
            raise CourseError(f"{where}: the course has no assignment {name!r} (it has {', '.join(assignments)})")

    out = Deadlines(missing=str(data.get("missing", "blank")))
    due = data.get("due", {})
    if not isinstance(due, dict):
        raise CourseError(f"{path}: [due] must be a table of assignment = \"due time\"")
    for name, value in due.items():
        check_assignment(name, f"{path} [due] {name}")
        out.due[name] = parse_time(value, tz, f"{path} [due] {name}")
    extensions = data.get("extensions", {})
    if not isinstance(extensions, dict):
        raise CourseError(f"{path}: [extensions.<assignment>] must be tables of student = \"2 days\"")
    known = students
    for name, table in extensions.items():
        where = f"{path} [extensions.{name}]"
        check_assignment(name, where)
        if not isinstance(table, dict):
            raise CourseError(f"{where} must be a table of student = \"2 days\" or a due time")
        for student, value in table.items():
            out.extensions[(name, _student(student, known, f"{where} {student}"))] = _extension(
                value, tz, f"{where} {student}")
    return out


def _student(key: str, known: Mapping[str, str] | None, where: str) -> str:
    """The folder of the student ``key`` names (``key`` itself when there is no roster to check against)."""
    if known is None:
        return key
    if key in known:
        return known[key]
    close = difflib.get_close_matches(key, list(known), n=3, cutoff=0.5)
    hint = f"; nearest roster ids: {', '.join(close)}" if close else ""
    raise CourseError(f"{where}: {key!r} is not a student in the roster{hint}. Name the student by the id in "
                      "course/roster.csv")


def apply_deadlines(gb: Any, deadlines: Deadlines) -> list[str]:
    """Write ``deadlines`` into the nbgrader ``Gradebook`` ``gb`` (not committed). Returns problems to report.

    Due dates go on the assignments; an extension goes on the student's submission once there is one (a
    due time is turned into the extension nbgrader stores: that time minus the assignment's due date).
    """
    from nbgrader.api import MissingEntry

    problems = []
    for name, when in deadlines.due.items():
        gb.update_or_create_assignment(name, duedate=when)
    for (name, student), value in deadlines.extensions.items():
        try:
            submission = gb.find_submission(name, student)
        except MissingEntry:
            continue  # nothing handed in yet: recorded when there is a submission
        if isinstance(value, dt.datetime):
            duedate = submission.assignment.duedate
            if duedate is None:
                problems.append(f"{student}/{name}: an extension to {value} but {name} has no due date")
                continue
            value = max(dt.timedelta(0), value - duedate)
        submission.extension = value
    return problems
