"""LMS files built the way Canvas and Moodle build them, for tests and the semester guide's test.

* Canvas's "Download Submissions" zip (``lib/content_zipper.rb``): entries
  ``<sortable name, lower case, non-word characters removed>_[LATE_]<user id>_<attachment id>_<file name>``,
  every entry stamped with the time the zip was built.
* Canvas's submissions API answer: ``user_id``, ``submitted_at`` (ISO 8601 UTC), ``late``, ``seconds_late``.
* Canvas's gradebook export: ``Student, ID, SIS User ID, SIS Login ID, Section``, ``Title (id)`` columns,
  read-only score columns after them, a ``Points Possible`` row.
* Moodle's "Download all submissions" zip: ``<Full Name>_<participant id>_assignsubmission_file_/<file>``;
  its grading worksheet (UTF-8 with a byte-order mark): ``Identifier`` (``Participant <id>``), ``Full
  name``, ``Email address``, ``Status``, ``Grade``, ``Maximum Grade``, ``Grade can be changed``, ``Last
  modified (submission)``, ``Last modified (grade)``, ``Feedback comments``; times as Moodle's ``userdate``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from autograder.coursedir.lms_files import canvas_title, read_csv_rows

__all__ = ["CanvasSubmission", "MoodleSubmission", "canvas_gradebook", "canvas_import", "canvas_submissions_json",
           "canvas_zip", "moodle_time", "moodle_upload", "moodle_worksheet", "moodle_zip"]


_ATTACHMENT_UNSAFE = re.compile(r'[\x00/\\:*?"<>|]+')


@dataclass
class CanvasSubmission:
    sortable_name: str  # "Müller, Anna"
    user_id: int
    attachment_id: int
    file_name: str
    data: bytes
    submitted_at: dt.datetime  # UTC
    due: dt.datetime  # Canvas's due date, for late/seconds_late

    @property
    def late(self) -> bool:
        return self.submitted_at > self.due


def _canvas_entry(s: CanvasSubmission) -> str:
    user = re.sub(r"_(\d+)_", r"\1", s.sortable_name).lower()
    stem = "_".join([user, *(["LATE"] if s.late else []), str(s.user_id)])
    stem = re.sub(r"[^\w]", "", stem)
    return f"{stem}_{s.attachment_id}_{_ATTACHMENT_UNSAFE.sub('_', s.file_name)}"


def canvas_zip(path: Path, submissions: list[CanvasSubmission], built_at: dt.datetime) -> Path:
    """The zip as Canvas builds it: every entry stamped with the download's time."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for s in submissions:
            zf.writestr(zipfile.ZipInfo(_canvas_entry(s), date_time=built_at.timetuple()[:6]), s.data)
    return path


def canvas_submissions_json(path: Path, submissions: list[CanvasSubmission], assignment_id: int,
                            unsubmitted: list[int] = ()) -> Path:
    """What ``GET /api/v1/courses/:c/assignments/:a/submissions`` answers (one page)."""
    items = [{"id": 9000 + s.user_id, "user_id": s.user_id, "assignment_id": assignment_id,
              "submitted_at": s.submitted_at.strftime("%Y-%m-%dT%H:%M:%SZ"), "late": s.late,
              "seconds_late": max(0, int((s.submitted_at - s.due).total_seconds())), "missing": False,
              "workflow_state": "submitted", "submission_type": "online_upload", "attempt": 1}
             for s in submissions]
    items += [{"id": 9000 + u, "user_id": u, "assignment_id": assignment_id, "submitted_at": None, "late": False,
               "seconds_late": 0, "missing": True, "workflow_state": "unsubmitted", "submission_type": None,
               "attempt": None} for u in unsubmitted]
    path.write_text(json.dumps(items, indent=1), encoding="utf-8")
    return path


def canvas_gradebook(path: Path, students: list[tuple[str, int, str, str]],
                     assignments: list[tuple[str, int, float]]) -> Path:
    """A gradebook export: students (sortable name, id, SIS user id, SIS login id), assignments (title, id,
    points)."""
    header = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section",
              *(f"{t} ({i})" for t, i, _ in assignments), "Current Score", "Unposted Current Score",
              "Final Score", "Unposted Final Score"]
    rows = [header, ["    Points Possible", "", "", "", "", *(f"{p:.2f}" for _, _, p in assignments),
                     "(read only)", "(read only)", "(read only)", "(read only)"]]
    for name, uid, sis, login in [*students, ("Student, Test", 99999, "", "")]:  # Canvas's Student View user
        rows.append([name, str(uid), sis, login, "Backprop 101", *("" for _ in assignments), "", "", "", ""])
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


