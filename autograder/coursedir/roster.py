"""One student, one identity: the course's roster and the folder each roster student's work is filed in.

``course/roster.csv`` lists the class, one row per person, keyed by the LMS's stable id::

    id,name,email,sis_user_id,sis_login_id
    4711,"Müller, Anna",anna.mueller@uni.example,S-100,amueller

``id`` is Canvas's user id (the ``ID`` column of its gradebook export, the number in its download's file
names) or, for Moodle, the student's email address (Moodle's download and worksheet number participants per
assignment; the email is what stays). ``backprop-course roster FILE`` writes it from the LMS's own file
(:func:`roster_from_file`); an instructor may also write it by hand (``id`` and ``name`` are required).

``course/students.json`` (written by ``collect``, read by :mod:`autograder.coursedir.students`) maps each
folder under ``submitted/`` to the student it holds: ``{"id": roster or LMS id, "name": ..., "format": ...}``.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import re
from dataclasses import dataclass, fields
from pathlib import Path

from autograder.coursedir.course import CourseDir
from autograder.coursedir.lms_files import (
    read_canvas_gradebook,
    read_csv_rows,
    read_moodle_worksheet,
)
from autograder.coursedir.students import STUDENTS_FILE, student_records
from autograder.errors import CourseError
from autograder.fsutil import atomic_write_text
from autograder.untrusted import for_csv, for_filename, printable

__all__ = [
    "ROSTER_FILE",
    "Roster",
    "RosterStudent",
    "extension_keys",
    "folders_by_id",
    "hub_student_id",
    "read_roster",
    "roster_from_file",
    "save_records",
    "write_roster",
]

ROSTER_FILE = "roster.csv"
_CANVAS_TEST_STUDENT = "Student, Test"  # the fake student Canvas adds to every course (Student View)
# a hub user name that is also a safe nbgrader student id (it names exchange folders and `submitted/` entries)
HUB_STUDENT_ID = re.compile(r"[a-z0-9][a-z0-9._@-]{0,99}")
FOLDER_NAME_LENGTH = 40  # keeps submitted/<student>/<assignment>/<notebook> and nbgrader's work paths short


@dataclass(frozen=True)
class RosterStudent:
    """One person of the class."""

    id: str
    name: str
    email: str = ""
    sis_user_id: str = ""
    sis_login_id: str = ""

    def folder(self) -> str:
        """The folder under ``submitted/`` for this student: a safe name with the id in it."""
        return for_filename(f"{self.name}-{self.id}" if self.name else self.id, max_length=FOLDER_NAME_LENGTH)


@dataclass
class Roster:
    """The class: every student, looked up by id, email, SIS ids or (when unique) name."""

    students: list[RosterStudent]

    def by_id(self) -> dict[str, RosterStudent]:
        return {s.id: s for s in self.students}

    def find(self, key: str, what: str) -> RosterStudent:
        """The student ``key`` names (id, email, SIS user or login id, or full name); CourseError if none or two.

        ``what`` says where the key came from, for the error.
        """
        key = printable(key).strip()
        for attr in ("id", "email", "sis_user_id", "sis_login_id"):
            hits = [s for s in self.students if getattr(s, attr) and getattr(s, attr).casefold() == key.casefold()]
            if len(hits) == 1:
                return hits[0]
        hits = [s for s in self.students if _same_name(s.name, key)]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise CourseError(f"{what}: {key!r} is the name of {len(hits)} students in the roster "
                              f"({', '.join(s.id for s in hits)}); name the student by roster id instead")
        raise CourseError(f"{what}: {key!r} is not in the roster ({ROSTER_FILE}){self.nearest(key)}; add the "
                          "student to the roster, or use their roster id")

    def nearest(self, key: str) -> str:
        """``"; nearest: a, b"`` (the roster ids closest to ``key``), or "" when none is close."""
        keys = {s.id: s.id for s in self.students} | {s.email: s.id for s in self.students if s.email} | {
            s.name: s.id for s in self.students if s.name}
        close = difflib.get_close_matches(key, list(keys), n=3, cutoff=0.5)
        ids = list(dict.fromkeys(keys[c] for c in close))
        return f"; nearest roster ids: {', '.join(ids)}" if ids else ""


def _same_name(a: str, b: str) -> bool:
    def norm(s: str) -> str:
        parts = [p.strip() for p in s.casefold().split(",")]
        return " ".join(reversed(parts)) if len(parts) == 2 else " ".join(s.casefold().split())
    return bool(a) and bool(b) and " ".join(norm(a).split()) == " ".join(norm(b).split())


def read_roster(course: CourseDir) -> Roster | None:
    """``course/roster.csv`` (None when the course has none); a CourseError naming what is wrong with it."""
    path = course.root / ROSTER_FILE
    if not path.exists():
        return None
    rows = read_csv_rows(path)
    header = [h.strip() for h in rows[0]] if rows else []
    if not {"id", "name"} <= set(header):
        raise CourseError(f"{path} needs the columns id and name (and optionally email, sis_user_id, "
                          "sis_login_id); write it with `backprop-course roster FILE` from the LMS's file")
    names = [f.name for f in fields(RosterStudent)]
    students, seen = [], set()
    for n, row in enumerate(rows[1:], start=2):
        data = dict(zip(header, (c.strip() for c in row), strict=False))
        if not data.get("id"):
            if any(row):
                raise CourseError(f"{path} line {n}: no id; every student needs the LMS's id (or email)")
            continue
        if data["id"] in seen:
            raise CourseError(f"{path} line {n}: the id {data['id']!r} is listed twice; keep one line per student")
        seen.add(data["id"])
        students.append(RosterStudent(**{k: data.get(k, "") for k in names}))
    return Roster(students)


def write_roster(course: CourseDir, roster: Roster) -> Path:
    """Write ``course/roster.csv`` (every cell through :func:`autograder.untrusted.for_csv`)."""
    names = [f.name for f in fields(RosterStudent)]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(names)
    for s in sorted(roster.students, key=lambda s: (s.name.casefold(), s.id)):
        writer.writerow([for_csv(getattr(s, k)) for k in names])
    path = course.root / ROSTER_FILE
    atomic_write_text(path, buf.getvalue())
    return path


def roster_from_file(path: Path) -> Roster:
    """The class as a Canvas gradebook export or a Moodle grading worksheet lists it (which one, by its header)."""
    header = [h.strip() for h in (read_csv_rows(path) or [[]])[0]]
    if header[:2] == ["Student", "ID"]:
        book = read_canvas_gradebook(path)
        students = [RosterStudent(id=r["ID"].strip(), name=r["Student"].strip(), email="",
                                  sis_user_id=r.get("SIS User ID", "").strip(),
                                  sis_login_id=r.get("SIS Login ID", "").strip())
                    for r in book.students()
                    if r.get("ID", "").strip() and r["Student"].strip() != _CANVAS_TEST_STUDENT]
    elif "Identifier" in header:
        sheet = read_moodle_worksheet(path)
        if "Email address" not in sheet.header:
            raise CourseError(f"{path} has no Email address column: the email is what identifies a Moodle "
                              "student across assignments; download the worksheet with the email shown")
        students = [RosterStudent(id=r["Email address"].strip(), name=r["Full name"].strip(),
                                  email=r["Email address"].strip())
                    for r in sheet.rows if r.get("Email address", "").strip()]
    else:
        raise CourseError(f"{path} is neither a Canvas gradebook export nor a Moodle grading worksheet "
                          "(docs/instructor.md says how to download each)")
    ids = [s.id for s in students]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise CourseError(f"{path} lists {', '.join(twice)} more than once; download it again")
    return Roster(students)


def save_records(course: CourseDir, records: dict[str, dict[str, str]]) -> None:
    """Write ``students.json`` (atomically)."""
    path = course.root / STUDENTS_FILE
    atomic_write_text(path, json.dumps(dict(sorted(records.items())), indent=1, ensure_ascii=False) + "\n")


def folders_by_id(course: CourseDir) -> dict[str, str]:
    """``{student id: folder under submitted/}`` from students.json (a folder is its own id when unlisted)."""
    out = {r.get("id", folder): folder for folder, r in student_records(course).items()}
    if course.submitted.is_dir():
        for p in course.submitted.iterdir():
            if p.is_dir() and p.name not in out.values():
                out.setdefault(p.name, p.name)
    return out


def extension_keys(course: CourseDir) -> dict[str, str] | None:
    """``{name an extension may use: the student's folder}`` from the roster (None when there is none).

    Every roster id (and email, SIS id) names that student; the folder is the one ``collect`` filed them
    under, else the one it will use.
    """
    roster = read_roster(course)
    if roster is None:
        return None
    folders = {r.get("id"): folder for folder, r in student_records(course).items()}
    out: dict[str, str] = {}
    for s in roster.students:
        folder = folders.get(s.id) or s.folder()
        for key in (s.id, s.email, s.sis_user_id, s.sis_login_id, folder):
            if key:
                out.setdefault(key, folder)
    return out


def hub_student_id(lms_id: str) -> str:
    """The hub user name, and so nbgrader's student id, of the LMS user whose stable id is ``lms_id``.

    An LMS launch (LTI 1.3, deploy/hub/lti.py) logs a student in under the LMS's id: Canvas's user id,
    Moodle's email address, or the launch's ``sub``. JupyterHub lower-cases user names, so the id is
    lower-cased here; :meth:`Roster.find` compares ids, emails and SIS ids case-blind, so ``collect`` files
    the hand-ins of that hub user under the roster student with that ``id`` (or email, or SIS id). A
    CourseError says why an id cannot be a student id (a ``/``, ``+``, space or other character that nbgrader's
    folder names cannot carry, or more than 100 characters).
    """
    sid = printable(lms_id).strip().lower()
    if not HUB_STUDENT_ID.fullmatch(sid):
        raise CourseError(f"the LMS id {printable(lms_id)[:60]!r} cannot be a student id here: it needs 1 to 100 "
                          "letters, digits, '.', '_', '@' or '-' (starting with a letter or digit); choose another "
                          "LTI claim for the user name (BPC_LTI_USERNAME_CLAIM), e.g. the LMS's numeric user id")
    return sid
