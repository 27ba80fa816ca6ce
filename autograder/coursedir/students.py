"""``students.json``: which student each folder under ``submitted/`` stands for (kept by ``collect``).

``collect`` writes it (the LMS's id, the name, the download layout per folder); grading, ``export`` and
Formgrader's student list read it through :func:`student_records`.
"""

from __future__ import annotations

import json

from autograder.coursedir.course import CourseDir
from autograder.errors import CourseError
from autograder.untrusted import printable

__all__ = ["STUDENTS_FILE", "gradebook_name", "student_records"]

STUDENTS_FILE = "students.json"


def student_records(course: CourseDir) -> dict[str, dict[str, str]]:
    """``{folder name under submitted/: {"id": LMS id, "name": name, "format": layout}}`` from students.json.

    Grading and export use it to report the LMS's own id; a folder missing from it is its own id.
    """
    path = course.root / STUDENTS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise CourseError(f"{path} is not readable JSON ({exc}): restore it from a backup or delete it "
                          "(collect then rebuilds it from the LMS names, but folder names may change)") from exc
    if not isinstance(data, dict):
        raise CourseError(f"{path} should map folder names to students: restore it or delete it")
    return {str(k): {str(a): str(b) for a, b in v.items()} for k, v in data.items() if isinstance(v, dict)}


def gradebook_name(record: dict[str, str] | None, folder: str) -> tuple[str, str]:
    """``(first_name, last_name)`` for nbgrader's gradebook, which Formgrader lists as "last, first".

    From the name the LMS gave (``students.json``): the last word is the last name, the rest the first
    name. A student the LMS named no further is listed by their folder name.
    """
    name = " ".join(printable((record or {}).get("name") or "").split())[:100]
    if not name:
        return "", folder
    first, _, last = name.rpartition(" ")
    return first, last