@dataclass
class MoodleSubmission:
    full_name: str
    participant: int
    email: str
    files: dict[str, bytes]
    modified: dt.datetime | None  # UTC; None: no submission


def moodle_zip(path: Path, submissions: list[MoodleSubmission], built_at: dt.datetime) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for s in submissions:
            for name, data in s.files.items():
                entry = f"{s.full_name}_{s.participant}_assignsubmission_file_/{name}"
                zf.writestr(zipfile.ZipInfo(entry, date_time=built_at.timetuple()[:6]), data)
    return path


def moodle_time(when: dt.datetime | None, zone: dt.tzinfo = dt.UTC) -> str:
    """Moodle's ``userdate`` text (``strftimedatetime``), ``-`` for none."""
    if when is None:
        return "-"
    local = when.astimezone(zone)
    return local.strftime("%A, %-d %B %Y, %-I:%M %p")


def moodle_worksheet(path: Path, submissions: list[MoodleSubmission], max_grade: float,
                     zone: dt.tzinfo = dt.UTC) -> Path:
    header = ["Identifier", "Full name", "Email address", "Status", "Grade", "Maximum Grade",
              "Grade can be changed", "Last modified (submission)", "Last modified (grade)", "Feedback comments"]
    rows = [header]
    for s in submissions:
        status = "Submitted for grading" if s.modified else "No submission"
        rows.append([f"Participant {s.participant}", s.full_name, s.email, status, "", f"{max_grade:.2f}", "Yes",
                     moodle_time(s.modified, zone), "-", ""])
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    path.write_text("\ufeff" + buf.getvalue(), encoding="utf-8")
    return path


# --- what each LMS does with the file it is given back ----------------------------------------------


def canvas_import(original: Path, uploaded: Path) -> dict[tuple[str, str], str]:
    """Canvas's gradebook import of ``uploaded`` into the course ``original`` was exported from.

    Columns: ``Title (id)`` by id, else the exact title; an unknown one would be a new assignment (an error
    here). Rows: the Points Possible row skipped; students by ID. Returns the changes Canvas would show,
    {(user id, assignment id): new value} (a value equal to the gradebook's changes nothing).
    """
    head, *before = read_csv_rows(original)
    known = {canvas_title(h)[1]: canvas_title(h)[0] for h in head[5:] if canvas_title(h)[1]}
    now = {(r[1], canvas_title(h)[1]): v for r in before if r[1] for h, v in zip(head, r, strict=False)}
    students = {r[1] for r in before if r[1]}
    header, *rows = read_csv_rows(uploaded)
    assert header[:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    columns = {}
    for i, h in enumerate(header[5:], start=5):
        title, cid = canvas_title(h)
        by_title = [k for k, v in known.items() if v == h.strip()]
        assert cid in known or len(by_title) == 1, f"Canvas would make a new assignment for {h!r}"
        columns[i] = cid if cid in known else by_title[0]
    out = {}
    for r in rows:
        if r[0].strip() == "Points Possible":
            continue
        assert r[1] in students, f"Canvas matches no student to {r[:2]}"
        out.update({(r[1], a): r[i] for i, a in columns.items() if r[i] != now.get((r[1], a), "")})
    return out


def moodle_upload(original: Path, uploaded: Path) -> dict[str, tuple[str, str]]:
    """Moodle's "Upload grading worksheet": {participant id: (grade, feedback comments)} it would import."""
    before = {r["Identifier"]: r for r in csv.DictReader(original.open(encoding="utf-8-sig"))}
    rows = list(csv.DictReader(uploaded.open(encoding="utf-8-sig")))
    assert rows and {"Identifier", "Grade", "Last modified (grade)"} <= set(rows[0])
    out = {}
    for r in rows:
        assert r["Identifier"].startswith("Participant ") and r["Identifier"] in before
        assert r["Last modified (grade)"] == before[r["Identifier"]]["Last modified (grade)"]  # else skipped
        if r["Grade"] != before[r["Identifier"]]["Grade"] or r["Feedback comments"]:
            out[r["Identifier"].removeprefix("Participant ")] = (r["Grade"], r["Feedback comments"])
    return out
