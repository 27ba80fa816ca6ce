"""The LMS's own files, read as each LMS writes them: who the students are and when they handed in.

* Canvas's gradebook export (Grades → Export → CSV): ``Student, ID, SIS User ID, SIS Login ID, Section``,
  then one column per assignment named ``Title (id)``, a ``Points Possible`` row (sometimes a ``Manual
  Posting`` row too) and one row per student. ``ID`` is Canvas's user id, the number in the download zip's
  file names (:func:`read_canvas_gradebook`).
* Canvas's submissions API (``GET /api/v1/courses/:course/assignments/:assignment/submissions``): a JSON
  list with ``user_id``, ``submitted_at`` (ISO 8601, UTC), ``late``, ``seconds_late`` and
  ``workflow_state`` per student (:func:`read_canvas_submissions`).
* Moodle's grading worksheet (an assignment's "Download grading worksheet"): ``Identifier`` (``Participant
  <n>``, the per-assignment participant id in the download's folder names), ``Full name``, ``Email
  address``, ``Status``, ``Grade``, ..., ``Last modified (submission)``, ``Last modified (grade)``,
  ``Feedback comments`` (:func:`read_moodle_worksheet`). Times are Moodle's ``userdate`` text, e.g.
  ``Monday, 5 October 2026, 11:59 PM``, in the downloading user's time zone; ``-`` when there is none.

Every reader raises a CourseError naming the file and what to do when the file is not the LMS's own.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from dataclasses import dataclass
from pathlib import Path

from autograder.errors import CourseError

__all__ = [
    "CANVAS_FIXED",
    "MOODLE_PARTICIPANT",
    "CanvasGradebook",
    "LmsTime",
    "MoodleWorksheet",
    "canvas_title",
    "parse_moodle_time",
    "read_canvas_gradebook",
    "read_canvas_submissions",
    "read_csv_rows",
    "read_moodle_worksheet",
]

CANVAS_FIXED = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
MOODLE_PARTICIPANT = "Participant "  # Moodle's "hiddenuser" string, followed by the participant id
_CANVAS_TITLE = re.compile(r"^(?P<title>.*) \((?P<id>\d+)\)$")
_MOODLE_FORMATS = ("%A, %d %B %Y, %I:%M %p", "%d %B %Y, %I:%M %p", "%A, %d %B %Y, %H:%M", "%Y-%m-%d %H:%M")


@dataclass(frozen=True)
class LmsTime:
    """A submission as the LMS recorded it: its time (UTC) or why there is none."""

    when: dt.datetime | None
    source: str  # where it comes from, for the summary ("Canvas's submissions API", ...)
    late: bool | None = None  # the LMS's own verdict, where it gives one


@dataclass
class CanvasGradebook:
    """A Canvas gradebook export: its header and rows as Canvas wrote them."""

    header: list[str]
    rows: list[list[str]]  # every row after the header, the Points Possible row included

    def students(self) -> list[dict[str, str]]:
        """One ``{column: value}`` per student row (the Points Possible and Manual Posting rows left out)."""
        out = []
        for row in self.rows:
            first = (row[0] if row else "").strip()
            if first in ("Points Possible", "Manual Posting") or not any(c.strip() for c in row):
                continue
            out.append(dict(zip(self.header, row, strict=False)))
        return out


@dataclass
class MoodleWorksheet:
    """A Moodle grading worksheet: its header and student rows as Moodle wrote them."""

    header: list[str]
    rows: list[dict[str, str]]

    def participant(self, row: dict[str, str]) -> str:
        """The participant id of a row (the number after ``Participant ``)."""
        return row.get("Identifier", "").removeprefix(MOODLE_PARTICIPANT).strip()


def read_csv_rows(path: Path) -> list[list[str]]:
    """The rows of a CSV file (UTF-8, with or without a byte-order mark), or a CourseError naming it."""
    try:
        with Path(path).open(encoding="utf-8-sig", newline="") as fh:
            return [row for row in csv.reader(fh)]
    except FileNotFoundError:
        raise CourseError(f"{path} does not exist: download it from the LMS (docs/instructor.md)") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CourseError(f"{path} is not a readable CSV file ({exc}): download it again from the LMS") from None


def canvas_title(column: str) -> tuple[str, str]:
    """``(title, id)`` of a Canvas assignment column ``Title (id)`` (id "" when the column has none)."""
    m = _CANVAS_TITLE.match(column.strip())
    return (m["title"], m["id"]) if m else (column.strip(), "")


def read_canvas_gradebook(path: Path) -> CanvasGradebook:
    """A Canvas gradebook export (see the module docstring)."""
    rows = read_csv_rows(path)
    if not rows or [c.strip() for c in rows[0][:5]] != CANVAS_FIXED:
        raise CourseError(f"{path} is not a Canvas gradebook export: its first columns should be "
                          f"{', '.join(CANVAS_FIXED)} (Canvas: Grades → Export → Export Entire Gradebook)")
    return CanvasGradebook([c.strip() for c in rows[0]], rows[1:])


def read_moodle_worksheet(path: Path) -> MoodleWorksheet:
    """A Moodle grading worksheet (see the module docstring)."""
    rows = read_csv_rows(path)
    header = [c.strip() for c in rows[0]] if rows else []
    needed = {"Identifier", "Full name", "Grade", "Last modified (grade)"}
    if not needed <= set(header):
        raise CourseError(f"{path} is not a Moodle grading worksheet: it needs the columns "
                          f"{', '.join(sorted(needed))} (Moodle: the assignment's View all submissions → "
                          "Grading action → Download grading worksheet)")
    return MoodleWorksheet(header, [dict(zip(header, row, strict=False)) for row in rows[1:] if any(row)])


def parse_moodle_time(text: str, zone: dt.tzinfo) -> dt.datetime | None:
    """A Moodle worksheet time (``Monday, 5 October 2026, 11:59 PM`` in ``zone``) in UTC; None for ``-``/other."""
    text = " ".join(text.split())
    for fmt in _MOODLE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).replace(tzinfo=zone).astimezone(dt.UTC)
        except ValueError:
            continue
    return None


def read_canvas_submissions(path: Path) -> dict[str, LmsTime]:
    """``{Canvas user id: LmsTime}`` from a saved submissions API answer (one assignment's)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CourseError(f"{path} does not exist: save Canvas's submissions API answer there "
                          "(docs/instructor.md, A semester with Canvas)") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CourseError(f"{path} is not the JSON of Canvas's submissions API ({exc}); save it again") from None
    if isinstance(data, dict) and "errors" in data:
        raise CourseError(f"{path} holds Canvas's error answer {str(data['errors'])[:200]}: check the token "
                          "and the course and assignment ids, then save it again")
    if not isinstance(data, list) or not all(isinstance(s, dict) and "user_id" in s for s in data):
        raise CourseError(f"{path} is not a list of Canvas submissions (each with user_id and submitted_at)")
    assignments = {str(s.get("assignment_id")) for s in data if s.get("assignment_id") is not None}
    if len(assignments) > 1:
        raise CourseError(f"{path} holds submissions of {len(assignments)} Canvas assignments "
                          f"({', '.join(sorted(assignments))}): save one file per assignment")
    out = {}
    for s in data:
        when = _iso_utc(s.get("submitted_at"))
        late = s.get("late") if isinstance(s.get("late"), bool) else None
        out[str(s["user_id"])] = LmsTime(when, "Canvas's submissions API", late)
    return out


def _iso_utc(value: object) -> dt.datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        when = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.astimezone(dt.UTC) if when.tzinfo else None
